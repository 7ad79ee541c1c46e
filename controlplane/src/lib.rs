//! Vigil's control plane: the model (groups, rules, modes, alerts, quarantine) persisted in
//! RocksDB ([`store`]), learning and policy evaluation ([`policy`]), the channel to the
//! dataplane ([`link`]) and the REST API ([`api`]).
#![forbid(unsafe_code)]
pub mod link;
pub mod model;
pub mod store;
