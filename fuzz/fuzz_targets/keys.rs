//! Verifier and private key strings: parsing never panics; a vkey re-encodes to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::note::{NoteSigner, NoteVerifier};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(v) = NoteVerifier::parse(s) {
        assert_eq!(v.to_string(), s);
    }
    let _ = NoteSigner::from_private_key(s);
});
