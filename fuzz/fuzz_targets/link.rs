//! Any bytes from a peer through the link's frame reader, decoded as either direction's
//! messages: never a panic, never more buffered than was pushed, nothing buffered after a
//! fatal error, and every message that decodes encodes and decodes back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_dataplane::link::msg::{CpMsg, DpMsg};
use vigil_dataplane::link::{encode, FrameReader};

/// One pass over `data` fed in pieces of `split` bytes, decoding `$t`. (A macro: the fuzz
/// crate depends on the dataplane only, so serde's traits cannot be named here.)
macro_rules! run {
    ($t:ty, $data:expr, $split:expr) => {{
        let mut r = FrameReader::new();
        let mut pushed = 0;
        'stream: for chunk in $data.chunks($split) {
            r.push(chunk);
            pushed += chunk.len();
            assert!(r.buffered() <= pushed);
            loop {
                match r.next_frame::<$t>() {
                    Ok(Some(m)) => {
                        let again = encode(&m).expect("a decoded message encodes");
                        let mut r2 = FrameReader::new();
                        r2.push(&again);
                        assert_eq!(r2.next_frame::<$t>().expect("re-encoded message decodes"), Some(m));
                    }
                    Ok(None) => break,
                    Err(e) if e.recoverable() => {}
                    Err(_) => {
                        assert_eq!(r.buffered(), 0);
                        break 'stream;
                    }
                }
            }
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let split = 1 + sel as usize % 17;
    run!(DpMsg, rest, split);
    run!(CpMsg, rest, split);
});
