//! Pure PostgreSQL wire parsing: untyped startup-phase messages (StartupMessage,
//! SSLRequest, GSSENCRequest, CancelRequest), typed messages, authentication requests.
use crate::app::bytes::{be32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

pub const SSL_REQUEST: u32 = 80877103;
pub const GSSENC_REQUEST: u32 = 80877104;
pub const CANCEL_REQUEST: u32 = 80877102;
/// Protocol 3.0 (major 3 in the high 16 bits); minors up to 3.2 exist.
pub const PROTOCOL_3: u32 = 0x0003_0000;
/// Longest StartupMessage accepted (the server's own limit is 10000).
pub const MAX_STARTUP: u32 = 10000;
/// Parameters read from a StartupMessage at most.
pub const MAX_PARAMS: usize = 32;

/// An untyped startup-phase message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Startup<'a> {
    Ssl,
    Gssenc,
    Cancel,
    /// Protocol minor version and the parameter bytes (`key\0value\0...` without the final NUL).
    Params(u16, &'a [u8]),
}

/// One untyped message: what it is and its total length.
pub fn startup(b: &[u8]) -> Result<(Startup<'_>, usize), Error> {
    let (Some(len), Some(code)) = (be32(b, 0), be32(b, 4)) else {
        // Lengths start with zero bytes: anything else is not a startup message.
        return if b.iter().take(2).all(|&c| c == 0) { Err(Error::Incomplete) } else { Err(Error::Invalid) };
    };
    let kind = match (code, len) {
        (SSL_REQUEST, 8) => Startup::Ssl,
        (GSSENC_REQUEST, 8) => Startup::Gssenc,
        (CANCEL_REQUEST, 16) => Startup::Cancel,
        (c, 9..=MAX_STARTUP) if c & 0xffff_0000 == PROTOCOL_3 && c & 0xffff <= 2 => {
            let body = b.get(8..len as usize).ok_or(Error::Incomplete)?;
            // The last value's NUL, then the list's terminating NUL.
            let params = body.strip_suffix(b"\0\0").ok_or(Error::Invalid)?;
            if !params_ok(params) {
                return Err(Error::Invalid);
            }
            Startup::Params((c & 0xffff) as u16, params)
        }
        _ => return Err(Error::Invalid),
    };
    if b.len() < len as usize {
        return Err(Error::Incomplete);
    }
    Ok((kind, len as usize))
}

/// `key\0value\0` pairs of printable keys, `user` among them.
fn params_ok(p: &[u8]) -> bool {
    let mut user = false;
    let mut it = p.split(|&c| c == 0);
    for _ in 0..MAX_PARAMS {
        let Some(k) = it.next() else { return user };
        let Some(v) = it.next() else { return false };
        if k.is_empty() || !k.iter().all(|c| c.is_ascii_graphic()) || !v.iter().all(|&c| c >= 0x20) {
            return false;
        }
        user |= k == b"user";
    }
    user && it.next().is_none()
}

/// The (key, value) pairs of StartupMessage parameters.
pub fn params(p: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut it = p.split(|&c| c == 0);
    std::iter::from_fn(move || Some((it.next()?, it.next()?))).take(MAX_PARAMS)
}

/// A typed message header: (type, length including itself but not the type byte).
pub fn typed(b: &[u8]) -> Result<(u8, usize), Error> {
    let (Some(t), Some(len)) = (u8_at(b, 0), be32(b, 1)) else { return Err(Error::Incomplete) };
    if !(4..=0x3fff_ffff).contains(&len) {
        return Err(Error::Invalid);
    }
    Ok((t, len as usize))
}

/// An AuthenticationRequest (`R`) whose length fits its type.
pub fn auth_request(b: &[u8]) -> Result<u32, Error> {
    let (t, len) = typed(b)?;
    if t != b'R' {
        return Err(Error::Invalid);
    }
    let kind = be32(b, 5).ok_or(Error::Incomplete)?;
    let ok = match kind {
        0 | 2 | 3 | 6 | 7 | 9 => len == 8,
        5 => len == 12,
        8 | 10 | 11 | 12 => (8..=4096).contains(&len),
        _ => false,
    };
    if ok {
        Ok(kind)
    } else {
        Err(Error::Invalid)
    }
}

/// An ErrorResponse/NoticeResponse (`E`/`N`) during startup: its first field is a known
/// field code with printable text.
pub fn error_response(b: &[u8]) -> Result<(), Error> {
    let (t, len) = typed(b)?;
    if !matches!(t, b'E' | b'N') || !(6..=8192).contains(&len) {
        return Err(Error::Invalid);
    }
    let code = u8_at(b, 5).ok_or(Error::Incomplete)?;
    if !b"SVCMDHPpqWstcdnFLR".contains(&code) {
        return Err(Error::Invalid);
    }
    let text = b.get(6..(1 + len).min(b.len())).unwrap_or(&[]);
    let end = text.iter().position(|&c| c == 0);
    let head = text.get(..end.unwrap_or(text.len())).unwrap_or(&[]);
    if !head.iter().all(|&c| c >= 0x20) {
        return Err(Error::Invalid);
    }
    if end.is_some() {
        Ok(())
    } else {
        Err(Error::Incomplete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_messages() {
        assert_eq!(startup(b"\x00\x00\x00\x08\x04\xd2\x16\x2f"), Ok((Startup::Ssl, 8)));
        let m = b"\x00\x00\x00\x16\x00\x03\x00\x00user\0bob\0x\0y\0\0";
        assert_eq!(startup(m), Ok((Startup::Params(0, &b"user\0bob\0x\0y"[..]), 22)));
        assert_eq!(startup(&m[..12]), Err(Error::Incomplete));
        assert_eq!(startup(b"\x00\x00\x00\x0e\x00\x03\x00\x00nope\0\0"), Err(Error::Invalid));
        assert_eq!(params(b"user\0bob\0database\0db").collect::<Vec<_>>().len(), 2);
        assert_eq!(auth_request(b"R\x00\x00\x00\x0c\x00\x00\x00\x05abcd"), Ok(5));
        assert_eq!(auth_request(b"R\x00\x00\x00\x09\x00\x00\x00\x05"), Err(Error::Invalid));
    }
}
