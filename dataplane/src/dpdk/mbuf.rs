//! Packet buffers: [`Mbuf`] owns one mbuf (chain) and frees it on drop; [`Burst`] owns up to
//! [`BURST_SIZE`] of them, as rx/tx bursts and ring transfers use them.
use crate::meta::PktMeta;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;

/// Packets moved per rx/tx/ring call.
pub const BURST_SIZE: usize = 32;

/// An owned mbuf (possibly the head of a chain). `Send`, not `Sync`.
#[repr(transparent)]
pub struct Mbuf {
    raw: NonNull<dpdk_sys::rte_mbuf>,
}

// SAFETY: an mbuf is a plain buffer owned by one thread at a time; moving it is how DPDK
// hands packets between lcores.
unsafe impl Send for Mbuf {}

impl Mbuf {
    pub(crate) fn from_raw(raw: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }
    pub(crate) fn into_raw(self) -> *mut dpdk_sys::rte_mbuf {
        ManuallyDrop::new(self).raw.as_ptr()
    }

    /// The first segment's bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        // SAFETY: mtod points at data_len initialised bytes inside the mbuf, which we own
        // for the lifetime of &self.
        unsafe {
            let p = dpdk_sys::vigil_pktmbuf_mtod(self.raw.as_ptr());
            let n = dpdk_sys::vigil_pktmbuf_data_len(self.raw.as_ptr());
            std::slice::from_raw_parts(p, n as usize)
        }
    }

    /// The first segment's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, with exclusive access through &mut self.
        unsafe {
            let p = dpdk_sys::vigil_pktmbuf_mtod(self.raw.as_ptr());
            let n = dpdk_sys::vigil_pktmbuf_data_len(self.raw.as_ptr());
            std::slice::from_raw_parts_mut(p, n as usize)
        }
    }

    /// Total length over all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: reads a header field of an mbuf we own.
        unsafe { dpdk_sys::vigil_pktmbuf_pkt_len(self.raw.as_ptr()) }
    }

    #[inline]
    pub fn is_contiguous(&self) -> bool {
        // SAFETY: reads a header field of an mbuf we own.
        unsafe { dpdk_sys::vigil_pktmbuf_nb_segs(self.raw.as_ptr()) == 1 }
    }

    /// The whole packet as one slice: the first segment itself when the mbuf is not chained,
    /// otherwise the segments copied into `scratch` (truncated to its length).
    pub fn bytes<'a>(&'a self, scratch: &'a mut [u8]) -> &'a [u8] {
        if self.is_contiguous() {
            return self.data();
        }
        let mut off = 0usize;
        let mut seg = self.raw.as_ptr();
        while !seg.is_null() && off < scratch.len() {
            // SAFETY: seg is a segment of the chain we own; its data is data_len bytes.
            let part = unsafe {
                std::slice::from_raw_parts(
                    dpdk_sys::vigil_pktmbuf_mtod(seg),
                    dpdk_sys::vigil_pktmbuf_data_len(seg) as usize,
                )
            };
            let n = part.len().min(scratch.len() - off);
            if let (Some(dst), Some(src)) = (scratch.get_mut(off..off + n), part.get(..n)) {
                dst.copy_from_slice(src);
            }
            off += n;
            // SAFETY: reads the next pointer of a segment we own.
            seg = unsafe { dpdk_sys::vigil_pktmbuf_next(seg) };
        }
        scratch.get(..off).unwrap_or_default()
    }

    /// Appends `src` at the end of this (single-segment) mbuf; false when it does not fit.
    pub fn append(&mut self, src: &[u8]) -> bool {
        let Ok(n) = u16::try_from(src.len()) else {
            return false;
        };
        // SAFETY: append returns room for n bytes inside the mbuf or NULL.
        let p = unsafe { dpdk_sys::vigil_pktmbuf_append(self.raw.as_ptr(), n) };
        if p.is_null() {
            return false;
        }
        // SAFETY: p has n writable bytes that do not overlap src (src is not in this mbuf).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
        true
    }

    /// Appends `tail` as further segments of this chain.
    pub fn chain(&mut self, tail: Mbuf) -> bool {
        let t = tail.into_raw();
        // SAFETY: both are mbufs we own; on success the chain owns tail.
        let ret = unsafe { dpdk_sys::vigil_pktmbuf_chain(self.raw.as_ptr(), t) };
        if ret != 0 {
            // SAFETY: chaining failed, so t is still ours alone.
            unsafe { dpdk_sys::vigil_pktmbuf_free(t) };
            return false;
        }
        true
    }

    /// Bytes still free at the end of the first segment.
    pub fn tailroom(&self) -> usize {
        // SAFETY: reads header fields of an mbuf we own.
        unsafe { dpdk_sys::vigil_pktmbuf_tailroom(self.raw.as_ptr()) as usize }
    }

    /// The per-packet metadata in the mbuf's private area.
    #[inline]
    pub fn meta(&self) -> &PktMeta {
        // SAFETY: module invariant: every mbuf comes from a pool whose private area holds a
        // PktMeta (checked in Mempool creation by the pipeline); the area is 8-aligned and
        // PktMeta is plain old data valid for any bit pattern.
        unsafe { &*(dpdk_sys::vigil_mbuf_to_priv(self.raw.as_ptr()) as *const PktMeta) }
    }

    #[inline]
    pub fn meta_mut(&mut self) -> &mut PktMeta {
        // SAFETY: as in `meta`; &mut self gives exclusive access.
        unsafe { &mut *(dpdk_sys::vigil_mbuf_to_priv(self.raw.as_ptr()) as *mut PktMeta) }
    }

    /// Private area size of this mbuf's pool.
    pub fn priv_size(&self) -> usize {
        // SAFETY: reads a header field of an mbuf we own.
        unsafe { dpdk_sys::vigil_mbuf_priv_size(self.raw.as_ptr()) as usize }
    }

    /// Prefetches the mbuf's header and its private area (`PktMeta`): the lines another
    /// core wrote last, so their first read is a cross-core miss.
    #[inline]
    pub fn prefetch_header(&self) {
        // SAFETY: prefetches are hints and cannot fault; to_priv computes an address inside
        // the mbuf we own.
        unsafe {
            dpdk_sys::vigil_prefetch0(self.raw.as_ptr() as *const _);
            dpdk_sys::vigil_prefetch0(dpdk_sys::vigil_mbuf_to_priv(self.raw.as_ptr()) as *const _);
        }
    }

    #[inline]
    pub fn prefetch(&self) {
        // SAFETY: prefetch is a hint; any address is allowed.
        unsafe { dpdk_sys::vigil_prefetch0(dpdk_sys::vigil_pktmbuf_mtod(self.raw.as_ptr()) as *const _) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (chain); it goes back to its pool exactly once.
        unsafe { dpdk_sys::vigil_pktmbuf_free(self.raw.as_ptr()) }
    }
}

/// Up to [`BURST_SIZE`] owned mbufs. Whatever it holds when dropped is freed in bulk.
pub struct Burst {
    pub(crate) ptrs: [*mut dpdk_sys::rte_mbuf; BURST_SIZE],
    pub(crate) len: usize,
}

// SAFETY: a Burst owns its mbufs like a Vec<Mbuf> would.
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub const fn new() -> Burst {
        Burst { ptrs: [std::ptr::null_mut(); BURST_SIZE], len: 0 }
    }
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST_SIZE
    }

    /// The held mbufs, as owned values borrowed in place.
    #[inline]
    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: Mbuf is repr(transparent) over a non-null pointer and the first len
        // entries are non-null owned mbufs.
        unsafe { std::slice::from_raw_parts(self.ptrs.as_ptr() as *const Mbuf, self.len) }
    }
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: as in as_slice, with exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptrs.as_mut_ptr() as *mut Mbuf, self.len) }
    }

    /// Adds an mbuf; gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST_SIZE {
            return Err(m);
        }
        if let Some(slot) = self.ptrs.get_mut(self.len) {
            *slot = m.into_raw();
            self.len += 1;
        }
        Ok(())
    }

    /// Takes every held mbuf out, in arrival order; the burst is empty afterwards.
    /// Mbufs the iterator does not yield are freed when it is dropped.
    #[inline]
    pub fn drain(&mut self) -> BurstDrain {
        let d = BurstDrain { ptrs: self.ptrs, next: 0, len: self.len };
        self.len = 0;
        d
    }

    /// Drops the first `n` entries from the burst without freeing them (they were handed to
    /// DPDK, which now owns them), shifting the rest down.
    pub(crate) fn consume_front(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ptrs.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Frees every held mbuf in one call.
    #[inline]
    pub fn free_all(&mut self) {
        if self.len > 0 {
            // SAFETY: the first len pointers are owned mbufs; after the call none are held.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.ptrs.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }
}

/// In-order owning iterator over a burst's mbufs (see [`Burst::drain`]).
pub struct BurstDrain {
    ptrs: [*mut dpdk_sys::rte_mbuf; BURST_SIZE],
    next: usize,
    len: usize,
}

impl Iterator for BurstDrain {
    type Item = Mbuf;
    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.next >= self.len {
            return None;
        }
        let p = self.ptrs.get(self.next).copied().unwrap_or(std::ptr::null_mut());
        self.next += 1;
        NonNull::new(p).map(Mbuf::from_raw)
    }
}

impl Drop for BurstDrain {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.free_all();
    }
}
