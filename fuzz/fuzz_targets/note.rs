//! Signed notes: parsing never panics, and what parses re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::note::Note;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        assert_eq!(note.encode(), data, "a parsed note re-encodes to its input");
    }
});
