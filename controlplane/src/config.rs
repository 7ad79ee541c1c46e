//! The `[controlplane]` section of `vigil.toml` (the file the dataplane reads too). Every
//! field has a default; unknown fields are errors; a parse error names file, line, field.
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpConfig {
    /// Address of the REST API (loopback by default).
    pub listen: SocketAddr,
    /// RocksDB directory.
    pub data_dir: PathBuf,
    /// Unix socket the dataplane connects to.
    pub socket: PathBuf,
    /// The node's own addresses (the built-in group `nodes`).
    pub nodes: Vec<IpAddr>,
    /// Alerts older than this many days are deleted.
    pub alert_max_age_days: u64,
    /// At most this many alerts are kept (the oldest go first).
    pub alert_max_count: u64,
    /// Directory of the capture files the dataplane writes.
    pub capture_dir: PathBuf,
}

impl Default for CpConfig {
    fn default() -> Self {
        CpConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8750)),
            data_dir: "/var/lib/vigil/cp".into(),
            socket: "/run/vigil/cp.sock".into(),
            nodes: Vec::new(),
            alert_max_age_days: 30,
            alert_max_count: 1_000_000,
            capture_dir: "/var/lib/vigil/captures".into(),
        }
    }
}

/// The whole file as the control plane sees it: its own section; the dataplane's sections
/// are the dataplane's to check.
#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    controlplane: CpConfig,
}

/// The same errors as the dataplane's, for the same file.
pub use vigil_dataplane::config::ConfigError;

impl CpConfig {
    pub fn load(path: &Path) -> Result<CpConfig, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read { path: p.clone(), err })?;
        Self::parse(&text, &p)
    }

    pub fn parse(text: &str, path: &str) -> Result<CpConfig, ConfigError> {
        toml::from_str::<File>(text).map(|f| f.controlplane).map_err(|e| ConfigError::parse(text, path, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn defaults_and_errors_name_the_place() {
        let c = CpConfig::parse("[dataplane]\nmode = \"bridge\"\n", "v.toml").unwrap();
        assert_eq!(c, CpConfig::default());
        let c = CpConfig::parse("[controlplane]\nnodes = [\"192.0.2.1\"]\nalert_max_count = 5\n", "v.toml").unwrap();
        assert_eq!((c.nodes.len(), c.alert_max_count), (1, 5));
        let e = CpConfig::parse("[controlplane]\nlisten = \"127.0.0.1:80\"\nlistne = 1\n", "v.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("config file v.toml:3:"), "{e}");
        assert!(e.contains("listne"), "{e}");
    }
}
