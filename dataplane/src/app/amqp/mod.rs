//! AMQP: identification of the protocol header a client opens with (`AMQP` and a version:
//! 0-9-1, 0-9/0-10 (`1 1 0 9`/`1 1 0 10`), 1.0 with its protocol id 0/2/3) and of the
//! server's first frame, Connection.Start (method frame on channel 0, class 10 method 10,
//! terminated by 0xCE). Probe only.
use crate::app::bytes::{be16, be32, prefix_state, u8_at};
use crate::app::{AppProto, Desc, Probe, ProbeInput, StreamKind};

pub const DESC: Desc = Desc {
    proto: AppProto::Amqp,
    tcp: Some(probe),
    udp: None,
    ports: &[5672],
    stream: StreamKind::None,
    datagram: None,
};

/// Largest Connection.Start frame accepted (the server properties table is small).
const MAX_START_FRAME: u32 = 64 * 1024;
/// The end-of-frame octet.
const FRAME_END: u8 = 0xce;
/// The versions after `AMQP`.
const VERSIONS: &[[u8; 4]] =
    &[[0, 0, 9, 1], [1, 1, 0, 9], [1, 1, 0, 10], [1, 1, 9, 1], [0, 1, 0, 0], [2, 1, 0, 0], [3, 1, 0, 0]];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    match u8_at(b, 0) {
        None => Probe::NeedMore,
        Some(b'A') => header(b),
        Some(1) => connection_start(b),
        Some(_) => Probe::NoMatch,
    }
}

/// `AMQP` + one of [`VERSIONS`] (servers answer an unsupported version with theirs).
fn header(b: &[u8]) -> Probe {
    match prefix_state(b, b"AMQP", false) {
        Some(false) => return Probe::NoMatch,
        None => return Probe::NeedMore,
        Some(true) => {}
    }
    let v = b.get(4..8).unwrap_or(b.get(4..).unwrap_or(&[]));
    if VERSIONS.iter().any(|x| x.as_slice() == v) {
        Probe::Match
    } else if v.len() < 4 && VERSIONS.iter().any(|x| x.starts_with(v)) {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// Frame type 1 (method), channel 0, size, class 10 (connection), method 10 (start),
/// version 0-9, ... 0xCE.
fn connection_start(b: &[u8]) -> Probe {
    let (Some(channel), Some(size), Some(class), Some(method), Some(major), Some(minor)) =
        (be16(b, 1), be32(b, 3), be16(b, 7), be16(b, 9), u8_at(b, 11), u8_at(b, 12))
    else {
        return Probe::NeedMore;
    };
    if channel != 0 || !(6..=MAX_START_FRAME).contains(&size) || (class, method, major, minor) != (10, 10, 0, 9) {
        return Probe::NoMatch;
    }
    match u8_at(b, 7 + size as usize) {
        None => Probe::NeedMore,
        Some(FRAME_END) => Probe::Match,
        Some(_) => Probe::NoMatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::L4;

    const FOREIGN: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5e\x1c\x9a\x00\x11\x22\x33\x44",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
        b"\x9d\x3f\x51\xe2\x07\xaa\x41\x0c\x88\x19\xf4\x6b\x25\xd0\x3e\x77",
        b"\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    // Connection.Start: 0-9, empty server properties, "PLAIN", "en_US".
    const START: &[u8] = b"\x01\x00\x00\x00\x00\x00\x1c\x00\x0a\x00\x0a\x00\x09\x00\x00\x00\x00\x00\x00\x00\x05PLAIN\x00\x00\x00\x05en_US\xce";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn header_and_start_match() {
        assert_eq!(p(0, b"AMQP\x00\x00\x09\x01"), Probe::Match);
        assert_eq!(p(0, b"AMQP\x00\x01\x00\x00"), Probe::Match);
        assert_eq!(p(0, b"AMQP\x03\x01\x00\x00"), Probe::Match);
        assert_eq!(p(1, START), Probe::Match);
        for n in 0..8 {
            assert_eq!(p(0, &b"AMQP\x00\x00\x09\x01"[..n]), Probe::NeedMore, "{n}");
        }
        for n in 0..START.len() {
            assert_eq!(p(1, &START[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b"AMQP\x00\x00\x07\x01"), Probe::NoMatch);
        assert_eq!(p(0, b"AMQPX"), Probe::NoMatch);
    }

    #[test]
    fn other_protocols_do_not_match() {
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match);
            assert_ne!(p(1, f), Probe::Match);
        }
    }
}
