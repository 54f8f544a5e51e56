//! Tile and bundle paths: parsing never panics, and a parsed path formats back to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::tiles::parse_path;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(p) = parse_path(s) {
        assert_eq!(p.path(), s);
    }
});
