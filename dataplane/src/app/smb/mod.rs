//! SMB 1/2/3 over TCP (NetBIOS session service framing, also used on 445): identification
//! from the NBSS header and the SMB magic, and one Suricata-style EVE `smb` event per SMB
//! message (dialect, command, status on responses, session and tree ids; the share of
//! TREE_CONNECT and the file name of CREATE requests).
//!
//! A NetBIOS session request (0x81 with an encoded called name) is SMB's own session set-up
//! on 139 and is matched as SMB. Encrypted messages (SMB3 transform) are skipped. Large
//! messages (READ/WRITE data) are parsed from their first [`PARSE_PREFIX`] bytes and the rest
//! skipped without buffering. After a gap parsing stops.
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser};
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

pub mod parser;
use parser::Error;

pub const DESC: Desc = Desc {
    proto: AppProto::Smb,
    tcp: Some(probe),
    udp: None,
    ports: &[445, 139],
    stream: StreamKind::Smb,
    datagram: None,
};

/// NBSS control messages (keep-alive, positive response) skipped by the probe at most.
const MAX_NBSS_CONTROL: usize = 4;
/// A session request carries two encoded names (68 bytes), maybe with scopes.
const SESSION_REQUEST_LEN: std::ops::RangeInclusive<usize> = 68..=512;
/// Events written per flow at most.
pub const MAX_EVENTS: u32 = 256;
/// Messages of one compound SMB2 chain followed at most.
pub const MAX_COMPOUND: usize = 16;
/// Messages larger than this are not buffered whole: their first [`PARSE_PREFIX`] bytes are
/// parsed and the rest skipped.
pub const MAX_WHOLE: usize = 8 * 1024;
pub const PARSE_PREFIX: usize = 1024;
/// Client dialects written at most.
pub const MAX_DIALECTS: usize = 32;
/// UTF-16 code units written per name at most.
pub const MAX_NAME_UNITS: usize = 1024;

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let mut b = i.data;
    for _ in 0..MAX_NBSS_CONTROL {
        let (t, len) = match parser::nbss(b) {
            Ok(h) => h,
            Err(Error::Incomplete) => return Probe::NeedMore,
            Err(Error::Invalid) => return Probe::NoMatch,
        };
        let body = b.get(parser::NBSS_HEADER..).unwrap_or(&[]);
        return match t {
            parser::NBSS_MESSAGE if len < parser::SMB1_HEADER => Probe::NoMatch,
            parser::NBSS_MESSAGE => match parser::magic(body) {
                Ok(parser::SMB2_MAGIC) => match crate::app::bytes::le16(body, 4) {
                    None => Probe::NeedMore,
                    Some(64) => Probe::Match,
                    Some(_) => Probe::NoMatch,
                },
                Ok(_) => Probe::Match,
                Err(Error::Incomplete) => Probe::NeedMore,
                Err(Error::Invalid) => Probe::NoMatch,
            },
            parser::NBSS_REQUEST if !SESSION_REQUEST_LEN.contains(&len) => Probe::NoMatch,
            parser::NBSS_REQUEST => match parser::session_request_ok(body) {
                Ok(()) => Probe::Match,
                Err(Error::Incomplete) => Probe::NeedMore,
                Err(Error::Invalid) => Probe::NoMatch,
            },
            parser::NBSS_POSITIVE | parser::NBSS_KEEPALIVE if len == 0 => {
                b = body;
                continue;
            }
            // A refusal or a redirection: the session says no more about itself.
            parser::NBSS_NEGATIVE if len == 1 => Probe::NeedMore,
            parser::NBSS_RETARGET if len == 6 => Probe::NeedMore,
            _ => Probe::NoMatch,
        };
    }
    Probe::NeedMore
}

/// A UTF-16LE (or, for SMB1 without Unicode, 8-bit) name written as UTF-8.
struct Name<'a> {
    bytes: &'a [u8],
    utf16: bool,
}

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct D<'a>(&'a [u8]);
        impl std::fmt::Display for D<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let units = self.0.chunks_exact(2).take(MAX_NAME_UNITS).map(|c| match c {
                    [a, b] => u16::from_le_bytes([*a, *b]),
                    _ => 0xfffd,
                });
                for c in char::decode_utf16(units) {
                    std::fmt::Write::write_char(f, c.unwrap_or(char::REPLACEMENT_CHARACTER))?;
                }
                Ok(())
            }
        }
        if self.utf16 {
            s.collect_str(&D(self.bytes))
        } else {
            crate::app::Text(self.bytes).serialize(s)
        }
    }
}

struct Status(u32);

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match parser::status_name(self.0) {
            Some(n) => s.serialize_str(n),
            None => s.collect_str(&format_args!("{:#x}", self.0)),
        }
    }
}

struct Hex(u32);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:#x}", self.0))
    }
}

/// Client dialects: SMB2 revisions (u16 LE each) or SMB1 strings (`0x02 name NUL` each).
enum Dialects<'a> {
    Smb2(&'a [u8]),
    Smb1(&'a [u8]),
}

impl Serialize for Dialects<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        match self {
            Dialects::Smb2(b) => {
                for d in b.chunks_exact(2).take(MAX_DIALECTS) {
                    if let [lo, hi] = d {
                        seq.serialize_element(parser::dialect_name(u16::from_le_bytes([*lo, *hi])))?;
                    }
                }
            }
            Dialects::Smb1(b) => {
                for d in b.split(|&c| c == 0).take(MAX_DIALECTS) {
                    if let Some((&0x02, name)) = d.split_first() {
                        seq.serialize_element(&crate::app::Text(name))?;
                    }
                }
            }
        }
        seq.end()
    }
}

/// A GUID as text (first three fields little-endian).
struct Guid<'a>(&'a [u8]);

impl Serialize for Guid<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = |i: usize| self.0.get(i).copied().unwrap_or(0);
        s.collect_str(&format_args!(
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            g(3),
            g(2),
            g(1),
            g(0),
            g(5),
            g(4),
            g(7),
            g(6),
            g(8),
            g(9),
            g(10),
            g(11),
            g(12),
            g(13),
            g(14),
            g(15)
        ))
    }
}

#[derive(Serialize)]
struct Ntlmssp<'a> {
    domain: Name<'a>,
    user: Name<'a>,
    host: Name<'a>,
}

impl<'a> Ntlmssp<'a> {
    fn from(n: parser::Ntlm<'a>) -> Ntlmssp<'a> {
        let name = |bytes| Name { bytes, utf16: n.unicode };
        Ntlmssp { domain: name(n.domain), user: name(n.user), host: name(n.host) }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    id: u32,
    dialect: &'static str,
    command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_code: Option<Hex>,
    session_id: u64,
    tree_id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<Name<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    disposition: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share: Option<Name<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_dialects: Option<Dialects<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_guid: Option<Guid<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_guid: Option<Guid<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ntlmssp: Option<Ntlmssp<'a>>,
}

impl Event<'_> {
    fn new(command: &'static str, response: bool, status: u32, session_id: u64, tree_id: u32) -> Self {
        Event {
            id: 0,
            dialect: "",
            command,
            status: response.then_some(Status(status)),
            status_code: response.then_some(Hex(status)),
            session_id,
            tree_id,
            filename: None,
            disposition: None,
            share: None,
            share_type: None,
            client_dialects: None,
            client_guid: None,
            server_guid: None,
            ntlmssp: None,
        }
    }
}

const SMB2_NEGOTIATE: u16 = 0;
const SMB2_SESSION_SETUP: u16 = 1;
const SMB2_TREE_CONNECT: u16 = 3;
const SMB2_CREATE: u16 = 5;
const SMB1_NEGOTIATE: u8 = 0x72;
const SMB1_SESSION_SETUP: u8 = 0x73;
const SMB1_TREE_CONNECT: u8 = 0x75;
const SMB1_NT_CREATE: u8 = 0xa2;
const NT_LM: &[u8] = b"\x02NT LM 0.12\x00";

#[derive(Debug)]
pub struct State {
    events: u32,
    dialect: &'static str,
    /// The SMB1 negotiate request offered "NT LM 0.12".
    offered_nt_lm: bool,
    stop: bool,
}

impl Default for State {
    fn default() -> Self {
        State { events: 0, dialect: "unknown", offered_nt_lm: false, stop: false }
    }
}

impl State {
    fn emit(&mut self, dir: usize, mut ev: Event<'_>, cx: &mut Cx<'_>) {
        if self.events >= MAX_EVENTS {
            return;
        }
        ev.id = self.events;
        ev.dialect = self.dialect;
        cx.emit(dir, "smb", &ev);
        self.events += 1;
    }

    /// One NBSS message's body (possibly only its first bytes).
    fn message(&mut self, dir: usize, body: &[u8], cx: &mut Cx<'_>) {
        match parser::magic(body) {
            Ok(parser::SMB2_MAGIC) => self.smb2(dir, body, cx),
            Ok(parser::SMB1_MAGIC) => self.smb1(dir, body, cx),
            Ok(_) => {} // encrypted
            Err(_) => self.stop = true,
        }
    }

    fn smb2(&mut self, dir: usize, body: &[u8], cx: &mut Cx<'_>) {
        let mut pos = 0;
        for _ in 0..MAX_COMPOUND {
            let Some(rest) = body.get(pos..) else { return };
            let Ok(h) = parser::smb2(rest) else { return };
            let msg = if h.next >= parser::SMB2_HEADER { rest.get(..h.next).unwrap_or(rest) } else { rest };
            if h.command == SMB2_NEGOTIATE && h.response {
                if let Some(d) = parser::smb2_negotiate_dialect(msg) {
                    self.dialect = parser::dialect_name(d);
                }
            }
            let command = parser::smb2_command_name(h.command);
            let mut ev = Event::new(command, h.response, h.status, h.session_id, h.tree_id.unwrap_or(0));
            if h.response {
                match h.command {
                    SMB2_NEGOTIATE => ev.server_guid = parser::smb2_server_guid(msg).map(Guid),
                    SMB2_TREE_CONNECT => ev.share_type = Some(parser::smb2_share_type(msg)),
                    _ => {}
                }
            } else {
                match h.command {
                    SMB2_NEGOTIATE => {
                        ev.client_dialects = parser::smb2_client_dialects(msg).map(Dialects::Smb2);
                        ev.client_guid = parser::smb2_client_guid(msg).map(Guid);
                    }
                    SMB2_SESSION_SETUP => ev.ntlmssp = parser::ntlmssp_auth(msg).map(Ntlmssp::from),
                    SMB2_TREE_CONNECT => {
                        ev.share = parser::smb2_tree_connect_path(msg).map(|bytes| Name { bytes, utf16: true });
                    }
                    SMB2_CREATE => {
                        if let Some((bytes, d)) = parser::smb2_create_name(msg) {
                            ev.filename = Some(Name { bytes, utf16: true });
                            ev.disposition = Some(parser::disposition_name(d));
                        }
                    }
                    _ => {}
                }
            }
            self.emit(dir, ev, cx);
            if h.next < parser::SMB2_HEADER || h.next % 8 != 0 {
                return;
            }
            pos += h.next;
        }
    }

    fn smb1(&mut self, dir: usize, h: &[u8], cx: &mut Cx<'_>) {
        let Ok(s) = parser::smb1(h) else { return };
        if s.command == SMB1_NEGOTIATE {
            if !s.response {
                self.offered_nt_lm = h.windows(NT_LM.len()).any(|w| w == NT_LM);
            } else if self.offered_nt_lm && s.status == 0 {
                self.dialect = "NT LM 0.12";
            }
        }
        let command = parser::smb1_command_name(s.command);
        let mut ev = Event::new(command, s.response, s.status, u64::from(s.uid), u32::from(s.tree_id));
        if !s.response {
            match s.command {
                SMB1_NEGOTIATE => ev.client_dialects = parser::smb1_client_dialects(h).map(Dialects::Smb1),
                SMB1_SESSION_SETUP => ev.ntlmssp = parser::ntlmssp_auth(h).map(Ntlmssp::from),
                SMB1_TREE_CONNECT => {
                    ev.share =
                        parser::smb1_tree_connect_path(h, s.unicode).map(|bytes| Name { bytes, utf16: s.unicode });
                }
                SMB1_NT_CREATE => {
                    if let Some((bytes, d)) = parser::smb1_create_name(h, s.unicode) {
                        ev.filename = Some(Name { bytes, utf16: s.unicode });
                        ev.disposition = Some(parser::disposition_name(d));
                    }
                }
                _ => {}
            }
        }
        self.emit(dir, ev, cx);
    }
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        buf.feed(data, |b| {
            let mut off = 0;
            while !self.stop && self.events < MAX_EVENTS {
                let Some(rest) = b.get(off..) else { break };
                let Ok((t, len)) = parser::nbss(rest) else {
                    if parser::nbss(rest) == Err(Error::Invalid) {
                        self.stop = true;
                    }
                    break;
                };
                let total = parser::NBSS_HEADER + len;
                let body = rest.get(parser::NBSS_HEADER..).unwrap_or(&[]);
                if t != parser::NBSS_MESSAGE {
                    if rest.len() < total {
                        break;
                    }
                    off += total;
                    continue;
                }
                if rest.len() >= total {
                    self.message(dir, body.get(..len).unwrap_or(body), cx);
                    off += total;
                } else if len > MAX_WHOLE && body.len() >= PARSE_PREFIX {
                    self.message(dir, body, cx);
                    return off + total; // the rest of this message is skipped
                } else {
                    break;
                }
            }
            off
        });
        if self.stop || self.events >= MAX_EVENTS {
            Next::Done
        } else {
            Next::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// An SMB2 header (64 bytes) + body, framed in NBSS.
    fn smb2(command: u16, response: bool, status: u32, body: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(parser::SMB2_MAGIC);
        h[4] = 64;
        h[8..12].copy_from_slice(&status.to_le_bytes());
        h[12..14].copy_from_slice(&command.to_le_bytes());
        h[16] = u8::from(response);
        h[24] = 7; // message id
        h[36..40].copy_from_slice(&5u32.to_le_bytes()); // tree id
        h[40..48].copy_from_slice(&0x1122_3344u64.to_le_bytes());
        h.extend_from_slice(body);
        let mut m = vec![0, 0];
        m.extend_from_slice(&(h.len() as u16).to_be_bytes());
        m.extend_from_slice(&h);
        m
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn tree_connect() -> Vec<u8> {
        let path = utf16("\\\\srv\\share");
        let mut body = vec![9, 0, 0, 0];
        body.extend_from_slice(&72u16.to_le_bytes());
        body.extend_from_slice(&(path.len() as u16).to_le_bytes());
        body.extend_from_slice(&path);
        smb2(3, false, 0, &body)
    }

    fn negotiate() -> Vec<u8> {
        let mut body = vec![36, 0, 2, 0];
        body.resize(12, 0);
        body.extend_from_slice(&hex("d2851960d9aae7118494"));
        body.extend_from_slice(&hex("00088bb57f27"));
        body.resize(36, 0);
        body.extend_from_slice(&[0x02, 0x02, 0x11, 0x03]);
        smb2(0, false, 0, &body)
    }

    /// SESSION_SETUP with a raw NTLMSSP AUTHENTICATE (Unicode) as security blob.
    fn session_setup() -> Vec<u8> {
        let (domain, user, host) = (utf16("CORP"), utf16("alice"), utf16("WS01"));
        let mut auth = b"NTLMSSP\0".to_vec();
        auth.extend_from_slice(&3u32.to_le_bytes());
        auth.resize(64, 0);
        let mut at = 64u32;
        for (i, f) in [&domain, &user, &host].iter().enumerate() {
            let o = 28 + 8 * i;
            auth[o..o + 2].copy_from_slice(&(f.len() as u16).to_le_bytes());
            auth[o + 4..o + 8].copy_from_slice(&at.to_le_bytes());
            at += f.len() as u32;
        }
        auth[60..64].copy_from_slice(&1u32.to_le_bytes());
        for f in [&domain, &user, &host] {
            auth.extend_from_slice(f);
        }
        let mut body = vec![25, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 88, 0];
        body.extend_from_slice(&(auth.len() as u16).to_le_bytes());
        body.resize(24, 0);
        body.extend_from_slice(&auth);
        smb2(1, false, 0, &body)
    }

    fn create() -> Vec<u8> {
        let name = utf16("dir\\file.txt");
        let mut body = vec![0u8; 56];
        body[0] = 57;
        body[36] = 1; // FILE_OPEN
        body[44..46].copy_from_slice(&120u16.to_le_bytes());
        body[46..48].copy_from_slice(&(name.len() as u16).to_le_bytes());
        body.extend_from_slice(&name);
        smb2(5, false, 0, &body)
    }

    /// A NetBIOS session request (called *SMBSERVER, caller WORKSTATION).
    const SESSION_REQUEST: &str = "8100004420434b4644454e45434644454646434647454646434341434143414341434143410020464845504643454c4644464545424645454a4550454f4341434143414341414100";

    #[test]
    fn probes() {
        let neg = smb2(0, false, 0, &[36, 0, 1, 0]);
        let tcp = |b: &[u8]| probe(&ProbeInput::new(L4::Tcp, 0, b));
        assert_eq!(tcp(&neg), Probe::Match);
        assert_eq!(tcp(&neg[..6]), Probe::NeedMore);
        assert_eq!(tcp(&neg[..2]), Probe::NeedMore);
        let mut smb1 = hex("0000002fff534d4272000000001853c8");
        smb1.resize(51, 0);
        assert_eq!(tcp(&smb1), Probe::Match);
        assert_eq!(tcp(&hex(SESSION_REQUEST)), Probe::Match);
        // A CHANGE_NOTIFY response, STATUS_PENDING (smb_deletefile.pcap).
        let pending = hex(concat!(
            "00000048fe534d4240000100030100000f0001000300000000000000a90f000000000000",
            "15000003000000001d00000000280000000000000000000000000000000000000900000000000000"
        ));
        assert_eq!(probe(&ProbeInput::new(L4::Tcp, 1, &pending)), Probe::Match);
        // A keep-alive first, then SMB2.
        let mut ka = vec![0x85, 0, 0, 0];
        ka.extend_from_slice(&neg);
        assert_eq!(tcp(&ka), Probe::Match);
        let tls = hex("1603010200010001fc0303");
        let q = hex(crate::app::dns::parser::tests::QUERY);
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-OpenSSH_9.0\r\n", &tls, &q, &[0, 0, 0, 0x40, 1, 2, 3, 4, 5]]
        {
            assert_eq!(tcp(s), Probe::NoMatch, "{s:?}");
        }
        assert_eq!(tcp(b""), Probe::NeedMore);
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_ne!(probe(&ProbeInput::new(L4::Tcp, 0, s)), Probe::Match, "{n}");
        }
        let c = create();
        for n in 0..c.len() {
            assert_ne!(probe(&ProbeInput::new(L4::Tcp, 0, &c[..n])), Probe::NoMatch);
            let (mut out, mut scratch) = (Collect::default(), Vec::new());
            let mut cx = Cx::new(&mut out, &mut scratch, 40000, 445);
            let (mut st, mut buf) = (State::default(), MsgBuf::default());
            let _ = st.data(0, &c[..n], &mut buf, &mut cx);
        }
    }

    #[test]
    fn events_split_and_names() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 445);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        let mut to_server = negotiate();
        to_server.extend_from_slice(&tree_connect());
        to_server.extend_from_slice(&create());
        for c in to_server.chunks(9) {
            assert_eq!(st.data(0, c, &mut b0, &mut cx), Next::More);
        }
        let mut neg_rsp = vec![65, 0, 1, 0, 0x11, 0x03];
        neg_rsp.resize(64, 0);
        let mut to_client = smb2(0, true, 0, &neg_rsp);
        to_client.extend_from_slice(&smb2(3, true, 0xc000_00cc, &[16, 0, 1, 0]));
        assert_eq!(st.data(1, &to_client, &mut b1, &mut cx), Next::More);
        let ev: Vec<_> = out
            .0
            .iter()
            .map(|(_, t, v)| {
                assert_eq!(*t, "smb");
                v
            })
            .collect();
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[0]["command"], "SMB2_COMMAND_NEGOTIATE_PROTOCOL");
        assert_eq!(ev[0]["dialect"], "unknown");
        assert_eq!(ev[0]["client_dialects"], serde_json::json!(["2.02", "3.11"]));
        assert_eq!(ev[0]["client_guid"], "601985d2-aad9-11e7-8494-00088bb57f27");
        assert_eq!(ev[1]["share"], "\\\\srv\\share");
        assert_eq!(ev[1]["tree_id"], 5);
        assert_eq!(ev[1]["session_id"], 0x1122_3344u64);
        assert_eq!(ev[2]["command"], "SMB2_COMMAND_CREATE");
        assert_eq!(ev[2]["filename"], "dir\\file.txt");
        assert_eq!(ev[2]["disposition"], "FILE_OPEN");
        assert_eq!(ev[3]["dialect"], "3.11");
        assert_eq!(ev[3]["status"], "STATUS_SUCCESS");
        assert_eq!(ev[3]["status_code"], "0x0");
        assert_eq!(ev[4]["status"], "STATUS_BAD_NETWORK_NAME");
        assert_eq!(ev[4]["share_type"], "FILE");
        assert!(ev[0].get("status").is_none());
    }

    #[test]
    fn ntlmssp_user() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 445);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        assert_eq!(st.data(0, &session_setup(), &mut buf, &mut cx), Next::More);
        let n = &out.0[0].2["ntlmssp"];
        assert_eq!(
            (n["domain"].as_str(), n["user"].as_str(), n["host"].as_str()),
            (Some("CORP"), Some("alice"), Some("WS01"))
        );
    }

    #[test]
    fn large_messages_are_skipped_not_buffered() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 445);
        let (mut st, mut buf) = (State::default(), MsgBuf::default());
        let mut read = smb2(8, true, 0, &vec![0xaa; 60_000]);
        read.extend_from_slice(&smb2(6, true, 0, &[60, 0]));
        for c in read.chunks(1460) {
            assert_eq!(st.data(1, c, &mut buf, &mut cx), Next::More);
            assert!(buf.pending() <= MAX_WHOLE + 1460);
        }
        let cmds: Vec<_> = out.0.iter().map(|(_, _, v)| v["command"].as_str().unwrap().to_string()).collect();
        assert_eq!(cmds, ["SMB2_COMMAND_READ", "SMB2_COMMAND_CLOSE"]);
    }
}
