//! Pure RESP parsing: header lines (`*N`, `$L`, `:n`, `+s`, `-e`) and inline commands.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// More bytes are needed.
    Incomplete,
    /// The bytes are not RESP.
    Invalid,
}

/// Largest bulk string (Redis' `proto-max-bulk-len` default, 512 MiB).
pub const MAX_BULK: u64 = 512 << 20;
/// Largest array count accepted.
pub const MAX_ARRAY: u64 = 1 << 20;
/// Longest header or inline line.
pub const MAX_LINE: usize = 4096;

/// One CRLF-terminated line: its content and the bytes after it.
pub fn line(b: &[u8]) -> Result<(&[u8], &[u8]), Error> {
    let Some(end) = b.iter().take(MAX_LINE + 2).position(|&c| c == b'\n') else {
        return Err(if b.len() > MAX_LINE + 1 { Error::Invalid } else { Error::Incomplete });
    };
    let l = b.get(..end).unwrap_or(&[]);
    let l = l.strip_suffix(b"\r").ok_or(Error::Invalid)?;
    Ok((l, b.get(end + 1..).unwrap_or(&[])))
}

/// A non-negative decimal of at most 10 digits.
pub fn number(d: &[u8]) -> Result<u64, Error> {
    if d.is_empty() || d.len() > 10 || !d.iter().all(u8::is_ascii_digit) {
        return Err(Error::Invalid);
    }
    Ok(d.iter().fold(0u64, |n, c| n * 10 + u64::from(c - b'0')))
}

/// A `<prefix><number>\r\n` header: the number (`-1` for a null) and the rest.
pub fn header(b: &[u8], prefix: u8) -> Result<(Option<u64>, &[u8]), Error> {
    match b.first() {
        None => return Err(Error::Incomplete),
        Some(c) if *c != prefix => return Err(Error::Invalid),
        Some(_) => {}
    }
    let (l, rest) = line(b)?;
    let d = l.get(1..).unwrap_or(&[]);
    if d == b"-1" {
        return Ok((None, rest));
    }
    let n = number(d)?;
    let max = if prefix == b'$' { MAX_BULK } else { MAX_ARRAY };
    if n > max {
        return Err(Error::Invalid);
    }
    Ok((Some(n), rest))
}

/// Commands only Redis sends inline (an inline `GET /` is HTTP/0.9, `QUIT`, `AUTH`, `PING`
/// are also POP3/FTP/NATS words: those are not here).
pub const INLINE_COMMANDS: &[&[u8]] = &[
    b"INFO",
    b"CONFIG",
    b"SLAVEOF",
    b"REPLICAOF",
    b"FLUSHALL",
    b"FLUSHDB",
    b"KEYS",
    b"DBSIZE",
    b"MONITOR",
    b"SELECT",
    b"HGETALL",
    b"LRANGE",
    b"SMEMBERS",
    b"EXISTS",
    b"EXPIRE",
    b"TTL",
    b"INCR",
    b"HSET",
    b"HGET",
    b"LPUSH",
    b"RPUSH",
    b"SADD",
    b"ZADD",
    b"CLIENT",
    b"CLUSTER",
    b"SCAN",
    b"GET",
    b"SET",
    b"DEL",
    b"HELLO",
    b"COMMAND",
    b"BGSAVE",
    b"LASTSAVE",
    b"SLOWLOG",
    b"MODULE",
    b"EVAL",
];

/// An inline command line of a Redis-only command: its name.
pub fn inline_command(l: &[u8]) -> Option<&[u8]> {
    if !l.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
        return None;
    }
    let mut words = l.split(|&c| c == b' ').filter(|w| !w.is_empty());
    let name = words.next()?;
    let known = INLINE_COMMANDS.iter().find(|c| c.eq_ignore_ascii_case(name))?;
    let first_arg = words.next();
    // `GET /x HTTP/1.0`, `INFO {json}` (NATS): not Redis.
    let foreign = first_arg.is_some_and(|a| a.starts_with(b"/") || a.starts_with(b"{"))
        || l.windows(6).any(|w| w.eq_ignore_ascii_case(b" HTTP/"));
    let args_ok = match *known {
        b"GET" | b"SELECT" => first_arg.is_some() && words.next().is_none(),
        b"SET" => first_arg.is_some() && words.next().is_some(),
        _ => true,
    };
    (!foreign && args_ok).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_lines() {
        assert_eq!(header(b"*2\r\n$4", b'*'), Ok((Some(2), &b"$4"[..])));
        assert_eq!(header(b"$-1\r\n", b'$'), Ok((None, &b""[..])));
        assert_eq!(header(b"*2", b'*'), Err(Error::Incomplete));
        assert_eq!(header(b"*x\r\n", b'*'), Err(Error::Invalid));
        assert_eq!(header(b"*2\n", b'*'), Err(Error::Invalid));
        assert_eq!(inline_command(b"info replication"), Some(&b"info"[..]));
        assert_eq!(inline_command(b"GET / HTTP/1.1"), None);
        assert_eq!(inline_command(b"QUIT"), None);
    }
}
