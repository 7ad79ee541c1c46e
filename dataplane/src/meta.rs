//! Per-packet metadata carried in the mbuf's private area from the rx side to a worker.
//!
//! Invariant: plain integers only, so any bit pattern is a valid `PktMeta` (the area is raw
//! memory shared with DPDK).

/// What the rx side knows about a packet before a worker sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PktMeta {
    /// Capture time, nanoseconds since the Unix epoch (the pcap record's time in replay).
    pub ts_ns: u64,
    /// Length on the wire; larger than the buffer when the capture was truncated (snaplen).
    pub wire_len: u32,
    /// Symmetric dispatch hash of the packet's IP pair (see `wire::dispatch_hash`).
    pub hash: u32,
    /// Index of the rx port in the pipeline's port list (not the DPDK port id).
    pub port: u16,
    /// Link-layer type (`wire::LinkType` as its pcap number).
    pub link: u16,
    pub _reserved: u32,
}

/// Bytes reserved in each mbuf for [`PktMeta`] (a multiple of 8).
pub const PKT_META_SIZE: u16 = 64;
const _: () = assert!(std::mem::size_of::<PktMeta>() <= PKT_META_SIZE as usize);
