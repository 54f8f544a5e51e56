//! Comparing rebuilt outputs with the published artifacts, bit for bit (equal SHA-256, and
//! equal BLAKE3 where the release gives one); unpinned outputs are only named by digest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reprove_verifier::predicates::{Artifact, Digests, ReleaseManifest};

use crate::hash::FileDigests;

/// The comparison of one build's outputs with a release's subjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Every output that was produced, as an attested artifact (sha256 + blake3).
    pub rebuilt: Vec<Artifact>,
    /// Names of the subjects that were not produced or differ.
    pub differing: Vec<String>,
}

impl Comparison {
    /// Whether every subject was rebuilt bit for bit.
    pub fn reproduced(&self) -> bool {
        self.differing.is_empty()
    }
}

/// Compares `outputs` (artifact name → produced file) with `subjects`.
pub fn compare(
    subjects: &[Artifact],
    outputs: &BTreeMap<String, Option<(PathBuf, FileDigests)>>,
) -> Comparison {
    let mut rebuilt = Vec::new();
    let mut differing = Vec::new();
    for s in subjects {
        match outputs.get(&s.name).and_then(Option::as_ref) {
            Some((_, d)) => {
                let digest = Digests {
                    sha256: d.sha256,
                    blake3: Some(d.blake3),
                };
                let same =
                    d.sha256 == s.digest.sha256 && s.digest.blake3.is_none_or(|b| b == d.blake3);
                if !same {
                    differing.push(s.name.clone());
                }
                rebuilt.push(Artifact {
                    name: s.name.clone(),
                    digest,
                });
            }
            None => differing.push(s.name.clone()),
        }
    }
    Comparison { rebuilt, differing }
}

/// The unpinned outputs of `release` the build produced, each named by the digest it has
/// (there is nothing to compare them with); `Err` names the ones it did not produce.
pub fn unpinned_built(
    release: &ReleaseManifest,
    outputs: &BTreeMap<String, Option<(PathBuf, FileDigests)>>,
) -> Result<Vec<Artifact>, Vec<String>> {
    let mut built = Vec::new();
    let mut missing = Vec::new();
    for name in release.predicate.recipe.unpinned_outputs.values() {
        match outputs.get(name).and_then(Option::as_ref) {
            Some((_, d)) => built.push(Artifact {
                name: name.clone(),
                digest: Digests {
                    sha256: d.sha256,
                    blake3: Some(d.blake3),
                },
            }),
            None => missing.push(name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(built)
    } else {
        Err(missing)
    }
}

/// An attestation's subjects: the release's pinned subjects with the digests it fixed, then
/// each unpinned output with the digest this build produced (so a consumer finds the
/// attestation by the digest of the binary it holds); the release's own subjects when that
/// leaves none (a build of an all-unpinned release that produced nothing).
pub fn attested_subjects(release: &ReleaseManifest, rebuilt: &[Artifact]) -> Vec<Artifact> {
    let mut subjects = release.pinned_subjects();
    subjects.extend(
        rebuilt
            .iter()
            .filter(|a| release.is_unpinned(&a.name))
            .cloned(),
    );
    if subjects.is_empty() {
        release.subjects.clone()
    } else {
        subjects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_bytes;

    #[test]
    fn equal_digests_reproduce_and_anything_else_differs() {
        let good = hash_bytes(b"good");
        let subject = |name: &str, blake3: Option<[u8; 32]>| Artifact {
            name: name.into(),
            digest: Digests {
                sha256: good.sha256,
                blake3,
            },
        };
        let out = |d: FileDigests| Some((PathBuf::from("x"), d));
        let outputs = BTreeMap::from([
            ("a".to_owned(), out(good)),
            ("b".to_owned(), out(hash_bytes(b"bad"))),
            ("c".to_owned(), None),
        ]);
        let c = compare(
            &[
                subject("a", Some(good.blake3)),
                subject("b", None),
                subject("c", None),
            ],
            &outputs,
        );
        assert_eq!(c.differing, ["b", "c"]);
        assert_eq!(c.rebuilt.len(), 2);
        assert!(!c.reproduced());
        // A release blake3 that disagrees is a difference even with equal sha256.
        let c = compare(&[subject("a", Some([9; 32]))], &outputs);
        assert_eq!(c.differing, ["a"]);
        let c = compare(&[subject("a", None)], &outputs);
        assert!(c.reproduced());
    }
}
