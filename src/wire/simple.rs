//! Payloads with a small fixed part followed by opaque data: KE, ID, CERT/CERTREQ, AUTH,
//! Delete and EAP (RFC 7296 §3.4–3.9, §3.11, §3.16).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::reader::Reader;
use super::WireError;

fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
    Cow::Owned(c.into_owned())
}

/// KE payload body (§3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ke<'a> {
    /// Diffie-Hellman group (transform type 4 ID).
    pub dh_group: u16,
    /// The 2 reserved bytes, verbatim.
    pub reserved: u16,
    /// Key exchange data (public value).
    pub data: Cow<'a, [u8]>,
}

impl<'a> Ke<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(Ke {
            dh_group: r.u16("DH group")?,
            reserved: r.u16("reserved")?,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.dh_group.to_be_bytes());
        out.extend_from_slice(&self.reserved.to_be_bytes());
        out.extend_from_slice(&self.data);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Ke<'static> {
        Ke {
            dh_group: self.dh_group,
            reserved: self.reserved,
            data: own(self.data),
        }
    }
}

/// ID types (IANA "IKEv2 Identification Payload ID Types").
pub mod id_type {
    /// 4-byte IPv4 address.
    pub const ID_IPV4_ADDR: u8 = 1;
    /// Fully-qualified domain name.
    pub const ID_FQDN: u8 = 2;
    /// RFC 822 e-mail address.
    pub const ID_RFC822_ADDR: u8 = 3;
    /// 16-byte IPv6 address.
    pub const ID_IPV6_ADDR: u8 = 5;
    /// DER-encoded ASN.1 X.500 Distinguished Name.
    pub const ID_DER_ASN1_DN: u8 = 9;
    /// DER-encoded ASN.1 X.509 GeneralName.
    pub const ID_DER_ASN1_GN: u8 = 10;
    /// Opaque key ID.
    pub const ID_KEY_ID: u8 = 11;
}

/// IDi / IDr payload body (§3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id<'a> {
    /// ID type.
    pub id_type: u8,
    /// The 3 reserved bytes, verbatim.
    pub reserved: [u8; 3],
    /// Identification data.
    pub data: Cow<'a, [u8]>,
}

impl<'a> Id<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(Id {
            id_type: r.u8("ID type")?,
            reserved: r.array::<3>("reserved")?,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.id_type);
        out.extend_from_slice(&self.reserved);
        out.extend_from_slice(&self.data);
    }

    /// The data as an IPv4 address, for ID_IPV4_ADDR with exactly 4 bytes.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        (self.id_type == id_type::ID_IPV4_ADDR)
            .then(|| <[u8; 4]>::try_from(&self.data[..]).ok().map(Ipv4Addr::from))
            .flatten()
    }

    /// The data as an IPv6 address, for ID_IPV6_ADDR with exactly 16 bytes.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        (self.id_type == id_type::ID_IPV6_ADDR)
            .then(|| {
                <[u8; 16]>::try_from(&self.data[..])
                    .ok()
                    .map(Ipv6Addr::from)
            })
            .flatten()
    }

    /// The data as text, for ID_FQDN / ID_RFC822_ADDR holding valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        matches!(self.id_type, id_type::ID_FQDN | id_type::ID_RFC822_ADDR)
            .then(|| std::str::from_utf8(&self.data).ok())
            .flatten()
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Id<'static> {
        Id {
            id_type: self.id_type,
            reserved: self.reserved,
            data: own(self.data),
        }
    }
}

/// CERT (§3.6) and CERTREQ (§3.7) payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert<'a> {
    /// Certificate encoding.
    pub encoding: u8,
    /// Certificate data (CERT) or certification authority data (CERTREQ).
    pub data: Cow<'a, [u8]>,
}

impl<'a> Cert<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(Cert {
            encoding: r.u8("certificate encoding")?,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.encoding);
        out.extend_from_slice(&self.data);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Cert<'static> {
        Cert {
            encoding: self.encoding,
            data: own(self.data),
        }
    }
}

/// AUTH payload body (§3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth<'a> {
    /// Authentication method.
    pub method: u8,
    /// The 3 reserved bytes, verbatim.
    pub reserved: [u8; 3],
    /// Authentication data.
    pub data: Cow<'a, [u8]>,
}

impl<'a> Auth<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        Ok(Auth {
            method: r.u8("auth method")?,
            reserved: r.array::<3>("reserved")?,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.method);
        out.extend_from_slice(&self.reserved);
        out.extend_from_slice(&self.data);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Auth<'static> {
        Auth {
            method: self.method,
            reserved: self.reserved,
            data: own(self.data),
        }
    }
}

/// Delete payload body (§3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete<'a> {
    /// Protocol ID (1 IKE, 2 AH, 3 ESP).
    pub protocol_id: u8,
    /// SPI size (0 for IKE, 4 for AH/ESP).
    pub spi_size: u8,
    /// Number of SPIs. Written as stored; the parser checks
    /// `num_spis * spi_size == spis.len()`.
    pub num_spis: u16,
    /// The SPIs, concatenated; see [`Delete::spis`].
    pub spis: Cow<'a, [u8]>,
}

impl<'a> Delete<'a> {
    /// A Delete payload for `spis`, each `spi_size` bytes long.
    pub fn new(protocol_id: u8, spi_size: u8, spis: &[&[u8]]) -> Delete<'static> {
        Delete {
            protocol_id,
            spi_size,
            num_spis: spis.len().min(u16::MAX as usize) as u16,
            spis: Cow::Owned(spis.concat()),
        }
    }

    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let protocol_id = r.u8("protocol ID")?;
        let spi_size = r.u8("SPI size")?;
        let num_at = r.offset();
        let num_spis = r.u16("number of SPIs")?;
        let need = num_spis as usize * spi_size as usize;
        if need != r.remaining() {
            return Err(WireError::invalid(
                num_at,
                format!(
                    "{num_spis} SPI(s) of {spi_size} byte(s) = {need} byte(s) of SPIs, got {}",
                    r.remaining()
                ),
            ));
        }
        Ok(Delete {
            protocol_id,
            spi_size,
            num_spis,
            spis: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.protocol_id);
        out.push(self.spi_size);
        out.extend_from_slice(&self.num_spis.to_be_bytes());
        out.extend_from_slice(&self.spis);
    }

    /// Iterate over the SPIs (none when `spi_size` is 0).
    pub fn spis(&self) -> impl Iterator<Item = &[u8]> {
        let size = (self.spi_size as usize).max(1);
        let data: &[u8] = if self.spi_size == 0 { &[] } else { &self.spis };
        data.chunks(size)
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Delete<'static> {
        Delete {
            protocol_id: self.protocol_id,
            spi_size: self.spi_size,
            num_spis: self.num_spis,
            spis: own(self.spis),
        }
    }
}

/// EAP payload body (§3.16): an EAP message (RFC 3748).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eap<'a> {
    /// 1 Request, 2 Response, 3 Success, 4 Failure.
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    /// EAP method type: present for Request/Response messages with at least 5 bytes.
    pub eap_type: Option<u8>,
    /// Type-data (or, without a type, everything after the 4-byte EAP header).
    pub data: Cow<'a, [u8]>,
}

impl<'a> Eap<'a> {
    pub(crate) fn parse(mut r: Reader<'a>) -> Result<Self, WireError> {
        let total = r.remaining();
        let code = r.u8("EAP code")?;
        let identifier = r.u8("EAP identifier")?;
        let len_at = r.offset();
        let len = r.u16("EAP length")? as usize;
        if len != total {
            return Err(WireError::invalid(
                len_at,
                format!("EAP length equal to the {total}-byte payload body, got {len}"),
            ));
        }
        let eap_type = if matches!(code, 1 | 2) && !r.is_empty() {
            Some(r.u8("EAP type")?)
        } else {
            None
        };
        Ok(Eap {
            code,
            identifier,
            eap_type,
            data: Cow::Borrowed(r.rest()),
        })
    }

    /// Append the body; the EAP length is recomputed.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.code, self.identifier, 0, 0]);
        if let Some(t) = self.eap_type {
            out.push(t);
        }
        out.extend_from_slice(&self.data);
        super::message::patch_len16(out, start);
    }

    /// Detach from the input buffer.
    pub fn into_owned(self) -> Eap<'static> {
        Eap {
            code: self.code,
            identifier: self.identifier,
            eap_type: self.eap_type,
            data: own(self.data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(b: &[u8]) -> Reader<'_> {
        Reader::new(b, 32)
    }

    #[test]
    fn ke() {
        let b = [0, 31, 0, 0, 1, 2, 3];
        let ke = Ke::parse(r(&b)).unwrap();
        assert_eq!(ke.dh_group, 31);
        assert_eq!(&ke.data[..], &[1, 2, 3]);
        let mut o = Vec::new();
        ke.emit_into(&mut o);
        assert_eq!(o, b);
        assert_eq!(Ke::parse(r(&b[..3])).unwrap_err().offset, 34);
    }

    #[test]
    fn id() {
        let b = [1, 0, 0, 0, 192, 0, 2, 1];
        let id = Id::parse(r(&b)).unwrap();
        assert_eq!(id.ipv4(), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(id.text(), None);
        let mut o = Vec::new();
        id.into_owned().emit_into(&mut o);
        assert_eq!(o, b);
        let b = [2, 1, 2, 3, b'm', b'o', b'o', b'n'];
        let id = Id::parse(r(&b)).unwrap();
        assert_eq!(id.text(), Some("moon"));
        assert_eq!(id.reserved, [1, 2, 3]);
        let mut o = Vec::new();
        id.emit_into(&mut o);
        assert_eq!(o, b);
        let mut b6 = vec![5, 0, 0, 0];
        b6.extend_from_slice(&[0; 15]);
        b6.push(1);
        assert_eq!(Id::parse(r(&b6)).unwrap().ipv6(), Some(Ipv6Addr::LOCALHOST));
        assert_eq!(Id::parse(r(&b[..2])).unwrap_err().offset, 33);
    }

    #[test]
    fn cert_auth() {
        let b = [4, 0xaa, 0xbb];
        let c = Cert::parse(r(&b)).unwrap();
        assert_eq!(c.encoding, 4);
        let mut o = Vec::new();
        c.emit_into(&mut o);
        assert_eq!(o, b);
        assert!(Cert::parse(r(&[])).is_err());
        let b = [2, 0, 0, 0, 9, 9];
        let a = Auth::parse(r(&b)).unwrap();
        assert_eq!(a.method, 2);
        let mut o = Vec::new();
        a.emit_into(&mut o);
        assert_eq!(o, b);
    }

    #[test]
    fn delete() {
        let b = [3, 4, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8];
        let d = Delete::parse(r(&b)).unwrap();
        assert_eq!(
            d.spis().collect::<Vec<_>>(),
            vec![&[1, 2, 3, 4][..], &[5, 6, 7, 8][..]]
        );
        let mut o = Vec::new();
        d.emit_into(&mut o);
        assert_eq!(o, b);
        let e = Delete::parse(r(&b[..10])).unwrap_err();
        assert_eq!(e.offset, 34);
        let ike = Delete::parse(r(&[1, 0, 0, 0])).unwrap();
        assert_eq!(ike.spis().count(), 0);
        // size 0 with a nonzero count parses (nothing to check) and round-trips
        let odd = Delete::parse(r(&[1, 0, 0, 5])).unwrap();
        assert_eq!(odd.spis().count(), 0);
        let mut o = Vec::new();
        Delete::new(3, 4, &[&[1, 2, 3, 4], &[5, 6, 7, 8]]).emit_into(&mut o);
        assert_eq!(o, b);
    }

    #[test]
    fn eap() {
        let b = [1, 7, 0, 6, 1, b'x'];
        let e = Eap::parse(r(&b)).unwrap();
        assert_eq!((e.code, e.identifier, e.eap_type), (1, 7, Some(1)));
        let mut o = Vec::new();
        e.emit_into(&mut o);
        assert_eq!(o, b);
        let b = [3, 7, 0, 4];
        let e = Eap::parse(r(&b)).unwrap();
        assert_eq!(e.eap_type, None);
        let mut o = Vec::new();
        e.emit_into(&mut o);
        assert_eq!(o, b);
        let err = Eap::parse(r(&[3, 7, 0, 5])).unwrap_err();
        assert_eq!(err.offset, 34);
    }
}
