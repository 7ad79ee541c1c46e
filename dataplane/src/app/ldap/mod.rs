//! LDAP over TCP (and CLDAP over UDP): identification from the LDAPMessage structure and
//! one EVE `ldap` event per message, in the spirit of Suricata 8's logger:
//! `{"message_id":1,"operation":"bind_request","bind_request":{"version":3,"name":..}}`,
//! responses with `result_code`, `matched_dn`, `message`.
//!
//! Parsing stops at the first bytes that are not an LDAPMessage (SASL-wrapped or TLS after
//! StartTLS), after a gap, or after [`MAX_MESSAGES`].
use crate::app::snmp::ber::Error;
use crate::app::{AppProto, Cx, Desc, MsgBuf, Next, Probe, ProbeInput, StreamKind, StreamParser, Text};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

pub mod parser;

pub const DESC: Desc = Desc {
    proto: AppProto::Ldap,
    tcp: Some(probe_tcp),
    udp: Some(probe_udp),
    ports: &[389, 3268],
    stream: StreamKind::Ldap,
    datagram: Some(datagram),
};

/// Messages logged per flow at most.
pub const MAX_MESSAGES: u32 = 256;
/// Largest message parsed (larger ones, big search results, are skipped).
pub const MAX_MESSAGE: usize = 16 * 1024;
/// Messages read from one CLDAP datagram at most.
const MAX_DATAGRAM_MESSAGES: usize = 16;

pub fn probe_tcp(i: &ProbeInput<'_>) -> Probe {
    match parser::check(i.data) {
        Ok(_) => Probe::Match,
        Err(Error::Incomplete) => Probe::NeedMore,
        Err(Error::Invalid) => Probe::NoMatch,
    }
}

/// CLDAP: a datagram holds one whole message.
pub fn probe_udp(i: &ProbeInput<'_>) -> Probe {
    match parser::check(i.data) {
        Ok((len, _)) if len == i.data.len() => Probe::Match,
        _ => Probe::NoMatch,
    }
}

fn opt_text(b: Option<&[u8]>) -> Option<Text<'_>> {
    b.map(Text)
}

struct ResultCode(u64);

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match parser::result_name(self.0) {
            Some(n) => s.serialize_str(n),
            None => s.collect_str(&self.0),
        }
    }
}

/// The operation's object (field names follow Suricata 8).
#[derive(Serialize, Default)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authentication: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base_object: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deref_alias: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    types_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dn: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_code: Option<ResultCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    matched_dn: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text<'a>>,
}

struct Event<'a> {
    message_id: u64,
    operation: &'static str,
    detail: Option<Detail<'a>>,
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("message_id", &self.message_id)?;
        m.serialize_entry("operation", self.operation)?;
        if let Some(d) = &self.detail {
            m.serialize_entry(self.operation, d)?;
        }
        m.end()
    }
}

fn event(m: parser::Message<'_>) -> Event<'_> {
    let operation = parser::op_name(m.op).unwrap_or("unknown");
    let dn = opt_text(m.dn);
    let detail = match m.op {
        parser::BIND_REQUEST => {
            Some(Detail { version: m.version, name: dn, authentication: m.auth, ..Detail::default() })
        }
        parser::SEARCH_REQUEST => Some(Detail {
            base_object: dn,
            scope: m.scope,
            deref_alias: m.deref,
            size_limit: m.size_limit,
            time_limit: m.time_limit,
            types_only: m.types_only,
            ..Detail::default()
        }),
        parser::SEARCH_RESULT_ENTRY => Some(Detail { base_object: dn, ..Detail::default() }),
        parser::EXTENDED_REQUEST => Some(Detail { request_name: opt_text(m.request_name), ..Detail::default() }),
        0x66 => Some(Detail { object: dn, ..Detail::default() }),
        0x68 | 0x6c | 0x6e => Some(Detail { entry: dn, ..Detail::default() }),
        0x4a => Some(Detail { dn, ..Detail::default() }),
        t if parser::is_result(t) => Some(Detail {
            result_code: m.result_code.map(ResultCode),
            matched_dn: opt_text(m.matched_dn),
            message: opt_text(m.message),
            ..Detail::default()
        }),
        _ => None,
    };
    Event { message_id: m.id, operation, detail }
}

pub fn datagram(dir: usize, data: &[u8], cx: &mut Cx<'_>) {
    let mut b = data;
    for _ in 0..MAX_DATAGRAM_MESSAGES {
        let Ok((len, _)) = parser::check(b) else { return };
        let Some(msg) = b.get(..len) else { return };
        if let Some(m) = parser::message(msg) {
            cx.emit(dir, "ldap", &event(m));
        }
        b = b.get(len..).unwrap_or(&[]);
    }
}

#[derive(Debug, Default)]
pub struct State {
    messages: u32,
    stop: bool,
}

impl StreamParser for State {
    fn data(&mut self, dir: usize, data: &[u8], buf: &mut MsgBuf, cx: &mut Cx<'_>) -> Next {
        let (messages, stop) = (&mut self.messages, &mut self.stop);
        buf.feed(data, |b| {
            let mut off = 0;
            while *messages < MAX_MESSAGES && !*stop {
                let rest = b.get(off..).unwrap_or(&[]);
                let len = match parser::check(rest) {
                    Ok((len, _)) => len,
                    Err(Error::Incomplete) => break,
                    Err(Error::Invalid) => {
                        *stop = true;
                        break;
                    }
                };
                if len > MAX_MESSAGE {
                    return off + len;
                }
                let Some(msg) = rest.get(..len) else { break };
                if let Some(m) = parser::message(msg) {
                    cx.emit(dir, "ldap", &event(m));
                }
                *messages += 1;
                off += len;
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
    use super::parser::tests::{bind_request, bind_response, search_request};
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    #[test]
    fn probes() {
        let tcp = |b: &[u8]| probe_tcp(&ProbeInput::new(L4::Tcp, 0, b));
        assert_eq!(tcp(&bind_request()), Probe::Match);
        assert_eq!(tcp(&bind_response()), Probe::Match);
        assert_eq!(tcp(&search_request()), Probe::Match);
        assert_eq!(tcp(&bind_request()[..3]), Probe::NeedMore);
        assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, &search_request())), Probe::Match);
        assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, &search_request()[..10])), Probe::NoMatch);
        let tls = hex("1603010200010001fc0303");
        let q = hex(crate::app::dns::parser::tests::QUERY);
        let snmp = hex("302902010004067075626c6963a11c02044b781a6e020100020100300e300c06082b060102010105000500");
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-OpenSSH_9.0\r\n", &tls, &q, &snmp, &[0x30; 40]] {
            assert_eq!(tcp(s), Probe::NoMatch, "{s:?}");
        }
        assert_eq!(tcp(b""), Probe::NeedMore);
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_ne!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, s)), Probe::Match, "{n}");
            assert_eq!(probe_udp(&ProbeInput::new(L4::Udp, 0, s)), Probe::NoMatch, "{n}");
        }
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 389);
        let m = search_request();
        for n in 0..m.len() {
            assert_ne!(probe_tcp(&ProbeInput::new(L4::Tcp, 0, &m[..n])), Probe::NoMatch);
            datagram(0, &m[..n], &mut cx);
        }
    }

    #[test]
    fn events_split_across_chunks() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 389);
        let (mut st, mut b0, mut b1) = (State::default(), MsgBuf::default(), MsgBuf::default());
        let mut to_server = bind_request();
        to_server.extend_from_slice(&search_request());
        for c in to_server.chunks(5) {
            assert_eq!(st.data(0, c, &mut b0, &mut cx), Next::More);
        }
        assert_eq!(st.data(1, &bind_response(), &mut b1, &mut cx), Next::More);
        // TLS after StartTLS: parsing stops.
        assert_eq!(st.data(1, &[0x16, 3, 3, 0, 5], &mut b1, &mut cx), Next::Done);
        let ev: Vec<_> = out
            .0
            .iter()
            .map(|(_, t, v)| {
                assert_eq!(*t, "ldap");
                v
            })
            .collect();
        assert_eq!(ev[0]["operation"], "bind_request");
        assert_eq!(ev[0]["message_id"], 1);
        assert_eq!(ev[0]["bind_request"]["name"], "cn=admin,dc=example,dc=com");
        assert_eq!(ev[0]["bind_request"]["version"], 3);
        assert_eq!(ev[1]["search_request"]["base_object"], "dc=example,dc=com");
        assert_eq!(ev[1]["search_request"]["scope"], 2);
        assert_eq!(ev[2]["bind_response"]["result_code"], "success");
    }
}
