//! QUIC tests on first datagrams from nDPI's captures (v1, draft-29, Q024, Q046, Q050, a
//! reserved version forcing negotiation, the negotiation, a gQUIC server's REJ).
use super::*;
use crate::app::{Collect, L4};

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
}

macro_rules! fixture {
    ($name:literal) => {
        hex(include_str!(concat!("testdata/", $name, ".hex")))
    };
}

fn p(dir: usize, b: &[u8]) -> Probe {
    probe(&ProbeInput::new(L4::Udp, dir, b))
}

fn events(dir: usize, b: &[u8]) -> Vec<serde_json::Value> {
    let (mut out, mut scratch) = (Collect::default(), Vec::new());
    {
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 443);
        datagram(dir, b, &mut cx);
    }
    out.0
        .into_iter()
        .map(|(_, t, v)| {
            assert_eq!(t, "quic");
            v
        })
        .collect()
}

#[test]
fn probe_matches_each_version() {
    for (name, b) in [
        ("v1", fixture!("v1_client")),
        ("draft29", fixture!("draft29_client")),
        ("q024", fixture!("q024_client")),
        ("q046", fixture!("q046_client")),
        ("q046 server", fixture!("q046_server")),
        ("q050", fixture!("q050_client")),
        ("reserved", fixture!("reserved_client")),
        ("negotiation", fixture!("negotiation")),
        ("gquic REJ", fixture!("gquic_server_rej")),
    ] {
        assert_eq!(p(0, &b), Probe::Match, "{name}");
    }
}

#[test]
fn short_headers_and_truncation_need_more_or_fail() {
    // An IETF short header and a gQUIC packet without version: nothing to decide on.
    assert_eq!(p(1, &hex("40d246fb3b84429caf957844ffef4716d9a6576f84f6cf608ca09a6a")), Probe::NeedMore);
    assert_eq!(p(1, &hex("000103ef25ce9f07bba450c37de91c289477272daca8ef8eac43")), Probe::NeedMore);
    assert_eq!(p(0, b""), Probe::NeedMore);
    // An Initial cut short: its Length field no longer fits.
    let v1 = fixture!("v1_client");
    assert_eq!(p(0, &v1[..600]), Probe::NoMatch);
    // A reserved version in a datagram too small to be a client's first.
    assert_eq!(p(0, &fixture!("reserved_client")[..400]), Probe::NoMatch);
}

#[test]
fn probe_rejects_other_protocols() {
    let others: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"SSH-2.0-OpenSSH_8.4p1\r\n",
        // DNS query with the QR/opcode byte having the high bit clear: says nothing;
        // a DNS response (0x81 0x80 flags after the id) must not match.
        b"\x81\x80\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
        // RTP (version 2, 0x80) and a DTLS ClientHello.
        b"\x80\x08\x12\x34\x00\x00\x00\xa0\xde\xad\xbe\xef\xd5\xd5\xd5\xd5",
        b"\x16\xfe\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x01",
        &[0xc3, 0x12, 0x34, 0x56, 0x78, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0],
    ];
    for o in others {
        assert_ne!(p(0, o), Probe::Match, "{o:02x?}");
    }
    assert_eq!(p(0, b"\x80\x08\x12\x34\x00\x00\x00\xa0\xde\xad\xbe\xef\xd5\xd5\xd5\xd5"), Probe::NoMatch);
}

#[test]
fn events_carry_version_and_gquic_tags() {
    let ev = events(0, &fixture!("v1_client"));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["version"], "1");
    assert_eq!(events(0, &fixture!("draft29_client"))[0]["version"], "ff00001d");
    let q = events(0, &fixture!("q046_client"));
    assert_eq!(q[0]["version"], "Q046");
    assert!(q[0]["sni"].is_string(), "{q:?}");
    assert!(q[0]["ua"].is_string(), "{q:?}");
    let q = events(0, &fixture!("q024_client"));
    assert_eq!(q[0]["version"], "Q024");
    assert!(q[0]["sni"].is_string(), "{q:?}");
    assert_eq!(events(0, &fixture!("q050_client"))[0]["version"], "Q050");
    // Negotiation, server REJ without version, short headers: nothing.
    assert!(events(1, &fixture!("negotiation")).is_empty());
    assert!(events(1, &hex("40d246fb3b84429caf957844ffef4716d9a6576f")).is_empty());
}

#[test]
fn hostile_bytes_do_not_panic() {
    let all = [fixture!("v1_client"), fixture!("q046_client"), fixture!("q024_client"), fixture!("negotiation")];
    let mut seed = 0x0bad_cafe_u32;
    for round in 0..400 {
        let mut m = all[round % all.len()].clone();
        for _ in 0..4 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (i, v) = ((seed >> 8) as usize, (seed >> 3) as u8);
            let n = m.len().min(64);
            m[i % n] = v;
        }
        let cut = (seed as usize) % (m.len() + 1);
        let _ = p(0, &m[..cut]);
        let _ = events(0, &m[..cut]);
        let _ = p(0, &m);
        let _ = events(0, &m);
    }
}

#[test]
fn initial_client_hello_is_decrypted() {
    // The same values as Wireshark's for these packets.
    let ev = &events(0, &fixture!("v1_client"))[0];
    assert_eq!(ev["sni"], "str1-euwest1-34-246-231-140.addlive.io");
    assert_eq!(ev["ja3"]["hash"], "f4545fa40dda0c87b1bd81d9a55985a2");
    assert_eq!(ev["ja3"]["string"], "771,4865-4866-4867,0-10-16-13-51-45-43-57-17513,29-23-24,");
    assert_eq!(ev["ja4"], "q13d0309h3_55b375c5d22e_08189d42dc81");
    assert_eq!(ev["extensions"], serde_json::json!([{"name": "alpn", "type": 16, "values": ["h3"]}]));
    let ev = &events(0, &fixture!("draft29_client"))[0];
    assert_eq!(ev["sni"], "server4");
    assert_eq!(ev["ja3"]["hash"], "fe94e313a5d76fb687c85443cdfa8170");
    // A corrupted tag: the version is still written, the hello is not.
    let mut b = fixture!("v1_client");
    let n = b.len();
    b[n - 1] ^= 1;
    let ev = &events(0, &b)[0];
    assert_eq!(ev["version"], "1");
    assert!(ev.get("sni").is_none());
}
