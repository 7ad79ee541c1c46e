//! NTP (RFC 5905; modes 6 and 7 of RFC 1305 / ntpd) over UDP: identification from the
//! header's sanity and the datagram's length, and an `ntp` event per datagram (Suricata has
//! no NTP logger: version, mode, stratum, reference id, what an operator needs).
use crate::app::bytes::{be16, be32, u8_at};
use crate::app::{AppProto, Cx, Desc, Probe, ProbeInput, StreamKind};
use serde::{Serialize, Serializer};
use std::net::Ipv4Addr;

pub const DESC: Desc = Desc {
    proto: AppProto::Ntp,
    tcp: None,
    udp: Some(probe),
    ports: &[123],
    stream: StreamKind::None,
    datagram: Some(datagram),
};

/// The fixed header of modes 1..=5.
pub const HEADER_LEN: usize = 48;
/// Longest datagram: header, extension fields (autokey) and a MAC.
pub const MAX_LEN: usize = 1024;
/// Mode 6 (control) header length and largest data count.
const CONTROL_HEADER: usize = 12;
const MAX_CONTROL_DATA: usize = 468;
/// Mode 7 (private) header length.
const PRIVATE_HEADER: usize = 8;
/// Longest MAC after a control message: key id + SHA-1 digest.
const MAX_MAC: usize = 24;
/// Stratum 16 = unsynchronised; above is reserved.
const MAX_STRATUM: u8 = 16;
/// Poll exponent (log2 seconds) range, 0 from minimal SNTP clients.
const MAX_POLL: i8 = 17;
/// Precision exponent (log2 seconds): -32 (sub-nanosecond) to 0.
const MIN_PRECISION: i8 = -32;
/// Root delay and dispersion (16.16 seconds) of a server: below 256 s.
const MAX_ROOT: u32 = 0x0100_0000;
/// ntpdc (mode 7) requests are 48 bytes, 72 with a MAC; responses carry at most 500 bytes.
const PRIVATE_REQUEST_LENS: [usize; 2] = [48, 72];
const MAX_PRIVATE_DATA: usize = 500;

fn version(b0: u8) -> u8 {
    (b0 >> 3) & 7
}
fn mode(b0: u8) -> u8 {
    b0 & 7
}

pub fn probe(i: &ProbeInput<'_>) -> Probe {
    if check(i.data) {
        Probe::Match
    } else {
        Probe::NoMatch
    }
}

/// Whether the datagram is an NTP message.
fn check(b: &[u8]) -> bool {
    let Some(b0) = u8_at(b, 0) else { return false };
    if !(1..=4).contains(&version(b0)) || b.len() > MAX_LEN {
        return false;
    }
    match mode(b0) {
        1..=5 => check_time(b),
        6 => check_control(b),
        7 => check_private(b),
        _ => false,
    }
}

fn check_time(b: &[u8]) -> bool {
    if b.len() < HEADER_LEN || !(b.len() - HEADER_LEN).is_multiple_of(4) {
        return false;
    }
    let (Some(b0), Some(stratum), Some(poll), Some(precision)) = (u8_at(b, 0), u8_at(b, 1), u8_at(b, 2), u8_at(b, 3))
    else {
        return false;
    };
    let (poll, precision) = (poll as i8, precision as i8);
    if stratum > MAX_STRATUM || !(0..=MAX_POLL).contains(&poll) || !(MIN_PRECISION..=0).contains(&precision) {
        return false;
    }
    // A client's request may leave everything else zero; a server or peer describes its
    // clock, and that description must be sane.
    if mode(b0) == 3 || stratum == MAX_STRATUM {
        return true;
    }
    let (Some(delay), Some(dispersion)) = (be32(b, 4), be32(b, 8)) else { return false };
    let transmit = b.get(40..48).is_some_and(|t| t.iter().any(|&c| c != 0));
    let synced = stratum > 0;
    delay < MAX_ROOT
        && dispersion < MAX_ROOT
        && (!synced || precision < 0)
        && (stratum > 1 || ascii_refid(b.get(12..16).unwrap_or(&[])))
        && (!synced || transmit)
}

/// A stratum 0/1 reference id: a kiss code or clock source, ASCII padded with NULs.
fn ascii_refid(id: &[u8]) -> bool {
    let end = id.iter().position(|&c| c == 0).unwrap_or(id.len());
    let (code, pad) = id.split_at(end);
    !code.is_empty() && code.iter().all(|c| c.is_ascii_graphic()) && pad.iter().all(|&c| c == 0)
}

/// Mode 6: R/E/M bits + opcode, sequence, status, association, offset, count, data.
fn check_control(b: &[u8]) -> bool {
    let (Some(op), Some(count)) = (u8_at(b, 1), be16(b, 10)) else { return false };
    let count = count as usize;
    let opcode = op & 0x1f;
    let padded = count.div_ceil(4) * 4;
    (1..=12).contains(&opcode)
        && count <= MAX_CONTROL_DATA
        && b.len() >= CONTROL_HEADER + count
        && b.len() <= CONTROL_HEADER + padded + MAX_MAC
}

/// Mode 7: R/M/version/mode, A/sequence, implementation, request code, err/nitems,
/// mbz/itemsize, data.
fn check_private(b: &[u8]) -> bool {
    let (Some(b0), Some(imp), Some(e_items), Some(m_size)) = (u8_at(b, 0), u8_at(b, 2), be16(b, 4), be16(b, 6)) else {
        return false;
    };
    let (err, items, mbz, size) = (e_items >> 12, (e_items & 0xfff) as usize, m_size >> 12, (m_size & 0xfff) as usize);
    let response = b0 & 0x80 != 0;
    let data = items.saturating_mul(size);
    let len_ok = if response {
        // ntpd answers with exactly its items.
        data <= MAX_PRIVATE_DATA && b.len() == PRIVATE_HEADER + data
    } else {
        PRIVATE_REQUEST_LENS.contains(&b.len()) && data <= b.len() - PRIVATE_HEADER
    };
    matches!(imp, 0 | 2 | 3) && err <= 7 && mbz == 0 && size <= MAX_PRIVATE_DATA && (items == 0 || size > 0) && len_ok
}

fn mode_name(m: u8) -> &'static str {
    match m {
        1 => "symmetric_active",
        2 => "symmetric_passive",
        3 => "client",
        4 => "server",
        5 => "broadcast",
        6 => "control",
        7 => "private",
        _ => "reserved",
    }
}

/// The reference id: a 4-character code at stratum 0/1 (kiss code, clock source), else the
/// IPv4 address (or address hash) of the server's source.
struct RefId {
    id: [u8; 4],
    ascii: bool,
}

impl Serialize for RefId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.ascii {
            let end = self.id.iter().position(|&c| c == 0).unwrap_or(4);
            let code = self.id.get(..end).unwrap_or(&[]);
            if code.iter().all(|c| c.is_ascii_graphic()) {
                return s.serialize_str(std::str::from_utf8(code).unwrap_or(""));
            }
        }
        s.collect_str(&Ipv4Addr::from(self.id))
    }
}

#[derive(Serialize)]
struct Event {
    version: u8,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    leap: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stratum: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poll: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    precision: Option<i8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference_id: Option<RefId>,
    /// Mode 6 opcode / mode 7 request code.
    #[serde(skip_serializing_if = "Option::is_none")]
    opcode: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<bool>,
}

pub fn datagram(dir: usize, b: &[u8], cx: &mut Cx<'_>) {
    let Some(b0) = u8_at(b, 0) else { return };
    let m = mode(b0);
    let mut ev = Event {
        version: version(b0),
        mode: mode_name(m),
        leap: None,
        stratum: None,
        poll: None,
        precision: None,
        reference_id: None,
        opcode: None,
        response: None,
    };
    match m {
        6 => {
            let op = u8_at(b, 1).unwrap_or(0);
            ev.opcode = Some(op & 0x1f);
            ev.response = Some(op & 0x80 != 0);
        }
        7 => {
            ev.opcode = u8_at(b, 3);
            ev.response = Some(b0 & 0x80 != 0);
        }
        _ => {
            let stratum = u8_at(b, 1).unwrap_or(0);
            ev.leap = Some(b0 >> 6);
            ev.stratum = Some(stratum);
            ev.poll = u8_at(b, 2).map(|p| p as i8);
            ev.precision = u8_at(b, 3).map(|p| p as i8);
            let id = b.get(12..16).and_then(|s| <[u8; 4]>::try_from(s).ok());
            ev.reference_id = id.map(|id| RefId { id, ascii: stratum <= 1 });
        }
    }
    cx.emit(dir, "ntp", &ev);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::dns::parser::tests::hex;
    use crate::app::{Collect, L4};

    /// An SNTP client request (all zero but the first byte) and a stratum-1 server reply.
    const CLIENT: &str =
        "230000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
    const SERVER: &str =
        "240103eb000000000000000b53484d00e497d9898c9ba4ed0000000000000000e497d98dd52b1de7e497d98dd52d17c9";
    /// NTPv4 symmetric (NTPv4.pcap): mode 3 stratum 2, reference id an IPv4 address.
    const V4: &str = "230207eb00000450000003ab83bc03dfd94f51c33165b860d944575530336fd0d944575531b4e978d94f51f42d26e2f4";
    /// ntpq "read variables" (mode 6, opcode 2) and an ntpdc monlist request (mode 7).
    const CONTROL: &str = "16020001000000000000000000";
    const PRIVATE: &str =
        "1700032a0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

    fn udp(b: &[u8]) -> Probe {
        probe(&ProbeInput::new(L4::Udp, 0, b))
    }

    #[test]
    fn probe_all_modes() {
        // Zoom media (stratum 1 with no clock name, precision 0) and DTLS are not NTP.
        assert_eq!(
            udp(&hex(
                "150100000000020301000101aa000300000001360007131600000001d000000000000000000000000000000000000000"
            )),
            Probe::NoMatch
        );
        assert_eq!(
            udp(&hex(
                "220100fb90161000000000000000000080c8000601000802e705420356bb000000000000000000000000000000000000"
            )),
            Probe::NoMatch
        );
        let dtls = hex(&format!("170100000100000000000100709029f133f92fd6{}", "ab".repeat(105)));
        assert_eq!(udp(&dtls), Probe::NoMatch);
        assert_eq!(udp(&hex("8f00000000000822c19d2ed3d92f25ff00001dff00001b1a2a3a4a")), Probe::NoMatch);
        assert_eq!(udp(&hex("9700032a00010004c0a80001")), Probe::Match);
        for m in [CLIENT, SERVER, V4] {
            assert_eq!(udp(&hex(m)), Probe::Match, "{m}");
        }
        assert_eq!(udp(&hex(&CONTROL[..24])), Probe::Match);
        assert_eq!(udp(&hex(PRIVATE)), Probe::Match);
        assert_eq!(udp(&hex(&SERVER[..60])), Probe::NoMatch);
        // Stratum 200, version 0.
        assert_eq!(udp(&hex(&format!("23c8{}", &V4[4..]))), Probe::NoMatch);
        assert_eq!(udp(&hex(&format!("03{}", &V4[2..]))), Probe::NoMatch);
        let q = hex(crate::app::dns::parser::tests::QUERY);
        for s in [
            &b"GET / HTTP/1.1\r\nHost: a.example.com\r\nAccept: */*\r\n\r\n"[..],
            b"SSH-2.0-x\r\n",
            b"",
            &q,
            &[0x5a; 48],
        ] {
            assert_eq!(udp(s), Probe::NoMatch, "{s:?}");
        }
    }

    #[test]
    fn others_and_truncations() {
        for (n, s) in crate::app::dns::parser::tests::others().iter().enumerate() {
            assert_eq!(udp(s), Probe::NoMatch, "{n}");
        }
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 123);
        let s = hex(SERVER);
        for n in 0..s.len() {
            assert_eq!(udp(&s[..n]), Probe::NoMatch);
            datagram(1, &s[..n], &mut cx);
        }
    }

    #[test]
    fn events_name_the_mode_and_reference() {
        let (mut out, mut scratch) = (Collect::default(), Vec::new());
        let mut cx = Cx::new(&mut out, &mut scratch, 40000, 123);
        datagram(0, &hex(CLIENT), &mut cx);
        datagram(1, &hex(SERVER), &mut cx);
        datagram(0, &hex(V4), &mut cx);
        datagram(0, &hex(PRIVATE), &mut cx);
        let ev: Vec<_> = out.0.iter().map(|(_, t, v)| (*t, v)).collect();
        assert_eq!(ev[0].0, "ntp");
        assert_eq!(ev[0].1["mode"], "client");
        assert_eq!(ev[0].1["version"], 4);
        assert_eq!(ev[1].1["mode"], "server");
        assert_eq!(ev[1].1["stratum"], 1);
        assert_eq!(ev[1].1["reference_id"], "SHM");
        assert_eq!(ev[1].1["precision"], -21);
        assert_eq!(ev[2].1["reference_id"], "131.188.3.223");
        assert_eq!(ev[3].1["mode"], "private");
        assert_eq!(ev[3].1["opcode"], 42);
    }
}
