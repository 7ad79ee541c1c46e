//! Vigil's control plane: the model (groups, rules, modes, alerts, quarantine) persisted in
//! RocksDB ([`store`]), learning and policy evaluation ([`policy`]), the channel to the
//! dataplane ([`link`]) and the REST API ([`api`]).
#![forbid(unsafe_code)]
pub mod api;
pub mod config;
pub mod ingest;
pub mod link;
pub mod model;
pub mod policy;
pub mod store;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
