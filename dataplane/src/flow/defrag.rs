//! Per-worker IP fragment reassembly: [`Defrag`] owns every IPv4 and IPv6 datagram being
//! rebuilt on one worker and hands back the whole IP packet when its last hole is filled.
//!
//! Bounds: everything is allocated once in [`Defrag::new`]: `max_datagrams` slots, each with
//! a 65575-byte reassembly buffer (one zeroed `Vec`, so pages are touched only as used), a
//! header area and room for `max_fragments` filled ranges, plus a power-of-two bucket array
//! (twice the slot count) of chain heads for O(1) expected lookup and one list of slots in
//! creation order for eviction and expiry. [`Defrag::add`] and [`Defrag::expire`] never
//! allocate, lock or make a system call. A full table evicts its oldest datagram; a datagram
//! of more than `max_fragments` fragments is dropped; an incomplete one is dropped
//! `timeout_ns` after its first fragment. Each of these is a counted [`DefragEvent`].
//!
//! Policy. First wins: bytes already received are never overwritten; an overlapping fragment
//! is compared with them (`overlap_same_data` when equal; `overlap_different_data`, the
//! Teardrop and evasion signal, when not) and only its new bytes are used. A datagram is
//! complete when its last fragment (more-fragments clear) and its offset-0 fragment (which
//! supplies the header) have arrived and the filled ranges cover `[0, end)` without a hole.
//! Oversize (Ping of Death): a fragment whose end would make the reassembled packet longer
//! than its length field can state (IPv4 total length, IPv6 payload length: 65535 each) or
//! than `max_packet_len` drops its datagram; the slot stays behind "poisoned", so later
//! fragments of that datagram are ignored until it times out instead of starting it again
//! (too many fragments poisons likewise). Malformed fragments (a non-last one that is empty or
//! not a multiple of 8 bytes, a second last fragment with another end, data past the end) are
//! ignored and counted as `bad_fragment`. An IPv6 atomic fragment (offset 0, M clear) is
//! rebuilt alone (RFC 6946), never merged with a pending datagram.
#![forbid(unsafe_code)]

use crate::wire::{Decoded, IpVersion};

const NIL: u32 = u32::MAX;

/// Bytes of reassembly buffer per slot: the largest IPv6 packet (fixed header and a
/// 65535-byte payload), which also holds the largest IPv4 packet with room for its header.
const SLOT_LEN: usize = 65535 + 40;
/// Where fragment data starts in a slot buffer. The header is written in front of it on
/// completion: an IPv4 header (options included) is at most 60 bytes; IPv6 unfragmentable
/// extension headers beyond the fixed 40 shift the data up (the size limit leaves room).
const V4_DATA_AT: usize = 60;
const V6_DATA_AT: usize = 40;
/// Largest reassembled packet each version's length field can state.
const V4_MAX_PACKET: usize = 65535;
const V6_MAX_PACKET: usize = 40 + 65535;
/// Largest IPv6 unfragmentable part (extension headers before the Fragment header) kept per
/// datagram; a fragment with more is a bad fragment.
const V6_MAX_UNFRAG_EXT: usize = 512;
/// Header bytes kept per slot (IPv6 fixed header + unfragmentable part; IPv4 needs 60).
const HDR_LEN: usize = 40 + V6_MAX_UNFRAG_EXT;
/// IPv6 extension headers walked looking for the Fragment header (as the decoder does).
const V6_MAX_EXT_HEADERS: usize = 8;
/// Clamps on the configuration, so a typo cannot ask for terabytes.
const MAX_DATAGRAMS_LIMIT: u32 = 65536;
/// A non-last fragment carries at least 8 bytes, so no datagram needs more than this.
const MAX_FRAGMENTS_LIMIT: u16 = 8192;

mod ipv4 {
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const CHECKSUM: usize = 10;
    pub const MIN_LEN: usize = 20;
    /// Reserved and DF bits; MF and the offset are cleared on reassembly.
    pub const KEEP_FLAGS: u16 = 0xc000;
}
mod ipv6 {
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HDR: usize = 6;
    pub const HEADER_LEN: usize = 40;
    pub const FRAGMENT: u8 = 44;
    pub const FRAGMENT_LEN: usize = 8;
    pub const AUTH: u8 = 51;
}

#[derive(Clone, Copy, Debug)]
pub struct DefragConfig {
    /// Datagrams being reassembled at once, per worker. Default 256.
    pub max_datagrams: u32,
    /// Fragments one datagram may have. Default 64.
    pub max_fragments: u16,
    /// An incomplete datagram is dropped this long after its first fragment. Default 30 s.
    pub timeout_ns: u64,
    /// Largest reassembled IP packet (header + payload) accepted. Default 65535. A fragment
    /// whose end would overflow the IP length field (IPv4 total length, IPv6 payload length)
    /// is oversize regardless of this setting; this setting may lower the limit.
    pub max_packet_len: u32,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig { max_datagrams: 256, max_fragments: 64, timeout_ns: 30_000_000_000, max_packet_len: 65535 }
    }
}

/// Something noteworthy or hostile seen while reassembling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragEvent {
    /// Overlapping fragments whose bytes differ (Teardrop, overlap evasion).
    OverlapDifferentData,
    /// Overlapping fragments with identical bytes (a retransmission).
    OverlapSameData,
    /// The reassembled packet would exceed 65535 / `max_packet_len` (Ping of Death).
    Oversize,
    /// More than `max_fragments` fragments in one datagram.
    TooManyFragments,
    /// Table full: the oldest incomplete datagram was dropped to make room.
    Evicted,
    /// An incomplete datagram expired.
    Timeout,
    /// A malformed fragment, ignored.
    BadFragment,
    /// A datagram completed.
    Reassembled,
}

impl DefragEvent {
    pub const ALL: [DefragEvent; 8] = [
        DefragEvent::OverlapDifferentData,
        DefragEvent::OverlapSameData,
        DefragEvent::Oversize,
        DefragEvent::TooManyFragments,
        DefragEvent::Evicted,
        DefragEvent::Timeout,
        DefragEvent::BadFragment,
        DefragEvent::Reassembled,
    ];

    /// The stats counter name.
    pub fn name(self) -> &'static str {
        match self {
            DefragEvent::OverlapDifferentData => "defrag.overlap_different_data",
            DefragEvent::OverlapSameData => "defrag.overlap_same_data",
            DefragEvent::Oversize => "defrag.oversize",
            DefragEvent::TooManyFragments => "defrag.too_many_fragments",
            DefragEvent::Evicted => "defrag.evicted",
            DefragEvent::Timeout => "defrag.timeout",
            DefragEvent::BadFragment => "defrag.bad_fragment",
            DefragEvent::Reassembled => "defrag.reassembled",
        }
    }
}

/// Counters of one [`Defrag`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct DefragStats {
    /// Fragments fed to [`Defrag::add`].
    pub fragments: u64,
    pub reassembled: u64,
    pub overlap_different_data: u64,
    pub overlap_same_data: u64,
    pub oversize: u64,
    pub too_many_fragments: u64,
    pub evicted: u64,
    pub timeout: u64,
    pub bad_fragment: u64,
    /// Slots in use now: datagrams being reassembled and poisoned ones waiting to expire.
    pub active: u64,
}

impl DefragStats {
    /// The counters with their stats names (for per-worker publication).
    pub fn counters(&self) -> [(&'static str, u64); 10] {
        [
            ("defrag.fragments", self.fragments),
            ("defrag.reassembled", self.reassembled),
            ("defrag.overlap_different_data", self.overlap_different_data),
            ("defrag.overlap_same_data", self.overlap_same_data),
            ("defrag.oversize", self.oversize),
            ("defrag.too_many_fragments", self.too_many_fragments),
            ("defrag.evicted", self.evicted),
            ("defrag.timeout", self.timeout),
            ("defrag.bad_fragment", self.bad_fragment),
            ("defrag.active", self.active),
        ]
    }
}

/// A completed datagram: the rebuilt IP packet, how many fragments made it and their summed
/// wire lengths (for flow accounting).
#[derive(Debug)]
pub struct Reassembled<'a> {
    pub packet: &'a [u8],
    pub fragments: u16,
    pub wire_bytes: u64,
    pub first_ts_ns: u64,
}

/// Identity of a datagram: IPv4 keys on (zone, src, dst, proto, id), IPv6 on (zone, src,
/// dst, id) with `proto` 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Key {
    zone: u64,
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    proto: u8,
    v6: bool,
}

impl Key {
    fn hash(&self) -> u32 {
        let mut h = self.zone.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ ((self.id as u64) << 16 | (self.proto as u64) << 8 | self.v6 as u64);
        for part in [&self.src, &self.dst] {
            for half in part.chunks_exact(8) {
                let w: [u8; 8] = half.try_into().unwrap_or([0; 8]);
                h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0xC2B2_AE3D_27D4_EB4F).rotate_left(29);
            }
        }
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        (h ^ (h >> 33)) as u32
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum State {
    #[default]
    Free,
    Active,
    /// Dropped (oversize, too many fragments): later fragments are ignored until expiry.
    Poisoned,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: Key,
    hash: u32,
    state: State,
    /// Next slot in the same bucket.
    chain: u32,
    /// Neighbours in the creation-order list.
    prev: u32,
    next: u32,
    first_ns: u64,
    wire_bytes: u64,
    fragments: u16,
    nranges: u16,
    /// Highest data end of any accepted fragment.
    max_end: u32,
    /// Data length, once the last fragment has been seen.
    end: u32,
    has_last: bool,
    /// Length of the kept header; 0 until the offset-0 fragment arrives.
    hdr_len: u16,
    /// IPv6: index in the kept header of the next-header byte that pointed at the Fragment
    /// header, and the Fragment header's own next-header, written there on completion.
    nh_pos: u16,
    next_hdr: u8,
}

/// What [`parse`] finds in one fragment.
struct Frag<'a> {
    v6: bool,
    /// The IP header up to the fragmentable part: IPv4 header with options; IPv6 fixed
    /// header and the extension headers before the Fragment header.
    hdr: &'a [u8],
    nh_pos: usize,
    next_hdr: u8,
    /// The fragment's data (bounded by the IP length, so link padding is excluded).
    data: &'a [u8],
    more: bool,
}

/// Finds the header and data of a fragment; None when it is not a well-formed one.
fn parse<'a>(frame: &'a [u8], d: &Decoded) -> Option<Frag<'a>> {
    if !d.is_fragment {
        return None;
    }
    let off = d.l3_off as usize;
    let ip = frame.get(off..off.checked_add(d.l3_len as usize)?)?;
    match d.ip {
        IpVersion::V4 => {
            let vi = *ip.get(ipv4::VER_IHL)?;
            let h = (vi & 0x0f) as usize * 4;
            if vi >> 4 != 4 || h < ipv4::MIN_LEN {
                return None;
            }
            Some(Frag { v6: false, hdr: ip.get(..h)?, nh_pos: 0, next_hdr: 0, data: ip.get(h..)?, more: d.frag_more })
        }
        IpVersion::V6 => {
            if ip.len() < ipv6::HEADER_LEN || ip.first()? >> 4 != 6 {
                return None;
            }
            // A jumbogram (payload length 0) cannot be fragmented (RFC 2675).
            if ip.get(ipv6::PAYLOAD_LEN..ipv6::PAYLOAD_LEN + 2)? == [0, 0] {
                return None;
            }
            let mut next = *ip.get(ipv6::NEXT_HDR)?;
            let mut nh_pos = ipv6::NEXT_HDR;
            let mut p = ipv6::HEADER_LEN;
            for _ in 0..V6_MAX_EXT_HEADERS {
                let len = match next {
                    ipv6::FRAGMENT => {
                        if p - ipv6::HEADER_LEN > V6_MAX_UNFRAG_EXT {
                            return None;
                        }
                        return Some(Frag {
                            v6: true,
                            hdr: ip.get(..p)?,
                            nh_pos,
                            next_hdr: *ip.get(p)?,
                            data: ip.get(p.checked_add(ipv6::FRAGMENT_LEN)?..)?,
                            more: d.frag_more,
                        });
                    }
                    // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
                    0 | 43 | 60 | 135 | 139 | 140 => (*ip.get(p + 1)? as usize + 1) * 8,
                    ipv6::AUTH => (*ip.get(p + 1)? as usize + 2) * 4,
                    _ => return None,
                };
                nh_pos = p;
                next = *ip.get(p)?;
                p += len;
            }
            None
        }
        IpVersion::None => None,
    }
}

enum Overlap {
    None,
    Same,
    Different,
}

/// Copies `data` to `area[at..]` where no byte is filled yet (first wins), compares it with
/// the bytes that are, and merges its range into `ranges[..n]` (sorted, disjoint,
/// non-adjacent). None when it does not fit (the callers' bounds make that impossible).
fn place(area: &mut [u8], ranges: &mut [[u32; 2]], n: &mut usize, at: usize, data: &[u8]) -> Option<Overlap> {
    let end = at.checked_add(data.len())?;
    if end > area.len() || end > u32::MAX as usize {
        return None;
    }
    let fill = |area: &mut [u8], from: usize, to: usize| -> Option<()> {
        area.get_mut(from..to)?.copy_from_slice(data.get(from - at..to - at)?);
        Some(())
    };
    let (mut same, mut different) = (false, false);
    let mut cur = at;
    for r in ranges.get(..*n)? {
        let (rs, re) = (r[0] as usize, r[1] as usize);
        if re <= cur {
            continue;
        }
        if rs >= end {
            break;
        }
        if rs > cur {
            fill(area, cur, rs)?;
        }
        let (os, oe) = (rs.max(cur), re.min(end));
        if os >= oe {
            // Only an empty fragment can get here, and it overlaps nothing.
        } else if area.get(os..oe)? == data.get(os - at..oe - at)? {
            same = true;
        } else {
            different = true;
        }
        cur = oe;
    }
    if cur < end {
        fill(area, cur, end)?;
    }
    if !data.is_empty() {
        merge(ranges, n, at as u32, end as u32)?;
    }
    Some(if different {
        Overlap::Different
    } else if same {
        Overlap::Same
    } else {
        Overlap::None
    })
}

/// Adds `[s, e)` to the sorted, disjoint, non-adjacent `ranges[..n]`.
fn merge(ranges: &mut [[u32; 2]], n: &mut usize, s: u32, e: u32) -> Option<()> {
    let live = ranges.get(..*n)?;
    // Ranges i..j touch or overlap [s, e).
    let i = live.iter().position(|r| r[1] >= s).unwrap_or(*n);
    let j = live.get(i..)?.iter().position(|r| r[0] > e).map_or(*n, |k| i + k);
    if i == j {
        if *n >= ranges.len() {
            return None;
        }
        ranges.copy_within(i..*n, i + 1);
        *ranges.get_mut(i)? = [s, e];
        *n += 1;
    } else {
        let lo = s.min(ranges.get(i)?[0]);
        let hi = e.max(ranges.get(j - 1)?[1]);
        *ranges.get_mut(i)? = [lo, hi];
        ranges.copy_within(j..*n, i + 1);
        *n -= j - i - 1;
    }
    Some(())
}

fn put16(b: &mut [u8], off: usize, v: u16) -> Option<()> {
    b.get_mut(off..off.checked_add(2)?)?.copy_from_slice(&v.to_be_bytes());
    Some(())
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        sum += match c {
            [a, b] => u16::from_be_bytes([*a, *b]) as u32,
            [a] => (*a as u32) << 8,
            _ => 0,
        };
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Per-worker reassembly table. See the module documentation for bounds and policy.
pub struct Defrag {
    cfg: DefragConfig,
    /// `max_datagrams` table slots, then one scratch slot for IPv6 atomic fragments.
    slots: Vec<Slot>,
    /// SLOT_LEN bytes per slot.
    buf: Vec<u8>,
    /// HDR_LEN bytes per slot: the offset-0 fragment's header.
    hdrs: Vec<u8>,
    /// `max_fragments` filled ranges per slot.
    ranges: Vec<[u32; 2]>,
    buckets: Vec<u32>,
    mask: u32,
    free: Vec<u32>,
    /// Oldest and newest slot in use.
    head: u32,
    tail: u32,
    stats: DefragStats,
}

impl Defrag {
    pub fn new(cfg: DefragConfig) -> Defrag {
        let cfg = DefragConfig {
            max_datagrams: cfg.max_datagrams.clamp(1, MAX_DATAGRAMS_LIMIT),
            max_fragments: cfg.max_fragments.clamp(1, MAX_FRAGMENTS_LIMIT),
            timeout_ns: cfg.timeout_ns.max(1),
            max_packet_len: cfg.max_packet_len,
        };
        let n = cfg.max_datagrams as usize;
        let nbuckets = (n * 2).next_power_of_two();
        Defrag {
            cfg,
            slots: vec![Slot::default(); n + 1],
            buf: vec![0u8; (n + 1) * SLOT_LEN],
            hdrs: vec![0u8; (n + 1) * HDR_LEN],
            ranges: vec![[0u32; 2]; (n + 1) * cfg.max_fragments as usize],
            buckets: vec![NIL; nbuckets],
            mask: (nbuckets - 1) as u32,
            free: (0..n as u32).rev().collect(),
            head: NIL,
            tail: NIL,
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Feeds one fragment. `frame` is the whole frame the decoder saw and `d` its
    /// `Decoded`; `zone` separates VLANs and tunnels; `wire_len` is the frame's length on the
    /// wire. Returns the reassembled packet when this fragment completes its datagram. Every
    /// noteworthy thing is reported through `ev` and counted in the stats.
    pub fn add(
        &mut self,
        zone: u64,
        frame: &[u8],
        d: &Decoded,
        wire_len: u32,
        now_ns: u64,
        ev: &mut impl FnMut(DefragEvent),
    ) -> Option<Reassembled<'_>> {
        self.stats.fragments += 1;
        let Some(f) = parse(frame, d) else {
            self.note(ev, DefragEvent::BadFragment);
            return None;
        };
        let at = d.frag_offset as usize;
        let end = at + f.data.len();
        if f.more && (f.data.is_empty() || f.data.len() % 8 != 0) {
            self.note(ev, DefragEvent::BadFragment);
            return None;
        }
        if !f.more && at == 0 {
            if f.v6 {
                return self.atomic(&f, wire_len, now_ns, ev);
            }
            self.note(ev, DefragEvent::BadFragment); // not a fragment at all
            return None;
        }

        let key = Key { zone, src: d.src, dst: d.dst, id: d.frag_id, proto: if f.v6 { 0 } else { d.proto }, v6: f.v6 };
        let hash = key.hash();
        let found = match self.find(&key, hash) {
            Some(i) if self.expired(i, now_ns) => {
                self.drop_slot(i, DefragEvent::Timeout, ev);
                None
            }
            x => x,
        };
        let idx = match found {
            Some(i) => i,
            None => self.create(key, hash, now_ns, ev)?,
        };
        let s = *self.slots.get(idx)?;
        if s.state != State::Active {
            return None; // poisoned: ignored until it expires
        }
        if s.fragments >= self.cfg.max_fragments {
            self.poison(idx);
            self.note(ev, DefragEvent::TooManyFragments);
            return None;
        }
        // The reassembled packet takes the header of the offset-0 fragment; until that has
        // arrived, this fragment's own header stands in (checked again when it arrives).
        let hdr = if s.hdr_len != 0 { s.hdr_len as usize } else { f.hdr.len() };
        if hdr + end.max(s.max_end as usize) > self.limit(f.v6) {
            self.poison(idx);
            self.note(ev, DefragEvent::Oversize);
            return None;
        }
        let bad_end = if f.more {
            s.has_last && end > s.end as usize
        } else {
            (s.has_last && end != s.end as usize) || (s.max_end as usize) > end
        };
        if bad_end {
            self.note(ev, DefragEvent::BadFragment);
            return None;
        }

        // Keep the header of the offset-0 fragment (the first one to arrive wins).
        if at == 0 && s.hdr_len == 0 {
            let h = f.hdr.len();
            let dst = self.hdrs.get_mut(idx * HDR_LEN..idx * HDR_LEN + h)?;
            dst.copy_from_slice(f.hdr);
            if let Some(s) = self.slots.get_mut(idx) {
                s.hdr_len = h as u16;
                s.nh_pos = f.nh_pos as u16;
                s.next_hdr = f.next_hdr;
            }
        }

        let data_at = if f.v6 { V6_DATA_AT } else { V4_DATA_AT };
        let area = self.buf.get_mut(idx * SLOT_LEN + data_at..(idx + 1) * SLOT_LEN)?;
        let mf = self.cfg.max_fragments as usize;
        let ranges = self.ranges.get_mut(idx * mf..(idx + 1) * mf)?;
        let mut n = s.nranges as usize;
        let overlap = place(area, ranges, &mut n, at, f.data);
        match overlap {
            Some(Overlap::None) => {}
            Some(Overlap::Same) => self.note(ev, DefragEvent::OverlapSameData),
            Some(Overlap::Different) => self.note(ev, DefragEvent::OverlapDifferentData),
            None => {
                // Unreachable by the bounds above; drop the datagram rather than guess.
                self.poison(idx);
                self.note(ev, DefragEvent::BadFragment);
                return None;
            }
        }
        let s = self.slots.get_mut(idx)?;
        s.nranges = n as u16;
        s.fragments += 1;
        s.wire_bytes = s.wire_bytes.saturating_add(wire_len as u64);
        s.max_end = s.max_end.max(end as u32);
        if !f.more {
            s.has_last = true;
            s.end = end as u32;
        }
        let complete =
            s.has_last && s.hdr_len != 0 && n == 1 && self.ranges.get(idx * mf).is_some_and(|r| *r == [0, s.end]);
        if !complete {
            return None;
        }
        self.finish(idx, ev)
    }

    /// Drops incomplete datagrams older than the timeout (reporting Timeout for each), and
    /// frees poisoned slots whose time is up (already reported when poisoned). Walks the
    /// creation-order list from its oldest end, so it costs one check per expired slot; if
    /// timestamps go backwards, a slot behind a younger one waits for that one (or eviction).
    pub fn expire(&mut self, now_ns: u64, ev: &mut impl FnMut(DefragEvent)) {
        while self.head != NIL && self.expired(self.head as usize, now_ns) {
            self.drop_slot(self.head as usize, DefragEvent::Timeout, ev);
        }
    }

    fn note(&mut self, ev: &mut impl FnMut(DefragEvent), e: DefragEvent) {
        let c = &mut self.stats;
        match e {
            DefragEvent::OverlapDifferentData => c.overlap_different_data += 1,
            DefragEvent::OverlapSameData => c.overlap_same_data += 1,
            DefragEvent::Oversize => c.oversize += 1,
            DefragEvent::TooManyFragments => c.too_many_fragments += 1,
            DefragEvent::Evicted => c.evicted += 1,
            DefragEvent::Timeout => c.timeout += 1,
            DefragEvent::BadFragment => c.bad_fragment += 1,
            DefragEvent::Reassembled => c.reassembled += 1,
        }
        ev(e);
    }

    fn limit(&self, v6: bool) -> usize {
        let hard = if v6 { V6_MAX_PACKET } else { V4_MAX_PACKET };
        hard.min(self.cfg.max_packet_len as usize)
    }

    fn expired(&self, idx: usize, now_ns: u64) -> bool {
        self.slots.get(idx).is_some_and(|s| now_ns.saturating_sub(s.first_ns) >= self.cfg.timeout_ns)
    }

    fn find(&self, key: &Key, hash: u32) -> Option<usize> {
        let mut i = *self.buckets.get((hash & self.mask) as usize)?;
        while let Some(s) = self.slots.get(i as usize) {
            if s.hash == hash && s.key == *key {
                return Some(i as usize);
            }
            i = s.chain;
        }
        None
    }

    /// Takes a slot for a new datagram, evicting the oldest one when the table is full.
    fn create(&mut self, key: Key, hash: u32, now_ns: u64, ev: &mut impl FnMut(DefragEvent)) -> Option<usize> {
        if self.free.is_empty() {
            let oldest = self.head as usize;
            let why = if self.expired(oldest, now_ns) { DefragEvent::Timeout } else { DefragEvent::Evicted };
            self.drop_slot(oldest, why, ev);
        }
        let idx = self.free.pop()?;
        let b = (hash & self.mask) as usize;
        let chain = self.buckets.get(b).copied().unwrap_or(NIL);
        let tail = self.tail;
        *self.slots.get_mut(idx as usize)? =
            Slot { key, hash, state: State::Active, chain, prev: tail, next: NIL, first_ns: now_ns, ..Slot::default() };
        if let Some(h) = self.buckets.get_mut(b) {
            *h = idx;
        }
        match self.slots.get_mut(tail as usize) {
            Some(t) => t.next = idx,
            None => self.head = idx,
        }
        self.tail = idx;
        self.stats.active += 1;
        Some(idx as usize)
    }

    /// Stops reassembling a datagram but keeps its slot, so later fragments are ignored.
    fn poison(&mut self, idx: usize) {
        if let Some(s) = self.slots.get_mut(idx) {
            s.state = State::Poisoned;
            s.nranges = 0;
        }
    }

    /// Frees a slot, reporting `why` if it held a datagram still being reassembled.
    fn drop_slot(&mut self, idx: usize, why: DefragEvent, ev: &mut impl FnMut(DefragEvent)) {
        if self.slots.get(idx).map(|s| s.state) == Some(State::Active) {
            self.note(ev, why);
        }
        self.release(idx);
    }

    /// Unlinks a slot from its bucket chain and the age list and returns it to the free list.
    fn release(&mut self, idx: usize) {
        let Some(s) = self.slots.get(idx).copied() else {
            return;
        };
        if s.state == State::Free {
            return;
        }
        let b = (s.hash & self.mask) as usize;
        let mut cur = self.buckets.get(b).copied().unwrap_or(NIL);
        let mut prev = NIL;
        while cur != NIL && cur as usize != idx {
            prev = cur;
            cur = self.slots.get(cur as usize).map_or(NIL, |x| x.chain);
        }
        if cur != NIL {
            match self.slots.get_mut(prev as usize) {
                Some(p) => p.chain = s.chain,
                None => {
                    if let Some(h) = self.buckets.get_mut(b) {
                        *h = s.chain;
                    }
                }
            }
        }
        match self.slots.get_mut(s.prev as usize) {
            Some(p) => p.next = s.next,
            None => self.head = s.next,
        }
        match self.slots.get_mut(s.next as usize) {
            Some(n) => n.prev = s.prev,
            None => self.tail = s.prev,
        }
        if let Some(x) = self.slots.get_mut(idx) {
            x.state = State::Free;
        }
        self.free.push(idx as u32);
        self.stats.active = self.stats.active.saturating_sub(1);
    }

    /// Builds the packet of a complete datagram in its slot, frees the slot and returns the
    /// packet (valid until the next call).
    fn finish(&mut self, idx: usize, ev: &mut impl FnMut(DefragEvent)) -> Option<Reassembled<'_>> {
        let s = *self.slots.get(idx)?;
        let built = self.build(idx);
        self.release(idx);
        let Some((start, len)) = built else {
            // Unreachable by the size limit; counted rather than trusted.
            self.note(ev, DefragEvent::BadFragment);
            return None;
        };
        self.note(ev, DefragEvent::Reassembled);
        Some(Reassembled {
            packet: self.buf.get(start..start + len)?,
            fragments: s.fragments,
            wire_bytes: s.wire_bytes,
            first_ts_ns: s.first_ns,
        })
    }

    /// Writes the kept header in front of the data, fixes it up, and returns where the packet
    /// lies in `buf`.
    fn build(&mut self, idx: usize) -> Option<(usize, usize)> {
        let s = *self.slots.get(idx)?;
        let v6 = s.key.v6;
        let data_at = if v6 { V6_DATA_AT } else { V4_DATA_AT };
        let (h, end) = (s.hdr_len as usize, s.end as usize);
        let region = self.buf.get_mut(idx * SLOT_LEN..(idx + 1) * SLOT_LEN)?;
        if h + end > region.len() || data_at + end > region.len() {
            return None;
        }
        let start = if h <= data_at {
            data_at - h
        } else {
            region.copy_within(data_at..data_at + end, h);
            0
        };
        let pkt = region.get_mut(start..start + h + end)?;
        pkt.get_mut(..h)?.copy_from_slice(self.hdrs.get(idx * HDR_LEN..idx * HDR_LEN + h)?);
        if v6 {
            put16(pkt, ipv6::PAYLOAD_LEN, u16::try_from(h + end - ipv6::HEADER_LEN).ok()?)?;
            *pkt.get_mut(s.nh_pos as usize)? = s.next_hdr;
        } else {
            put16(pkt, ipv4::TOTAL_LEN, u16::try_from(h + end).ok()?)?;
            let ff = u16::from_be_bytes(pkt.get(ipv4::FLAGS_FRAG..ipv4::FLAGS_FRAG + 2)?.try_into().ok()?);
            put16(pkt, ipv4::FLAGS_FRAG, ff & ipv4::KEEP_FLAGS)?;
            put16(pkt, ipv4::CHECKSUM, 0)?;
            let sum = ipv4_checksum(pkt.get(..h)?);
            put16(pkt, ipv4::CHECKSUM, sum)?;
        }
        Some((idx * SLOT_LEN + start, h + end))
    }

    /// An IPv6 atomic fragment: rebuilt on its own in the scratch slot (RFC 6946).
    fn atomic(
        &mut self,
        f: &Frag<'_>,
        wire_len: u32,
        now_ns: u64,
        ev: &mut impl FnMut(DefragEvent),
    ) -> Option<Reassembled<'_>> {
        let h = f.hdr.len();
        let end = f.data.len();
        if h + end > self.limit(true) {
            self.note(ev, DefragEvent::Oversize);
            return None;
        }
        let idx = self.cfg.max_datagrams as usize;
        self.hdrs.get_mut(idx * HDR_LEN..idx * HDR_LEN + h)?.copy_from_slice(f.hdr);
        let at = idx * SLOT_LEN + V6_DATA_AT;
        self.buf.get_mut(at..at + end)?.copy_from_slice(f.data);
        *self.slots.get_mut(idx)? = Slot {
            key: Key { v6: true, ..Key::default() },
            first_ns: now_ns,
            wire_bytes: wire_len as u64,
            fragments: 1,
            end: end as u32,
            has_last: true,
            hdr_len: h as u16,
            nh_pos: f.nh_pos as u16,
            next_hdr: f.next_hdr,
            ..Slot::default()
        };
        let (start, len) = self.build(idx)?;
        self.note(ev, DefragEvent::Reassembled);
        Some(Reassembled {
            packet: self.buf.get(start..start + len)?,
            fragments: 1,
            wire_bytes: wire_len as u64,
            first_ts_ns: now_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, ip_proto, LinkType};

    const SEC: u64 = 1_000_000_000;

    /// A UDP datagram (header + `n` bytes of pattern) as the IP payload to be fragmented.
    fn udp(n: usize, seed: u8) -> Vec<u8> {
        let mut u = vec![0x04, 0xd2, 0x00, 0x35];
        u.extend_from_slice(&((8 + n) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend((0..n).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
        u
    }

    fn ethernet(ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(ip);
        f.resize(f.len().max(60), 0); // Ethernet padding, cut by the IP length
        f
    }

    /// An Ethernet frame with an IPv4 fragment of `data` at `offset`; `opts` are IP options
    /// (a multiple of 4 bytes).
    fn v4(id: u16, offset: usize, more: bool, data: &[u8], opts: &[u8]) -> Vec<u8> {
        let h = 20 + opts.len();
        let ff = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
        let mut ip = vec![0x40 | (h / 4) as u8, 0];
        ip.extend_from_slice(&((h + data.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(&ff.to_be_bytes());
        ip.extend_from_slice(&[64, ip_proto::UDP, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        ip.extend_from_slice(opts);
        let c = ipv4_checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(data);
        ethernet(0x0800, &ip)
    }

    /// An Ethernet frame with an IPv6 fragment; `hbh` puts an 8-byte hop-by-hop header
    /// before the Fragment header.
    fn v6(id: u32, offset: usize, more: bool, data: &[u8], hbh: bool) -> Vec<u8> {
        let ext = if hbh { 8 } else { 0 };
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&((ext + 8 + data.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[if hbh { 0 } else { 44 }, 64]);
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        ip.extend_from_slice(&[0; 11]);
        ip.push(1);
        ip.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        ip.extend_from_slice(&[0; 11]);
        ip.push(2);
        if hbh {
            ip.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // PadN
        }
        let fo = offset as u16 | more as u16;
        ip.extend_from_slice(&[ip_proto::UDP, 0]);
        ip.extend_from_slice(&fo.to_be_bytes());
        ip.extend_from_slice(&id.to_be_bytes());
        ip.extend_from_slice(data);
        ethernet(0x86dd, &ip)
    }

    fn dec(frame: &[u8]) -> Decoded {
        let mut d = Decoded::default();
        let _ = decode(LinkType::Ethernet, frame, &mut d);
        d
    }

    struct Fed {
        packet: Option<Vec<u8>>,
        fragments: u16,
        wire_bytes: u64,
    }

    fn feed_zone(df: &mut Defrag, zone: u64, frame: &[u8], now: u64, evs: &mut Vec<DefragEvent>) -> Fed {
        let d = dec(frame);
        assert!(d.is_fragment, "test frame must decode as a fragment");
        match df.add(zone, frame, &d, frame.len() as u32, now, &mut |e| evs.push(e)) {
            Some(r) => Fed { packet: Some(r.packet.to_vec()), fragments: r.fragments, wire_bytes: r.wire_bytes },
            None => Fed { packet: None, fragments: 0, wire_bytes: 0 },
        }
    }

    fn feed(df: &mut Defrag, frame: &[u8], now: u64, evs: &mut Vec<DefragEvent>) -> Option<Vec<u8>> {
        feed_zone(df, 0, frame, now, evs).packet
    }

    /// The reassembled packet decodes as a whole UDP datagram carrying `payload`.
    fn check_udp(pkt: &[u8], payload: &[u8], v6: bool) {
        let mut d = Decoded::default();
        decode(LinkType::Raw, pkt, &mut d).unwrap();
        assert!(!d.is_fragment);
        assert_eq!(d.ip, if v6 { IpVersion::V6 } else { IpVersion::V4 });
        assert_eq!(d.proto, ip_proto::UDP);
        assert!(d.has_l4);
        assert_eq!((d.src_port, d.dst_port), (1234, 53));
        assert_eq!(d.l3_len as usize, pkt.len());
        assert_eq!(d.payload(pkt), &payload[8..]);
        if !v6 {
            let h = (pkt[0] & 0x0f) as usize * 4;
            assert_eq!(ipv4_checksum(&pkt[..h]), 0, "header checksum");
        }
    }

    fn small() -> Defrag {
        Defrag::new(DefragConfig { max_datagrams: 8, ..DefragConfig::default() })
    }

    #[test]
    fn ipv4_in_order() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(100, 0); // 108 bytes: 48 + 48 + 12
        let frames = [v4(7, 0, true, &p[..48], &[]), v4(7, 48, true, &p[48..96], &[]), v4(7, 96, false, &p[96..], &[])];
        assert!(feed(&mut df, &frames[0], 1, &mut evs).is_none());
        assert!(feed(&mut df, &frames[1], 2, &mut evs).is_none());
        let r = feed_zone(&mut df, 0, &frames[2], 3, &mut evs);
        let pkt = r.packet.unwrap();
        check_udp(&pkt, &p, false);
        assert_eq!(pkt.len(), 20 + p.len());
        assert_eq!(r.fragments, 3);
        assert_eq!(r.wire_bytes, frames.iter().map(|f| f.len() as u64).sum::<u64>());
        assert_eq!(evs, [DefragEvent::Reassembled]);
        let st = df.stats();
        assert_eq!((st.fragments, st.reassembled, st.active), (3, 1, 0));
    }

    #[test]
    fn ipv4_out_of_order_with_options() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(100, 3);
        let opts = [0x01, 0x01, 0x01, 0x00]; // NOP NOP NOP EOL
                                             // Last first, then first, middle last.
        assert!(feed(&mut df, &v4(9, 96, false, &p[96..], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(9, 0, true, &p[..48], &opts), 2, &mut evs).is_none());
        let pkt = feed(&mut df, &v4(9, 48, true, &p[48..96], &[]), 3, &mut evs).unwrap();
        check_udp(&pkt, &p, false);
        assert_eq!(pkt[0], 0x46);
        assert_eq!(&pkt[20..24], &opts);
        assert_eq!(evs, [DefragEvent::Reassembled]);
    }

    #[test]
    fn ipv6_in_order_and_out_of_order() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(200, 1); // 208 bytes
        let a = v6(0x1234_5678, 0, true, &p[..64], false);
        let b = v6(0x1234_5678, 64, true, &p[64..128], false);
        let c = v6(0x1234_5678, 128, false, &p[128..], false);
        assert!(feed(&mut df, &a, 1, &mut evs).is_none());
        assert!(feed(&mut df, &b, 1, &mut evs).is_none());
        let pkt = feed(&mut df, &c, 1, &mut evs).unwrap();
        check_udp(&pkt, &p, true);
        assert_eq!(pkt.len(), 40 + p.len());
        assert_eq!(pkt[6], ip_proto::UDP);
        for order in [[&c, &a, &b], [&b, &c, &a], [&c, &b, &a]] {
            assert!(feed(&mut df, order[0], 2, &mut evs).is_none());
            assert!(feed(&mut df, order[1], 2, &mut evs).is_none());
            let pkt = feed(&mut df, order[2], 2, &mut evs).unwrap();
            check_udp(&pkt, &p, true);
        }
        assert_eq!(df.stats().reassembled, 4);
        assert_eq!(df.stats().active, 0);
    }

    #[test]
    fn ipv6_hop_by_hop_before_fragment_header() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(100, 5);
        assert!(feed(&mut df, &v6(77, 56, false, &p[56..], true), 1, &mut evs).is_none());
        let pkt = feed(&mut df, &v6(77, 0, true, &p[..56], true), 2, &mut evs).unwrap();
        // Hop-by-hop kept, its next header now UDP, no Fragment header.
        assert_eq!(pkt.len(), 40 + 8 + p.len());
        assert_eq!(pkt[6], 0);
        assert_eq!(&pkt[40..48], &[ip_proto::UDP, 0, 1, 4, 0, 0, 0, 0]);
        assert_eq!(u16::from_be_bytes([pkt[4], pkt[5]]) as usize, 8 + p.len());
        check_udp(&pkt, &p, true);
    }

    #[test]
    fn ipv6_atomic_fragment_stands_alone() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(40, 9);
        let q = udp(40, 10);
        // A pending datagram with id 5, then an atomic fragment with the same id.
        assert!(feed(&mut df, &v6(5, 0, true, &q[..16], false), 1, &mut evs).is_none());
        let pkt = feed(&mut df, &v6(5, 0, false, &p, false), 2, &mut evs).unwrap();
        check_udp(&pkt, &p, true);
        assert_eq!(evs, [DefragEvent::Reassembled]);
        // The pending one is untouched and still completes.
        let pkt = feed(&mut df, &v6(5, 16, false, &q[16..], false), 3, &mut evs).unwrap();
        check_udp(&pkt, &q, true);
    }

    #[test]
    fn duplicate_fragment_is_same_data_overlap() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(100, 2);
        let a = v4(3, 0, true, &p[..48], &[]);
        assert!(feed(&mut df, &a, 1, &mut evs).is_none());
        assert!(feed(&mut df, &a, 2, &mut evs).is_none());
        let r = feed_zone(&mut df, 0, &v4(3, 48, false, &p[48..], &[]), 3, &mut evs);
        check_udp(&r.packet.unwrap(), &p, false);
        assert_eq!(r.fragments, 3);
        assert_eq!(evs, [DefragEvent::OverlapSameData, DefragEvent::Reassembled]);
        assert_eq!(df.stats().overlap_same_data, 1);
    }

    #[test]
    fn overlap_with_different_data_first_wins() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(100, 4); // 108 bytes
                             // [0,48) original; then [40,72) forged (overlaps 40..48, new 48..72); then the rest.
        let mut forged = p[40..72].to_vec();
        forged.iter_mut().for_each(|b| *b ^= 0xff);
        assert!(feed(&mut df, &v4(4, 0, true, &p[..48], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(4, 40, true, &forged, &[]), 2, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::OverlapDifferentData]);
        // The genuine [48,108) now overlaps the forged bytes 48..72: different again.
        let pkt = feed(&mut df, &v4(4, 48, false, &p[48..], &[]), 3, &mut evs).unwrap();
        assert_eq!(
            evs,
            [DefragEvent::OverlapDifferentData, DefragEvent::OverlapDifferentData, DefragEvent::Reassembled]
        );
        // First wins: 40..48 genuine (first fragment), 48..72 forged (second), rest genuine.
        let mut want = p.clone();
        want[48..72].copy_from_slice(&forged[8..]);
        assert_eq!(&pkt[20..], &want[..]);
        assert_eq!(df.stats().overlap_different_data, 2);
    }

    #[test]
    fn overlap_spanning_several_ranges_fills_holes_only() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(120, 6); // 128 bytes
        assert!(feed(&mut df, &v4(6, 16, true, &p[16..32], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(6, 64, true, &p[64..80], &[]), 1, &mut evs).is_none());
        // One fragment covering [0, 128) with identical bytes: holes filled, overlaps same.
        let pkt = feed(&mut df, &v4(6, 0, true, &p[..120], &[]), 1, &mut evs);
        assert!(pkt.is_none());
        let pkt = feed(&mut df, &v4(6, 120, false, &p[120..], &[]), 1, &mut evs).unwrap();
        check_udp(&pkt, &p, false);
        assert_eq!(evs, [DefragEvent::OverlapSameData, DefragEvent::Reassembled]);
    }

    #[test]
    fn ping_of_death_is_oversize_and_poisons() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(64, 0);
        assert!(feed(&mut df, &v4(66, 0, true, &p[..8], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(66, 65528, false, &[0x41; 16], &[]), 2, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Oversize]);
        // Later fragments of that datagram are ignored, even ones that would complete it.
        assert!(feed(&mut df, &v4(66, 8, false, &p[8..], &[]), 3, &mut evs).is_none());
        assert!(feed(&mut df, &v4(66, 0, true, &p[..8], &[]), 4, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Oversize]);
        let st = df.stats();
        assert_eq!((st.oversize, st.reassembled, st.active, st.fragments), (1, 0, 1, 4));
        // The poisoned slot expires silently; then the id is usable again.
        df.expire(2 * 30 * SEC, &mut |e| evs.push(e));
        assert_eq!(df.stats().active, 0);
        assert_eq!(evs, [DefragEvent::Oversize]);
        let now = 61 * SEC;
        assert!(feed(&mut df, &v4(66, 0, true, &p[..8], &[]), now, &mut evs).is_none());
        let pkt = feed(&mut df, &v4(66, 8, false, &p[8..], &[]), now, &mut evs).unwrap();
        check_udp(&pkt, &p, false);
    }

    #[test]
    fn oversize_first_seen_fragment_and_lower_limit() {
        let mut df = Defrag::new(DefragConfig { max_datagrams: 4, max_packet_len: 1500, ..DefragConfig::default() });
        let mut evs = Vec::new();
        // A lone last fragment past 65535: poisoned from its first sight.
        assert!(feed(&mut df, &v4(1, 65520, false, &[0; 32], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(1, 0, true, &[0; 8], &[]), 1, &mut evs).is_none());
        // Legal IP, but over the configured 1500.
        assert!(feed(&mut df, &v4(2, 1480, false, &[0; 8], &[]), 1, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Oversize, DefragEvent::Oversize]);
        // Exactly 1500 fits.
        let p = udp(1472, 0);
        assert!(feed(&mut df, &v4(3, 0, true, &p[..1000], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(3, 1000, false, &p[1000..], &[]), 1, &mut evs).is_some());
    }

    #[test]
    fn ipv6_largest_legal_datagram() {
        // Payload length 65535 (data end 65527 after the 8-byte Fragment header is removed,
        // plus 8 of hop-by-hop): legal for IPv6 once max_packet_len allows 65575.
        let mut df =
            Defrag::new(DefragConfig { max_datagrams: 2, max_packet_len: 65535 + 40, ..DefragConfig::default() });
        let mut evs = Vec::new();
        let total = 65535 - 8; // fragmentable bytes
        let p = udp(total - 8, 1);
        let mut out = None;
        let mut at = 0;
        while at < total {
            let n = (total - at).min(32768);
            let more = at + n < total;
            let f = v6(9, at, more, &p[at..at + n], true);
            out = feed(&mut df, &f, 1, &mut evs);
            at += n;
        }
        let pkt = out.unwrap();
        assert_eq!(pkt.len(), 40 + 65535);
        assert_eq!(u16::from_be_bytes([pkt[4], pkt[5]]), 65535);
        assert_eq!(&pkt[48..], &p[..]);
        // One byte more is oversize.
        let f = v6(10, 65528, false, &[0; 8], true);
        assert!(feed(&mut df, &f, 1, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Reassembled, DefragEvent::Oversize]);
    }

    #[test]
    fn too_many_fragments_poisons() {
        let mut df = Defrag::new(DefragConfig { max_datagrams: 4, max_fragments: 4, ..DefragConfig::default() });
        let mut evs = Vec::new();
        let p = udp(40, 0); // 48 bytes = 6 fragments of 8
        for i in 0..4 {
            let f = v4(8, i * 8, true, &p[i * 8..i * 8 + 8], &[]);
            assert!(feed(&mut df, &f, 1, &mut evs).is_none());
        }
        assert!(evs.is_empty());
        assert!(feed(&mut df, &v4(8, 32, true, &p[32..40], &[]), 1, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::TooManyFragments]);
        assert!(feed(&mut df, &v4(8, 40, false, &p[40..], &[]), 1, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::TooManyFragments]);
        assert_eq!(df.stats().too_many_fragments, 1);
        // Duplicates count too: a flood of one fragment cannot run forever.
        for _ in 0..10 {
            feed(&mut df, &v4(11, 0, true, &p[..8], &[]), 1, &mut evs);
        }
        assert_eq!(df.stats().too_many_fragments, 2);
    }

    #[test]
    fn full_table_evicts_oldest() {
        let mut df = Defrag::new(DefragConfig { max_datagrams: 2, ..DefragConfig::default() });
        let mut evs = Vec::new();
        let p = udp(40, 0);
        for id in 1..=3u16 {
            let f = v4(id, 0, true, &p[..24], &[]);
            assert!(feed(&mut df, &f, id as u64, &mut evs).is_none());
        }
        assert_eq!(evs, [DefragEvent::Evicted]);
        assert_eq!(df.stats().active, 2);
        // 2 and 3 complete; 1 is gone and its last fragment starts a new, incomplete one
        // (evicting nothing: 2 and 3 freed their slots).
        for id in [2u16, 3] {
            let pkt = feed(&mut df, &v4(id, 24, false, &p[24..], &[]), 5, &mut evs).unwrap();
            check_udp(&pkt, &p, false);
        }
        assert!(feed(&mut df, &v4(1, 24, false, &p[24..], &[]), 6, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Evicted, DefragEvent::Reassembled, DefragEvent::Reassembled]);
        assert_eq!(df.stats().evicted, 1);
        assert_eq!(df.stats().active, 1);
    }

    #[test]
    fn expire_drops_incomplete_after_timeout() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(40, 0);
        let t0 = 100 * SEC;
        assert!(feed(&mut df, &v4(12, 0, true, &p[..24], &[]), t0, &mut evs).is_none());
        assert!(feed(&mut df, &v4(13, 0, true, &p[..24], &[]), t0 + SEC, &mut evs).is_none());
        df.expire(t0 + 30 * SEC - 1, &mut |e| evs.push(e));
        assert!(evs.is_empty());
        df.expire(t0 + 30 * SEC, &mut |e| evs.push(e));
        assert_eq!(evs, [DefragEvent::Timeout]);
        assert_eq!(df.stats().active, 1);
        // The expired datagram's last fragment now starts a new, incomplete one.
        let late = v4(12, 24, false, &p[24..], &[]);
        assert!(feed(&mut df, &late, t0 + 30 * SEC, &mut evs).is_none());
        // A datagram past its time is dropped when its next fragment arrives, even before
        // expire runs.
        let f = v4(13, 24, false, &p[24..], &[]);
        assert!(feed(&mut df, &f, t0 + 31 * SEC, &mut evs).is_none());
        assert_eq!(evs, [DefragEvent::Timeout, DefragEvent::Timeout]);
        assert_eq!(df.stats().timeout, 2);
    }

    #[test]
    fn same_id_in_two_zones_stays_apart() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(40, 0x10);
        let q = udp(40, 0x20);
        assert!(feed_zone(&mut df, 1, &v4(5, 0, true, &p[..24], &[]), 1, &mut evs).packet.is_none());
        assert!(feed_zone(&mut df, 2, &v4(5, 0, true, &q[..24], &[]), 1, &mut evs).packet.is_none());
        let a = feed_zone(&mut df, 2, &v4(5, 24, false, &q[24..], &[]), 2, &mut evs);
        check_udp(&a.packet.unwrap(), &q, false);
        let b = feed_zone(&mut df, 1, &v4(5, 24, false, &p[24..], &[]), 2, &mut evs);
        check_udp(&b.packet.unwrap(), &p, false);
        assert_eq!(df.stats().overlap_different_data, 0);
    }

    #[test]
    fn bad_fragments_are_counted_and_ignored() {
        let mut df = small();
        let mut evs = Vec::new();
        let p = udp(40, 0);
        // Non-last not a multiple of 8; empty non-last.
        assert!(feed(&mut df, &v4(20, 0, true, &p[..20], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(20, 8, true, &[], &[]), 1, &mut evs).is_none());
        assert_eq!(df.stats().active, 0);
        // Two "last" fragments with different ends; data past the end.
        assert!(feed(&mut df, &v4(21, 24, false, &p[24..], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(21, 16, false, &p[16..40], &[]), 1, &mut evs).is_none());
        assert!(feed(&mut df, &v4(21, 48, true, &[0; 8], &[]), 1, &mut evs).is_none());
        assert_eq!(df.stats().bad_fragment, 4);
        assert!(evs.iter().all(|e| *e == DefragEvent::BadFragment));
        // The datagram itself is intact.
        let pkt = feed(&mut df, &v4(21, 0, true, &p[..24], &[]), 1, &mut evs).unwrap();
        check_udp(&pkt, &p, false);
        // A Decoded that is no fragment at all.
        let whole = dec(&v4(22, 0, true, &p, &[]));
        let mut d = whole;
        d.is_fragment = false;
        let f = v4(22, 0, true, &p, &[]);
        assert!(df.add(0, &f, &d, 60, 1, &mut |e| evs.push(e)).is_none());
        assert_eq!(df.stats().bad_fragment, 5);
    }

    #[test]
    fn event_names_are_stable_and_distinct() {
        let names: Vec<_> = DefragEvent::ALL.iter().map(|e| e.name()).collect();
        assert!(names.iter().all(|n| n.starts_with("defrag.")));
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(DefragEvent::OverlapDifferentData.name(), "defrag.overlap_different_data");
    }

    #[test]
    fn garbage_never_panics() {
        let mut df = Defrag::new(DefragConfig { max_datagrams: 4, max_fragments: 8, ..DefragConfig::default() });
        let mut evs = Vec::new();
        let p = udp(100, 0);
        let seeds = [
            v4(1, 0, true, &p[..48], &[1, 1, 1, 0]),
            v4(1, 48, false, &p[48..], &[]),
            v4(2, 65528, false, &p[..16], &[]),
            v6(3, 0, true, &p[..48], true),
            v6(3, 48, false, &p[48..], false),
            v6(4, 0, false, &p, true),
        ];
        let mut rng: u64 = 0x1234_5678_9abc_def0;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut now = 0;
        for round in 0..20_000u32 {
            let seed = &seeds[round as usize % seeds.len()];
            let mut f = seed.clone();
            // Truncate, flip bytes, or both.
            let cut = next() as usize % (f.len() + 1);
            if round % 3 == 0 {
                f.truncate(cut);
            }
            for _ in 0..(next() % 4) {
                if !f.is_empty() {
                    let i = next() as usize % f.len();
                    f[i] = next() as u8;
                }
            }
            let mut d = dec(&f);
            if round % 5 == 0 {
                // A Decoded that lies about the frame.
                d.is_fragment = true;
                d.l3_off = next() as u16 % 80;
                d.l3_len = next() as u16;
                d.frag_offset = next() as u16 & 0xfff8;
                d.frag_more = next() % 2 == 0;
                d.ip = if next() % 2 == 0 { IpVersion::V4 } else { IpVersion::V6 };
            }
            now += next() % SEC;
            if let Some(r) = df.add(next() % 3, &f, &d, f.len() as u32, now, &mut |e| evs.push(e)) {
                let mut out = Decoded::default();
                let _ = decode(LinkType::Raw, r.packet, &mut out);
            }
            if round % 100 == 0 {
                df.expire(now, &mut |e| evs.push(e));
            }
            assert!(df.stats().active <= 4);
        }
        let st = df.stats();
        assert_eq!(st.fragments, 20_000);
        assert!(st.bad_fragment > 0);
    }
}
