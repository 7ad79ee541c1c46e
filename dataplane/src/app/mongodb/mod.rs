//! MongoDB: identification and the requests a client sends.
//!
//! Probe: the 16-byte header (length 17..=48 MB, a known opcode) and the body's fixed
//! fields: OP_MSG flag bits and section 0's BSON document (length, element type, key),
//! OP_QUERY flags, `db.collection` name and query document, OP_REPLY flags and first
//! document, OP_COMPRESSED's original opcode and compressor. `responseTo` is not checked
//! (drivers send -1 as well as 0).
//!
//! Parser: one `mongodb` event per client request (up to [`MAX_REQUESTS`]):
//! `{"opcode","request_id","command","database"}`; command = first key of the command
//! document, database = `$db` (OP_MSG) or the collection's prefix (OP_QUERY).
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::{Error, HEADER};

pub const DESC: Desc = Desc {
    proto: AppProto::Mongodb,
    tcp: Some(probe),
    udp: None,
    ports: &[27017],
    stream: StreamKind::Mongodb,
    datagram: None,
};

/// Requests logged per flow.
pub const MAX_REQUESTS: u32 = 32;
/// Messages longer than this are read through their first [`PREFIX`] bytes and skipped.
const MAX_WHOLE_MESSAGE: usize = 8192;
const PREFIX: usize = 4096;
/// Longest command or database name written.
const MAX_NAME: usize = 128;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let h = match parser::header(b) {
        Ok(h) => h,
        Err(Error::Incomplete) => return Probe::NeedMore,
        Err(Error::Invalid) => return Probe::NoMatch,
    };
    let body = b.get(HEADER..(h.len as usize).min(b.len())).unwrap_or(&[]);
    match parser::body(&h, body) {
        Ok(_) => Probe::Match,
        // Only the message's own bytes count: past its end the body is invalid.
        Err(Error::Incomplete) if b.len() < h.len as usize => Probe::NeedMore,
        Err(_) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Event<'a> {
    opcode: &'static str,
    request_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<Text<'a>>,
}

#[derive(Debug, Default)]
pub struct State {
    requests: u32,
    lost: bool,
}

fn name(b: &[u8]) -> Text<'_> {
    Text(b.get(..MAX_NAME).unwrap_or(b))
}

impl State {
    fn client(&mut self, b: &[u8], cx: &mut Cx<'_>) -> usize {
        let mut off = 0;
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
            let len = h.len as usize;
            let msg = match rest.get(..len) {
                Some(m) => m,
                None if len > MAX_WHOLE_MESSAGE => match rest.get(..PREFIX) {
                    Some(m) => m,
                    None => break,
                },
                None => break,
            };
            off += len;
            let (command, database) = parser::body(&h, msg.get(HEADER..).unwrap_or(&[])).unwrap_or((None, None));
            let ev = Event {
                opcode: parser::opcode_name(h.opcode),
                request_id: h.request_id,
                command: command.filter(|c| !c.is_empty()).map(name),
                database: database.map(name),
            };
            cx.emit(TO_SERVER, "mongodb", &ev);
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

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// OP_QUERY `admin.$cmd` {isMaster: 1} (from nDPI's mongodb.pcap, responseTo = -1).
    fn query() -> Vec<u8> {
        hex("4900000087910000ffffffffd407000000000000496e616374697665557365724964656e746974792e24636d6400000000000100000013000000106765746e6f6e6365000100000000")
    }

    fn op_msg(id: u32) -> Vec<u8> {
        let doc = b"\x25\x00\x00\x00\x10isMaster\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00";
        let len = (HEADER + 4 + 1 + doc.len()) as u32;
        let mut m = len.to_le_bytes().to_vec();
        m.extend_from_slice(&id.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&2013u32.to_le_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0]);
        m.extend_from_slice(doc);
        m
    }

    fn reply() -> Vec<u8> {
        let doc = b"\x11\x00\x00\x00\x01ok\x00\x00\x00\x00\x00\x00\x00\xf0\x3f\x00";
        let len = (HEADER + 20 + doc.len()) as u32;
        let mut m = len.to_le_bytes().to_vec();
        m.extend_from_slice(&[9, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0]);
        m.extend_from_slice(&[8, 0, 0, 0]); // flags: AwaitCapable
        m.extend_from_slice(&[0; 12]);
        m.extend_from_slice(&1u32.to_le_bytes());
        m.extend_from_slice(doc);
        m
    }

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(0, &query()), Probe::Match);
        assert_eq!(p(0, &op_msg(1)), Probe::Match);
        assert_eq!(p(1, &reply()), Probe::Match);
        let m = op_msg(1);
        for n in 0..30 {
            assert_eq!(p(0, &m[..n]), Probe::NeedMore, "{n}");
        }
        let mut bad = m.clone();
        bad[12] = 0xd5; // opcode 2005 -> legacy OP_GET_MORE with a non-name body
        assert_eq!(p(0, &bad), Probe::NoMatch);
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 27017);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        for c in chunks {
            st.data(0, c, &mut buf, &mut cx);
            st.data(1, &reply(), &mut MsgBuf::default(), &mut cx);
        }
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn requests_split_or_whole() {
        let all = [query(), op_msg(5)].concat();
        let whole = run(&[&all]);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].1, "mongodb");
        assert_eq!(whole[0].2["opcode"], "OP_QUERY");
        assert_eq!(whole[0].2["command"], "getnonce");
        assert_eq!(whole[0].2["database"], "InactiveUserIdentity");
        assert_eq!(
            whole[1].2,
            serde_json::json!({"opcode": "OP_MSG", "request_id": 5, "command": "isMaster", "database": "admin"})
        );
        let split: Vec<&[u8]> = all.chunks(5).collect();
        assert_eq!(run(&split), whole);
    }
}
