//! Checkpoint texts: parsing never panics, and what parses re-encodes to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = Checkpoint::parse(data) {
        assert_eq!(cp.encode(), data);
    }
});
