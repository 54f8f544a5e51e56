//! The log head: the latest signed checkpoint, and the glue between the ledger and the
//! verifier's checkpoint format (c2sp.org/tlog-checkpoint). The log emits no extension lines
//! and accepts none in its own storage.

use std::sync::Arc;

use reprove_verifier::checkpoint::{Checkpoint, WitnessPolicy, sign, verify_checkpoint};
use reprove_verifier::merkle::Hash;
use reprove_verifier::note::{NoteSigner, NoteVerifier};

use crate::error::{CheckpointRef, Error, Integrity};

/// A checkpoint signed by the log key: tree size, root hash and the signed note bytes.
///
/// Cheap to clone (the note is shared), so every submitter of a round gets the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    size: u64,
    root: Hash,
    note: Arc<[u8]>,
}

impl Head {
    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// The signed checkpoint note, exactly as served at `<prefix>/checkpoint`.
    pub fn note(&self) -> &Arc<[u8]> {
        &self.note
    }

    /// Signs the checkpoint of the tree `size`, `root` with the log key.
    pub(crate) fn sign(signer: &NoteSigner, size: u64, root: Hash) -> Result<Head, Error> {
        let checkpoint = Checkpoint::new(signer.name(), size, root).map_err(Error::Sign)?;
        let note = sign(&checkpoint, signer).map_err(Error::Sign)?;
        Ok(Head {
            size,
            root,
            note: note.into(),
        })
    }

    /// Verifies stored note bytes as a checkpoint of this log signed by its key. The log
    /// trusts itself here: no witness policy.
    pub(crate) fn verify(
        key: &NoteVerifier,
        bytes: &[u8],
        what: CheckpointRef,
    ) -> Result<Head, Error> {
        let verified = verify_checkpoint(bytes, key, &WitnessPolicy::none())
            .map_err(|error| Integrity::Checkpoint { what, error })?;
        if verified.checkpoint().extensions().next().is_some() {
            return Err(Integrity::CheckpointMalformed {
                what,
                reason: "extension lines",
            }
            .into());
        }
        Ok(Head {
            size: verified.size(),
            root: *verified.root(),
            note: bytes.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str) -> NoteSigner {
        NoteSigner::from_seed(name, &[7; 32]).unwrap()
    }

    #[test]
    fn signed_heads_verify_and_round_trip() {
        let s = signer("example.com/log");
        let head = Head::sign(&s, 20852163, [9; 32]).unwrap();
        let text = std::str::from_utf8(head.note()).unwrap();
        assert!(
            text.starts_with("example.com/log\n20852163\nCQkJ"),
            "{text}"
        );
        let again = Head::verify(&s.verifier(), head.note(), CheckpointRef::Head).unwrap();
        assert_eq!(again, head);
    }

    #[test]
    fn foreign_or_tampered_heads_are_refused() {
        let s = signer("example.com/log");
        let head = Head::sign(&s, 5, [1; 32]).unwrap();
        let other = NoteSigner::from_seed("example.com/log", &[8; 32]).unwrap();
        assert!(Head::verify(&other.verifier(), head.note(), CheckpointRef::Head).is_err());
        let mut bytes = head.note().to_vec();
        bytes[16] = b'6';
        assert!(Head::verify(&s.verifier(), &bytes, CheckpointRef::Head).is_err());
    }
}
