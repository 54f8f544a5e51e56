//! Statement payloads as reprove entries: parsing never panics; an entry re-parses unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::predicates::Entry;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::parse(data) {
        assert_eq!(Entry::parse(&e.encode()).expect("encoded entry parses"), e);
    }
});
