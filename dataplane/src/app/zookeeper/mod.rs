//! ZooKeeper: identification of the session handshake (ConnectRequest / ConnectResponse)
//! and of the four-letter admin words. Probe only.
//!
//! ConnectRequest: int32 length 44 (45 with the read-only flag), protocolVersion 0,
//! lastZxidSeen, timeOut, sessionId, a 16-byte password with its int32 length.
//! ConnectResponse: length 36 (37), protocolVersion 0, timeOut, sessionId, password.
//! A four-letter word (`ruok`, `stat`, ...) is the whole first segment of the client.
use crate::app::bytes::be32;
use crate::app::{AppProto, Desc, Probe, ProbeInput, StreamKind, TO_SERVER};

pub const DESC: Desc = Desc {
    proto: AppProto::Zookeeper,
    tcp: Some(probe),
    udp: None,
    ports: &[2181],
    stream: StreamKind::None,
    datagram: None,
};

/// The admin commands sent alone on a connection.
const FOUR_LETTER_WORDS: &[&[u8; 4]] = &[
    b"ruok", b"stat", b"srvr", b"mntr", b"conf", b"cons", b"dump", b"envi", b"wchs", b"wchc", b"wchp", b"crst",
    b"srst", b"isro", b"gtmk", b"dirs",
];
/// Password length of a session.
const PASSWD_LEN: u32 = 16;
/// Longest session timeout accepted (ms): servers clamp to at most a few minutes.
const MAX_TIMEOUT_MS: u32 = 24 * 3600 * 1000;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    if let Some(w) = b.get(..4) {
        let whole = b.len() == 4 || (b.len() == 5 && b.get(4) == Some(&b'\n'));
        if whole && FOUR_LETTER_WORDS.iter().any(|x| x.as_slice() == w) {
            return Probe::Match;
        }
        if whole && i.dir != TO_SERVER && w == b"imok" {
            return Probe::Match;
        }
    }
    let Some(len) = be32(b, 0) else {
        // A word still arriving, or a length still arriving.
        let word = FOUR_LETTER_WORDS.iter().any(|x| x.starts_with(b)) || b"imok".starts_with(b);
        return if word || b.iter().all(|&c| c == 0) { Probe::NeedMore } else { Probe::NoMatch };
    };
    // Request: version, zxid(8), timeout, session(8), passwd len at 28.
    // Response: version, timeout, session(8), passwd len at 20.
    let passwd_at = match len {
        44 | 45 => 4 + 24,
        36 | 37 => 4 + 16,
        _ => return Probe::NoMatch,
    };
    let timeout_at = if passwd_at == 28 { 16 } else { 8 };
    let (Some(version), Some(timeout), Some(pw)) = (be32(b, 4), be32(b, timeout_at), be32(b, passwd_at)) else {
        return if b.len() < 4 + len as usize { Probe::NeedMore } else { Probe::NoMatch };
    };
    if version != 0 || pw != PASSWD_LEN || timeout > MAX_TIMEOUT_MS {
        return Probe::NoMatch;
    }
    // The read-only flag is a boolean.
    match (len % 2 == 1, b.get(4 + len as usize - 1)) {
        (true, None) => Probe::NeedMore,
        (true, Some(ro)) if *ro > 1 => Probe::NoMatch,
        _ => Probe::Match,
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
    ];

    fn connect_request() -> Vec<u8> {
        let mut v = vec![0, 0, 0, 45, 0, 0, 0, 0];
        v.extend_from_slice(&[0; 8]); // lastZxidSeen
        v.extend_from_slice(&30000u32.to_be_bytes());
        v.extend_from_slice(&[0; 8]); // sessionId
        v.extend_from_slice(&16u32.to_be_bytes());
        v.extend_from_slice(&[0; 16]);
        v.push(0);
        v
    }

    fn connect_response() -> Vec<u8> {
        let mut v = vec![0, 0, 0, 36, 0, 0, 0, 0];
        v.extend_from_slice(&30000u32.to_be_bytes());
        v.extend_from_slice(&0x0100_0000_abcd_0001u64.to_be_bytes());
        v.extend_from_slice(&16u32.to_be_bytes());
        v.extend_from_slice(&[7; 16]);
        v
    }

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn handshake_and_words_match() {
        let req = connect_request();
        assert_eq!(p(0, &req), Probe::Match);
        assert_eq!(p(1, &connect_response()), Probe::Match);
        for n in 0..req.len() {
            assert_eq!(p(0, &req[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b"ruok"), Probe::Match);
        assert_eq!(p(0, b"mntr\n"), Probe::Match);
        assert_eq!(p(1, b"imok"), Probe::Match);
        assert_eq!(p(0, b"ru"), Probe::NeedMore);
        assert_eq!(p(0, b"status of things"), Probe::NoMatch);
        let mut bad = req.clone();
        bad[31] = 8; // password length
        assert_eq!(p(0, &bad), Probe::NoMatch);
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
