//! Cassandra: identification of the CQL native protocol (v3 to v5 frame header). Probe only.
//!
//! A frame header is 9 bytes: version (0x03..=0x05, | 0x80 in responses), flags (only the
//! five defined bits), a 2-byte stream id, an opcode and a 4-byte body length. The probe
//! checks that the opcode is one the header's direction may send, that the length is in
//! bounds, and, for the handshake opcodes, the body (OPTIONS is empty, STARTUP is a string
//! map holding `CQL_VERSION`).
use crate::app::bytes::{be16, be32, u8_at};
use crate::app::{AppProto, Desc, Probe, ProbeInput, StreamKind};

pub const DESC: Desc = Desc {
    proto: AppProto::Cassandra,
    tcp: Some(probe),
    udp: None,
    ports: &[9042],
    stream: StreamKind::None,
    datagram: None,
};

/// Frame header length (protocol v3 and later).
const HEADER: usize = 9;
/// Largest body a server accepts by default (256 MiB).
const MAX_BODY: u32 = 256 << 20;
/// Entries read from a STARTUP string map at most.
const MAX_MAP_ENTRIES: u16 = 16;
/// Flag bits defined by v3..v5 (compression, tracing, custom payload, warning, beta).
const FLAGS_MASK: u8 = 0x1f;

const OP_ERROR: u8 = 0x00;
const OP_STARTUP: u8 = 0x01;
const OP_OPTIONS: u8 = 0x05;
/// Opcodes a client sends: STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, REGISTER, BATCH,
/// AUTH_RESPONSE.
const REQUEST_OPS: &[u8] = &[0x01, 0x05, 0x07, 0x09, 0x0a, 0x0b, 0x0d, 0x0f];
/// Opcodes a server sends: ERROR, READY, AUTHENTICATE, SUPPORTED, RESULT, EVENT,
/// AUTH_CHALLENGE, AUTH_SUCCESS.
const RESPONSE_OPS: &[u8] = &[0x00, 0x02, 0x03, 0x06, 0x08, 0x0c, 0x0e, 0x10];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let Some(version) = u8_at(b, 0) else { return Probe::NeedMore };
    let response = version & 0x80 != 0;
    if !(3..=5).contains(&(version & 0x7f)) {
        return Probe::NoMatch;
    }
    let Some(flags) = u8_at(b, 1) else { return Probe::NeedMore };
    if flags & !FLAGS_MASK != 0 {
        return Probe::NoMatch;
    }
    let (Some(stream), Some(op), Some(len)) = (be16(b, 2), u8_at(b, 4), be32(b, 5)) else {
        return Probe::NeedMore;
    };
    let ops = if response { RESPONSE_OPS } else { REQUEST_OPS };
    // Requests use non-negative stream ids; -1 is reserved for server events.
    if !ops.contains(&op) || len > MAX_BODY || (!response && stream & 0x8000 != 0) {
        return Probe::NoMatch;
    }
    let body_end = HEADER + len as usize;
    match op {
        OP_OPTIONS if len != 0 => Probe::NoMatch,
        OP_STARTUP => match b.get(HEADER..body_end) {
            None => Probe::NeedMore,
            Some(body) if startup_has_cql_version(body) => Probe::Match,
            Some(_) => Probe::NoMatch,
        },
        OP_ERROR => match (be32(b, HEADER), len >= 6) {
            (None, true) => Probe::NeedMore,
            // Error codes are 0x0000..=0x2500.
            (Some(code), true) if code <= 0x2500 => Probe::Match,
            _ => Probe::NoMatch,
        },
        _ => Probe::Match,
    }
}

/// A STARTUP body is a `[string map]`: u16 count, then (u16 length + bytes) pairs.
fn startup_has_cql_version(body: &[u8]) -> bool {
    let Some(n) = be16(body, 0) else { return false };
    if n == 0 || n > MAX_MAP_ENTRIES {
        return false;
    }
    let mut off = 2;
    let mut found = false;
    for i in 0..n * 2 {
        let Some(l) = be16(body, off) else { return false };
        let Some(s) = body.get(off + 2..off + 2 + l as usize) else { return false };
        if !s.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
            return false;
        }
        found |= i % 2 == 0 && s == b"CQL_VERSION";
        off += 2 + l as usize;
    }
    found && off == body.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::L4;

    const STARTUP: &[u8] = b"\x04\x00\x00\x01\x01\x00\x00\x00\x16\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0";
    const READY: &[u8] = b"\x84\x00\x00\x01\x02\x00\x00\x00\x00";
    const OPTIONS: &[u8] = b"\x04\x00\x00\x00\x05\x00\x00\x00\x00";
    const FOREIGN: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5e\x1c\x9a\x00\x11\x22\x33\x44",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
        b"\x9d\x3f\x51\xe2\x07\xaa\x41\x0c\x88\x19\xf4\x6b\x25\xd0\x3e\x77",
    ];

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn handshake_frames_match_and_truncated_need_more() {
        assert_eq!(p(0, STARTUP), Probe::Match);
        assert_eq!(p(0, OPTIONS), Probe::Match);
        assert_eq!(p(1, READY), Probe::Match);
        for n in 0..STARTUP.len() {
            assert_eq!(p(0, &STARTUP[..n]), Probe::NeedMore, "{n}");
        }
        // A response opcode in a request frame, a bad STARTUP map.
        assert_eq!(p(0, b"\x04\x00\x00\x01\x02\x00\x00\x00\x00"), Probe::NoMatch);
        assert_eq!(p(0, b"\x04\x00\x00\x01\x01\x00\x00\x00\x02\x00\x00"), Probe::NoMatch);
    }

    #[test]
    fn other_protocols_do_not_match() {
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match);
            assert_ne!(p(1, f), Probe::Match);
        }
    }
}
