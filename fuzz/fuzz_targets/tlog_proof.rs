//! tlog-proof files: parsing never panics, and what parses re-encodes to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::proof::TlogProof;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.encode(), data);
    }
});
