//! The control plane's model: groups of endpoints and their modes, rules between groups,
//! the learned connection graph, alerts, quarantine, tokens and captures.
//!
//! Invariants: group names are unique and the built-in groups `nodes` and `external`
//! always exist; a rule names existing groups and known application names; times are
//! milliseconds since the Unix epoch.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use utoipa::ToSchema;

/// The group of the node's own addresses.
pub const GROUP_NODES: &str = "nodes";
/// The group of every address in no other group.
pub const GROUP_EXTERNAL: &str = "external";
/// Longest group name.
pub const MAX_NAME: usize = 64;
/// Most members a group may list.
pub const MAX_MEMBERS: usize = 1024;

/// A validation failure: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct Invalid {
    pub field: String,
    pub msg: String,
}

fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), msg: msg.into() }
}

/// What a group's policy does with connections no allow rule covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Learn every new connection as an allow rule.
    #[default]
    Discover,
    /// Alert on connections no allow rule covers, let them pass.
    Monitor,
    /// Alert on them and drop them (when the dataplane is inline).
    Protect,
}

/// An address block, written `10.0.0.0/8`, `2001:db8::/32` or a bare address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(a) & mask == u32::from(*b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(a) & mask == u128::from(*b) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be a number from 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A group of endpoints and its policy mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub name: String,
    /// Address blocks and single addresses.
    #[serde(default)]
    pub members: Vec<Cidr>,
    #[serde(default)]
    pub mode: Mode,
    /// `nodes` and `external`: cannot be deleted or renamed.
    #[serde(default)]
    #[schema(read_only)]
    pub builtin: bool,
}

/// A group name: 1..=64 characters of `[A-Za-z0-9._-]`.
pub fn validate_name(field: &str, name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(invalid(field, format!("must be 1 to {MAX_NAME} characters")));
    }
    if !name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')) {
        return Err(invalid(field, format!("{name:?} may only use letters, digits, '.', '_' and '-'")));
    }
    Ok(())
}

impl Group {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_name("name", &self.name)?;
        if self.members.len() > MAX_MEMBERS {
            return Err(invalid("members", format!("at most {MAX_MEMBERS} entries")));
        }
        Ok(())
    }
}

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

/// Who made a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Learned in discover mode.
    Learned,
    /// Written by an operator.
    User,
}

/// A port or an inclusive range, written `443` or `8000-8080`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<PortRange, String> {
        let num = |x: &str| x.trim().parse::<u16>().map_err(|_| format!("{s:?} is not a port (0-65535) or range"));
        match s.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (num(a)?, num(b)?);
                if lo > hi {
                    return Err(format!("{s:?}: the range's start is after its end"));
                }
                Ok(PortRange { lo, hi })
            }
            None => {
                let p = num(s)?;
                Ok(PortRange { lo: p, hi: p })
            }
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PortRange, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u16),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(p) => Ok(PortRange { lo: p, hi: p }),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A rule from one group to another. Empty `apps` or `ports` means any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rule {
    /// Assigned by the store.
    #[serde(default)]
    #[schema(read_only)]
    pub id: u64,
    pub from: String,
    pub to: String,
    /// `app_proto` names (`http`, `redis`, ...); empty: any application.
    #[serde(default)]
    pub apps: Vec<String>,
    /// Server ports; empty: any port.
    #[serde(default)]
    pub ports: Vec<PortRange>,
    pub action: Action,
    /// `POST /v1/rules` always makes a `user` rule.
    #[serde(default = "user_origin")]
    pub origin: Origin,
    #[serde(default)]
    #[schema(read_only)]
    pub created_ms: u64,
    #[serde(default)]
    #[schema(read_only)]
    pub updated_ms: u64,
    #[serde(default)]
    #[schema(read_only)]
    pub hits: u64,
}

fn user_origin() -> Origin {
    Origin::User
}

/// Application names a rule may use: Vigil's `app_proto` names, plus `unknown`.
pub fn known_app(name: &str) -> bool {
    name == "unknown" || vigil_dataplane::app::AppProto::from_name(name).is_some()
}

impl Rule {
    /// Checks the fields; `group_exists` says whether a group name is defined.
    pub fn validate(&self, group_exists: impl Fn(&str) -> bool) -> Result<(), Invalid> {
        for (field, g) in [("from", &self.from), ("to", &self.to)] {
            validate_name(field, g)?;
            if !group_exists(g) {
                return Err(invalid(field, format!("no group named {g:?}")));
            }
        }
        for (i, a) in self.apps.iter().enumerate() {
            if !known_app(a) {
                return Err(invalid(
                    format!("apps[{i}]"),
                    format!("unknown application {a:?} (see docs/protocols.md)"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the rule covers a connection of `app` to server port `port` between these
    /// groups.
    pub fn covers(&self, from: &str, to: &str, app: &str, port: u16) -> bool {
        self.from == from
            && self.to == to
            && (self.apps.is_empty() || self.apps.iter().any(|a| a == app))
            && (self.ports.is_empty() || self.ports.iter().any(|p| p.contains(port)))
    }
}

/// Kinds of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// A signature or a built-in detector.
    Threat,
    /// A connection no allow rule covers (monitor/protect), or one a deny rule covers.
    Violation,
    /// Traffic of a quarantined endpoint.
    Quarantine,
}

/// The connection an alert is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FlowRef {
    /// IP protocol number (6 TCP, 17 UDP, ...).
    pub proto: u8,
    #[schema(value_type = String, example = "10.1.0.5")]
    pub src: IpAddr,
    pub src_port: u16,
    #[schema(value_type = String, example = "10.2.0.7")]
    pub dst: IpAddr,
    pub dst_port: u16,
    /// `app_proto`.
    pub app: String,
    /// The dataplane's `flow_id`.
    #[serde(default)]
    pub flow_id: u64,
}

/// An alert as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    /// Time-ordered id: assigned by the store.
    #[serde(default)]
    pub id: u64,
    pub ts_ms: u64,
    pub kind: AlertKind,
    /// Suricata's scale: 1 (high) to 4 (informational).
    pub severity: u8,
    pub flow: FlowRef,
    pub from_group: String,
    pub to_group: String,
    /// The rule that decided (violations).
    #[serde(default)]
    pub rule_id: Option<u64>,
    /// The signature or detector (threats): `sid:rev msg`.
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub capture_id: Option<u64>,
    /// What happened: `alert` (passed) or `drop`.
    pub action: String,
    pub message: String,
}

/// A quarantined endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quarantine {
    #[schema(value_type = String, example = "10.1.0.66")]
    pub ip: IpAddr,
    pub reason: String,
    /// The token name that set it.
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub since_ms: u64,
}

/// A learned edge of the connection graph: group to group, application, server port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub from: String,
    pub to: String,
    pub app: String,
    pub port: u16,
    pub proto: u8,
    pub count: u64,
    pub first_ms: u64,
    pub last_ms: u64,
}

/// API roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read and write.
    Admin,
    /// Read only.
    Reader,
}

/// An API token as stored: only the SHA-256 of the secret is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub name: String,
    pub role: Role,
    pub sha256: [u8; 32],
}

/// A capture file the dataplane wrote for a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    pub id: u64,
    pub flow: FlowRef,
    /// File name inside the capture directory.
    pub file: String,
    pub bytes: u64,
    pub created_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let c: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(c.contains(&"10.1.200.3".parse().unwrap()));
        assert!(!c.contains(&"10.2.0.1".parse().unwrap()));
        assert!(!c.contains(&"::1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(&"192.0.2.1".parse().unwrap()));
        let one: Cidr = "2001:db8::5".parse().unwrap();
        assert_eq!(one.prefix, 128);
        assert!(one.contains(&"2001:db8::5".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Cidr>().unwrap_err().contains("0 to 32"));
        assert!("10.0.0/8".parse::<Cidr>().is_err());
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"10.1.0.0/16\"");
    }

    #[test]
    fn port_ranges_and_rules() {
        let r: PortRange = "8000-8080".parse().unwrap();
        assert!(r.contains(8042) && !r.contains(8081));
        assert!("90-80".parse::<PortRange>().is_err());
        let rule: Rule = serde_json::from_str(
            r#"{"from":"web","to":"db","apps":["redis"],"ports":[6379,"7000-7001"],"action":"allow"}"#,
        )
        .unwrap();
        assert_eq!(rule.origin, Origin::User);
        assert!(rule.covers("web", "db", "redis", 7001));
        assert!(!rule.covers("web", "db", "http", 6379));
        assert!(!rule.covers("db", "web", "redis", 6379));
        let exists = |g: &str| g == "web" || g == "db";
        assert!(rule.validate(exists).is_ok());
        let bad = Rule { apps: vec!["redsi".into()], ..rule.clone() };
        assert_eq!(bad.validate(exists).unwrap_err().field, "apps[0]");
        let bad = Rule { to: "nope".into(), ..rule };
        assert_eq!(bad.validate(exists).unwrap_err().field, "to");
    }

    #[test]
    fn group_names() {
        assert!(validate_name("name", "web-1.prod_a").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "a b").is_err());
    }
}
