//! Configuration payload (RFC 7296 §3.15).

use std::borrow::Cow;

use super::reader::Reader;
use super::WireError;

/// CFG_REQUEST.
pub const CFG_REQUEST: u8 = 1;
/// CFG_REPLY.
pub const CFG_REPLY: u8 = 2;
/// CFG_SET.
pub const CFG_SET: u8 = 3;
/// CFG_ACK.
pub const CFG_ACK: u8 = 4;

/// CP payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cp<'a> {
    /// CFG type (1 REQUEST, 2 REPLY, 3 SET, 4 ACK).
    pub cfg_type: u8,
    /// The 3 reserved bytes, verbatim.
    pub reserved: [u8; 3],
    /// Configuration attributes.
    pub attributes: Vec<CfgAttribute<'a>>,
}

/// A configuration attribute (§3.15.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgAttribute<'a> {
    /// The reserved high bit of the type field, verbatim.
    pub reserved_bit: bool,
    /// Attribute type (15 bits).
    pub attr_type: u16,
    /// Value (empty in requests).
    pub value: Cow<'a, [u8]>,
}

impl<'a> CfgAttribute<'a> {
    /// An attribute with the reserved bit clear.
    pub fn new(attr_type: u16, value: Cow<'a, [u8]>) -> Self {
        CfgAttribute {
            reserved_bit: false,
            attr_type,
            value,
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let t = r.u16("attribute type")?;
        let len = r.u16("attribute length")? as usize;
        let value = Cow::Borrowed(r.bytes(len, "attribute value")?);
        Ok(CfgAttribute {
            reserved_bit: t & 0x8000 != 0,
            attr_type: t & 0x7fff,
            value,
        })
    }

    /// Append the attribute.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let t = (self.attr_type & 0x7fff) | if self.reserved_bit { 0x8000 } else { 0 };
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&(self.value.len().min(u16::MAX as usize) as u16).to_be_bytes());
        out.extend_from_slice(&self.value);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> CfgAttribute<'static> {
        CfgAttribute {
            reserved_bit: self.reserved_bit,
            attr_type: self.attr_type,
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

impl<'a> Cp<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let cfg_type = r.u8("CFG type")?;
        let reserved = r.array::<3>("reserved")?;
        let mut attributes = Vec::new();
        while !r.is_empty() {
            let i = attributes.len() + 1;
            attributes
                .push(CfgAttribute::parse(&mut r).map_err(|e| e.within(format!("attribute {i}")))?);
        }
        Ok(Cp {
            cfg_type,
            reserved,
            attributes,
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.cfg_type);
        out.extend_from_slice(&self.reserved);
        for a in &self.attributes {
            a.emit_into(out);
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Cp<'static> {
        Cp {
            cfg_type: self.cfg_type,
            reserved: self.reserved,
            attributes: self
                .attributes
                .into_iter()
                .map(CfgAttribute::into_owned)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_emit() {
        let b = [2, 0, 0, 0, 0, 1, 0, 4, 10, 3, 0, 1, 0x80, 3, 0, 0];
        let cp = Cp::parse(Reader::new(&b, 0)).unwrap();
        assert_eq!(cp.cfg_type, CFG_REPLY);
        assert_eq!(cp.attributes.len(), 2);
        assert_eq!(cp.attributes[0].attr_type, 1);
        assert_eq!(&cp.attributes[0].value[..], &[10, 3, 0, 1]);
        assert!(cp.attributes[1].reserved_bit);
        assert_eq!(cp.attributes[1].attr_type, 3);
        let mut out = Vec::new();
        cp.into_owned().emit_into(&mut out);
        assert_eq!(out, b);
        let e = Cp::parse(Reader::new(&b[..10], 60)).unwrap_err();
        assert_eq!((e.offset, &*e.context), (68, "attribute 1"));
    }
}
