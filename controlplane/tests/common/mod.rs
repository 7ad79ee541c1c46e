//! Helpers shared by the control plane's process tests: a `vigil-cp` on a free port with a
//! store in a temp dir, and its tokens.
#![allow(dead_code)]
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running `vigil-cp`, killed on drop.
pub struct Cp {
    pub child: Child,
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
}

impl Cp {
    /// Kills the process (SIGKILL) and hands back its data directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().expect("dir")
    }
}

impl Drop for Cp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `vigil-cp` with its store and link socket in `dir`.
pub fn cp_cmd(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigil-cp"));
    c.arg("--data-dir").arg(dir.join("db")).arg("--socket").arg(dir.join("cp.sock"));
    c
}

/// Creates a token and returns its secret.
pub fn token(dir: &std::path::Path, name: &str, role: &str) -> String {
    let out = cp_cmd(dir).args(["token", "create", "--name", name, "--role", role]).output().expect("run vigil-cp");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts `vigil-cp serve` on a free port and waits until it answers.
pub fn start(dir: tempfile::TempDir) -> Cp {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let child =
        cp_cmd(dir.path()).args(["--listen", &format!("127.0.0.1:{port}"), "serve"]).spawn().expect("spawn vigil-cp");
    let cp = Cp { child, url, dir: Some(dir) };
    let t0 = Instant::now();
    while ureq::get(&format!("{}/healthz", cp.url)).call().is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "vigil-cp did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    cp
}
