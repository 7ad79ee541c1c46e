//! NATS: identification of the text protocol. Probe only.
//!
//! The server opens with `INFO {json}`, the client with `CONNECT {json}`; a capture that
//! missed both still shows `PUB subject [reply] size`, `SUB subject [queue] sid` or
//! `MSG subject sid [reply] size` lines (CRLF-terminated, operation names case-insensitive).
//! `PING`/`PONG`/`+OK`/`-ERR` alone say nothing (other protocols write them too).
use crate::app::bytes::{prefix_state, starts_with_nocase};
use crate::app::{AppProto, Desc, Probe, ProbeInput, StreamKind};

pub const DESC: Desc = Desc {
    proto: AppProto::Nats,
    tcp: Some(probe),
    udp: None,
    ports: &[4222],
    stream: StreamKind::None,
    datagram: None,
};

/// Longest control line looked at.
const MAX_LINE: usize = 1024;
/// Operations a stream may start with.
const OPS: &[&[u8]] = &[
    b"INFO ",
    b"CONNECT ",
    b"PUB ",
    b"HPUB ",
    b"SUB ",
    b"UNSUB ",
    b"MSG ",
    b"HMSG ",
    b"PING",
    b"PONG",
    b"+OK",
    b"-ERR",
];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    for json_op in [&b"INFO {"[..], b"CONNECT {"] {
        match prefix_state(b, json_op, true) {
            Some(true) => return Probe::Match,
            None => return Probe::NeedMore,
            Some(false) => {}
        }
    }
    if !OPS.iter().any(|op| prefix_state(b, op, true) != Some(false)) {
        return Probe::NoMatch;
    }
    let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
        return if b.len() < MAX_LINE { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = b.get(..end).unwrap_or(&[]);
    if !line.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
        return Probe::NoMatch;
    }
    let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let op = words.next().unwrap_or(&[]);
    let (mut n, mut last) = (0usize, &[][..]);
    for w in words.by_ref().take(5) {
        n += 1;
        last = w;
    }
    let is_num = !last.is_empty() && last.iter().all(u8::is_ascii_digit);
    let ok = if starts_with_nocase(op, b"PUB") && op.len() == 3 {
        (2..=3).contains(&n) && is_num
    } else if starts_with_nocase(op, b"SUB") && op.len() == 3 {
        (2..=3).contains(&n)
    } else if starts_with_nocase(op, b"MSG") && op.len() == 3 {
        (3..=4).contains(&n) && is_num
    } else if starts_with_nocase(op, b"HPUB") || starts_with_nocase(op, b"HMSG") {
        (3..=5).contains(&n) && is_num
    } else if starts_with_nocase(op, b"UNSUB") {
        (1..=2).contains(&n)
    } else {
        // PING, PONG, +OK, -ERR: wait for a telling line.
        return if n <= 1 { Probe::NeedMore } else { Probe::NoMatch };
    };
    if ok {
        Probe::Match
    } else {
        Probe::NoMatch
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
        b"+OK POP3 server ready\r\n",
        b"PUBLISH channel hello\r\n",
    ];
    const INFO: &[u8] =
        b"INFO {\"server_id\":\"NCXYZ\",\"version\":\"2.10.1\",\"proto\":1,\"max_payload\":1048576}\r\n";
    const CONNECT: &[u8] =
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"nats.go\",\"lang\":\"go\"}\r\nPING\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn both_directions_match() {
        assert_eq!(p(1, INFO), Probe::Match);
        assert_eq!(p(0, CONNECT), Probe::Match);
        assert_eq!(p(0, b"PUB foo.bar 5\r\nhello\r\n"), Probe::Match);
        assert_eq!(p(0, b"sub foo 1\r\n"), Probe::Match);
        assert_eq!(p(1, b"MSG foo 1 _INBOX.x 5\r\nhello\r\n"), Probe::Match);
        assert_eq!(p(0, b"PING\r\n"), Probe::NeedMore);
        for n in 0..9 {
            assert_eq!(p(0, &CONNECT[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b"PUB foo\r\n"), Probe::NoMatch);
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
