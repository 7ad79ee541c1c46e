//! Any sequence of TCP segments (indices, directions, sequence numbers, flags, payloads)
//! through the stream reassembler: no panic, delivered offsets never go backwards, nothing
//! past the depth, and closing every flow frees every buffered byte.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_dataplane::flow::stream::{StreamConfig, StreamEvent, Streams};

fuzz_target!(|data: &[u8]| {
    let cfg = StreamConfig { depth: 4096, max_ooo_segments: 4, max_ooo_bytes: 2048, pool_bytes: 16 * 1024 };
    let mut s = Streams::new(8, cfg);
    let mut next = [[0u64; 2]; 8];
    fn check(next: &mut [[u64; 2]; 8], idx: u32, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data { dir, offset, data } => {
                let n = &mut next[idx as usize % 8][dir & 1];
                assert!(offset >= *n, "offsets went backwards");
                assert!(offset + data.len() as u64 <= 4096, "past the depth");
                *n = offset + data.len() as u64;
            }
            StreamEvent::Gap { dir, offset, len } => {
                let n = &mut next[idx as usize % 8][dir & 1];
                assert!(offset >= *n);
                *n = offset + len;
            }
            _ => {}
        }
    }
    let mut i = 0usize;
    while i + 8 <= data.len() {
        let h = &data[i..i + 8];
        let idx = (h[0] % 8) as u32;
        let dir = (h[1] & 1) as usize;
        let seq = u32::from_le_bytes([h[2], h[3], h[4], h[5]]);
        let flags = h[6];
        let len = (h[7] as usize) * 4;
        i += 8;
        match h[0] >> 5 {
            7 => {
                s.close(idx, &mut |ev| check(&mut next, idx, ev));
                next[idx as usize] = [0, 0];
            }
            6 => {
                s.reset(idx);
                next[idx as usize] = [0, 0];
            }
            _ => {
                let payload = data.get(i..(i + len).min(data.len())).unwrap_or_default();
                i += payload.len();
                s.segment(idx, dir, seq, flags, payload, &mut |ev| check(&mut next, idx, ev));
            }
        }
    }
    for idx in 0..8 {
        s.close(idx, &mut |ev| check(&mut next, idx, ev));
    }
});
