//! Wall-clock nanoseconds from the TSC: one `rdtsc` per burst, no system call.
use crate::dpdk;

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    tsc0: u64,
    ns0: u64,
    /// Nanoseconds per TSC tick, as a 32.32 fixed-point multiplier.
    mult: u64,
}

impl Clock {
    pub fn new() -> Clock {
        let hz = dpdk::tsc_hz().max(1);
        Clock { tsc0: dpdk::rdtsc(), ns0: super::wall_ns(), mult: ((1_000_000_000u128 << 32) / hz as u128) as u64 }
    }
    #[inline]
    pub fn now_ns(&self) -> u64 {
        let dt = dpdk::rdtsc().wrapping_sub(self.tsc0);
        self.ns0 + ((dt as u128 * self.mult as u128) >> 32) as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
