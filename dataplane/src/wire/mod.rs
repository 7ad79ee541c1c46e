//! Packet decoding: zero-copy views over frame bytes, from the link layer to L4.
//!
//! [`decode`] walks a frame once and fills a small [`Decoded`] summary (addresses, ports,
//! flags and offsets into the frame); it never allocates and never panics: every read is
//! bounds-checked, and anything malformed stops the walk with a [`DecodeEvent`] whose name is
//! Suricata's stats counter name (`decoder.ipv4.trunc_pkt`). Lengths from headers are
//! trusted only after they are checked against the bytes present; trailing Ethernet padding
//! is cut by the IP total length.
mod decode;
pub mod pcap;

pub use decode::{
    decode, decode_captured, dispatch_hash, DecodeEvent, Decoded, IcmpQuote, IpVersion, LinkType, TcpOptions, Tunnel,
    TunnelKind, DECODE_EVENT_COUNT, MAX_TUNNEL_DEPTH,
};

/// TCP flag bits as on the wire.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// IP protocol numbers the decoder knows.
pub mod ip_proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}
