//! IMAP: identification, the client's commands and user name.
//!
//! Probe: a server greeting (`* OK`, `* PREAUTH`, `* BYE`) or untagged CAPABILITY, a
//! tagged status (`a1 OK ...`), or a client tagged command (`a001 LOGIN ...`) whose tag has
//! IMAP's characters and whose command is IMAP's.
//!
//! Parser: one `imap` event `{"commands":[...],"user":...}` per flow, written when the
//! flow ends, the list is full, or a STARTTLS is accepted (tagged OK: the rest is TLS).
use crate::app::bytes::prefix_state;
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Lines;

pub const DESC: Desc = Desc {
    proto: AppProto::Imap,
    tcp: Some(probe),
    udp: None,
    ports: &[143],
    stream: StreamKind::Imap,
    datagram: None,
};

/// Commands kept per flow.
pub const MAX_COMMANDS: usize = 32;
/// Longest user name kept.
pub const MAX_USER: usize = 256;

const GREETINGS: [&[u8]; 4] = [b"* OK".as_slice(), b"* PREAUTH", b"* BYE", b"* CAPABILITY "];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    if b.first() == Some(&b'*') {
        let states: [Option<bool>; 4] = GREETINGS.map(|g| prefix_state(b, g, true));
        return if states.contains(&Some(true)) {
            Probe::Match
        } else if states.contains(&None) {
            Probe::NeedMore
        } else {
            Probe::NoMatch
        };
    }
    if b.first() == Some(&b'+') {
        return Probe::NeedMore; // a continuation request says nothing alone
    }
    let Some(end) = b.iter().position(|&c| c == b'\n') else {
        let tag = b.split(|&c| c == b' ').next().unwrap_or(&[]);
        let ok = (tag.is_empty() || parser::is_tag(tag)) && b.len() < parser::MAX_LINE;
        return if ok { Probe::NeedMore } else { Probe::NoMatch };
    };
    let l = b.get(..end).unwrap_or(&[]);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let Some((_, word, rest)) = parser::tagged(l) else {
        return Probe::NoMatch;
    };
    let status = [&b"OK"[..], b"NO", b"BAD"].iter().any(|s| s.eq_ignore_ascii_case(word)) && !rest.is_empty();
    if status || parser::is_command(word) {
        Probe::Match
    } else {
        Probe::NoMatch
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
    /// The tag of a STARTTLS waiting for its answer.
    starttls: Option<Vec<u8>>,
    tls: bool,
    written: bool,
}

impl State {
    fn write(&mut self, cx: &mut Cx<'_>) {
        if !self.written && (!self.commands.is_empty() || self.user.is_some()) {
            self.written = true;
            cx.emit(TO_SERVER, "imap", &Event { commands: &self.commands, user: self.user.as_deref().map(Text) });
        }
    }

    fn client_line(&mut self, l: &[u8]) {
        let Some((tag, cmd, rest)) = parser::tagged(l) else { return };
        if !parser::is_command(cmd) {
            return; // literal data, SASL lines
        }
        if cmd.eq_ignore_ascii_case(b"LOGIN") {
            let u = parser::first_astring(rest);
            self.user = Some(u.get(..MAX_USER).unwrap_or(u).to_vec());
        } else if cmd.eq_ignore_ascii_case(b"STARTTLS") {
            self.starttls = Some(tag.to_vec());
        }
        if self.commands.len() < MAX_COMMANDS {
            self.commands.push(String::from_utf8_lossy(cmd).to_ascii_uppercase());
        }
    }

    fn server_line(&mut self, l: &[u8]) {
        let Some(want) = self.starttls.as_deref() else { return };
        let Some((tag, status, _)) = parser::tagged(l) else { return };
        if tag == want {
            self.tls = status.eq_ignore_ascii_case(b"OK");
            self.starttls = None;
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
        } else if self.starttls.is_some() {
            let mut lines = std::mem::take(&mut self.server);
            buf.feed(data, |b| {
                lines.feed(b, |l| {
                    self.server_line(l);
                    self.starttls.is_some()
                })
            });
            self.server = lines;
        }
        if self.tls {
            cx.set_app(AppProto::Tls);
        }
        if self.tls || self.commands.len() >= MAX_COMMANDS {
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
        b"+OK POP3 ready\r\n",
        b"USER bob\r\n",
        b"220 mx ESMTP\r\n",
    ];
    const BANNER: &[u8] = b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE STARTTLS AUTH=PLAIN] Dovecot ready.\r\n";
    const CLIENT: &[u8] = b"a001 CAPABILITY\r\na002 LOGIN \"bob\" secret\r\na003 SELECT INBOX\r\na004 LOGOUT\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(1, BANNER), Probe::Match);
        assert_eq!(p(0, CLIENT), Probe::Match);
        assert_eq!(p(1, b"a001 OK LOGIN completed\r\n"), Probe::Match);
        for n in 0..16 {
            assert_eq!(p(0, &CLIENT[..n]), Probe::NeedMore, "{n}");
        }
        for n in 0..4 {
            assert_eq!(p(1, &BANNER[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b"a001 FROBNICATE\r\n"), Probe::NoMatch);
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 143);
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
        assert_eq!(whole[0].1, "imap");
        assert_eq!(whole[0].2["user"], "bob");
        assert_eq!(whole[0].2["commands"], serde_json::json!(["CAPABILITY", "LOGIN", "SELECT", "LOGOUT"]));
        let split: Vec<&[u8]> = CLIENT.chunks(7).collect();
        assert_eq!(run(&split), whole);
    }

    #[test]
    fn starttls_ends_parsing() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 143);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"a1 STARTTLS\r\n", &mut cbuf, &mut cx), Next::More);
        assert_eq!(st.data(1, b"a1 OK Begin TLS negotiation now\r\n", &mut sbuf, &mut cx), Next::Done);
        assert_eq!(cx.refined(), Some(AppProto::Tls));
    }
}
