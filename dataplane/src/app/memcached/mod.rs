//! Memcached: identification of the text and binary protocols, over TCP and UDP (where
//! each datagram starts with an 8-byte frame header). Probe only.
//!
//! Text: a whole command line whose arguments have the shape the command requires (keys of
//! 1..=250 visible bytes, numbers where numbers go, `noreply` where it may go), or a reply
//! line that only memcached writes (`VALUE k f n`, `STAT k v`, `STORED`, ...). Binary: the
//! 24-byte header (magic 0x80/0x81, data type 0, lengths consistent) and, for the common
//! opcodes, the extras and key lengths the opcode requires.
use crate::app::bytes::{be16, be32, line_end, u8_at};
use crate::app::{AppProto, Desc, Probe, ProbeInput, StreamKind, L4};

pub const DESC: Desc = Desc {
    proto: AppProto::Memcached,
    tcp: Some(probe),
    udp: Some(probe),
    ports: &[11211],
    stream: StreamKind::None,
    datagram: None,
};

/// Longest key memcached accepts.
const MAX_KEY: usize = 250;
/// Longest command line looked at (longer without a line end: not memcached).
const MAX_LINE: usize = 2048;
/// Arguments of a line read at most.
const MAX_ARGS: usize = 24;
/// Binary protocol header length.
const BIN_HEADER: usize = 24;
/// Largest binary body (1 MiB items plus key and extras).
const BIN_MAX_BODY: u32 = 2 << 20;
/// Highest binary opcode defined (TAP commands end at 0x48).
const BIN_MAX_OPCODE: u8 = 0x48;
/// UDP frame header length.
const UDP_HEADER: usize = 8;
/// Datagrams one UDP message may span at most (a 1 MiB value in ~1400-byte datagrams).
const UDP_MAX_DATAGRAMS: u16 = 1024;

/// Commands and replies, for "is this a prefix of a word we know" (lines not yet ended).
const WORDS: &[&[u8]] = &[
    b"get",
    b"gets",
    b"set",
    b"add",
    b"replace",
    b"append",
    b"prepend",
    b"cas",
    b"delete",
    b"incr",
    b"decr",
    b"stats",
    b"version",
    b"flush_all",
    b"touch",
    b"gat",
    b"gats",
    b"VALUE",
    b"STAT",
    b"VERSION",
    b"STORED",
    b"NOT_STORED",
    b"EXISTS",
    b"NOT_FOUND",
    b"DELETED",
    b"TOUCHED",
    b"END",
    b"OK",
    b"ERROR",
    b"CLIENT_ERROR",
    b"SERVER_ERROR",
];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let mut b = i.data;
    if i.l4 == L4::Udp {
        let (Some(seq), Some(total), Some(reserved)) = (be16(b, 2), be16(b, 4), be16(b, 6)) else {
            return Probe::NoMatch;
        };
        if reserved != 0 || total == 0 || total > UDP_MAX_DATAGRAMS || seq >= total {
            return Probe::NoMatch;
        }
        b = b.get(UDP_HEADER..).unwrap_or(&[]);
        // A datagram is all we get: what is not proven now never will be.
        return match payload(b) {
            Probe::NeedMore if seq > 0 => Probe::NeedMore,
            Probe::NeedMore => Probe::NoMatch,
            p => p,
        };
    }
    payload(b)
}

fn payload(b: &[u8]) -> Probe {
    match u8_at(b, 0) {
        None => Probe::NeedMore,
        Some(0x80) => binary(b, true),
        Some(0x81) => binary(b, false),
        Some(_) => text(b),
    }
}

fn binary(b: &[u8], request: bool) -> Probe {
    let (Some(op), Some(key), Some(extras), Some(dtype), Some(status), Some(body)) =
        (u8_at(b, 1), be16(b, 2), u8_at(b, 4), u8_at(b, 5), be16(b, 6), be32(b, 8))
    else {
        return if b.len() < BIN_HEADER { Probe::NeedMore } else { Probe::NoMatch };
    };
    if b.len() < BIN_HEADER {
        return Probe::NeedMore;
    }
    let (key, extras) = (key as usize, extras as usize);
    if op > BIN_MAX_OPCODE || dtype != 0 || key > MAX_KEY || body > BIN_MAX_BODY || key + extras > body as usize {
        return Probe::NoMatch;
    }
    if !request {
        // Status codes: 0x00..=0x0a, 0x20..=0x24, 0x81..=0x86.
        let known = status <= 0x0a || (0x20..=0x24).contains(&status) || (0x81..=0x86).contains(&status);
        return if known { Probe::Match } else { Probe::NoMatch };
    }
    // (extras, key present) the common requests carry.
    let shape = match op {
        0x00 | 0x09 | 0x0c | 0x0d | 0x04 | 0x14 => Some((0, true)), // get, getq, getk, getkq, delete, deleteq
        0x01..=0x03 | 0x11..=0x13 => Some((8, true)),               // set, add, replace (+quiet)
        0x05 | 0x06 | 0x15 | 0x16 => Some((20, true)),              // increment, decrement (+quiet)
        0x07 | 0x0a | 0x0b | 0x17 => Some((0, false)),              // quit, noop, version, quitq
        _ => None,
    };
    match shape {
        Some((e, k)) if e != extras || k != (key > 0) => Probe::NoMatch,
        _ => Probe::Match,
    }
}

fn text(b: &[u8]) -> Probe {
    let Some(end) = line_end(b) else {
        let word = b.split(|&c| c == b' ').next().unwrap_or(&[]);
        let known_prefix = WORDS.iter().any(|w| w.starts_with(word) || word.starts_with(w));
        let visible = b.iter().all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\r');
        return if known_prefix && visible && b.len() < MAX_LINE { Probe::NeedMore } else { Probe::NoMatch };
    };
    let line = b.get(..end).unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE || !line.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
        return Probe::NoMatch;
    }
    let mut words = line.split(|&c| c == b' ');
    let cmd = words.next().unwrap_or(&[]);
    let mut args: [&[u8]; MAX_ARGS] = [&[]; MAX_ARGS];
    let mut n = 0;
    for w in words {
        if n == MAX_ARGS {
            return Probe::NoMatch;
        }
        if let Some(slot) = args.get_mut(n) {
            *slot = w;
        }
        n += 1;
    }
    let a = args.get(..n).unwrap_or(&[]);
    if line_shape(cmd, a) {
        Probe::Match
    } else {
        line_reply(cmd, a)
    }
}

fn is_key(w: &[u8]) -> bool {
    !w.is_empty() && w.len() <= MAX_KEY
}

fn is_num(w: &[u8]) -> bool {
    !w.is_empty() && w.len() <= 20 && w.iter().all(u8::is_ascii_digit)
}

/// Expiration times may be negative (expire now).
fn is_signed(w: &[u8]) -> bool {
    is_num(w.strip_prefix(b"-").unwrap_or(w))
}

fn noreply_opt(rest: &[&[u8]]) -> bool {
    matches!(rest, [] | [b"noreply"])
}

/// A command line with the arguments its command requires.
fn line_shape(cmd: &[u8], a: &[&[u8]]) -> bool {
    match cmd {
        b"get" | b"gets" => !a.is_empty() && a.iter().all(|k| is_key(k)),
        b"set" | b"add" | b"replace" | b"append" | b"prepend" => match a {
            [k, f, e, n, rest @ ..] => is_key(k) && is_num(f) && is_signed(e) && is_num(n) && noreply_opt(rest),
            _ => false,
        },
        b"cas" => match a {
            [k, f, e, n, c, rest @ ..] => {
                is_key(k) && is_num(f) && is_signed(e) && is_num(n) && is_num(c) && noreply_opt(rest)
            }
            _ => false,
        },
        b"delete" => match a {
            [k, rest @ ..] => {
                is_key(k) && (noreply_opt(rest) || matches!(rest, [t, r @ ..] if is_num(t) && noreply_opt(r)))
            }
            _ => false,
        },
        b"incr" | b"decr" => matches!(a, [k, v, rest @ ..] if is_key(k) && is_num(v) && noreply_opt(rest)),
        b"touch" => matches!(a, [k, e, rest @ ..] if is_key(k) && is_signed(e) && noreply_opt(rest)),
        b"gat" | b"gats" => {
            matches!(a, [e, keys @ ..] if is_signed(e) && !keys.is_empty() && keys.iter().all(|k| is_key(k)))
        }
        b"stats" => a.len() <= 2,
        b"version" => a.is_empty(),
        b"flush_all" => matches!(a, [] | [_] | [_, _]) && a.iter().all(|w| is_signed(w) || *w == b"noreply"),
        _ => false,
    }
}

/// A reply line only memcached writes; a generic one (`OK`, `END`, `ERROR`) says nothing.
fn line_reply(cmd: &[u8], a: &[&[u8]]) -> Probe {
    let yes = match cmd {
        b"VALUE" => {
            matches!(a, [k, f, n, rest @ ..] if is_key(k) && is_num(f) && is_num(n) && matches!(rest, [] | [_]))
        }
        b"STAT" => a.len() >= 2,
        b"VERSION" => matches!(a, [v] if v.first().is_some_and(u8::is_ascii_digit)),
        b"STORED" | b"NOT_STORED" | b"EXISTS" | b"NOT_FOUND" | b"DELETED" | b"TOUCHED" => a.is_empty(),
        b"CLIENT_ERROR" | b"SERVER_ERROR" => !a.is_empty(),
        b"END" | b"OK" | b"ERROR" => return if a.is_empty() { Probe::NeedMore } else { Probe::NoMatch },
        _ => false,
    };
    if yes {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOREIGN: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5e\x1c\x9a\x00\x11\x22\x33\x44",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
        b"\x9d\x3f\x51\xe2\x07\xaa\x41\x0c\x88\x19\xf4\x6b\x25\xd0\x3e\x77",
        b"\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10\x01\x00\x80\x07\x00\xc0\x03\x00\x80",
    ];
    const BIN_GET: &[u8] = b"\x80\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x01\0\0\0\0\0\0\0\0Hello";
    const BIN_RESP: &[u8] = b"\x81\x00\x00\x00\x04\x00\x00\x01\x00\x00\x00\x04\x00\x00\x00\x01\0\0\0\0\0\0\0\0\0\0\0\0";

    fn p(l4: L4, dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(l4, dir, b))
    }

    #[test]
    fn text_commands_and_replies_match() {
        for c in [
            &b"get foo bar\r\n"[..],
            b"set foo 0 3600 5\r\nhello\r\n",
            b"cas k 1 0 2 99 noreply\r\n",
            b"delete foo\r\n",
            b"incr counter 1\r\n",
            b"gat 100 a b\r\n",
            b"stats\r\n",
            b"version\r\n",
            b"flush_all\r\n",
        ] {
            assert_eq!(p(L4::Tcp, 0, c), Probe::Match, "{}", String::from_utf8_lossy(c));
        }
        for r in [&b"VALUE foo 0 5\r\nhello\r\nEND\r\n"[..], b"STAT pid 1234\r\n", b"VERSION 1.6.21\r\n", b"STORED\r\n"]
        {
            assert_eq!(p(L4::Tcp, 1, r), Probe::Match);
        }
        assert_eq!(p(L4::Tcp, 1, b"END\r\n"), Probe::NeedMore);
        assert_eq!(p(L4::Tcp, 0, b"set foo bar 0 5\r\n"), Probe::NoMatch);
        assert_eq!(p(L4::Tcp, 0, b"get\r\n"), Probe::NoMatch);
    }

    #[test]
    fn truncated_needs_more() {
        let full = b"set foo 0 3600 5\r\n";
        for n in 0..full.len() - 1 {
            assert_eq!(p(L4::Tcp, 0, &full[..n]), Probe::NeedMore, "{n}");
        }
        for n in 0..BIN_HEADER {
            assert_eq!(p(L4::Tcp, 0, &BIN_GET[..n]), Probe::NeedMore, "{n}");
        }
    }

    #[test]
    fn binary_and_udp_match() {
        assert_eq!(p(L4::Tcp, 0, BIN_GET), Probe::Match);
        assert_eq!(p(L4::Tcp, 1, BIN_RESP), Probe::Match);
        assert_eq!(p(L4::Udp, 0, b"\x00\x01\x00\x00\x00\x01\x00\x00get foo\r\n"), Probe::Match);
        assert_eq!(p(L4::Udp, 0, b"\x00\x01\x00\x00\x00\x01\x00\x01get foo\r\n"), Probe::NoMatch);
        assert_eq!(p(L4::Udp, 1, b"\x00\x01\x00\x00\x00\x01\x00\x00VALUE foo 0 1\r\nx\r\nEND\r\n"), Probe::Match);
    }

    #[test]
    fn other_protocols_do_not_match() {
        for f in FOREIGN {
            for l4 in [L4::Tcp, L4::Udp] {
                assert_ne!(p(l4, 0, f), Probe::Match);
                assert_ne!(p(l4, 1, f), Probe::Match);
            }
        }
        assert_ne!(p(L4::Tcp, 0, b""), Probe::Match);
        assert_ne!(p(L4::Udp, 0, b""), Probe::Match);
    }
}
