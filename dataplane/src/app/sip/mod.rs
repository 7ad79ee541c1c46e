//! SIP (RFC 3261) over UDP and TCP: probe on a request line `METHOD uri SIP/2.0` or a status
//! line `SIP/2.0 NNN`, and Suricata's EVE `sip` event per message.
//!
//! Messages share HTTP's syntax (parsed by [`crate::app::http::parser`] with the SIP
//! [`Dialect`]). Over UDP a datagram is one message ([`datagram`]); over TCP messages are
//! framed by `Content-Length` (compact form `l`) and bodies (SDP) are skipped. Like Suricata,
//! each message is its own transaction: a request logs `method`, `uri`, `version`,
//! `request_line`; a response `version`, `code` (a string), `reason`, `response_line`; both
//! add `from`, `to`, `call_id` and `user_agent` when present. CRLF keep-alives are ignored.
use crate::app::http::parser::{self, Dialect, Error, Start};
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::Serialize;

pub const DESC: Desc = Desc {
    proto: AppProto::Sip,
    tcp: Some(probe),
    udp: Some(probe),
    ports: &[5060, 5061],
    stream: StreamKind::Sip,
    datagram: Some(datagram),
};

/// SIP/2.0 start lines.
pub const SIP: Dialect = Dialect {
    methods: &[
        b"INVITE",
        b"REGISTER",
        b"OPTIONS",
        b"ACK",
        b"BYE",
        b"CANCEL",
        b"SUBSCRIBE",
        b"NOTIFY",
        b"MESSAGE",
        b"INFO",
        b"PRACK",
        b"UPDATE",
        b"REFER",
        b"PUBLISH",
    ],
    version: b"SIP/2.0",
    version_tail: b"",
};

/// Messages logged per TCP flow at most.
pub const MAX_MESSAGES: u32 = 256;
/// Longest keep-alive (CR, LF or NUL bytes only) that is not a verdict.
const MAX_KEEPALIVE: usize = 8;

/// A SIP request line or status line; a keep-alive says nothing.
pub fn probe(i: &ProbeInput<'_>) -> Probe {
    if i.data.len() <= MAX_KEEPALIVE && i.data.iter().all(|&c| matches!(c, b'\r' | b'\n' | 0)) {
        return Probe::NeedMore;
    }
    match parser::start(i.data, &SIP) {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

/// Suricata's EVE `sip` object.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<Text<'a>>,
    version: Text<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_line: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_line: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<Text<'a>>,
}

/// Writes the event of one message head (start line and headers); false if it is not SIP.
fn log_head(dir: usize, head: &[u8], cx: &mut Cx<'_>) -> bool {
    let first = parser::line(head).map_or(head, |(l, _)| l);
    let h = |names: &[&[u8]]| parser::header(head, names).map(Text);
    let mut ev = Event {
        method: None,
        uri: None,
        version: Text(b""),
        request_line: None,
        code: None,
        reason: None,
        response_line: None,
        from: h(&[b"from", b"f"]),
        to: h(&[b"to", b"t"]),
        call_id: h(&[b"call-id", b"i"]),
        user_agent: h(&[b"user-agent"]),
    };
    match parser::start(head, &SIP) {
        Ok(Start::Request { method, target, version }) => {
            ev.method = Some(Text(method));
            ev.uri = Some(Text(target));
            ev.version = Text(version);
            ev.request_line = Some(Text(first));
        }
        Ok(Start::Response { version, .. }) => {
            ev.version = Text(version);
            // The three digits after the version (checked by the scanner).
            ev.code = first.get(version.len() + 1..version.len() + 4).map(Text);
            ev.reason = Some(Text(parser::reason(head)));
            ev.response_line = Some(Text(first));
        }
        Err(_) => return false,
    }
    cx.emit(dir, "sip", &ev);
    true
}

/// One UDP datagram: one message (a datagram without the empty line is logged from what it
/// has).
pub fn datagram(dir: usize, data: &[u8], cx: &mut Cx<'_>) {
    let head = match parser::head_len(data) {
        Ok(n) => data.get(..n).unwrap_or(data),
        Err(_) => data.get(..parser::MAX_HEAD).unwrap_or(data),
    };
    log_head(dir, head, cx);
}

#[derive(Debug, Default)]
pub struct State {
    messages: u32,
    done: bool,
}

impl State {
    /// Whole messages of `b`; returns the bytes consumed (beyond `b` for a body that
    /// continues in later chunks).
    fn run(&mut self, dir: usize, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
        while off < b.len() && !self.done {
            let rest = b.get(off..).unwrap_or(&[]);
            let blank = rest.iter().take_while(|&&c| matches!(c, b'\r' | b'\n')).count();
            if blank > 0 {
                off += blank;
                continue;
            }
            match parser::head_len(rest) {
                Err(Error::Incomplete) if parser::start(rest, &SIP) != Err(Error::Invalid) => return off,
                Err(_) => self.done = true,
                Ok(n) => {
                    let head = rest.get(..n).unwrap_or(&[]);
                    if !log_head(dir, head, cx) {
                        self.done = true;
                        break;
                    }
                    self.messages += 1;
                    self.done = self.messages >= MAX_MESSAGES;
                    let body = parser::header(head, &[b"content-length", b"l"]).and_then(parser::content_length);
                    off += n + usize::try_from(body.unwrap_or(0)).unwrap_or(usize::MAX / 2);
                }
            }
        }
        if self.done {
            b.len()
        } else {
            off
        }
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        if !self.done && !buf.feed(data, |b| self.run(dir, b, cx)) {
            self.done = true;
        }
        if self.done {
            Next::Done
        } else {
            Next::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Collect, L4};
    use serde_json::Value;

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
User-Agent: Linphone/3.6\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 10\r\n\r\nv=0\r\no=a\r\n";
    const RINGING: &[u8] = b"SIP/2.0 180 Ringing\r\nf: <sip:alice@atlanta.example.com>;tag=9fx\r\nt: <sip:bob@biloxi.example.com>\r\ni: 3848276298220188511@atlanta.example.com\r\nl: 0\r\n\r\n";

    fn m(l4: L4, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(l4, 0, b))
    }

    fn tcp(chunks: &[(usize, &[u8])]) -> Vec<Value> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 5060);
        let (mut st, mut bufs) = (State::default(), [MsgBuf::default(), MsgBuf::default()]);
        for &(dir, c) in chunks {
            st.data(dir, c, &mut bufs[dir], &mut cx);
        }
        st.end(&mut cx);
        out.0
            .into_iter()
            .map(|(_, t, v)| {
                assert_eq!(t, "sip");
                v
            })
            .collect()
    }

    #[test]
    fn probe_sip_lines() {
        for l4 in [L4::Udp, L4::Tcp] {
            assert_eq!(m(l4, INVITE), Probe::Match);
            assert_eq!(m(l4, RINGING), Probe::Match);
            assert_eq!(m(l4, b"REGISTER sip:registrar.example.com SIP/2"), Probe::NeedMore);
            assert_eq!(m(l4, b"\r\n\r\n"), Probe::NeedMore);
            assert_eq!(m(l4, b""), Probe::NeedMore);
        }
        for b in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"OPTIONS rtsp://h/ RTSP/1.0\r\n",
            b"OPTIONS * HTTP/1.1\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"hello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
            b"\x8f\x11\xa0\x37\xc2\x55",
        ] {
            assert_eq!(m(L4::Udp, b), Probe::NoMatch, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn datagram_events() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 5060, 5060);
        datagram(0, INVITE, &mut cx);
        datagram(1, RINGING, &mut cx);
        datagram(0, b"\r\n\r\n", &mut cx);
        let ev: Vec<_> = out.0.iter().map(|(_, _, v)| v.clone()).collect();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0]["method"], "INVITE");
        assert_eq!(ev[0]["uri"], "sip:bob@biloxi.example.com");
        assert_eq!(ev[0]["version"], "SIP/2.0");
        assert_eq!(ev[0]["request_line"], "INVITE sip:bob@biloxi.example.com SIP/2.0");
        assert_eq!(ev[0]["call_id"], "3848276298220188511@atlanta.example.com");
        assert_eq!(ev[0]["user_agent"], "Linphone/3.6");
        assert_eq!(ev[1]["code"], "180");
        assert_eq!(ev[1]["reason"], "Ringing");
        assert_eq!(ev[1]["response_line"], "SIP/2.0 180 Ringing");
        assert_eq!(ev[1]["to"], "<sip:bob@biloxi.example.com>");
        assert!(ev[1].get("method").is_none());
    }

    #[test]
    fn tcp_split_anywhere_parses_the_same() {
        let whole = tcp(&[(0, b"\r\n\r\n"), (0, INVITE), (1, RINGING), (0, INVITE)]);
        assert_eq!(whole.len(), 3);
        for cut in 1..INVITE.len() {
            let (a, b) = INVITE.split_at(cut);
            assert_eq!(tcp(&[(0, b"\r\n\r\n"), (0, a), (0, b), (1, RINGING), (0, INVITE)]), whole, "cut {cut}");
        }
    }

    #[test]
    fn tcp_garbage_ends() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 5060);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"\x00\x01junk\r\n\r\n", &mut buf, &mut cx), Next::Done);
    }
    #[test]
    fn hostile_input_does_not_panic() {
        let base = [INVITE, RINGING].concat();
        let mut seed = 0x2545_f491u32;
        for _ in 0..300 {
            let mut v = base.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % v.len();
                v[i] = b"$\x00\xff\r\n: 0"[(seed >> 28) as usize % 8];
            }
            let cut = seed as usize % v.len();
            let _ = tcp(&[(0, &v[..cut]), (0, &v[cut..]), (1, &v)]);
            let _ = m(L4::Udp, &v);
            let (mut out, mut scratch) = (Collect::default(), Vec::new());
            datagram(0, &v, &mut Cx::new(&mut out, &mut scratch, 1, 2));
        }
    }
}
