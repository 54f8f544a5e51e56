//! Legacy in-toto link metadata for a rebuild (`reprove rebuild --in-toto-link FILE`).
//!
//! reprove's own record of a rebuild is a DSSE-signed in-toto Statement v1 in the log. Some
//! existing tooling still consumes the older in-toto *link* format (a signed `Metablock` whose
//! `signed` part lists a step's materials, products, command and environment, as rebuilderd
//! publishes): this module writes one, with the `in-toto` crate, signed by the same Ed25519 key
//! as the attestation. It is an export only: nothing in reprove reads links or trusts them.

use anyhow::{Context, anyhow};
use base64::Engine as _;
use in_toto::crypto::{HashAlgorithm, HashValue, PrivateKey};
use in_toto::interchange::Json;
use in_toto::models::step::Command;
use in_toto::models::{LinkMetadataBuilder, TargetDescription, VirtualTargetPath};
use reprove_verifier::note::NoteSigner;
use std::collections::{BTreeMap, HashMap};

/// One step of a supply chain, as a link records it.
#[derive(Debug)]
pub struct LinkStep<'a> {
    /// The step's name in an in-toto layout (e.g. `rebuild`).
    pub name: &'a str,
    /// Inputs: name → sha256.
    pub materials: &'a [(String, [u8; 32])],
    /// Outputs: name → sha256.
    pub products: &'a [(String, [u8; 32])],
    /// The command that ran.
    pub command: &'a [String],
    /// The environment it ran with.
    pub env: &'a BTreeMap<String, String>,
}

/// The link as pretty JSON (`{"signatures": [...], "signed": {"_type": "link", ...}}`),
/// signed with `signer`'s Ed25519 key.
pub fn legacy_link(signer: &NoteSigner, step: &LinkStep<'_>) -> anyhow::Result<Vec<u8>> {
    let key = in_toto_key(signer)?;
    let metablock = LinkMetadataBuilder::new()
        .name(step.name.to_owned())
        .materials(targets(step.materials)?)
        .products(targets(step.products)?)
        .command(Command::from(step.command))
        .env(Some(step.env.clone()))
        .signed::<Json>(&key)
        .map_err(|e| anyhow!("signing the in-toto link: {e}"))?;
    let mut out = serde_json::to_vec_pretty(&metablock).context("encoding the in-toto link")?;
    out.push(b'\n');
    Ok(out)
}

fn targets(
    items: &[(String, [u8; 32])],
) -> anyhow::Result<BTreeMap<VirtualTargetPath, TargetDescription>> {
    items
        .iter()
        .map(|(name, sha256)| {
            let path = VirtualTargetPath::new(name.clone())
                .map_err(|e| anyhow!("{name:?} is not an in-toto target path: {e}"))?;
            let hashes = HashMap::from([(HashAlgorithm::Sha256, HashValue::new(sha256.to_vec()))]);
            Ok((path, hashes))
        })
        .collect()
}

/// The note signer's Ed25519 key as an in-toto key: the seed (from the `PRIVATE+KEY+…`
/// encoding, `0x01 || seed` in its last field) followed by the public key.
fn in_toto_key(signer: &NoteSigner) -> anyhow::Result<PrivateKey> {
    let encoded = signer.to_private_key_string();
    // `PRIVATE+KEY+<name>+<id>+<base64>`: names have no `+`, but base64 may.
    let last = encoded.splitn(5, '+').nth(4).unwrap_or_default();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(last)
        .context("decoding the private key")?;
    let seed = match raw.split_first() {
        Some((1, seed)) if seed.len() == 32 => seed,
        _ => return Err(anyhow!("the key is not an Ed25519 note key")),
    };
    let mut pair = seed.to_vec();
    pair.extend_from_slice(signer.verifier().verifying_key().as_bytes());
    PrivateKey::from_ed25519(&pair).map_err(|e| anyhow!("loading the key for in-toto: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use in_toto::crypto::PublicKey;
    use in_toto::models::{Metablock, MetadataWrapper};

    /// The link of one rebuild step (a source archive in, a tarball out) with `env`.
    fn rebuild_link(signer: &NoteSigner, env: &BTreeMap<String, String>) -> Vec<u8> {
        let materials = [("hello-1.0.0-src.tar.gz".to_owned(), [7; 32])];
        let products = [("hello-1.0.0.tar.gz".to_owned(), [9; 32])];
        let command = ["sh".to_owned(), "build.sh".to_owned()];
        legacy_link(
            signer,
            &LinkStep {
                name: "rebuild",
                materials: &materials,
                products: &products,
                command: &command,
                env,
            },
        )
        .unwrap()
    }

    /// The in-toto crate, as an independent verifier, accepts the link under the public key of
    /// the note signer, and reads back what we put in.
    #[test]
    fn the_in_toto_crate_verifies_our_link() {
        let signer = NoteSigner::from_seed("rebuilder.example", &[3; 32]).unwrap();
        let env = BTreeMap::from([("SOURCE_DATE_EPOCH".to_owned(), "1700000000".to_owned())]);
        let bytes = rebuild_link(&signer, &env);
        let metablock: Metablock = serde_json::from_slice(&bytes).unwrap();
        let public =
            PublicKey::from_ed25519(signer.verifier().verifying_key().as_bytes().to_vec()).unwrap();
        let MetadataWrapper::Link(link) = metablock.verify(1, [&public]).unwrap() else {
            panic!("not a link");
        };
        assert_eq!(link.name, "rebuild");
        let product = &link.products[&VirtualTargetPath::new("hello-1.0.0.tar.gz".into()).unwrap()];
        assert_eq!(product[&HashAlgorithm::Sha256].value(), &[9; 32]);
        assert_eq!(link.env.unwrap()["SOURCE_DATE_EPOCH"], "1700000000");
    }

    /// Regression: a key whose base64 holds a `+` (splitting the encoding from the right broke).
    #[test]
    fn keys_whose_encoding_holds_a_plus_work() {
        let with_plus = (0u8..=255)
            .map(|b| NoteSigner::from_seed("k", &[b; 32]).unwrap())
            .find(|s| {
                s.to_private_key_string()
                    .splitn(5, '+')
                    .nth(4)
                    .unwrap()
                    .contains('+')
            })
            .unwrap();
        assert!(in_toto_key(&with_plus).is_ok());
    }

    #[test]
    fn another_key_does_not_verify_it() {
        let signer = NoteSigner::from_seed("rebuilder.example", &[3; 32]).unwrap();
        let other = NoteSigner::from_seed("rebuilder.example", &[4; 32]).unwrap();
        let bytes = rebuild_link(&signer, &BTreeMap::new());
        let metablock: Metablock = serde_json::from_slice(&bytes).unwrap();
        let public =
            PublicKey::from_ed25519(other.verifier().verifying_key().as_bytes().to_vec()).unwrap();
        assert!(metablock.verify(1, [&public]).is_err());
    }
}
