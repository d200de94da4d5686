//! The live UI on the loop: the app joined to its source (the lab or the peer process).
//! What the source sent goes into the model; what the keys queued goes to the source.
use ratatui::Frame;

use super::keymap::Key;
use super::live::{LiveApp, LiveMode};
use super::live_model::NodeView;
use super::live_source::{parse_node_command, LiveSource, NodeCommand, SourceUpdate};
use super::screen_loop::Screen;
use super::theme::Theme;

/// The live app and its source.
pub struct LiveScreen<'a> {
    pub app: &'a mut LiveApp,
    pub source: &'a LiveSource,
}

impl LiveScreen<'_> {
    /// Takes in what the source sent; true when something changed.
    pub fn absorb(&mut self) -> bool {
        let app = &mut *self.app;
        let mut changed = false;
        for u in self.source.poll() {
            changed = true;
            match u {
                SourceUpdate::Nodes(n) => {
                    for name in n {
                        if !app.model.nodes.iter().any(|x| x.name == name) {
                            app.model.nodes.push(NodeView {
                                name,
                                ..Default::default()
                            });
                        }
                    }
                }
                SourceUpdate::Events(events) => {
                    for e in &events {
                        app.model.apply(e);
                    }
                }
                SourceUpdate::Refused(why) => app.status = Some(why),
                SourceUpdate::Capture(files) => app.capture_ready(files),
                SourceUpdate::Ended(why) => app.model.ended = Some(why),
            }
        }
        changed
    }

    /// Sends what the app queued; refusals go to the status line.
    pub fn flush_outbox(&mut self) {
        let app = &mut *self.app;
        let names: Vec<String> = app.model.nodes.iter().map(|n| n.name.clone()).collect();
        for (node, line) in std::mem::take(&mut app.outbox) {
            let text = match &node {
                Some(n) => format!("{n}: {line}"),
                None => line.clone(),
            };
            match parse_node_command(&text, &names) {
                Ok(c) => {
                    if !self.source.send(c) {
                        app.status = Some("the peer is gone".into());
                    }
                    app.status.get_or_insert(format!("sent: {text}"));
                }
                Err(e) => app.status = Some(format!("{text}: {e}")),
            }
        }
        if std::mem::take(&mut app.capture_wanted) && !self.source.request_capture() {
            app.capture_ready(Err("the peer is gone".into()));
        }
    }

    /// On the way out: every node deletes its SAs (dropping the source's channel does the
    /// same for the lab; a peer process is told).
    pub fn quit_nodes(&mut self) {
        for n in self.app.model.nodes.iter() {
            let _ = self.source.send(NodeCommand::simple(
                Some(n.name.clone()),
                crate::cli::command::PeerCommand::Quit,
                "quit",
            ));
        }
    }
}

impl Screen for LiveScreen<'_> {
    fn update(&mut self) -> bool {
        let absorbed = self.absorb();
        self.app.tick() | absorbed
    }

    fn draw(&mut self, frame: &mut Frame, theme: &Theme) {
        super::live_view::draw(frame, self.app, theme);
    }

    fn key(&mut self, key: Key) {
        self.app.key(key);
    }

    fn editing(&self) -> bool {
        matches!(self.app.mode, LiveMode::Command | LiveMode::Filter)
    }

    fn has_clocks(&self) -> bool {
        true
    }

    fn after_input(&mut self) {
        self.flush_outbox();
    }

    fn take_clipboard(&mut self) -> Option<String> {
        self.app.clipboard.take()
    }

    fn wants_quit(&self) -> bool {
        self.app.quit
    }
}
