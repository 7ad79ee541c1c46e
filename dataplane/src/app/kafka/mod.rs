//! Kafka: identification and the requests a client sends.
//!
//! Probe: a request header — int32 size (10..=100 MiB), int16 API key 0..=67, a version
//! no higher than the API's (with a small margin for newer releases), a non-negative
//! correlation id and a non-empty printable client id inside the request. Responses carry only a
//! size and a correlation id: the server's direction never proves Kafka by itself.
//!
//! Parser: one `kafka` event per request (up to [`MAX_REQUESTS`]):
//! `{"api_key","api_version","correlation_id","client_id","topics":[...]}` (topics for
//! Produce, Fetch and Metadata in their non-flexible versions).
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Error;

pub const DESC: Desc = Desc {
    proto: AppProto::Kafka,
    tcp: Some(probe),
    udp: None,
    ports: &[9092],
    stream: StreamKind::Kafka,
    datagram: None,
};

/// Requests logged per flow.
pub const MAX_REQUESTS: u32 = 32;
/// Requests longer than this are read through their first [`PREFIX`] bytes and skipped.
const MAX_WHOLE_REQUEST: usize = 8192;
const PREFIX: usize = 4096;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match parser::header(i.data) {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) if i.dir != TO_SERVER && parser::size_plausible(i.data) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Event<'a> {
    api_key: &'static str,
    api_version: u16,
    correlation_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<Text<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    topics: &'a [Text<'a>],
}

#[derive(Debug, Default)]
pub struct State {
    requests: u32,
    lost: bool,
}

impl State {
    fn client(&mut self, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
        let mut topics = Vec::new();
        let mut texts = Vec::new();
        while self.requests < MAX_REQUESTS {
            let Some(rest) = b.get(off..).filter(|r| !r.is_empty()) else { break };
            let h = match parser::header(rest) {
                Ok(h) => h,
                Err(Error::Incomplete) => break,
                Err(Error::Invalid) => {
                    self.lost = true;
                    break;
                }
            };
            let len = 4 + h.size as usize;
            let req = match rest.get(..len) {
                Some(r) => r,
                None if len > MAX_WHOLE_REQUEST => match rest.get(..PREFIX) {
                    Some(r) => r,
                    None => break,
                },
                None => break,
            };
            off += len;
            topics.clear();
            parser::topics(h.api_key, h.api_version, req.get(h.body..).unwrap_or(&[]), &mut topics);
            texts.clear();
            texts.extend(topics.iter().map(|t| Text(t)));
            let ev = Event {
                api_key: parser::api_name(h.api_key),
                api_version: h.api_version,
                correlation_id: h.correlation_id,
                client_id: h.client_id.map(Text),
                topics: &texts,
            };
            cx.emit(TO_SERVER, "kafka", &ev);
            self.requests += 1;
        }
        off
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        if dir == TO_SERVER && !buf.feed(data, |b| self.client(b, cx)) {
            self.lost = true;
        }
        if self.lost || self.requests >= MAX_REQUESTS {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, dir: usize) -> Next {
        if dir == TO_SERVER {
            self.lost = true;
            return Next::Done;
        }
        Next::More
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Collect, L4};

    const FOREIGN: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x5e\x1c\x9a\x00\x11\x22\x33\x44",
        b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n",
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01",
        b"\x9d\x3f\x51\xe2\x07\xaa\x41\x0c\x88\x19\xf4\x6b\x25\xd0\x3e\x77",
    ];
    /// A request: header v1 (or v2 when `body` starts with the tagged-field byte).
    fn req(key: u16, ver: u16, corr: u32, client: &[u8], body: &[u8]) -> Vec<u8> {
        let mut m = ((10 + client.len() + body.len()) as u32).to_be_bytes().to_vec();
        m.extend_from_slice(&key.to_be_bytes());
        m.extend_from_slice(&ver.to_be_bytes());
        m.extend_from_slice(&corr.to_be_bytes());
        m.extend_from_slice(&(client.len() as u16).to_be_bytes());
        m.extend_from_slice(client);
        m.extend_from_slice(body);
        m
    }

    /// ApiVersions v3 (flexible: a tagged-field byte after the client id).
    fn api_versions() -> Vec<u8> {
        req(18, 3, 1, b"adminclient-1", b"\x00\x12apache-kafka-java\x063.6.1\x00")
    }

    /// Metadata v1 for topic "events".
    fn metadata() -> Vec<u8> {
        req(3, 1, 2, b"rdkafka", b"\x00\x00\x00\x01\x00\x06events")
    }

    /// Produce v7 to topic "logs", one partition with a 5000-byte record batch.
    fn produce() -> Vec<u8> {
        let mut body = b"\xff\xff\x00\x01\x00\x00\x75\x30".to_vec(); // no txn id, acks 1, timeout
        body.extend_from_slice(b"\x00\x00\x00\x01\x00\x04logs\x00\x00\x00\x01\x00\x00\x00\x00");
        body.extend_from_slice(&5000u32.to_be_bytes());
        body.extend_from_slice(&[0x42; 5000]);
        req(0, 7, 3, b"rdkafka", &body)
    }

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_requests() {
        let av = api_versions();
        assert_eq!(p(0, &av), Probe::Match);
        assert_eq!(p(0, &metadata()), Probe::Match);
        assert_eq!(p(0, &produce()), Probe::Match);
        for n in 0..27 {
            assert_eq!(p(0, &av[..n]), Probe::NeedMore, "{n}");
        }
        // A response (size, correlation id, body) says nothing.
        assert_eq!(p(1, b"\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"), Probe::NeedMore);
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 9092);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        for c in chunks {
            st.data(0, c, &mut buf, &mut cx);
        }
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn requests_split_or_whole() {
        let all = [api_versions(), metadata(), produce()].concat();
        let whole = run(&[&all]);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0].1, "kafka");
        assert_eq!(whole[0].2["api_key"], "ApiVersions");
        assert_eq!(whole[0].2["client_id"], "adminclient-1");
        assert_eq!(whole[1].2["topics"], serde_json::json!(["events"]));
        assert_eq!(whole[2].2["api_key"], "Produce");
        assert_eq!(whole[2].2["topics"], serde_json::json!(["logs"]));
        let split: Vec<&[u8]> = all.chunks(100).collect();
        assert_eq!(run(&split), whole);
    }
}
