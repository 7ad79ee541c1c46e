//! FTP (control connection): identification and Suricata's `ftp` event per command.
//!
//! Probe: a server `220` banner naming an FTP server (a bare 220 is SMTP's too: NeedMore),
//! a reply code only FTP uses (331, 227, 229, 257, 150, 226, 125), or a client command only
//! FTP has (SYST, PASV, EPSV, PORT h,h,h,h,p,p, FEAT, AUTH TLS, TYPE, PWD, CWD, ...);
//! `USER`/`PASS` are POP3's too and wait for the server.
//!
//! Parser: pairs each command with its (possibly multi-line) reply and writes
//! `{"command","command_data","reply":[...],"completion_code":[...],"dynamic_port","mode",
//! "reply_received"}`; the banner is written as a reply without a command. The engine ties
//! data connections to `dynamic_port`. An accepted `AUTH TLS` (234) ends parsing.
use crate::app::bytes::starts_with_nocase;
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text, TO_SERVER};
use serde::Serialize;
use std::collections::VecDeque;

pub mod parser;
use parser::Lines;

pub const DESC: Desc =
    Desc { proto: AppProto::Ftp, tcp: Some(probe), udp: None, ports: &[21], stream: StreamKind::Ftp, datagram: None };

/// Transactions written per flow.
pub const MAX_TX: u32 = 256;
/// Commands waiting for their reply (pipelined) at most.
pub const MAX_PENDING: usize = 16;
/// Reply lines kept per transaction.
pub const MAX_REPLY_LINES: usize = 16;
/// Longest command argument or reply line kept.
pub const MAX_FIELD: usize = 512;

/// Words of FTP server banners.
const SERVER_WORDS: &[&[u8]] = &[b"FTP", b"FileZilla", b"vsFTPd", b"ProFTPD", b"Pure-FTPd", b"Serv-U", b"WS_FTP"];
/// Reply codes no other line protocol of this family uses.
const FTP_CODES: &[&[u8]] = &[b"331", b"227", b"229", b"257", b"150", b"226", b"125", b"332", b"350"];
/// Commands only FTP has (argument shape checked for PORT and AUTH).
const FTP_ONLY: &[&[u8]] = &[
    b"SYST", b"PASV", b"EPSV", b"PORT", b"EPRT", b"FEAT", b"AUTH", b"TYPE", b"PWD", b"XPWD", b"CWD", b"CDUP", b"MKD",
    b"RMD", b"SIZE", b"MDTM", b"STOR", b"NLST", b"MLSD", b"MLST", b"OPTS", b"REST", b"RNFR", b"RNTO", b"ACCT", b"PBSZ",
    b"PROT", b"ABOR", b"SITE",
];
/// Commands FTP shares with POP3 (a stream may start with them).
const SHARED: &[&[u8]] = &[b"USER", b"PASS", b"QUIT", b"LIST", b"RETR", b"DELE", b"NOOP", b"STAT", b"HELP", b"APPE"];

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let Some(&c0) = b.first() else { return Probe::NeedMore };
    let line = b.iter().position(|&c| c == b'\n').and_then(|e| b.get(..e));
    let line = line.map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    if c0.is_ascii_digit() {
        let Some(l) = line else {
            let head = b.get(..3.min(b.len())).unwrap_or(&[]);
            return if head.iter().all(u8::is_ascii_digit) { Probe::NeedMore } else { Probe::NoMatch };
        };
        let Some((code, _, text)) = parser::reply(l) else { return Probe::NoMatch };
        if code == b"220" {
            let has = |w: &[u8]| text.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
            // An SMTP banner may name a host that contains an FTP word: SMTP is decisive.
            if has(b"SMTP") {
                return Probe::NoMatch;
            }
            return if SERVER_WORDS.iter().any(|w| has(w)) { Probe::Match } else { Probe::NeedMore };
        }
        return if FTP_CODES.contains(&code) { Probe::Match } else { Probe::NeedMore };
    }
    let word_end = b.iter().take(5).position(|&c| c == b' ' || c == b'\r' || c == b'\n');
    let word = b.get(..word_end.unwrap_or(b.len().min(5))).unwrap_or(&[]);
    let known = |set: &[&[u8]]| set.iter().any(|c| starts_with_nocase(c, word) && word.len() <= c.len());
    if !known(FTP_ONLY) && !known(SHARED) {
        return Probe::NoMatch;
    }
    let Some(l) = line else { return Probe::NeedMore };
    let (verb, arg) = parser::command(l);
    let only = FTP_ONLY.iter().any(|c| c.eq_ignore_ascii_case(verb));
    let shape = if verb.eq_ignore_ascii_case(b"PORT") {
        parser::port_of_hostport(arg).is_some()
    } else if verb.eq_ignore_ascii_case(b"AUTH") {
        [&b"TLS"[..], b"SSL", b"TLS-C", b"TLS-P"].iter().any(|m| m.eq_ignore_ascii_case(arg))
    } else {
        true
    };
    if only && shape {
        Probe::Match
    } else if only {
        Probe::NoMatch
    } else {
        Probe::NeedMore
    }
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_data: Option<Text<'a>>,
    reply: &'a [Text<'a>],
    completion_code: &'a [Text<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    dynamic_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    reply_received: &'static str,
}

#[derive(Debug)]
struct Cmd {
    verb: Vec<u8>,
    arg: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct State {
    client: Lines,
    server: Lines,
    pending: VecDeque<Cmd>,
    reply: Vec<Vec<u8>>,
    codes: Vec<[u8; 3]>,
    /// The code of a multi-line reply in progress.
    multi: Option<[u8; 3]>,
    written: u32,
    tls: bool,
}

fn bounded(b: &[u8]) -> Vec<u8> {
    b.get(..MAX_FIELD).unwrap_or(b).to_vec()
}

impl State {
    fn write(&mut self, cx: &mut Cx<'_>, cmd: Option<&Cmd>, received: bool) {
        if self.written >= MAX_TX {
            return;
        }
        self.written += 1;
        let verb = cmd.map(|c| c.verb.to_ascii_uppercase());
        let last_code = self.codes.last().copied();
        let last_text = self.reply.last().map(Vec::as_slice).unwrap_or(&[]);
        let (dynamic_port, mode) = match (verb.as_deref(), cmd, last_code.as_ref().map(|c| &c[..])) {
            (Some(b"PASV"), _, Some(b"227")) => (parser::pasv_port(last_text), Some("passive")),
            (Some(b"EPSV"), _, Some(b"229")) => (parser::extended_port(last_text), Some("passive")),
            (Some(b"PORT"), Some(c), Some(b"200")) => (parser::port_of_hostport(&c.arg), Some("active")),
            (Some(b"EPRT"), Some(c), Some(b"200")) => (parser::extended_port(&c.arg), Some("active")),
            _ => (None, None),
        };
        if let Some(p) = dynamic_port {
            // The data connection to this port is this session's `ftp-data` channel.
            cx.expect(p);
        }
        let reply: Vec<Text<'_>> = self.reply.iter().map(|r| Text(r)).collect();
        let codes: Vec<Text<'_>> = self.codes.iter().map(|c| Text(c)).collect();
        let ev = Event {
            command: cmd.map(|c| Text(&c.verb)),
            command_data: cmd.filter(|c| !c.arg.is_empty()).map(|c| Text(&c.arg)),
            reply: &reply,
            completion_code: &codes,
            dynamic_port,
            mode: dynamic_port.and(mode),
            reply_received: if received { "yes" } else { "no" },
        };
        cx.emit(TO_SERVER, "ftp", &ev);
        self.reply.clear();
        self.codes.clear();
    }

    fn client_line(&mut self, l: &[u8]) {
        let (verb, arg) = parser::command(l);
        if self.pending.len() < MAX_PENDING && !verb.is_empty() {
            self.pending.push_back(Cmd { verb: bounded(verb), arg: bounded(arg) });
        }
    }

    fn server_line(&mut self, l: &[u8], cx: &mut Cx<'_>) {
        let parsed = parser::reply(l);
        let (code, more, text) = match (parsed, self.multi) {
            (Some((c, more, t)), None) => (c, more, t),
            // Inside a multi-line reply only `code ` ends it; other lines are text.
            (Some((c, false, t)), Some(m)) if c == m.as_slice() => (c, false, t),
            (_, Some(_)) => {
                if self.reply.len() < MAX_REPLY_LINES {
                    self.reply.push(bounded(l));
                }
                return;
            }
            (None, None) => return,
        };
        let mut c3 = [0u8; 3];
        c3.copy_from_slice(code.get(..3).unwrap_or(b"000"));
        if self.reply.len() < MAX_REPLY_LINES {
            self.reply.push(bounded(text));
            self.codes.push(c3);
        }
        if more {
            self.multi = Some(c3);
            return;
        }
        self.multi = None;
        // 1xx is a preliminary reply: the command's final reply follows.
        if code.first() == Some(&b'1') {
            return;
        }
        let cmd = self.pending.pop_front();
        let auth_ok = code == b"234" && cmd.as_ref().is_some_and(|c| c.verb.eq_ignore_ascii_case(b"AUTH"));
        self.write(cx, cmd.as_ref(), true);
        self.tls |= auth_ok;
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let mut lines = std::mem::take(if dir == TO_SERVER { &mut self.client } else { &mut self.server });
        buf.feed(data, |b| {
            lines.feed(b, |l| {
                if dir == TO_SERVER {
                    self.client_line(l);
                } else {
                    self.server_line(l, cx);
                }
                !self.tls
            })
        });
        *(if dir == TO_SERVER { &mut self.client } else { &mut self.server }) = lines;
        if self.tls {
            cx.set_app(AppProto::Tls);
        }
        if self.tls || self.written >= MAX_TX {
            Next::Done
        } else {
            Next::More
        }
    }

    fn gap(&mut self, dir: usize) -> Next {
        if dir == TO_SERVER {
            self.client = Lines::default();
        } else {
            self.server = Lines::default();
            self.multi = None;
        }
        Next::More
    }

    fn end(&mut self, cx: &mut Cx<'_>) {
        while let Some(cmd) = self.pending.pop_front() {
            self.write(cx, Some(&cmd), false);
        }
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
        b"220 mx.example.org ESMTP Postfix\r\n",
        b"220 ftp.example.org ESMTP ready\r\n",
        b"+OK POP3 ready\r\n",
        b"AUTH LOGIN\r\n",
    ];
    const BANNER: &[u8] = b"220 (vsFTPd 3.0.3)\r\n";
    const CLIENT: &[u8] = b"USER anonymous\r\nPASS guest@\r\nSYST\r\nPASV\r\nRETR readme.txt\r\nQUIT\r\n";
    const SERVER: &[u8] = b"331 Please specify the password.\r\n230-Welcome\r\n Be nice.\r\n230 Login successful.\r\n215 UNIX Type: L8\r\n227 Entering Passive Mode (10,0,0,5,195,80).\r\n150 Opening BINARY mode data connection.\r\n226 Transfer complete.\r\n221 Goodbye.\r\n";

    fn p(dir: usize, b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Tcp, dir, b))
    }

    #[test]
    fn probe_both_directions() {
        assert_eq!(p(1, BANNER), Probe::Match);
        assert_eq!(p(1, b"220 ProFTPD Server ready.\r\n"), Probe::Match);
        assert_eq!(p(1, b"220 Welcome\r\n"), Probe::NeedMore);
        assert_eq!(p(1, SERVER), Probe::Match);
        assert_eq!(p(0, b"SYST\r\n"), Probe::Match);
        assert_eq!(p(0, b"PORT 10,0,0,1,4,1\r\n"), Probe::Match);
        assert_eq!(p(0, b"AUTH TLS\r\n"), Probe::Match);
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

    fn run(client: &[&[u8]], server: &[&[u8]]) -> Vec<(usize, &'static str, serde_json::Value)> {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 21);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        st.data(1, BANNER, &mut sbuf, &mut cx);
        for c in client {
            st.data(0, c, &mut cbuf, &mut cx);
        }
        for s in server {
            st.data(1, s, &mut sbuf, &mut cx);
        }
        st.end(&mut cx);
        out.0
    }

    #[test]
    fn transactions_split_or_whole() {
        let whole = run(&[CLIENT], &[SERVER]);
        let evs: Vec<&serde_json::Value> = whole.iter().map(|e| &e.2).collect();
        assert_eq!(evs.len(), 7, "{evs:?}");
        assert_eq!(evs[0]["completion_code"], serde_json::json!(["220"]));
        assert!(evs[0].get("command").is_none());
        assert_eq!(evs[1]["command"], "USER");
        assert_eq!(evs[1]["command_data"], "anonymous");
        assert_eq!(evs[2]["reply"], serde_json::json!(["Welcome", " Be nice.", "Login successful."]));
        assert_eq!(evs[4]["command"], "PASV");
        assert_eq!(evs[4]["dynamic_port"], 195 * 256 + 80);
        assert_eq!(evs[4]["mode"], "passive");
        assert_eq!(evs[5]["completion_code"], serde_json::json!(["150", "226"]));
        assert_eq!(evs[6]["reply_received"], "yes");
        let c: Vec<&[u8]> = CLIENT.chunks(3).collect();
        let s: Vec<&[u8]> = SERVER.chunks(5).collect();
        assert_eq!(run(&c, &s), whole);
    }

    #[test]
    fn auth_tls_ends_parsing() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 21);
        let (mut st, mut cbuf, mut sbuf) = (State::default(), MsgBuf::default(), MsgBuf::default());
        assert_eq!(st.data(0, b"AUTH TLS\r\n", &mut cbuf, &mut cx), Next::More);
        assert_eq!(st.data(1, b"234 Proceed with negotiation.\r\n", &mut sbuf, &mut cx), Next::Done);
        assert_eq!(cx.refined(), Some(AppProto::Tls));
    }
}
