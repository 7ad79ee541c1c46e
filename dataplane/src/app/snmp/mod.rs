//! SNMP v1, v2c and v3 over UDP: identification from the BER message structure and
//! Suricata's EVE `snmp` events (version, pdu_type, vars, community / usm).
//!
//! Invariant: a datagram matches only when it is one BER SEQUENCE spanning exactly the
//! datagram, with a version SNMP defines and the fields that version requires.
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind, Text};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use std::net::Ipv4Addr;

pub mod ber;
use ber::{Oid, INTEGER, OCTET_STRING, OID, SEQUENCE};

pub const DESC: Desc = Desc {
    proto: AppProto::Snmp,
    tcp: None,
    udp: Some(probe),
    ports: &[161, 162],
    stream: StreamKind::None,
    datagram: Some(datagram),
};

/// Variable bindings written per event at most.
pub const MAX_VARS: usize = 64;
/// PDU tags: GetRequest (0xa0) to Report (0xa8).
const PDU_FIRST: u8 = 0xa0;
const PDU_LAST: u8 = 0xa8;
const TRAP_V1: u8 = 0xa4;
/// GetBulkRequest: its second and third INTEGERs are not an error status and index.
const GET_BULK: u8 = 0xa5;
/// SNMPv1 Trap-PDU's agent-addr: [APPLICATION 0] IpAddress.
const IP_ADDRESS: u8 = 0x40;
/// msgFlags' privacy bit: the scoped PDU is encrypted.
const FLAG_PRIV: u8 = 0x02;

/// A parsed message: what the event needs.
#[derive(Default)]
struct Message<'a> {
    version: u8,
    community: Option<&'a [u8]>,
    usm: Option<&'a [u8]>,
    encrypted: bool,
    pdu: Option<(u8, &'a [u8])>,
}

fn small_int(v: &[u8]) -> Option<u64> {
    ber::uint(v)
}

/// Parses a whole datagram; `None` when it is not SNMP.
fn message(b: &[u8]) -> Option<Message<'_>> {
    let h = ber::header(b).ok()?;
    if h.tag != SEQUENCE || h.total() != b.len() {
        return None;
    }
    let body = b.get(h.hdr..)?;
    let (v, rest) = ber::expect(body, INTEGER).ok()?;
    let version = match v {
        [0] => 1,
        [1] => 2,
        [3] => 3,
        _ => return None,
    };
    if version == 3 {
        return message_v3(rest);
    }
    let (community, rest) = ber::expect(rest, OCTET_STRING).ok()?;
    let (tag, pdu, rest) = ber::tlv(rest).ok()?;
    if !(PDU_FIRST..=PDU_LAST).contains(&tag) || !rest.is_empty() || !pdu_ok(tag, pdu) {
        return None;
    }
    Some(Message { version, community: Some(community), pdu: Some((tag, pdu)), ..Message::default() })
}

/// A PDU body: request-id, error-status, error-index, varbinds (or the v1 trap's fields).
fn pdu_ok(tag: u8, pdu: &[u8]) -> bool {
    if tag == TRAP_V1 {
        return ber::expect(pdu, OID).is_ok();
    }
    let int = |b| ber::expect(b, INTEGER).ok().map(|(_, r)| r);
    let Some(rest) = int(pdu).and_then(int).and_then(int) else { return false };
    matches!(ber::expect(rest, SEQUENCE), Ok((_, [])))
}

fn message_v3(rest: &[u8]) -> Option<Message<'_>> {
    // msgGlobalData: msgID, msgMaxSize, msgFlags (1 byte), msgSecurityModel.
    let (global, rest) = ber::expect(rest, SEQUENCE).ok()?;
    let (_, g) = ber::expect(global, INTEGER).ok()?;
    let (_, g) = ber::expect(g, INTEGER).ok()?;
    let (flags, g) = ber::expect(g, OCTET_STRING).ok()?;
    let (model, g) = ber::expect(g, INTEGER).ok()?;
    let &[flags] = flags else { return None };
    if !g.is_empty() || small_int(model)? > 255 {
        return None;
    }
    let (secparams, rest) = ber::expect(rest, OCTET_STRING).ok()?;
    // USM parameters: engine id, boots, time, user name, auth, priv.
    let usm = ber::expect(secparams, SEQUENCE)
        .ok()
        .and_then(|(s, _)| {
            let (_, s) = ber::expect(s, OCTET_STRING).ok()?;
            let (_, s) = ber::expect(s, INTEGER).ok()?;
            let (_, s) = ber::expect(s, INTEGER).ok()?;
            ber::expect(s, OCTET_STRING).ok()
        })
        .map(|(user, _)| user);
    let (tag, data, rest) = ber::tlv(rest).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let mut m = Message { version: 3, usm, ..Message::default() };
    match tag {
        OCTET_STRING if flags & FLAG_PRIV != 0 => m.encrypted = true,
        SEQUENCE => {
            // ScopedPDU: contextEngineID, contextName, PDU.
            let (_, s) = ber::expect(data, OCTET_STRING).ok()?;
            let (_, s) = ber::expect(s, OCTET_STRING).ok()?;
            let (tag, pdu, _) = ber::tlv(s).ok()?;
            if !(PDU_FIRST..=PDU_LAST).contains(&tag) || !pdu_ok(tag, pdu) {
                return None;
            }
            m.pdu = Some((tag, pdu));
        }
        _ => return None,
    }
    Some(m)
}

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    if message(i.data).is_some() {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

fn pdu_type(tag: u8) -> &'static str {
    match tag {
        0xa0 => "get_request",
        0xa1 => "get_next_request",
        0xa2 => "response",
        0xa3 => "set_request",
        0xa4 => "trap_v1",
        0xa5 => "get_bulk_request",
        0xa6 => "inform_request",
        0xa7 => "trap_v2",
        0xa8 => "report",
        _ => "unknown",
    }
}

/// The error-status of a PDU, as Suricata writes it (snmp-parser's names).
fn error_name(e: u64) -> &'static str {
    match e {
        0 => "NoError",
        1 => "TooBig",
        2 => "NoSuchName",
        3 => "BadValue",
        4 => "ReadOnly",
        5 => "GenErr",
        6 => "NoAccess",
        7 => "WrongType",
        8 => "WrongLength",
        9 => "WrongEncoding",
        10 => "WrongValue",
        11 => "NoCreation",
        12 => "InconsistentValue",
        13 => "ResourceUnavailable",
        14 => "CommitFailed",
        15 => "UndoFailed",
        16 => "AuthorizationError",
        17 => "NotWritable",
        18 => "InconsistentName",
        _ => "Unknown",
    }
}

fn trap_type(t: u64) -> &'static str {
    match t {
        0 => "ColdStart",
        1 => "WarmStart",
        2 => "LinkDown",
        3 => "LinkUp",
        4 => "AuthenticationFailure",
        5 => "EgpNeighborLoss",
        6 => "EnterpriseSpecific",
        _ => "Unknown",
    }
}

/// The OIDs of a VarBindList's body.
struct Vars<'a>(&'a [u8]);

impl Serialize for Vars<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let mut b = self.0;
        for _ in 0..MAX_VARS {
            let Ok((vb, rest)) = ber::expect(b, SEQUENCE) else { break };
            if let Ok((oid, _)) = ber::expect(vb, OID) {
                seq.serialize_element(&OidStr(oid))?;
            }
            b = rest;
        }
        seq.end()
    }
}

struct OidStr<'a>(&'a [u8]);

impl Serialize for OidStr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Oid(self.0))
    }
}

struct Ip([u8; 4]);

impl Serialize for Ip {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Ipv4Addr::from(self.0))
    }
}

#[derive(Serialize)]
struct Event<'a> {
    version: u8,
    pdu_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vars: Option<Vars<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trap_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trap_oid: Option<OidStr<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trap_address: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    community: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usm: Option<Text<'a>>,
}

pub fn datagram(dir: usize, b: &[u8], cx: &mut Cx<'_>) {
    let Some(m) = message(b) else { return };
    let mut ev = Event {
        version: m.version,
        pdu_type: if m.encrypted { "encrypted" } else { "unknown" },
        error: None,
        vars: None,
        trap_type: None,
        trap_oid: None,
        trap_address: None,
        community: m.community.map(Text),
        usm: m.usm.map(Text),
    };
    if let Some((tag, pdu)) = m.pdu {
        ev.pdu_type = pdu_type(tag);
        if tag == TRAP_V1 {
            // enterprise OID, agent-addr, generic-trap, specific-trap, time-stamp, varbinds.
            let trap = || {
                let (oid, r) = ber::expect(pdu, OID).ok()?;
                let (addr, r) = ber::expect(r, IP_ADDRESS).ok()?;
                let (generic, r) = ber::expect(r, INTEGER).ok()?;
                let (_, r) = ber::expect(r, INTEGER).ok()?;
                let (_, _, r) = ber::tlv(r).ok()?;
                let (vars, _) = ber::expect(r, SEQUENCE).ok()?;
                Some((oid, <[u8; 4]>::try_from(addr).ok(), ber::uint(generic), vars))
            };
            if let Some((oid, addr, generic, vars)) = trap() {
                ev.trap_oid = Some(OidStr(oid));
                ev.trap_address = addr.map(Ip);
                ev.trap_type = generic.map(trap_type);
                ev.vars = Some(Vars(vars));
            }
        } else {
            let int = |b| ber::expect(b, INTEGER).ok().map(|(_, r)| r);
            let status = int(pdu).and_then(|r| ber::expect(r, INTEGER).ok()).and_then(|(v, _)| ber::uint(v));
            if tag != GET_BULK {
                ev.error = status.filter(|&e| e != 0).map(error_name);
            }
            let rest = int(pdu).and_then(int).and_then(int);
            ev.vars = rest.and_then(|r| ber::expect(r, SEQUENCE).ok()).map(|(v, _)| Vars(v));
        }
    }
    cx.emit(dir, "snmp", &ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// v1 get-next-request and its response, v2c get-request (snmp.pcap).
    const V1_GETNEXT: &str = "302902010004067075626c6963a11c02044b781a6e020100020100300e300c06082b060102010105000500";
    const V1_RESPONSE: &str = "303502010004067075626c6963a22802044b781a6f020100020100301a301806082b06010201010500040c52312e6c61622e6c6f63616c";
    const V2_GET: &str = "302902010104067075626c6963a01c02045067d65d020100020100300e300c06082b060102010105000500";
    /// v3 discovery (no user) and a get-request with user "NOAUTHNOPRIV" (snmp.pcap).
    const V3_DISCOVERY: &str = "303e020103301102046c9af56e020300ffe30401040201030410300e0400020100020100040004000400301404000400a00e0204750558880201000201003000";
    const V3_GET: &str = "3071020103301102046c9af56d020300ffe304010402010304293027040c800000090300aabbcc00010002010c020202cd040c4e4f415554484e4f5052495604000400302e040c800000090300aabbcc0001000400a11c020475055887020100020100300e300c06082b060102010105000500";

    fn udp(b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Udp, 0, b))
    }

    #[test]
    fn probe_versions_and_directions() {
        for m in [V1_GETNEXT, V1_RESPONSE, V2_GET, V3_DISCOVERY, V3_GET] {
            assert_eq!(udp(&hex(m)), Probe::Match, "{m}");
        }
        let v1 = hex(V1_GETNEXT);
        assert_eq!(udp(&v1[..30]), Probe::NoMatch);
        let mut bad = v1.clone();
        bad[4] = 2; // version 2 does not exist
        assert_eq!(udp(&bad), Probe::NoMatch);
        let q = hex(crate::app::dns::parser::tests::QUERY);
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-x\r\n", b"", &[0x16, 3, 1, 0, 0x40, 1], &q, &[0x30; 40]] {
            assert_eq!(udp(s), Probe::NoMatch);
        }
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_eq!(udp(s), Probe::NoMatch, "{n}");
        }
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 161);
        let m = hex(V3_GET);
        for n in 0..m.len() {
            assert_eq!(udp(&m[..n]), Probe::NoMatch);
            datagram(0, &m[..n], &mut cx);
        }
    }

    #[test]
    fn events_have_suricata_fields() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 161);
        for (dir, m) in [(0, V1_GETNEXT), (1, V1_RESPONSE), (0, V2_GET), (0, V3_GET)] {
            datagram(dir, &hex(m), &mut cx);
        }
        let ev: Vec<_> = out.0.iter().map(|(_, t, v)| (*t, v)).collect();
        assert_eq!(ev[0].0, "snmp");
        assert_eq!(ev[0].1["version"], 1);
        assert_eq!(ev[0].1["pdu_type"], "get_next_request");
        assert_eq!(ev[0].1["community"], "public");
        assert_eq!(ev[0].1["vars"], serde_json::json!(["1.3.6.1.2.1.1.5.0"]));
        assert_eq!(ev[1].1["pdu_type"], "response");
        assert_eq!(ev[2].1["version"], 2);
        assert_eq!(ev[2].1["pdu_type"], "get_request");
        assert_eq!(ev[3].1["version"], 3);
        assert_eq!(ev[3].1["usm"], "NOAUTHNOPRIV");
        assert_eq!(ev[3].1["pdu_type"], "get_next_request");
        assert!(ev[3].1.get("community").is_none());
        assert!(ev[1].1.get("error").is_none());
    }

    #[test]
    fn trap_v1_and_errors() {
        use crate::app::krb5::parser::tests::der;
        let varbinds = der(0x30, &der(0x30, &[der(0x06, &[0x2b, 6, 1, 2, 1, 1, 3, 0]), der(0x43, &[1, 0])].concat()));
        let trap = der(
            0xa4,
            &[
                der(0x06, &[0x2b, 6, 1, 4, 1, 9]),
                der(0x40, &[10, 0, 0, 1]),
                der(0x02, &[3]),
                der(0x02, &[0]),
                der(0x43, &[5]),
                varbinds,
            ]
            .concat(),
        );
        let msg = der(0x30, &[der(0x02, &[0]), der(0x04, b"public"), trap].concat());
        assert_eq!(udp(&msg), Probe::Match);
        let mut resp = hex(V1_RESPONSE);
        // After the request id (02 04 xx xx xx xx): error-status 02 01 00.
        let at = resp.windows(2).position(|w| w == [2, 4]).unwrap() + 6;
        assert_eq!(resp[at..at + 3], [2, 1, 0]);
        resp[at + 2] = 2; // noSuchName
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 162);
        datagram(0, &msg, &mut cx);
        datagram(1, &resp, &mut cx);
        let t = &out.0[0].2;
        assert_eq!(t["pdu_type"], "trap_v1");
        assert_eq!(t["trap_type"], "LinkUp");
        assert_eq!(t["trap_oid"], "1.3.6.1.4.1.9");
        assert_eq!(t["trap_address"], "10.0.0.1");
        assert_eq!(t["vars"], serde_json::json!(["1.3.6.1.2.1.1.3.0"]));
        assert_eq!(out.0[1].2["error"], "NoSuchName");
    }
}
