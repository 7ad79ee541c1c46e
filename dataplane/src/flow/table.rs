//! The per-worker flow table: a preallocated slab of [`Flow`]s and a power-of-two bucket
//! array of chain heads linked by `u32` indices.
//!
//! Nothing here allocates after [`FlowTable::new`]: the slab and the free list are reserved
//! up front (pages are touched only as flows are created, so RSS follows use and never
//! exceeds the configured capacity). Lookup is O(1) expected, and a packet costs a lookup
//! and an update of its flow, nothing more: no list is relinked per packet.
//!
//! Timeouts, as Suricata's flow manager does them: [`FlowTable::expire`] sweeps a bounded
//! number of slots per call from a cursor, so every flow is checked once per sweep, and a
//! lookup that finds a flow already past its timeout ends it and starts a new one (so a
//! reused 5-tuple never joins a dead flow). When the table is full, a new flow evicts the
//! idlest of the non-established flows among the next slots of a rotating hand (the first
//! 8 when one of them qualifies, else up to [`EVICT_SCAN`]) (closed first, then new TCP, then one-way UDP and other); if there is
//! none, the new flow is refused and counted: flows that were tracked keep being tracked
//! under a flood.
use super::{EndReason, Flow, FlowKey, TcpState, TO_CLIENT, TO_SERVER};
use crate::wire::{ip_proto, Decoded};

const NIL: u32 = u32::MAX;
/// Slots looked at for a victim when the table is full.
pub const EVICT_SCAN: usize = 64;
/// Slots after which the best candidate found so far is taken.
const EVICT_FIRST: u32 = 8;

/// Timeout classes (index into the timeouts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    TcpNew = 0,
    TcpEstablished = 1,
    TcpClosed = 2,
    UdpNew = 3,
    UdpEstablished = 4,
    OtherNew = 5,
    OtherEstablished = 6,
}
const CLASSES: usize = 7;

impl Class {
    /// Eviction preference (lower goes first); `None`: established, never evicted.
    fn evict_rank(self) -> Option<u8> {
        match self {
            Class::TcpClosed => Some(0),
            Class::TcpNew => Some(1),
            Class::UdpNew | Class::OtherNew => Some(2),
            _ => None,
        }
    }
}

/// Per-state idle timeouts, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    pub tcp_new: u32,
    pub tcp_established: u32,
    pub tcp_closed: u32,
    pub udp_new: u32,
    pub udp_established: u32,
    pub other_new: u32,
    pub other_established: u32,
}

impl Default for Timeouts {
    /// Suricata's defaults.
    fn default() -> Self {
        Timeouts {
            tcp_new: 60,
            tcp_established: 600,
            tcp_closed: 60,
            udp_new: 30,
            udp_established: 300,
            other_new: 30,
            other_established: 300,
        }
    }
}

impl Timeouts {
    fn ns(&self) -> [u64; CLASSES] {
        [
            self.tcp_new,
            self.tcp_established,
            self.tcp_closed,
            self.udp_new,
            self.udp_established,
            self.other_new,
            self.other_established,
        ]
        .map(|s| s as u64 * 1_000_000_000)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FlowTableConfig {
    /// Maximum concurrent flows in this table.
    pub capacity: u32,
    pub timeouts: Timeouts,
    /// Worker index, folded into flow ids so they are unique across workers.
    pub worker: u16,
}

/// Counters the table keeps about itself.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct FlowTableStats {
    pub created: u64,
    pub active: u64,
    pub ended_timeout: u64,
    pub ended_tcp_close: u64,
    pub ended_shutdown: u64,
    /// Flows evicted to make room (`flow.evicted`).
    pub evicted: u64,
    /// New flows not tracked because no flow could be evicted (`flow.refused`).
    pub refused: u64,
}

/// Result of a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The flow at this index; `dir` is TO_SERVER or TO_CLIENT; `new` if just created.
    Found { idx: u32, dir: usize, new: bool },
    /// The table is full of established flows: this packet's flow is not tracked.
    Refused,
}

pub struct FlowTable {
    flows: Vec<Flow>,
    free: Vec<u32>,
    buckets: Vec<u32>,
    mask: u32,
    timeouts_ns: [u64; CLASSES],
    capacity: u32,
    next_id: u64,
    worker: u16,
    /// Expiry sweep cursor and eviction hand (slot indices).
    sweep: u32,
    hand: u32,
    pub stats: FlowTableStats,
}

impl FlowTable {
    pub fn new(cfg: FlowTableConfig) -> FlowTable {
        let capacity = cfg.capacity.clamp(16, u32::MAX / 2 - 1);
        let nbuckets = (capacity as usize * 2).next_power_of_two();
        let flows: Vec<Flow> = Vec::with_capacity(capacity as usize);
        let buckets = vec![NIL; nbuckets];
        crate::mem::advise_hugepages(flows.as_ptr(), capacity as usize * std::mem::size_of::<Flow>());
        crate::mem::advise_hugepages(buckets.as_ptr(), nbuckets * 4);
        FlowTable {
            flows,
            free: Vec::with_capacity(capacity as usize),
            buckets,
            mask: (nbuckets - 1) as u32,
            timeouts_ns: cfg.timeouts.ns(),
            capacity,
            next_id: 1,
            worker: cfg.worker,
            sweep: 0,
            hand: 0,
            stats: FlowTableStats::default(),
        }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }
    pub fn len(&self) -> u32 {
        self.stats.active as u32
    }
    pub fn is_empty(&self) -> bool {
        self.stats.active == 0
    }
    /// Slots in use or used before (the range `expire` sweeps).
    pub fn slots(&self) -> u32 {
        self.flows.len() as u32
    }

    #[inline]
    pub fn get(&self, idx: u32) -> Option<&Flow> {
        self.flows.get(idx as usize).filter(|f| f.live)
    }
    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> Option<&mut Flow> {
        self.flows.get_mut(idx as usize).filter(|f| f.live)
    }

    fn class_of(f: &Flow) -> Class {
        match f.key.proto {
            ip_proto::TCP => match f.tcp {
                TcpState::Closed => Class::TcpClosed,
                TcpState::Established | TcpState::FinWait => Class::TcpEstablished,
                _ => Class::TcpNew,
            },
            ip_proto::UDP => {
                if f.is_bidirectional() {
                    Class::UdpEstablished
                } else {
                    Class::UdpNew
                }
            }
            _ => {
                if f.is_bidirectional() {
                    Class::OtherEstablished
                } else {
                    Class::OtherNew
                }
            }
        }
    }

    #[inline]
    fn timed_out(&self, f: &Flow, now: u64) -> Option<EndReason> {
        let c = Self::class_of(f);
        let t = self.timeouts_ns.get(c as usize).copied().unwrap_or(0);
        if f.last_ns.saturating_add(t) > now {
            return None;
        }
        Some(if c == Class::TcpClosed { EndReason::TcpClose } else { EndReason::Timeout })
    }

    /// Where the chain of `hash` starts.
    #[inline]
    pub fn bucket_of(&self, hash: u32) -> u32 {
        self.buckets.get((hash & self.mask) as usize).copied().unwrap_or(NIL)
    }

    /// Prefetches the bucket of `hash` (first stage of a burst lookup).
    #[inline]
    pub fn prefetch_bucket(&self, hash: u32) {
        if let Some(b) = self.buckets.get((hash & self.mask) as usize) {
            crate::mem::prefetch(b);
        }
    }

    /// Prefetches the first flow of the chain of `hash` (second stage).
    #[inline]
    pub fn prefetch_chain(&self, hash: u32) {
        if let Some(f) = self.flows.get(self.bucket_of(hash) as usize) {
            crate::mem::prefetch(f);
            crate::mem::prefetch(&f.pkts);
        }
    }

    /// Finds the flow of `key` without creating it.
    pub fn find(&self, key: &FlowKey) -> Option<u32> {
        let hash = key.hash();
        let mut i = self.bucket_of(hash);
        while i != NIL {
            let f = self.flows.get(i as usize)?;
            if f.hash == hash && f.key == *key {
                return Some(i);
            }
            i = f.chain;
        }
        None
    }

    /// Finds the flow of `key`, creating it if absent (or if the one found had already
    /// timed out). `ev` receives any flow that ends to make room.
    #[inline]
    pub fn lookup(
        &mut self,
        key: &FlowKey,
        hash: u32,
        key_src_is_lo: bool,
        d: &Decoded,
        now: u64,
        ev: &mut impl FnMut(u32, &Flow, EndReason),
    ) -> Lookup {
        let mut i = self.bucket_of(hash);
        while i != NIL {
            let Some(f) = self.flows.get(i as usize) else { break };
            if f.hash == hash && f.key == *key {
                match self.timed_out(f, now) {
                    None => {
                        let dir = if f.client_is_lo == key_src_is_lo { TO_SERVER } else { TO_CLIENT };
                        return Lookup::Found { idx: i, dir, new: false };
                    }
                    Some(reason) => {
                        // Dead but not yet swept: end it; this packet starts a new flow.
                        self.remove(i, reason, ev);
                        self.free.push(i);
                        break;
                    }
                }
            }
            i = f.chain;
        }
        // Not found: take a free slot, grow into reserved capacity, or evict.
        let idx = if let Some(i) = self.free.pop() {
            i
        } else if (self.flows.len() as u32) < self.capacity {
            self.flows.push(Flow::default());
            self.flows.len() as u32 - 1
        } else {
            match self.evict_one(ev) {
                Some(i) => i,
                None => {
                    self.stats.refused += 1;
                    return Lookup::Refused;
                }
            }
        };
        let id = ((self.worker as u64) << 40 | (self.next_id & 0xff_ffff_ffff)) & ((1u64 << 53) - 1);
        self.next_id += 1;
        let b = (hash & self.mask) as usize;
        let head = self.buckets.get(b).copied().unwrap_or(NIL);
        let f = Flow {
            key: *key,
            client_is_lo: key_src_is_lo,
            id,
            first_ns: now,
            last_ns: now,
            icmp_type: d.icmp_type,
            icmp_code: d.icmp_code,
            vlan: d.vlan,
            vlan_count: d.vlan_count,
            tunnel: d.tunnel,
            chain: head,
            hash,
            live: true,
            ..Flow::default()
        };
        if let Some(slot) = self.flows.get_mut(idx as usize) {
            *slot = f;
        }
        if let Some(h) = self.buckets.get_mut(b) {
            *h = idx;
        }
        self.stats.created += 1;
        self.stats.active += 1;
        Lookup::Found { idx, dir: TO_SERVER, new: true }
    }

    /// Unlinks the flow from its chain, reports it and marks its slot dead (the caller
    /// reuses or frees the slot).
    fn remove(&mut self, idx: u32, reason: EndReason, ev: &mut impl FnMut(u32, &Flow, EndReason)) {
        let Some(f) = self.flows.get(idx as usize).copied().filter(|f| f.live) else { return };
        let b = (f.hash & self.mask) as usize;
        let mut cur = self.buckets.get(b).copied().unwrap_or(NIL);
        let mut prev = NIL;
        while cur != NIL && cur != idx {
            prev = cur;
            cur = self.flows.get(cur as usize).map(|x| x.chain).unwrap_or(NIL);
        }
        if cur == idx {
            if prev == NIL {
                if let Some(h) = self.buckets.get_mut(b) {
                    *h = f.chain;
                }
            } else if let Some(p) = self.flows.get_mut(prev as usize) {
                p.chain = f.chain;
            }
        }
        if let Some(slot) = self.flows.get_mut(idx as usize) {
            slot.live = false;
        }
        self.stats.active -= 1;
        match reason {
            EndReason::Timeout => self.stats.ended_timeout += 1,
            EndReason::TcpClose => self.stats.ended_tcp_close += 1,
            EndReason::Forced => self.stats.evicted += 1,
            EndReason::Shutdown => self.stats.ended_shutdown += 1,
        }
        ev(idx, &f, reason);
    }

    /// Picks and removes the idlest evictable flow among the next [`EVICT_SCAN`] slots.
    fn evict_one(&mut self, ev: &mut impl FnMut(u32, &Flow, EndReason)) -> Option<u32> {
        let n = self.flows.len() as u32;
        if n == 0 {
            return None;
        }
        let mut best: Option<(u8, u64, u32)> = None;
        let mut scanned = 0u32;
        for k in 0..EVICT_SCAN as u32 {
            // Under a flood nearly every slot is a candidate: take the idlest of the first
            // few rather than paying a cache miss for each of EVICT_SCAN slots.
            if k >= EVICT_FIRST && best.is_some() {
                break;
            }
            scanned = k + 1;
            let i = (self.hand + k) % n;
            let Some(f) = self.flows.get(i as usize).filter(|f| f.live) else { continue };
            if let Some(rank) = Self::class_of(f).evict_rank() {
                let cand = (rank, f.last_ns, i);
                if best.is_none_or(|b| (cand.0, cand.1) < (b.0, b.1)) {
                    best = Some(cand);
                }
            }
        }
        self.hand = (self.hand + scanned) % n;
        let victim = best?.2;
        self.remove(victim, EndReason::Forced, ev);
        Some(victim)
    }

    /// Looks at the next `budget` slots from the sweep cursor and ends the flows idle past
    /// their state's timeout at `now`. Returns how many ended.
    pub fn expire(&mut self, now: u64, budget: usize, ev: &mut impl FnMut(u32, &Flow, EndReason)) -> usize {
        let n = self.flows.len() as u32;
        if n == 0 {
            return 0;
        }
        let mut done = 0;
        for _ in 0..budget.min(n as usize) {
            let i = self.sweep;
            self.sweep = (self.sweep + 1) % n;
            let Some(f) = self.flows.get(i as usize).filter(|f| f.live) else { continue };
            if let Some(reason) = self.timed_out(f, now) {
                self.remove(i, reason, ev);
                self.free.push(i);
                done += 1;
            }
        }
        done
    }

    /// Ends every flow (shutdown or end of capture).
    pub fn flush(&mut self, ev: &mut impl FnMut(u32, &Flow, EndReason)) {
        for i in 0..self.flows.len() as u32 {
            let Some(f) = self.flows.get(i as usize).filter(|f| f.live) else { continue };
            // A closed TCP flow that lingered is reported as closed, not as shut down.
            let reason = if Self::class_of(f) == Class::TcpClosed { EndReason::TcpClose } else { EndReason::Shutdown };
            self.remove(i, reason, ev);
            self.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{tcp_flags, IpVersion};

    fn pkt(src: u8, sp: u16, dst: u8, dp: u16, flags: u8) -> Decoded {
        let mut d = Decoded {
            ip: IpVersion::V4,
            proto: ip_proto::TCP,
            has_l4: true,
            src_port: sp,
            dst_port: dp,
            tcp_flags: flags,
            ..Decoded::default()
        };
        d.src[..4].copy_from_slice(&[10, 0, 0, src]);
        d.dst[..4].copy_from_slice(&[10, 0, 0, dst]);
        d
    }

    fn cfg(cap: u32) -> FlowTableConfig {
        FlowTableConfig { capacity: cap, timeouts: Timeouts::default(), worker: 0 }
    }

    fn feed(t: &mut FlowTable, d: &Decoded, now: u64, ended: &mut Vec<(Flow, EndReason)>) -> Lookup {
        let (k, lo) = FlowKey::from_decoded(d);
        let r = t.lookup(&k, k.hash(), lo, d, now, &mut |_, f, r| ended.push((*f, r)));
        if let Lookup::Found { idx, dir, .. } = r {
            t.get_mut(idx).unwrap().update(dir, d, 1, 60, now);
        }
        r
    }

    #[test]
    fn both_directions_one_flow_and_handshake() {
        let mut t = FlowTable::new(cfg(64));
        let mut ended = Vec::new();
        use tcp_flags::*;
        let a = feed(&mut t, &pkt(2, 40000, 1, 80, SYN), 1, &mut ended);
        let b = feed(&mut t, &pkt(1, 80, 2, 40000, SYN | ACK), 2, &mut ended);
        let c = feed(&mut t, &pkt(2, 40000, 1, 80, ACK), 3, &mut ended);
        let (
            Lookup::Found { idx: i1, dir: d1, new: true },
            Lookup::Found { idx: i2, dir: d2, new: false },
            Lookup::Found { idx: i3, .. },
        ) = (a, b, c)
        else {
            panic!("{a:?} {b:?} {c:?}")
        };
        assert_eq!((i1, d1), (i2, TO_SERVER));
        assert_eq!(d2, TO_CLIENT);
        assert_eq!(i1, i3);
        let f = t.get(i1).unwrap();
        assert_eq!(f.tcp, TcpState::Established);
        assert_eq!(f.pkts, [2, 1]);
        assert_eq!(f.client_port(), 40000);
        assert_eq!(f.client_addr()[3], 2);
    }

    #[test]
    fn close_then_linger_then_tcp_close_reason() {
        use tcp_flags::*;
        let mut t = FlowTable::new(cfg(64));
        let mut ended = Vec::new();
        feed(&mut t, &pkt(2, 1, 1, 2, SYN), 0, &mut ended);
        feed(&mut t, &pkt(1, 2, 2, 1, SYN | ACK), 1, &mut ended);
        feed(&mut t, &pkt(2, 1, 1, 2, FIN | ACK), 2, &mut ended);
        feed(&mut t, &pkt(1, 2, 2, 1, FIN | ACK), 3, &mut ended);
        feed(&mut t, &pkt(2, 1, 1, 2, ACK), 4, &mut ended); // last ACK lands in the same flow
        assert_eq!(t.len(), 1);
        t.expire(4 + 59_000_000_000, 100, &mut |_, f, r| ended.push((*f, r)));
        assert!(ended.is_empty());
        t.expire(4 + 60_000_000_000, 100, &mut |_, f, r| ended.push((*f, r)));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::TcpClose);
        assert_eq!(ended[0].0.pkts, [3, 2]);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_evicts_new_spares_established() {
        use tcp_flags::*;
        let mut t = FlowTable::new(cfg(16));
        let mut ended = Vec::new();
        // 4 established flows.
        for i in 0..4u16 {
            feed(&mut t, &pkt(2, 1000 + i, 1, 80, SYN), 0, &mut ended);
            feed(&mut t, &pkt(1, 80, 2, 1000 + i, SYN | ACK), 0, &mut ended);
            feed(&mut t, &pkt(2, 1000 + i, 1, 80, ACK), 0, &mut ended);
        }
        // A flood of SYNs from many sources.
        for i in 0..10_000u32 {
            let mut d = pkt(0, (i % 60000) as u16, 1, 80, SYN);
            d.src[..4].copy_from_slice(&(0x0b00_0000u32 + i).to_be_bytes());
            feed(&mut t, &d, 1 + i as u64, &mut ended);
        }
        assert_eq!(t.len(), 16);
        assert_eq!(t.stats.evicted, 10_000 - 12);
        assert!(ended.iter().all(|(f, r)| *r == EndReason::Forced && f.tcp == TcpState::SynSent));
        // The established flows are still there and still counted.
        feed(&mut t, &pkt(2, 1000, 1, 80, ACK | PSH), 20_000, &mut ended);
        let mut flushed = Vec::new();
        t.flush(&mut |_, f, r| flushed.push((*f, r)));
        let est: Vec<_> = flushed.iter().filter(|(f, _)| f.tcp == TcpState::Established).collect();
        assert_eq!(est.len(), 4);
        assert!(est.iter().any(|(f, _)| f.pkts == [3, 1]));
    }

    #[test]
    fn full_of_established_refuses() {
        use tcp_flags::*;
        let mut t = FlowTable::new(cfg(16));
        let mut ended = Vec::new();
        for i in 0..16u16 {
            feed(&mut t, &pkt(2, 1000 + i, 1, 80, ACK), 0, &mut ended); // mid-stream: established
        }
        assert_eq!(feed(&mut t, &pkt(3, 1, 1, 80, SYN), 1, &mut ended), Lookup::Refused);
        assert_eq!(t.stats.refused, 1);
    }
}
