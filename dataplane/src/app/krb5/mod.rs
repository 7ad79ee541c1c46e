//! Kerberos 5 over UDP and TCP (4-byte length prefix): identification from the message's
//! application tag, pvno and msg-type, and Suricata's EVE `krb5` events for KDC requests,
//! replies and errors (AP-REQ/AP-REP match but, as in Suricata, are not logged).
//!
//! Over UDP the request an error answers is not known (datagrams are parsed without
//! state): `failed_request` is then `KRB_ERROR`, as Suricata writes it when it did not see
//! the request. Over TCP the flow's last request is remembered.
use crate::app::bytes::be32;
use crate::app::snmp::ber::{self, Error};
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::{Serialize, Serializer};

pub mod parser;
use parser::Info;

pub const DESC: Desc = Desc {
    proto: AppProto::Krb5,
    tcp: Some(probe_tcp),
    udp: Some(probe_udp),
    ports: &[88],
    stream: StreamKind::Krb5,
    datagram: Some(datagram),
};

/// Largest TCP record accepted by the probe (MIT's KDC limit is 1 MiB).
pub const MAX_RECORD: u32 = 1 << 20;
/// Largest record parsed over TCP (larger ones are skipped).
pub const MAX_TCP_MESSAGE: usize = 16 * 1024;
/// Messages logged per TCP flow at most.
pub const MAX_MESSAGES: u32 = 64;

pub fn probe_udp(i: &ProbeInput<'_>) -> Probe {
    match parser::check(i.data, i.data.len()) {
        Ok(_) => Probe::Match,
        Err(_) => Probe::NoMatch,
    }
}

pub fn probe_tcp(i: &ProbeInput<'_>) -> Probe {
    let Some(len) = be32(i.data, 0) else { return Probe::NeedMore };
    if len == 0 || len > MAX_RECORD {
        return Probe::NoMatch;
    }
    match parser::check(i.data.get(4..).unwrap_or(&[]), len as usize) {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

/// A PrincipalName (its name-string body) written `a/b`, or `<empty>`.
struct Principal<'a>(Option<&'a [u8]>);

impl Serialize for Principal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct D<'a>(&'a [u8]);
        impl std::fmt::Display for D<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut b = self.0;
                for n in 0..ber::MAX_FIELDS {
                    let Ok((_, v, rest)) = ber::tlv(b) else { break };
                    if n > 0 {
                        f.write_str("/")?;
                    }
                    f.write_str(&String::from_utf8_lossy(v))?;
                    b = rest;
                }
                Ok(())
            }
        }
        match self.0 {
            Some(p) => s.collect_str(&D(p)),
            None => s.serialize_str("<empty>"),
        }
    }
}

struct Etype(Option<i64>);

impl Serialize for Etype {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("<none>"),
            Some(e) => match parser::etype_name(e) {
                Some(n) => s.serialize_str(n),
                None => s.collect_str(&format_args!("EncryptionType({e})")),
            },
        }
    }
}

struct ErrorCode(i64);

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match parser::error_name(self.0) {
            Some(n) => s.serialize_str(n),
            None => s.collect_str(&format_args!("ErrorCode({})", self.0)),
        }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    msg_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_request: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<ErrorCode>,
    cname: Principal<'a>,
    realm: Text<'a>,
    sname: Principal<'a>,
    encryption: Etype,
    weak_encryption: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_encryption: Option<Etype>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_weak_encryption: Option<bool>,
}

/// Writes the event of one message; `request` = the msg-type of the flow's last request.
/// Returns the message's type when it was parsed.
fn emit(dir: usize, msg: &[u8], request: Option<u8>, cx: &mut Cx<'_>) -> Option<u8> {
    let i: Info<'_> = parser::info(msg)?;
    if matches!(i.msg_type, parser::AP_REQ | parser::AP_REP) {
        return Some(i.msg_type);
    }
    let failed = i.error_code.map(|_| parser::msg_type_name(request.unwrap_or(parser::KRB_ERROR)));
    let ev = Event {
        msg_type: parser::msg_type_name(i.msg_type),
        failed_request: failed,
        error_code: i.error_code.map(ErrorCode),
        cname: Principal(i.cname),
        realm: Text(i.realm.unwrap_or(b"<empty>")),
        sname: Principal(i.sname),
        encryption: Etype(i.etype),
        weak_encryption: i.etype.is_some_and(parser::weak),
        ticket_encryption: i.ticket_etype.map(|e| Etype(Some(e))),
        ticket_weak_encryption: i.ticket_etype.map(parser::weak),
    };
    cx.emit(dir, "krb5", &ev);
    Some(i.msg_type)
}

pub fn datagram(dir: usize, data: &[u8], cx: &mut Cx<'_>) {
    emit(dir, data, None, cx);
}

/// Kerberos over TCP: 4-byte big-endian record length, then the message.
#[derive(Debug, Default)]
pub struct State {
    messages: u32,
    request: Option<u8>,
    stop: bool,
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let (messages, request, stop) = (&mut self.messages, &mut self.request, &mut self.stop);
        buf.feed(data, |b| {
            let mut off = 0;
            while *messages < MAX_MESSAGES && !*stop {
                let Some(len) = be32(b, off) else { break };
                if len == 0 || len > MAX_RECORD {
                    *stop = true;
                    break;
                }
                let end = off + 4 + len as usize;
                if len as usize > MAX_TCP_MESSAGE {
                    return end;
                }
                let Some(msg) = b.get(off + 4..end) else { break };
                match emit(dir, msg, *request, cx) {
                    Some(t @ (parser::AS_REQ | parser::TGS_REQ)) => *request = Some(t),
                    Some(_) => {}
                    None => *stop = true,
                }
                *messages += 1;
                off = end;
            }
            off
        });
        if self.stop || self.messages >= MAX_MESSAGES {
            Next::Done
        } else {
            Next::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parser::tests::{as_req, krb_error};
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// The start of a TGS-REP over UDP (kerberos-login.pcap): tag, lengths, pvno, msg-type.
    const TGS_REP_START: &str = "6d8204a13082049da003020105a10302010da30c1b0a44454e5944432e434f4d";

    fn framed(m: &[u8]) -> Vec<u8> {
        let mut v = (m.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    }

    #[test]
    fn probes() {
        let req = as_req();
        assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, &req)), Probe::Match);
        assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 1, &krb_error())), Probe::Match);
        assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, &req[..20])), Probe::NoMatch);
        let tcp = framed(&req);
        assert_eq!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, &tcp)), Probe::Match);
        assert_eq!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, &tcp[..12])), Probe::NeedMore);
        // A TCP reply whose first bytes only are there (0x4a5 = 0x4a1 + 4-byte header).
        let mut rep = 0x4a5u32.to_be_bytes().to_vec();
        rep.extend_from_slice(&hex(TGS_REP_START));
        assert_eq!(probe_tcp(&ProbeInput::new(L4::Tcp, 1, &rep)), Probe::Match);
        let tls = hex("1603010200010001fc0303");
        let q = hex(crate::app::dns::parser::tests::QUERY);
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-OpenSSH_9.0\r\n", b"", &tls, &q, &[0x6a; 40]] {
            assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, s)), Probe::NoMatch);
            assert_ne!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, s)), Probe::Match);
        }
    }

    #[test]
    fn tcp_events_split_with_failed_request() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 88);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        for c in framed(&as_req()).chunks(5) {
            assert_eq!(st.data(0, c, &mut b0, &mut cx), Next::More);
        }
        for c in framed(&krb_error()).chunks(3) {
            assert_eq!(st.data(1, c, &mut b1, &mut cx), Next::More);
        }
        assert_eq!(out.0.len(), 2);
        let (_, t, req) = &out.0[0];
        assert_eq!(*t, "krb5");
        assert_eq!(req["msg_type"], "KRB_AS_REQ");
        assert_eq!(req["cname"], "alice");
        assert_eq!(req["realm"], "EXAMPLE.COM");
        assert_eq!(req["sname"], "krbtgt/EXAMPLE.COM");
        assert_eq!(req["encryption"], "<none>");
        assert_eq!(req["weak_encryption"], false);
        let err = &out.0[1].2;
        assert_eq!(err["msg_type"], "KRB_ERROR");
        assert_eq!(err["failed_request"], "KRB_AS_REQ");
        assert_eq!(err["error_code"], "KDC_ERR_PREAUTH_REQUIRED");
        assert_eq!(err["cname"], "<empty>");
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, s)), Probe::NoMatch, "{n}");
            assert_ne!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, s)), Probe::Match, "{n}");
        }
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 88);
        let m = as_req();
        let f = framed(&m);
        for n in 0..m.len() {
            assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, &m[..n])), Probe::NoMatch);
            assert_ne!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, &f[..n])), Probe::NoMatch);
            datagram(0, &m[..n], &mut cx);
        }
    }

    #[test]
    fn udp_error_without_request() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 88);
        datagram(1, &krb_error(), &mut cx);
        assert_eq!(out.0[0].2["failed_request"], "KRB_ERROR");
    }
}
