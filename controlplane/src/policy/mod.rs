//! Policy evaluation and learning, over the model's groups and rules.
//!
//! A [`Policy`] is compiled from the groups and rules (immutable; rebuilt and swapped whole
//! when either changes). For a connection it finds the client's and server's groups
//! (longest prefix wins; the node's addresses are `nodes`, everything else `external`),
//! then the first rule that covers it in evaluation order (user rules first, then learned,
//! each by id), and decides by the server group's mode:
//!
//! | covering rule | discover | monitor | protect |
//! | --- | --- | --- | --- |
//! | allow | pass | pass | pass |
//! | deny | violation, drop | violation, drop | violation, drop |
//! | none | learn an allow rule | violation, pass | violation, drop |
//!
//! A quarantined endpoint (either side) is a `quarantine` alert and a drop in every mode.
use crate::model::{Action, Group, Mode, Origin, Rule, GROUP_EXTERNAL, GROUP_NODES};
use std::collections::HashSet;
use std::net::IpAddr;

/// A connection as the dataplane reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conn {
    pub client: IpAddr,
    pub server: IpAddr,
    pub server_port: u16,
    pub proto: u8,
    pub app: String,
}

/// What the policy says about a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An allow rule covers it.
    Pass { rule: u64 },
    /// Discover mode, no rule: learn this allow rule.
    Learn(Rule),
    /// Not allowed: alert, and drop when `drop` (protect mode, a deny rule, quarantine).
    Violation { rule: Option<u64>, drop: bool, quarantine: bool },
}

/// The groups and the verdict of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub from: String,
    pub to: String,
    pub verdict: Verdict,
}

/// A compiled, immutable policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// (block, group index), longest prefix first.
    members: Vec<(crate::model::Cidr, usize)>,
    groups: Vec<Group>,
    nodes: Vec<IpAddr>,
    /// Rules in evaluation order.
    rules: Vec<Rule>,
    quarantine: HashSet<IpAddr>,
}

impl Policy {
    /// Compiles groups, rules (any order), the node's own addresses and the quarantine list.
    pub fn new(groups: &[Group], rules: &[Rule], nodes: &[IpAddr], quarantine: &[IpAddr]) -> Policy {
        let mut members: Vec<(crate::model::Cidr, usize)> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.builtin)
            .flat_map(|(i, g)| g.members.iter().map(move |c| (*c, i)))
            .collect();
        members.sort_by_key(|m| std::cmp::Reverse(m.0.prefix));
        let mut rules = rules.to_vec();
        rules.sort_by_key(|r| (r.origin != Origin::User, r.id));
        Policy {
            members,
            groups: groups.to_vec(),
            nodes: nodes.to_vec(),
            rules,
            quarantine: quarantine.iter().copied().collect(),
        }
    }

    /// The group an address belongs to.
    pub fn group_of(&self, ip: &IpAddr) -> &str {
        if let Some((_, i)) = self.members.iter().find(|(c, _)| c.contains(ip)) {
            if let Some(g) = self.groups.get(*i) {
                return &g.name;
            }
        }
        if self.nodes.contains(ip) {
            GROUP_NODES
        } else {
            GROUP_EXTERNAL
        }
    }

    /// The mode of a group (built-ins and unknown names: their stored mode, else discover).
    pub fn mode_of(&self, group: &str) -> Mode {
        self.groups.iter().find(|g| g.name == group).map(|g| g.mode).unwrap_or_default()
    }

    /// Rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn decide(&self, c: &Conn, now_ms: u64) -> Decision {
        let from = self.group_of(&c.client).to_string();
        let to = self.group_of(&c.server).to_string();
        if self.quarantine.contains(&c.client) || self.quarantine.contains(&c.server) {
            return Decision { from, to, verdict: Verdict::Violation { rule: None, drop: true, quarantine: true } };
        }
        let rule = self.rules.iter().find(|r| r.covers(&from, &to, &c.app, c.server_port));
        let mode = self.mode_of(&to);
        let verdict = match (rule, mode) {
            (Some(r), _) if r.action == Action::Allow => Verdict::Pass { rule: r.id },
            (Some(r), _) => Verdict::Violation { rule: Some(r.id), drop: true, quarantine: false },
            (None, Mode::Discover) => Verdict::Learn(Rule {
                id: 0,
                from: from.clone(),
                to: to.clone(),
                apps: vec![c.app.clone()],
                ports: vec![crate::model::PortRange { lo: c.server_port, hi: c.server_port }],
                action: Action::Allow,
                origin: Origin::Learned,
                created_ms: now_ms,
                updated_ms: now_ms,
                hits: 0,
            }),
            (None, Mode::Monitor) => Verdict::Violation { rule: None, drop: false, quarantine: false },
            (None, Mode::Protect) => Verdict::Violation { rule: None, drop: true, quarantine: false },
        };
        Decision { from, to, verdict }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cidr;

    fn group(name: &str, members: &[&str], mode: Mode) -> Group {
        Group {
            name: name.into(),
            members: members.iter().map(|m| m.parse::<Cidr>().unwrap()).collect(),
            mode,
            builtin: false,
        }
    }

    fn conn(c: &str, s: &str, port: u16, app: &str) -> Conn {
        Conn { client: c.parse().unwrap(), server: s.parse().unwrap(), server_port: port, proto: 6, app: app.into() }
    }

    fn allow(id: u64, from: &str, to: &str, app: &str, port: u16, origin: Origin) -> Rule {
        Rule {
            id,
            from: from.into(),
            to: to.into(),
            apps: vec![app.into()],
            ports: vec![crate::model::PortRange { lo: port, hi: port }],
            action: Action::Allow,
            origin,
            created_ms: 0,
            updated_ms: 0,
            hits: 0,
        }
    }

    #[test]
    fn groups_by_longest_prefix_then_nodes_then_external() {
        let groups = [group("net", &["10.0.0.0/8"], Mode::Discover), group("db", &["10.0.5.0/24"], Mode::Discover)];
        let p = Policy::new(&groups, &[], &["192.0.2.10".parse().unwrap()], &[]);
        assert_eq!(p.group_of(&"10.0.5.7".parse().unwrap()), "db");
        assert_eq!(p.group_of(&"10.9.0.1".parse().unwrap()), "net");
        assert_eq!(p.group_of(&"192.0.2.10".parse().unwrap()), GROUP_NODES);
        assert_eq!(p.group_of(&"198.51.100.1".parse().unwrap()), GROUP_EXTERNAL);
    }

    #[test]
    fn the_modes_decide_what_no_rule_covers() {
        let web = group("web", &["10.1.0.0/16"], Mode::Discover);
        for (mode, expect) in [
            (Mode::Discover, None),
            (Mode::Monitor, Some(Verdict::Violation { rule: None, drop: false, quarantine: false })),
            (Mode::Protect, Some(Verdict::Violation { rule: None, drop: true, quarantine: false })),
        ] {
            let api = group("api", &["10.2.0.0/16"], mode);
            let rules = [allow(1, "web", "api", "http", 8080, Origin::Learned)];
            let p = Policy::new(&[web.clone(), api], &rules, &[], &[]);
            // Covered: passes in every mode.
            let d = p.decide(&conn("10.1.0.5", "10.2.0.9", 8080, "http"), 5);
            assert_eq!(d.verdict, Verdict::Pass { rule: 1 });
            // Redis on a new port: not covered.
            let d = p.decide(&conn("10.1.0.5", "10.2.0.9", 6380, "redis"), 5);
            assert_eq!((d.from.as_str(), d.to.as_str()), ("web", "api"));
            match expect {
                None => match d.verdict {
                    Verdict::Learn(r) => {
                        assert_eq!(
                            (r.from.as_str(), r.to.as_str(), r.apps.as_slice()),
                            ("web", "api", &["redis".to_string()][..])
                        );
                        assert_eq!(r.origin, Origin::Learned);
                        assert!(r.covers("web", "api", "redis", 6380));
                    }
                    other => panic!("{mode:?}: {other:?}"),
                },
                Some(v) => assert_eq!(d.verdict, v, "{mode:?}"),
            }
        }
    }

    #[test]
    fn user_rules_come_first_and_deny_drops_and_quarantine_cuts_both_ways() {
        let groups = [group("web", &["10.1.0.0/16"], Mode::Discover), group("api", &["10.2.0.0/16"], Mode::Discover)];
        let mut deny = allow(9, "web", "api", "http", 8080, Origin::User);
        deny.action = Action::Deny;
        let rules = [allow(1, "web", "api", "http", 8080, Origin::Learned), deny];
        let p = Policy::new(&groups, &rules, &[], &["10.1.0.66".parse().unwrap()]);
        assert_eq!(p.rules()[0].id, 9);
        let d = p.decide(&conn("10.1.0.5", "10.2.0.9", 8080, "http"), 0);
        assert_eq!(d.verdict, Verdict::Violation { rule: Some(9), drop: true, quarantine: false });
        for c in [conn("10.1.0.66", "10.2.0.9", 443, "tls"), conn("10.2.0.9", "10.1.0.66", 53, "dns")] {
            assert_eq!(p.decide(&c, 0).verdict, Verdict::Violation { rule: None, drop: true, quarantine: true });
        }
    }
}
