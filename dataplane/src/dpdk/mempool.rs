//! Packet-buffer pools. A pool is thread-safe (per-lcore caches); it is shared by `Arc`.
use super::{DpdkError, Mbuf};
use std::ffi::CString;
use std::ptr::NonNull;

/// A pool of mbufs with a private area for per-packet metadata.
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
    name: String,
    size: u32,
}

// SAFETY: rte_mempool is designed for concurrent get/put from many lcores.
unsafe impl Send for Mempool {}
// SAFETY: as above; &Mempool only exposes thread-safe operations.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs of `data_room` bytes (headroom included), each with a
    /// private area of `priv_size` bytes (a multiple of 8).
    pub fn new(name: &str, n: u32, cache: u32, priv_size: u16, data_room: u16) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError {
            op: "rte_pktmbuf_pool_create".into(),
            code: 22,
            reason: "pool name has a NUL byte".into(),
        })?;
        let priv_size = (priv_size + 7) & !7;
        // SAFETY: cname is a valid C string for the call; EAL is up (callers hold an Eal).
        let p = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, priv_size, data_room, dpdk_sys::SOCKET_ID_ANY)
        };
        match NonNull::new(p) {
            Some(raw) => Ok(Mempool { raw, name: name.to_owned(), size: n }),
            None => {
                Err(DpdkError::from_errno(format!("rte_pktmbuf_pool_create({name}, {n} mbufs of {data_room} bytes)")))
            }
        }
    }

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn size(&self) -> u32 {
        self.size
    }
    /// Free mbufs right now (approximate while lcores run).
    pub fn available(&self) -> u32 {
        // SAFETY: read-only query on a live pool.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// One mbuf, reset, or `None` when the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is live; a non-null result is a fresh mbuf we now own.
        let m = unsafe { dpdk_sys::vigil_pktmbuf_alloc(self.raw.as_ptr()) };
        NonNull::new(m).map(Mbuf::from_raw)
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the owner drops the pool only after every port and ring using it is gone
        // and every mbuf has been returned (pipeline teardown order).
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) };
    }
}
