//! Signing reprove entries: DSSE envelopes over in-toto statements, signed with a note key
//! (`PRIVATE+KEY+…`), keyid = the signer's vkey.

use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::NoteSigner;
use reprove_verifier::statement::PAYLOAD_TYPE;

/// Signs an in-toto statement (its JSON bytes) as a DSSE envelope.
pub fn sign_statement(signer: &NoteSigner, statement: &[u8]) -> anyhow::Result<Envelope> {
    Ok(Envelope::sign_with_note_keys(
        PAYLOAD_TYPE,
        statement,
        &[signer],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprove_verifier::dsse::TrustedKey;

    #[test]
    fn signed_envelopes_verify_and_name_the_signer() {
        let signer = NoteSigner::from_seed("publisher.example", &[5; 32]).unwrap();
        let env = sign_statement(&signer, br#"{"_type":"x","a":"\u0001"}"#).unwrap();
        assert_eq!(env.signatures()[0].keyid, signer.verifier().to_string());
        let key = |s: &NoteSigner| TrustedKey {
            id: String::new(),
            key: *s.verifier().verifying_key(),
        };
        assert!(env.verify(&[key(&signer)], 1, &[PAYLOAD_TYPE]).is_ok());
        let other = NoteSigner::from_seed("publisher.example", &[6; 32]).unwrap();
        assert!(env.verify(&[key(&other)], 1, &[PAYLOAD_TYPE]).is_err());
    }
}
