//! Memory hints for the per-worker tables: a cache prefetch and transparent huge pages.
//!
//! The one module besides `dpdk` with `unsafe` code, kept here rather than there because
//! the flow table must build without DPDK (fuzzing, benchmarks). Neither function reads or
//! writes memory through its pointer: a prefetch is a hint that cannot fault, and
//! `madvise(MADV_HUGEPAGE)` only changes how the kernel backs pages of a mapping we own.

/// Asks the CPU to bring the cache line holding `*p` into L1. Never faults.
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 takes any address and cannot fault; `p` is a valid reference anyway.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const T as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks the kernel to back `bytes` bytes from `start` with transparent huge pages (a large
/// table then costs far fewer TLB misses). Best effort: the result is ignored.
pub fn advise_hugepages<T>(start: *const T, bytes: usize) {
    const HUGE: usize = 2 << 20;
    let begin = start as usize;
    let aligned = begin.next_multiple_of(HUGE);
    let end = begin.saturating_add(bytes) & !(HUGE - 1);
    if end <= aligned {
        return;
    }
    // SAFETY: the range lies inside an allocation the caller owns (a Vec's reserved
    // capacity); MADV_HUGEPAGE does not change its contents or validity.
    unsafe { libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE) };
}
