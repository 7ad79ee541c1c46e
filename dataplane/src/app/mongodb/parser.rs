//! Pure MongoDB wire parsing: the 16-byte message header, OP_MSG / OP_QUERY / OP_REPLY /
//! OP_COMPRESSED bodies, and a bounded walk over the elements of a BSON document.
use crate::app::bytes::{le32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not this protocol.
    Invalid,
}

/// Message header length.
pub const HEADER: usize = 16;
/// Largest message (maxMessageSizeBytes, 48 MB).
pub const MAX_MESSAGE: u32 = 48_000_000;
/// Elements of a document looked at.
pub const MAX_ELEMENTS: usize = 64;
/// Longest BSON key accepted.
pub const MAX_KEY: usize = 256;

pub const OP_REPLY: u32 = 1;
pub const OP_UPDATE: u32 = 2001;
pub const OP_INSERT: u32 = 2002;
pub const OP_QUERY: u32 = 2004;
pub const OP_GET_MORE: u32 = 2005;
pub const OP_DELETE: u32 = 2006;
pub const OP_KILL_CURSORS: u32 = 2007;
pub const OP_COMPRESSED: u32 = 2012;
pub const OP_MSG: u32 = 2013;

pub fn opcode_name(op: u32) -> &'static str {
    match op {
        OP_REPLY => "OP_REPLY",
        OP_UPDATE => "OP_UPDATE",
        OP_INSERT => "OP_INSERT",
        OP_QUERY => "OP_QUERY",
        OP_GET_MORE => "OP_GET_MORE",
        OP_DELETE => "OP_DELETE",
        OP_KILL_CURSORS => "OP_KILL_CURSORS",
        OP_COMPRESSED => "OP_COMPRESSED",
        OP_MSG => "OP_MSG",
        _ => "unknown",
    }
}

/// A message header: (length, request id, response to, opcode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub request_id: u32,
    pub response_to: u32,
    pub opcode: u32,
}

pub fn header(b: &[u8]) -> Result<Header, Error> {
    let len = le32(b, 0).ok_or(Error::Incomplete)?;
    if !(HEADER as u32 + 1..=MAX_MESSAGE).contains(&len) {
        return Err(Error::Invalid);
    }
    let (Some(request_id), Some(response_to), Some(opcode)) = (le32(b, 4), le32(b, 8), le32(b, 12)) else {
        return Err(Error::Incomplete);
    };
    if !matches!(
        opcode,
        OP_REPLY
            | OP_UPDATE
            | OP_INSERT
            | OP_QUERY
            | OP_GET_MORE
            | OP_DELETE
            | OP_KILL_CURSORS
            | OP_COMPRESSED
            | OP_MSG
    ) {
        return Err(Error::Invalid);
    }
    Ok(Header { len, request_id, response_to, opcode })
}

/// A NUL-terminated string of printable bytes (at most `max`) and what follows.
pub fn cstring(b: &[u8], max: usize) -> Result<(&[u8], &[u8]), Error> {
    let end = b.iter().take(max + 1).position(|&c| c == 0);
    let Some(end) = end else {
        return if b.len() > max { Err(Error::Invalid) } else { Err(Error::Incomplete) };
    };
    let s = b.get(..end).unwrap_or(&[]);
    if !s.iter().all(|&c| c >= 0x20) {
        return Err(Error::Invalid);
    }
    Ok((s, b.get(end + 1..).unwrap_or(&[])))
}

/// A BSON value of type `t` starting `v`: its length, when it can be told.
fn value_len(t: u8, v: &[u8]) -> Result<usize, Error> {
    let l32 = || le32(v, 0).map(|n| n as usize).ok_or(Error::Incomplete);
    Ok(match t {
        0x01 | 0x09 | 0x11 | 0x12 => 8,
        0x02 | 0x0d | 0x0e => 4 + l32()?,
        0x03 | 0x04 | 0x0f => l32()?,
        0x05 => 5 + l32()?,
        0x06 | 0x0a | 0x7f | 0xff => 0,
        0x07 => 12,
        0x08 => 1,
        0x0b => {
            let (_, r) = cstring(v, MAX_KEY * 16)?;
            let (_, r2) = cstring(r, MAX_KEY)?;
            v.len() - r2.len()
        }
        0x0c => 4 + l32()? + 12,
        0x10 => 4,
        0x13 => 16,
        _ => return Err(Error::Invalid),
    })
}

/// Checks a document's length and first element; returns its first key.
pub fn first_key(doc: &[u8]) -> Result<&[u8], Error> {
    let len = le32(doc, 0).ok_or(Error::Incomplete)?;
    if !(5..=MAX_MESSAGE).contains(&len) {
        return Err(Error::Invalid);
    }
    let t = u8_at(doc, 4).ok_or(Error::Incomplete)?;
    if len == 5 {
        return if t == 0 { Ok(&[]) } else { Err(Error::Invalid) };
    }
    if !known_type(t) {
        return Err(Error::Invalid);
    }
    let (key, _) = cstring(doc.get(5..).unwrap_or(&[]), MAX_KEY)?;
    if key.is_empty() {
        return Err(Error::Invalid);
    }
    Ok(key)
}

/// The string value of `key` among the first [`MAX_ELEMENTS`] elements of a document
/// (only what lies inside `doc`'s available bytes).
pub fn string_field<'a>(doc: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let len = le32(doc, 0)? as usize;
    let mut b = doc.get(4..len.min(doc.len()))?;
    for _ in 0..MAX_ELEMENTS {
        let t = *b.first()?;
        if t == 0 {
            return None;
        }
        let (k, v) = cstring(b.get(1..)?, MAX_KEY).ok()?;
        if t == 0x02 && k == key {
            let n = le32(v, 0)? as usize;
            return v.get(4..4 + n.checked_sub(1)?);
        }
        b = v.get(value_len(t, v).ok()?..)?;
    }
    None
}

/// (command, database) of a request, when it tells them.
pub type Names<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The body of a request or reply: `(command, database)` when it tells them. Validates the
/// body's fixed fields and its first document.
pub fn body<'a>(h: &Header, b: &'a [u8]) -> Result<Names<'a>, Error> {
    match h.opcode {
        OP_MSG => {
            let flags = le32(b, 0).ok_or(Error::Incomplete)?;
            // Defined flag bits: checksumPresent (0), moreToCome (1), exhaustAllowed (16).
            if flags & !0x0001_0003 != 0 {
                return Err(Error::Invalid);
            }
            let doc = match u8_at(b, 4).ok_or(Error::Incomplete)? {
                0 => b.get(5..).unwrap_or(&[]),
                1 => {
                    // A document sequence first: size, identifier, then documents.
                    let (_, _) = cstring(b.get(9..).unwrap_or(&[]), MAX_KEY)?;
                    return Ok((None, None));
                }
                _ => return Err(Error::Invalid),
            };
            let key = first_key(doc)?;
            Ok((Some(key), string_field(doc, b"$db")))
        }
        OP_QUERY => {
            let flags = le32(b, 0).ok_or(Error::Incomplete)?;
            if flags & !0xfe != 0 {
                return Err(Error::Invalid); // bit 0 is reserved, bits above 7 undefined
            }
            let (coll, rest) = cstring(b.get(4..).unwrap_or(&[]), MAX_KEY)?;
            let dot = coll.iter().position(|&c| c == b'.').ok_or(Error::Invalid)?;
            let doc = rest.get(8..).ok_or(Error::Incomplete)?;
            let key = first_key(doc)?;
            Ok((Some(key), coll.get(..dot)))
        }
        OP_REPLY => {
            let flags = le32(b, 0).ok_or(Error::Incomplete)?;
            if flags & !0x0f != 0 {
                return Err(Error::Invalid);
            }
            let n = le32(b, 16).ok_or(Error::Incomplete)?;
            if n > 0 {
                first_key(b.get(20..).unwrap_or(&[]))?;
            }
            Ok((None, None))
        }
        OP_COMPRESSED => {
            let orig = le32(b, 0).ok_or(Error::Incomplete)?;
            let size = le32(b, 4).ok_or(Error::Incomplete)?;
            let id = u8_at(b, 8).ok_or(Error::Incomplete)?;
            let inner = Header { opcode: orig, ..*h };
            if header_opcode_ok(inner.opcode) && orig != OP_COMPRESSED && size <= MAX_MESSAGE && id <= 3 {
                Ok((None, None))
            } else {
                Err(Error::Invalid)
            }
        }
        // Legacy opcodes: a zero int32 then a collection name.
        _ => {
            let zero = le32(b, 0).ok_or(Error::Incomplete)?;
            if zero != 0 && h.opcode != OP_GET_MORE && h.opcode != OP_INSERT {
                return Err(Error::Invalid);
            }
            if h.opcode == OP_KILL_CURSORS {
                return Ok((None, None));
            }
            let (coll, _) = cstring(b.get(4..).unwrap_or(&[]), MAX_KEY)?;
            let dot = coll.iter().position(|&c| c == b'.').ok_or(Error::Invalid)?;
            Ok((None, coll.get(..dot)))
        }
    }
}

fn known_type(t: u8) -> bool {
    matches!(t, 0x01..=0x13 | 0x7f | 0xff)
}

fn header_opcode_ok(op: u32) -> bool {
    matches!(op, OP_REPLY | OP_UPDATE | OP_INSERT | OP_QUERY | OP_GET_MORE | OP_DELETE | OP_KILL_CURSORS | OP_MSG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        // {"isMaster": 1, "$db": "admin"}
        let doc = b"\x25\x00\x00\x00\x10isMaster\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00";
        assert_eq!(first_key(doc), Ok(&b"isMaster"[..]));
        assert_eq!(string_field(doc, b"$db"), Some(&b"admin"[..]));
        assert_eq!(first_key(b"\x05\x00\x00\x00\x00"), Ok(&b""[..]));
        assert_eq!(first_key(b"\x10\x00\x00\x00\x99x\x00"), Err(Error::Invalid));
        assert_eq!(header(b"\x0f\x00\x00\x00"), Err(Error::Invalid));
    }
}
