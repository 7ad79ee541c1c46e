//! The decoder proper. Each layer has a `mod field` of named offsets and a checked parse.
use super::ip_proto;

/// Link-layer framing of a port or capture file (pcap LINKTYPE numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// BSD loopback: a 4-byte host-order address family.
    Null,
    /// Raw IP (version from the first nibble).
    Raw,
    Ipv4,
    Ipv6,
    /// Linux cooked capture v1.
    LinuxSll,
    /// Linux cooked capture v2.
    LinuxSll2,
    Unknown(u16),
}

impl LinkType {
    pub fn from_pcap(n: u32) -> LinkType {
        match n {
            1 => LinkType::Ethernet,
            0 | 108 => LinkType::Null,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            n => LinkType::Unknown(n as u16),
        }
    }
    pub fn to_pcap(self) -> u16 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::Null => 0,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Unknown(n) => n,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IpVersion {
    #[default]
    None,
    V4,
    V6,
}

/// Why decoding stopped early. Each has a stable counter name (Suricata's where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DecodeEvent {
    EthernetTooSmall,
    VlanTooSmall,
    VlanTooManyLayers,
    SllTooSmall,
    NullTooSmall,
    UnknownLinkType,
    Ipv4TooSmall,
    Ipv4HlenTooSmall,
    Ipv4IplenSmallerThanHlen,
    Ipv4TruncPkt,
    Ipv4WrongVersion,
    Ipv6TooSmall,
    Ipv6TruncPkt,
    Ipv6WrongVersion,
    Ipv6ExthdrTrunc,
    Ipv6ExthdrTooMany,
    TcpTooSmall,
    TcpHlenTooSmall,
    UdpTooSmall,
    UdpHlenInvalid,
    IcmpTooSmall,
    Icmpv6TooSmall,
    SctpTooSmall,
}

/// Number of [`DecodeEvent`] kinds (for counter arrays).
pub const DECODE_EVENT_COUNT: usize = DecodeEvent::SctpTooSmall as usize + 1;

impl DecodeEvent {
    pub const ALL: [DecodeEvent; DECODE_EVENT_COUNT] = [
        DecodeEvent::EthernetTooSmall,
        DecodeEvent::VlanTooSmall,
        DecodeEvent::VlanTooManyLayers,
        DecodeEvent::SllTooSmall,
        DecodeEvent::NullTooSmall,
        DecodeEvent::UnknownLinkType,
        DecodeEvent::Ipv4TooSmall,
        DecodeEvent::Ipv4HlenTooSmall,
        DecodeEvent::Ipv4IplenSmallerThanHlen,
        DecodeEvent::Ipv4TruncPkt,
        DecodeEvent::Ipv4WrongVersion,
        DecodeEvent::Ipv6TooSmall,
        DecodeEvent::Ipv6TruncPkt,
        DecodeEvent::Ipv6WrongVersion,
        DecodeEvent::Ipv6ExthdrTrunc,
        DecodeEvent::Ipv6ExthdrTooMany,
        DecodeEvent::TcpTooSmall,
        DecodeEvent::TcpHlenTooSmall,
        DecodeEvent::UdpTooSmall,
        DecodeEvent::UdpHlenInvalid,
        DecodeEvent::IcmpTooSmall,
        DecodeEvent::Icmpv6TooSmall,
        DecodeEvent::SctpTooSmall,
    ];

    /// The stats counter name.
    pub fn name(self) -> &'static str {
        match self {
            DecodeEvent::EthernetTooSmall => "decoder.ethernet.pkt_too_small",
            DecodeEvent::VlanTooSmall => "decoder.vlan.header_too_small",
            DecodeEvent::VlanTooManyLayers => "decoder.vlan.too_many_layers",
            DecodeEvent::SllTooSmall => "decoder.sll.pkt_too_small",
            DecodeEvent::NullTooSmall => "decoder.null.pkt_too_small",
            DecodeEvent::UnknownLinkType => "decoder.unknown_link_type",
            DecodeEvent::Ipv4TooSmall => "decoder.ipv4.pkt_too_small",
            DecodeEvent::Ipv4HlenTooSmall => "decoder.ipv4.hlen_too_small",
            DecodeEvent::Ipv4IplenSmallerThanHlen => "decoder.ipv4.iplen_smaller_than_hlen",
            DecodeEvent::Ipv4TruncPkt => "decoder.ipv4.trunc_pkt",
            DecodeEvent::Ipv4WrongVersion => "decoder.ipv4.wrong_ip_version",
            DecodeEvent::Ipv6TooSmall => "decoder.ipv6.pkt_too_small",
            DecodeEvent::Ipv6TruncPkt => "decoder.ipv6.trunc_pkt",
            DecodeEvent::Ipv6WrongVersion => "decoder.ipv6.wrong_ip_version",
            DecodeEvent::Ipv6ExthdrTrunc => "decoder.ipv6.exthdr_trunc",
            DecodeEvent::Ipv6ExthdrTooMany => "decoder.ipv6.exthdr_too_many",
            DecodeEvent::TcpTooSmall => "decoder.tcp.pkt_too_small",
            DecodeEvent::TcpHlenTooSmall => "decoder.tcp.hlen_too_small",
            DecodeEvent::UdpTooSmall => "decoder.udp.pkt_too_small",
            DecodeEvent::UdpHlenInvalid => "decoder.udp.hlen_invalid",
            DecodeEvent::IcmpTooSmall => "decoder.icmpv4.pkt_too_small",
            DecodeEvent::Icmpv6TooSmall => "decoder.icmpv6.pkt_too_small",
            DecodeEvent::SctpTooSmall => "decoder.sctp.pkt_too_small",
        }
    }
}

/// The decoded summary of one frame. Offsets index the frame the decoder was given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// VLAN ids, outermost first (up to 2 kept; a third layer is an event).
    pub vlan: [u16; 2],
    pub vlan_count: u8,
    /// EtherType of the network layer (0x0800, 0x86dd, or another for non-IP frames).
    pub ethertype: u16,
    pub ip: IpVersion,
    /// Addresses; IPv4 in the first 4 bytes, the rest zero.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Transport protocol (after IPv6 extension headers).
    pub proto: u8,
    pub ttl: u8,
    pub l3_off: u16,
    /// IP packet length (header + payload) as the header states it, checked against the frame.
    pub l3_len: u16,
    /// True when this is an IP fragment (more-fragments set or non-zero offset).
    pub is_fragment: bool,
    pub frag_offset: u16,
    pub frag_more: bool,
    pub frag_id: u32,
    /// True when an L4 header was decoded.
    pub has_l4: bool,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    pub tcp_seq: u32,
    pub tcp_ack: u32,
    pub tcp_win: u16,
    pub icmp_type: u8,
    pub icmp_code: u8,
    pub l4_off: u16,
    pub payload_off: u16,
    pub payload_len: u16,
}

impl Decoded {
    pub fn is_ip(&self) -> bool {
        self.ip != IpVersion::None
    }
    /// The transport payload within `frame` (empty when there is none).
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let s = self.payload_off as usize;
        frame
            .get(s..s + self.payload_len as usize)
            .unwrap_or_default()
    }
}

#[inline(always)]
fn be16(b: &[u8], off: usize) -> Option<u16> {
    match b.get(off..off + 2) {
        Some(&[a, c]) => Some(u16::from_be_bytes([a, c])),
        _ => None,
    }
}
#[inline(always)]
fn be32(b: &[u8], off: usize) -> Option<u32> {
    match b.get(off..off + 4) {
        Some(&[a, c, d, e]) => Some(u32::from_be_bytes([a, c, d, e])),
        _ => None,
    }
}

mod ethernet {
    pub const ETHERTYPE: usize = 12;
    pub const HEADER_LEN: usize = 14;
}
mod vlan {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const HEADER_LEN: usize = 4;
}
mod ipv4 {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTO: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_LEN: usize = 20;
}
mod ipv6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const HEADER_LEN: usize = 40;
    /// Extension headers walked before giving up.
    pub const MAX_EXT_HEADERS: usize = 8;
}
mod tcp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const MIN_LEN: usize = 20;
}
mod udp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const HEADER_LEN: usize = 8;
}

const ETH_P_IPV4: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_VLAN: u16 = 0x8100;
const ETH_P_QINQ: u16 = 0x88a8;
const ETH_P_QINQ_OLD: u16 = 0x9100;
const MAX_VLAN_LAYERS: usize = 3;

/// Decodes `frame` of link type `link` into `out`. Ok means every present layer parsed
/// (a non-IP frame is Ok with `ip == None`); Err names where and why it stopped, with the
/// layers before that point left in `out`.
pub fn decode(link: LinkType, frame: &[u8], out: &mut Decoded) -> Result<(), DecodeEvent> {
    *out = Decoded::default();
    let (ethertype, off) = match link {
        LinkType::Ethernet => decode_ethernet(frame, out)?,
        LinkType::Raw => match frame.first().map(|b| b >> 4) {
            Some(4) => (ETH_P_IPV4, 0),
            Some(6) => (ETH_P_IPV6, 0),
            Some(_) => return Err(DecodeEvent::Ipv4WrongVersion),
            None => return Err(DecodeEvent::Ipv4TooSmall),
        },
        LinkType::Ipv4 => (ETH_P_IPV4, 0),
        LinkType::Ipv6 => (ETH_P_IPV6, 0),
        LinkType::Null => {
            let fam = frame.get(0..4).ok_or(DecodeEvent::NullTooSmall)?;
            // Host byte order of the capturing machine: accept either.
            let f = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let f = if f > 0xffff { f.swap_bytes() } else { f };
            match f {
                2 => (ETH_P_IPV4, 4),
                10 | 24 | 28 | 30 => (ETH_P_IPV6, 4),
                _ => (0, 4),
            }
        }
        LinkType::LinuxSll => (be16(frame, 14).ok_or(DecodeEvent::SllTooSmall)?, 16),
        LinkType::LinuxSll2 => (be16(frame, 0).ok_or(DecodeEvent::SllTooSmall)?, 20),
        LinkType::Unknown(_) => return Err(DecodeEvent::UnknownLinkType),
    };
    if frame.len() < off {
        return Err(DecodeEvent::SllTooSmall);
    }
    out.ethertype = ethertype;
    match ethertype {
        ETH_P_IPV4 => decode_ipv4(frame, off, out),
        ETH_P_IPV6 => decode_ipv6(frame, off, out),
        _ => Ok(()),
    }
}

fn decode_ethernet(frame: &[u8], out: &mut Decoded) -> Result<(u16, usize), DecodeEvent> {
    if frame.len() < ethernet::HEADER_LEN {
        return Err(DecodeEvent::EthernetTooSmall);
    }
    let mut ethertype = be16(frame, ethernet::ETHERTYPE).ok_or(DecodeEvent::EthernetTooSmall)?;
    let mut off = ethernet::HEADER_LEN;
    let mut layers = 0usize;
    while matches!(ethertype, ETH_P_VLAN | ETH_P_QINQ | ETH_P_QINQ_OLD) {
        if layers == MAX_VLAN_LAYERS {
            return Err(DecodeEvent::VlanTooManyLayers);
        }
        let tci = be16(frame, off + vlan::TCI).ok_or(DecodeEvent::VlanTooSmall)?;
        ethertype = be16(frame, off + vlan::ETHERTYPE).ok_or(DecodeEvent::VlanTooSmall)?;
        if let Some(slot) = out.vlan.get_mut(layers) {
            *slot = tci & 0x0fff;
            out.vlan_count += 1;
        }
        layers += 1;
        off += vlan::HEADER_LEN;
    }
    Ok((ethertype, off))
}

fn decode_ipv4(frame: &[u8], off: usize, out: &mut Decoded) -> Result<(), DecodeEvent> {
    let h = frame.get(off..).unwrap_or_default();
    if h.len() < ipv4::MIN_LEN {
        return Err(DecodeEvent::Ipv4TooSmall);
    }
    let ver_ihl = h[ipv4::VER_IHL];
    if ver_ihl >> 4 != 4 {
        return Err(DecodeEvent::Ipv4WrongVersion);
    }
    let hlen = ((ver_ihl & 0x0f) as usize) * 4;
    if hlen < ipv4::MIN_LEN {
        return Err(DecodeEvent::Ipv4HlenTooSmall);
    }
    let total = be16(h, ipv4::TOTAL_LEN).unwrap_or(0) as usize;
    if total < hlen {
        return Err(DecodeEvent::Ipv4IplenSmallerThanHlen);
    }
    if total > h.len() || hlen > h.len() {
        return Err(DecodeEvent::Ipv4TruncPkt);
    }
    out.ip = IpVersion::V4;
    out.l3_off = off as u16;
    out.l3_len = total as u16;
    out.src[..4].copy_from_slice(&h[ipv4::SRC..ipv4::SRC + 4]);
    out.dst[..4].copy_from_slice(&h[ipv4::DST..ipv4::DST + 4]);
    out.ttl = h[ipv4::TTL];
    out.proto = h[ipv4::PROTO];
    let ff = be16(h, ipv4::FLAGS_FRAG).unwrap_or(0);
    out.frag_more = ff & 0x2000 != 0;
    out.frag_offset = (ff & 0x1fff) * 8;
    out.frag_id = be16(h, ipv4::IDENT).unwrap_or(0) as u32;
    out.is_fragment = out.frag_more || out.frag_offset != 0;
    if out.frag_offset != 0 {
        return Ok(()); // no L4 header in a non-first fragment
    }
    // Trailing bytes past `total` are link padding, not payload.
    decode_l4(frame, off + hlen, off + total, out)
}

fn decode_ipv6(frame: &[u8], off: usize, out: &mut Decoded) -> Result<(), DecodeEvent> {
    let h = frame.get(off..).unwrap_or_default();
    if h.len() < ipv6::HEADER_LEN {
        return Err(DecodeEvent::Ipv6TooSmall);
    }
    if h[0] >> 4 != 6 {
        return Err(DecodeEvent::Ipv6WrongVersion);
    }
    let plen = be16(h, ipv6::PAYLOAD_LEN).unwrap_or(0) as usize;
    // A zero payload length means a jumbogram (hop-by-hop option); take the frame's length.
    let total = if plen == 0 {
        h.len()
    } else {
        ipv6::HEADER_LEN + plen
    };
    if total > h.len() {
        return Err(DecodeEvent::Ipv6TruncPkt);
    }
    out.ip = IpVersion::V6;
    out.l3_off = off as u16;
    out.l3_len = total.min(u16::MAX as usize) as u16;
    out.src.copy_from_slice(&h[ipv6::SRC..ipv6::SRC + 16]);
    out.dst.copy_from_slice(&h[ipv6::DST..ipv6::DST + 16]);
    out.ttl = h[ipv6::HOP_LIMIT];
    let end = off + total;
    let mut next = h[ipv6::NEXT_HDR];
    let mut p = off + ipv6::HEADER_LEN;
    for _ in 0..ipv6::MAX_EXT_HEADERS {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6: (len+1)*8 bytes.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let nh = *frame.get(p).ok_or(DecodeEvent::Ipv6ExthdrTrunc)?;
                let len = (*frame.get(p + 1).ok_or(DecodeEvent::Ipv6ExthdrTrunc)? as usize + 1) * 8;
                if p + len > end {
                    return Err(DecodeEvent::Ipv6ExthdrTrunc);
                }
                next = nh;
                p += len;
            }
            // Fragment header: 8 bytes.
            44 => {
                let nh = *frame.get(p).ok_or(DecodeEvent::Ipv6ExthdrTrunc)?;
                let fo = be16(frame, p + 2).ok_or(DecodeEvent::Ipv6ExthdrTrunc)?;
                out.frag_id = be32(frame, p + 4).ok_or(DecodeEvent::Ipv6ExthdrTrunc)?;
                if p + 8 > end {
                    return Err(DecodeEvent::Ipv6ExthdrTrunc);
                }
                out.frag_offset = fo & 0xfff8;
                out.frag_more = fo & 1 != 0;
                out.is_fragment = true;
                next = nh;
                p += 8;
            }
            // Authentication header: (len+2)*4 bytes.
            51 => {
                let nh = *frame.get(p).ok_or(DecodeEvent::Ipv6ExthdrTrunc)?;
                let len = (*frame.get(p + 1).ok_or(DecodeEvent::Ipv6ExthdrTrunc)? as usize + 2) * 4;
                if p + len > end {
                    return Err(DecodeEvent::Ipv6ExthdrTrunc);
                }
                next = nh;
                p += len;
            }
            _ => {
                out.proto = next;
                if out.frag_offset != 0 {
                    return Ok(());
                }
                return decode_l4(frame, p, end, out);
            }
        }
    }
    out.proto = next;
    Err(DecodeEvent::Ipv6ExthdrTooMany)
}

/// Decodes the transport header at `off`, bounded by `end` (the IP packet's end).
fn decode_l4(frame: &[u8], off: usize, end: usize, out: &mut Decoded) -> Result<(), DecodeEvent> {
    let seg = frame.get(off..end).unwrap_or_default();
    out.l4_off = off as u16;
    // A first fragment may carry only part of the L4 header: that is no decoder error.
    let partial = out.is_fragment;
    match out.proto {
        ip_proto::TCP => {
            if seg.len() < tcp::MIN_LEN {
                return if partial {
                    Ok(())
                } else {
                    Err(DecodeEvent::TcpTooSmall)
                };
            }
            let hlen = ((seg[tcp::DATA_OFF] >> 4) as usize) * 4;
            if hlen < tcp::MIN_LEN {
                return Err(DecodeEvent::TcpHlenTooSmall);
            }
            if hlen > seg.len() {
                return if partial {
                    Ok(())
                } else {
                    Err(DecodeEvent::TcpTooSmall)
                };
            }
            out.src_port = be16(seg, tcp::SRC_PORT).unwrap_or(0);
            out.dst_port = be16(seg, tcp::DST_PORT).unwrap_or(0);
            out.tcp_seq = be32(seg, tcp::SEQ).unwrap_or(0);
            out.tcp_ack = be32(seg, tcp::ACK).unwrap_or(0);
            out.tcp_flags = seg[tcp::FLAGS];
            out.tcp_win = be16(seg, tcp::WINDOW).unwrap_or(0);
            out.has_l4 = true;
            out.payload_off = (off + hlen) as u16;
            out.payload_len = (seg.len() - hlen) as u16;
        }
        ip_proto::UDP => {
            if seg.len() < udp::HEADER_LEN {
                return if partial {
                    Ok(())
                } else {
                    Err(DecodeEvent::UdpTooSmall)
                };
            }
            let ulen = be16(seg, udp::LENGTH).unwrap_or(0) as usize;
            out.src_port = be16(seg, udp::SRC_PORT).unwrap_or(0);
            out.dst_port = be16(seg, udp::DST_PORT).unwrap_or(0);
            out.has_l4 = true;
            out.payload_off = (off + udp::HEADER_LEN) as u16;
            if partial {
                out.payload_len = (seg.len() - udp::HEADER_LEN) as u16;
            } else {
                if ulen < udp::HEADER_LEN || ulen > seg.len() {
                    return Err(DecodeEvent::UdpHlenInvalid);
                }
                out.payload_len = (ulen - udp::HEADER_LEN) as u16;
            }
        }
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            if seg.len() < 4 {
                return Err(if out.proto == ip_proto::ICMP {
                    DecodeEvent::IcmpTooSmall
                } else {
                    DecodeEvent::Icmpv6TooSmall
                });
            }
            out.icmp_type = seg[0];
            out.icmp_code = seg[1];
            out.has_l4 = true;
            out.payload_off = (off + 4) as u16;
            out.payload_len = (seg.len() - 4) as u16;
        }
        ip_proto::SCTP => {
            if seg.len() < 12 {
                return if partial {
                    Ok(())
                } else {
                    Err(DecodeEvent::SctpTooSmall)
                };
            }
            out.src_port = be16(seg, 0).unwrap_or(0);
            out.dst_port = be16(seg, 2).unwrap_or(0);
            out.has_l4 = true;
            out.payload_off = (off + 12) as u16;
            out.payload_len = (seg.len() - 12) as u16;
        }
        _ => {
            out.payload_off = off as u16;
            out.payload_len = seg.len() as u16;
        }
    }
    Ok(())
}

/// A symmetric hash of the frame's IP address pair (and VLAN id), cheap enough for the rx
/// core: both directions of a flow, and every fragment of a datagram, hash alike, so they
/// reach the same worker. Non-IP frames hash to 0.
pub fn dispatch_hash(link: LinkType, frame: &[u8]) -> u32 {
    let mut d = Decoded::default();
    let (ethertype, off) = match link {
        LinkType::Ethernet => match decode_ethernet(frame, &mut d) {
            Ok(x) => x,
            Err(_) => return 0,
        },
        LinkType::Raw => match frame.first().map(|b| b >> 4) {
            Some(4) => (ETH_P_IPV4, 0),
            Some(6) => (ETH_P_IPV6, 0),
            _ => return 0,
        },
        LinkType::Ipv4 => (ETH_P_IPV4, 0),
        LinkType::Ipv6 => (ETH_P_IPV6, 0),
        LinkType::Null => match frame.first() {
            Some(2) | Some(0) if frame.get(4).map(|b| b >> 4) == Some(4) => (ETH_P_IPV4, 4),
            _ if frame.get(4).map(|b| b >> 4) == Some(6) => (ETH_P_IPV6, 4),
            _ => return 0,
        },
        LinkType::LinuxSll => (be16(frame, 14).unwrap_or(0), 16),
        LinkType::LinuxSll2 => (be16(frame, 0).unwrap_or(0), 20),
        LinkType::Unknown(_) => return 0,
    };
    let (a, b) = match ethertype {
        ETH_P_IPV4 => match (frame.get(off + 12..off + 16), frame.get(off + 16..off + 20)) {
            (Some(s), Some(t)) => (fold(s), fold(t)),
            _ => return 0,
        },
        ETH_P_IPV6 => match (frame.get(off + 8..off + 24), frame.get(off + 24..off + 40)) {
            (Some(s), Some(t)) => (fold(s), fold(t)),
            _ => return 0,
        },
        _ => return 0,
    };
    // Order-independent combination, then a final mix so low bits are usable as an index.
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let x = lo.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hi.rotate_left(29) ^ (d.vlan[0] as u64);
    let x = (x ^ (x >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x ^ (x >> 32)) as u32
}

fn fold(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for chunk in b.chunks(8) {
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..chunk.len()) {
            dst.copy_from_slice(chunk);
        }
        h = (h ^ u64::from_le_bytes(w))
            .wrapping_mul(0x0000_0100_0000_01B3)
            .rotate_left(17);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4_udp() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]); // VLAN 100, IPv4
        f.extend_from_slice(&[
            0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);
        f.extend_from_slice(&[0u8; 6]); // Ethernet padding
        f
    }

    #[test]
    fn ipv4_udp_over_vlan_with_padding() {
        let f = eth_ipv4_udp();
        let mut d = Decoded::default();
        decode(LinkType::Ethernet, &f, &mut d).unwrap();
        assert_eq!(d.vlan_count, 1);
        assert_eq!(d.vlan[0], 100);
        assert_eq!(d.ip, IpVersion::V4);
        assert_eq!(&d.src[..4], &[10, 0, 0, 1]);
        assert_eq!((d.src_port, d.dst_port), (12345, 53));
        assert_eq!(d.payload(&f), b"abcd");
    }

    #[test]
    fn truncated_ipv4_is_named() {
        let f = eth_ipv4_udp();
        let mut d = Decoded::default();
        assert_eq!(
            decode(LinkType::Ethernet, &f[..30], &mut d),
            Err(DecodeEvent::Ipv4TooSmall)
        );
        let mut g = f.clone();
        g[18] = 0x44; // IHL 4
        assert_eq!(
            decode(LinkType::Ethernet, &g, &mut d),
            Err(DecodeEvent::Ipv4HlenTooSmall)
        );
        let mut g = f.clone();
        g[21] = 200; // total length past the frame
        assert_eq!(
            decode(LinkType::Ethernet, &g, &mut d),
            Err(DecodeEvent::Ipv4TruncPkt)
        );
        let mut g = f.clone();
        g[18] = 0x55;
        assert_eq!(
            decode(LinkType::Ethernet, &g, &mut d),
            Err(DecodeEvent::Ipv4WrongVersion)
        );
    }

    #[test]
    fn dispatch_hash_is_symmetric() {
        let f = eth_ipv4_udp();
        let mut g = f.clone();
        // swap addresses
        let (s, t) = (f[30..34].to_vec(), f[34..38].to_vec());
        g[30..34].copy_from_slice(&t);
        g[34..38].copy_from_slice(&s);
        assert_eq!(
            dispatch_hash(LinkType::Ethernet, &f),
            dispatch_hash(LinkType::Ethernet, &g)
        );
        assert_ne!(dispatch_hash(LinkType::Ethernet, &f), 0);
    }

    #[test]
    fn every_prefix_decodes_without_panic() {
        let f = eth_ipv4_udp();
        let mut d = Decoded::default();
        for n in 0..f.len() {
            let _ = decode(LinkType::Ethernet, &f[..n], &mut d);
            let _ = dispatch_hash(LinkType::Ethernet, &f[..n]);
        }
    }
}
