//! Durability of the store under `kill -9`: a child process (this test binary, re-executed
//! with an environment variable) appends alerts in a loop and prints every id that
//! `append_alerts` returned; the parent SIGKILLs it mid-stream, reopens the store and checks
//! that every printed id is there, that the alert count matches what is stored, and that
//! the store keeps working. Three rounds on the same store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vigil_controlplane::model::{Alert, AlertKind, FlowRef};
use vigil_controlplane::store::{AlertQuery, Store, StoreConfig};

const CHILD_ENV: &str = "VIGIL_STORE_KILL_TEST_DIR";
const TEST_NAME: &str = "acknowledged_alerts_survive_kill_9";

fn alert(i: u64) -> Alert {
    let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    Alert {
        id: 0,
        ts_ms,
        kind: AlertKind::Threat,
        severity: 1,
        flow: FlowRef {
            proto: 17,
            src: "10.0.0.1".parse().unwrap(),
            src_port: 5353,
            dst: "10.0.0.2".parse().unwrap(),
            dst_port: 53,
            app: "dns".into(),
            flow_id: i,
        },
        from_group: "web".into(),
        to_group: "external".into(),
        rule_id: None,
        signature: Some("1:1 test".into()),
        capture_id: None,
        action: "alert".into(),
        message: format!("alert {i}"),
    }
}

/// The child: append batches of 1 to 16 alerts until killed (or after a minute, if the
/// parent vanished without killing it), printing `acked <id>` for every id returned.
fn child(dir: &Path) -> ! {
    let store = Store::open(dir, &StoreConfig::default()).unwrap();
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    let mut i = 0u64;
    while start.elapsed() < Duration::from_secs(60) {
        let n = 1 + i % 16;
        let batch: Vec<Alert> = (i..i + n).map(alert).collect();
        i += n;
        for id in store.append_alerts(&batch).unwrap() {
            if writeln!(out, "acked {id}").is_err() {
                std::process::exit(1);
            }
        }
        if out.flush().is_err() {
            std::process::exit(1);
        }
    }
    std::process::exit(2)
}

/// Kills the child if the parent's test fails first.
struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one child, kills it after `kill_after` acknowledged ids; returns every id it printed.
fn run_and_kill(dir: &Path, kill_after: usize) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut reader = BufReader::new(child.0.stdout.take().unwrap());
    let mut ids = Vec::new();
    let mut killed = false;
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        // A line cut by the kill is not an acknowledgement.
        if let Some(id) = line.strip_suffix('\n').and_then(|l| l.strip_prefix("acked ")) {
            ids.push(id.parse::<u64>().unwrap());
        }
        if !killed && (ids.len() >= kill_after || Instant::now() > deadline) {
            // SIGKILL; whatever the child printed before it died is still read below.
            child.0.kill().unwrap();
            killed = true;
        }
    }
    let status = child.0.wait().unwrap();
    assert!(killed, "the child exited by itself ({status}) after {} ids", ids.len());
    assert!(!status.success(), "{status}");
    assert!(ids.len() >= kill_after, "only {} ids before the deadline", ids.len());
    ids
}

#[test]
fn acknowledged_alerts_survive_kill_9() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked = BTreeSet::new();
    for (round, kill_after) in [300, 437, 211].into_iter().enumerate() {
        let ids = run_and_kill(dir.path(), kill_after);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "round {round}: ids are increasing");
        acked.extend(ids);

        let store = Store::open(dir.path(), &StoreConfig::default())
            .unwrap_or_else(|e| panic!("round {round}: the store does not reopen: {e}"));
        for &id in &acked {
            let a = store.get_alert(id).unwrap();
            assert!(a.is_some_and(|a| a.id == id), "round {round}: acknowledged alert {id} is lost");
        }
        // The count, written in the same batches as the alerts, matches what is stored.
        let mut stored = BTreeSet::new();
        let mut q = AlertQuery::default();
        loop {
            let (page, next) = store.query_alerts(&q).unwrap();
            stored.extend(page.iter().map(|a| a.id));
            match next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        assert_eq!(store.alert_count(), stored.len() as u64, "round {round}");
        assert!(stored.is_superset(&acked), "round {round}");
        // And it takes new alerts after the crash.
        let new = store.append_alerts(&[alert(u64::MAX)]).unwrap();
        assert!(new[0] > *stored.last().unwrap(), "round {round}");
        acked.extend(new);
    }
}
