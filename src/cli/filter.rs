//! `--filter KEY=VALUE` selection of IKE messages.
use std::net::IpAddr;

use crate::wire::{registry, Header};

/// One parsed `--filter` term.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Spi(u64),
    Exchange(u8),
    Addr(IpAddr),
    MessageId(u32),
}

impl Term {
    fn key(&self) -> &'static str {
        match self {
            Term::Spi(_) => "spi",
            Term::Exchange(_) => "exchange",
            Term::Addr(_) => "addr",
            Term::MessageId(_) => "mid",
        }
    }
}

/// All filter terms: different keys must all match, repeated keys match any of their values.
#[derive(Debug, Default, Clone)]
pub struct MessageFilter {
    terms: Vec<Term>,
}

impl MessageFilter {
    /// Parses the `--filter` arguments; the error names the bad term and what would be accepted.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut terms = Vec::new();
        for arg in args {
            let (key, value) = arg.split_once('=').ok_or_else(|| {
                format!("filter '{arg}': expected KEY=VALUE (spi, exchange, addr, mid)")
            })?;
            let value = value.trim();
            let term = match key.trim().to_ascii_lowercase().as_str() {
                "spi" => {
                    let hex = value.trim_start_matches("0x");
                    u64::from_str_radix(hex, 16)
                        .map(Term::Spi)
                        .map_err(|_| format!("filter '{arg}': SPI must be up to 16 hex digits"))?
                }
                "exchange" => Term::Exchange(parse_exchange(value).ok_or_else(|| {
                    format!("filter '{arg}': unknown exchange (use a name like INFORMATIONAL or a number)")
                })?),
                "addr" | "address" => value
                    .parse()
                    .map(Term::Addr)
                    .map_err(|_| format!("filter '{arg}': not an IPv4 or IPv6 address"))?,
                "mid" | "message-id" | "message_id" => parse_number(value)
                    .map(Term::MessageId)
                    .ok_or_else(|| format!("filter '{arg}': message ID must be a number"))?,
                other => {
                    return Err(format!(
                        "filter '{arg}': unknown key '{other}' (use spi, exchange, addr or mid)"
                    ))
                }
            };
            terms.push(term);
        }
        Ok(MessageFilter { terms })
    }

    /// True when no term was given.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether an ESP packet is selected: `spi` terms compare with its SPI, `addr` terms with
    /// its addresses; `exchange` and `mid` terms select IKE messages only.
    pub fn matches_esp(&self, spi: u32, src: IpAddr, dst: IpAddr) -> bool {
        ["spi", "exchange", "addr", "mid"].iter().all(|key| {
            let mut of_key = self.terms.iter().filter(|t| t.key() == *key).peekable();
            of_key.peek().is_none()
                || of_key.any(|t| match *t {
                    Term::Spi(s) => s == u64::from(spi),
                    Term::Addr(a) => src == a || dst == a,
                    Term::Exchange(_) | Term::MessageId(_) => false,
                })
        })
    }

    /// Whether a message with this header, sent between these addresses, is selected.
    pub fn matches(&self, header: &Header, src: IpAddr, dst: IpAddr) -> bool {
        ["spi", "exchange", "addr", "mid"].iter().all(|key| {
            let mut of_key = self.terms.iter().filter(|t| t.key() == *key).peekable();
            of_key.peek().is_none()
                || of_key.any(|t| match *t {
                    Term::Spi(spi) => header.spi_i == spi || header.spi_r == spi,
                    Term::Exchange(x) => header.exchange_type == x,
                    Term::Addr(a) => src == a || dst == a,
                    Term::MessageId(m) => header.message_id == m,
                })
        })
    }
}

fn parse_number(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_exchange(s: &str) -> Option<u8> {
    if let Some(n) = parse_number(s) {
        return u8::try_from(n).ok();
    }
    let wanted = s.to_ascii_uppercase().replace('-', "_");
    (0..=u8::MAX).find(|&n| registry::exchange_name(n) == Some(wanted.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(spi_i: u64, spi_r: u64, exchange_type: u8, message_id: u32) -> Header {
        Header {
            spi_i,
            spi_r,
            next_payload: 0,
            version: 0x20,
            exchange_type,
            flags: 0x08,
            message_id,
            length: 28,
        }
    }

    fn filter(args: &[&str]) -> MessageFilter {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        MessageFilter::parse(&args).expect("valid filter")
    }

    #[test]
    fn different_keys_must_all_match_and_repeated_keys_any() {
        let a: IpAddr = "192.0.2.10".parse().unwrap();
        let b: IpAddr = "203.0.113.1".parse().unwrap();
        let h = header(0xade3a663cde3f4e0, 0x85c30315a9c141c8, 37, 5);
        assert!(filter(&[]).matches(&h, a, b));
        assert!(filter(&["spi=85C30315A9C141C8"]).matches(&h, a, b));
        assert!(filter(&["exchange=informational", "mid=5"]).matches(&h, a, b));
        assert!(!filter(&["exchange=informational", "mid=6"]).matches(&h, a, b));
        assert!(filter(&["mid=6", "mid=5"]).matches(&h, a, b));
        assert!(filter(&["addr=203.0.113.1"]).matches(&h, a, b));
        assert!(!filter(&["addr=2001:db8::1"]).matches(&h, a, b));
        assert!(filter(&["exchange=37"]).matches(&h, a, b));
    }

    #[test]
    fn bad_terms_say_what_is_accepted() {
        let err = MessageFilter::parse(&["port=500".to_string()]).unwrap_err();
        assert!(err.contains("unknown key 'port'"), "{err}");
        let err = MessageFilter::parse(&["spi=xyz".to_string()]).unwrap_err();
        assert!(err.contains("hex"), "{err}");
        let err = MessageFilter::parse(&["exchange=BOGUS".to_string()]).unwrap_err();
        assert!(err.contains("unknown exchange"), "{err}");
        assert!(MessageFilter::parse(&["mid".to_string()]).is_err());
    }
}
