//! HTTP/2 over cleartext TCP (h2c, prior knowledge): probe on the client preface or on an
//! endpoint's first SETTINGS frame, a frame parser with a bounded HPACK decoder per
//! direction, and Suricata's EVE `http` event (with its `http2` object) per stream.
//!
//! Frames are read through the direction's [`MsgBuf`]; DATA payloads are skipped without
//! buffering (only their length is counted), header blocks (HEADERS or PUSH_PROMISE plus
//! CONTINUATION, at most [`MAX_BLOCK`] bytes) are decoded by [`hpack::Decoder`]. A stream
//! (at most [`MAX_STREAMS`] open) is logged when the responding side ends it, when it is
//! reset, or at the end of the flow. `content-type: application/grpc*` refines the flow to
//! [`AppProto::Grpc`], a `:path` under `/etcdserverpb.` to [`AppProto::Etcd`]. A header block
//! that cannot be decoded, or a gap, stops decoding that direction (its HPACK state is lost).
use crate::app::bytes::{be32, prefix_state};
use crate::app::http::parser::host_port;
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use parser::{flag, kind, Error, FrameHeader, FRAME_HEADER, PREFACE};
use serde::Serialize;
use std::ops::Range;

pub mod hpack;
pub mod parser;

pub const DESC: Desc = Desc {
    proto: AppProto::Http2,
    tcp: Some(probe),
    udp: None,
    ports: &[80],
    stream: StreamKind::Http2,
    datagram: None,
};

/// Streams logged per flow at most (parsing stops at the cap).
pub const MAX_TX: u32 = 256;
/// Streams tracked at once (the oldest is logged when a new one does not fit).
pub const MAX_STREAMS: usize = 64;
/// Largest header block (HEADERS/PUSH_PROMISE + CONTINUATION payloads) decoded.
pub const MAX_BLOCK: usize = 12 * 1024;

/// The client preface, or an endpoint's first SETTINGS frame (strict checks), in either
/// direction.
pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match prefix_state(i.data, PREFACE, false) {
        Some(true) => return Probe::Match,
        None => return Probe::NeedMore,
        Some(false) => {}
    }
    match parser::first_settings(i.data) {
        Ok(()) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Http2<'a> {
    stream_id: u32,
    request: Empty,
    response: Empty,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
}

#[derive(Serialize)]
struct Empty {}

/// Suricata's EVE `http` object for an HTTP/2 stream.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_user_agent: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_content_type: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_method: Option<Text<'a>>,
    protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    length: u64,
    http2: Http2<'a>,
}

/// One stream's fields, copied out of its header blocks.
#[derive(Debug, Default)]
struct Stream {
    id: u32,
    text: Vec<u8>,
    /// The direction that sent `:method` (the requester).
    req_dir: Option<usize>,
    /// The direction that sent `:status` (a capture may miss the request).
    status_dir: Option<usize>,
    method: Option<Range<usize>>,
    path: Option<Range<usize>>,
    authority: Option<Range<usize>>,
    user_agent: Option<Range<usize>>,
    /// `content-type` sent by each direction.
    content_type: [Option<Range<usize>>; 2],
    status: Option<u16>,
    /// DATA payload bytes per direction.
    data: [u64; 2],
    ended: [bool; 2],
    reset: bool,
}

impl Stream {
    fn put(&mut self, v: &[u8]) -> Option<Range<usize>> {
        let s = self.text.len();
        self.text.extend_from_slice(v);
        Some(s..self.text.len())
    }

    fn get(&self, r: &Option<Range<usize>>) -> Option<Text<'_>> {
        r.clone().and_then(|r| self.text.get(r)).map(Text)
    }

    fn field(&mut self, dir: usize, name: &[u8], value: &[u8]) {
        match name {
            b":method" => {
                self.method = self.put(value);
                self.req_dir = Some(dir);
            }
            b":path" => self.path = self.put(value),
            b":authority" => self.authority = self.put(value),
            b"host" if self.authority.is_none() => self.authority = self.put(value),
            b"user-agent" => self.user_agent = self.put(value),
            b":status" => {
                self.status_dir = Some(dir);
                self.status = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
            }
            b"content-type" => {
                let ct = value.split(|&c| c == b';').next().unwrap_or(&[]);
                let r = self.put(crate::app::http::parser::trim(ct));
                if let Some(slot) = self.content_type.get_mut(dir) {
                    *slot = r;
                }
            }
            _ => {}
        }
    }

    fn resp_dir(&self) -> usize {
        match (self.req_dir, self.status_dir) {
            (Some(d), _) => 1 - d.min(1),
            (None, Some(d)) => d,
            (None, None) => 1,
        }
    }

    /// The responding side ended the stream (or both did, or it was reset).
    fn complete(&self) -> bool {
        self.reset || self.ended.get(self.resp_dir()).copied().unwrap_or(false) || self.ended.iter().all(|&e| e)
    }

    fn emit(&self, cx: &mut Cx<'_>) {
        let host = self.get(&self.authority).map(|a| Text(host_port(a.0).0));
        let resp = self.resp_dir();
        let ev = Event {
            hostname: host,
            url: self.get(&self.path),
            http_user_agent: self.get(&self.user_agent),
            http_content_type: self.content_type.get(resp).and_then(|r| self.get(r)),
            http_method: self.get(&self.method),
            protocol: "HTTP/2",
            status: self.status,
            length: self.data.get(resp).copied().unwrap_or(0),
            http2: Http2 {
                stream_id: self.id,
                request: Empty {},
                response: Empty {},
                error_code: self.reset.then_some("reset"),
            },
        };
        cx.emit(1 - resp, "http", &ev);
    }
}

/// A direction's framing and decoding state.
#[derive(Debug, Default)]
struct Dir {
    preface_checked: bool,
    hpack: hpack::Decoder,
    /// The HPACK state is unknown (undecodable or skipped block, gap): no more decoding.
    broken: bool,
    /// A header block waiting for its CONTINUATION frames.
    block: Vec<u8>,
    block_stream: Option<u32>,
    block_end_stream: bool,
    block_promised: Option<u32>,
}

#[derive(Debug, Default)]
pub struct State {
    dirs: [Dir; 2],
    streams: Vec<Stream>,
    logged: u32,
    app: AppProto,
    done: bool,
}

/// Refinements in increasing order of precision.
fn rank(p: AppProto) -> u8 {
    match p {
        AppProto::Etcd => 2,
        AppProto::Grpc => 1,
        _ => 0,
    }
}

impl State {
    fn log(&mut self, s: &Stream, cx: &mut Cx<'_>) {
        if self.logged < MAX_TX {
            s.emit(cx);
            self.logged += 1;
        }
        self.done |= self.logged >= MAX_TX;
    }

    /// The index of stream `id`, created if needed (the oldest is logged to make room).
    fn stream(&mut self, id: u32, cx: &mut Cx<'_>) -> usize {
        if let Some(i) = self.streams.iter().position(|s| s.id == id) {
            return i;
        }
        if self.streams.len() >= MAX_STREAMS {
            let old = self.streams.remove(0);
            self.log(&old, cx);
        }
        self.streams.push(Stream { id, ..Stream::default() });
        self.streams.len() - 1
    }

    /// Logs stream `i` if it is complete.
    fn maybe_close(&mut self, i: usize, cx: &mut Cx<'_>) {
        if self.streams.get(i).is_some_and(Stream::complete) {
            let s = self.streams.remove(i);
            self.log(&s, cx);
        }
    }

    fn refine(&mut self, p: AppProto, cx: &mut Cx<'_>) {
        if rank(p) > rank(self.app) {
            self.app = p;
            cx.set_app(p);
        }
    }

    /// Decodes a complete header block of `dir` for `stream` (or the promised stream).
    fn header_block(&mut self, dir: usize, stream: u32, promised: Option<u32>, end: bool, cx: &mut Cx<'_>) {
        let block = self.dirs.get_mut(dir).map(|d| std::mem::take(&mut d.block)).unwrap_or_default();
        self.decode(dir, stream, promised, end, &block, cx);
        if let Some(d) = self.dirs.get_mut(dir) {
            d.block = block;
            d.block.clear();
        }
    }

    fn decode(&mut self, dir: usize, stream: u32, promised: Option<u32>, end: bool, block: &[u8], cx: &mut Cx<'_>) {
        // A promised stream's request comes from the server on behalf of the client.
        let (id, fdir) = match promised {
            Some(p) => (p, 1 - dir.min(1)),
            None => (stream, dir),
        };
        let i = self.stream(id, cx);
        let State { dirs, streams, .. } = self;
        let (Some(d), Some(s)) = (dirs.get_mut(dir), streams.get_mut(i)) else { return };
        if !d.broken && d.hpack.decode(block, |n, v| s.field(fdir, n, v)).is_err() {
            d.broken = true;
        }
        if end {
            if let Some(e) = s.ended.get_mut(dir) {
                *e = true;
            }
        }
        let etcd = s.path.clone().and_then(|r| s.text.get(r)).is_some_and(|p| p.starts_with(b"/etcdserverpb."));
        let grpc = s
            .content_type
            .iter()
            .any(|r| r.clone().and_then(|r| s.text.get(r)).is_some_and(|c| c.starts_with(b"application/grpc")));
        if etcd {
            self.refine(AppProto::Etcd, cx);
        } else if grpc {
            self.refine(AppProto::Grpc, cx);
        }
        self.maybe_close(i, cx);
    }

    /// One frame whose payload is complete.
    fn frame(&mut self, dir: usize, h: &FrameHeader, p: &[u8], cx: &mut Cx<'_>) {
        match h.kind {
            kind::HEADERS | kind::PUSH_PROMISE => {
                let Ok((frag, promised)) = parser::fragment(h, p) else {
                    self.break_dir(dir);
                    return;
                };
                let end = h.kind == kind::HEADERS && h.flags & flag::END_STREAM != 0;
                if h.flags & flag::END_HEADERS != 0 {
                    self.decode(dir, h.stream, promised, end, frag, cx);
                } else if let Some(d) = self.dirs.get_mut(dir) {
                    d.block.clear();
                    d.block.extend_from_slice(frag);
                    d.block_stream = Some(h.stream);
                    d.block_end_stream = end;
                    d.block_promised = promised;
                }
            }
            kind::CONTINUATION => {
                let Some(d) = self.dirs.get_mut(dir) else { return };
                if d.block_stream != Some(h.stream) || d.block.len() + p.len() > MAX_BLOCK {
                    self.break_dir(dir);
                    return;
                }
                d.block.extend_from_slice(p);
                if h.flags & flag::END_HEADERS != 0 {
                    let (end, promised) = (d.block_end_stream, d.block_promised);
                    d.block_stream = None;
                    self.header_block(dir, h.stream, promised, end, cx);
                }
            }
            kind::SETTINGS if h.flags & flag::ACK == 0 => {
                // The sender's decoder limit bounds the other direction's encoder.
                for (id, v) in parser::settings(p) {
                    if id == parser::setting::HEADER_TABLE_SIZE {
                        if let Some(d) = self.dirs.get_mut(1 - dir.min(1)) {
                            d.hpack.set_limit(v);
                        }
                    }
                }
            }
            kind::RST_STREAM => {
                if let Some(i) = self.streams.iter().position(|s| s.id == h.stream) {
                    if let Some(s) = self.streams.get_mut(i) {
                        s.reset = be32(p, 0).is_some_and(|code| code != 0);
                        s.ended = [true, true];
                    }
                    self.maybe_close(i, cx);
                }
            }
            _ => {}
        }
    }

    fn break_dir(&mut self, dir: usize) {
        if let Some(d) = self.dirs.get_mut(dir) {
            d.broken = true;
            d.block.clear();
            d.block_stream = None;
        }
    }

    /// Parses the frames of `b`; returns the bytes consumed (beyond `b` for a DATA payload
    /// or an oversized frame that continues in later chunks).
    fn run(&mut self, dir: usize, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
        if let Some(d) = self.dirs.get_mut(dir) {
            if !d.preface_checked {
                match prefix_state(b, PREFACE, false) {
                    None => return 0,
                    Some(true) => off = PREFACE.len(),
                    Some(false) => {}
                }
                d.preface_checked = true;
            }
        }
        while !self.done {
            let rest = b.get(off..).unwrap_or(&[]);
            let Some(h) = parser::frame_header(rest) else { break };
            let total = FRAME_HEADER + h.len;
            let header_kind = matches!(h.kind, kind::HEADERS | kind::PUSH_PROMISE | kind::CONTINUATION);
            if h.kind == kind::DATA {
                let i = self.streams.iter().position(|s| s.id == h.stream);
                if let Some(s) = i.and_then(|i| self.streams.get_mut(i)) {
                    if let Some(n) = s.data.get_mut(dir) {
                        *n += h.len as u64;
                    }
                    if h.flags & flag::END_STREAM != 0 {
                        if let Some(e) = s.ended.get_mut(dir) {
                            *e = true;
                        }
                    }
                }
                if let Some(i) = i {
                    self.maybe_close(i, cx);
                }
            } else if header_kind && h.len > MAX_BLOCK {
                self.break_dir(dir);
            } else if header_kind || matches!(h.kind, kind::SETTINGS | kind::RST_STREAM) {
                let Some(p) = rest.get(FRAME_HEADER..total) else { break };
                self.frame(dir, &h, p, cx);
            }
            off += total;
        }
        if self.done {
            b.len()
        } else {
            off
        }
    }

    /// Parsing stops: every stream still open is logged now.
    fn finish(&mut self, cx: &mut Cx<'_>) {
        for s in std::mem::take(&mut self.streams) {
            self.log(&s, cx);
        }
        self.done = true;
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        if self.done || dir > 1 {
            return Next::Done;
        }
        if !buf.feed(data, |b| self.run(dir, b, cx)) {
            // A frame larger than the buffer was cut: the framing of this side is lost.
            self.break_dir(dir);
            if let Some(d) = self.dirs.get_mut(dir) {
                d.preface_checked = true;
            }
            self.finish(cx);
        }
        if self.dirs.iter().all(|d| d.broken) && !self.done {
            self.finish(cx);
        }
        if self.done {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, _dir: usize) -> Next {
        // Frame boundaries and HPACK state are lost; streams still open are logged at end.
        Next::Done
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        if !self.done {
            self.finish(cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Collect, L4};
    use serde_json::Value;

    fn frame(kind: u8, flags: u8, stream: u32, p: &[u8]) -> Vec<u8> {
        let mut v = (p.len() as u32).to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend_from_slice(p);
        v
    }

    /// Literal without indexing, new name.
    fn lit(n: &str, v: &str) -> Vec<u8> {
        let mut b = vec![0x00, n.len() as u8];
        b.extend_from_slice(n.as_bytes());
        b.push(v.len() as u8);
        b.extend_from_slice(v.as_bytes());
        b
    }

    fn client() -> Vec<u8> {
        let mut c = PREFACE.to_vec();
        c.extend(frame(kind::SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64\x00\x04\x00\x01\x00\x00"));
        // RFC 7541 C.4.1 (GET http://www.example.com/, Huffman) then user-agent, split
        // into HEADERS + CONTINUATION.
        let mut block = vec![0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90];
        block.extend_from_slice(&[0xf4, 0xff]);
        block.extend(lit("user-agent", "curl/8.5.0"));
        let (a, b) = block.split_at(7);
        c.extend(frame(kind::HEADERS, flag::END_STREAM, 1, a));
        c.extend(frame(kind::CONTINUATION, flag::END_HEADERS, 1, b));
        c
    }

    fn server() -> Vec<u8> {
        let mut s = frame(kind::SETTINGS, 0, 0, b"\x00\x05\x00\x00\x40\x00");
        s.extend(frame(kind::SETTINGS, flag::ACK, 0, b""));
        let mut block = vec![0x88];
        block.extend(lit("content-type", "text/html; charset=utf-8"));
        s.extend(frame(kind::HEADERS, flag::END_HEADERS, 1, &block));
        s.extend(frame(kind::DATA, 0, 1, &[b'x'; 100]));
        s.extend(frame(kind::DATA, flag::END_STREAM, 1, &[b'y'; 20]));
        s
    }

    fn run(chunks: &[(usize, &[u8])]) -> (Vec<Value>, Option<AppProto>) {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 80);
        let (mut st, mut bufs) = (State::default(), [MsgBuf::default(), MsgBuf::default()]);
        for &(dir, c) in chunks {
            st.data(dir, c, &mut bufs[dir], &mut cx);
        }
        st.end(&mut cx);
        let app = cx.refined();
        (
            out.0
                .into_iter()
                .map(|(_, t, v)| {
                    assert_eq!(t, "http");
                    v
                })
                .collect(),
            app,
        )
    }

    fn m(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_preface_and_settings() {
        assert_eq!(m(0, &client()), Probe::Match);
        assert_eq!(m(1, &server()), Probe::Match);
        assert_eq!(m(0, b"PRI * HTTP/2"), Probe::NeedMore);
        assert_eq!(m(0, b""), Probe::NeedMore);
        assert_eq!(m(1, &server()[..10]), Probe::NeedMore);
        for b in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n",
            b"PRI * HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
            b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            b"\x8f\x11\xa0\x37\xc2\x55",
        ] {
            assert_eq!(m(0, b), Probe::NoMatch, "{b:?}");
        }
    }

    #[test]
    fn stream_event() {
        let (ev, app) = run(&[(0, &client()), (1, &server())]);
        assert_eq!(ev.len(), 1);
        let e = &ev[0];
        assert_eq!(e["hostname"], "www.example.com");
        assert_eq!(e["url"], "/");
        assert_eq!(e["http_method"], "GET");
        assert_eq!(e["http_user_agent"], "curl/8.5.0");
        assert_eq!(e["protocol"], "HTTP/2");
        assert_eq!(e["status"], 200);
        assert_eq!(e["http_content_type"], "text/html");
        assert_eq!(e["length"], 120);
        assert_eq!(e["http2"]["stream_id"], 1);
        assert_eq!(app, None);
    }

    #[test]
    fn split_anywhere_parses_the_same() {
        let (c, s) = (client(), server());
        let (whole, _) = run(&[(0, &c), (1, &s)]);
        for cut in 1..c.len().max(s.len()) {
            let (c1, c2) = c.split_at(cut.min(c.len()));
            let (s1, s2) = s.split_at(cut.min(s.len()));
            let (ev, _) = run(&[(0, c1), (0, c2), (1, s1), (1, s2)]);
            assert_eq!(ev, whole, "cut {cut}");
        }
    }

    #[test]
    fn grpc_and_etcd() {
        let mut c = PREFACE.to_vec();
        let mut block = vec![0x83, 0x86];
        block.extend(lit(":path", "/helloworld.Greeter/SayHello"));
        block.extend(lit("content-type", "application/grpc"));
        c.extend(frame(kind::HEADERS, flag::END_HEADERS, 1, &block));
        let (ev, app) = run(&[(0, &c)]);
        assert_eq!(app, Some(AppProto::Grpc));
        assert_eq!(ev[0]["http_method"], "POST");
        assert_eq!(ev[0]["url"], "/helloworld.Greeter/SayHello");

        let mut block = vec![0x83, 0x86];
        block.extend(lit(":path", "/etcdserverpb.KV/Range"));
        block.extend(lit("content-type", "application/grpc"));
        c.extend(frame(kind::HEADERS, flag::END_HEADERS, 3, &block));
        let (ev, app) = run(&[(0, &c)]);
        assert_eq!(app, Some(AppProto::Etcd));
        assert_eq!(ev.len(), 2);
    }

    #[test]
    fn hostile_frames_do_not_panic() {
        let base = [client(), server()].concat();
        let mut seed = 0x9e37_79b9u32;
        for _ in 0..300 {
            let mut v = base.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % v.len();
                v[i] = (seed >> 24) as u8;
            }
            let cut = seed as usize % v.len();
            let _ = run(&[(0, &v[..cut]), (1, &v[cut..]), (0, &v[cut..])]);
            let _ = m(0, &v);
        }
    }
}
