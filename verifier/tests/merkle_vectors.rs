//! Conformance: the transparency-dev/merkle RFC 6962 vectors (`<vectors>/merkle`), and the
//! RFC 6962 roots of the 8 standard leaves computed from stored hashes.
//!
//! Every vector file must be accepted exactly when `wantErr` is false. Inputs that are not a
//! 32-byte SHA-256 hash (some vectors use `"don't care"` strings or empty byte strings) cannot
//! even be expressed in our API, so they count as rejected.

use crate::common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_verifier::merkle::{
    Hash, HashReader, NodeId, RightEdge, consistency_proof, inclusion_proof, leaf_hash,
    root_from_reader, verify_consistency, verify_consistency_bytes, verify_inclusion,
    verify_inclusion_bytes,
};
use serde::Deserialize;

/// The number of vector files in each folder, so that a missing folder cannot pass silently.
const INCLUSION_FILES: usize = 98;
const CONSISTENCY_FILES: usize = 98;

/// Vectors whose expected outcome we knowingly do not reproduce, with the reason. Each one is
/// checked to still exist and to still disagree with us, so this list cannot go stale.
/// The 8 standard leaves of the RFC 6962 test vectors.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// The RFC 6962 roots of the trees of the first 1..=8 standard leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

/// Stored hashes of the tree of the 8 standard leaves.
struct Standard(HashMap<NodeId, Hash>);

impl Standard {
    fn new() -> Self {
        let leaves: Vec<Hash> = LEAVES
            .iter()
            .map(|l| leaf_hash(&hex::decode(l).unwrap()))
            .collect();
        Self(
            RightEdge::empty()
                .append(&leaves)
                .unwrap()
                .nodes
                .into_iter()
                .collect(),
        )
    }
}

impl HashReader for Standard {
    type Error = Infallible;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Infallible> {
        Ok(ids.iter().map(|id| self.0[id]).collect())
    }
}

/// Base64 as the vectors carry it; `None` when it is not base64 at all.
fn bytes(b64: &str) -> Option<Vec<u8>> {
    STANDARD.decode(b64).ok()
}

fn all_bytes(b64: &Option<Vec<String>>) -> Option<Vec<Vec<u8>>> {
    b64.iter().flatten().map(|h| bytes(h)).collect()
}

/// A base64 SHA-256 hash, or `None` for anything else (bad base64, wrong length).
fn hash(b64: &str) -> Option<Hash> {
    bytes(b64)?.try_into().ok()
}

fn hashes(b64: &Option<Vec<String>>) -> Option<Vec<Hash>> {
    b64.iter().flatten().map(|h| hash(h)).collect()
}

/// A vector through the wire-level entry point, which checks every length itself. Where every
/// value is a 32-byte hash, the typed API must reach the same answer.
fn verify_inclusion_vector(v: &InclusionVector) -> bool {
    let (Some(leaf), Some(root), Some(proof)) =
        (bytes(&v.leaf_hash), bytes(&v.root), all_bytes(&v.proof))
    else {
        return false;
    };
    let ok = verify_inclusion_bytes(&leaf, v.leaf_idx, v.tree_size, &proof, &root).is_ok();
    if let (Some(leaf), Some(root), Some(proof)) =
        (hash(&v.leaf_hash), hash(&v.root), hashes(&v.proof))
    {
        let typed = verify_inclusion(&leaf, v.leaf_idx, v.tree_size, &proof, &root).is_ok();
        assert_eq!(
            typed, ok,
            "typed and wire-level inclusion disagree on {}",
            v.desc
        );
    }
    ok
}

fn verify_consistency_vector(v: &ConsistencyVector) -> bool {
    let (Some(root1), Some(root2), Some(proof)) =
        (bytes(&v.root1), bytes(&v.root2), all_bytes(&v.proof))
    else {
        return false;
    };
    let ok = verify_consistency_bytes(v.size1, v.size2, &proof, &root1, &root2).is_ok();
    if let (Some(root1), Some(root2), Some(proof)) =
        (hash(&v.root1), hash(&v.root2), hashes(&v.proof))
    {
        let typed = verify_consistency(v.size1, v.size2, &proof, &root1, &root2).is_ok();
        assert_eq!(
            typed, ok,
            "typed and wire-level consistency disagree on {}",
            v.desc
        );
    }
    ok
}

/// Runs `accept` over every file of `<vectors>/<folder>`; panics listing every file whose
/// outcome is not `!wantErr`, and returns the files seen.
fn run<V: for<'de> Deserialize<'de>>(
    root: &Path,
    folder: &str,
    want_err: impl Fn(&V) -> bool,
    desc: impl Fn(&V) -> &str,
    accept: impl Fn(&V) -> bool,
) -> Vec<(PathBuf, V)> {
    let dir = root.join(folder);
    let files = common::json_files(&dir);
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let v: V = serde_json::from_slice(&std::fs::read(&file).unwrap())
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let accepted = accept(&v);
        if accepted == want_err(&v) {
            failures.push(format!(
                "{rel} ({}): wantErr {} but {}",
                desc(&v),
                want_err(&v),
                if accepted { "accepted" } else { "rejected" }
            ));
        }
        seen.push((file, v));
    }
    assert!(
        failures.is_empty(),
        "{} vector files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    seen
}

#[test]
fn inclusion_vectors() {
    let Some(root) = common::vectors_dir() else {
        return;
    };
    let seen = run(
        &root,
        "merkle/inclusion",
        |v: &InclusionVector| v.want_err,
        |v| &v.desc,
        verify_inclusion_vector,
    );
    assert_eq!(seen.len(), INCLUSION_FILES, "inclusion vector files");
    // Our generator reproduces every happy-path proof over the standard leaves.
    let tree = Standard::new();
    let mut happy = 0;
    for (file, v) in seen.iter().filter(|(_, v)| !v.want_err && v.tree_size <= 8) {
        let Some(root) = hash(&v.root) else { continue };
        if root_from_reader(&tree, v.tree_size).unwrap() != root {
            continue;
        }
        let got = inclusion_proof(&tree, v.leaf_idx, v.tree_size).unwrap();
        assert_eq!(Some(got), hashes(&v.proof), "{}", file.display());
        happy += 1;
    }
    assert_eq!(
        happy, 5,
        "happy-path inclusion vectors over the standard leaves"
    );
}

#[test]
fn consistency_vectors() {
    let Some(root) = common::vectors_dir() else {
        return;
    };
    let seen = run(
        &root,
        "merkle/consistency",
        |v: &ConsistencyVector| v.want_err,
        |v| &v.desc,
        verify_consistency_vector,
    );
    assert_eq!(seen.len(), CONSISTENCY_FILES, "consistency vector files");
    let tree = Standard::new();
    let mut happy = 0;
    for (file, v) in seen.iter().filter(|(_, v)| !v.want_err && v.size2 <= 8) {
        let roots = (hash(&v.root1), hash(&v.root2));
        let ours = (
            Some(root_from_reader(&tree, v.size1).unwrap()),
            Some(root_from_reader(&tree, v.size2).unwrap()),
        );
        if roots != ours {
            continue;
        }
        let got = consistency_proof(&tree, v.size1, v.size2).unwrap();
        assert_eq!(Some(got), hashes(&v.proof), "{}", file.display());
        happy += 1;
    }
    assert_eq!(
        happy, 5,
        "happy-path consistency vectors over the standard leaves"
    );
}

#[test]
fn rfc6962_roots_of_the_standard_leaves() {
    let tree = Standard::new();
    for (size, want) in ROOTS.iter().enumerate() {
        let root = root_from_reader(&tree, size as u64 + 1).unwrap();
        assert_eq!(hex::encode(root), *want, "size {}", size + 1);
    }
    assert_eq!(
        hex::encode(root_from_reader(&tree, 0).unwrap()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
