//! Pure parsing functions of RDP's connection start (MS-RDPBCGR 2.2.1.1 and 2.2.1.2): a
//! TPKT (RFC 1006) carrying an X.224 Connection Request or Confirm, with the request's
//! cookie / routing token and the RDP negotiation request, response or failure.
use crate::app::bytes::{be16, le16, le32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not an RDP connection request or confirm.
    Invalid,
}

/// TPKT header + X.224 fixed part of a CR/CC (LI, code, dst-ref, src-ref, class).
pub const MIN_PDU: usize = 4 + 7;
/// Largest connection request or confirm accepted (a cookie is a short line).
pub const MAX_PDU: usize = 1024;

pub const X224_CR: u8 = 0xe0;
pub const X224_CC: u8 = 0xd0;

const NEG_REQ: u8 = 1;
const NEG_RSP: u8 = 2;
const NEG_FAILURE: u8 = 3;

/// A Connection Request or Confirm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pdu<'a> {
    Request {
        cookie: Option<&'a [u8]>,
        neg: Option<(u8, u32)>,
    },
    /// `neg`: (type, flags, value): a response (selected protocol) or a failure (code).
    Confirm {
        neg: Option<(u8, u8, u32)>,
    },
}

/// One whole TPKT + X.224 CR/CC: (pdu, bytes used).
pub fn pdu(b: &[u8]) -> Result<(Pdu<'_>, usize), Error> {
    if let Some(v) = u8_at(b, 0) {
        if v != 3 {
            return Err(Error::Invalid);
        }
    }
    if let Some(r) = u8_at(b, 1) {
        if r != 0 {
            return Err(Error::Invalid);
        }
    }
    let len = be16(b, 2).ok_or(Error::Incomplete)? as usize;
    if !(MIN_PDU..=MAX_PDU).contains(&len) {
        return Err(Error::Invalid);
    }
    if let Some(li) = u8_at(b, 4) {
        if li as usize + 5 != len {
            return Err(Error::Invalid);
        }
    }
    if let Some(code) = u8_at(b, 5) {
        if code != X224_CR && code != X224_CC {
            return Err(Error::Invalid);
        }
    }
    let pdu = b.get(..len).ok_or(Error::Incomplete)?;
    let code = u8_at(pdu, 5).ok_or(Error::Incomplete)?;
    // Class 0, no options.
    if u8_at(pdu, 10).ok_or(Error::Incomplete)? != 0 {
        return Err(Error::Invalid);
    }
    let var = pdu.get(MIN_PDU..).unwrap_or(&[]);
    if code == X224_CR {
        if be16(pdu, 6) != Some(0) {
            return Err(Error::Invalid); // the destination reference of a request is 0
        }
        let (cookie, rest) = cookie(var)?;
        let neg = match rest {
            [] => None,
            _ => Some(neg(rest, NEG_REQ).map(|(_, f, v)| (f, v))?),
        };
        Ok((Pdu::Request { cookie, neg }, len))
    } else {
        let neg = match var {
            [] => None,
            _ => Some(neg(var, NEG_RSP).or_else(|_| neg(var, NEG_FAILURE))?),
        };
        Ok((Pdu::Confirm { neg }, len))
    }
}

/// The optional "Cookie: mstshash=NAME\r\n" (or routing token "Cookie: msts=...\r\n") line:
/// (the mstshash value, the bytes after the line).
fn cookie(var: &[u8]) -> Result<(Option<&[u8]>, &[u8]), Error> {
    if !var.starts_with(b"Cookie: ") {
        return Ok((None, var));
    }
    let end = var.windows(2).position(|w| w == b"\r\n").ok_or(Error::Invalid)?;
    let line = var.get(..end).unwrap_or(&[]);
    let rest = var.get(end + 2..).unwrap_or(&[]);
    if !line.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return Err(Error::Invalid);
    }
    Ok((line.strip_prefix(b"Cookie: mstshash="), rest))
}

/// An 8-byte negotiation structure of `typ`: (type, flags, value).
fn neg(b: &[u8], typ: u8) -> Result<(u8, u8, u32), Error> {
    if u8_at(b, 0) != Some(typ) || le16(b, 2) != Some(8) || b.len() != 8 {
        return Err(Error::Invalid);
    }
    Ok((typ, u8_at(b, 1).unwrap_or(0), le32(b, 4).ok_or(Error::Invalid)?))
}

/// Suricata's name of a selected protocol (`None`: not one of the known values).
pub fn protocol_name(p: u32) -> Option<&'static str> {
    Some(match p {
        0 => "rdp",
        1 => "ssl",
        2 => "hybrid",
        4 => "rds_tls",
        8 => "hybrid_ex",
        _ => return None,
    })
}

/// Suricata's name of a negotiation failure code.
pub fn failure_name(code: u32) -> Option<&'static str> {
    Some(match code {
        1 => "ssl_required_by_server",
        2 => "ssl_not_allowed_by_server",
        3 => "ssl_cert_not_on_server",
        4 => "inconsistent_flags",
        5 => "hybrid_required_by_server",
        6 => "ssl_with_user_auth_required_by_server",
        _ => return None,
    })
}

pub const NEG_TYPE_RSP: u8 = NEG_RSP;
pub const NEG_TYPE_FAILURE: u8 = NEG_FAILURE;

#[cfg(test)]
mod tests {
    use super::*;

    pub const REQ: &[u8] =
        b"\x03\x00\x00\x2f\x2a\xe0\x00\x00\x00\x00\x00Cookie: mstshash=administr\r\n\x01\x00\x08\x00\x03\x00\x00\x00";

    #[test]
    fn request_and_confirm() {
        let (p, n) = pdu(REQ).unwrap();
        assert_eq!(n, REQ.len());
        assert_eq!(p, Pdu::Request { cookie: Some(b"administr"), neg: Some((0, 3)) });
        let cc = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00";
        assert_eq!(pdu(cc), Ok((Pdu::Confirm { neg: Some((2, 0x1f, 2)) }, 19)));
        let fail = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x05\x00\x00\x00";
        assert_eq!(pdu(fail), Ok((Pdu::Confirm { neg: Some((3, 0, 5)) }, 19)));
        assert_eq!(
            pdu(b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00"),
            Ok((Pdu::Request { cookie: None, neg: None }, 11))
        );
    }

    #[test]
    fn rejects_other_cotp() {
        // S7comm's COTP connection request: TSAP parameters, not RDP.
        let s7 = b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc0\x01\x0a\xc1\x02\x01\x00\xc2\x02\x01\x02";
        assert_eq!(pdu(s7), Err(Error::Invalid));
        assert_eq!(pdu(&REQ[..20]), Err(Error::Incomplete));
        assert_eq!(pdu(b"\x03\x00\x00\x0b\x07\xe0"), Err(Error::Invalid));
    }
}
