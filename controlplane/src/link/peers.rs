//! The dataplanes the control plane has heard from: their hello and latest counters (for
//! `/v1/status` and `/metrics`). Bounded by the link's connection limit.
use std::collections::BTreeMap;
use std::sync::RwLock;
use vigil_dataplane::link::msg::{Hello, StatsReport};

/// A dataplane as `/v1/status` shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PeerState {
    pub id: u64,
    pub version: String,
    pub workers: u16,
    pub connected: bool,
    pub last_stats: Option<Stats>,
}

/// The latest counters of a dataplane (totals since it started).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub ts_ms: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub flows_active: u64,
    pub drops: BTreeMap<String, u64>,
}

/// Dataplanes kept after they disconnect, at most.
const MAX_PEERS: usize = 256;

#[derive(Default, Debug)]
pub struct Peers(RwLock<BTreeMap<u64, PeerState>>);

impl Peers {
    pub fn hello(&self, id: u64, h: &Hello) {
        if let Ok(mut m) = self.0.write() {
            while m.len() >= MAX_PEERS {
                // The oldest disconnected one goes first (ids increase with connections).
                let Some(k) =
                    m.iter().find(|(_, p)| !p.connected).map(|(k, _)| *k).or_else(|| m.keys().next().copied())
                else {
                    break;
                };
                m.remove(&k);
            }
            m.insert(
                id,
                PeerState { id, version: h.dp_version.clone(), workers: h.workers, connected: true, last_stats: None },
            );
        }
    }

    pub fn stats(&self, id: u64, s: &StatsReport) {
        if let Ok(mut m) = self.0.write() {
            if let Some(p) = m.get_mut(&id) {
                p.last_stats = Some(Stats {
                    ts_ms: s.ts_ms,
                    rx_packets: s.rx_packets,
                    rx_bytes: s.rx_bytes,
                    flows_active: s.flows_active,
                    drops: s.drops.iter().cloned().collect(),
                });
            }
        }
    }

    pub fn disconnected(&self, id: u64) {
        if let Ok(mut m) = self.0.write() {
            if let Some(p) = m.get_mut(&id) {
                p.connected = false;
            }
        }
    }

    pub fn list(&self) -> Vec<PeerState> {
        self.0.read().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }
}
