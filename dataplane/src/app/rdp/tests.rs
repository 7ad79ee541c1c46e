//! RDP tests: a connection request with a cookie and a confirm selecting CredSSP, followed
//! by TLS (from nDPI's rdp_over_tls capture), and hand-made PDUs.
use super::*;
use crate::app::{Collect, L4};

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    s.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
}

fn client() -> Vec<u8> {
    hex(include_str!("testdata/tls_client.hex"))
}

fn server() -> Vec<u8> {
    hex(include_str!("testdata/tls_server.hex"))
}

fn p(dir: usize, b: &[u8]) -> Probe {
    probe(&ProbeInput::new(L4::Tcp, dir, b))
}

#[test]
fn probe_request_and_confirm() {
    assert_eq!(p(0, &client()), Probe::Match);
    assert_eq!(p(1, &server()), Probe::Match);
    for n in 0..47 {
        assert_eq!(p(0, &client()[..n]), Probe::NeedMore, "{n} bytes");
    }
}

#[test]
fn probe_rejects_other_protocols() {
    let others: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"SSH-2.0-OpenSSH_8.4p1\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
        // TPKT with X.224 data (not a connection request), and S7comm's COTP request.
        b"\x03\x00\x00\x0c\x02\xf0\x80\x7f\x65\x82\x01\x00",
        b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc0\x01\x0a\xc1\x02\x01\x00\xc2\x02\x01\x02",
        &[0x9f, 0x21, 0x77, 0x03, 0xee, 0x10, 0x55, 0xaa],
    ];
    for o in others {
        assert_eq!(p(0, o), Probe::NoMatch, "{o:02x?}");
    }
    assert_eq!(p(0, b""), Probe::NeedMore);
}

fn run(chunk: usize) -> (Collect, Vec<Next>, Option<AppProto>) {
    let (c, s) = (client(), server());
    let (mut out, mut scratch) = (Collect::default(), Vec::new());
    let mut nexts = Vec::new();
    let refined;
    {
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 3389);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        // The request, then the confirm, then the rest of each side.
        let (c0, c1) = c.split_at(47);
        let (s0, s1) = s.split_at(19);
        for (dir, part) in [(0, c0), (1, s0), (0, c1), (1, s1)] {
            let b = if dir == 0 { &mut b0 } else { &mut b1 };
            for piece in part.chunks(chunk) {
                nexts.push(st.data(dir, piece, b, &mut cx));
            }
        }
        st.end(&mut cx);
        refined = cx.refined();
    }
    (out, nexts, refined)
}

#[test]
fn events_and_tls_upgrade() {
    let (out, nexts, refined) = run(100_000);
    assert_eq!(refined, Some(AppProto::Tls));
    assert_eq!(nexts.last(), Some(&Next::Done));
    let types: Vec<_> = out.0.iter().map(|e| e.1).collect();
    assert_eq!(types, ["rdp", "rdp", "tls"]);
    let req = &out.0[0].2;
    assert_eq!(req["event_type"], "initial_request");
    assert_eq!(req["tx_id"], 0);
    assert_eq!(req["cookie"], "WDeployAd");
    let rsp = &out.0[1].2;
    assert_eq!(rsp["event_type"], "initial_response");
    assert_eq!(rsp["protocol"], "hybrid");
    assert_eq!(
        rsp["server_supports"],
        serde_json::json!(["extended_client_data", "dynvc_gfx", "restricted_admin", "redirected_authentication"])
    );
    let tls = &out.0[2].2;
    assert_eq!(tls["version"], "TLS 1.2");
    assert!(tls["ja3"]["hash"].is_string());
    assert!(tls["subject"].is_string());
}

#[test]
fn split_chunks_parse_the_same() {
    let (whole, _, _) = run(100_000);
    for chunk in [1, 3, 10] {
        let (split, nexts, _) = run(chunk);
        assert_eq!(split.0, whole.0, "chunk {chunk}");
        assert_eq!(nexts.last(), Some(&Next::Done));
    }
}

#[test]
fn standard_security_and_failure_end_after_confirm() {
    let (mut out, mut scratch) = (Collect::default(), Vec::new());
    {
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 3389);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        let req = b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00";
        assert_eq!(st.data(0, req, &mut b0, &mut cx), Next::More);
        let cc = b"\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x03\x00\x08\x00\x05\x00\x00\x00";
        assert_eq!(st.data(1, cc, &mut b1, &mut cx), Next::Done);
        assert_eq!(cx.refined(), None);
    }
    assert_eq!(out.0[1].2["error_code"], "hybrid_required_by_server");
    assert!(out.0[0].2.get("cookie").is_none());
}

#[test]
fn hostile_bytes_do_not_panic() {
    let (c, s) = (client(), server());
    let mut seed = 0x1357_2468_u32;
    for _ in 0..200 {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 1, 2);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        let (mut cm, mut sm) = (c.clone(), s.clone());
        for _ in 0..4 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let (i, v) = ((seed >> 8) as usize, (seed >> 3) as u8);
            cm[i % 60] = v;
            sm[(i / 5) % 40] = v;
        }
        let _ = p(0, &cm);
        let _ = p(1, &sm);
        st.data(0, &cm, &mut b0, &mut cx);
        st.data(1, &sm, &mut b1, &mut cx);
        st.end(&mut cx);
    }
}
