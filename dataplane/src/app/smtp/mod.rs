//! SMTP: identification and the mail transactions (Suricata's `smtp` event).
//!
//! Probe: a server banner `220` whose first line names SMTP/ESMTP (a 220 banner without
//! those words is FTP's as well: NeedMore, the client's command decides), an EHLO reply
//! listing ESMTP extensions, or a client `EHLO`/`HELO`/`MAIL FROM:`/`RCPT TO:` line.
//!
//! Parser: follows the client's commands; a transaction starts at `MAIL FROM` and ends at
//! the end of its DATA (`.` line), `RSET`, the next `MAIL FROM` or the end of the flow, and
//! is written as `{"helo","mail_from","rcpt_to":[...]}`. A STARTTLS the server accepts
//! (220) ends parsing: the rest is TLS.
use crate::app::bytes::starts_with_nocase;
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;

pub mod parser;
use parser::Lines;

pub const DESC: Desc = Desc {
    proto: AppProto::Smtp,
    tcp: Some(probe),
    udp: None,
    ports: &[25, 587],
    stream: StreamKind::Smtp,
    datagram: None,
};

/// Transactions written per flow.
pub const MAX_TX: u32 = 32;
/// Recipients kept per transaction.
pub const MAX_RCPT: usize = 32;
/// Longest HELO name or address kept.
pub const MAX_FIELD: usize = 256;
/// Client commands a stream may start with (for NoMatch on anything else).
const COMMANDS: &[&[u8]] = &[
    b"EHLO",
    b"HELO",
    b"MAIL",
    b"RCPT",
    b"DATA",
    b"QUIT",
    b"RSET",
    b"NOOP",
    b"AUTH",
    b"STARTTLS",
    b"VRFY",
    b"EXPN",
    b"HELP",
    b"BDAT",
];
/// ESMTP extensions only an SMTP server lists.
const EXTENSIONS: &[&[u8]] = &[b"PIPELINING", b"8BITMIME", b"ENHANCEDSTATUSCODES", b"SMTPUTF8", b"CHUNKING", b"DSN"];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let Some(&c0) = b.first() else { return Probe::NeedMore };
    if c0.is_ascii_digit() {
        return server(b);
    }
    let word = b.iter().take(9).position(|&c| c == b' ' || c == b'\r' || c == b'\n');
    let word = b.get(..word.unwrap_or(b.len().min(9))).unwrap_or(&[]);
    if !COMMANDS.iter().any(|c| starts_with_nocase(c, word) || starts_with_nocase(word, c)) {
        return Probe::NoMatch;
    }
    for c in [&b"EHLO "[..], b"HELO ", b"MAIL FROM:", b"RCPT TO:"] {
        if starts_with_nocase(b, c) {
            return Probe::Match;
        }
    }
    Probe::NeedMore
}

fn server(b: &[u8]) -> Probe {
    let mut verdict = Probe::NeedMore;
    Lines::default().feed(b, |l| {
        let Some((code, _, text)) = parser::reply(l) else {
            verdict = Probe::NoMatch;
            return false;
        };
        let smtp_word = text.windows(4).any(|w| w.eq_ignore_ascii_case(b"SMTP"));
        let ext = EXTENSIONS.iter().any(|e| starts_with_nocase(text, e));
        if (code == 220 && smtp_word) || (code == 250 && ext) {
            verdict = Probe::Match;
            return false;
        }
        true
    });
    if verdict == Probe::NeedMore && parser::reply(b.get(..4).unwrap_or(b)).is_none() && b.len() >= 4 {
        return Probe::NoMatch;
    }
    verdict
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    helo: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mail_from: Option<Text<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rcpt_to: &'a [Text<'a>],
}

#[derive(Debug, Default)]
struct Tx {
    mail_from: Vec<u8>,
    rcpt_to: Vec<Vec<u8>>,
}

#[derive(Debug, Default)]
pub struct State {
    client: Lines,
    server: Lines,
    helo: Option<Vec<u8>>,
    tx: Option<Tx>,
    written: u32,
    /// Inside DATA: client lines are message content until a `.` line.
    in_data: bool,
    starttls: bool,
    tls: bool,
}

fn bounded(b: &[u8]) -> Vec<u8> {
    b.get(..MAX_FIELD).unwrap_or(b).to_vec()
}

impl State {
    /// Writes the open transaction; with `helo_only`, a session that only greeted (and
    /// then started TLS) is written too, as Suricata does.
    fn write_tx(&mut self, cx: &mut Cx<'_>, helo_only: bool) {
        let tx = self.tx.take();
        if self.written >= MAX_TX || (tx.is_none() && !(helo_only && self.helo.is_some())) {
            return;
        }
        self.written += 1;
        let rcpt: Vec<Text<'_>> = tx.iter().flat_map(|t| t.rcpt_to.iter()).map(|r| Text(r)).collect();
        let ev = Event {
            helo: self.helo.as_deref().map(Text),
            mail_from: tx.as_ref().map(|t| Text(&t.mail_from)),
            rcpt_to: &rcpt,
        };
        cx.emit(TO_SERVER, "smtp", &ev);
    }

    fn write(&mut self, cx: &mut Cx<'_>) {
        self.write_tx(cx, false);
    }

    fn client_line(&mut self, l: &[u8], cx: &mut Cx<'_>) {
        if self.in_data {
            if l == b"." {
                self.in_data = false;
                self.write(cx);
            }
            return;
        }
        let (verb, arg) = parser::command(l);
        if verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO") {
            self.helo = Some(bounded(arg));
        } else if verb.eq_ignore_ascii_case(b"MAIL") {
            self.write(cx);
            self.tx = Some(Tx { mail_from: bounded(parser::path_param(arg)), rcpt_to: Vec::new() });
        } else if verb.eq_ignore_ascii_case(b"RCPT") {
            if let Some(tx) = self.tx.as_mut().filter(|t| t.rcpt_to.len() < MAX_RCPT) {
                tx.rcpt_to.push(bounded(parser::path_param(arg)));
            }
        } else if verb.eq_ignore_ascii_case(b"DATA") {
            self.in_data = true;
        } else if verb.eq_ignore_ascii_case(b"RSET") {
            self.write(cx);
        } else if verb.eq_ignore_ascii_case(b"STARTTLS") {
            self.starttls = true;
        }
    }

    fn server_line(&mut self, l: &[u8], cx: &mut Cx<'_>) {
        let Some((code, more, _)) = parser::reply(l) else { return };
        if more || !self.starttls {
            return;
        }
        self.starttls = false;
        if code == 220 {
            self.write_tx(cx, true);
            self.tls = true;
            cx.set_app(AppProto::Tls);
        }
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let mut lines = std::mem::take(if dir == TO_SERVER { &mut self.client } else { &mut self.server });
        buf.feed(data, |b| {
            lines.feed(b, |l| {
                if dir == TO_SERVER {
                    self.client_line(l, cx);
                } else {
                    self.server_line(l, cx);
                }
                !self.tls
            })
        });
        *(if dir == TO_SERVER { &mut self.client } else { &mut self.server }) = lines;
        if self.tls || self.written >= MAX_TX {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, dir: usize) -> Next {
        if dir == TO_SERVER {
            // Resume at the next line; content lost in DATA ends nothing by itself.
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
        b"220 ProFTPD 1.3.5 Server (Debian) [::ffff:10.0.0.1]\r\n",
        b"USER anonymous\r\n",
    ];
    const BANNER: &[u8] = b"220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n";
    const CLIENT: &[u8] = b"EHLO client.example.com\r\nMAIL FROM:<alice@example.com> SIZE=1024\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\nSubject: hi\r\n\r\nMAIL FROM: not a command\r\n.\r\nQUIT\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(1, BANNER), Probe::Match);
        assert_eq!(p(0, CLIENT), Probe::Match);
        assert_eq!(p(1, b"220-mail.example.com\r\n220 ESMTP ready\r\n"), Probe::Match);
        assert_eq!(p(1, b"250-mx.example.org\r\n250-PIPELINING\r\n"), Probe::Match);
        assert_eq!(p(1, b"220 Welcome\r\n"), Probe::NeedMore);
        for n in 0..5 {
            assert_eq!(p(0, &CLIENT[..n]), Probe::NeedMore, "{n}");
            assert_eq!(p(1, &BANNER[..n]), Probe::NeedMore, "{n}");
        }
        assert_eq!(p(0, b""), Probe::NeedMore);
        for f in FOREIGN {
            assert_ne!(p(0, f), Probe::Match, "{}", String::from_utf8_lossy(f));
            assert_ne!(p(1, f), Probe::Match);
        }
    }

    fn run(chunks: &[&[u8]], server: &[u8]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 25);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        st.data(1, BANNER, &mut sbuf, &mut cx);
        for c in chunks {
            if st.data(0, c, &mut cbuf, &mut cx) == Next::Done {
                return out.0;
            }
        }
        st.data(1, server, &mut sbuf, &mut cx);
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn transactions_are_written_split_or_whole() {
        let whole = run(&[CLIENT], b"221 bye\r\n");
        assert_eq!(whole.len(), 1);
        let ev = &whole[0].2;
        assert_eq!(whole[0].1, "smtp");
        assert_eq!(ev["helo"], "client.example.com");
        assert_eq!(ev["mail_from"], "<alice@example.com>");
        assert_eq!(ev["rcpt_to"], serde_json::json!(["<bob@example.org>", "<carol@example.org>"]));
        let split: Vec<&[u8]> = CLIENT.chunks(5).collect();
        assert_eq!(run(&split, b"221 bye\r\n"), whole);
    }

    #[test]
    fn starttls_ends_parsing() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 25);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"EHLO x\r\nSTARTTLS\r\n", &mut cbuf, &mut cx), Next::More);
        assert_eq!(st.data(1, b"220 2.0.0 Ready to start TLS\r\n", &mut sbuf, &mut cx), Next::Done);
        assert_eq!(cx.refined(), Some(AppProto::Tls));
    }
}
