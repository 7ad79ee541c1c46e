//! RTSP (RFC 2326 / 7826): probe on a request or status line, a streaming parser of its
//! HTTP-like messages and an `rtsp` event per transaction (Suricata has no RTSP logger).
//!
//! Messages share HTTP's syntax (parsed by [`crate::app::http::parser`] with the RTSP
//! [`Dialect`]); bodies (SDP) are skipped by `Content-Length`, RTP/RTCP interleaved on the
//! connection (`$`, channel, 16-bit length) is skipped without buffering. A request waits in
//! its direction's queue ([`MAX_PENDING`]) for the next response of the other direction; the
//! event is written when the response head is complete, or at the end of the flow. Garbage
//! or a gap ends parsing (RTSP has no reliable resynchronisation point inside RTP data).
use crate::app::bytes::{be16, u8_at};
use crate::app::http::parser::{self, Dialect, Error, Start};
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::Serialize;
use std::collections::VecDeque;
use std::ops::Range;

pub const DESC: Desc = Desc {
    proto: AppProto::Rtsp,
    tcp: Some(probe),
    udp: None,
    ports: &[554, 8554],
    stream: StreamKind::Rtsp,
    datagram: None,
};

/// RTSP 1.0 and 2.0 start lines.
pub const RTSP: Dialect = Dialect {
    methods: &[
        b"OPTIONS",
        b"DESCRIBE",
        b"SETUP",
        b"PLAY",
        b"PAUSE",
        b"TEARDOWN",
        b"ANNOUNCE",
        b"RECORD",
        b"GET_PARAMETER",
        b"SET_PARAMETER",
        b"REDIRECT",
        b"PLAY_NOTIFY",
    ],
    version: b"RTSP/",
    version_tail: b"#.#",
};

/// Transactions logged per flow at most.
pub const MAX_TX: u32 = 256;
/// Requests waiting for a response per direction at most.
pub const MAX_PENDING: usize = 8;

/// Either direction starts with an RTSP request line or status line.
pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match parser::start(i.data, &RTSP) {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cseq: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<Text<'a>>,
}

/// A transaction's fields, copied from its heads.
#[derive(Debug, Default)]
struct Tx {
    text: Vec<u8>,
    req_dir: usize,
    method: Option<Range<usize>>,
    uri: Option<Range<usize>>,
    version: Option<Range<usize>>,
    cseq: Option<Range<usize>>,
    user_agent: Option<Range<usize>>,
    session: Option<Range<usize>>,
    transport: Option<Range<usize>>,
    status: Option<u16>,
    reason: Option<Range<usize>>,
    server: Option<Range<usize>>,
    content_type: Option<Range<usize>>,
}

impl Tx {
    fn put(&mut self, v: Option<&[u8]>) -> Option<Range<usize>> {
        let v = v?;
        let s = self.text.len();
        self.text.extend_from_slice(v);
        Some(s..self.text.len())
    }

    fn get(&self, r: &Option<Range<usize>>) -> Option<Text<'_>> {
        r.clone().and_then(|r| self.text.get(r)).map(Text)
    }

    /// Header fields either side may send (a response's value wins).
    fn common(&mut self, head: &[u8]) {
        for (field, name) in [(0, &b"cseq"[..]), (1, b"session"), (2, b"transport"), (3, b"content-type")] {
            if let Some(v) = parser::header(head, &[name]) {
                let r = self.put(Some(v));
                match field {
                    0 => self.cseq = r,
                    1 => self.session = r,
                    2 => self.transport = r,
                    _ => self.content_type = r,
                }
            }
        }
    }

    fn emit(&self, cx: &mut Cx<'_>) {
        let ev = Event {
            method: self.get(&self.method),
            uri: self.get(&self.uri),
            version: self.get(&self.version),
            cseq: self.get(&self.cseq),
            user_agent: self.get(&self.user_agent),
            session: self.get(&self.session),
            transport: self.get(&self.transport),
            status: self.status,
            reason: self.get(&self.reason),
            server: self.get(&self.server),
            content_type: self.get(&self.content_type),
        };
        cx.emit(self.req_dir, "rtsp", &ev);
    }
}

#[derive(Debug, Default)]
pub struct State {
    /// Requests sent by each direction, waiting for the other's response.
    pending: [VecDeque<Tx>; 2],
    logged: u32,
    done: bool,
}

impl State {
    fn log(&mut self, tx: &Tx, cx: &mut Cx<'_>) {
        if self.logged < MAX_TX {
            tx.emit(cx);
            self.logged += 1;
        }
        self.done |= self.logged >= MAX_TX;
    }

    fn on_head(&mut self, dir: usize, head: &[u8], cx: &mut Cx<'_>) {
        match parser::start(head, &RTSP) {
            Ok(Start::Request { method, target, version }) => {
                let mut tx = Tx { req_dir: dir, ..Tx::default() };
                tx.method = tx.put(Some(method));
                tx.uri = tx.put(Some(target));
                tx.version = tx.put(Some(version));
                tx.user_agent = tx.put(parser::header(head, &[b"user-agent"]));
                tx.common(head);
                let Some(q) = self.pending.get_mut(dir) else { return };
                let old = if q.len() >= MAX_PENDING { q.pop_front() } else { None };
                q.push_back(tx);
                if let Some(old) = old {
                    self.log(&old, cx);
                }
            }
            Ok(Start::Response { version, status }) => {
                let other = 1 - dir.min(1);
                let queued = self.pending.get_mut(other).and_then(VecDeque::pop_front);
                let mut tx = queued.unwrap_or_else(|| {
                    let mut tx = Tx { req_dir: other, ..Tx::default() };
                    tx.version = tx.put(Some(version));
                    tx
                });
                tx.status = Some(status);
                tx.reason = tx.put(Some(parser::reason(head)));
                tx.server = tx.put(parser::header(head, &[b"server"]));
                tx.common(head);
                self.log(&tx, cx);
            }
            Err(_) => self.done = true,
        }
    }

    /// Parses whole messages and interleaved frames of `b`; returns the bytes consumed
    /// (beyond `b` for a body or frame that continues in later chunks).
    fn run(&mut self, dir: usize, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
        while off < b.len() && !self.done {
            let rest = b.get(off..).unwrap_or(&[]);
            if u8_at(rest, 0) == Some(b'$') {
                // Interleaved binary data: '$', channel, 16-bit length, payload.
                let (Some(_channel), Some(len)) = (u8_at(rest, 1), be16(rest, 2)) else { return off };
                off += 4 + usize::from(len);
                continue;
            }
            if parser::start(rest, &RTSP) == Err(Error::Invalid) {
                self.done = true;
                break;
            }
            match parser::head_len(rest) {
                Err(Error::Incomplete) => return off,
                Err(Error::Invalid) => self.done = true,
                Ok(n) => {
                    let head = rest.get(..n).unwrap_or(&[]);
                    self.on_head(dir, head, cx);
                    let body = parser::header(head, &[b"content-length"]).and_then(parser::content_length);
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
        if self.done || dir > 1 {
            return Next::Done;
        }
        if !buf.feed(data, |b| self.run(dir, b, cx)) {
            self.done = true;
        }
        if self.done {
            Next::Done
        } else {
            Next::More
        }
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        for dir in 0..2 {
            while let Some(tx) = self.pending.get_mut(dir).and_then(VecDeque::pop_front) {
                self.log(&tx, cx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Collect, L4};
    use serde_json::Value;

    const OPTIONS: &[u8] = b"OPTIONS rtsp://10.2.2.2:8554/ RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: LibVLC/3.0.16 (LIVE555 Streaming Media v2016.11.28)\r\n\r\n";
    const OPTIONS_OK: &[u8] = b"RTSP/1.0 200 OK\r\nServer: VLC/3.0.12\r\nContent-Length: 0\r\nCseq: 2\r\nPublic: DESCRIBE,SETUP,TEARDOWN,PLAY,PAUSE,GET_PARAMETER\r\n\r\n";
    const SETUP: &[u8] = b"SETUP rtsp://cam/stream/trackID=0 RTSP/1.0\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n";
    const SETUP_OK: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nSession: 12345678;timeout=60\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0$\x00\x00\x04abcd$\x01\x00\x02xy";

    fn m(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    fn run(chunks: &[(usize, &[u8])]) -> Vec<Value> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 554);
        let (mut st, mut bufs) = (State::default(), [MsgBuf::default(), MsgBuf::default()]);
        for &(dir, c) in chunks {
            st.data(dir, c, &mut bufs[dir], &mut cx);
        }
        st.end(&mut cx);
        out.0
            .into_iter()
            .map(|(_, t, v)| {
                assert_eq!(t, "rtsp");
                v
            })
            .collect()
    }

    #[test]
    fn probe_rtsp_lines() {
        assert_eq!(m(0, OPTIONS), Probe::Match);
        assert_eq!(m(1, OPTIONS_OK), Probe::Match);
        assert_eq!(m(0, b"RTSP/2.0 200 OK\r\n"), Probe::Match);
        assert_eq!(m(0, b"DESCRIBE rtsp://h/ RTSP/1"), Probe::NeedMore);
        assert_eq!(m(0, b"RTS"), Probe::NeedMore);
        assert_eq!(m(0, b""), Probe::NeedMore);
        for b in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"OPTIONS / HTTP/1.1\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\n",
            b"HTTP/1.1 200 OK\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
            b"\x8f\x11\xa0\x37\xc2\x55",
        ] {
            assert_eq!(m(0, b), Probe::NoMatch, "{:?}", String::from_utf8_lossy(b));
        }
    }

    #[test]
    fn transactions_and_interleaved_data() {
        let ev = run(&[
            (0, OPTIONS),
            (1, OPTIONS_OK),
            (0, SETUP),
            (1, SETUP_OK),
            (0, b"TEARDOWN rtsp://cam/ RTSP/1.0\r\nCSeq: 5\r\n\r\n"),
        ]);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0]["method"], "OPTIONS");
        assert_eq!(ev[0]["uri"], "rtsp://10.2.2.2:8554/");
        assert_eq!(ev[0]["cseq"], "2");
        assert_eq!(ev[0]["status"], 200);
        assert_eq!(ev[0]["server"], "VLC/3.0.12");
        assert!(ev[0]["user_agent"].as_str().unwrap().starts_with("LibVLC"));
        assert_eq!(ev[1]["transport"], "RTP/AVP/TCP;unicast;interleaved=0-1");
        assert_eq!(ev[1]["session"], "12345678;timeout=60");
        assert_eq!(ev[2]["method"], "TEARDOWN");
        assert!(ev[2].get("status").is_none());
    }

    #[test]
    fn split_anywhere_parses_the_same() {
        let whole = run(&[(0, SETUP), (1, SETUP_OK), (1, OPTIONS_OK)]);
        assert_eq!(whole.len(), 2);
        for cut in 1..SETUP_OK.len() {
            let (a, b) = SETUP_OK.split_at(cut);
            assert_eq!(run(&[(0, SETUP), (1, a), (1, b), (1, OPTIONS_OK)]), whole, "cut {cut}");
        }
    }

    #[test]
    fn garbage_ends_parsing() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 554);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"\x00\x01garbage", &mut buf, &mut cx), Next::Done);
    }
    #[test]
    fn hostile_input_does_not_panic() {
        let base = [OPTIONS, SETUP, SETUP_OK].concat();
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
            let _ = run(&[(0, &v[..cut]), (0, &v[cut..]), (1, &v)]);
            let _ = m(0, &v);
        }
    }
}
