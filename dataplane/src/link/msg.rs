//! The messages between `vigil-dp` and `vigil-cp`: the one definition both processes use.
//!
//! Invariants: these types are plain data (no control-plane types; the control plane
//! converts from and to its model); every frame carries [`PROTOCOL_VERSION`], and any change
//! to a type here (a field, a variant, an order) bumps it, because the codec (postcard) is
//! positional and has no field names. Times are milliseconds since the Unix epoch.
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The version of the messages below. Both ends refuse frames of another version.
pub const PROTOCOL_VERSION: u16 = 1;

/// Dataplane to control plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DpMsg {
    /// First message on every connection (and again after each reconnect).
    Hello(Hello),
    /// Counters, about once a second.
    Stats(StatsReport),
    /// New or continuing connections, deduplicated per interval in the dataplane.
    Connections(Vec<ConnReport>),
    Alerts(Vec<AlertReport>),
    /// A capture file was written and closed.
    CaptureReady(CaptureReady),
    /// The dataplane applied this policy version.
    PolicyAck {
        version: u64,
    },
}

/// Who the dataplane is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u16,
    /// The dataplane's build (`CARGO_PKG_VERSION`).
    pub dp_version: String,
    /// Features this dataplane has (`inline`, `capture`, `signatures`, ...).
    pub capabilities: Vec<String>,
    pub workers: u16,
}

/// The dataplane's counters at `ts_ms`, totals since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    pub ts_ms: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub flows_active: u64,
    /// Named drop counters (`link.reports_dropped`, `eve.dropped`, ...).
    pub drops: Vec<(String, u64)>,
}

/// Connections of one (client, server, server port, protocol, application) seen since the
/// previous report of that key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnReport {
    pub client: IpAddr,
    pub server: IpAddr,
    pub server_port: u16,
    /// IP protocol number (6 TCP, 17 UDP, ...).
    pub proto: u8,
    /// EVE `app_proto` name; `unknown` when not identified.
    pub app: String,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Connections since the previous report of this key.
    pub count: u64,
    /// Bytes of those connections that the worker accounted.
    pub bytes: u64,
}

/// The five-tuple of a flow, client (initiator) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTuple {
    pub proto: u8,
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

/// Kinds of alert (the control plane's `AlertKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlertKind {
    /// A signature or a built-in detector.
    Threat,
    /// A connection the policy does not allow.
    Violation,
    /// Traffic of a quarantined endpoint.
    Quarantine,
}

/// An alert raised in the dataplane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReport {
    pub ts_ms: u64,
    pub kind: AlertKind,
    /// 1 (high) to 4 (informational), Suricata's scale.
    pub severity: u8,
    pub flow: FlowTuple,
    pub app: String,
    pub flow_id: u64,
    /// Threats: `sid:rev msg` of the signature or the detector's name.
    pub signature: Option<String>,
    /// Violations: the rule that decided, if one did.
    pub rule_id: Option<u64>,
    /// `alert` (passed) or `drop`.
    pub action: String,
    pub message: String,
    pub capture_id: Option<u64>,
}

/// A capture file the dataplane finished writing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReady {
    pub id: u64,
    /// File name inside the capture directory.
    pub file: String,
    pub bytes: u64,
    pub flow: FlowTuple,
}

/// Control plane to dataplane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CpMsg {
    /// Answer to `Hello`.
    Welcome { version: u16 },
    /// The whole policy; it replaces the previous one.
    Policy(PolicySnapshot),
}

/// Policy mode of a group, as carried in [`GroupSpec::mode`].
pub const MODE_DISCOVER: u8 = 0;
pub const MODE_MONITOR: u8 = 1;
pub const MODE_PROTECT: u8 = 2;

/// The whole policy the dataplane enforces. Version 0 is the empty policy a dataplane starts
/// with before it ever heard from the control plane.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// Increases with every change the control plane makes.
    pub version: u64,
    pub groups: Vec<GroupSpec>,
    /// In evaluation order (user rules first).
    pub rules: Vec<RuleSpec>,
    pub quarantine: Vec<IpAddr>,
    /// Id of the signature set the dataplane should run.
    pub signature_set: u64,
}

/// A group: its members as (address, prefix length) and its mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    pub cidrs: Vec<(IpAddr, u8)>,
    /// [`MODE_DISCOVER`], [`MODE_MONITOR`] or [`MODE_PROTECT`]; other values: discover.
    pub mode: u8,
}

/// A rule between groups. Empty `apps` or `ports`: any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub apps: Vec<String>,
    /// Inclusive server port ranges.
    pub ports: Vec<(u16, u16)>,
    /// Allow, or deny.
    pub allow: bool,
}
