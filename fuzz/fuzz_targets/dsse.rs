//! DSSE envelopes: parsing never panics; what parses survives encode → parse unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::dsse::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::parse(data) {
        let again = Envelope::parse(&env.encode()).expect("encoded envelope parses");
        assert_eq!(again, env);
    }
});
