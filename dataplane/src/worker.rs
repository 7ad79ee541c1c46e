//! The per-packet work of one worker, independent of where packets come from: decode, look
//! the flow up, account, advance TCP state, expire idle flows, report finished flows.
//!
//! A [`WorkerCore`] is owned by exactly one worker thread. The per-packet path
//! ([`WorkerCore::process`]) does not allocate, lock or call into the kernel.
use crate::eve::{EveItem, EventQueue};
use crate::flow::{EndReason, Flow, FlowKey, FlowTable, FlowTableConfig, Lookup, Timeouts};
use crate::stats::{WorkerCounters, WorkerStats};
use crate::wire::{decode, Decoded, IpVersion, LinkType};
use std::sync::Arc;

/// How often (in packet time) idle flows are looked for, and how many may end per look.
const EXPIRE_INTERVAL_NS: u64 = 100_000_000;
const EXPIRE_BUDGET: usize = 256;

/// What happens to finished flows when the logger's queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backpressure {
    /// Live traffic: count and drop (a worker never stalls).
    Drop,
    /// Offline replay: wait for the logger (every flow is reported).
    Wait,
}

pub struct WorkerCore {
    pub id: usize,
    pub flows: FlowTable,
    pub counters: WorkerCounters,
    decoded: Decoded,
    events: Arc<EventQueue>,
    backpressure: Backpressure,
    stats: Arc<WorkerStats>,
    /// Latest packet time seen; the clock of flow expiry.
    now: u64,
    next_expire: u64,
}

fn emit(events: &EventQueue, bp: Backpressure, f: &Flow, r: EndReason) {
    let item = EveItem::Flow(*f, r);
    match bp {
        Backpressure::Drop => events.push_or_drop(item),
        Backpressure::Wait => events.push_wait(item),
    }
}

impl WorkerCore {
    pub fn new(
        id: usize,
        capacity: u32,
        timeouts: Timeouts,
        events: Arc<EventQueue>,
        backpressure: Backpressure,
        stats: Arc<WorkerStats>,
    ) -> WorkerCore {
        WorkerCore {
            id,
            flows: FlowTable::new(FlowTableConfig {
                capacity,
                timeouts,
                worker: id as u16,
            }),
            counters: WorkerCounters::default(),
            decoded: Decoded::default(),
            events,
            backpressure,
            stats,
            now: 0,
            next_expire: 0,
        }
    }

    /// Inspects one frame captured at `ts_ns`, `wire_len` bytes long on the wire.
    #[inline]
    pub fn process(&mut self, link: LinkType, frame: &[u8], ts_ns: u64, wire_len: u32) {
        let c = &mut self.counters;
        c.pkts += 1;
        c.bytes += wire_len as u64;
        if ts_ns > self.now {
            self.now = ts_ns;
        }
        let d = &mut self.decoded;
        if let Err(ev) = decode(link, frame, d) {
            if let Some(n) = c.decode_events.get_mut(ev as usize) {
                *n += 1;
            }
            // A packet whose L4 header is broken still belongs to its IP pair, but its ports
            // are unknown: it is counted and not tracked.
            return;
        }
        match d.ip {
            IpVersion::V4 => c.ipv4 += 1,
            IpVersion::V6 => c.ipv6 += 1,
            IpVersion::None => {
                c.non_ip += 1;
                return;
            }
        }
        // Non-first fragments carry no ports; IP reassembly (flow issue) feeds whole datagrams.
        if d.is_fragment && d.frag_offset != 0 {
            return;
        }
        // An ICMP error about a flow we track belongs to that flow, not to a new ICMP flow.
        if let Some(q) = d.icmp_quote {
            if let Some(idx) = self.flows.find(&FlowKey::from_quote(&q, d)) {
                if let Some(f) = self.flows.get_mut(idx) {
                    f.icmp_errors += 1;
                }
                c.icmp_errors_tied += 1;
                return;
            }
        }
        if let Some(ev) = d.anomaly {
            if let Some(n) = c.decode_events.get_mut(ev as usize) {
                *n += 1;
            }
        }
        let (key, src_lo) = FlowKey::from_decoded(d);
        let (events, bp) = (&self.events, self.backpressure);
        match self
            .flows
            .lookup(&key, src_lo, d, ts_ns, &mut |f, r| emit(events, bp, f, r))
        {
            Lookup::Found { idx, dir, .. } => {
                if let Some(f) = self.flows.get_mut(idx) {
                    f.update(dir, d, wire_len, ts_ns);
                }
                self.flows.touch(idx);
            }
            Lookup::Refused => {}
        }
    }

    /// Once per burst: expire idle flows when the clock moved on, publish counters.
    #[inline]
    pub fn end_burst(&mut self, now_ns: u64) {
        if now_ns > self.now {
            self.now = now_ns;
        }
        if self.now >= self.next_expire {
            self.next_expire = self.now + EXPIRE_INTERVAL_NS;
            let (events, bp) = (&self.events, self.backpressure);
            self.flows
                .expire(self.now, EXPIRE_BUDGET, &mut |f, r| emit(events, bp, f, r));
        }
        self.publish();
    }

    /// Ends every flow (shutdown / end of capture) and publishes the final counters.
    pub fn finish(&mut self) {
        let (events, bp) = (&self.events, self.backpressure);
        self.flows.flush(&mut |f, r| emit(events, bp, f, r));
        self.publish();
    }

    fn publish(&mut self) {
        let s = &self.flows.stats;
        let c = &mut self.counters;
        c.flows_created = s.created;
        c.flows_active = s.active;
        c.flows_evicted = s.evicted;
        c.flows_refused = s.refused;
        c.flows_ended = s.ended_timeout + s.ended_tcp_close + s.ended_shutdown + s.evicted;
        self.stats.publish(c);
    }
}
