//! Conversions between the control plane's model and the link's plain messages.
//!
//! Invariant: the snapshot lists rules in the order given (the caller passes them in
//! evaluation order, user rules first); nothing here validates, the model did.
use crate::model::{self, Action, Group, Mode, Quarantine, Rule};
use vigil_dataplane::link::msg::{self, GroupSpec, PolicySnapshot, RuleSpec};

/// The wire value of a mode.
pub fn mode(m: Mode) -> u8 {
    match m {
        Mode::Discover => msg::MODE_DISCOVER,
        Mode::Monitor => msg::MODE_MONITOR,
        Mode::Protect => msg::MODE_PROTECT,
    }
}

/// The snapshot the dataplanes enforce.
pub fn snapshot(
    version: u64,
    groups: &[Group],
    rules: &[Rule],
    quarantine: &[Quarantine],
    signature_set: u64,
) -> PolicySnapshot {
    PolicySnapshot {
        version,
        groups: groups
            .iter()
            .map(|g| GroupSpec {
                name: g.name.clone(),
                cidrs: g.members.iter().map(|c| (c.addr, c.prefix)).collect(),
                mode: mode(g.mode),
            })
            .collect(),
        rules: rules
            .iter()
            .map(|r| RuleSpec {
                id: r.id,
                from: r.from.clone(),
                to: r.to.clone(),
                apps: r.apps.clone(),
                ports: r.ports.iter().map(|p| (p.lo, p.hi)).collect(),
                allow: r.action == Action::Allow,
            })
            .collect(),
        quarantine: quarantine.iter().map(|q| q.ip).collect(),
        signature_set,
    }
}

/// The model's alert kind.
pub fn alert_kind(k: msg::AlertKind) -> model::AlertKind {
    match k {
        msg::AlertKind::Threat => model::AlertKind::Threat,
        msg::AlertKind::Violation => model::AlertKind::Violation,
        msg::AlertKind::Quarantine => model::AlertKind::Quarantine,
    }
}

/// The model's flow reference of an alert.
pub fn flow_ref(a: &msg::AlertReport) -> model::FlowRef {
    model::FlowRef {
        proto: a.flow.proto,
        src: a.flow.src,
        src_port: a.flow.src_port,
        dst: a.flow.dst,
        dst_port: a.flow.dst_port,
        app: a.app.clone(),
        flow_id: a.flow_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;

    #[test]
    fn model_to_snapshot() {
        let groups = vec![Group {
            name: "web".into(),
            members: vec!["10.1.0.0/16".parse().unwrap(), "2001:db8::5".parse().unwrap()],
            mode: Mode::Protect,
            builtin: false,
        }];
        let rules = vec![Rule {
            id: 9,
            from: "web".into(),
            to: "external".into(),
            apps: vec!["tls".into()],
            ports: vec!["443".parse().unwrap(), "8000-8080".parse().unwrap()],
            action: Action::Deny,
            origin: Origin::User,
            created_ms: 0,
            updated_ms: 0,
            hits: 0,
        }];
        let q =
            vec![Quarantine { ip: "10.9.9.9".parse().unwrap(), reason: "x".into(), by: String::new(), since_ms: 0 }];
        let s = snapshot(3, &groups, &rules, &q, 7);
        assert_eq!(s.version, 3);
        assert_eq!(s.signature_set, 7);
        assert_eq!(s.groups[0].cidrs, vec![("10.1.0.0".parse().unwrap(), 16), ("2001:db8::5".parse().unwrap(), 128)]);
        assert_eq!(s.groups[0].mode, msg::MODE_PROTECT);
        assert_eq!(s.rules[0].ports, vec![(443, 443), (8000, 8080)]);
        assert!(!s.rules[0].allow);
        assert_eq!(s.quarantine, vec!["10.9.9.9".parse::<std::net::IpAddr>().unwrap()]);
        assert_eq!(mode(Mode::Discover), msg::MODE_DISCOVER);
        assert_eq!(mode(Mode::Monitor), msg::MODE_MONITOR);
    }
}
