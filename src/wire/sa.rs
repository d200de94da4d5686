//! Security Association payload (RFC 7296 §3.3): proposals, transforms, transform
//! attributes.

use std::borrow::Cow;

use super::message::patch_len16;
use super::reader::Reader;
use super::WireError;

/// `last substruc` value of a proposal or transform followed by another proposal.
pub const MORE_PROPOSALS: u8 = 2;
/// `last substruc` value of a transform followed by another transform.
pub const MORE_TRANSFORMS: u8 = 3;

/// Transform attribute type: Key Length (in bits), TV format.
pub const ATTR_KEY_LENGTH: u16 = 14;

/// SA payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sa<'a> {
    /// Proposals, most preferred first.
    pub proposals: Vec<Proposal<'a>>,
}

/// One proposal substructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal<'a> {
    /// `last substruc` byte as received (0 = last, 2 = more); written verbatim. Use
    /// [`Sa::new`] to get canonical values for payloads built by hand.
    pub last_substruc: u8,
    /// Reserved byte, verbatim.
    pub reserved: u8,
    /// Proposal number (1 for the first).
    pub number: u8,
    /// Protocol ID (1 IKE, 2 AH, 3 ESP).
    pub protocol_id: u8,
    /// SPI (SPI Size is its length).
    pub spi: Cow<'a, [u8]>,
    /// Transforms (the transform count is recomputed on emit).
    pub transforms: Vec<Transform<'a>>,
}

/// One transform substructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform<'a> {
    /// `last substruc` byte as received (0 = last, 3 = more); written verbatim.
    pub last_substruc: u8,
    /// Reserved byte after `last substruc`, verbatim.
    pub reserved1: u8,
    /// Transform type (1 ENCR, 2 PRF, 3 INTEG, 4 DH/KE, 5 ESN, ...).
    pub transform_type: u8,
    /// Reserved byte after the transform type, verbatim.
    pub reserved2: u8,
    /// Transform ID.
    pub transform_id: u16,
    /// Attributes, in order.
    pub attributes: Vec<Attribute<'a>>,
}

/// A transform attribute (§3.3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type (15 bits; the format bit lives in `value`).
    pub attr_type: u16,
    /// Value, in the format it was received in.
    pub value: AttributeValue<'a>,
}

/// Transform attribute value and format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// Type/Value format (AF = 1): a 2-byte value.
    Tv(u16),
    /// Type/Length/Value format (AF = 0).
    Tlv(Cow<'a, [u8]>),
}

impl<'a> Sa<'a> {
    /// Build an SA with canonical `last substruc` values (2 on all proposals but the last,
    /// 3 on all transforms but the last in each proposal, 0 on the last ones).
    pub fn new(mut proposals: Vec<Proposal<'a>>) -> Self {
        let np = proposals.len();
        for (i, p) in proposals.iter_mut().enumerate() {
            p.last_substruc = if i + 1 < np { MORE_PROPOSALS } else { 0 };
            let nt = p.transforms.len();
            for (j, t) in p.transforms.iter_mut().enumerate() {
                t.last_substruc = if j + 1 < nt { MORE_TRANSFORMS } else { 0 };
            }
        }
        Sa { proposals }
    }

    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let mut proposals = Vec::with_capacity(2);
        let mut index = 0usize;
        while !r.is_empty() {
            index += 1;
            let p = Proposal::parse(&mut r).map_err(|e| e.within(format!("proposal {index}")))?;
            proposals.push(p);
        }
        Ok(Sa { proposals })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        for p in &self.proposals {
            p.emit_into(out);
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Sa<'static> {
        Sa {
            proposals: self
                .proposals
                .into_iter()
                .map(Proposal::into_owned)
                .collect(),
        }
    }
}

/// Read `last substruc`, reserved and a 2-byte length, and return a reader over the rest of
/// the substructure (`min` = smallest valid length).
fn substruc<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    min: usize,
) -> Result<(u8, u8, Reader<'a>), WireError> {
    let start = r.offset();
    let last = r.u8("last substruc")?;
    let reserved = r.u8("reserved")?;
    let len = r.u16(what)? as usize;
    if len < min {
        return Err(WireError::invalid(
            start + 2,
            format!("{what} >= {min}, got {len}"),
        ));
    }
    if len - 4 > r.remaining() {
        return Err(WireError::truncated(
            start + 2,
            format!(
                "{what} {len} to fit in the {} byte(s) left",
                r.remaining() + 4
            ),
        ));
    }
    let sub = r.sub(len - 4, what)?;
    Ok((last, reserved, sub))
}

impl<'a> Proposal<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let (last_substruc, reserved, mut p) = substruc(r, "proposal length", 8)?;
        let number = p.u8("proposal number")?;
        let protocol_id = p.u8("protocol ID")?;
        let spi_size = p.u8("SPI size")?;
        let count_at = p.offset();
        let num_transforms = p.u8("number of transforms")?;
        let spi = Cow::Borrowed(p.bytes(spi_size as usize, "SPI")?);
        let mut transforms = Vec::with_capacity(num_transforms as usize);
        while !p.is_empty() {
            let j = transforms.len() + 1;
            let t = Transform::parse(&mut p).map_err(|e| e.within(format!("transform {j}")))?;
            transforms.push(t);
        }
        if transforms.len() != num_transforms as usize {
            return Err(WireError::invalid(
                count_at,
                format!(
                    "number of transforms equal to the {} transform(s) present, got {num_transforms}",
                    transforms.len()
                ),
            ));
        }
        Ok(Proposal {
            last_substruc,
            reserved,
            number,
            protocol_id,
            spi,
            transforms,
        })
    }

    /// Append the proposal substructure (length and counts recomputed).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[
            self.last_substruc,
            self.reserved,
            0,
            0,
            self.number,
            self.protocol_id,
            self.spi.len().min(255) as u8,
            self.transforms.len().min(255) as u8,
        ]);
        out.extend_from_slice(&self.spi);
        for t in &self.transforms {
            t.emit_into(out);
        }
        patch_len16(out, start);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Proposal<'static> {
        Proposal {
            last_substruc: self.last_substruc,
            reserved: self.reserved,
            number: self.number,
            protocol_id: self.protocol_id,
            spi: Cow::Owned(self.spi.into_owned()),
            transforms: self
                .transforms
                .into_iter()
                .map(Transform::into_owned)
                .collect(),
        }
    }
}

impl<'a> Transform<'a> {
    /// A transform without attributes (`last_substruc` 0; see [`Sa::new`]).
    pub fn new(transform_type: u8, transform_id: u16) -> Self {
        Transform {
            last_substruc: 0,
            reserved1: 0,
            transform_type,
            reserved2: 0,
            transform_id,
            attributes: Vec::new(),
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let (last_substruc, reserved1, mut t) = substruc(r, "transform length", 8)?;
        let transform_type = t.u8("transform type")?;
        let reserved2 = t.u8("reserved")?;
        let transform_id = t.u16("transform ID")?;
        let mut attributes = Vec::new();
        while !t.is_empty() {
            let k = attributes.len() + 1;
            let a = Attribute::parse(&mut t).map_err(|e| e.within(format!("attribute {k}")))?;
            attributes.push(a);
        }
        Ok(Transform {
            last_substruc,
            reserved1,
            transform_type,
            reserved2,
            transform_id,
            attributes,
        })
    }

    /// Append the transform substructure (length recomputed).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[
            self.last_substruc,
            self.reserved1,
            0,
            0,
            self.transform_type,
            self.reserved2,
        ]);
        out.extend_from_slice(&self.transform_id.to_be_bytes());
        for a in &self.attributes {
            a.emit_into(out);
        }
        patch_len16(out, start);
    }

    /// The Key Length attribute, if present in TV format.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a.value {
            AttributeValue::Tv(v) if a.attr_type == ATTR_KEY_LENGTH => Some(v),
            _ => None,
        })
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Transform<'static> {
        Transform {
            last_substruc: self.last_substruc,
            reserved1: self.reserved1,
            transform_type: self.transform_type,
            reserved2: self.reserved2,
            transform_id: self.transform_id,
            attributes: self
                .attributes
                .into_iter()
                .map(Attribute::into_owned)
                .collect(),
        }
    }
}

impl<'a> Attribute<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, WireError> {
        let raw_type = r.u16("attribute type")?;
        let attr_type = raw_type & 0x7fff;
        let value = if raw_type & 0x8000 != 0 {
            AttributeValue::Tv(r.u16("attribute value")?)
        } else {
            let len = r.u16("attribute length")? as usize;
            AttributeValue::Tlv(Cow::Borrowed(r.bytes(len, "attribute value")?))
        };
        Ok(Attribute { attr_type, value })
    }

    /// Append the attribute in its stored format.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let t = self.attr_type & 0x7fff;
        match &self.value {
            AttributeValue::Tv(v) => {
                out.extend_from_slice(&(t | 0x8000).to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            AttributeValue::Tlv(d) => {
                out.extend_from_slice(&t.to_be_bytes());
                out.extend_from_slice(&(d.len().min(u16::MAX as usize) as u16).to_be_bytes());
                out.extend_from_slice(d);
            }
        }
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Attribute<'static> {
        Attribute {
            attr_type: self.attr_type,
            value: match self.value {
                AttributeValue::Tv(v) => AttributeValue::Tv(v),
                AttributeValue::Tlv(d) => AttributeValue::Tlv(Cow::Owned(d.into_owned())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Proposal 1: IKE, ENCR AES-CBC keylen 128 (TV), INTEG 12, PRF 5, DH 31.
    /// Proposal 2: ESP with a 4-byte SPI, ESN 0, ENCR 20 with an empty TLV attribute 99.
    fn fixed_sample() -> Vec<u8> {
        vec![
            2, 0, 0, 44, 1, 1, 0, 4, //
            3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 0, 128, //
            3, 0, 0, 8, 3, 0, 0, 12, //
            3, 0, 0, 8, 2, 0, 0, 5, //
            0, 0, 0, 8, 4, 0, 0, 31, //
            0, 0, 0, 32, 2, 3, 4, 2, 0xc1, 0xb2, 0xa3, 0x94, //
            3, 0, 0, 8, 5, 0, 0, 0, //
            0, 0, 0, 12, 1, 0, 0, 20, 0, 99, 0, 0,
        ]
    }

    #[test]
    fn parse_emit() {
        let b = fixed_sample();
        let sa = Sa::parse(Reader::new(&b, 32)).unwrap();
        assert_eq!(sa.proposals.len(), 2);
        let p1 = &sa.proposals[0];
        assert_eq!((p1.number, p1.protocol_id, p1.spi.len()), (1, 1, 0));
        assert_eq!(p1.transforms.len(), 4);
        assert_eq!(p1.transforms[0].key_length(), Some(128));
        assert_eq!(p1.transforms[3].transform_type, 4);
        assert_eq!(p1.transforms[3].transform_id, 31);
        let p2 = &sa.proposals[1];
        assert_eq!(&p2.spi[..], &[0xc1, 0xb2, 0xa3, 0x94]);
        assert_eq!(
            p2.transforms[1].attributes[0],
            Attribute {
                attr_type: 99,
                value: AttributeValue::Tlv(Cow::Borrowed(&[]))
            }
        );
        let mut out = Vec::new();
        sa.emit_into(&mut out);
        assert_eq!(out, b);
        let rebuilt = Sa::new(sa.clone().into_owned().proposals);
        let mut out2 = Vec::new();
        rebuilt.emit_into(&mut out2);
        assert_eq!(out2, b);
    }

    #[test]
    fn errors() {
        let b = fixed_sample();
        // transform length 4 in proposal 2 transform 2
        let mut bad = b.clone();
        bad[44 + 20 + 3] = 4;
        let e = Sa::parse(Reader::new(&bad, 32)).unwrap_err();
        assert_eq!(e.context, "proposal 2, transform 2");
        assert_eq!(e.offset, 32 + 44 + 20 + 2);
        assert_eq!(e.expected, "transform length >= 8, got 4");
        // wrong transform count
        let mut bad = b.clone();
        bad[7] = 3;
        let e = Sa::parse(Reader::new(&bad, 0)).unwrap_err();
        assert_eq!((e.offset, &*e.context), (7, "proposal 1"));
        // proposal length too long
        let mut bad = b.clone();
        bad[3] = 200;
        let e = Sa::parse(Reader::new(&bad, 0)).unwrap_err();
        assert_eq!(e.offset, 2);
        // TLV attribute length beyond the transform
        let mut bad = b.clone();
        let n = bad.len();
        bad[n - 1] = 1;
        let e = Sa::parse(Reader::new(&bad, 0)).unwrap_err();
        assert_eq!(e.context, "proposal 2, transform 2, attribute 1");
        // every truncation is an error, except at the proposal boundary (last substruc
        // bytes are kept, not enforced)
        for n in (1..b.len()).filter(|&n| n != 44) {
            assert!(Sa::parse(Reader::new(&b[..n], 0)).is_err(), "{n}");
        }
    }
}
