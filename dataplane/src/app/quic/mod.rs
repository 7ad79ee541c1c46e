//! QUIC (IETF v1/v2 and drafts, mvfst, Google's gQUIC): identification from a long header
//! with a known version and consistent connection-ID and length fields (short headers
//! alone never match: they carry nothing to check), and Suricata's EVE `quic` event for
//! Initial packets: the version, plus the SNI and user agent of a gQUIC CHLO sent in clear.
//!
//! The datagram parser has no per-flow state: it writes one event per Initial (or gQUIC
//! versioned) datagram, of which a connection has a few; later packets write nothing.
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind, Text};
use serde::{Serialize, Serializer};

pub mod parser;

use parser::Packet;

pub const DESC: Desc = Desc {
    proto: AppProto::Quic,
    tcp: None,
    udp: Some(probe),
    ports: &[443],
    stream: StreamKind::None,
    datagram: Some(datagram),
};

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    match parser::packet(i.data) {
        Ok(_) => Probe::Match,
        Err(parser::Error::Incomplete) if parser::public_server_hello(i.data) => Probe::Match,
        Err(parser::Error::Incomplete) => Probe::NeedMore,
        Err(parser::Error::Invalid) => Probe::NoMatch,
    }
}

struct Version(u32);

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&parser::VersionName(self.0))
    }
}

/// Suricata 7's EVE `quic` object (the fields this parser can fill).
#[derive(Serialize)]
struct Event<'a> {
    version: Version,
    #[serde(skip_serializing_if = "Option::is_none")]
    sni: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ua: Option<Text<'a>>,
}

pub fn datagram(dir: usize, b: &[u8], cx: &mut Cx<'_>) {
    let (version, body) = match parser::packet(b) {
        Ok(Packet::Long { version, initial: true, body }) => (version, body),
        Ok(Packet::Public { version, body }) => (version, body),
        _ => return,
    };
    let gquic = parser::is_google(version);
    let chlo = if gquic { parser::chlo_tags(b, body).unwrap_or_default() } else { parser::Chlo::default() };
    cx.emit(dir, "quic", &Event { version: Version(version), sni: chlo.sni.map(Text), ua: chlo.ua.map(Text) });
}

#[cfg(test)]
mod tests;
