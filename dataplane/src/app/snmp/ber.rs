//! A minimal BER (X.690) reader shared by SNMP, Kerberos and LDAP: one TLV at a time,
//! single-byte tags (all these protocols need), definite lengths of at most 4 bytes.
//! Indefinite lengths are invalid (none of these protocols send them).
use crate::app::bytes::u8_at;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The TLV runs past the bytes given.
    Incomplete,
    /// Not a TLV these protocols send.
    Invalid,
}

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
/// TLVs visited when searching a constructed value at most.
pub const MAX_FIELDS: usize = 64;

/// A TLV's header: tag, value length and header length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub tag: u8,
    pub len: usize,
    pub hdr: usize,
}

impl Header {
    pub fn total(&self) -> usize {
        self.hdr + self.len
    }
}

pub fn header(b: &[u8]) -> Result<Header, Error> {
    let tag = u8_at(b, 0).ok_or(Error::Incomplete)?;
    if tag & 0x1f == 0x1f {
        return Err(Error::Invalid); // multi-byte tag
    }
    let l0 = u8_at(b, 1).ok_or(Error::Incomplete)?;
    if l0 < 0x80 {
        return Ok(Header { tag, len: l0 as usize, hdr: 2 });
    }
    let n = (l0 & 0x7f) as usize;
    if n == 0 || n > 4 {
        return Err(Error::Invalid);
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | u8_at(b, 2 + i).ok_or(Error::Incomplete)? as usize;
    }
    Ok(Header { tag, len, hdr: 2 + n })
}

/// One whole TLV: `(tag, value, rest)`.
pub fn tlv(b: &[u8]) -> Result<(u8, &[u8], &[u8]), Error> {
    let h = header(b)?;
    let value = b.get(h.hdr..h.total()).ok_or(Error::Incomplete)?;
    Ok((h.tag, value, b.get(h.total()..).unwrap_or(&[])))
}

/// One whole TLV that must have tag `tag`: `(value, rest)`.
pub fn expect(b: &[u8], tag: u8) -> Result<(&[u8], &[u8]), Error> {
    let (t, v, rest) = tlv(b)?;
    if t != tag {
        return Err(Error::Invalid);
    }
    Ok((v, rest))
}

/// A non-negative INTEGER value of at most 8 bytes.
pub fn uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 9 || v.first().is_some_and(|&b| b & 0x80 != 0) {
        return None;
    }
    Some(v.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
}

/// A signed INTEGER value of at most 8 bytes.
pub fn int(v: &[u8]) -> Option<i64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    let neg = v.first().is_some_and(|&b| b & 0x80 != 0);
    Some(v.iter().fold(if neg { -1i64 } else { 0 }, |a, &b| (a << 8) | b as i64))
}

/// The value of the field tagged `tag` among the TLVs of `body` (a constructed value).
pub fn field(body: &[u8], tag: u8) -> Option<&[u8]> {
    let mut b = body;
    for _ in 0..MAX_FIELDS {
        let (t, v, rest) = tlv(b).ok()?;
        if t == tag {
            return Some(v);
        }
        b = rest;
    }
    None
}

/// The value of context tag `[n]` (constructed, `0xa0 | n`) among the TLVs of `body`.
pub fn ctx(body: &[u8], n: u8) -> Option<&[u8]> {
    field(body, 0xa0 | n)
}

/// An OBJECT IDENTIFIER value written as dotted decimal (at most [`MAX_OID_ARCS`] arcs).
pub struct Oid<'a>(pub &'a [u8]);
pub const MAX_OID_ARCS: usize = 128;

impl std::fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut arc = 0u64;
        let mut first = true;
        for (n, &b) in self.0.iter().enumerate() {
            if n >= MAX_OID_ARCS * 10 {
                break;
            }
            arc = (arc << 7) | (b & 0x7f) as u64;
            if b & 0x80 != 0 {
                if arc > u64::MAX >> 7 {
                    return Ok(()); // overlong arc: stop
                }
                continue;
            }
            if first {
                let (x, y) = if arc < 80 { (arc / 40, arc % 40) } else { (2, arc - 80) };
                write!(f, "{x}.{y}")?;
                first = false;
            } else {
                write!(f, ".{arc}")?;
            }
            arc = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_values() {
        assert_eq!(header(&[0x30, 0x82, 0x01, 0x00]), Ok(Header { tag: 0x30, len: 256, hdr: 4 }));
        assert_eq!(header(&[0x30, 0x80]), Err(Error::Invalid));
        assert_eq!(header(&[0x30, 0x82, 0x01]), Err(Error::Incomplete));
        assert_eq!(tlv(&[0x02, 0x01, 0x05, 0xff]), Ok((0x02, &[5u8][..], &[0xffu8][..])));
        assert_eq!(tlv(&[0x02, 0x02, 0x05]), Err(Error::Incomplete));
        assert_eq!(uint(&[0x00, 0x80]), Some(128));
        assert_eq!(int(&[0xff, 0x7b]), Some(-133));
        assert_eq!(Oid(&[0x2b, 6, 1, 2, 1, 1, 5, 0]).to_string(), "1.3.6.1.2.1.1.5.0");
        assert_eq!(Oid(&[0x2b, 0x86, 0xf7, 0x0d]).to_string(), "1.3.113549");
        assert_eq!(ctx(&[0xa0, 1, 9, 0xa1, 3, 2, 1, 5], 1), Some(&[2u8, 1, 5][..]));
    }
}
