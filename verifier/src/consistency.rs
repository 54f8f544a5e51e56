//! Consistency between a checkpoint a consumer saw before and one it sees now.
//!
//! A consumer keeps the last checkpoint it verified for each log. Every newer checkpoint must
//! extend it: same origin, a tree at least as large, and a valid consistency proof between the
//! two roots. Anything else means the log showed this consumer a fork or a rollback, which is a
//! security error, not a reason to distrust one artifact. The state itself (where the old
//! checkpoint is kept, and how it is replaced) is the caller's: this module only decides.

use crate::checkpoint::VerifiedCheckpoint;
use crate::merkle::{Hash, ProofError, verify_consistency};

/// How a new checkpoint relates to the one seen before, when it is consistent with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The same tree (same size, same root).
    Same,
    /// A larger tree that provably extends the old one.
    Extends,
}

/// Why a new checkpoint cannot be accepted after an old one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// The two checkpoints are of different logs (the caller compared the wrong state).
    #[error("the checkpoints are of different logs ({old:?} and {new:?})")]
    OtherLog { old: String, new: String },
    /// The new tree is smaller than one already seen: the log rolled back.
    #[error(
        "rollback: the log now shows a tree of {new} entries, but a tree of {old} was seen before"
    )]
    Rollback { old: u64, new: u64 },
    /// Two trees of one size with different roots: a fork.
    #[error("fork: two different trees of size {size}")]
    SameSizeFork { size: u64 },
    /// The larger tree does not provably contain the smaller one: a fork.
    #[error("fork: tree {new} does not extend tree {old} ({reason})")]
    NotAnExtension {
        old: u64,
        new: u64,
        reason: ProofError,
    },
}

/// Checks that `new` extends `old`, with `proof` the consistency proof from `old`'s size to
/// `new`'s (leave it empty when the sizes are equal or `old` is empty).
pub fn check_consistency(
    old: &VerifiedCheckpoint,
    new: &VerifiedCheckpoint,
    proof: &[Hash],
) -> Result<Progress, Inconsistency> {
    if old.origin() != new.origin() {
        return Err(Inconsistency::OtherLog {
            old: old.origin().to_string(),
            new: new.origin().to_string(),
        });
    }
    let (first, second) = (old.size(), new.size());
    if second < first {
        return Err(Inconsistency::Rollback {
            old: first,
            new: second,
        });
    }
    if first == second {
        return if old.root() == new.root() {
            Ok(Progress::Same)
        } else {
            Err(Inconsistency::SameSizeFork { size: first })
        };
    }
    verify_consistency(first, second, proof, old.root(), new.root()).map_err(|reason| {
        Inconsistency::NotAnExtension {
            old: first,
            new: second,
            reason,
        }
    })?;
    Ok(Progress::Extends)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, WitnessPolicy, sign, verify_checkpoint};
    use crate::merkle::{leaf_hash, node_hash};
    use crate::note::NoteSigner;

    const ORIGIN: &str = "example.com/log";

    fn checkpoint(origin: &str, size: u64, root: Hash) -> VerifiedCheckpoint {
        let signer = NoteSigner::from_seed(origin, &[9; 32]).unwrap();
        let note = sign(&Checkpoint::new(origin, size, root).unwrap(), &signer).unwrap();
        verify_checkpoint(&note, &signer.verifier(), &WitnessPolicy::none()).unwrap()
    }

    #[test]
    fn extensions_are_accepted_and_everything_else_is_named() {
        let (a, b, c) = (leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c"));
        let one = checkpoint(ORIGIN, 1, a);
        let two = checkpoint(ORIGIN, 2, node_hash(&a, &b));
        let two_forked = checkpoint(ORIGIN, 2, node_hash(&a, &c));
        assert_eq!(check_consistency(&one, &one, &[]), Ok(Progress::Same));
        assert_eq!(check_consistency(&one, &two, &[b]), Ok(Progress::Extends));
        assert_eq!(
            check_consistency(&two, &one, &[]),
            Err(Inconsistency::Rollback { old: 2, new: 1 })
        );
        assert_eq!(
            check_consistency(&two, &two_forked, &[]),
            Err(Inconsistency::SameSizeFork { size: 2 })
        );
        assert!(matches!(
            check_consistency(&one, &two, &[c]),
            Err(Inconsistency::NotAnExtension { old: 1, new: 2, .. })
        ));
        assert!(matches!(
            check_consistency(&one, &two, &[]),
            Err(Inconsistency::NotAnExtension { .. })
        ));
        let other = checkpoint("example.com/other", 2, node_hash(&a, &b));
        assert!(matches!(
            check_consistency(&one, &other, &[b]),
            Err(Inconsistency::OtherLog { .. })
        ));
    }
}
