//! A sans-IO ping through a CHILD_SA: echo requests every `interval` (10 ms by
//! default), replies matched by identifier and sequence number, and the numbers a
//! failover drill wants: sent, received, lost, round-trip times and the longest time
//! without any reply (the outage of a path switch), with when it began and ended.
//!
//! The caller owns the clock and the sending: [`PingProbe::poll_timeout`] says when to
//! call [`PingProbe::on_timeout`], which returns the requests to send (IP packets for
//! [`Engine::send_esp`](crate::engine::Engine::send_esp)); received inner packets go to
//! [`PingProbe::on_reply`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::icmp::Echo;
use crate::engine::Timestamp;

/// Default interval between requests.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(10);
/// A request without a reply after this long is lost (a later reply counts as late).
pub const LOST_AFTER: Duration = Duration::from_secs(2);
/// How often [`PingProbe::on_timeout`] hands out a summary.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Bytes of data in each request (a recognisable pattern).
const PAYLOAD: &[u8] = b"mobikectl ping..";

/// A stretch of time without replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The last reply before it (or the start of the probe).
    pub start: Timestamp,
    /// The reply that ended it (or the time of the summary, if it is still going on).
    pub end: Timestamp,
    /// Still no reply at the time of the summary.
    pub ongoing: bool,
}

impl Gap {
    /// Its length.
    pub fn duration(&self) -> Duration {
        self.end.saturating_since(self.start)
    }
}

/// What a probe has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingStats {
    /// Target.
    pub dst: IpAddr,
    /// Requests sent.
    pub sent: u64,
    /// Replies to outstanding requests.
    pub received: u64,
    /// Requests given up after [`LOST_AFTER`].
    pub lost: u64,
    /// Replies that came after their request was counted lost, duplicates, or for
    /// sequence numbers never sent.
    pub late_or_unknown: u64,
    /// Round-trip times (`None` before the first reply).
    pub rtt_min: Option<Duration>,
    pub rtt_avg: Option<Duration>,
    pub rtt_max: Option<Duration>,
    /// The longest time without a reply (the current one included if it is longer).
    pub longest_gap: Option<Gap>,
}

impl fmt::Display for PingStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.3}", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "-".into())
        };
        write!(
            f,
            "{}: sent {} received {} lost {} late {} rtt min/avg/max {}/{}/{} ms",
            self.dst,
            self.sent,
            self.received,
            self.lost,
            self.late_or_unknown,
            ms(self.rtt_min),
            ms(self.rtt_avg),
            ms(self.rtt_max)
        )?;
        if let Some(g) = self.longest_gap {
            write!(
                f,
                ", longest gap {} ms ({} .. {}{})",
                ms(Some(g.duration())),
                g.start,
                g.end,
                if g.ongoing { ", ongoing" } else { "" }
            )?;
        }
        Ok(())
    }
}

/// What [`PingProbe::on_timeout`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingOutput {
    /// Echo request packets to send now.
    pub requests: Vec<Vec<u8>>,
    /// A periodic summary, every [`REPORT_EVERY`].
    pub report: Option<PingStats>,
}

/// One running ping.
#[derive(Debug, Clone)]
pub struct PingProbe {
    src: IpAddr,
    dst: IpAddr,
    interval: Duration,
    ident: u16,
    next_seq: u16,
    next_send: Timestamp,
    next_report: Timestamp,
    started: Timestamp,
    /// Sequence number → when it was sent, for requests still waiting.
    waiting: BTreeMap<u16, Timestamp>,
    last_reply: Option<Timestamp>,
    longest_gap: Option<Gap>,
    rtt_sum: Duration,
    stats: PingStats,
}

impl PingProbe {
    /// A probe from `src` (an address inside our traffic selectors, or our virtual IP)
    /// to `dst`, every `interval` (at least 1 ms), identifier `ident`; the first
    /// request goes out at `now`.
    pub fn new(now: Timestamp, src: IpAddr, dst: IpAddr, interval: Duration, ident: u16) -> Self {
        PingProbe {
            src,
            dst,
            interval: interval.max(Duration::from_millis(1)),
            ident,
            next_seq: 1,
            next_send: now,
            next_report: now + REPORT_EVERY,
            started: now,
            waiting: BTreeMap::new(),
            last_reply: None,
            longest_gap: None,
            rtt_sum: Duration::ZERO,
            stats: PingStats {
                dst,
                sent: 0,
                received: 0,
                lost: 0,
                late_or_unknown: 0,
                rtt_min: None,
                rtt_avg: None,
                rtt_max: None,
                longest_gap: None,
            },
        }
    }

    /// Target address.
    pub fn dst(&self) -> IpAddr {
        self.dst
    }

    /// Source address of the requests.
    pub fn src(&self) -> IpAddr {
        self.src
    }

    /// When [`PingProbe::on_timeout`] is due.
    pub fn poll_timeout(&self) -> Timestamp {
        let expiry = self.waiting.values().min().map(|t| *t + LOST_AFTER);
        [Some(self.next_send), Some(self.next_report), expiry]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(self.next_send)
    }

    /// Send what is due (one request per call even if the caller is late: a burst
    /// would distort the round-trip times), give up on old requests, report.
    pub fn on_timeout(&mut self, now: Timestamp) -> PingOutput {
        let mut out = PingOutput::default();
        let expired: Vec<u16> = self
            .waiting
            .iter()
            .filter(|(_, sent)| **sent + LOST_AFTER <= now)
            .map(|(seq, _)| *seq)
            .collect();
        for seq in expired {
            self.waiting.remove(&seq);
            self.stats.lost += 1;
        }
        if self.next_send <= now {
            let seq = self.next_seq;
            self.next_seq = self.next_seq.wrapping_add(1);
            let echo = Echo::request(self.src, self.dst, self.ident, seq, PAYLOAD);
            // src and dst come from one family (checked by the caller); a mismatch
            // would just send nothing
            if let Ok(p) = echo.build() {
                out.requests.push(p);
                self.waiting.insert(seq, now);
                self.stats.sent += 1;
            }
            self.next_send = (self.next_send + self.interval).max(now);
        }
        if self.next_report <= now {
            self.next_report = now + REPORT_EVERY;
            out.report = Some(self.stats(now));
        }
        out
    }

    /// An inner packet arrived: `true` if it is a reply to this probe (counted).
    pub fn on_reply(&mut self, now: Timestamp, packet: &[u8]) -> bool {
        let Some(echo) = Echo::parse(packet) else {
            return false;
        };
        if !echo.reply || echo.ident != self.ident || echo.src != self.dst {
            return false;
        }
        let Some(sent) = self.waiting.remove(&echo.seq) else {
            self.stats.late_or_unknown += 1;
            return true;
        };
        let rtt = now.saturating_since(sent);
        self.stats.received += 1;
        self.rtt_sum += rtt;
        self.stats.rtt_min = Some(self.stats.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.stats.rtt_max = Some(self.stats.rtt_max.map_or(rtt, |m| m.max(rtt)));
        let gap = Gap {
            start: self.last_reply.unwrap_or(self.started),
            end: now,
            ongoing: false,
        };
        if self
            .longest_gap
            .is_none_or(|g| gap.duration() > g.duration())
        {
            self.longest_gap = Some(gap);
        }
        self.last_reply = Some(now);
        true
    }

    /// The numbers so far; the gap since the last reply counts if it is the longest.
    pub fn stats(&self, now: Timestamp) -> PingStats {
        let mut s = self.stats;
        let n = u32::try_from(s.received).unwrap_or(u32::MAX);
        s.rtt_avg = (n > 0).then(|| self.rtt_sum / n);
        let current = Gap {
            start: self.last_reply.unwrap_or(self.started),
            end: now,
            ongoing: true,
        };
        s.longest_gap = match self.longest_gap {
            Some(g) if g.duration() >= current.duration() => Some(g),
            _ if current.duration() > Duration::ZERO => Some(current),
            other => other,
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A responder that answers after `rtt`, dropping requests sent in `[drop_from,
    /// drop_to)`; drives the probe over `total` with a simulated clock.
    fn run(rtt: Duration, drop: (Timestamp, Timestamp), total: Duration) -> (PingProbe, Timestamp) {
        let t0 = Timestamp::from_secs(100);
        let mut p = PingProbe::new(t0, ip("10.2.0.1"), ip("10.1.0.1"), DEFAULT_INTERVAL, 42);
        let mut in_flight: Vec<(Timestamp, Vec<u8>)> = Vec::new();
        let end = t0 + total;
        // a simulated clock in 1 ms steps: every time below is a whole millisecond
        let mut now = t0;
        while now <= end {
            let (due, rest): (Vec<_>, Vec<_>) = in_flight.into_iter().partition(|r| r.0 <= now);
            in_flight = rest;
            for (_, reply) in due {
                assert!(p.on_reply(now, &reply));
            }
            if p.poll_timeout() <= now {
                for req in p.on_timeout(now).requests {
                    if now < drop.0 || now >= drop.1 {
                        let echo = Echo::parse(&req).unwrap();
                        in_flight.push((now + rtt, echo.reply_to().build().unwrap()));
                    }
                }
            }
            now = now + Duration::from_millis(1);
        }
        (p, end)
    }

    #[test]
    fn steady_ping_counts_and_rtt() {
        let never = (Timestamp(0), Timestamp(0));
        let (p, end) = run(Duration::from_millis(3), never, Duration::from_secs(1));
        let s = p.stats(end);
        assert_eq!(s.sent, 101, "one every 10 ms, both ends included");
        // the last request's reply is still on its way
        assert_eq!(s.received, 100);
        assert_eq!(s.lost, 0);
        assert_eq!(s.rtt_min, Some(Duration::from_millis(3)));
        assert_eq!(s.rtt_max, Some(Duration::from_millis(3)));
        assert_eq!(s.rtt_avg, Some(Duration::from_millis(3)));
        // between replies: the interval (the first gap is start .. first reply, 3 ms)
        assert_eq!(s.longest_gap.unwrap().duration(), Duration::from_millis(10));
    }

    #[test]
    fn outage_is_measured_exactly_with_its_timestamps() {
        let t0 = Timestamp::from_secs(100);
        // requests sent at 500 ms .. 750 ms (exclusive) get no answer: 25 of them
        let drop = (
            t0 + Duration::from_millis(500),
            t0 + Duration::from_millis(750),
        );
        let (p, end) = run(Duration::from_millis(4), drop, Duration::from_secs(5));
        let s = p.stats(end);
        assert_eq!(s.sent, 501);
        assert_eq!(s.lost, 25);
        // 501 - 25 lost - the last one still on its way
        assert_eq!(s.received, 475);
        let g = s.longest_gap.unwrap();
        // last reply: to the request of 490 ms (at 494 ms); next: to 750 ms (at 754 ms)
        assert_eq!(g.start, t0 + Duration::from_millis(494));
        assert_eq!(g.end, t0 + Duration::from_millis(754));
        assert_eq!(g.duration(), Duration::from_millis(260));
        assert!(!g.ongoing);
    }

    #[test]
    fn replies_that_are_not_ours_or_late_are_told_apart() {
        let t0 = Timestamp::from_secs(1);
        let mut p = PingProbe::new(t0, ip("10.2.0.1"), ip("10.1.0.1"), DEFAULT_INTERVAL, 7);
        let req = p.on_timeout(t0).requests.remove(0);
        let reply = Echo::parse(&req).unwrap().reply_to().build().unwrap();
        // another identifier, a request, garbage: not ours
        let mut other = Echo::parse(&reply).unwrap();
        other.ident = 8;
        assert!(!p.on_reply(t0, &other.build().unwrap()));
        assert!(!p.on_reply(t0, &req));
        assert!(!p.on_reply(t0, &[0x45, 1, 2]));
        // lost after LOST_AFTER, then the reply is late
        let later = t0 + LOST_AFTER;
        assert_eq!(p.poll_timeout(), t0 + DEFAULT_INTERVAL);
        p.on_timeout(later);
        assert!(p.on_reply(later, &reply));
        let s = p.stats(later);
        assert_eq!(
            (s.sent, s.received, s.lost, s.late_or_unknown),
            (2, 0, 1, 1)
        );
        // no reply ever: the gap is ongoing since the start
        let g = s.longest_gap.unwrap();
        assert!(g.ongoing);
        assert_eq!(g.start, t0);
        assert!(s.to_string().contains("lost 1"), "{s}");
    }

    #[test]
    fn a_report_every_second() {
        let t0 = Timestamp::from_secs(1);
        let mut p = PingProbe::new(t0, ip("::1"), ip("::2"), Duration::from_millis(100), 1);
        let reports = (0..=20)
            .map(|i| t0 + Duration::from_millis(100 * i))
            .filter_map(|t| p.on_timeout(t).report)
            .count();
        assert_eq!(reports, 2);
    }
}
