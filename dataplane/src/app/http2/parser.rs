//! Pure parsing of HTTP/2 (RFC 9113) framing: the client preface, frame headers, SETTINGS
//! and the header-block fragment of HEADERS and PUSH_PROMISE frames.
use crate::app::bytes::{be16, be24, be32, u8_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not HTTP/2 (or the frame is malformed).
    Invalid,
}

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length of a frame header.
pub const FRAME_HEADER: usize = 9;
/// Largest frame payload a peer may allow (SETTINGS_MAX_FRAME_SIZE's maximum).
pub const MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The default (and minimum) SETTINGS_MAX_FRAME_SIZE.
pub const DEFAULT_FRAME_SIZE: u32 = 1 << 14;
/// Settings in a first SETTINGS frame the strict probe accepts.
const MAX_PROBE_SETTINGS: usize = 16;

/// Frame types.
pub mod kind {
    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PUSH_PROMISE: u8 = 5;
    pub const CONTINUATION: u8 = 9;
}

/// Frame flags.
pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// Settings identifiers.
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 1;
    pub const ENABLE_PUSH: u16 = 2;
    pub const INITIAL_WINDOW_SIZE: u16 = 4;
    pub const MAX_FRAME_SIZE: u16 = 5;
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 8;
    pub const NO_RFC7540_PRIORITIES: u16 = 9;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

/// The frame header at the start of `b`.
pub fn frame_header(b: &[u8]) -> Option<FrameHeader> {
    Some(FrameHeader {
        len: be24(b, 0)? as usize,
        kind: u8_at(b, 3)?,
        flags: u8_at(b, 4)?,
        stream: be32(b, 5)? & 0x7fff_ffff,
    })
}

/// The `(identifier, value)` pairs of a SETTINGS payload.
pub fn settings(p: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    p.chunks_exact(6).filter_map(|s| Some((be16(s, 0)?, be32(s, 2)?)))
}

/// A setting a real peer sends: a known identifier with a value in its range, or a
/// reserved "GREASE" identifier (`0x?a?a`).
fn plausible_setting(id: u16, v: u32) -> bool {
    match id {
        setting::HEADER_TABLE_SIZE | 3 | 6 => true,
        setting::ENABLE_PUSH | setting::ENABLE_CONNECT_PROTOCOL | setting::NO_RFC7540_PRIORITIES => v <= 1,
        setting::INITIAL_WINDOW_SIZE => v <= 0x7fff_ffff,
        setting::MAX_FRAME_SIZE => (DEFAULT_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&v),
        _ => id & 0x0f0f == 0x0a0a,
    }
}

/// `b` starts with the first SETTINGS frame of an endpoint (the server's first bytes, or a
/// capture starting after the preface): type 4, no flag, stream 0, a length that is a
/// multiple of 6 and plausible settings; an empty SETTINGS must be followed by a plausible
/// frame header.
pub fn first_settings(b: &[u8]) -> Result<(), Error> {
    // Byte by byte, so that a few bytes are enough to rule it out.
    let expect: [fn(u8) -> bool; FRAME_HEADER] = [
        |c| c == 0,
        |c| c == 0,
        |c| c % 6 == 0 && usize::from(c / 6) <= MAX_PROBE_SETTINGS,
        |c| c == kind::SETTINGS,
        |c| c == 0,
        |c| c == 0,
        |c| c == 0,
        |c| c == 0,
        |c| c == 0,
    ];
    for (i, ok) in expect.iter().enumerate() {
        match b.get(i) {
            None => return Err(Error::Incomplete),
            Some(&c) if !ok(c) => return Err(Error::Invalid),
            Some(_) => {}
        }
    }
    let len = b.get(2).map_or(0, |&c| usize::from(c));
    let payload = b.get(FRAME_HEADER..FRAME_HEADER + len).ok_or(Error::Incomplete)?;
    if len > 0 {
        return if settings(payload).all(|(id, v)| plausible_setting(id, v)) { Ok(()) } else { Err(Error::Invalid) };
    }
    let next = b.get(FRAME_HEADER..).unwrap_or(&[]);
    let h = frame_header(next).ok_or(Error::Incomplete)?;
    let reserved = u8_at(next, 5).is_some_and(|c| c & 0x80 != 0);
    if h.kind > kind::CONTINUATION || reserved || h.len > DEFAULT_FRAME_SIZE as usize {
        return Err(Error::Invalid);
    }
    Ok(())
}

/// The header-block fragment of a HEADERS, PUSH_PROMISE or CONTINUATION payload (padding,
/// priority and promised stream removed), and the promised stream of a PUSH_PROMISE.
pub fn fragment<'a>(h: &FrameHeader, p: &'a [u8]) -> Result<(&'a [u8], Option<u32>), Error> {
    let mut start = 0;
    let mut end = p.len();
    if h.kind != kind::CONTINUATION && h.flags & flag::PADDED != 0 {
        let pad = usize::from(u8_at(p, 0).ok_or(Error::Invalid)?);
        start = 1;
        end = end.checked_sub(pad).ok_or(Error::Invalid)?;
    }
    let mut promised = None;
    if h.kind == kind::HEADERS && h.flags & flag::PRIORITY != 0 {
        start += 5;
    } else if h.kind == kind::PUSH_PROMISE {
        promised = Some(be32(p, start).ok_or(Error::Invalid)? & 0x7fff_ffff);
        start += 4;
    }
    let frag = p.get(start..end).ok_or(Error::Invalid)?;
    Ok((frag, promised))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_settings_checks() {
        let s = b"\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x64\x00\x04\x00\x01\x00\x00\x00\x05\x00\xff\xff\xff";
        assert_eq!(first_settings(s), Ok(()));
        assert_eq!(first_settings(&s[..12]), Err(Error::Incomplete));
        assert_eq!(first_settings(b"\x00\x00"), Err(Error::Incomplete));
        // Unknown setting, ACK flag, non-zero stream, bad value.
        assert_eq!(
            first_settings(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x77\x00\x00\x00\x01"),
            Err(Error::Invalid)
        );
        assert_eq!(first_settings(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"), Err(Error::Invalid));
        assert_eq!(first_settings(b"\x00\x00\x06\x04\x00\x00\x00\x00\x01"), Err(Error::Invalid));
        assert_eq!(
            first_settings(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x02"),
            Err(Error::Invalid)
        );
        // Empty SETTINGS followed by WINDOW_UPDATE.
        let e = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x0f\x00\x01";
        assert_eq!(first_settings(e), Ok(()));
        assert_eq!(first_settings(&e[..9]), Err(Error::Incomplete));
    }

    #[test]
    fn fragments() {
        let h = FrameHeader { len: 0, kind: kind::HEADERS, flags: flag::PADDED | flag::PRIORITY, stream: 1 };
        assert_eq!(fragment(&h, b"\x02\x00\x00\x00\x00\x10\x82\x84\x00\x00"), Ok((&b"\x82\x84"[..], None)));
        assert_eq!(fragment(&h, b"\x09\x00"), Err(Error::Invalid));
        let h = FrameHeader { len: 0, kind: kind::PUSH_PROMISE, flags: 0, stream: 1 };
        assert_eq!(fragment(&h, b"\x00\x00\x00\x02\x82"), Ok((&b"\x82"[..], Some(2))));
    }
}
