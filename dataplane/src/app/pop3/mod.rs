//! POP3: identification, the client's commands and user name.
//!
//! Probe: a server `+OK <text>` line (a bare `+OK` is Redis' too), or a client line only
//! POP3 sends (`CAPA`, `STLS`, `UIDL`, `TOP n m`, `RETR n`, `APOP name digest`); `USER`,
//! `PASS`, `QUIT`, ... are FTP's as well and wait for the server's answer.
//!
//! Parser: one `pop3` event `{"commands":[...],"user":...}` per flow, written when the
//! flow ends, the list is full, or STLS is accepted (the rest is TLS).
use crate::app::bytes::{prefix_state, starts_with_nocase};
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Lines;

pub const DESC: Desc = Desc {
    proto: AppProto::Pop3,
    tcp: Some(probe),
    udp: None,
    ports: &[110],
    stream: StreamKind::Pop3,
    datagram: None,
};

/// Commands kept per flow.
pub const MAX_COMMANDS: usize = 32;
/// Longest user name kept.
pub const MAX_USER: usize = 256;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let Some(&c0) = b.first() else { return Probe::NeedMore };
    let line = b.iter().position(|&c| c == b'\n').and_then(|e| b.get(..e));
    let line = line.map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    match c0 {
        b'+' => match (prefix_state(b, b"+OK", false), line) {
            (Some(false), _) => Probe::NoMatch,
            (_, None) => Probe::NeedMore,
            (_, Some(l)) if l.len() > 4 && l.get(3) == Some(&b' ') => Probe::Match,
            _ => Probe::NeedMore,
        },
        b'-' => match prefix_state(b, b"-ERR", false) {
            Some(false) => Probe::NoMatch,
            _ => Probe::NeedMore,
        },
        _ => {
            let word = b.iter().take(5).position(|&c| c == b' ' || c == b'\r' || c == b'\n');
            let word = b.get(..word.unwrap_or(b.len().min(5))).unwrap_or(&[]);
            if !parser::COMMANDS.iter().any(|c| starts_with_nocase(c, word) && word.len() <= c.len()) {
                return Probe::NoMatch;
            }
            match line {
                Some(l) if parser::pop3_only(l) => Probe::Match,
                _ => Probe::NeedMore,
            }
        }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    commands: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Text<'a>>,
}

#[derive(Debug, Default)]
pub struct State {
    client: Lines,
    server: Lines,
    commands: Vec<String>,
    user: Option<Vec<u8>>,
    stls: bool,
    done: bool,
    written: bool,
}

impl State {
    fn write(&mut self, cx: &mut Cx<'_>) {
        if !self.written && (!self.commands.is_empty() || self.user.is_some()) {
            self.written = true;
            cx.emit(TO_SERVER, "pop3", &Event { commands: &self.commands, user: self.user.as_deref().map(Text) });
        }
    }

    fn client_line(&mut self, l: &[u8]) {
        let (verb, arg) = parser::command(l);
        if !parser::COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(verb)) {
            return; // SASL exchange lines, or garbage
        }
        if verb.eq_ignore_ascii_case(b"USER") || verb.eq_ignore_ascii_case(b"APOP") {
            let name = arg.split(|&c| c == b' ').next().unwrap_or(&[]);
            self.user = Some(name.get(..MAX_USER).unwrap_or(name).to_vec());
        }
        self.stls |= verb.eq_ignore_ascii_case(b"STLS");
        if self.commands.len() < MAX_COMMANDS {
            self.commands.push(String::from_utf8_lossy(verb).to_ascii_uppercase());
        }
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        if dir == TO_SERVER {
            let mut lines = std::mem::take(&mut self.client);
            buf.feed(data, |b| {
                lines.feed(b, |l| {
                    self.client_line(l);
                    true
                })
            });
            self.client = lines;
        } else if self.stls {
            let mut lines = std::mem::take(&mut self.server);
            buf.feed(data, |b| {
                lines.feed(b, |l| {
                    if l.starts_with(b"+OK") {
                        self.done = true;
                    } else if l.starts_with(b"-ERR") {
                        self.stls = false;
                    }
                    !self.done && self.stls
                })
            });
            self.server = lines;
        }
        if self.done {
            cx.set_app(AppProto::Tls);
        }
        if self.done || self.commands.len() >= MAX_COMMANDS {
            self.write(cx);
            return Next::Done;
        }
        Next::More
    }

    fn gap(&mut self, dir: usize) -> Next {
        if dir == TO_SERVER {
            self.client = Lines::default();
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
        b"+OK\r\n",
        b"220 mx ESMTP\r\n",
        b"* OK IMAP4rev1 ready\r\n",
    ];
    // From a real capture (nDPI's pop3.pcap).
    const BANNER: &[u8] = b"+OK POP server ready H migmxus005\r\n";
    const CLIENT: &[u8] = b"user cicciopernacchio@mail.com\r\npass pippozzo\r\nCAPA\r\nRETR 1\r\nQUIT\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(1, BANNER), Probe::Match);
        assert_eq!(p(0, b"CAPA\r\n"), Probe::Match);
        assert_eq!(p(0, b"STLS\r\n"), Probe::Match);
        assert_eq!(p(0, CLIENT), Probe::NeedMore);
        for n in 0..BANNER.len() {
            assert_eq!(p(1, &BANNER[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 110);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        st.data(1, BANNER, &mut sbuf, &mut cx);
        for c in chunks {
            st.data(0, c, &mut cbuf, &mut cx);
        }
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn commands_and_user_split_or_whole() {
        let whole = run(&[CLIENT]);
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].1, "pop3");
        assert_eq!(whole[0].2["user"], "cicciopernacchio@mail.com");
        assert_eq!(whole[0].2["commands"], serde_json::json!(["USER", "PASS", "CAPA", "RETR", "QUIT"]));
        let split: Vec<&[u8]> = CLIENT.chunks(4).collect();
        assert_eq!(run(&split), whole);
    }

    #[test]
    fn stls_ends_parsing() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 110);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"STLS\r\n", &mut cbuf, &mut cx), Next::More);
        assert_eq!(st.data(1, b"+OK Begin TLS\r\n", &mut sbuf, &mut cx), Next::Done);
        assert_eq!(cx.refined(), Some(AppProto::Tls));
        assert_eq!(out.0.len(), 1);
    }
}
