//! Flow accounting against an independent reference: for every capture, the TCP and UDP
//! conversations `tshark -q -z conv,tcp -z conv,udp` reports must be the flows Vigil
//! reports, with the same packet and byte counts per direction.
//!
//! Captures: `dataplane/tests/data/captures/` (always) and every capture of the nDPI corpus
//! (`$VIGIL_CORPUS`, else `../shared/corpus/ndpi` beside the repository) when present.
//!
//! Where Vigil and tshark legitimately differ, the difference is recognised from Vigil's own
//! output, never from file names:
//! - **Tunnel transports.** tshark lists the outer UDP conversation of a VXLAN, Geneve,
//!   GTP-U or CAPWAP tunnel as well as the inner one; Vigil tracks the inner flow and
//!   reports the tunnel in its `tunnel` object. An outer conversation is skipped when a
//!   Vigil flow names exactly those two addresses as its tunnel endpoints.
//! - **Packets Vigil refused.** tshark still reads ports from an IPv4 packet whose total
//!   length runs past the bytes present (not a snaplen cut), and counts a first fragment of
//!   a datagram that never completes. Vigil counts those as decoder/defrag events and puts
//!   them in no flow (as Suricata does). The packets tshark counts and Vigil does not must
//!   therefore be at most the packets Vigil put in no flow: received, minus non-IP, minus
//!   the packets of all its flows.
//! - **VLAN zones and timeouts.** tshark ignores VLANs and idle time; Vigil splits a
//!   5-tuple into several flows by zone or timeout. Vigil's flows are summed per 5-tuple
//!   before comparing.
//!
//! Everything else must match exactly: no conversation only one side has, no packet Vigil
//! counts that tshark does not, exact bytes where tshark prints bytes (and within its
//! rounding where it prints kB/MB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

type Endpoint = (String, u64);
/// (proto, lower endpoint, higher endpoint)
type ConvKey = (String, Endpoint, Endpoint);

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    /// From the lower endpoint to the higher one, and back.
    pkts: [u64; 2],
    bytes: [f64; 2],
    /// tshark's byte unit per direction (1 = exact bytes).
    unit: [f64; 2],
}

fn parse_bytes(n: &str, unit: &str) -> (f64, f64) {
    let n: f64 = n.parse().unwrap_or(0.0);
    let u = match unit {
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => 1.0,
    };
    (n * u, u)
}

fn tshark_convs(pcap: &Path) -> BTreeMap<ConvKey, Counts> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut convs = BTreeMap::new();
    let mut proto = "";
    for line in text.lines() {
        if line.contains("TCP Conversations") {
            proto = "TCP";
        } else if line.contains("UDP Conversations") {
            proto = "UDP";
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        // A <-> B  fr(<-) n unit  fr(->) n unit  fr n unit  start dur
        if proto.is_empty() || t.len() < 9 || t[1] != "<->" {
            continue;
        }
        let ep = |s: &str| -> Option<Endpoint> {
            let i = s.rfind(':')?;
            Some((s[..i].trim_matches(['[', ']']).to_string(), s[i + 1..].parse().ok()?))
        };
        let (Some(a), Some(b)) = (ep(t[0]), ep(t[2])) else { continue };
        let (ba_pkts, (ba_bytes, ba_unit)) = (t[3].parse::<u64>().unwrap_or(0), parse_bytes(t[4], t[5]));
        let (ab_pkts, (ab_bytes, ab_unit)) = (t[6].parse::<u64>().unwrap_or(0), parse_bytes(t[7], t[8]));
        // Orient as lower -> higher endpoint.
        let (key, c) = if a <= b {
            (
                (proto.to_string(), a, b),
                Counts { pkts: [ab_pkts, ba_pkts], bytes: [ab_bytes, ba_bytes], unit: [ab_unit, ba_unit] },
            )
        } else {
            (
                (proto.to_string(), b, a),
                Counts { pkts: [ba_pkts, ab_pkts], bytes: [ba_bytes, ab_bytes], unit: [ba_unit, ab_unit] },
            )
        };
        let e = convs.entry(key).or_insert(Counts { unit: c.unit, ..Counts::default() });
        for i in 0..2 {
            e.pkts[i] += c.pkts[i];
            e.bytes[i] += c.bytes[i];
            e.unit[i] = e.unit[i].max(c.unit[i]);
        }
    }
    convs
}

struct VigilRun {
    convs: BTreeMap<ConvKey, Counts>,
    /// Tunnel endpoint pairs (sorted) seen in flow events.
    tunnel_pairs: Vec<(String, String)>,
    untracked: u64,
}

fn vigil_convs(pcap: &Path, dir: &TempDir, tag: &str) -> VigilRun {
    let (eve, stats) = (dir.path(&format!("{tag}.eve.json")), dir.path(&format!("{tag}.stats.json")));
    replay(pcap, &eve, &stats, 1);
    let events = read_eve(&eve);
    let s = read_json(&stats);
    let mut convs = BTreeMap::new();
    let mut tunnel_pairs = Vec::new();
    let mut in_flows = 0u64;
    for e in flow_events(&events) {
        let f = &e["flow"];
        let (ts, tc) = (f["pkts_toserver"].as_u64().unwrap_or(0), f["pkts_toclient"].as_u64().unwrap_or(0));
        in_flows += ts + tc;
        if let Some(t) = e.get("tunnel") {
            let (a, b) =
                (t["src_ip"].as_str().unwrap_or("").to_string(), t["dest_ip"].as_str().unwrap_or("").to_string());
            tunnel_pairs.push(if a <= b { (a, b) } else { (b, a) });
        }
        let proto = e["proto"].as_str().unwrap_or("");
        if proto != "TCP" && proto != "UDP" {
            continue;
        }
        let src: Endpoint = (e["src_ip"].as_str().unwrap_or("").to_string(), e["src_port"].as_u64().unwrap_or(0));
        let dst: Endpoint = (e["dest_ip"].as_str().unwrap_or("").to_string(), e["dest_port"].as_u64().unwrap_or(0));
        let (bts, btc) =
            (f["bytes_toserver"].as_u64().unwrap_or(0) as f64, f["bytes_toclient"].as_u64().unwrap_or(0) as f64);
        let (key, pk, by) = if src <= dst {
            ((proto.to_string(), src, dst), [ts, tc], [bts, btc])
        } else {
            ((proto.to_string(), dst, src), [tc, ts], [btc, bts])
        };
        let c = convs.entry(key).or_insert(Counts::default());
        for i in 0..2 {
            c.pkts[i] += pk[i];
            c.bytes[i] += by[i];
        }
    }
    let t = &s["totals"];
    let non_ip: u64 = s["workers"].as_array().unwrap().iter().map(|w| w["non_ip"].as_u64().unwrap_or(0)).sum();
    let untracked = t["rx_packets"].as_u64().unwrap_or(0).saturating_sub(non_ip + in_flows);
    VigilRun { convs, tunnel_pairs, untracked }
}

/// Compares one capture; returns a description of every unexplained difference.
fn compare(pcap: &Path, dir: &TempDir, tag: &str) -> Vec<String> {
    let reference = tshark_convs(pcap);
    let v = vigil_convs(pcap, dir, tag);
    let mut problems = Vec::new();
    let mut deficit = 0u64;
    for (key, r) in &reference {
        let (proto, a, b) = key;
        if proto == "UDP" && [2152, 4789, 6081, 5247].iter().any(|p| *p == a.1 || *p == b.1) {
            let pair = if a.0 <= b.0 { (a.0.clone(), b.0.clone()) } else { (b.0.clone(), a.0.clone()) };
            if v.tunnel_pairs.contains(&pair) && !v.convs.contains_key(key) {
                continue; // the tunnel's transport: Vigil reports the inner flows
            }
        }
        match v.convs.get(key) {
            None => deficit += r.pkts[0] + r.pkts[1],
            Some(c) => {
                for i in 0..2 {
                    if c.pkts[i] > r.pkts[i] {
                        problems.push(format!("{key:?} dir {i}: Vigil {} packets, tshark {}", c.pkts[i], r.pkts[i]));
                    } else if c.pkts[i] < r.pkts[i] {
                        deficit += r.pkts[i] - c.pkts[i];
                    } else if (c.bytes[i] - r.bytes[i]).abs()
                        >= r.unit[i].max(1.0) - if r.unit[i] > 1.0 { 0.0 } else { 0.5 }
                    {
                        problems.push(format!(
                            "{key:?} dir {i}: Vigil {} bytes, tshark {} (unit {})",
                            c.bytes[i], r.bytes[i], r.unit[i]
                        ));
                    }
                }
            }
        }
    }
    for key in v.convs.keys() {
        if !reference.contains_key(key) {
            problems.push(format!("{key:?}: a Vigil flow tshark does not list"));
        }
    }
    if deficit > v.untracked {
        problems.push(format!(
            "tshark counts {deficit} packets Vigil has in no flow, but Vigil left only {} packets untracked",
            v.untracked
        ));
    }
    problems
}

fn captures() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures")];
    let corpus = std::env::var_os("VIGIL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/ndpi"));
    if corpus.is_dir() {
        dirs.push(corpus);
    } else {
        eprintln!(
            "conv_reference: no corpus at {} (set VIGIL_CORPUS); using the committed captures only",
            corpus.display()
        );
    }
    let mut files = Vec::new();
    for d in dirs {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pcap" | "pcapng" | "cap")))
            .collect();
        v.sort();
        files.extend(v);
    }
    files
}

#[test]
fn flows_match_tshark_conversations_on_every_capture() {
    let dir = TempDir::new("conv");
    let files = captures();
    assert!(files.len() >= 10, "captures found: {files:?}");
    let mut failures = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let problems = compare(f, &dir, &format!("c{i}"));
        if !problems.is_empty() {
            failures.push(format!("{}:\n    {}", f.display(), problems.join("\n    ")));
        }
    }
    eprintln!("conv_reference: {} captures compared, {} with unexplained differences", files.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_tunnel_rule_is_not_vacuous() {
    // The committed VXLAN capture really has outer conversations that the rule skips and
    // inner flows that match: otherwise the rule above would hide nothing or everything.
    let dir = TempDir::new("conv-vxlan");
    let pcap = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/captures/vxlan.pcap");
    let reference = tshark_convs(&pcap);
    let v = vigil_convs(&pcap, &dir, "v");
    let outer = reference.keys().filter(|k| k.1 .1 == 4789 || k.2 .1 == 4789).count();
    assert!(outer > 0 && !v.tunnel_pairs.is_empty());
    let inner_matched = reference.iter().filter(|(k, r)| v.convs.get(*k).map(|c| c.pkts) == Some(r.pkts)).count();
    assert!(inner_matched >= 3, "inner flows matched: {inner_matched}");
    assert!(compare(&pcap, &dir, "v2").is_empty());
}
