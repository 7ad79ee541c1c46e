//! Single-producer/single-consumer rings of mbufs (`rte_ring` with SP/SC flags), split into
//! a producer and a consumer half so the type system keeps each end on one thread.
use super::{Burst, DpdkError, BURST_SIZE};
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

struct RingInner {
    raw: NonNull<dpdk_sys::rte_ring>,
}

// SAFETY: rte_ring is built for cross-lcore use; the SP/SC halves below never share an end.
unsafe impl Send for RingInner {}
// SAFETY: as above.
unsafe impl Sync for RingInner {}

/// Frees the mbufs still queued in `raw`, then the ring itself.
///
/// # Safety
/// No other thread may use the ring, now or later.
unsafe fn drain_and_free(raw: NonNull<dpdk_sys::rte_ring>) {
    let mut b = Burst::new();
    loop {
        // SAFETY: the caller guarantees exclusive use; up to BURST_SIZE pointers fit in b.
        let n = unsafe {
            dpdk_sys::vigil_ring_sc_dequeue_burst(
                raw.as_ptr(),
                b.ptrs.as_mut_ptr() as *mut *mut _,
                BURST_SIZE as u32,
                std::ptr::null_mut(),
            )
        };
        if n == 0 {
            break;
        }
        b.len = n as usize;
        b.free_all();
    }
    // SAFETY: exclusive use (caller), and the ring is empty.
    unsafe { dpdk_sys::rte_ring_free(raw.as_ptr()) };
}

impl Drop for RingInner {
    fn drop(&mut self) {
        // SAFETY: both halves are gone (this is the last Arc), so no thread uses the ring.
        unsafe { drain_and_free(self.raw) };
    }
}

/// The enqueue end.
pub struct RingProducer {
    inner: Arc<RingInner>,
}
/// The dequeue end.
pub struct RingConsumer {
    inner: Arc<RingInner>,
}

/// Creates a ring of `size` slots (a power of two; one slot stays empty).
pub fn ring_pair(name: &str, size: u32) -> Result<(RingProducer, RingConsumer), DpdkError> {
    let cname = CString::new(name).map_err(|_| DpdkError {
        op: "rte_ring_create".into(),
        code: 22,
        reason: "ring name has a NUL byte".into(),
    })?;
    let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;
    // SAFETY: valid name; EAL is up.
    let p =
        unsafe { dpdk_sys::rte_ring_create(cname.as_ptr(), size.next_power_of_two(), dpdk_sys::SOCKET_ID_ANY, flags) };
    let raw = NonNull::new(p).ok_or_else(|| DpdkError::from_errno(format!("rte_ring_create({name}, {size})")))?;
    let inner = Arc::new(RingInner { raw });
    Ok((RingProducer { inner: inner.clone() }, RingConsumer { inner }))
}

impl RingProducer {
    /// Moves as many mbufs of `burst` as fit into the ring; the rest stay in the burst.
    #[inline]
    pub fn enqueue(&mut self, burst: &mut Burst) -> usize {
        if burst.len == 0 {
            return 0;
        }
        // SAFETY: single producer (we hold &mut self of the only producer); the ring takes
        // ownership of the first n pointers.
        let n = unsafe {
            dpdk_sys::vigil_ring_sp_enqueue_burst(
                self.inner.raw.as_ptr(),
                burst.ptrs.as_ptr() as *const *mut _,
                burst.len as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.consume_front(n);
        n
    }
}

impl RingConsumer {
    /// Fills the free room of `burst` from the ring; returns how many were taken.
    #[inline]
    pub fn dequeue(&mut self, burst: &mut Burst) -> usize {
        let room = BURST_SIZE - burst.len;
        if room == 0 {
            return 0;
        }
        // SAFETY: single consumer; room pointers fit in ptrs[len..].
        let n = unsafe {
            dpdk_sys::vigil_ring_sc_dequeue_burst(
                self.inner.raw.as_ptr(),
                burst.ptrs.as_mut_ptr().add(burst.len) as *mut *mut _,
                room as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.len += n;
        n
    }

    pub fn count(&self) -> u32 {
        // SAFETY: read-only count.
        unsafe { dpdk_sys::vigil_ring_count(self.inner.raw.as_ptr()) }
    }
}

/// A multi-producer/multi-consumer ring used as the backing store of `net_ring` ports
/// (benchmarks, tests): packets enqueued here are what the ports' rx queues return.
/// Drop it only after the ports made from it are dropped.
pub struct MpmcRing {
    raw: NonNull<dpdk_sys::rte_ring>,
}

// SAFETY: an MP/MC rte_ring is safe to use from any number of threads.
unsafe impl Send for MpmcRing {}
// SAFETY: as above.
unsafe impl Sync for MpmcRing {}

impl MpmcRing {
    pub fn new(name: &str, size: u32) -> Result<MpmcRing, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError {
            op: "rte_ring_create".into(),
            code: 22,
            reason: "ring name has a NUL byte".into(),
        })?;
        // SAFETY: valid name; EAL is up; flags 0 = MP/MC.
        let p =
            unsafe { dpdk_sys::rte_ring_create(cname.as_ptr(), size.next_power_of_two(), dpdk_sys::SOCKET_ID_ANY, 0) };
        let raw = NonNull::new(p).ok_or_else(|| DpdkError::from_errno(format!("rte_ring_create({name}, {size})")))?;
        Ok(MpmcRing { raw })
    }

    /// Moves as many mbufs of `burst` as fit into the ring.
    pub fn enqueue(&self, burst: &mut Burst) -> usize {
        // SAFETY: MP enqueue; the ring takes ownership of the first n pointers.
        let n = unsafe {
            dpdk_sys::vigil_ring_enqueue_burst(
                self.raw.as_ptr(),
                burst.ptrs.as_ptr() as *const *mut _,
                burst.len as u32,
            )
        } as usize;
        burst.consume_front(n);
        n
    }

    pub fn count(&self) -> u32 {
        // SAFETY: read-only count.
        unsafe { dpdk_sys::vigil_ring_count(self.raw.as_ptr()) }
    }

    /// Creates an ethdev port named `name` whose rx and tx queue 0 both use this ring.
    pub fn make_port(&self, name: &str) -> Result<super::PortId, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError {
            op: "rte_eth_from_rings".into(),
            code: 22,
            reason: "port name has a NUL byte".into(),
        })?;
        let mut rings = [self.raw.as_ptr()];
        // SAFETY: one rx and one tx ring, both this live ring; the port keeps the pointers,
        // so the ring must outlive the port (documented on the type).
        let ret =
            unsafe { dpdk_sys::rte_eth_from_rings(cname.as_ptr(), rings.as_mut_ptr(), 1, rings.as_mut_ptr(), 1, 0) };
        if ret < 0 {
            return Err(DpdkError::from_ret(format!("rte_eth_from_rings({name})"), ret));
        }
        Ok(super::PortId(ret as u16))
    }
}

impl Drop for MpmcRing {
    fn drop(&mut self) {
        // SAFETY: no port uses the ring any more (the type's contract).
        unsafe { drain_and_free(self.raw) };
    }
}
