//! The capture browser on a 140,000-message capture (the size): how long the
//! background index takes, what it costs in memory, and key press to redrawn frame (120x36,
//! ratatui's TestBackend: the drawing work without a terminal's I/O) for moving, jumping to
//! the end and applying a filter. Run: `cargo bench --bench tui_large_capture`.
//!
//! The capture is strongSwan's MOBIKE move (testdata/strongswan-move/cap-moon.pcap, 20
//! messages) repeated 7,000 times with a different initiator SPI each time, written to the
//! temporary directory (tests/large_capture, shared with the memory test).
#[path = "../tests/large_capture/mod.rs"]
mod large_capture;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mobikectl::tui::browser::Browser;
use mobikectl::tui::browser_view;
use mobikectl::tui::capture_index::{CaptureIndex, LoadOptions};
use mobikectl::tui::keymap::{Key, KeyCode, KeyMap};
use mobikectl::tui::Looks;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Counts the bytes allocated and not freed: the index's real size, whatever the
/// allocator keeps around it.
struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), std::sync::atomic::Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        LIVE.fetch_sub(l.size(), std::sync::atomic::Ordering::Relaxed);
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live_mb() -> f64 {
    LIVE.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The browser over the index, drawn on a 120x36 test terminal.
struct Screen {
    b: Browser,
    term: Terminal<TestBackend>,
    theme: mobikectl::tui::theme::Theme,
}

impl Screen {
    fn redraw(&mut self) {
        let Screen { b, term, theme } = self;
        term.draw(|f| browser_view::draw(f, b, theme))
            .expect("draw");
    }

    fn search_to_the_end(&mut self) {
        while self.b.busy() {
            self.b.tick();
        }
    }
}

fn bench(c: &mut Criterion) {
    let options = LoadOptions {
        files: vec![large_capture::big_capture()],
        ..LoadOptions::default()
    };
    let index = load_and_report(&options);
    let mut s = Screen {
        b: Browser::new(index, KeyMap::default()),
        term: Terminal::new(TestBackend::new(120, 36)).expect("terminal"),
        theme: Looks {
            mono: false,
            ascii: false,
        }
        .theme(),
    };
    bench_keys(c, &mut s);
    report_search_not_found(&mut s);
    let mut group = c.benchmark_group("tui_140k_load");
    group.sample_size(10);
    group.bench_function("index_whole_capture", |bench| {
        bench.iter(|| CaptureIndex::load(options.clone()).messages.len())
    });
    group.finish();
}

/// Indexes the capture once, printing the time and the memory it took.
fn load_and_report(options: &LoadOptions) -> CaptureIndex {
    let before = rss_kib();
    let live_before = live_mb();
    PEAK.store(
        LIVE.load(std::sync::atomic::Ordering::Relaxed),
        std::sync::atomic::Ordering::Relaxed,
    );
    let t = std::time::Instant::now();
    let index = CaptureIndex::load(options.clone());
    let took = t.elapsed();
    let after = rss_kib();
    eprintln!(
        "index heap: {:.1} MB allocated, {:.1} MB at the peak while indexing (by the count \
         of this bench's allocator)",
        live_mb() - live_before,
        PEAK.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e6 - live_before,
    );
    eprintln!(
        "indexed {} messages in {:.2} s; resident memory grew {:.1} MB",
        index.messages.len(),
        took.as_secs_f64(),
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    let bytes: usize = index.messages.iter().map(|m| index.raw(m).len()).sum();
    eprintln!(
        "{} MB of message bytes, {} timeline events ({:.1} MB of texts, compressed), {} SAs, \
         {} bytes per entry",
        bytes / 1_000_000,
        index.timeline.len(),
        index.timeline_text_bytes() as f64 / 1e6,
        index.sas.len(),
        std::mem::size_of::<mobikectl::tui::capture_index::MessageEntry>()
    );
    index
}

/// Key press to redraw, for the keys an operator presses most.
fn bench_keys(c: &mut Criterion, s: &mut Screen) {
    let mut group = c.benchmark_group("tui_140k");
    group.bench_function("key_down_and_redraw", |bench| {
        bench.iter(|| {
            s.b.key(Key::char('j'));
            s.redraw();
        })
    });
    group.bench_function("end_home_and_redraw", |bench| {
        let mut end = true;
        bench.iter(|| {
            s.b.key(Key::plain(if end { KeyCode::End } else { KeyCode::Home }));
            end = !end;
            s.redraw();
        })
    });
    group.sample_size(20);
    group.bench_function("filter_and_redraw", |bench| {
        let mut on = true;
        bench.iter(|| {
            s.b.apply_filter(if on {
                "notify==UPDATE_SA_ADDRESSES"
            } else {
                ""
            });
            on = !on;
            s.redraw();
        })
    });
    // every message again, whichever way the iterations ended
    s.b.apply_filter("");
    // search: Ctrl-F, a text in no message, Enter and the redraw: the first slice (15 ms)
    // then "searching... frame N"; the rest runs between redraws
    group.bench_function("search_enter_first_slice_and_redraw", |bench| {
        bench.iter(|| {
            s.b.key(Key::ctrl('f'));
            s.b.key(Key::ctrl('u'));
            for c in "no such text".chars() {
                s.b.key(Key::char(c));
            }
            s.b.key(Key::plain(KeyCode::Enter));
            s.redraw();
            s.b.key(Key::plain(KeyCode::Esc)); // stops it
            s.b.key(Key::plain(KeyCode::Esc)); // closes the bar
        })
    });
    // n over a text every 20th message has in its list line (the probe's copy to the
    // gateway's second address)
    s.b.key(Key::plain(KeyCode::Home));
    s.b.start_search("203.0.113.2:4500", true);
    s.search_to_the_end();
    group.bench_function("search_next_and_redraw", |bench| {
        bench.iter(|| {
            s.b.key(Key::char('n'));
            s.search_to_the_end();
            s.redraw();
        })
    });
    // the timeline as lanes, focused: moving in them and redrawing
    s.b.key(Key::char('5'));
    group.bench_function("lanes_down_and_redraw", |bench| {
        bench.iter(|| {
            s.b.key(Key::char('j'));
            s.redraw();
        })
    });
    s.b.key(Key::char('2'));
    group.finish();
}

/// A search that finds nothing: every message's list line and decoded tree, in slices;
/// prints the whole time and the longest slice with its redraw.
fn report_search_not_found(s: &mut Screen) {
    s.b.apply_filter("");
    s.b.key(Key::plain(KeyCode::Home));
    let t = std::time::Instant::now();
    let mut slices = 0;
    let mut longest = Duration::ZERO;
    s.b.start_search("no such text", true);
    while s.b.busy() {
        let at = std::time::Instant::now();
        s.b.tick();
        s.redraw();
        longest = longest.max(at.elapsed());
        slices += 1;
    }
    eprintln!(
        "search through all {} messages, not found: {:.2} s in {slices} slices, the longest \
         slice with its redraw {:.1} ms; status: {:?}",
        s.b.shown.len(),
        t.elapsed().as_secs_f64(),
        longest.as_secs_f64() * 1e3,
        s.b.status
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
