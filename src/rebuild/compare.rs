//! Comparing rebuilt outputs with the published artifacts, bit for bit (equal SHA-256, and
//! equal BLAKE3 where the release gives one).

use std::collections::BTreeMap;
use std::path::PathBuf;

use reprove_verifier::predicates::{Artifact, Digests};

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
