//! Per-worker TCP stream reassembly: turns each direction of a worker's TCP flows into an
//! ordered byte stream for the next stages (protocol detection, signatures).
//!
//! **What it owns.** Per flow index of the worker's [`FlowTable`](super::FlowTable), two
//! direction states of 32 bytes (sequence anchor, stream offset, FIN position, list of
//! buffered segments), in a `Vec` reserved for the table's capacity in [`Streams::new`] and
//! grown only within that reservation; and one pool of fixed [`CHUNK`]-byte chunks
//! (`pool_bytes / CHUNK` of them, allocated once, pages touched as used) that holds copies of
//! out-of-order segments, a segment spanning `ceil(len / CHUNK)` chunks linked by `u32`
//! indices, free chunks on a free list. Nothing in [`Streams::segment`], [`Streams::close`] or
//! [`Streams::reset`] allocates, locks or makes a system call, and no input can make it panic.
//!
//! **Bounds.** Per direction: at most `max_ooo_segments` buffered segments and
//! `max_ooo_bytes` buffered payload bytes, and `depth` bytes of stream. Per worker: the pool.
//! Each hit is counted in [`StreamStats`].
//!
//! **Policies.**
//! - *Stream start.* A SYN fixes the initial sequence number; the SYN is not a byte, so
//!   stream offset 0 is `isn + 1` (a SYN's payload starts there). Without a SYN (flow picked up
//!   mid-stream) the first segment seen in that direction starts the stream at its sequence
//!   number; bytes before it that arrive later are treated as old. A SYN on a direction that
//!   has started does not move it. Sequence numbers are compared with wrapping arithmetic,
//!   so streams cross 2^32 transparently.
//! - *Already-delivered data wins.* Bytes before the next expected one are trimmed (counted
//!   as `retransmitted` when the whole segment is old, `overlaps` when only a prefix is).
//!   Delivered bytes are not kept, so they cannot be compared: a retransmission that changes
//!   bytes already delivered goes unnoticed.
//! - *Buffered data: first wins.* A segment overlapping buffered (not yet delivered) bytes
//!   keeps the buffered bytes, only its non-overlapping parts are used; the overlap is
//!   compared and, if it differs, one `OverlapDifferentData` is reported for the segment with
//!   the offset of the first differing byte.
//! - *Gaps, never silent drops.* When an out-of-order segment cannot be buffered (the
//!   direction's segment or byte bound, or the worker's pool, is full), the bytes from the
//!   next expected offset up to the lowest data at hand (the lowest buffered segment or this
//!   segment, whichever is lower) are declared lost: a `Gap` is reported, the stream advances
//!   past it, what became contiguous is delivered, and the segment is retried (so it is
//!   delivered or buffered, not lost). A full pool therefore costs the flow that needs room
//!   a gap, never the flows that hold it. [`Streams::close`] and a RST deliver what is still
//!   buffered the same way, each hole reported as a `Gap` before the data after it (and a
//!   `Gap` up to a FIN that arrived ahead of missing bytes).
//! - *FIN and RST.* FIN takes one sequence number after its payload; the first FIN seen fixes
//!   the end of the direction (later bytes beyond it are ignored) and the direction ends once
//!   every byte before it was delivered or declared a gap. A RST ends its direction at once:
//!   its payload is not delivered, buffered segments are flushed with gaps, later segments
//!   are only counted. The RST's sequence number is not checked against a window (none is
//!   tracked), so a forged RST can end inspection of its direction early.
//! - *Depth.* `depth` is measured in stream offset (bytes delivered plus bytes declared
//!   lost), so gaps do not extend inspection: no `Data` reaches past `depth` (the crossing
//!   chunk is truncated), `DepthReached` is reported once, the buffer is freed and later
//!   segments of the direction are only counted. `depth` above 2^62 is treated as 2^62.
//!
//! **Contract of [`StreamEvent`] for consumers.** Events arrive synchronously from
//! [`Streams::segment`] and [`Streams::close`]; the `data` borrow ends with the callback
//! (copy what must outlive it). Per flow index and direction, offsets start at 0 (the first
//! byte after the SYN, or the first byte seen) and `Data` and `Gap` events tile the stream
//! in order, each starting exactly where the previous one ended: no byte is delivered twice,
//! none is skipped without a `Gap`, and offsets never go backwards. A segment may come out
//! as several `Data` events (the part that was in order, then buffered segments, in
//! `CHUNK`-sized pieces at most when they come from the buffer). `OverlapDifferentData` is
//! informational and comes before the `Data` of the segment that caused it. After
//! `DepthReached` the direction emits nothing more. After [`Streams::reset`] or
//! [`Streams::close`] the index is a new stream starting at offset 0.
#![forbid(unsafe_code)]

use crate::wire::tcp_flags::{FIN, RST, SYN};

/// Bytes per chunk of the out-of-order pool: one full-size Ethernet segment fits in one.
pub const CHUNK: usize = 2048;
const NIL: u32 = u32::MAX;
/// Largest effective depth, so offsets stay far from the ends of `i64`/`u64`.
const MAX_DEPTH: u64 = 1 << 62;
/// Longest payload considered (anything longer is not TCP); keeps offset arithmetic in range.
const MAX_PAYLOAD: usize = i32::MAX as usize;

// `Dir::flags`.
const STARTED: u8 = 1;
const FIN_KNOWN: u8 = 2;
/// FIN reached, RST seen, or depth reached: only counted from now on.
const ENDED: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Bytes reassembled per direction; past it the direction is only counted. Default 1 MiB.
    pub depth: u64,
    /// Out-of-order segments buffered per direction. Default 32.
    pub max_ooo_segments: u16,
    /// Out-of-order bytes buffered per direction. Default 256 KiB.
    pub max_ooo_bytes: u32,
    /// Bytes of out-of-order buffer per worker, shared by all its flows (preallocated). Default 32 MiB.
    pub pool_bytes: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { depth: 1 << 20, max_ooo_segments: 32, max_ooo_bytes: 256 << 10, pool_bytes: 32 << 20 }
    }
}

/// What the reassembler hands to the next stage (protocol detection, signatures).
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// Contiguous, in-order bytes of direction `dir` (0 = to server, 1 = to client) starting at stream offset `offset` (bytes since the first byte of that direction's stream; the SYN is not a byte). Chunks of one direction come with strictly increasing, gap-free offsets except where a Gap was reported.
    Data { dir: usize, offset: u64, data: &'a [u8] },
    /// `len` bytes at `offset` were never seen (lost or out of the buffer's bound); the next Data of `dir` starts at offset+len.
    Gap { dir: usize, offset: u64, len: u64 },
    /// The direction reached the depth limit: no more Data for it (still counted).
    DepthReached { dir: usize },
    /// A segment overlapped buffered data with different bytes (first-wins kept the old bytes).
    OverlapDifferentData { dir: usize, offset: u64 },
}

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct StreamStats {
    /// Segments handed to [`Streams::segment`] (including those of ended directions).
    pub segments: u64,
    /// Segments with new bytes starting at the next expected offset (or before it).
    pub in_order: u64,
    /// Segments with new bytes starting beyond the next expected offset.
    pub out_of_order: u64,
    /// Segments with payload that was entirely delivered already.
    pub retransmitted: u64,
    /// Segments that partly overlapped delivered or buffered bytes.
    pub overlaps: u64,
    /// Overlaps of buffered bytes with different data (`OverlapDifferentData` events).
    pub overlap_different_data: u64,
    /// `Gap` events.
    pub gaps: u64,
    /// `DepthReached` events.
    pub depth_reached: u64,
    /// Out-of-order segments that did not fit the per-direction or pool bound (a gap was
    /// declared instead of dropping them).
    pub ooo_dropped: u64,
    /// Bytes delivered in `Data` events.
    pub bytes_delivered: u64,
    /// Of `ooo_dropped`, those where the worker's pool was the bound.
    pub pool_exhausted: u64,
}

impl StreamStats {
    /// The counters with their stats names (for per-worker publication).
    pub fn counters(&self) -> [(&'static str, u64); 11] {
        [
            ("stream.segments", self.segments),
            ("stream.in_order", self.in_order),
            ("stream.out_of_order", self.out_of_order),
            ("stream.retransmitted", self.retransmitted),
            ("stream.overlaps", self.overlaps),
            ("stream.overlap_different_data", self.overlap_different_data),
            ("stream.gaps", self.gaps),
            ("stream.depth_reached", self.depth_reached),
            ("stream.ooo_dropped", self.ooo_dropped),
            ("stream.bytes_delivered", self.bytes_delivered),
            ("stream.pool_exhausted", self.pool_exhausted),
        ]
    }
}

/// One direction of one flow.
#[derive(Clone, Copy, Debug)]
struct Dir {
    /// Stream offset of `next`.
    base: u64,
    /// Stream offset of the FIN (valid with `FIN_KNOWN`).
    fin_off: u64,
    /// Sequence number expected next.
    next: u32,
    /// First buffered segment (lowest offset), or NIL.
    head: u32,
    /// Buffered payload bytes.
    nbytes: u32,
    /// Buffered segments.
    nsegs: u16,
    flags: u8,
}

impl Default for Dir {
    fn default() -> Self {
        Dir { base: 0, fin_off: 0, next: 0, head: NIL, nbytes: 0, nsegs: 0, flags: 0 }
    }
}

impl Dir {
    #[inline]
    fn ended(&self) -> bool {
        self.flags & ENDED != 0
    }
    #[inline]
    fn advance(&mut self, n: u64) {
        self.base += n;
        self.next = self.next.wrapping_add(n as u32);
    }
}

/// A buffered segment; stored at the index of its first chunk.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    /// Stream offset of its first byte.
    off: u64,
    len: u32,
    /// Next buffered segment of the same direction (higher offset), or NIL.
    next: u32,
}

/// The worker's out-of-order buffer: fixed chunks, index-linked, one free list.
struct Pool {
    data: Vec<u8>,
    /// Next chunk of the same segment, or of the free list.
    link: Vec<u32>,
    /// Segment metadata, valid at a segment's first chunk.
    nodes: Vec<Node>,
    free: u32,
    nfree: u32,
}

impl Pool {
    fn new(chunks: u32) -> Pool {
        let n = chunks as usize;
        Pool {
            data: vec![0; n * CHUNK],
            link: (1..=chunks).map(|i| if i == chunks { NIL } else { i }).collect(),
            nodes: vec![Node::default(); n],
            free: if chunks > 0 { 0 } else { NIL },
            nfree: chunks,
        }
    }

    #[inline]
    fn link(&self, c: u32) -> u32 {
        self.link.get(c as usize).copied().unwrap_or(NIL)
    }
    #[inline]
    fn set_link(&mut self, c: u32, to: u32) {
        if let Some(l) = self.link.get_mut(c as usize) {
            *l = to;
        }
    }
    #[inline]
    fn node(&self, c: u32) -> Node {
        self.nodes.get(c as usize).copied().unwrap_or_default()
    }
    #[inline]
    fn node_mut(&mut self, c: u32) -> Option<&mut Node> {
        self.nodes.get_mut(c as usize)
    }

    /// Copies `bytes` (not empty) into a new chain of chunks; None when the pool is short.
    fn alloc(&mut self, off: u64, bytes: &[u8]) -> Option<u32> {
        let need = bytes.len().div_ceil(CHUNK);
        if need == 0 || need > self.nfree as usize {
            return None;
        }
        // Find the last chunk of the chain first, so a short free list changes nothing.
        let head = self.free;
        let mut last = head;
        for _ in 1..need {
            last = self.link(last);
        }
        if last == NIL {
            return None;
        }
        let rest = self.link(last);
        let mut c = head;
        for part in bytes.chunks(CHUNK) {
            let at = c as usize * CHUNK;
            if let Some(dst) = self.data.get_mut(at..at + part.len()) {
                dst.copy_from_slice(part);
            }
            c = self.link(c);
        }
        self.set_link(last, NIL);
        self.free = rest;
        self.nfree -= need as u32;
        let node = self.node_mut(head)?;
        *node = Node { off, len: bytes.len() as u32, next: NIL };
        Some(head)
    }

    /// Returns a segment's chunks to the free list.
    fn release(&mut self, head: u32) {
        if head == NIL {
            return;
        }
        let mut last = head;
        let mut n = 1u32;
        let mut guard = self.link.len();
        loop {
            let nx = self.link(last);
            if nx == NIL || guard == 0 {
                break;
            }
            guard -= 1;
            last = nx;
            n += 1;
        }
        self.set_link(last, self.free);
        self.free = head;
        self.nfree += n;
    }

    /// Calls `f(position in segment, bytes)` for the bytes `[from, to)` of the segment
    /// starting at chunk `head`, one chunk at a time, until `f` returns false.
    fn for_each_part(&self, head: u32, from: u64, to: u64, mut f: impl FnMut(u64, &[u8]) -> bool) {
        let mut c = head;
        let mut start = 0u64;
        let mut guard = self.link.len();
        while c != NIL && start < to && guard > 0 {
            guard -= 1;
            let end = start + CHUNK as u64;
            if end > from {
                let (a, b) = (from.max(start), to.min(end));
                let at = c as usize * CHUNK;
                let range = at + (a - start) as usize..at + (b - start) as usize;
                if let Some(part) = self.data.get(range) {
                    if !f(a, part) {
                        return;
                    }
                }
            }
            start = end;
            c = self.link(c);
        }
    }
}

/// Why an out-of-order piece could not be buffered.
struct Full {
    pool: bool,
}

/// Per-worker TCP stream reassembly (see the module documentation).
pub struct Streams {
    dirs: Vec<[Dir; 2]>,
    flows: u32,
    pool: Pool,
    depth: u64,
    max_segs: u16,
    max_bytes: u32,
    stats: StreamStats,
}

impl Streams {
    /// `flows`: the flow table capacity; state is kept per flow index (0..flows) in a Vec reserved with that capacity and grown (within the reservation, never reallocating) as higher indices appear.
    pub fn new(flows: u32, cfg: StreamConfig) -> Streams {
        Streams {
            dirs: Vec::with_capacity(flows as usize),
            flows,
            pool: Pool::new(cfg.pool_bytes / CHUNK as u32),
            depth: cfg.depth.min(MAX_DEPTH),
            max_segs: cfg.max_ooo_segments,
            max_bytes: cfg.max_ooo_bytes,
            stats: StreamStats::default(),
        }
    }

    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Forget everything about flow `idx` (called when the flow table creates or ends a flow at that index); frees its buffered segments.
    pub fn reset(&mut self, idx: u32) {
        if let Some(pair) = self.dirs.get_mut(idx as usize) {
            for st in pair.iter_mut() {
                free_all(st, &mut self.pool);
                *st = Dir::default();
            }
        }
    }

    /// The flow ends: deliver what is still buffered for both directions, reporting gaps before it, then reset.
    pub fn close(&mut self, idx: u32, out: &mut impl FnMut(StreamEvent<'_>)) {
        if let Some(pair) = self.dirs.get_mut(idx as usize) {
            let mut e = Emit { depth: self.depth, stats: &mut self.stats, out };
            for (d, st) in pair.iter_mut().enumerate() {
                if st.flags & STARTED != 0 && !st.ended() {
                    flush(st, d, &mut self.pool, &mut e);
                }
            }
        }
        self.reset(idx);
    }

    /// One TCP segment of flow `idx` in direction `dir` with sequence number `seq`, TCP flags `flags` (wire bits: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) and `payload`. Delivers through `out` every Data/Gap/... it can now (the payload itself when in order, then any buffered segments that became contiguous).
    ///
    /// `dir` is taken modulo 2; an `idx` at or beyond the `flows` given to [`Streams::new`] is
    /// ignored (counted in `segments` only).
    pub fn segment(
        &mut self,
        idx: u32,
        dir: usize,
        seq: u32,
        flags: u8,
        payload: &[u8],
        out: &mut impl FnMut(StreamEvent<'_>),
    ) {
        self.stats.segments += 1;
        let d = dir & 1;
        let i = idx as usize;
        if i >= self.dirs.len() {
            if idx >= self.flows {
                return;
            }
            // Within the capacity reserved in `new`: never reallocates.
            self.dirs.resize(i + 1, [Dir::default(); 2]);
        }
        let Some(st) = self.dirs.get_mut(i).and_then(|p| p.get_mut(d)) else {
            return;
        };
        let pool = &mut self.pool;
        let mut e = Emit { depth: self.depth, stats: &mut self.stats, out };
        let (max_segs, max_bytes) = (self.max_segs, self.max_bytes);
        if st.ended() {
            return;
        }
        let syn = flags & SYN != 0;
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        if st.flags & STARTED == 0 {
            st.flags |= STARTED;
            st.next = data_seq;
            st.base = 0;
        }
        if flags & RST != 0 {
            flush(st, d, pool, &mut e);
            st.flags |= ENDED;
            free_all(st, pool);
            return;
        }
        let payload = payload.get(..MAX_PAYLOAD).unwrap_or(payload);
        if st.base >= e.depth && !payload.is_empty() {
            // Only with depth 0: nothing can be delivered.
            e.depth_reached(st, d);
            free_all(st, pool);
            return;
        }

        // Offsets of this segment's bytes; `s` may be negative (before the stream start).
        let base = st.base as i64;
        let s = base + (data_seq.wrapping_sub(st.next) as i32) as i64;
        let e_raw = s + payload.len() as i64;
        if flags & FIN != 0 && st.flags & FIN_KNOWN == 0 && e_raw >= base {
            st.flags |= FIN_KNOWN;
            st.fin_off = e_raw as u64;
            truncate(st, pool, st.fin_off);
        }
        let mut end = e_raw.min(e.depth as i64);
        if st.flags & FIN_KNOWN != 0 {
            end = end.min(st.fin_off as i64);
        }
        let c0 = s.max(base);
        if end <= c0 {
            if !payload.is_empty() && e_raw <= base {
                e.stats.retransmitted += 1;
            }
            finish(st, pool);
            return;
        }
        let (c0, end) = (c0 as u64, end as u64);
        if c0 > st.base {
            e.stats.out_of_order += 1;
        } else {
            e.stats.in_order += 1;
        }

        // First wins: compare with the buffered bytes this segment overlaps.
        let mut overlapped = s < base;
        if let Some(off) = first_diff(pool, st.head, c0, end, s, payload, &mut overlapped) {
            e.stats.overlap_different_data += 1;
            (e.out)(StreamEvent::OverlapDifferentData { dir: d, offset: off });
        }
        if overlapped {
            e.stats.overlaps += 1;
        }

        // Deliver or buffer the new bytes `[c, end)`; `payload[0]` is at offset `s`.
        let mut c = c0;
        let mut bounded = false;
        while !st.ended() && c < end {
            if c < st.base {
                // Delivered from the buffer meanwhile (already compared).
                c = st.base;
            } else if c == st.base {
                let lim = if st.head == NIL { end } else { pool.node(st.head).off.min(end) };
                if lim > c {
                    let range = (c as i64 - s) as usize..(lim as i64 - s) as usize;
                    let Some(piece) = payload.get(range) else {
                        break;
                    };
                    e.data(st, d, piece);
                    c = lim;
                }
                drain(st, d, pool, &mut e);
            } else {
                match insert(st, pool, c, end, s, payload, max_segs, max_bytes) {
                    Ok(()) => break,
                    Err(full) => {
                        if !bounded {
                            bounded = true;
                            e.stats.ooo_dropped += 1;
                            if full.pool {
                                e.stats.pool_exhausted += 1;
                            }
                        }
                        // Declare lost what lies before the lowest data at hand, then retry.
                        let to = if st.head == NIL { c } else { pool.node(st.head).off.min(c) };
                        e.gap_to(st, d, to);
                        drain(st, d, pool, &mut e);
                    }
                }
            }
        }
        finish(st, pool);
    }
}

/// Where events go, with the limits and counters that come with them.
struct Emit<'o, F> {
    depth: u64,
    stats: &'o mut StreamStats,
    out: &'o mut F,
}

impl<F: FnMut(StreamEvent<'_>)> Emit<'_, F> {
    /// Delivers `data` at the direction's next offset, up to the depth.
    fn data(&mut self, st: &mut Dir, d: usize, data: &[u8]) {
        if st.ended() {
            return;
        }
        let room = self.depth.saturating_sub(st.base);
        let n = (data.len() as u64).min(room) as usize;
        if let Some(part) = data.get(..n).filter(|p| !p.is_empty()) {
            (self.out)(StreamEvent::Data { dir: d, offset: st.base, data: part });
            self.stats.bytes_delivered += n as u64;
            st.advance(n as u64);
        }
        if st.base >= self.depth {
            self.depth_reached(st, d);
        }
    }

    /// Declares `[next, to)` lost (up to the depth).
    fn gap_to(&mut self, st: &mut Dir, d: usize, to: u64) {
        if st.ended() {
            return;
        }
        let to = to.min(self.depth);
        if to > st.base {
            (self.out)(StreamEvent::Gap { dir: d, offset: st.base, len: to - st.base });
            self.stats.gaps += 1;
            st.advance(to - st.base);
        }
        if st.base >= self.depth {
            self.depth_reached(st, d);
        }
    }

    fn depth_reached(&mut self, st: &mut Dir, d: usize) {
        if !st.ended() {
            st.flags |= ENDED;
            self.stats.depth_reached += 1;
            (self.out)(StreamEvent::DepthReached { dir: d });
        }
    }
}

/// Delivers the buffered segments that are contiguous with the next offset.
fn drain<F: FnMut(StreamEvent<'_>)>(st: &mut Dir, d: usize, pool: &mut Pool, e: &mut Emit<'_, F>) {
    while !st.ended() && st.head != NIL {
        let h = st.head;
        let n = pool.node(h);
        if n.off > st.base {
            break;
        }
        st.head = n.next;
        st.nsegs = st.nsegs.saturating_sub(1);
        st.nbytes = st.nbytes.saturating_sub(n.len);
        let skip = st.base - n.off;
        if skip < n.len as u64 {
            pool.for_each_part(h, skip, n.len as u64, |_, part| {
                e.data(st, d, part);
                !st.ended()
            });
        }
        pool.release(h);
    }
}

/// Delivers everything buffered, each hole before it reported as a gap, then a gap up to a
/// known FIN; the direction's buffer is empty afterwards.
fn flush<F: FnMut(StreamEvent<'_>)>(st: &mut Dir, d: usize, pool: &mut Pool, e: &mut Emit<'_, F>) {
    while !st.ended() && st.head != NIL {
        let off = pool.node(st.head).off;
        e.gap_to(st, d, off);
        drain(st, d, pool, e);
    }
    if st.flags & FIN_KNOWN != 0 {
        e.gap_to(st, d, st.fin_off);
    }
    free_all(st, pool);
}

/// Ends the direction once the FIN's offset is reached; frees the buffer of an ended one.
fn finish(st: &mut Dir, pool: &mut Pool) {
    if st.flags & (FIN_KNOWN | ENDED) == FIN_KNOWN && st.base >= st.fin_off {
        st.flags |= ENDED;
        st.next = st.next.wrapping_add(1);
    }
    if st.ended() {
        free_all(st, pool);
    }
}

fn free_all(st: &mut Dir, pool: &mut Pool) {
    let mut h = st.head;
    let mut guard = pool.nodes.len();
    while h != NIL && guard > 0 {
        guard -= 1;
        let nx = pool.node(h).next;
        pool.release(h);
        h = nx;
    }
    st.head = NIL;
    st.nsegs = 0;
    st.nbytes = 0;
}

/// Drops buffered bytes at or past `limit` (a FIN's offset).
fn truncate(st: &mut Dir, pool: &mut Pool, limit: u64) {
    let mut prev = NIL;
    let mut h = st.head;
    while h != NIL {
        let n = pool.node(h);
        if n.off >= limit {
            // This and every later segment go.
            if prev == NIL {
                st.head = NIL;
            } else if let Some(p) = pool.node_mut(prev) {
                p.next = NIL;
            }
            let mut g = h;
            while g != NIL {
                let gn = pool.node(g);
                st.nsegs = st.nsegs.saturating_sub(1);
                st.nbytes = st.nbytes.saturating_sub(gn.len);
                pool.release(g);
                g = gn.next;
            }
            return;
        }
        let end = n.off + n.len as u64;
        if end > limit {
            // The chunks past the new length stay with the segment until it is released.
            let keep = (limit - n.off) as u32;
            st.nbytes = st.nbytes.saturating_sub(n.len - keep);
            if let Some(m) = pool.node_mut(h) {
                m.len = keep;
            }
        }
        prev = h;
        h = n.next;
    }
}

/// Compares `[c, end)` of the segment (its byte 0 at offset `s`) with the buffered bytes it
/// overlaps; sets `overlapped` if there are any, returns the offset of the first difference.
fn first_diff(pool: &Pool, head: u32, c: u64, end: u64, s: i64, payload: &[u8], overlapped: &mut bool) -> Option<u64> {
    let mut h = head;
    let mut guard = pool.nodes.len();
    while h != NIL && guard > 0 {
        guard -= 1;
        let n = pool.node(h);
        if n.off >= end {
            break;
        }
        let n_end = n.off + n.len as u64;
        if n_end > c {
            *overlapped = true;
            let (a, b) = (n.off.max(c), n_end.min(end));
            let mut diff = None;
            pool.for_each_part(h, a - n.off, b - n.off, |pos, part| {
                let off = n.off + pos;
                let at = (off as i64 - s) as usize;
                let theirs = payload.get(at..at + part.len()).unwrap_or(&[]);
                match part.iter().zip(theirs).position(|(x, y)| x != y) {
                    Some(k) => {
                        diff = Some(off + k as u64);
                        false
                    }
                    None => true,
                }
            });
            if diff.is_some() {
                return diff;
            }
        }
        h = n.next;
    }
    None
}

/// Buffers the parts of `[c, end)` of the segment (its byte 0 at offset `s`) that no buffered
/// segment covers, keeping the list sorted and non-overlapping. Pieces stored before a
/// failure stay stored (they are valid bytes).
#[allow(clippy::too_many_arguments)]
fn insert(
    st: &mut Dir,
    pool: &mut Pool,
    mut c: u64,
    end: u64,
    s: i64,
    payload: &[u8],
    max_segs: u16,
    max_bytes: u32,
) -> Result<(), Full> {
    let mut prev = NIL;
    let mut cur = st.head;
    let mut guard = pool.nodes.len() + 1;
    while c < end && guard > 0 {
        guard -= 1;
        let n = pool.node(cur);
        let n_end = n.off + n.len as u64;
        if cur != NIL && n_end <= c {
            prev = cur;
            cur = n.next;
            continue;
        }
        let piece_end = if cur == NIL { end } else { n.off.min(end) };
        if piece_end > c {
            let len = piece_end - c;
            if st.nsegs >= max_segs || st.nbytes as u64 + len > max_bytes as u64 {
                return Err(Full { pool: false });
            }
            let range = (c as i64 - s) as usize..(piece_end as i64 - s) as usize;
            let bytes = payload.get(range).ok_or(Full { pool: false })?;
            let new = pool.alloc(c, bytes).ok_or(Full { pool: true })?;
            if let Some(m) = pool.node_mut(new) {
                m.next = cur;
            }
            if prev == NIL {
                st.head = new;
            } else if let Some(p) = pool.node_mut(prev) {
                p.next = new;
            }
            st.nsegs += 1;
            st.nbytes += len as u32;
            c = piece_end;
        }
        if cur == NIL {
            break;
        }
        // `cur` starts at or before `c` now: skip what it covers.
        c = c.max(n_end);
        prev = cur;
        cur = n.next;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp_flags::ACK;

    #[derive(Clone, Debug, PartialEq, Eq)]
    enum K {
        Data,
        Gap(u64),
        Depth,
        Diff,
    }
    type Ev = (K, usize, u64, Vec<u8>);

    fn rec(evs: &mut Vec<Ev>) -> impl FnMut(StreamEvent<'_>) + '_ {
        move |ev| {
            evs.push(match ev {
                StreamEvent::Data { dir, offset, data } => (K::Data, dir, offset, data.to_vec()),
                StreamEvent::Gap { dir, offset, len } => (K::Gap(len), dir, offset, vec![]),
                StreamEvent::DepthReached { dir } => (K::Depth, dir, 0, vec![]),
                StreamEvent::OverlapDifferentData { dir, offset } => (K::Diff, dir, offset, vec![]),
            })
        }
    }

    /// The bytes delivered in `dir`, checking that Data/Gap offsets tile the stream.
    fn stream(evs: &[Ev], dir: usize) -> Vec<u8> {
        let mut v = Vec::new();
        let mut at = 0u64;
        for (k, d, off, data) in evs {
            if *d != dir {
                continue;
            }
            match k {
                K::Data => {
                    assert_eq!(*off, at, "{evs:?}");
                    v.extend_from_slice(data);
                    at += data.len() as u64;
                }
                K::Gap(len) => {
                    assert_eq!(*off, at, "{evs:?}");
                    at += len;
                }
                _ => {}
            }
        }
        v
    }

    struct T {
        s: Streams,
        evs: Vec<Ev>,
    }
    impl T {
        fn new(cfg: StreamConfig) -> T {
            T { s: Streams::new(16, cfg), evs: Vec::new() }
        }
        fn seg(&mut self, dir: usize, seq: u32, flags: u8, p: &[u8]) {
            self.s.segment(0, dir, seq, flags, p, &mut rec(&mut self.evs));
        }
        fn close(&mut self) {
            self.s.close(0, &mut rec(&mut self.evs));
        }
        fn kinds(&self) -> Vec<K> {
            self.evs.iter().map(|e| e.0.clone()).collect()
        }
        fn pool_full(&self) -> bool {
            self.s.pool.nfree as usize == self.s.pool.link.len()
        }
    }

    #[test]
    fn in_order_with_syn() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 1000, SYN, b"");
        t.seg(1, 5000, SYN | ACK, b"");
        t.seg(0, 1001, ACK, b"GET / HTTP/1.1\r\n");
        t.seg(1, 5001, ACK, b"HTTP/1.1 200 OK\r\n");
        t.seg(0, 1017, ACK, b"\r\n");
        assert_eq!(stream(&t.evs, 0), b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(stream(&t.evs, 1), b"HTTP/1.1 200 OK\r\n");
        assert_eq!(t.evs[0], (K::Data, 0, 0, b"GET / HTTP/1.1\r\n".to_vec()));
        assert_eq!(t.evs[2], (K::Data, 0, 16, b"\r\n".to_vec()));
        let st = t.s.stats();
        assert_eq!((st.segments, st.in_order, st.bytes_delivered), (5, 3, 35));
        // A SYN carrying data: its payload starts right after the SYN's sequence number.
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 7, SYN, b"ab");
        t.seg(0, 10, ACK, b"cd");
        assert_eq!(stream(&t.evs, 0), b"abcd");
    }

    #[test]
    fn mid_stream_pickup() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 123_456, ACK, b"hello ");
        t.seg(1, 9, ACK, b"x");
        t.seg(0, 123_462, ACK, b"world");
        // Bytes from before the pickup point are old.
        t.seg(0, 123_450, ACK, b"before");
        assert_eq!(stream(&t.evs, 0), b"hello world");
        assert_eq!(stream(&t.evs, 1), b"x");
        assert_eq!(t.evs[0].2, 0);
        assert_eq!(t.s.stats().retransmitted, 1);
    }

    #[test]
    fn out_of_order_1_3_2() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 99, SYN, b"");
        t.seg(0, 100, ACK, b"one-");
        t.seg(0, 108, ACK, b"three");
        assert_eq!(stream(&t.evs, 0), b"one-");
        t.seg(0, 104, ACK, b"two-");
        assert_eq!(stream(&t.evs, 0), b"one-two-three");
        assert_eq!(t.kinds(), vec![K::Data, K::Data, K::Data]);
        let st = t.s.stats();
        assert_eq!((st.in_order, st.out_of_order, st.gaps), (2, 1, 0));
        assert!(t.pool_full());
    }

    #[test]
    fn retransmission_not_delivered_twice() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, SYN, b"");
        t.seg(0, 1, ACK, b"abcdef");
        t.seg(0, 1, ACK, b"abcdef");
        t.seg(0, 3, ACK, b"cdefgh"); // partly old
                                     // Delivered bytes win, even when the retransmission differs.
        t.seg(0, 1, ACK, b"XXXXXXXXi");
        assert_eq!(stream(&t.evs, 0), b"abcdefghi");
        let st = t.s.stats();
        assert_eq!((st.retransmitted, st.overlaps, st.overlap_different_data), (1, 2, 0));
    }

    #[test]
    fn overlap_with_buffered_first_wins() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, SYN, b"");
        t.seg(0, 5, ACK, b"EFGH"); // offsets 4..8, buffered
        t.seg(0, 3, ACK, b"cdXYZij"); // offsets 2..9: overlaps EFGH with different bytes
        assert_eq!(t.evs, vec![(K::Diff, 0, 4, vec![])]);
        t.seg(0, 1, ACK, b"ab");
        assert_eq!(stream(&t.evs, 0), b"abcdEFGHj");
        let st = t.s.stats();
        assert_eq!((st.overlaps, st.overlap_different_data), (1, 1));
        // Same bytes: an overlap, no event.
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, b"a");
        t.seg(0, 3, ACK, b"de");
        t.seg(0, 1, ACK, b"bcdef");
        assert_eq!(stream(&t.evs, 0), b"abcdef");
        assert!(!t.kinds().contains(&K::Diff));
        assert_eq!(t.s.stats().overlaps, 1);
    }

    #[test]
    fn in_order_segment_covering_buffered_ones() {
        // An in-order segment spanning two buffered segments: delivered in order, once.
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, b"0");
        t.seg(0, 3, ACK, b"34");
        t.seg(0, 7, ACK, b"7");
        t.seg(0, 1, ACK, b"123456789");
        assert_eq!(stream(&t.evs, 0), b"0123456789");
        assert!(t.pool_full());
    }

    #[test]
    fn sequence_wraps_around() {
        let mut t = T::new(StreamConfig::default());
        let isn = 0xFFFF_FFF0u32;
        t.seg(0, isn, SYN, b"");
        let data: Vec<u8> = (0u8..40).collect();
        // 0..10 in order, 25..40 (past the wrap) early, then 10..25 across it.
        t.seg(0, isn.wrapping_add(1), ACK, &data[..10]);
        t.seg(0, isn.wrapping_add(26), ACK, &data[25..]);
        t.seg(0, isn.wrapping_add(11), ACK, &data[10..25]);
        assert_eq!(stream(&t.evs, 0), data);
        // A retransmission from before the wrap is still old.
        t.seg(0, isn.wrapping_add(1), ACK, &data[..5]);
        assert_eq!(t.s.stats().retransmitted, 1);
        assert_eq!(t.evs.last().unwrap().2, 25);
    }

    #[test]
    fn rst_stops_delivery() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, SYN, b"");
        t.seg(0, 1, ACK, b"abc");
        t.seg(0, 4, RST, b"ignored");
        t.seg(0, 4, ACK, b"def");
        t.seg(1, 50, ACK, b"other side");
        assert_eq!(stream(&t.evs, 0), b"abc");
        assert_eq!(stream(&t.evs, 1), b"other side");
        // Buffered data is flushed, with its gap, by the RST.
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, b"ab");
        t.seg(0, 5, ACK, b"fg");
        t.seg(0, 7, RST | ACK, b"");
        assert_eq!(
            t.evs,
            vec![(K::Data, 0, 0, b"ab".to_vec()), (K::Gap(3), 0, 2, vec![]), (K::Data, 0, 5, b"fg".to_vec()),]
        );
        assert!(t.pool_full());
    }

    #[test]
    fn fin_then_data_ignored_and_half_close() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, SYN, b"");
        t.seg(1, 100, SYN | ACK, b"");
        t.seg(0, 1, ACK | FIN, b"bye");
        t.seg(0, 5, ACK, b"after fin");
        t.seg(0, 4, ACK, b"!"); // where the FIN was
                                // The other direction keeps sending after the half-close.
        t.seg(1, 101, ACK, b"still ");
        t.seg(1, 107, ACK, b"talking");
        t.seg(1, 114, ACK | FIN, b"");
        t.seg(1, 115, ACK, b"no");
        assert_eq!(stream(&t.evs, 0), b"bye");
        assert_eq!(stream(&t.evs, 1), b"still talking");
        // A FIN that arrives before missing data: the data before it is still delivered.
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, b"ab");
        t.seg(0, 4, ACK | FIN, b"ef");
        t.seg(0, 7, ACK, b"beyond");
        t.seg(0, 2, ACK, b"cd");
        assert_eq!(stream(&t.evs, 0), b"abcdef");
        t.seg(0, 6, ACK, b"zz");
        assert_eq!(stream(&t.evs, 0), b"abcdef");
        assert!(t.pool_full());
    }

    #[test]
    fn fin_truncates_buffered_data_beyond_it() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, b"a");
        t.seg(0, 5, ACK, b"fghij");
        t.seg(0, 3, ACK | FIN, b"de"); // FIN at offset 5: "fghij" is beyond it
        t.seg(0, 1, ACK, b"bc");
        assert_eq!(stream(&t.evs, 0), b"abcde");
        assert!(t.pool_full());
    }

    #[test]
    fn depth_limit() {
        let cfg = StreamConfig { depth: 10, ..StreamConfig::default() };
        let mut t = T::new(cfg);
        t.seg(0, 0, SYN, b"");
        t.seg(0, 1, ACK, b"0123");
        t.seg(0, 9, ACK, b"89abcdef"); // buffered, truncated past the depth
        t.seg(0, 5, ACK, b"4567");
        t.seg(0, 17, ACK, b"more");
        assert_eq!(stream(&t.evs, 0), b"0123456789");
        let depth_events = t.evs.iter().filter(|e| e.0 == K::Depth).count();
        assert_eq!(depth_events, 1);
        assert_eq!(t.evs.last().unwrap().0, K::Depth);
        let st = t.s.stats();
        assert_eq!((st.bytes_delivered, st.depth_reached, st.segments), (10, 1, 5));
        assert!(t.pool_full());
        // Exactly at the depth, in one segment, and in the other direction independently.
        let mut t = T::new(cfg);
        t.seg(1, 0, ACK, b"0123456789");
        t.seg(0, 0, ACK, b"abc");
        assert_eq!(t.kinds(), vec![K::Data, K::Depth, K::Data], "{:?}", t.evs);
    }

    #[test]
    fn gap_when_ooo_bound_exceeded() {
        let cfg = StreamConfig { max_ooo_segments: 2, ..StreamConfig::default() };
        let mut t = T::new(cfg);
        t.seg(0, 0, SYN, b"");
        t.seg(0, 1, ACK, b"aa"); // 0..2
        t.seg(0, 5, ACK, b"ee"); // 4..6 buffered
        t.seg(0, 9, ACK, b"ii"); // 8..10 buffered
        assert_eq!(t.evs.len(), 1);
        t.seg(0, 13, ACK, b"mm"); // 12..14: no room -> gap 2..4, deliver 4..6, buffer
        assert_eq!(t.evs[1..], vec![(K::Gap(2), 0, 2, vec![]), (K::Data, 0, 4, b"ee".to_vec())]);
        t.seg(0, 7, ACK, b"gg"); // 6..8: delivered with 8..10; 10..12 still missing
        t.seg(0, 11, ACK, b"kk");
        assert_eq!(
            t.evs[3..],
            vec![
                (K::Data, 0, 6, b"gg".to_vec()),
                (K::Data, 0, 8, b"ii".to_vec()),
                (K::Data, 0, 10, b"kk".to_vec()),
                (K::Data, 0, 12, b"mm".to_vec()),
            ]
        );
        let st = t.s.stats();
        assert_eq!((st.gaps, st.ooo_dropped, st.pool_exhausted), (1, 1, 0));
        // A segment larger than the byte bound on its own: gap up to it, then delivered.
        let cfg = StreamConfig { max_ooo_bytes: 4, ..StreamConfig::default() };
        let mut t = T::new(cfg);
        t.seg(0, 0, ACK, b"a");
        t.seg(0, 3, ACK, b"defgh");
        assert_eq!(t.evs[1..], vec![(K::Gap(2), 0, 1, vec![]), (K::Data, 0, 3, b"defgh".to_vec())]);
    }

    #[test]
    fn close_flushes_after_gap() {
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, SYN, b"");
        t.seg(1, 500, SYN | ACK, b"");
        t.seg(0, 1, ACK, b"ab");
        t.seg(0, 6, ACK, b"fg"); // 5..7
        t.seg(0, 10, ACK, b"jk"); // 9..11
        t.seg(1, 504, ACK, b"xyz"); // 3..6 of the other direction
        t.close();
        assert_eq!(
            t.evs[1..],
            vec![
                (K::Gap(3), 0, 2, vec![]),
                (K::Data, 0, 5, b"fg".to_vec()),
                (K::Gap(2), 0, 7, vec![]),
                (K::Data, 0, 9, b"jk".to_vec()),
                (K::Gap(3), 1, 0, vec![]),
                (K::Data, 1, 3, b"xyz".to_vec()),
            ]
        );
        assert!(t.pool_full());
        // The index is a fresh stream afterwards.
        t.evs.clear();
        t.seg(0, 77, ACK, b"new");
        assert_eq!(t.evs, vec![(K::Data, 0, 0, b"new".to_vec())]);
    }

    #[test]
    fn pool_exhaustion_counted() {
        let cfg = StreamConfig { pool_bytes: 2 * CHUNK as u32, ..StreamConfig::default() };
        let mut t = T::new(cfg);
        t.seg(0, 0, ACK, b"a");
        t.seg(0, 2, ACK, b"c"); // chunk 1
        t.seg(0, 4, ACK, b"e"); // chunk 2
        t.seg(0, 6, ACK, b"g"); // pool empty: gap 1..2, deliver c, buffer g
        let big = vec![7u8; 3 * CHUNK];
        t.seg(0, 100, ACK, &big); // never fits: gaps up to it, delivered directly
        let st = t.s.stats();
        assert_eq!((st.ooo_dropped, st.pool_exhausted), (2, 2));
        let v = stream(&t.evs, 0);
        assert_eq!(&v[..4], b"aceg");
        assert_eq!(v.len(), 4 + 3 * CHUNK);
        // Another flow can still buffer once this one let go.
        t.s.reset(0);
        assert!(t.pool_full());
        // A pool smaller than one chunk: everything out of order becomes a gap, no panic.
        let mut t = T::new(StreamConfig { pool_bytes: 100, ..StreamConfig::default() });
        t.seg(0, 0, ACK, b"a");
        t.seg(0, 2, ACK, b"c");
        assert_eq!(stream(&t.evs, 0), b"ac");
        assert_eq!(t.s.stats().pool_exhausted, 1);
    }

    #[test]
    fn multi_chunk_segments() {
        let data: Vec<u8> = (0..5 * CHUNK + 123).map(|i| (i * 7 % 251) as u8).collect();
        let mut t = T::new(StreamConfig::default());
        t.seg(0, 0, ACK, &data[..10]);
        t.seg(0, 3000, ACK, &data[3000..]);
        t.seg(0, 2000, ACK, &data[2000..3500]); // overlaps the buffered one, same bytes
        t.seg(0, 10, ACK, &data[10..2000]);
        assert_eq!(stream(&t.evs, 0), data);
        assert!(!t.kinds().contains(&K::Diff));
        assert!(t.pool_full());
    }

    #[test]
    fn out_of_range_index_and_dir_are_harmless() {
        let mut s = Streams::new(4, StreamConfig::default());
        let cap = s.dirs.capacity();
        let mut n = 0;
        s.segment(4, 0, 0, ACK, b"x", &mut |_| n += 1);
        s.segment(u32::MAX, 0, 0, ACK, b"x", &mut |_| n += 1);
        s.close(9, &mut |_| n += 1);
        s.reset(9);
        s.segment(3, 7, 0, ACK, b"x", &mut |_| n += 1);
        assert_eq!(n, 1);
        assert_eq!(s.dirs.capacity(), cap);
    }

    #[test]
    fn direction_state_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Dir>(), 32);
    }

    #[test]
    fn config_defaults_and_serde() {
        let c: StreamConfig = toml::from_str("depth = 42").unwrap();
        assert_eq!(c.depth, 42);
        assert_eq!(c.max_ooo_segments, 32);
        assert_eq!(c.max_ooo_bytes, 256 << 10);
        assert_eq!(c.pool_bytes, 32 << 20);
        assert!(toml::from_str::<StreamConfig>("deep = 1").is_err());
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The byte a sender puts at sequence number `seq` (so every copy of it is the same).
    fn pattern(seq: u32) -> u8 {
        (seq.wrapping_mul(2_654_435_761) >> 24) as u8
    }

    fn random_run(cfg: StreamConfig, seed: u64) -> StreamStats {
        const FLOWS: usize = 50;
        let mut rng = Rng(seed);
        let mut s = Streams::new(FLOWS as u32, cfg);
        // Per flow and direction: the sender's isn and position, the stream start (seq of
        // offset 0), the next expected event offset, whether depth was reported.
        #[derive(Clone, Copy, Default)]
        struct M {
            isn: u32,
            pos: u32,
            start: Option<u32>,
            at: u64,
            ended: bool,
        }
        let mut m = [[M::default(); 2]; FLOWS];
        let mut buf = vec![0u8; 3 * CHUNK];
        for f in m.iter_mut().flatten() {
            f.isn = rng.next() as u32;
        }
        let check = |m: &mut [[M; 2]; FLOWS], idx: usize, ev: StreamEvent<'_>| {
            let (dir, off, len, data) = match ev {
                StreamEvent::Data { dir, offset, data } => (dir, offset, data.len() as u64, data),
                StreamEvent::Gap { dir, offset, len } => (dir, offset, len, &[][..]),
                StreamEvent::DepthReached { dir } => {
                    let x = &mut m[idx][dir];
                    assert!(!x.ended);
                    x.ended = true;
                    return;
                }
                StreamEvent::OverlapDifferentData { .. } => panic!("identical copies differ"),
            };
            let x = &mut m[idx][dir];
            assert!(!x.ended, "event after DepthReached");
            assert_eq!(off, x.at, "offsets must tile the stream");
            assert!(len > 0);
            assert!(off + len <= cfg.depth);
            let start = x.start.unwrap();
            for (i, b) in data.iter().enumerate() {
                assert_eq!(*b, pattern(start.wrapping_add((off + i as u64) as u32)));
            }
            x.at += len;
        };
        for _ in 0..100_000 {
            let idx = rng.below(FLOWS as u64) as usize;
            let r = rng.below(1000);
            if r < 3 {
                s.reset(idx as u32);
                for x in m[idx].iter_mut() {
                    *x = M { isn: rng.next() as u32, ..M::default() };
                }
                continue;
            }
            if r < 6 {
                s.close(idx as u32, &mut |ev| check(&mut m, idx, ev));
                for x in m[idx].iter_mut() {
                    *x = M { isn: rng.next() as u32, ..M::default() };
                }
                continue;
            }
            let dir = rng.below(2) as usize;
            let x = m[idx][dir];
            let mut flags = ACK;
            let fr = rng.below(100);
            if fr < 4 {
                flags |= SYN;
            } else if fr < 7 {
                flags |= FIN;
            } else if fr < 8 {
                flags = RST;
            } else if fr < 10 {
                flags = rng.next() as u8;
            }
            let len = match rng.below(10) {
                0 => 0,
                1..=6 => rng.below(1500) as usize,
                7 => rng.below(3 * CHUNK as u64) as usize,
                _ => rng.below(40) as usize,
            };
            let seq = match rng.below(20) {
                0 => rng.next() as u32,
                1..=3 => x.isn,
                _ => x.isn.wrapping_add(x.pos).wrapping_add(rng.below(6000) as u32).wrapping_sub(3000),
            };
            let data_seq = if flags & SYN != 0 { seq.wrapping_add(1) } else { seq };
            for (i, b) in buf[..len].iter_mut().enumerate() {
                *b = pattern(data_seq.wrapping_add(i as u32));
            }
            if m[idx][dir].start.is_none() {
                m[idx][dir].start = Some(data_seq);
            }
            s.segment(idx as u32, dir, seq, flags, &buf[..len], &mut |ev| check(&mut m, idx, ev));
            let adv = rng.below(1600) as u32;
            m[idx][dir].pos = x.pos.wrapping_add(adv);
        }
        for idx in 0..FLOWS {
            s.close(idx as u32, &mut |ev| check(&mut m, idx, ev));
        }
        assert_eq!(s.pool.nfree as usize, s.pool.link.len(), "pool chunks leaked");
        assert!(s.dirs.iter().flatten().all(|d| d.head == NIL && d.nsegs == 0));
        s.stats()
    }

    #[test]
    fn random_segments_never_panic_and_keep_offsets() {
        let st = random_run(StreamConfig::default(), 0x9E37_79B9_7F4A_7C15);
        assert!(st.segments > 90_000);
        assert!(st.out_of_order > 0 && st.gaps > 0 && st.overlaps > 0);
        let tight =
            StreamConfig { depth: 20_000, max_ooo_segments: 4, max_ooo_bytes: 5000, pool_bytes: 16 * CHUNK as u32 };
        let st = random_run(tight, 12345);
        assert!(st.pool_exhausted > 0 && st.ooo_dropped > 0 && st.depth_reached > 0);
    }
}
