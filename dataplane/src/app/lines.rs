//! Line splitting for the text protocols (SMTP, FTP, POP3, IMAP): a direction's bytes into
//! whole lines across chunks, with over-long lines skipped rather than buffered.

/// Splits a direction into lines across chunks; lines longer than `MAX` are skipped.
#[derive(Debug, Default)]
pub struct Lines<const MAX: usize> {
    /// Inside an over-long line: drop bytes up to its end.
    skipping: bool,
}

impl<const MAX: usize> Lines<MAX> {
    /// Calls `f` on each whole line of `b` (without its CR LF) while it returns true;
    /// returns the bytes consumed (a partial line at the end is left for the next call,
    /// unless it is already longer than `MAX`).
    pub fn feed(&mut self, b: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> usize {
        let mut off = 0;
        while let Some(rest) = b.get(off..) {
            let Some(end) = rest.iter().position(|&c| c == b'\n') else {
                if rest.len() > MAX {
                    self.skipping = true;
                    return b.len();
                }
                break;
            };
            let line = rest.get(..end).unwrap_or(&[]);
            off += end + 1;
            if std::mem::take(&mut self.skipping) {
                continue;
            }
            if !f(line.strip_suffix(b"\r").unwrap_or(line)) {
                break;
            }
        }
        off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn lines_across_chunks_and_long_lines_skipped() {
        let mut l: Lines<8> = Lines::default();
        let mut seen = Vec::new();
        let used = l.feed(b"ab\r\ncd", |x| {
            seen.push(x.to_vec());
            true
        });
        assert_eq!((used, seen.clone()), (4, vec![b"ab".to_vec()]));
        // A partial line longer than the bound is skipped up to its end.
        assert_eq!(l.feed(b"0123456789", |_| true), 10);
        let used = l.feed(b"tail\nok\n", |x| {
            seen.push(x.to_vec());
            true
        });
        assert_eq!(used, 8);
        assert_eq!(seen.last().map(Vec::as_slice), Some(&b"ok"[..]));
        assert_eq!(seen.len(), 2);
    }
}
