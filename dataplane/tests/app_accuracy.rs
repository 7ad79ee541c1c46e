//! Protocol identification accuracy on real captures, scored as the corpus README says.
//!
//! Each capture is replayed by `vigil-dp replay`; its EVE `flow` events are matched to the
//! expected flows (`expected.csv`: nDPI's label per flow) by L4 protocol and 5-tuple in
//! either direction. A scored flow is correct when `app_proto` (or `app_proto_orig`) is the
//! expected name; a missing flow event counts as wrong. The per-protocol table is printed;
//! the floors are 95% overall and 90% for every protocol with 10 or more flows.
//!
//! Captures: `tests/data/app/` with its `expected.csv` (always), and the whole dev corpus
//! (`$VIGIL_CORPUS`, else `../shared/corpus/ndpi` beside the repository) when present.
//! Nothing here knows about particular files or flows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
struct Row {
    pcap: String,
    l4: String,
    a: (String, u64),
    b: (String, u64),
    expected: String,
    ndpi: String,
}

fn read_expected(csv: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |n: &str| head.iter().position(|h| h.trim() == n).unwrap_or_else(|| panic!("no column {n}"));
    let (p, si, sp, di, dp, l4, exp, nd, sc) = (
        col("pcap"),
        col("src_ip"),
        col("src_port"),
        col("dst_ip"),
        col("dst_port"),
        col("l4"),
        col("expected_app_proto"),
        col("ndpi_proto"),
        col("scored"),
    );
    lines
        .filter_map(|l| {
            let t: Vec<&str> = l.split(',').map(str::trim).collect();
            if t.get(sc) != Some(&"1") {
                return None;
            }
            let port = |i: usize| t.get(i).and_then(|s| s.parse().ok()).unwrap_or(0);
            Some(Row {
                pcap: t[p].to_string(),
                l4: t[l4].to_lowercase(),
                a: (t[si].to_string(), port(sp)),
                b: (t[di].to_string(), port(dp)),
                expected: t[exp].to_string(),
                ndpi: t[nd].to_string(),
            })
        })
        .collect()
}

/// Names Vigil may use for the same protocol (the corpus README's aliases).
fn same(expected: &str, got: &str, ndpi: &str) -> bool {
    fn canon(s: &str) -> &str {
        match s {
            "mining" => "stratum",
            "kerberos" => "krb5",
            "postgresql" => "pgsql",
            "smb2" | "smb3" => "smb",
            "resp" => "redis",
            o => o,
        }
    }
    if canon(expected) == canon(got) {
        return true;
    }
    // nDPI's SMTPS/POPS/IMAPS/FTPS also cover STARTTLS: the clear-text name is accepted.
    let master = ndpi.split('.').next().unwrap_or("");
    matches!((master, got), ("SMTPS", "smtp") | ("POPS", "pop3") | ("IMAPS", "imap") | ("FTPS", "ftp"))
}

type Key = (String, (String, u64), (String, u64));

fn key(l4: &str, a: (String, u64), b: (String, u64)) -> Key {
    if a <= b {
        (l4.to_string(), a, b)
    } else {
        (l4.to_string(), b, a)
    }
}

/// (app_proto, app_proto_orig) of every flow event of `pcap`, by 5-tuple.
fn vigil_apps(pcap: &Path, tmp: &TempDir) -> HashMap<Key, Vec<(String, String)>> {
    let eve = tmp.path("eve.json");
    let _ = std::fs::remove_file(&eve);
    replay(pcap, &eve, &tmp.path("stats.json"), 1);
    let mut out: HashMap<Key, Vec<(String, String)>> = HashMap::new();
    for e in read_eve(&eve) {
        if e["event_type"] != "flow" {
            continue;
        }
        let l4 = match e["proto"].as_str().unwrap_or("") {
            "TCP" => "tcp",
            "UDP" => "udp",
            "ICMP" => "icmp",
            "IPv6-ICMP" => "icmpv6",
            "SCTP" => "sctp",
            other => other,
        };
        let ep = |ip: &str, port: &str| (e[ip].as_str().unwrap_or("").to_string(), e[port].as_u64().unwrap_or(0));
        let k = key(l4, ep("src_ip", "src_port"), ep("dest_ip", "dest_port"));
        let s = |f: &str| e[f].as_str().unwrap_or("").to_string();
        out.entry(k).or_default().push((s("app_proto"), s("app_proto_orig")));
    }
    out
}

#[derive(Default)]
struct Score {
    expected: u64,
    correct: u64,
    /// What Vigil said instead, with counts.
    wrong: BTreeMap<String, u64>,
}

fn score(captures: &[(PathBuf, Vec<Row>)], label: &str) -> BTreeMap<String, Score> {
    let tmp = TempDir::new("app-accuracy");
    let mut table: BTreeMap<String, Score> = BTreeMap::new();
    for (pcap, rows) in captures {
        let apps = vigil_apps(pcap, &tmp);
        for r in rows {
            let got = apps.get(&key(&r.l4, r.a.clone(), r.b.clone()));
            let ok = got
                .is_some_and(|v| v.iter().any(|(a, o)| same(&r.expected, a, &r.ndpi) || same(&r.expected, o, &r.ndpi)));
            let s = table.entry(r.expected.clone()).or_default();
            s.expected += 1;
            if ok {
                s.correct += 1;
            } else {
                let said = match got {
                    None => "(no flow)".to_string(),
                    Some(v) => {
                        v.iter().map(|(a, _)| if a.is_empty() { "-" } else { a.as_str() }).collect::<Vec<_>>().join("+")
                    }
                };
                *s.wrong.entry(said.clone()).or_default() += 1;
                eprintln!(
                    "  miss {label}: {} {} {}:{} {}:{} expected {} got {said}",
                    r.pcap, r.l4, r.a.0, r.a.1, r.b.0, r.b.1, r.expected
                );
            }
        }
    }
    let (n, c): (u64, u64) = table.values().fold((0, 0), |(n, c), s| (n + s.expected, c + s.correct));
    println!("\napp_proto accuracy on {label}: {c}/{n} = {:.1}%", 100.0 * c as f64 / n.max(1) as f64);
    println!("{:<12} {:>8} {:>8} {:>8}  wrong answers", "protocol", "flows", "correct", "recall");
    for (p, s) in &table {
        let wrong: Vec<String> = s.wrong.iter().map(|(k, v)| format!("{k} x{v}")).collect();
        println!(
            "{p:<12} {:>8} {:>8} {:>7.1}%  {}",
            s.expected,
            s.correct,
            100.0 * s.correct as f64 / s.expected.max(1) as f64,
            wrong.join(", ")
        );
    }
    table
}

fn assert_floors(table: &BTreeMap<String, Score>, label: &str) {
    let (n, c): (u64, u64) = table.values().fold((0, 0), |(n, c), s| (n + s.expected, c + s.correct));
    assert!(n > 0, "{label}: no scored flows");
    let overall = c as f64 / n as f64;
    assert!(overall >= 0.95, "{label}: overall accuracy {:.1}% < 95%", overall * 100.0);
    for (p, s) in table {
        let recall = s.correct as f64 / s.expected as f64;
        if s.expected >= 10 {
            assert!(recall >= 0.90, "{label}: {p} recall {:.1}% < 90% ({}/{})", recall * 100.0, s.correct, s.expected);
        }
    }
}

fn group(rows: Vec<Row>, dirs: &[PathBuf]) -> Vec<(PathBuf, Vec<Row>)> {
    let mut by: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for r in rows {
        by.entry(r.pcap.clone()).or_default().push(r);
    }
    by.into_iter()
        .map(|(f, rows)| {
            let path =
                dirs.iter().map(|d| d.join(&f)).find(|p| p.exists()).unwrap_or_else(|| panic!("capture {f} not found"));
            (path, rows)
        })
        .collect()
}

#[test]
fn accuracy_on_repo_fixtures() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let rows = read_expected(&data.join("app/expected.csv"));
    let captures = group(rows, &[data.join("app"), data.join("captures")]);
    let table = score(&captures, "repo fixtures");
    assert_floors(&table, "repo fixtures");
}

#[test]
fn accuracy_on_dev_corpus() {
    let corpus = std::env::var_os("VIGIL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ndpi"));
    if !corpus.join("expected.csv").exists() {
        eprintln!("no corpus at {}: only the repo fixtures are scored", corpus.display());
        return;
    }
    let rows = read_expected(&corpus.join("expected.csv"));
    let captures = group(rows, std::slice::from_ref(&corpus));
    let table = score(&captures, "dev corpus");
    assert_floors(&table, "dev corpus");
}
