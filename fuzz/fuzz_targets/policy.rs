//! Policy files: parsing never panics; a parsed policy re-encodes to one that parses the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::policy::Policy;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Policy::parse(data) {
        let text = p.encode();
        let again = Policy::parse(text.as_bytes()).expect("encoded policy parses");
        assert_eq!(again.encode(), text);
    }
});
