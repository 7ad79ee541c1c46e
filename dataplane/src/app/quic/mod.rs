//! QUIC (IETF v1/v2 and drafts, mvfst, Google's gQUIC): identification from a long header
//! with a known version and consistent connection-ID and length fields (short headers
//! alone never match: they carry nothing to check), and Suricata's EVE `quic` event for
//! Initial packets: the version, the SNI and user agent of a gQUIC CHLO sent in clear, and
//! for IETF QUIC (v1, v2, drafts 29-34) the client's TLS ClientHello read from its
//! decrypted Initial packet ([`initial`]): SNI, ALPN, JA3 and JA4.
//!
//! The datagram parser has no per-flow state: it writes one event per Initial (or gQUIC
//! versioned) datagram, of which a connection has a few; later packets write nothing.
use crate::app::tls::ClientInfo;
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind, Text};
use serde::{Serialize, Serializer};

pub mod initial;
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

#[derive(Serialize)]
struct Hash<'a> {
    hash: &'a str,
    string: &'a str,
}

/// An entry of Suricata's `extensions` list (only ALPN is written).
#[derive(Serialize)]
struct Extension<'a> {
    name: &'static str,
    #[serde(rename = "type")]
    typ: u16,
    values: Names<'a>,
}

struct Names<'a>(&'a [Vec<u8>]);

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|n| Text(n)))
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
    #[serde(skip_serializing_if = "Option::is_none")]
    ja3: Option<Hash<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ja4: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extensions: Vec<Extension<'a>>,
}

/// The ClientHello of a client Initial (IETF versions), if it decrypts.
fn client_hello(b: &[u8]) -> Option<ClientInfo> {
    let mut crypto = [0u8; initial::MAX_CRYPTO];
    let n = initial::crypto_stream(b, &mut crypto)?;
    let stream = crypto.get(..n)?;
    if *stream.first()? != crate::app::tls::parser::HS_CLIENT_HELLO {
        return None;
    }
    let len = crate::app::bytes::be24(stream, 1)? as usize;
    let body = stream.get(4..stream.len().min(4 + len))?;
    ClientInfo::from_hello(body, true)
}

pub fn datagram(dir: usize, b: &[u8], cx: &mut Cx<'_>) {
    let (version, body) = match parser::packet(b) {
        Ok(Packet::Long { version, initial: true, body }) => (version, body),
        Ok(Packet::Public { version, body }) => (version, body),
        _ => return,
    };
    let gquic = parser::is_google(version);
    let chlo = if gquic { parser::chlo_tags(b, body).unwrap_or_default() } else { parser::Chlo::default() };
    let hello = if gquic { None } else { client_hello(b) };
    let hello = hello.as_ref();
    let mut extensions = Vec::new();
    if let Some(h) = hello.filter(|h| !h.alpns.is_empty()) {
        extensions.push(Extension { name: "alpn", typ: crate::app::tls::parser::EXT_ALPN, values: Names(&h.alpns) });
    }
    let ev = Event {
        version: Version(version),
        sni: chlo.sni.or_else(|| hello.and_then(|h| h.sni.as_deref())).map(Text),
        ua: chlo.ua.map(Text),
        ja3: hello.map(|h| Hash { hash: &h.ja3_hash, string: &h.ja3 }),
        ja4: hello.map(|h| h.ja4.as_str()),
        extensions,
    };
    cx.emit(dir, "quic", &ev);
}

#[cfg(test)]
mod tests;
