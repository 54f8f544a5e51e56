//! in-toto statements: parsing never panics; what parses and encodes parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::statement::Statement;

fuzz_target!(|data: &[u8]| {
    if let Ok(st) = Statement::parse(data) {
        if let Ok(bytes) = st.encode() {
            Statement::parse(&bytes).expect("encoded statement parses");
        }
    }
});
