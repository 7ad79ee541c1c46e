//! Every application-protocol probe and parser on arbitrary bytes, cut into chunks of both
//! directions: no panic, bounded work, every event written is valid JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_dataplane::app::engine::exercise(data);
});
