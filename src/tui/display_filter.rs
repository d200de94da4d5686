//! The browser's display filter (`/`): Wireshark's `isakmp.*` field names and short forms.
//!
//! ```text
//! expr   := or
//! or     := and (("||" | "or") and)*
//! and    := unary (("&&" | "and") unary)*
//! unary  := ("!" | "not") unary | "(" expr ")" | test
//! test   := FIELD (("==" | "!=") VALUE)?        a bare FIELD is a flag (`retransmit`)
//! ```
//! Fields: `isakmp.ispi` `isakmp.rspi` `spi` (either), `isakmp.exchangetype` / `exch`,
//! `isakmp.messageid` / `mid`, `isakmp.notify.msgtype` / `notify` (any notify of the
//! message, decrypted ones included), `isakmp.flags`, `ip.addr` / `addr`, `ip.src`, `ip.dst`,
//! `udp.port` / `port`, `frame.number` / `frame`, `sa` (`#0` or `0`, as decode numbers them); flags `retransmit`,
//! `request`, `response`, `malformed`, `decrypted`, `unanswered`.
use std::fmt;
use std::net::IpAddr;

use super::capture_index::MessageEntry;
use crate::decrypt::IntegrityStatus;
use crate::wire::registry;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayFilter {
    expr: Expr,
    text: String,
}

/// Why a filter does not parse: what is wrong and where (a character offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub at: usize,
    pub message: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.message, self.at + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Test(Test),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Retransmit,
    Request,
    Response,
    Malformed,
    Decrypted,
    Unanswered,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    Flag(Flag),
    Compare {
        field: Field,
        equal: bool,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    SpiI,
    SpiR,
    Spi,
    Exchange,
    MessageId,
    Notify,
    Flags,
    Addr,
    Src,
    Dst,
    Port,
    Frame,
    Sa,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Number(u64),
    Addr(IpAddr),
}

/// The field names the filter accepts, for completion and help.
pub const FIELD_NAMES: &[&str] = &[
    "isakmp.ispi",
    "isakmp.rspi",
    "spi",
    "isakmp.exchangetype",
    "exch",
    "isakmp.messageid",
    "mid",
    "isakmp.notify.msgtype",
    "notify",
    "isakmp.flags",
    "ip.addr",
    "addr",
    "ip.src",
    "ip.dst",
    "udp.port",
    "port",
    "frame.number",
    "frame",
    "sa",
    "retransmit",
    "request",
    "response",
    "malformed",
    "decrypted",
    "unanswered",
];

impl DisplayFilter {
    /// Parses `text`; an empty text is no filter (`None`).
    pub fn parse(text: &str) -> Result<Option<DisplayFilter>, FilterError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            end: text.chars().count(),
        };
        let expr = p.or()?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(FilterError {
                at: t.at,
                message: format!("unexpected '{}'", t.text),
            });
        }
        Ok(Some(DisplayFilter {
            expr,
            text: text.trim().to_string(),
        }))
    }

    /// The filter as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the message is shown.
    pub fn matches(&self, m: &MessageEntry) -> bool {
        eval(&self.expr, m)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    at: usize,
    text: String,
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
        if ["==", "!=", "&&", "||"].contains(&two.as_str()) {
            tokens.push(Token { at: i, text: two });
            i += 2;
            continue;
        }
        if "()!".contains(c) {
            tokens.push(Token {
                at: i,
                text: c.to_string(),
            });
            i += 1;
            continue;
        }
        if c == '=' || c == '&' || c == '|' {
            return Err(FilterError {
                at: i,
                message: format!("'{c}' alone: use '==', '&&' or '||'"),
            });
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !"()!=&|".contains(chars[i]) {
            i += 1;
        }
        tokens.push(Token {
            at: start,
            text: chars[start..i].iter().collect(),
        });
    }
    Ok(tokens)
}

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_is(&self, words: &[&str]) -> bool {
        self.peek()
            .is_some_and(|t| words.iter().any(|w| t.text.eq_ignore_ascii_case(w)))
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while self.peek_is(&["||", "or"]) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.unary()?];
        while self.peek_is(&["&&", "and"]) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.peek_is(&["!", "not"]) {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek_is(&["("]) {
            let open = self.peek().map_or(0, |t| t.at);
            self.pos += 1;
            let e = self.or()?;
            if !self.peek_is(&[")"]) {
                return Err(FilterError {
                    at: self.peek().map_or(self.end, |t| t.at),
                    message: format!("the '(' at {} is not closed", open + 1),
                });
            }
            self.pos += 1;
            return Ok(e);
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(FilterError {
                at: self.end,
                message: "a field is missing at the end".into(),
            });
        };
        self.pos += 1;
        let name = t.text.to_ascii_lowercase();
        if let Some(flag) = flag(&name) {
            return Ok(Expr::Test(Test::Flag(flag)));
        }
        let Some(field) = field(&name) else {
            return Err(FilterError {
                at: t.at,
                message: format!("unknown field '{}'", t.text),
            });
        };
        let equal = match self.peek().map(|t| t.text.as_str()) {
            Some("==") => true,
            Some("!=") => false,
            _ => {
                return Err(FilterError {
                    at: self.peek().map_or(self.end, |t| t.at),
                    message: format!("'{}' needs == or != and a value", t.text),
                })
            }
        };
        self.pos += 1;
        let Some(v) = self.peek().cloned() else {
            return Err(FilterError {
                at: self.end,
                message: format!("'{}' needs a value", t.text),
            });
        };
        self.pos += 1;
        let value = value(field, &v.text).ok_or_else(|| FilterError {
            at: v.at,
            message: format!("'{}' is not {}", v.text, field.expects()),
        })?;
        Ok(Expr::Test(Test::Compare {
            field,
            equal,
            value,
        }))
    }
}

fn flag(name: &str) -> Option<Flag> {
    Some(match name {
        "retransmit" | "retransmission" => Flag::Retransmit,
        "request" => Flag::Request,
        "response" => Flag::Response,
        "malformed" => Flag::Malformed,
        "decrypted" => Flag::Decrypted,
        "unanswered" => Flag::Unanswered,
        _ => return None,
    })
}

fn field(name: &str) -> Option<Field> {
    Some(match name {
        "isakmp.ispi" | "spi_i" | "ispi" => Field::SpiI,
        "isakmp.rspi" | "spi_r" | "rspi" => Field::SpiR,
        "spi" => Field::Spi,
        "isakmp.exchangetype" | "exch" | "exchange" => Field::Exchange,
        "isakmp.messageid" | "mid" => Field::MessageId,
        "isakmp.notify.msgtype" | "notify" => Field::Notify,
        "isakmp.flags" | "flags" => Field::Flags,
        "ip.addr" | "ipv6.addr" | "addr" => Field::Addr,
        "ip.src" | "ipv6.src" | "src" => Field::Src,
        "ip.dst" | "ipv6.dst" | "dst" => Field::Dst,
        "udp.port" | "tcp.port" | "port" => Field::Port,
        "frame.number" | "frame" => Field::Frame,
        "sa" => Field::Sa,
        _ => return None,
    })
}

impl Field {
    fn expects(self) -> &'static str {
        match self {
            Field::SpiI | Field::SpiR | Field::Spi => "an SPI (16 hex digits)",
            Field::Exchange => {
                "an exchange (IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL or a number)"
            }
            Field::Notify => "a notify type (a name such as UPDATE_SA_ADDRESSES, or a number)",
            Field::Addr | Field::Src | Field::Dst => "an IPv4 or IPv6 address",
            Field::Sa => "an SA number (#0 or 0)",
            Field::MessageId | Field::Flags | Field::Port | Field::Frame => "a number",
        }
    }
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn value(field: Field, s: &str) -> Option<Value> {
    let n = match field {
        Field::SpiI | Field::SpiR | Field::Spi => {
            let hex = s.trim_start_matches("0x");
            (hex.len() <= 16)
                .then(|| u64::from_str_radix(hex, 16).ok())
                .flatten()?
        }
        Field::Exchange => match number(s) {
            Some(n) => n,
            None => {
                let wanted = s.to_ascii_uppercase().replace('-', "_");
                let wanted = if wanted == "INFO" {
                    "INFORMATIONAL".to_string()
                } else {
                    wanted
                };
                (0..=u8::MAX)
                    .find(|&n| registry::exchange_name(n) == Some(wanted.as_str()))?
                    .into()
            }
        },
        Field::Notify => match number(s) {
            Some(n) => n,
            None => {
                let wanted = s.to_ascii_uppercase();
                (0..=u16::MAX)
                    .find(|&n| registry::notify_name(n) == Some(wanted.as_str()))?
                    .into()
            }
        },
        Field::Addr | Field::Src | Field::Dst => return s.parse().ok().map(Value::Addr),
        Field::Sa => number(s.trim_start_matches('#'))?,
        Field::MessageId | Field::Flags | Field::Port | Field::Frame => number(s)?,
    };
    Some(Value::Number(n))
}

fn eval(e: &Expr, m: &MessageEntry) -> bool {
    match e {
        Expr::Or(v) => v.iter().any(|e| eval(e, m)),
        Expr::And(v) => v.iter().all(|e| eval(e, m)),
        Expr::Not(e) => !eval(e, m),
        Expr::Test(Test::Flag(f)) => match f {
            Flag::Retransmit => m.copy > 0,
            Flag::Request => !m.is_response(),
            Flag::Response => m.is_response(),
            Flag::Malformed => m.malformed().is_some(),
            Flag::Decrypted => m.integrity == Some(IntegrityStatus::Ok),
            Flag::Unanswered => !m.is_response() && m.partner.is_none(),
        },
        Expr::Test(Test::Compare {
            field,
            equal,
            value,
        }) => compare(*field, value, m) == *equal,
    }
}

fn compare(field: Field, value: &Value, m: &MessageEntry) -> bool {
    match value {
        Value::Addr(a) => match field {
            Field::Addr => m.src().ip() == *a || m.dst().ip() == *a,
            Field::Src => m.src().ip() == *a,
            Field::Dst => m.dst().ip() == *a,
            _ => false,
        },
        Value::Number(n) => {
            let n = *n;
            match field {
                Field::SpiI => m.spi_i == n,
                Field::SpiR => m.spi_r == n,
                Field::Spi => m.spi_i == n || m.spi_r == n,
                Field::Exchange => u64::from(m.exchange) == n,
                Field::MessageId => u64::from(m.message_id) == n,
                Field::Notify => m.notifies().iter().any(|&t| u64::from(t) == n),
                Field::Flags => u64::from(m.flags) == n,
                Field::Port => u64::from(m.src().port()) == n || u64::from(m.dst().port()) == n,
                Field::Frame => m.frame == n,
                // numbered as decode's timeline numbers them
                Field::Sa => m.sa.is_some_and(|s| u64::from(s) == n),
                Field::Addr | Field::Src | Field::Dst => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_where() {
        let e = DisplayFilter::parse("exch == BOGUS").unwrap_err();
        assert_eq!(e.at, 8);
        assert!(e.message.contains("not an exchange"), "{e}");
        let e = DisplayFilter::parse("(mid == 1").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        let e = DisplayFilter::parse("mid = 1").unwrap_err();
        assert!(e.message.contains("'=' alone"), "{e}");
        let e = DisplayFilter::parse("nonsense").unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
        let e = DisplayFilter::parse("mid ==").unwrap_err();
        assert!(e.message.contains("needs a value"), "{e}");
        assert_eq!(DisplayFilter::parse("  ").unwrap(), None);
    }
}
