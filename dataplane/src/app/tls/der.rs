//! A small bounded DER reader for the fields of an X.509 certificate that EVE logs:
//! serial, issuer, subject, validity. Values are views into the certificate's bytes; the
//! `Display` impls write them as Suricata does ("C=US, O=Org, CN=name", "0A:1B:..",
//! "2024-01-31T12:00:00"). Nesting is fixed by the walk (no recursion on input).
use std::fmt::{self, Write};

/// Longest OID (in bytes) turned into a dotted string.
const MAX_OID: usize = 32;
/// Attributes written per name at most.
const MAX_ATTRS: usize = 32;

/// One TLV: tag and contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub body: &'a [u8],
}

/// Reads one TLV from the start of `b`: (tlv, rest). Only definite lengths up to 4 bytes
/// and single-byte tags (all X.509 needs).
pub fn tlv(b: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *b.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let l0 = *b.get(1)?;
    let (len, hdr) = if l0 < 0x80 {
        (l0 as usize, 2)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let body = b.get(hdr..hdr.checked_add(len)?)?;
    Some((Tlv { tag, body }, b.get(hdr + len..)?))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const BMP_STRING: u8 = 0x1e;

/// What EVE logs of a certificate.
#[derive(Clone, Copy, Debug)]
pub struct Cert<'a> {
    pub serial: Serial<'a>,
    pub issuer: Name<'a>,
    pub subject: Name<'a>,
    pub not_before: Time<'a>,
    pub not_after: Time<'a>,
}

/// Parses the start of a certificate's tbsCertificate.
pub fn certificate(der: &[u8]) -> Option<Cert<'_>> {
    let (cert, _) = tlv(der)?;
    if cert.tag != SEQUENCE {
        return None;
    }
    let (tbs, _) = tlv(cert.body)?;
    if tbs.tag != SEQUENCE {
        return None;
    }
    let (mut f, mut rest) = tlv(tbs.body)?;
    if f.tag == 0xa0 {
        (f, rest) = tlv(rest)?; // [0] version
    }
    if f.tag != INTEGER {
        return None;
    }
    let serial = Serial(f.body);
    let (_sig_alg, rest) = tlv(rest)?;
    let (issuer, rest) = tlv(rest)?;
    let (validity, rest) = tlv(rest)?;
    let (subject, _) = tlv(rest)?;
    if issuer.tag != SEQUENCE || validity.tag != SEQUENCE || subject.tag != SEQUENCE {
        return None;
    }
    let (nb, rest) = tlv(validity.body)?;
    let (na, _) = tlv(rest)?;
    Some(Cert {
        serial,
        issuer: Name(issuer.body),
        subject: Name(subject.body),
        not_before: Time::new(nb)?,
        not_after: Time::new(na)?,
    })
}

/// An INTEGER's bytes, written as upper-case hex pairs joined by ':'.
#[derive(Clone, Copy, Debug)]
pub struct Serial<'a>(pub &'a [u8]);

impl fmt::Display for Serial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// A UTCTime or GeneralizedTime, written "YYYY-MM-DDTHH:MM:SS".
#[derive(Clone, Copy, Debug)]
pub struct Time<'a> {
    /// The 4-digit year, when the value is a UTCTime (2 digits on the wire).
    century: &'static str,
    digits: &'a [u8],
}

impl<'a> Time<'a> {
    fn new(t: Tlv<'a>) -> Option<Time<'a>> {
        let (century, digits) = match t.tag {
            UTC_TIME => {
                let yy = t.body.get(..2)?;
                (if yy < &b"50"[..] { "20" } else { "19" }, t.body)
            }
            GENERALIZED_TIME => ("", t.body),
            _ => return None,
        };
        let need = if century.is_empty() { 14 } else { 12 };
        let d = digits.get(..need)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(Time { century, digits: d })
    }
}

impl fmt::Display for Time<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let y = if self.century.is_empty() { 4 } else { 2 };
        let s = |a: usize, b: usize| std::str::from_utf8(self.digits.get(a..b).unwrap_or(b"")).unwrap_or("");
        write!(
            f,
            "{}{}-{}-{}T{}:{}:{}",
            self.century,
            s(0, y),
            s(y, y + 2),
            s(y + 2, y + 4),
            s(y + 4, y + 6),
            s(y + 6, y + 8),
            s(y + 8, y + 10)
        )
    }
}

/// A Name's RDN sequence, written "C=US, O=Org, CN=name" (multi-valued RDNs joined by
/// " + "), attribute names as x509-parser (Suricata) abbreviates them.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a>(pub &'a [u8]);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rdns = self.0;
        let mut n = 0;
        while let Some((rdn, rest)) = tlv(rdns) {
            rdns = rest;
            if rdn.tag != SET {
                continue;
            }
            let mut attrs = rdn.body;
            let mut first_in_rdn = true;
            while let Some((atv, rest)) = tlv(attrs) {
                attrs = rest;
                n += 1;
                if n > MAX_ATTRS {
                    return Ok(());
                }
                let Some((oid, rest)) = tlv(atv.body) else { continue };
                let Some((val, _)) = tlv(rest) else { continue };
                if oid.tag != OID {
                    continue;
                }
                f.write_str(if first_in_rdn {
                    if n == 1 {
                        ""
                    } else {
                        ", "
                    }
                } else {
                    " + "
                })?;
                first_in_rdn = false;
                write_attr_name(f, oid.body)?;
                f.write_char('=')?;
                write_value(f, val)?;
            }
        }
        Ok(())
    }
}

fn write_attr_name(f: &mut fmt::Formatter<'_>, oid: &[u8]) -> fmt::Result {
    let name = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0f] => "businessCategory",
        [0x55, 0x04, 0x11] => "postalCode",
        [0x55, 0x04, 0x04] => "surname",
        [0x55, 0x04, 0x2a] => "givenName",
        [0x55, 0x04, 0x0c] => "title",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "Email",
        [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x01] => "jurisdictionL",
        [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x02] => "jurisdictionST",
        [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01, 0x03] => "jurisdictionC",
        _ => return write_oid(f, oid),
    };
    f.write_str(name)
}

/// Writes an OID in dotted form.
fn write_oid(f: &mut fmt::Formatter<'_>, oid: &[u8]) -> fmt::Result {
    let oid = oid.get(..oid.len().min(MAX_OID)).unwrap_or(&[]);
    let mut v: u64 = 0;
    let mut first = true;
    for &b in oid {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (a, rest) = if v < 80 { (v / 40, v % 40) } else { (2, v - 80) };
            write!(f, "{a}.{rest}")?;
            first = false;
        } else {
            write!(f, ".{v}")?;
        }
        v = 0;
    }
    Ok(())
}

fn write_value(f: &mut fmt::Formatter<'_>, v: Tlv<'_>) -> fmt::Result {
    match v.tag {
        BMP_STRING => {
            let units = v
                .body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c.first().copied().unwrap_or(0), c.get(1).copied().unwrap_or(0)]));
            for c in char::decode_utf16(units) {
                f.write_char(c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
            }
            Ok(())
        }
        // UTF8String, NumericString, PrintableString, T61String, IA5String, VisibleString...
        0x0c | 0x12 | 0x13 | 0x14 | 0x16 | 0x1a | 0x1b | 0x1c => f.write_str(&String::from_utf8_lossy(v.body)),
        _ => fmt::Display::fmt(&Serial(v.body), f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_bounds() {
        assert_eq!(tlv(b"\x04\x02ab!"), Some((Tlv { tag: 4, body: b"ab" }, &b"!"[..])));
        assert_eq!(tlv(b"\x04\x03ab"), None);
        assert_eq!(tlv(b"\x04\x85\x01\x00\x00\x00\x00"), None);
        assert_eq!(tlv(b"\x04\x82\xff\xff"), None);
    }

    #[test]
    fn oid_and_time_formats() {
        struct O<'a>(&'a [u8]);
        impl fmt::Display for O<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_oid(f, self.0)
            }
        }
        assert_eq!(O(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]).to_string(), "1.2.840.113549.1.1.11");
        let t = Time::new(Tlv { tag: UTC_TIME, body: b"240131120000Z" }).unwrap();
        assert_eq!(t.to_string(), "2024-01-31T12:00:00");
        let t = Time::new(Tlv { tag: UTC_TIME, body: b"991231235959Z" }).unwrap();
        assert_eq!(t.to_string(), "1999-12-31T23:59:59");
        let t = Time::new(Tlv { tag: GENERALIZED_TIME, body: b"20501231235959Z" }).unwrap();
        assert_eq!(t.to_string(), "2050-12-31T23:59:59");
        assert!(Time::new(Tlv { tag: UTC_TIME, body: b"2401" }).is_none());
    }
}
