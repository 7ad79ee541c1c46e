//! Pure Stratum (JSON-RPC over lines) helpers: byte search for the probe, the method of a
//! request, and the worker/agent fields of the requests that name them.
use serde_json::Value;

/// Longest line parsed as JSON.
pub const MAX_LINE: usize = 16 * 1024;
/// Longest field value written.
pub const MAX_FIELD: usize = 256;

/// Position of `needle` in `hay` (both short: probe windows and single lines).
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first `"method"` string member in `b` (no JSON parsing: for probes).
pub fn method(b: &[u8]) -> Option<&[u8]> {
    let at = find(b, b"\"method\"")?;
    let rest = b.get(at + 8..)?;
    let rest = rest.get(rest.iter().position(|c| !c.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b":")?;
    let rest = rest.get(rest.iter().position(|c| !c.is_ascii_whitespace())?..)?;
    let rest = rest.strip_prefix(b"\"")?;
    rest.get(..rest.iter().position(|&c| c == b'"')?)
}

/// Methods of mining pools: Stratum v1 (`mining.*`), Ethereum's getwork-over-stratum
/// (`eth_*`), and xmrig/Monero (`login`, `job`, `submit`, `keepalived`, which need more
/// evidence: see [`is_mining_line`]).
pub fn mining_method(m: &[u8], line: &[u8]) -> bool {
    let has = |n: &[u8]| find(line, n).is_some();
    m.starts_with(b"mining.")
        || matches!(m, b"eth_submitLogin" | b"eth_getWork" | b"eth_submitWork" | b"eth_submitHashrate")
        || (m == b"login" && (has(b"\"agent\"") || has(b"\"pass\"")))
        || (m == b"job" && has(b"\"blob\"") && has(b"\"job_id\""))
        || (m == b"submit" && has(b"\"job_id\"") && has(b"\"nonce\""))
        || m == b"keepalived"
}

/// A reply only a pool writes: a subscribe result naming mining.notify, or an xmrig login
/// result with a job.
pub fn is_mining_reply(line: &[u8]) -> bool {
    let has = |n: &[u8]| find(line, n).is_some();
    has(b"\"mining.notify\"")
        || has(b"\"mining.set_difficulty\"")
        || (has(b"\"job_id\"") && has(b"\"blob\"") && has(b"\"target\""))
}

/// (user/worker, agent) of a request: `mining.authorize` params[0], `mining.subscribe`
/// params[0] (the miner's agent), xmrig `login` params.login / params.agent,
/// `eth_submitLogin` params[0] and the top-level `worker`.
pub fn identity<'v>(method: &str, v: &'v Value) -> (Option<&'v str>, Option<&'v str>) {
    let params = v.get("params");
    let first = params.and_then(|p| p.get(0)).and_then(Value::as_str);
    match method {
        "mining.authorize" => (first, None),
        "mining.subscribe" => (None, first),
        "login" => (
            params.and_then(|p| p.get("login")).and_then(Value::as_str),
            params.and_then(|p| p.get("agent")).and_then(Value::as_str),
        ),
        "eth_submitLogin" => (first.or_else(|| v.get("worker").and_then(Value::as_str)), None),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        let l = br#"{"id":1,"method" : "mining.subscribe","params":[]}"#;
        assert_eq!(method(l), Some(&b"mining.subscribe"[..]));
        assert!(mining_method(b"mining.subscribe", l));
        assert!(!mining_method(b"login", br#"{"method":"login","params":{"user":"x"}}"#));
        assert!(is_mining_reply(
            br#"{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a"]],"08000002",4],"error":null}"#
        ));
        let v: Value = serde_json::from_slice(
            br#"{"method":"login","params":{"login":"wallet","pass":"x","agent":"XMRig/6.21.0"}}"#,
        )
        .unwrap();
        assert_eq!(identity("login", &v), (Some("wallet"), Some("XMRig/6.21.0")));
    }
}
