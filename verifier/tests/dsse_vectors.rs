//! DSSE conformance: every vector of `<vectors>/dsse/vectors.json` (secure-systems-lab/dsse).
//!
//! For each vector: the PAE we compute must equal the vector's `pae` hex (when given; see
//! `check` for the one vector whose signature deliberately covers another PAE), and
//! parse + verify with the vector's trusted keys, threshold and supported payload types must
//! accept or reject as `expect` says. All failures are reported together.

use crate::common;

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use reprove_verifier::dsse::{self, Envelope, TrustedKey};
use serde::Deserialize;

/// How many vectors the file holds; a change means the file changed and this test needs a look.
const EXPECTED_VECTORS: usize = 9;

#[derive(Deserialize)]
struct VectorFile {
    keys: BTreeMap<String, KeySpec>,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct KeySpec {
    algorithm: String,
    seed: String,
    public: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vector {
    id: String,
    envelope: serde_json::Value,
    trusted_keys: Vec<String>,
    threshold: usize,
    supported_payload_types: Vec<String>,
    pae: Option<String>,
    expect: String,
}

#[test]
fn dsse_conformance_vectors() {
    let Some(dir) = common::vectors_dir() else {
        return;
    };
    let path = dir.join("dsse/vectors.json");
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: VectorFile =
        serde_json::from_slice(&text).expect("vectors.json has the documented schema");

    let mut keys = BTreeMap::new();
    for (name, spec) in &file.keys {
        assert_eq!(spec.algorithm, "ed25519", "key {name}");
        let seed: [u8; 32] = hex::decode(&spec.seed).unwrap().try_into().unwrap();
        let signing = SigningKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(signing.verifying_key().to_bytes()),
            spec.public,
            "key {name}: seed and public key disagree"
        );
        keys.insert(name.clone(), signing.verifying_key());
    }

    let mut failures = Vec::new();
    for v in &file.vectors {
        if let Err(why) = check(v, &keys) {
            failures.push(format!("{}: {why}", v.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} DSSE vectors failed:\n{}",
        failures.len(),
        file.vectors.len(),
        failures.join("\n")
    );
    assert_eq!(file.vectors.len(), EXPECTED_VECTORS, "vectors processed");
}

fn check(v: &Vector, keys: &BTreeMap<String, ed25519_dalek::VerifyingKey>) -> Result<(), String> {
    let bytes = serde_json::to_vec(&v.envelope).map_err(|e| e.to_string())?;
    let env = match Envelope::parse(&bytes) {
        Ok(env) => env,
        Err(e) if v.expect == "reject" => {
            eprintln!("{}: rejected at parse: {e}", v.id);
            return Ok(());
        }
        Err(e) => return Err(format!("parse failed: {e}")),
    };
    if Envelope::parse(&env.encode()).as_ref().ok() != Some(&env) {
        return Err("encode does not round-trip through parse".into());
    }
    // `pae` is the byte string the vector's signatures were made over. For an accepted vector
    // that must be exactly our PAE of the envelope. A rejected vector may carry signatures over
    // other bytes (`payload-type-swapped`): then check that they really do verify over the
    // given `pae`, so the rejection is for the binding and not for a broken signature.
    let ours = env.pae();
    if ours != dsse::pae(env.payload_type(), env.payload()) {
        return Err("Envelope::pae disagrees with dsse::pae".into());
    }
    if let Some(want) = &v.pae {
        let want = hex::decode(want).map_err(|e| format!("pae is not hex: {e}"))?;
        if ours != want {
            if v.expect == "accept" {
                return Err(format!(
                    "PAE {}, want {}",
                    hex::encode(&ours),
                    hex::encode(&want)
                ));
            }
            let signed_elsewhere = env.signatures().iter().any(|s| {
                ed25519_dalek::Signature::from_slice(&s.sig)
                    .is_ok_and(|sig| keys.values().any(|k| k.verify_strict(&want, &sig).is_ok()))
            });
            if !signed_elsewhere {
                return Err(
                    "PAE differs from the vector's and no signature covers the vector's".into(),
                );
            }
            eprintln!("{}: signatures cover another PAE than the envelope's", v.id);
        }
    }
    let trusted = v
        .trusted_keys
        .iter()
        .map(|id| {
            keys.get(id)
                .map(|k| TrustedKey {
                    id: id.clone(),
                    key: *k,
                })
                .ok_or(format!("unknown key {id}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let types: Vec<&str> = v
        .supported_payload_types
        .iter()
        .map(String::as_str)
        .collect();
    match (env.verify(&trusted, v.threshold, &types), v.expect.as_str()) {
        (Ok(_), "accept") => Ok(()),
        (Err(e), "reject") => {
            eprintln!("{}: rejected: {e}", v.id);
            Ok(())
        }
        (Ok(verified), "reject") => Err(format!(
            "accepted (keys {:?}), want reject",
            verified.key_ids()
        )),
        (Err(e), "accept") => Err(format!("rejected ({e}), want accept")),
        (_, other) => Err(format!("unknown expectation {other:?}")),
    }
}
