//! Any file must read as records, an error or a clean end: never a panic, never a buffer
//! past the record bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vigil_dataplane::wire::pcap::{Reader, MAX_RECORD_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = Reader::new(data) {
        for _ in 0..10_000 {
            match r.next_record() {
                Ok(Some(rec)) => assert!(rec.data.len() <= MAX_RECORD_LEN),
                _ => break,
            }
        }
    }
});
