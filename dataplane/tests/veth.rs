//! `vigil-dp run` in mirror mode on a veth pair through `net_af_packet`, with traffic sent by
//! tcpreplay from the peer: every packet sent is counted (received, or counted as missed or
//! dropped), and the flows match what was sent. Needs root (veth, raw sockets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil_dataplane::testgen;

/// The tests of this file run one at a time: DPDK's af_packet PMD derives its
/// PACKET_FANOUT group id from `pid ^ ifindex`, and two vigil-dp processes started side by
/// side (neighbouring pids and ifindexes) can collide, which the kernel refuses (EINVAL)
/// when the group belongs to another device.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

struct Veth(String);
impl Veth {
    fn create(a: &str, b: &str) -> Veth {
        let _ = Command::new("ip").args(["link", "del", a]).stderr(Stdio::null()).status();
        let ok = Command::new("ip")
            .args(["link", "add", a, "type", "veth", "peer", "name", b])
            .status()
            .expect("ip (iproute2) runs");
        assert!(ok.success(), "creating veth {a}/{b} needs root and iproute2");
        for i in [a, b] {
            // No IPv6 autoconfiguration chatter: only the test's packets cross the pair.
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{i}/disable_ipv6"), "1");
            assert!(Command::new("ip").args(["link", "set", i, "up"]).status().unwrap().success());
        }
        Veth(a.to_string())
    }
}
impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// Starts `vigil-dp run <args>` with periodic stats into `stats` and EVE into `eve`, on
/// the EAL arguments `eal` (after the common no-hugepage ones), and waits until its first
/// report is written.
fn start_dp(args: &[&str], stats: &Path, eve: &Path, eal: &[String]) -> Child {
    let mut dp = vigil_dp()
        .arg("run")
        .args(args)
        .args(["--stats-period", "1", "--stats-json"])
        .arg(stats)
        .arg("--eve-log")
        .arg(eve)
        .arg("--")
        .args(["--no-huge", "-m", "512", "--no-pci", "--log-level=*:error"])
        .args(eal)
        .stdout(Stdio::null())
        .spawn()
        .expect("start vigil-dp");
    let t0 = Instant::now();
    while !stats.exists() {
        assert!(t0.elapsed() < Duration::from_secs(30), "vigil-dp did not come up");
        if let Ok(Some(st)) = dp.try_wait() {
            panic!("vigil-dp exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    dp
}

#[test]
fn mirror_on_af_packet_counts_what_tcpreplay_sent() {
    let _serial = serial();
    let dir = TempDir::new("veth");
    let tag = std::process::id() % 100000;
    let (a, b) = (format!("vga{tag}"), format!("vgb{tag}"));
    let _veth = Veth::create(&a, &b);
    let traffic = testgen::mixed(5, 30, 20);
    let pcap = dir.path("mixed.pcap");
    traffic.write_pcap(&pcap).unwrap();
    let (eve, stats) = (dir.path("eve.json"), dir.path("stats.json"));

    let mut dp = start_dp(
        &["--mode", "mirror"],
        &stats,
        &eve,
        &[
            "-l".into(),
            "0-1".into(),
            format!("--file-prefix=vigil-test-veth-{tag}"),
            format!("--vdev=net_af_packet0,iface={b}"),
        ],
    );
    let out = Command::new("tcpreplay").args(["-i", &a, "--pps", "20000"]).arg(&pcap).output().expect("tcpreplay runs");
    assert!(out.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let sent: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Successful packets:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or_else(|| panic!("tcpreplay output: {text}"));
    assert_eq!(sent, traffic.frames.len() as u64);

    std::thread::sleep(Duration::from_millis(1500));
    // SIGINT: clean stop, flows flushed, final stats written, exit 0.
    unsafe_kill(dp.id(), 2);
    let st = dp.wait().unwrap();
    assert!(st.success(), "vigil-dp exit: {st}");

    let s = read_json(&stats);
    assert_eq!(s["final_report"], true);
    let port = &s["ports"][0];
    let rx = port["rx_packets"].as_u64().unwrap();
    let missed = port["rx_missed"].as_u64().unwrap() + port["rx_nombuf"].as_u64().unwrap();
    assert_eq!(rx + missed, sent, "every packet sent was received or counted as missed: {port}");
    let t = &s["totals"];
    assert_eq!(
        t["rx_packets"].as_u64().unwrap() + t["ring_dropped"].as_u64().unwrap(),
        rx,
        "workers saw what the port received"
    );
    if missed == 0 && t["ring_dropped"].as_u64() == Some(0) {
        assert_eq!(t["rx_bytes"].as_u64(), Some(traffic.total_bytes()));
        let events = read_eve(&eve);
        assert_flows_match(&traffic.flows, &flow_events(&events));
    }
}

#[test]
fn rss_mode_gives_each_worker_its_own_queue() {
    let _serial = serial();
    // net_af_packet with qpairs=2 spreads packets over its queues by the kernel's flow hash
    // (PACKET_FANOUT_HASH, symmetric): each worker polls its own queue, no rx lcore work.
    let dir = TempDir::new("rss");
    let tag = std::process::id() % 100000;
    let (a, b) = (format!("vra{tag}"), format!("vrb{tag}"));
    let _veth = Veth::create(&a, &b);
    let traffic = testgen::mixed(13, 40, 20);
    let pcap = dir.path("mixed.pcap");
    traffic.write_pcap(&pcap).unwrap();
    let (eve, stats) = (dir.path("eve.json"), dir.path("stats.json"));
    let mut dp = start_dp(
        &["--mode", "mirror", "--rx-mode", "rss"],
        &stats,
        &eve,
        &[
            "--lcores=0@0,1@1,2@0".into(),
            format!("--file-prefix=vigil-test-rss-{tag}"),
            format!("--vdev=net_af_packet0,iface={b},qpairs=2"),
        ],
    );
    let out = Command::new("tcpreplay").args(["-i", &a, "--pps", "10000"]).arg(&pcap).output().expect("tcpreplay runs");
    assert!(out.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(1500));
    unsafe_kill(dp.id(), 2);
    assert!(dp.wait().unwrap().success());
    let s = read_json(&stats);
    let workers = s["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    let busy = workers.iter().filter(|w| w["rx_packets"].as_u64() > Some(0)).count();
    assert_eq!(busy, 2, "both queues carried traffic: {s}");
    let port = &s["ports"][0];
    let missed = port["rx_missed"].as_u64().unwrap();
    assert_eq!(port["rx_packets"].as_u64().unwrap() + missed, traffic.frames.len() as u64);
    assert_eq!(s["totals"]["rx_packets"].as_u64(), port["rx_packets"].as_u64(), "every packet polled by a worker");
    if missed == 0 {
        // Both directions of every flow reached the same worker: one event per flow, whole.
        assert_flows_match(&traffic.flows, &flow_events(&read_eve(&eve)));
    }
}

fn iface_counter(iface: &str, name: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/{name}"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn bridge_forwards_every_packet_to_the_other_port() {
    let _serial = serial();
    let dir = TempDir::new("bridge");
    let tag = std::process::id() % 100000;
    let (a1, b1, a2, b2) = (format!("vba{tag}"), format!("vbb{tag}"), format!("vbc{tag}"), format!("vbd{tag}"));
    let _v1 = Veth::create(&a1, &b1);
    let _v2 = Veth::create(&a2, &b2);
    let traffic = testgen::mixed(9, 20, 10);
    let pcap = dir.path("mixed.pcap");
    traffic.write_pcap(&pcap).unwrap();
    let (eve, stats) = (dir.path("eve.json"), dir.path("stats.json"));
    let mut dp = start_dp(
        &["--mode", "bridge"],
        &stats,
        &eve,
        &[
            "-l".into(),
            "0-1".into(),
            format!("--file-prefix=vigil-test-bridge-{tag}"),
            format!("--vdev=net_af_packet0,iface={b1}"),
            format!("--vdev=net_af_packet1,iface={b2}"),
        ],
    );
    let before = iface_counter(&a2, "rx_packets");
    let out =
        Command::new("tcpreplay").args(["-i", &a1, "--pps", "20000"]).arg(&pcap).output().expect("tcpreplay runs");
    assert!(out.status.success(), "tcpreplay: {}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(1500));
    unsafe_kill(dp.id(), 15);
    assert!(dp.wait().unwrap().success());
    let arrived = iface_counter(&a2, "rx_packets") - before;

    let s = read_json(&stats);
    let t = &s["totals"];
    let w = &s["workers"][0];
    let (tx, tx_dropped) = (w["tx_packets"].as_u64().unwrap(), w["tx_dropped"].as_u64().unwrap());
    let rx = s["ports"][0]["rx_packets"].as_u64().unwrap();
    let missed = s["ports"][0]["rx_missed"].as_u64().unwrap();
    assert_eq!(rx + missed, traffic.frames.len() as u64, "all sent packets entered port 0 or were counted missed");
    assert_eq!(t["rx_packets"].as_u64(), Some(rx), "every received packet was inspected");
    assert_eq!(tx + tx_dropped, rx, "every inspected packet was forwarded or counted");
    assert_eq!(arrived, tx, "what vigil-dp sent on port 1 arrived at the far end of the second veth");
    assert_eq!(s["ports"][1]["tx_packets"].as_u64(), Some(tx));
    if missed + tx_dropped == 0 {
        assert_eq!(arrived, traffic.frames.len() as u64);
        assert_flows_match(&traffic.flows, &flow_events(&read_eve(&eve)));
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap();
    assert!(ok.success());
}
