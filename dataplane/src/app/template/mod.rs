//! Template for a new protocol (copy this folder; it is compiled and tested, never
//! registered). A fictional message protocol: each message is the magic `TMPL`, a
//! big-endian u16 body length and the body; the server answers with the same framing.
//!
//! Layout of every protocol folder:
//! - `parser.rs`: pure functions over bytes (no state, no side effects), each returning
//!   `Ok(value, rest)`, `Err(Incomplete)` or `Err(Invalid)`; tests beside them;
//! - `mod.rs`: `DESC` (what the engine needs), the probe(s), and the per-flow `State`
//!   (a [`StreamParser`]) that turns parsed messages into EVE events. Hard limits are named
//!   constants; hitting one is counted or ends parsing, never a panic.
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::Serialize;

pub mod parser;

/// Not registered: `proto` is a placeholder.
pub const DESC: Desc = Desc {
    proto: AppProto::None,
    tcp: Some(probe),
    udp: None,
    ports: &[9999],
    stream: StreamKind::None,
    datagram: None,
};

/// Messages logged per flow at most.
pub const MAX_MESSAGES: u32 = 64;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match parser::header(i.data) {
        Ok(_) => Probe::Match,
        Err(parser::Error::Incomplete) => Probe::NeedMore,
        Err(parser::Error::Invalid) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Event<'a> {
    direction: &'static str,
    body: Text<'a>,
}

#[derive(Debug, Default)]
pub struct State {
    messages: u32,
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let mut invalid = false;
        let messages = &mut self.messages;
        buf.feed(data, |mut b| {
            let start = b.len();
            while *messages < MAX_MESSAGES {
                match parser::message(b) {
                    Ok((body, rest)) => {
                        let direction = if dir == 0 { "to_server" } else { "to_client" };
                        cx.emit(dir, "template", &Event { direction, body: Text(body) });
                        *messages += 1;
                        b = rest;
                    }
                    Err(parser::Error::Incomplete) => break,
                    Err(parser::Error::Invalid) => {
                        invalid = true;
                        break;
                    }
                }
            }
            start - b.len()
        });
        if invalid || self.messages >= MAX_MESSAGES {
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

    #[test]
    fn probe_and_parse_split_messages() {
        assert_eq!(probe(&ProbeInput::new(L4::Tcp, 0, b"TMPL\x00\x02hi")), Probe::Match);
        assert_eq!(probe(&ProbeInput::new(L4::Tcp, 0, b"TM")), Probe::NeedMore);
        assert_eq!(probe(&ProbeInput::new(L4::Tcp, 0, b"GET / HTTP/1.1")), Probe::NoMatch);

        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 9999);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"TMPL\x00\x02hiTMPL\x00", &mut buf, &mut cx), Next::More);
        assert_eq!(st.data(0, b"\x03abc", &mut buf, &mut cx), Next::More);
        assert_eq!(st.data(0, b"junk!!", &mut buf, &mut cx), Next::Done);
        let bodies: Vec<_> = out.0.iter().map(|(_, _, v)| v["body"].as_str().unwrap_or("").to_string()).collect();
        assert_eq!(bodies, ["hi", "abc"]);
    }
}
