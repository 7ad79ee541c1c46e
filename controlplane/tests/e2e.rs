//! End to end, real processes on real sockets: `vigil-cp` (RocksDB in a temp dir) and
//! `vigil-dp replay` over a generated capture of a small application (web -> api over
//! HTTP, api -> db over Redis, web -> dns over DNS).
//!
//! 1. Discover: the learned rules and the conversation graph are exactly the capture's.
//! 2. Monitor: a second capture repeats the application and adds one new connection
//!    (web -> db, Redis): exactly that connection is a violation, in REST and in the SSE
//!    stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_dataplane::testgen::payloads::{dns_answer, dns_query};
use vigil_dataplane::testgen::{Rng, Traffic, Vlan};

fn vigil_dp() -> PathBuf {
    // Built by the same `cargo test --workspace` (or `cargo build -p vigil-dataplane`).
    let p = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("vigil-dp");
    assert!(p.exists(), "{} missing: build the workspace (cargo build --workspace) first", p.display());
    p
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const WEB: [u8; 4] = [10, 1, 0, 5];
const API: [u8; 4] = [10, 2, 0, 7];
const DB: [u8; 4] = [10, 3, 0, 9];
const DNS: [u8; 4] = [10, 9, 0, 53];

/// The application's traffic; `extra` adds web -> db (Redis). Returns the frames written.
fn capture(path: &Path, extra: bool) -> usize {
    let mut t = Traffic::default();
    let mut rng = Rng::new(7);
    let at = |x: [u8; 4]| ip(x[0], x[1], x[2], x[3]);
    let http = vec![
        (true, b"GET /api/items HTTP/1.1\r\nHost: api.shop.local\r\nUser-Agent: web/1.0\r\n\r\n".to_vec()),
        (false, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]".to_vec()),
    ];
    let redis = vec![(true, b"*2\r\n$3\r\nGET\r\n$5\r\nitems\r\n".to_vec()), (false, b"$2\r\n[]\r\n".to_vec())];
    let t0 = 1_700_000_000_000_000_000u64;
    for i in 0..3u16 {
        t.tcp_dialogue(
            Vlan::None,
            (at(WEB), 40000 + i),
            (at(API), 8080),
            &http,
            t0 + i as u64 * 1_000_000_000,
            &mut rng,
        );
        t.tcp_dialogue(
            Vlan::None,
            (at(API), 41000 + i),
            (at(DB), 6379),
            &redis,
            t0 + i as u64 * 1_000_000_000 + 10_000,
            &mut rng,
        );
        let q = dns_query(i + 1, "api.shop.local");
        let a = dns_answer(i + 1, "api.shop.local", API);
        t.udp_dialogue(
            Vlan::None,
            (at(WEB), 50000 + i),
            (at(DNS), 53),
            &[(true, q), (false, a)],
            t0 + i as u64 * 1_000_000_000 + 20_000,
        );
    }
    if extra {
        t.tcp_dialogue(Vlan::None, (at(WEB), 42000), (at(DB), 6379), &redis, t0 + 5_000_000_000, &mut rng);
    }
    t.sorted();
    t.write_pcap(path).unwrap();
    t.frames.len()
}

struct Env {
    dir: tempfile::TempDir,
    url: String,
    token: String,
    _cp: Kill,
}

impl Env {
    fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cp = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_vigil-cp"));
            c.arg("--data-dir").arg(dir.path().join("db")).arg("--socket").arg(dir.path().join("cp.sock")).args(args);
            c
        };
        let out = cp(&["token", "create", "--name", "admin", "--role", "admin"]).output().unwrap();
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let child = cp(&["--listen", &format!("127.0.0.1:{port}"), "serve"]).stderr(Stdio::null()).spawn().unwrap();
        let t0 = Instant::now();
        while ureq::get(&format!("{url}/readyz")).call().is_err() {
            assert!(t0.elapsed() < Duration::from_secs(20), "vigil-cp did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Env { dir, url, token, _cp: Kill(child) }
    }

    fn api(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let r = ureq::request(method, &format!("{}{path}", self.url))
            .set("Authorization", &format!("Bearer {}", self.token));
        let r = match body {
            Some(b) => r.set("Content-Type", "application/json").send_string(b),
            None => r.call(),
        };
        let text = r.unwrap_or_else(|e| panic!("{method} {path}: {e}")).into_string().unwrap();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn replay(&self, pcap: &Path) {
        let out = Command::new(vigil_dp())
            .args(["replay", "-q", "--pcap"])
            .arg(pcap)
            .arg("--eve-log")
            .arg(self.dir.path().join("eve.json"))
            .arg("--cp-socket")
            .arg(self.dir.path().join("cp.sock"))
            .output()
            .unwrap();
        assert!(out.status.success(), "vigil-dp: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Waits until `f` holds of `GET path`.
    fn wait_for(&self, path: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let t0 = Instant::now();
        loop {
            let v = self.api("GET", path, None);
            if f(&v) {
                return v;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "timed out waiting for {what}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn edges(v: &Value, keys: &[&str]) -> Vec<String> {
    let mut e: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| keys.iter().map(|k| x[*k].to_string().replace('"', "")).collect::<Vec<_>>().join(" "))
        .collect();
    e.sort();
    e
}

#[test]
fn discover_learns_the_application_and_monitor_flags_exactly_the_new_connection() {
    let env = Env::start();
    for (name, cidr) in [("web", "10.1.0.0/16"), ("api", "10.2.0.0/16"), ("db", "10.3.0.0/16"), ("dns", "10.9.0.53")] {
        env.api("POST", "/v1/groups", Some(&format!(r#"{{"name":"{name}","members":["{cidr}"]}}"#)));
    }
    let p1 = env.dir.path().join("app.pcap");
    let frames = capture(&p1, false);
    env.replay(&p1);

    // Discover: one learned allow rule per (group pair, app, port), and the graph.
    let expected = vec!["api db [redis] [6379] learned", "web api [http] [8080] learned", "web dns [dns] [53] learned"];
    let rules = env.wait_for("/v1/rules", "three learned rules", |v| v.as_array().is_some_and(|a| a.len() >= 3));
    assert_eq!(edges(&rules, &["from", "to", "apps", "ports", "origin"]), expected, "{rules}");
    let conv = env.api("GET", "/v1/conversations", None);
    assert_eq!(
        edges(&conv, &["from", "to", "app", "port", "count"]),
        ["api db redis 6379 3", "web api http 8080 3", "web dns dns 53 3"]
    );
    assert_eq!(env.api("GET", "/v1/alerts", None)["alerts"].as_array().map(Vec::len), Some(0));
    // The dataplane said hello and sent its counters: every frame of the capture.
    let st = env.api("GET", "/v1/status", None);
    let dp = &st["dataplanes"][0];
    assert_eq!(dp["last_stats"]["rx_packets"].as_u64(), Some(frames as u64), "{st}");
    let metrics = ureq::get(&format!("{}/metrics", env.url))
        .set("Authorization", &format!("Bearer {}", env.token))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("vigil_dp_rx_packets_total{dataplane=") && metrics.contains("vigil_cp_rules 3"),
        "{metrics}"
    );

    // Monitor: listen to the live stream, then replay the application plus one new link.
    for g in ["api", "db", "dns"] {
        env.api("PUT", &format!("/v1/groups/{g}/mode"), Some(r#"{"mode":"monitor"}"#));
    }
    let sse_url = format!("{}/v1/alerts/stream", env.url);
    let token = env.token.clone();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let r = ureq::get(&sse_url).set("Authorization", &format!("Bearer {token}")).call().unwrap();
        for line in BufReader::new(r.into_reader()).lines() {
            let Ok(line) = line else { break };
            if let Some(d) = line.strip_prefix("data:") {
                let _ = tx.send(d.trim().to_string());
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let p2 = env.dir.path().join("app2.pcap");
    capture(&p2, true);
    env.replay(&p2);

    env.wait_for("/v1/alerts?kind=violation", "a violation", |v| v["alerts"].as_array().is_some_and(|a| !a.is_empty()));
    // Give any further (wrong) alert time to arrive, then check there is exactly one.
    std::thread::sleep(Duration::from_millis(500));
    let page = env.api("GET", "/v1/alerts", None);
    let alerts = page["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{page}");
    let a = &alerts[0];
    assert_eq!(
        (a["kind"].as_str(), a["from_group"].as_str(), a["to_group"].as_str()),
        (Some("violation"), Some("web"), Some("db"))
    );
    assert_eq!(
        (a["flow"]["app"].as_str(), a["flow"]["dst_port"].as_u64(), a["action"].as_str()),
        (Some("redis"), Some(6379), Some("alert"))
    );
    let streamed = rx.recv_timeout(Duration::from_secs(10)).expect("the alert on the SSE stream");
    let s: Value = serde_json::from_str(&streamed).unwrap();
    assert_eq!(s["id"], a["id"]);
    // Monitor does not learn.
    assert_eq!(env.api("GET", "/v1/rules", None).as_array().map(Vec::len), Some(3));
}
