//! Bad input from people gets one clear line naming what is wrong and what to do, and a
//! non-zero exit code; never a panic or a bare DPDK code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

fn run(args: &[&str]) -> (i32, String) {
    let out = vigil_dp().args(args).output().expect("run vigil-dp");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "panic: {err}");
    (out.status.code().unwrap_or(-1), err)
}

/// `vigil-dp run <args> -- <no-hugepage EAL args> -l <lcores> --file-prefix <prefix> --vdev <vdev>`.
fn run_live(args: &[&str], lcores: &str, prefix: &str, vdev: &str) -> (i32, String) {
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "-l", lcores, "--no-huge", "-m", "256", "--no-pci", "--log-level=*:error"]);
    all.extend_from_slice(&["--file-prefix", prefix, "--vdev", vdev]);
    run(&all)
}

fn corpus_pcap(dir: &TempDir) -> String {
    let p = dir.path("ok.pcap");
    vigil_dataplane::testgen::mixed(1, 2, 1).write_pcap(&p).unwrap();
    p.display().to_string()
}

#[test]
fn unknown_flag() {
    let (code, err) = run(&["replay", "--bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
}

#[test]
fn missing_pcap() {
    let (code, err) = run(&["replay", "--pcap", "/nonexistent/x.pcap"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot open capture /nonexistent/x.pcap: No such file or directory"), "{err}");
}

#[test]
fn not_a_pcap() {
    let dir = TempDir::new("notpcap");
    let p = dir.path("x.pcap");
    std::fs::write(&p, b"this is text, not a capture").unwrap();
    let (code, err) = run(&["replay", "--pcap", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a pcap or pcapng file"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn vdev_that_fails_to_start() {
    let (code, err) = run_live(&[], "0-1", "vigil-test-badvdev", "net_af_packet0,iface=vgl_nosuchif");
    assert_eq!(code, 1);
    assert!(err.contains("--vdev net_af_packet0,iface=vgl_nosuchif: the device did not start"), "{err}");
}

#[test]
fn too_little_memory_for_the_mempool() {
    let dir = TempDir::new("mem");
    let cfg = dir.path("v.toml");
    std::fs::write(&cfg, "[dataplane]\nmempool_mbufs = 2000000\n").unwrap();
    let pcap = corpus_pcap(&dir);
    let eve = dir.path("e.json");
    let (code, err) =
        run(&["replay", "--pcap", &pcap, "--config", cfg.to_str().unwrap(), "--eve-log", eve.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("packet pool of 2000000 mbufs does not fit in EAL memory"), "{err}");
    assert!(err.contains("Lower [dataplane] mempool_mbufs or raise the EAL's -m"), "{err}");
}

#[test]
fn bad_config_names_file_line_and_field() {
    let dir = TempDir::new("cfg");
    let cfg = dir.path("v.toml");
    std::fs::write(&cfg, "[dataplane]\nstats_period = 1\nmode = \"inline\"\n").unwrap();
    let pcap = corpus_pcap(&dir);
    let (code, err) = run(&["replay", "--pcap", &pcap, "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "config file {}:3:8: unknown variant `inline`, expected `mirror` or `bridge`",
            cfg.display()
        )),
        "{err}"
    );
}

#[test]
fn one_lcore_is_not_enough() {
    let (code, err) = run_live(&[], "0", "vigil-test-1lcore", "net_null0");
    assert_eq!(code, 1);
    assert!(err.contains("needs at least 2 lcores"), "{err}");
}

#[test]
fn bridge_needs_two_ports() {
    let (code, err) = run_live(&["--mode", "bridge"], "0-1", "vigil-test-bridge1", "net_null0");
    assert_eq!(code, 1);
    assert!(err.contains("bridge mode needs exactly 2 ports, the EAL arguments created 1"), "{err}");
}

#[test]
fn unwritable_eve_log() {
    let dir = TempDir::new("eve");
    let pcap = corpus_pcap(&dir);
    let (code, err) = run(&["replay", "--pcap", &pcap, "--eve-log", "/nonexistent/dir/eve.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot open EVE log /nonexistent/dir/eve.json"), "{err}");
}
