//! c2sp.org/tlog-proof: the offline, self-contained proof that an entry is in the log
//! (a `.tlog-proof` file).
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>            optional, NOT authenticated
//! index <leaf index>
//! <base64 hash>             inclusion proof, leaf sibling first, zero or more lines
//!
//! <the signed checkpoint note, with the log signature and any cosignatures>
//! ```
//!
//! [`TlogProof::verify`] is the whole check: the checkpoint's log signature and witness policy
//! (through [`verify_checkpoint`]), then the inclusion of the entry's leaf hash under the
//! checkpoint's root. The `extra` data takes no part in it: anyone can change it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{
    Checkpoint, CheckpointError, VerifiedCheckpoint, WitnessPolicy, decode_hash, parse_decimal,
    verify_checkpoint,
};
use crate::merkle::{Hash, ProofError, leaf_hash, verify_inclusion};
use crate::note::{MAX_NOTE_SIZE, Note, NoteVerifier};

/// The first line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The largest proof file accepted, in bytes (room for the largest note, and then some).
pub const MAX_PROOF_SIZE: usize = 2 * MAX_NOTE_SIZE;

/// The most inclusion proof hashes accepted: no tree of at most `2^64 - 1` leaves needs more.
pub const MAX_PROOF_HASHES: usize = 64;

/// A parsed tlog-proof. Always well formed (its checkpoint parses), but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    checkpoint: Vec<u8>,
}

/// An entry proven to be in the log, under a checkpoint that met the witness policy. Only
/// [`TlogProof::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInclusion {
    index: u64,
    leaf_hash: Hash,
    checkpoint: VerifiedCheckpoint,
}

/// Errors from parsing and verifying tlog-proofs. Only the wrapped
/// [`CheckpointError::is_caller_misuse`] cases are the caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFileError {
    /// Larger than [`MAX_PROOF_SIZE`].
    #[error("proof is {size} bytes, over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    /// The first line is not exactly [`HEADER`].
    #[error("proof does not start with the line {HEADER:?}")]
    MissingHeader,
    /// The `extra` line's data is not canonical standard base64.
    #[error("extra data is not standard padded base64")]
    InvalidExtra,
    /// The `index` line is missing or its value is not a decimal u64 without leading zeros.
    #[error("missing or invalid index line")]
    InvalidIndex,
    /// A proof line (counted from 1 in the file) is not base64 of 32 bytes.
    #[error("line {line}: not a base64 SHA-256 hash")]
    InvalidProofHash { line: usize },
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("{count} proof hashes is over the limit of {max}")]
    TooManyProofHashes { count: usize, max: usize },
    /// No blank line before the checkpoint.
    #[error("no blank line and checkpoint after the proof")]
    MissingCheckpoint,
    /// The checkpoint is malformed or does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof does not prove the entry under the checkpoint.
    #[error("inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// [`TlogProof::verify_under`] was given a checkpoint other than the proof's own.
    #[error("the proof's checkpoint is not the checkpoint it was to be verified under")]
    OtherCheckpoint,
}

impl TlogProof {
    /// A proof from its parts. `checkpoint` is the signed checkpoint note; it must parse.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        proof: Vec<Hash>,
        checkpoint: Vec<u8>,
    ) -> Result<TlogProof, ProofFileError> {
        if proof.len() > MAX_PROOF_HASHES {
            return Err(ProofFileError::TooManyProofHashes {
                count: proof.len(),
                max: MAX_PROOF_HASHES,
            });
        }
        check_checkpoint(&checkpoint)?;
        let p = TlogProof {
            extra,
            index,
            proof,
            checkpoint,
        };
        let size = p.encoded_len();
        if size > MAX_PROOF_SIZE {
            return Err(ProofFileError::TooLarge {
                size,
                max: MAX_PROOF_SIZE,
            });
        }
        Ok(p)
    }

    /// Parses a tlog-proof file. Checks the format only; see [`TlogProof::verify`].
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, ProofFileError> {
        if bytes.len() > MAX_PROOF_SIZE {
            return Err(ProofFileError::TooLarge {
                size: bytes.len(),
                max: MAX_PROOF_SIZE,
            });
        }
        // The proof lines are all non-empty, so the first blank line ends them.
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or(ProofFileError::MissingCheckpoint)?;
        let (head, checkpoint) = (&bytes[..split], &bytes[split + 2..]);
        let mut lines = head.split(|&b| b == b'\n').enumerate().peekable();
        if lines.next().map(|(_, l)| l) != Some(HEADER.as_bytes()) {
            return Err(ProofFileError::MissingHeader);
        }
        let extra = match lines.next_if(|(_, l)| l.starts_with(b"extra ")) {
            Some((_, l)) => Some(
                STANDARD
                    .decode(&l[b"extra ".len()..])
                    .map_err(|_| ProofFileError::InvalidExtra)?,
            ),
            None => None,
        };
        let index = lines
            .next()
            .and_then(|(_, l)| l.strip_prefix(b"index "))
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(parse_decimal)
            .ok_or(ProofFileError::InvalidIndex)?;
        let mut proof = Vec::new();
        while let Some((i, line)) = lines.next() {
            if proof.len() == MAX_PROOF_HASHES {
                let count = MAX_PROOF_HASHES + 1 + lines.count();
                return Err(ProofFileError::TooManyProofHashes {
                    count,
                    max: MAX_PROOF_HASHES,
                });
            }
            let hash = std::str::from_utf8(line)
                .ok()
                .and_then(decode_hash)
                .ok_or(ProofFileError::InvalidProofHash { line: i + 1 })?;
            proof.push(hash);
        }
        check_checkpoint(checkpoint)?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_vec(),
        })
    }

    /// The proof file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(HEADER.as_bytes());
        out.push(b'\n');
        if let Some(extra) = &self.extra {
            out.extend_from_slice(b"extra ");
            out.extend_from_slice(STANDARD.encode(extra).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(format!("index {}\n", self.index).as_bytes());
        for h in &self.proof {
            out.extend_from_slice(STANDARD.encode(h).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Verifies that `entry` is at [`TlogProof::index`] in the log of `log_key`: the
    /// checkpoint's log signature and origin, the `witnesses` policy, and the inclusion proof
    /// from the entry's leaf hash to the checkpoint's root. The extra data is not involved.
    pub fn verify(
        &self,
        entry: &[u8],
        log_key: &NoteVerifier,
        witnesses: &WitnessPolicy,
    ) -> Result<VerifiedInclusion, ProofFileError> {
        let checkpoint = verify_checkpoint(&self.checkpoint, log_key, witnesses)?;
        self.include(entry, checkpoint)
    }

    /// Like [`TlogProof::verify`], for a proof whose checkpoint was already verified:
    /// `checkpoint` must be this proof's checkpoint, byte for byte (else
    /// [`ProofFileError::OtherCheckpoint`]), and only the inclusion is checked. Verifying many
    /// proofs under one checkpoint then costs one signature check, not one per proof.
    pub fn verify_under(
        &self,
        entry: &[u8],
        checkpoint: &VerifiedCheckpoint,
    ) -> Result<VerifiedInclusion, ProofFileError> {
        if self.checkpoint != checkpoint.signed_note() {
            return Err(ProofFileError::OtherCheckpoint);
        }
        self.include(entry, checkpoint.clone())
    }

    /// The inclusion proof from `entry`'s leaf hash to the root of `checkpoint`, this proof's
    /// own (already verified) checkpoint.
    fn include(
        &self,
        entry: &[u8],
        checkpoint: VerifiedCheckpoint,
    ) -> Result<VerifiedInclusion, ProofFileError> {
        let leaf = leaf_hash(entry);
        verify_inclusion(
            &leaf,
            self.index,
            checkpoint.size(),
            &self.proof,
            checkpoint.root(),
        )?;
        Ok(VerifiedInclusion {
            index: self.index,
            leaf_hash: leaf,
            checkpoint,
        })
    }

    /// The extra data: opaque and unauthenticated, never to be trusted on its own.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The claimed leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof hashes, leaf sibling first.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint note, verbatim.
    pub fn checkpoint(&self) -> &[u8] {
        &self.checkpoint
    }

    fn encoded_len(&self) -> usize {
        let extra = self
            .extra
            .as_ref()
            .map_or(0, |e| "extra ".len() + e.len().div_ceil(3) * 4 + 1);
        let index = format!("index {}\n", self.index).len();
        HEADER.len() + 1 + extra + index + self.proof.len() * 45 + 1 + self.checkpoint.len()
    }
}

impl VerifiedInclusion {
    /// The entry's leaf index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The entry's leaf hash.
    pub fn leaf_hash(&self) -> &Hash {
        &self.leaf_hash
    }

    /// The checkpoint the entry is proven under.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

/// The checkpoint part must be a signed note whose text is a checkpoint.
fn check_checkpoint(bytes: &[u8]) -> Result<(), ProofFileError> {
    let note = Note::parse(bytes).map_err(CheckpointError::from)?;
    Checkpoint::parse(note.text().as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{add_cosignatures, cosign, sign};
    use crate::merkle::{empty_root, node_hash};
    use crate::note::{NoteError, NoteSigner};

    fn signer(name: &str, n: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[n; 32]).unwrap()
    }

    fn log() -> NoteSigner {
        signer("example.com/log", 1)
    }

    fn witnesses() -> Vec<NoteSigner> {
        (0..3)
            .map(|i| signer(&format!("w{i}.example"), 10 + i))
            .collect()
    }

    fn policy(quorum: usize) -> WitnessPolicy {
        WitnessPolicy::new(
            witnesses()
                .iter()
                .map(NoteSigner::cosignature_verifier)
                .collect(),
            quorum,
        )
        .unwrap()
    }

    fn entry(i: usize) -> Vec<u8> {
        format!("entry {i}").into_bytes()
    }

    /// RFC 6962 MTH, straight from the definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// RFC 6962 PATH(m, D[n]), leaf sibling first.
    fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = largest_power_of_two_below(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn largest_power_of_two_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// A proof for entry `index` of a log of `size` entries, cosigned by the first
    /// `cosigners` witnesses.
    fn fixture(index: usize, size: usize, cosigners: usize) -> TlogProof {
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&entry(i))).collect();
        let cp = Checkpoint::new("example.com/log", size as u64, mth(&leaves)).unwrap();
        let signed = sign(&cp, &log()).unwrap();
        let cosigs: Vec<_> = witnesses()
            .iter()
            .take(cosigners)
            .zip(1_700_000_000..)
            .map(|(w, t)| cosign(&cp, w, t).unwrap())
            .collect();
        let signed = add_cosignatures(&signed, &cosigs).unwrap();
        TlogProof::new(
            Some(b"context".to_vec()),
            index as u64,
            path(index, &leaves),
            signed,
        )
        .unwrap()
    }

    #[test]
    fn mth_helper_matches_the_rfc_root() {
        // The 8 standard RFC 6962 leaves give the well-known root.
        let leaves: Vec<Hash> = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|h| leaf_hash(&hex::decode(h).unwrap()))
        .collect();
        assert_eq!(
            hex::encode(mth(&leaves)),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn round_trip_and_verify() {
        for (index, size) in [(0, 1), (0, 2), (1, 2), (3, 7), (6, 7), (4, 8), (12, 13)] {
            let p = fixture(index, size, 2);
            let bytes = p.encode();
            let parsed = TlogProof::parse(&bytes).unwrap();
            assert_eq!(parsed, p);
            assert_eq!(parsed.encode(), bytes);
            let v = parsed
                .verify(&entry(index), &log().verifier(), &policy(2))
                .unwrap();
            assert_eq!(v.index(), index as u64);
            assert_eq!(v.leaf_hash(), &leaf_hash(&entry(index)));
            assert_eq!(v.checkpoint().size(), size as u64);
            assert_eq!(v.checkpoint().cosignatures().len(), 2);
            assert_eq!(v.checkpoint().signed_note(), p.checkpoint());
        }
    }

    #[test]
    fn layout_is_the_spec_layout() {
        let p = fixture(3, 7, 1);
        let text = String::from_utf8(p.encode()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("c2sp.org/tlog-proof@v1"));
        assert_eq!(
            lines.next(),
            Some(format!("extra {}", STANDARD.encode("context")).as_str())
        );
        assert_eq!(lines.next(), Some("index 3"));
        for h in p.proof() {
            assert_eq!(lines.next(), Some(STANDARD.encode(h).as_str()));
        }
        assert_eq!(lines.next(), Some(""));
        assert_eq!(lines.next(), Some("example.com/log"));
        assert_eq!(lines.next(), Some("7"));
        // Without extra data the line is absent.
        let bare = TlogProof::new(None, 0, vec![], p.checkpoint().to_vec()).unwrap();
        assert!(
            bare.encode()
                .starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n\nexample.com/log\n")
        );
        assert_eq!(TlogProof::parse(&bare.encode()).unwrap().extra(), None);
    }

    #[test]
    fn extra_is_unauthenticated() {
        let p = fixture(2, 5, 2);
        for extra in [
            None,
            Some(vec![]),
            Some(b"something else entirely".to_vec()),
        ] {
            let changed = TlogProof::new(
                extra.clone(),
                p.index(),
                p.proof().to_vec(),
                p.checkpoint().to_vec(),
            )
            .unwrap();
            let reparsed = TlogProof::parse(&changed.encode()).unwrap();
            assert_eq!(reparsed.extra(), extra.as_deref());
            assert!(
                reparsed
                    .verify(&entry(2), &log().verifier(), &policy(2))
                    .is_ok()
            );
        }
    }

    #[test]
    fn tampering_is_detected() {
        let p = fixture(5, 11, 2);
        let (lk, pol) = (log().verifier(), policy(2));
        let with = |index: u64, proof: Vec<Hash>, checkpoint: Vec<u8>| {
            TlogProof::new(None, index, proof, checkpoint).unwrap()
        };
        // Another entry.
        assert_eq!(
            p.verify(&entry(6), &lk, &pol),
            Err(ProofFileError::Inclusion(ProofError::RootMismatch))
        );
        assert!(p.verify(b"", &lk, &pol).is_err());
        // Another index: same proof length here, different path.
        let other_index = with(4, p.proof().to_vec(), p.checkpoint().to_vec());
        assert_eq!(
            other_index.verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Inclusion(ProofError::RootMismatch))
        );
        let out_of_range = with(11, p.proof().to_vec(), p.checkpoint().to_vec());
        assert_eq!(
            out_of_range.verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Inclusion(ProofError::IndexOutOfRange {
                index: 11,
                size: 11
            }))
        );
        // One bit of one proof hash.
        for i in 0..p.proof().len() {
            let mut proof = p.proof().to_vec();
            proof[i][31] ^= 1;
            assert_eq!(
                with(5, proof, p.checkpoint().to_vec()).verify(&entry(5), &lk, &pol),
                Err(ProofFileError::Inclusion(ProofError::RootMismatch)),
                "hash {i}"
            );
        }
        // A hash too many or too few.
        let mut longer = p.proof().to_vec();
        longer.push([0; 32]);
        assert!(matches!(
            with(5, longer, p.checkpoint().to_vec()).verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Inclusion(
                ProofError::WrongProofLength { .. }
            ))
        ));
        let shorter = p.proof()[1..].to_vec();
        assert!(matches!(
            with(5, shorter, p.checkpoint().to_vec()).verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Inclusion(
                ProofError::WrongProofLength { .. }
            ))
        ));
        // The checkpoint's size changed in the text: the log signature fails.
        let cp = String::from_utf8(p.checkpoint().to_vec())
            .unwrap()
            .replacen("\n11\n", "\n12\n", 1);
        assert!(matches!(
            with(5, p.proof().to_vec(), cp.into_bytes()).verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Checkpoint(CheckpointError::Note(
                NoteError::InvalidSignature { .. }
            )))
        ));
        // A checkpoint for a different tree (validly signed) does not match the proof.
        let other = fixture(5, 12, 2);
        assert!(matches!(
            with(5, p.proof().to_vec(), other.checkpoint().to_vec()).verify(&entry(5), &lk, &pol),
            Err(ProofFileError::Inclusion(_))
        ));
    }

    #[test]
    fn wrong_log_key_or_missing_quorum_is_rejected() {
        let p = fixture(1, 4, 1);
        assert_eq!(
            p.verify(
                &entry(1),
                &signer("example.com/log", 2).verifier(),
                &policy(1)
            ),
            Err(ProofFileError::Checkpoint(
                CheckpointError::MissingLogSignature
            ))
        );
        assert!(matches!(
            p.verify(
                &entry(1),
                &signer("example.com/other", 1).verifier(),
                &policy(1)
            ),
            Err(ProofFileError::Checkpoint(
                CheckpointError::OriginMismatch { .. }
            ))
        ));
        assert_eq!(
            p.verify(&entry(1), &log().verifier(), &policy(2)),
            Err(ProofFileError::Checkpoint(CheckpointError::QuorumNotMet {
                valid: 1,
                quorum: 2
            }))
        );
        assert!(p.verify(&entry(1), &log().verifier(), &policy(1)).is_ok());
        assert!(
            p.verify(&entry(1), &log().verifier(), &WitnessPolicy::none())
                .is_ok()
        );
    }

    #[test]
    fn malformed_proofs_are_rejected() {
        let p = fixture(3, 7, 0);
        let good = String::from_utf8(p.encode()).unwrap();
        let h0 = STANDARD.encode(p.proof()[0]);
        let cp = String::from_utf8(p.checkpoint().to_vec()).unwrap();
        let cases: Vec<(String, ProofFileError)> = vec![
            ("".into(), ProofFileError::MissingCheckpoint),
            // Without the blank line, the checkpoint's first line is read as a proof hash.
            (
                good.replacen("\n\n", "\n", 1),
                ProofFileError::InvalidProofHash { line: 7 },
            ),
            (
                good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
                ProofFileError::MissingHeader,
            ),
            (
                good.replacen("c2sp.org/tlog-proof@v1\n", "", 1),
                ProofFileError::MissingHeader,
            ),
            (format!("\n{good}"), ProofFileError::MissingHeader),
            (
                good.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v1 ", 1),
                ProofFileError::MissingHeader,
            ),
            (
                good.replacen("c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\r\n", 1),
                ProofFileError::MissingHeader,
            ),
            (
                good.replacen("extra Y29udGV4dA==", "extra Y29udGV4dA", 1),
                ProofFileError::InvalidExtra,
            ),
            (
                good.replacen("extra Y29udGV4dA==", "extra !!", 1),
                ProofFileError::InvalidExtra,
            ),
            (
                good.replacen("extra ", "extra  ", 1),
                ProofFileError::InvalidExtra,
            ),
            (
                good.replacen("extra ", "extra:", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen(
                    "extra Y29udGV4dA==\nindex 3",
                    "index 3\nextra Y29udGV4dA==",
                    1,
                ),
                ProofFileError::InvalidProofHash { line: 3 },
            ),
            (
                good.replacen("index 3", "index 03", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index -3", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index +3", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index  3", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index 3 ", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "Index 3", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3", "index 18446744073709551616", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen("index 3\n", "", 1),
                ProofFileError::InvalidIndex,
            ),
            (
                good.replacen(&h0, &h0[..43], 1),
                ProofFileError::InvalidProofHash { line: 4 },
            ),
            (
                good.replacen(&h0, &STANDARD.encode([7u8; 31]), 1),
                ProofFileError::InvalidProofHash { line: 4 },
            ),
            (
                good.replacen(&h0, &format!("{h0} "), 1),
                ProofFileError::InvalidProofHash { line: 4 },
            ),
            (
                good.replacen(&h0, &format!("{h0}\r"), 1),
                ProofFileError::InvalidProofHash { line: 4 },
            ),
            (
                good.replacen(&format!("\n{cp}"), &format!("\n\n{cp}"), 1),
                ProofFileError::Checkpoint(CheckpointError::EmptyLine { line: 1 }),
            ),
            (
                good.replacen(&cp, "not a note\n", 1),
                ProofFileError::Checkpoint(CheckpointError::Note(NoteError::MissingSignatureBlock)),
            ),
            (
                good.replacen(&cp, "", 1),
                ProofFileError::Checkpoint(CheckpointError::Note(NoteError::MissingSignatureBlock)),
            ),
            (
                good.replacen("example.com/log\n7\n", "example.com/log\n", 1),
                ProofFileError::Checkpoint(CheckpointError::TooFewLines { lines: 2 }),
            ),
            (
                format!("{good}\n"),
                ProofFileError::Checkpoint(CheckpointError::Note(NoteError::MissingSignatureBlock)),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(TlogProof::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        assert!(TlogProof::parse(&[0xff; 10]).is_err());
    }

    #[test]
    fn limits() {
        let p = fixture(0, 1, 0);
        let cp = p.checkpoint().to_vec();
        assert!(TlogProof::new(None, 0, vec![[0; 32]; MAX_PROOF_HASHES], cp.clone()).is_ok());
        assert_eq!(
            TlogProof::new(None, 0, vec![[0; 32]; MAX_PROOF_HASHES + 1], cp.clone()),
            Err(ProofFileError::TooManyProofHashes { count: 65, max: 64 })
        );
        let max = TlogProof::new(None, 0, vec![[0; 32]; MAX_PROOF_HASHES], cp.clone()).unwrap();
        assert_eq!(TlogProof::parse(&max.encode()).unwrap(), max);
        let over = String::from_utf8(max.encode()).unwrap().replacen(
            "\n\n",
            &format!(
                "\n{}\n{}\n\n",
                STANDARD.encode([1u8; 32]),
                STANDARD.encode([2u8; 32])
            ),
            1,
        );
        assert_eq!(
            TlogProof::parse(over.as_bytes()),
            Err(ProofFileError::TooManyProofHashes { count: 66, max: 64 })
        );
        let huge = vec![b'a'; MAX_PROOF_SIZE + 1];
        assert_eq!(
            TlogProof::parse(&huge),
            Err(ProofFileError::TooLarge {
                size: MAX_PROOF_SIZE + 1,
                max: MAX_PROOF_SIZE
            })
        );
        assert!(matches!(
            TlogProof::new(Some(vec![0; MAX_PROOF_SIZE]), 0, vec![], cp.clone()),
            Err(ProofFileError::TooLarge { .. })
        ));
        assert!(TlogProof::new(None, 0, vec![], b"not a checkpoint".to_vec()).is_err());
    }

    #[test]
    fn huge_tree_sizes_do_not_panic() {
        // A log-signed checkpoint of size 2^63 + 1 with a one-hash proof for leaf 0: the
        // proof is wrong (it needs 64 hashes) and must be rejected, not panic.
        let cp = Checkpoint::new("example.com/log", (1 << 63) + 1, [0; 32]).unwrap();
        let p = TlogProof::new(None, 0, vec![[0; 32]], sign(&cp, &log()).unwrap()).unwrap();
        assert!(matches!(
            p.verify(b"x", &log().verifier(), &WitnessPolicy::none()),
            Err(ProofFileError::Inclusion(_))
        ));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = TlogProof::parse(&bytes);
            }

            #[test]
            fn parse_never_panics_near_valid(
                extra in "(extra [A-Za-z0-9+/=]{0,12}\n)?",
                index in "[0-9 -]{0,22}",
                hashes in proptest::collection::vec("[A-Za-z0-9+/=]{40,46}", 0..4),
            ) {
                let cp = fixture(0, 1, 0);
                let text = format!(
                    "{HEADER}\n{extra}index {index}\n{}\n{}",
                    hashes.iter().map(|h| format!("{h}\n")).collect::<String>(),
                    String::from_utf8(cp.checkpoint().to_vec()).unwrap()
                );
                if let Ok(p) = TlogProof::parse(text.as_bytes()) {
                    prop_assert_eq!(p.encode(), text.as_bytes());
                    let _ = p.verify(b"entry 0", &log().verifier(), &WitnessPolicy::none());
                }
            }
        }
    }
}
