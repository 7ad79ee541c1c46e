//! DHCP (RFC 2131) over UDP: identification from the BOOTP header and the magic cookie, and
//! Suricata's EVE `dhcp` events (extended form) written lazily from the datagram.
//!
//! Invariant: options are walked at most [`MAX_OPTIONS`] times per datagram, within its bytes.
use crate::app::bytes::{be32, u8_at};
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind, Text};
use serde::ser::{SerializeSeq, Serializer};
use serde::Serialize;
use std::net::Ipv4Addr;

pub const DESC: Desc = Desc {
    proto: AppProto::Dhcp,
    tcp: None,
    udp: Some(probe),
    ports: &[67, 68],
    stream: StreamKind::None,
    datagram: Some(datagram),
};

/// Offset of the magic cookie (after the fixed BOOTP fields).
const COOKIE_AT: usize = 236;
const COOKIE: u32 = 0x6382_5363;
/// Options walked per datagram at most.
pub const MAX_OPTIONS: usize = 128;
/// BOOTP relay hops a real message has at most.
const MAX_HOPS: u8 = 16;

mod field {
    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: usize = 4;
    pub const CIADDR: usize = 12;
    pub const YIADDR: usize = 16;
    pub const SIADDR: usize = 20;
    pub const GIADDR: usize = 24;
    pub const CHADDR: usize = 28;
}

mod opt {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS_SERVER: u8 = 6;
    pub const HOSTNAME: u8 = 12;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const PARAMS: u8 = 55;
    pub const RENEWAL_TIME: u8 = 58;
    pub const REBINDING_TIME: u8 = 59;
    pub const VENDOR_CLASS_ID: u8 = 60;
    pub const CLIENT_ID: u8 = 61;
    pub const END: u8 = 255;
}

/// The options of a message: `(code, value)`, stopping at END, a truncated option or
/// [`MAX_OPTIONS`].
fn options(b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut off = COOKIE_AT + 4;
    let mut n = 0;
    std::iter::from_fn(move || {
        while n < MAX_OPTIONS {
            n += 1;
            let code = u8_at(b, off)?;
            if code == opt::PAD {
                off += 1;
                continue;
            }
            if code == opt::END {
                return None;
            }
            let len = u8_at(b, off + 1)? as usize;
            let val = b.get(off + 2..off + 2 + len)?;
            off += 2 + len;
            return Some((code, val));
        }
        None
    })
}

fn option(b: &[u8], code: u8) -> Option<&[u8]> {
    options(b).find(|(c, _)| *c == code).map(|(_, v)| v)
}

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    let b = i.data;
    let header_ok = matches!(u8_at(b, field::OP), Some(1 | 2))
        && u8_at(b, field::HTYPE) == Some(1)
        && u8_at(b, field::HLEN) == Some(6)
        && u8_at(b, field::HOPS).is_some_and(|h| h <= MAX_HOPS)
        && be32(b, COOKIE_AT) == Some(COOKIE);
    let typed = || option(b, opt::MESSAGE_TYPE).is_some_and(|v| matches!(v, [1..=18]));
    if header_ok && typed() {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

fn dhcp_type(t: u8) -> &'static str {
    match t {
        1 => "discover",
        2 => "offer",
        3 => "request",
        4 => "decline",
        5 => "ack",
        6 => "nak",
        7 => "release",
        8 => "inform",
        _ => "unknown",
    }
}

/// A parameter name of option 55, as Suricata writes it (others are not written).
fn param_name(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "subnet_mask",
        3 => "router",
        6 => "dns_server",
        15 => "domain",
        35 => "arp_timeout",
        42 => "ntp_server",
        66 => "tftp_server_name",
        150 => "tftp_server_ip",
        _ => return None,
    })
}

struct Ip(Option<[u8; 4]>);

impl Ip {
    fn at(b: &[u8], off: usize) -> Ip {
        Ip(b.get(off..off + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()))
    }
}

impl Serialize for Ip {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(a) => s.collect_str(&Ipv4Addr::from(a)),
            None => s.serialize_str(""),
        }
    }
}

/// Bytes as `aa:bb:cc` (MAC addresses, client identifiers).
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct D<'a>(&'a [u8]);
        impl std::fmt::Display for D<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                for (i, b) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
        s.collect_str(&D(self.0))
    }
}

/// A list of IPv4 addresses (option value, 4 bytes each).
struct Ips<'a>(&'a [u8]);

impl Serialize for Ips<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for a in self.0.chunks_exact(4) {
            seq.serialize_element(&Ip(<[u8; 4]>::try_from(a).ok()))?;
        }
        seq.end()
    }
}

struct Params<'a>(&'a [u8]);

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for p in self.0.iter().filter_map(|&p| param_name(p)) {
            seq.serialize_element(p)?;
        }
        seq.end()
    }
}

#[derive(Serialize, Default)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: u32,
    client_mac: Option<Hex<'a>>,
    assigned_ip: Option<Ip>,
    client_ip: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relay_ip: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_server_ip: Option<Ip>,
    dhcp_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<Hex<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_ip: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_time: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    renewal_time: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rebinding_time: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subnet_mask: Option<Ip>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routers: Option<Ips<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_servers: Option<Ips<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<Params<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_class_identifier: Option<Text<'a>>,
}

pub fn datagram(dir: usize, b: &[u8], cx: &mut Cx<'_>) {
    let Some(xid) = be32(b, field::XID) else { return };
    if be32(b, COOKIE_AT) != Some(COOKIE) {
        return;
    }
    let reply = u8_at(b, field::OP) == Some(2);
    let mut ev = Event {
        kind: if reply { "reply" } else { "request" },
        id: xid,
        client_mac: b.get(field::CHADDR..field::CHADDR + 6).map(Hex),
        assigned_ip: Some(Ip::at(b, field::YIADDR)),
        client_ip: Some(Ip::at(b, field::CIADDR)),
        relay_ip: reply.then(|| Ip::at(b, field::GIADDR)),
        next_server_ip: reply.then(|| Ip::at(b, field::SIADDR)),
        dhcp_type: "unknown",
        ..Event::default()
    };
    let secs = |v: &[u8]| be32(v, 0);
    for (code, v) in options(b) {
        match code {
            opt::MESSAGE_TYPE => ev.dhcp_type = dhcp_type(v.first().copied().unwrap_or(0)),
            // The type byte (1 = Ethernet) is not part of the identifier Suricata writes.
            opt::CLIENT_ID if v.len() > 1 => ev.client_id = v.get(1..).map(Hex),
            opt::HOSTNAME if !v.is_empty() => ev.hostname = Some(Text(v)),
            opt::VENDOR_CLASS_ID if !v.is_empty() => ev.vendor_class_identifier = Some(Text(v)),
            opt::REQUESTED_IP => ev.requested_ip = Some(Ip::at(v, 0)),
            opt::LEASE_TIME => ev.lease_time = secs(v),
            opt::RENEWAL_TIME => ev.renewal_time = secs(v),
            opt::REBINDING_TIME => ev.rebinding_time = secs(v),
            opt::SUBNET_MASK => ev.subnet_mask = Some(Ip::at(v, 0)),
            opt::ROUTER => ev.routers = Some(Ips(v)),
            opt::DNS_SERVER => ev.dns_servers = Some(Ips(v)),
            opt::PARAMS => ev.params = Some(Params(v)),
            _ => {}
        }
    }
    cx.emit(dir, "dhcp", &ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// A DHCPREQUEST from an iPhone (iphone.pcap), trailing padding cut.
    fn request() -> Vec<u8> {
        let mut m = hex("0101060078544709001b000000000000000000000000000000000000d8306256001c");
        m.resize(COOKIE_AT, 0);
        m.extend_from_slice(&hex(
            "63825363350103370a017903060f77fc5f2c2e390205dc3d0701d8306256001c33040076a7000c0a4c756361732d694d61633204c0a80211ff",
        ));
        m
    }

    /// A DHCPACK built from the request (op 2, yiaddr, server options).
    fn ack() -> Vec<u8> {
        let mut m = request();
        m[0] = 2;
        m[16..20].copy_from_slice(&[192, 168, 2, 17]);
        m.truncate(COOKIE_AT + 4);
        m.extend_from_slice(&hex("3501053604c0a802013304000151800104ffffff000304c0a802010608c0a80201c0a80202ff"));
        m
    }

    fn udp(b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Udp, 0, b))
    }

    #[test]
    fn probe_requests_and_replies() {
        assert_eq!(udp(&request()), Probe::Match);
        assert_eq!(udp(&ack()), Probe::Match);
        assert_eq!(udp(&request()[..200]), Probe::NoMatch);
        // BOOTP without option 53 is not DHCP.
        let mut bootp = request();
        bootp.truncate(COOKIE_AT + 4);
        bootp.push(0xff);
        assert_eq!(udp(&bootp), Probe::NoMatch);
        let q = hex(crate::app::dns::parser::tests::QUERY);
        for s in [&b"GET / HTTP/1.1\r\n\r\n"[..], b"SSH-2.0-x\r\n", b"", &[0x16, 3, 1, 0, 0x40, 1], &q, &[1; 300]] {
            assert_eq!(udp(s), Probe::NoMatch);
        }
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_eq!(udp(s), Probe::NoMatch, "{n}");
        }
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 68, 67);
        let a = ack();
        for n in 0..a.len() {
            let _ = udp(&a[..n]);
            datagram(1, &a[..n], &mut cx);
        }
    }

    #[test]
    fn events_have_suricata_fields() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 68, 67);
        datagram(0, &request(), &mut cx);
        datagram(1, &ack(), &mut cx);
        let r = &out.0[0].2;
        assert_eq!(out.0[0].1, "dhcp");
        assert_eq!(r["type"], "request");
        assert_eq!(r["id"], 0x7854_4709u32);
        assert_eq!(r["client_mac"], "d8:30:62:56:00:1c");
        assert_eq!(r["dhcp_type"], "request");
        assert_eq!(r["hostname"], "Lucas-iMac");
        assert_eq!(r["requested_ip"], "192.168.2.17");
        assert_eq!(r["client_id"], "d8:30:62:56:00:1c");
        assert_eq!(r["params"], serde_json::json!(["subnet_mask", "router", "dns_server", "domain"]));
        let a = &out.0[1].2;
        assert_eq!(a["type"], "reply");
        assert_eq!(a["dhcp_type"], "ack");
        assert_eq!(a["assigned_ip"], "192.168.2.17");
        assert_eq!(a["relay_ip"], "0.0.0.0");
        assert!(r.get("relay_ip").is_none());
        assert_eq!(a["lease_time"], 86400);
        assert_eq!(a["subnet_mask"], "255.255.255.0");
        assert_eq!(a["routers"], serde_json::json!(["192.168.2.1"]));
        assert_eq!(a["dns_servers"], serde_json::json!(["192.168.2.1", "192.168.2.2"]));
    }
}
