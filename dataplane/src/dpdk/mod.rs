//! Safe, owning wrappers over DPDK: the only module of the dataplane with `unsafe` code.
//!
//! Everything DPDK hands out is owned by a Rust value that gives it back in `Drop`: [`Eal`]
//! cleans the EAL up, [`Mempool`] frees the pool, [`Port`] stops and closes the device, an
//! [`Mbuf`] returns to its pool, a [`Burst`] frees whatever it still holds. Negative return
//! codes and null pointers become a [`DpdkError`] that names the call and the reason
//! (`rte_strerror`). Ids are newtypes whose `Debug` reads like DPDK's own logs (`port0`,
//! `lcore3`).
//!
//! Invariant: every mbuf that reaches Rust comes from a pool made by [`Mempool::new`], whose
//! private area is at least `size_of::<PktMeta>()` bytes, so [`Mbuf::meta`] is always in bounds.

mod eal;
mod mbuf;
mod mempool;
mod port;
mod ring;

pub use eal::{Eal, LcoreId};
pub use mbuf::{Burst, BurstDrain, Mbuf, BURST_SIZE};
pub use mempool::Mempool;
pub use port::{Port, PortConfig, PortId, PortStats};
pub use ring::{ring_pair, MpmcRing, RingConsumer, RingProducer};

use std::ffi::CStr;

/// A DPDK call that failed: which call, what for, and DPDK's own reason.
#[derive(Debug, thiserror::Error)]
#[error("{op} failed: {reason} (errno {code})")]
pub struct DpdkError {
    pub op: String,
    pub code: i32,
    pub reason: String,
}

impl DpdkError {
    /// Builds the error from a negative return code, or from `rte_errno` when `ret` is not one.
    pub(crate) fn from_ret(op: impl Into<String>, ret: i32) -> Self {
        let code = if ret < 0 { -ret } else { errno() };
        DpdkError { op: op.into(), code, reason: strerror(code) }
    }
    /// Builds the error from the current `rte_errno` (after a call returned NULL).
    pub(crate) fn from_errno(op: impl Into<String>) -> Self {
        let code = errno();
        DpdkError { op: op.into(), code, reason: strerror(code) }
    }
}

pub(crate) fn errno() -> i32 {
    // SAFETY: reads the calling thread's per-lcore rte_errno; no preconditions.
    unsafe { dpdk_sys::vigil_errno() }
}

fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    let p = unsafe { dpdk_sys::rte_strerror(code) };
    if p.is_null() {
        return format!("error {code}");
    }
    // SAFETY: p is non-null and NUL-terminated (see above); it is copied before returning.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The TSC, for cheap per-burst timestamps.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: reads the time-stamp counter; no memory is touched.
    unsafe { dpdk_sys::vigil_rdtsc() }
}

/// TSC ticks per second, as EAL calibrated them.
pub fn tsc_hz() -> u64 {
    // SAFETY: valid after rte_eal_init; returns a plain integer.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// A spin-wait hint for polling loops.
#[inline(always)]
pub fn pause() {
    // SAFETY: the PAUSE instruction; no memory is touched.
    unsafe { dpdk_sys::vigil_pause() }
}
