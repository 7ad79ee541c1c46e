//! Helpers shared by the integration tests: temp dirs, running vigil-dp, reading EVE.
#![allow(dead_code)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vigil_dataplane::testgen::ExpectedFlow;

pub fn vigil_dp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigil-dp"))
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);
impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!("vigil-test-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn read_eve(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l:?}: {e}"))).collect()
}

pub fn flow_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event_type"] == "flow").collect()
}

pub fn replay(pcap: &Path, eve: &Path, stats: &Path, workers: u16) -> Output {
    let out = vigil_dp()
        .args(["replay", "--pcap"])
        .arg(pcap)
        .arg("--eve-log")
        .arg(eve)
        .arg("--stats-json")
        .arg(stats)
        .args(["--workers", &workers.to_string(), "-q"])
        .output()
        .expect("run vigil-dp");
    assert!(out.status.success(), "vigil-dp replay failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
        .expect("stats JSON")
}

/// A comparable identity of an EVE flow event (direction as reported).
pub fn flow_tuple(e: &Value) -> (String, String, u64, String, u64, Vec<u64>) {
    let vlan = e["vlan"].as_array().map(|a| a.iter().filter_map(Value::as_u64).collect()).unwrap_or_default();
    (
        e["proto"].as_str().unwrap_or("").to_string(),
        e["src_ip"].as_str().unwrap_or("").to_string(),
        e["src_port"].as_u64().unwrap_or(0),
        e["dest_ip"].as_str().unwrap_or("").to_string(),
        e["dest_port"].as_u64().unwrap_or(0),
        vlan,
    )
}

/// Asserts the EVE flow events are exactly the expected flows, with exact counts.
pub fn assert_flows_match(expected: &[ExpectedFlow], events: &[&Value]) {
    assert_eq!(events.len(), expected.len(), "number of flow events");
    for x in expected {
        let want = (
            x.proto.to_string(),
            x.client.to_string(),
            x.client_port as u64,
            x.server.to_string(),
            x.server_port as u64,
            x.vlan.iter().map(|v| *v as u64).collect::<Vec<_>>(),
        );
        let matching: Vec<_> = events.iter().filter(|e| flow_tuple(e) == want).collect();
        if matching.len() != 1 {
            let near: Vec<_> =
                events.iter().filter(|e| e["src_ip"] == want.1.as_str() || e["dest_ip"] == want.1.as_str()).collect();
            panic!(
                "expected exactly one flow event for {want:?}, found {}; events of that host: {near:#?}",
                matching.len()
            );
        }
        let f = &matching[0]["flow"];
        assert_eq!(
            (
                f["pkts_toserver"].as_u64(),
                f["pkts_toclient"].as_u64(),
                f["bytes_toserver"].as_u64(),
                f["bytes_toclient"].as_u64()
            ),
            (Some(x.pkts_toserver), Some(x.pkts_toclient), Some(x.bytes_toserver), Some(x.bytes_toclient)),
            "counts of {want:?}"
        );
    }
}
