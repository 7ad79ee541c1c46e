//! Redis (RESP): identification and the commands a client sends.
//!
//! Probe: a client array `*N\r\n$L\r\n` (valid digits, counts in bounds), a server array,
//! bulk string or integer reply, `+PONG`, or an inline command only Redis has. `+OK`,
//! `-ERR`, `PING`, `QUIT`, `AUTH` alone say nothing (POP3, FTP and NATS write them too).
//!
//! Parser: walks the client's arrays (skipping large arguments without buffering them) and
//! keeps the command names (the first element of each array, or an inline command's first
//! word), up to [`MAX_COMMANDS`]; one `redis` event `{"commands":[...]}` is written when
//! the list is full or the flow ends.
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Error;

pub const DESC: Desc = Desc {
    proto: AppProto::Redis,
    tcp: Some(probe),
    udp: None,
    ports: &[6379],
    stream: StreamKind::Redis,
    datagram: None,
};

/// Command names kept per flow.
pub const MAX_COMMANDS: usize = 32;
/// Longest command name kept (longer ones are cut).
pub const MAX_NAME: usize = 32;

fn verdict<T>(r: Result<T, Error>) -> Probe {
    match r {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    match b.first() {
        None => Probe::NeedMore,
        Some(b'*') => verdict(parser::header(b, b'*').and_then(|(n, rest)| match (n, rest.first()) {
            (Some(0), _) | (None, _) => Ok(()),
            (_, None) => Err(Error::Incomplete),
            (_, Some(b'$')) => parser::header(rest, b'$').map(|_| ()),
            // Nested arrays, integers, statuses: server replies (COMMAND, SCAN, ...).
            (_, Some(b'*' | b':' | b'+' | b'-')) => parser::line(rest).map(|_| ()),
            _ => Err(Error::Invalid),
        })),
        Some(b'$') => verdict(parser::header(b, b'$').and_then(|(n, rest)| {
            let n = n.unwrap_or(0) as usize;
            if n > parser::MAX_LINE {
                return Ok(());
            }
            match rest.get(n..n + 2) {
                Some(b"\r\n") => Ok(()),
                Some(_) => Err(Error::Invalid),
                None => Err(Error::Incomplete),
            }
        })),
        Some(b':') => verdict(parser::line(b).and_then(|(l, _)| {
            let d = l.get(1..).unwrap_or(&[]);
            parser::number(d.strip_prefix(b"-").unwrap_or(d))
        })),
        Some(b'+') => match parser::line(b) {
            Ok((b"+PONG", _)) => Probe::Match,
            Ok(_) => Probe::NeedMore,
            Err(e) => verdict::<()>(Err(e)),
        },
        Some(b'-') => match parser::line(b) {
            Err(Error::Invalid) => Probe::NoMatch,
            Ok((l, _)) if l.starts_with(b"-NOAUTH ") || l.starts_with(b"-WRONGTYPE ") || l.starts_with(b"-MOVED ") => {
                Probe::Match
            }
            _ => Probe::NeedMore,
        },
        Some(c) if c.is_ascii_alphabetic() => match parser::line(b) {
            Ok((l, _)) => {
                if parser::inline_command(l).is_some() {
                    Probe::Match
                } else if [&b"PING"[..], b"QUIT", b"AUTH", b"ECHO"]
                    .iter()
                    .any(|w| l.get(..4).is_some_and(|x| x.eq_ignore_ascii_case(w)))
                {
                    Probe::NeedMore
                } else {
                    Probe::NoMatch
                }
            }
            Err(Error::Incomplete) if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ' || *c == b'\r') => {
                Probe::NeedMore
            }
            Err(_) => Probe::NoMatch,
        },
        Some(_) => Probe::NoMatch,
    }
}

#[derive(Serialize)]
struct Event<'a> {
    commands: &'a [String],
}

#[derive(Debug, Default)]
pub struct State {
    commands: Vec<String>,
    /// Elements left in the client's current array.
    elements: u64,
    /// The next element is the array's first (the command name).
    first: bool,
    /// The client's stream can no longer be followed (a gap, or not RESP).
    lost: bool,
    written: bool,
}

impl State {
    fn keep(&mut self, name: &[u8]) {
        if self.commands.len() < MAX_COMMANDS {
            let name = name.get(..MAX_NAME).unwrap_or(name);
            self.commands.push(String::from_utf8_lossy(name).to_ascii_uppercase());
        }
    }

    /// Consumes whole items of `b`; may return more than `b.len()` (a large argument to
    /// skip). Sets `lost` on bytes that are not RESP.
    fn client(&mut self, mut b: &[u8]) -> usize {
        let start = b.len();
        while self.commands.len() < MAX_COMMANDS {
            if self.elements == 0 {
                let r = match b.first() {
                    None => return start - b.len(),
                    Some(b'*') => parser::header(b, b'*').map(|(n, rest)| {
                        self.elements = n.unwrap_or(0);
                        self.first = true;
                        rest
                    }),
                    Some(_) => parser::line(b).map(|(l, rest)| {
                        let name = l.split(|&c| c == b' ').find(|w| !w.is_empty()).unwrap_or(&[]);
                        if !name.is_empty() {
                            self.keep(name);
                        }
                        rest
                    }),
                };
                match r {
                    Ok(rest) => b = rest,
                    Err(Error::Incomplete) => break,
                    Err(Error::Invalid) => {
                        self.lost = true;
                        break;
                    }
                }
                continue;
            }
            let (n, rest) = match parser::header(b, b'$') {
                Ok((n, rest)) => (n.unwrap_or(0) as usize, rest),
                Err(Error::Incomplete) => break,
                Err(Error::Invalid) => {
                    self.lost = true;
                    break;
                }
            };
            if self.first {
                let Some(name) = rest.get(..n) else { break };
                let name = name.to_vec();
                self.keep(&name);
                self.first = false;
            }
            self.elements -= 1;
            let used = start - rest.len() + n + 2;
            match rest.get(n + 2..) {
                Some(r) => b = r,
                None => return used,
            }
        }
        start - b.len()
    }

    fn write(&mut self, cx: &mut Cx<'_>) {
        if !self.written && !self.commands.is_empty() {
            cx.emit(TO_SERVER, "redis", &Event { commands: &self.commands });
            self.written = true;
        }
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        if dir != TO_SERVER {
            return Next::More;
        }
        if !self.lost && !buf.feed(data, |b| self.client(b)) {
            self.lost = true;
        }
        if self.lost || self.commands.len() >= MAX_COMMANDS {
            self.write(cx);
            return Next::Done;
        }
        Next::More
    }

    fn gap(&mut self, dir: usize) -> Next {
        if dir == TO_SERVER {
            self.lost = true;
        }
        Next::More
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        self.write(cx);
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
        b"+OK POP3 server ready\r\n",
        b"INFO {\"server_id\":\"x\"}\r\n",
        b"QUIT\r\n",
    ];
    // From a real capture: `COMMAND` (client), the start of its reply (server).
    const CLIENT: &[u8] = b"*1\r\n$7\r\nCOMMAND\r\n";
    const SERVER: &[u8] = b"*240\r\n*10\r\n$11\r\nsinterstore\r\n:-3\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(0, CLIENT), Probe::Match);
        assert_eq!(p(1, SERVER), Probe::Match);
        assert_eq!(p(1, b"$5\r\nhello\r\n"), Probe::Match);
        assert_eq!(p(1, b":42\r\n"), Probe::Match);
        assert_eq!(p(1, b"+PONG\r\n"), Probe::Match);
        assert_eq!(p(0, b"info server\r\n"), Probe::Match);
        assert_eq!(p(0, b"PING\r\n"), Probe::NeedMore);
        assert_eq!(p(1, b"+OK\r\n"), Probe::NeedMore);
        for n in 0..8 {
            assert_eq!(p(0, &CLIENT[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b"*1\r\nX"), Probe::NoMatch);
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 6379);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        for c in chunks {
            st.data(0, c, &mut buf, &mut cx);
            st.data(1, b"+OK\r\n", &mut MsgBuf::default(), &mut cx);
        }
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn commands_are_listed_split_or_whole() {
        let big = vec![b'x'; 40000];
        let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$40000\r\n".to_vec();
        set.extend_from_slice(&big);
        set.extend_from_slice(b"\r\n");
        let mut all = CLIENT.to_vec();
        all.extend_from_slice(&set);
        all.extend_from_slice(b"*2\r\n$3\r\nget\r\n$1\r\nk\r\nping\r\n");
        let whole = run(&[&all]);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].1, "redis");
        assert_eq!(whole[0].2["commands"], serde_json::json!(["COMMAND", "SET", "GET", "PING"]));
        let split: Vec<&[u8]> = all.chunks(3).collect();
        assert_eq!(run(&split), whole);
    }
}
