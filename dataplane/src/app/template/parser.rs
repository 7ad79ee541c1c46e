//! Pure parsing functions of the template protocol.
use crate::app::bytes::be16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

pub const MAGIC: &[u8] = b"TMPL";
/// Largest body a valid message has.
pub const MAX_BODY: u16 = 4096;

/// The body length announced by a message header.
pub fn header(b: &[u8]) -> Result<u16, Error> {
    match crate::app::bytes::prefix_state(b, MAGIC, false) {
        Some(false) => return Err(Error::Invalid),
        None => return Err(Error::Incomplete),
        Some(true) => {}
    }
    let len = be16(b, 4).ok_or(Error::Incomplete)?;
    if len > MAX_BODY {
        return Err(Error::Invalid);
    }
    Ok(len)
}

/// One whole message: its body and the bytes after it.
pub fn message(b: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let len = header(b)? as usize;
    let body = b.get(6..6 + len).ok_or(Error::Incomplete)?;
    Ok((body, b.get(6 + len..).unwrap_or(&[])))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn header_bounds() {
        assert_eq!(header(b"TMPL\x10\x01"), Err(Error::Invalid));
        assert_eq!(message(b"TMPL\x00\x01ab"), Ok((&b"a"[..], &b"b"[..])));
        assert_eq!(message(b"TMPL\x00\x05ab"), Err(Error::Incomplete));
    }
}
