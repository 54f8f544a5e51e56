//! c2sp.org/tlog-checkpoint and c2sp.org/tlog-cosignature: checkpoints, witness cosignatures
//! and the witness policy.
//!
//! A checkpoint is the text of a signed note:
//!
//! ```text
//! example.com/behind-the-sofa                     origin (the log's key name)
//! 20852163                                        tree size, decimal, no leading zeros
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=    root hash, base64
//! ```
//!
//! followed by optional extension lines, which are accepted and preserved (they are part of
//! what cosigners sign) but never emitted by [`Checkpoint::new`].
//!
//! A [`VerifiedCheckpoint`] is the only way to trust a root hash. The only way to get one is
//! [`verify_checkpoint`], which checks the log's Ed25519 signature *and* a [`WitnessPolicy`]
//! (k of n distinct witnesses with valid cosignatures) in one step, so that a caller cannot
//! hold a verified checkpoint whose witness quorum was never checked. Code that legitimately
//! trusts the log alone (a witness checking a log, the log checking itself) says so with
//! [`WitnessPolicy::none`].
//!
//! Cosignature signature bytes are `timestamp (u64 BE) || Ed25519 signature (64)`, over
//! `"cosignature/v1\ntime <timestamp>\n" || checkpoint text`, under the witness key's `0x04`
//! key ID; [`crate::note`] implements the signature type, this module its checkpoint use.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::Hash;
use crate::note::{
    KeyType, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, TextProblem, check_text,
    is_valid_key_name, split_cosignature,
};

/// The largest cosignature timestamp allowed by the spec: `2^63 - 1`.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// A checkpoint: the log's origin, tree size and root hash (and any extension lines).
///
/// Always valid: [`Checkpoint::parse`] and [`Checkpoint::new`] are the only constructors, and
/// `encode(parse(t)) == t`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    /// The extension lines joined by `\n`, without the final newline; empty when there are
    /// none (one string rather than one per line keeps hostile inputs cheap).
    extensions: String,
}

/// Which witnesses are trusted, and how many distinct ones must have cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    witnesses: Vec<NoteVerifier>,
    quorum: usize,
}

/// A checkpoint with a valid log signature that met a witness policy. Only
/// [`verify_checkpoint`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    signed_note: Vec<u8>,
    cosignatures: Vec<Cosignature>,
}

/// A valid cosignature from a policy witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    witness: NoteVerifier,
    timestamp: u64,
}

/// Errors from parsing, signing, cosigning and verifying checkpoints.
///
/// Everything is "bad input" except the variants for which
/// [`CheckpointError::is_caller_misuse`] is true.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    // Bad input: the checkpoint text.
    /// The text breaks the note text rules (UTF-8, control characters, size, final newline).
    #[error("invalid checkpoint text: {0}")]
    InvalidText(TextProblem),
    /// Fewer than the three mandatory lines.
    #[error("checkpoint has {lines} lines, at least 3 are required")]
    TooFewLines { lines: usize },
    /// An empty line (counted from 1).
    #[error("checkpoint line {line} is empty")]
    EmptyLine { line: usize },
    /// The origin holds whitespace, `+` or a control character.
    #[error("invalid checkpoint origin {origin:?}")]
    InvalidOrigin { origin: String },
    /// The size is not a decimal u64 without leading zeros.
    #[error("invalid tree size {size:?}")]
    InvalidSize { size: String },
    /// The root hash is not canonical standard base64 of exactly 32 bytes.
    #[error("root hash is not base64 of 32 bytes")]
    InvalidRootHash,
    /// A tree of size 0 whose root is not SHA-256 of nothing (RFC 6962 §2.1): no such tree
    /// exists, and accepting one would let a log start a consumer on a root it never had.
    #[error("a checkpoint of size 0 must have the empty tree's root (SHA-256 of nothing)")]
    EmptyTreeRoot,

    // Bad input: signatures.
    /// The signed note is malformed, or a known key's signature on it does not verify.
    #[error("signed checkpoint: {0}")]
    Note(#[from] NoteError),
    /// The checkpoint's origin is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log key name {key_name:?}")]
    OriginMismatch { origin: String, key_name: String },
    /// No valid signature from the log key.
    #[error("checkpoint has no valid signature from the log key")]
    MissingLogSignature,
    /// Fewer distinct policy witnesses cosigned than the quorum.
    #[error("{valid} valid witness cosignatures, the policy requires {quorum}")]
    QuorumNotMet { valid: usize, quorum: usize },
    /// A cosignature line is not from the witness it was checked against.
    #[error("signature {name}+{key_id:08x} is not from the expected witness")]
    CosignatureKeyMismatch { name: String, key_id: u32 },
    /// A cosignature does not verify.
    #[error("cosignature from {name}+{key_id:08x} does not verify")]
    InvalidCosignature { name: String, key_id: u32 },

    // Caller misuse.
    /// The log key given for verification is not an Ed25519 (`0x01`) key.
    #[error("log key is of type {key_type:?}, not Ed25519")]
    LogKeyNotEd25519 { key_type: KeyType },
    /// A witness key is not an Ed25519 cosignature (`0x04`) key.
    #[error("witness key {name:?} is not an Ed25519 cosignature (0x04) key")]
    WitnessKeyNotCosignature { name: String },
    /// Two policy witnesses share a public key or a (name, key ID) pair.
    #[error("witness {name:?} appears twice in the policy (same key or same name and ID)")]
    DuplicateWitness { name: String },
    /// The quorum is larger than the number of witnesses, so it can never be met.
    #[error("quorum {quorum} is larger than the {witnesses} witnesses")]
    QuorumTooLarge { quorum: usize, witnesses: usize },
    /// A cosignature timestamp above `2^63 - 1`.
    #[error("timestamp {timestamp} is above 2^63 - 1")]
    TimestampTooLarge { timestamp: u64 },
    /// The log signer's name is not the checkpoint's origin.
    #[error("signer {signer:?} is not the checkpoint origin {origin:?}")]
    SignerNotOrigin { signer: String, origin: String },
}

/// Verifies a signed checkpoint note: the log key's signature, the origin, and the witness
/// policy.
///
/// `log_key` must be an Ed25519 (`0x01`) key whose name is the checkpoint's origin. Signatures
/// from keys that are neither the log key nor a policy witness are ignored; a failing signature
/// from either rejects the checkpoint.
pub fn verify_checkpoint(
    signed_note: &[u8],
    log_key: &NoteVerifier,
    witnesses: &WitnessPolicy,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    if log_key.key_type() != KeyType::Ed25519 {
        return Err(CheckpointError::LogKeyNotEd25519 {
            key_type: log_key.key_type(),
        });
    }
    let note = Note::parse(signed_note)?;
    let checkpoint = Checkpoint::parse(note.text().as_bytes())?;
    if checkpoint.size() == 0 && *checkpoint.root() != crate::merkle::empty_root() {
        return Err(CheckpointError::EmptyTreeRoot);
    }
    if checkpoint.origin != log_key.name() {
        return Err(CheckpointError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: log_key.name().to_owned(),
        });
    }
    let mut known = Vec::with_capacity(1 + witnesses.witnesses.len());
    known.push(log_key.clone());
    known.extend(witnesses.witnesses.iter().cloned());
    let verified = match note.verify(&known) {
        Err(NoteError::NoVerifiedSignature) => return Err(CheckpointError::MissingLogSignature),
        other => other?,
    };
    if !verified.is_signed_by(log_key) {
        return Err(CheckpointError::MissingLogSignature);
    }
    // The note lists each verified key once and the policy has no repeated keys, so this
    // counts distinct witnesses.
    let cosignatures: Vec<Cosignature> = verified
        .verified()
        .iter()
        .filter_map(|v| {
            let timestamp = v.cosignature_timestamp()?;
            Some(Cosignature {
                witness: v.key().clone(),
                timestamp,
            })
        })
        .collect();
    if cosignatures.len() < witnesses.quorum {
        return Err(CheckpointError::QuorumNotMet {
            valid: cosignatures.len(),
            quorum: witnesses.quorum,
        });
    }
    Ok(VerifiedCheckpoint {
        checkpoint,
        signed_note: signed_note.to_vec(),
        cosignatures,
    })
}

/// Signs `checkpoint` as the log, returning the signed note's bytes. The signer's name must be
/// the checkpoint's origin.
pub fn sign(checkpoint: &Checkpoint, log: &NoteSigner) -> Result<Vec<u8>, CheckpointError> {
    if log.name() != checkpoint.origin {
        return Err(CheckpointError::SignerNotOrigin {
            signer: log.name().to_owned(),
            origin: checkpoint.origin.clone(),
        });
    }
    Ok(Note::sign(&checkpoint.text(), &[log])?.encode())
}

/// Cosigns `checkpoint` as a witness at `timestamp` (POSIX seconds, at most `2^63 - 1`), with
/// the witness key's cosignature (`0x04`) key ID.
///
/// The caller is responsible for having verified the log signature and the consistency with
/// the last checkpoint it cosigned: the cosignature states both.
pub fn cosign(
    checkpoint: &Checkpoint,
    witness: &NoteSigner,
    timestamp: u64,
) -> Result<NoteSignature, CheckpointError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CheckpointError::TimestampTooLarge { timestamp });
    }
    Ok(witness.cosign_text(&checkpoint.text(), timestamp))
}

/// Checks one cosignature line (for example from a witness's answer) on `checkpoint` against
/// the `witness` key, returning its timestamp.
pub fn verify_cosignature(
    checkpoint: &Checkpoint,
    witness: &NoteVerifier,
    signature: &NoteSignature,
) -> Result<u64, CheckpointError> {
    if witness.key_type() != KeyType::Ed25519Cosignature {
        return Err(CheckpointError::WitnessKeyNotCosignature {
            name: witness.name().to_owned(),
        });
    }
    if signature.name() != witness.name() || signature.key_id() != witness.key_id() {
        return Err(CheckpointError::CosignatureKeyMismatch {
            name: signature.name().to_owned(),
            key_id: signature.key_id(),
        });
    }
    match split_cosignature(signature.bytes()) {
        Some((timestamp, _)) if witness.verify(&checkpoint.text(), signature.bytes()) => {
            Ok(timestamp)
        }
        _ => Err(CheckpointError::InvalidCosignature {
            name: signature.name().to_owned(),
            key_id: signature.key_id(),
        }),
    }
}

/// Appends cosignature lines to a signed checkpoint note, skipping lines already present.
///
/// Nothing is verified here beyond the note and checkpoint formats: check each line first with
/// [`verify_cosignature`] (a bad line from a trusted witness makes verifiers reject the whole
/// note).
pub fn add_cosignatures(
    signed_note: &[u8],
    cosignatures: &[NoteSignature],
) -> Result<Vec<u8>, CheckpointError> {
    let mut note = Note::parse(signed_note)?;
    Checkpoint::parse(note.text().as_bytes())?;
    for c in cosignatures {
        if !note.signatures().contains(c) {
            note.add_signature(c.clone())?;
        }
    }
    Ok(note.encode())
}

impl Checkpoint {
    /// A checkpoint with no extension lines. The origin must be a valid key name.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, CheckpointError> {
        if !is_valid_key_name(origin) {
            return Err(CheckpointError::InvalidOrigin {
                origin: origin.to_owned(),
            });
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: String::new(),
        })
    }

    /// Parses a checkpoint note text (not the signed note: see [`verify_checkpoint`]).
    pub fn parse(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let s = check_text(text).map_err(CheckpointError::InvalidText)?;
        let body = s.strip_suffix('\n').ok_or(CheckpointError::InvalidText(
            TextProblem::MissingFinalNewline,
        ))?;
        if let Some(i) = body.split('\n').position(str::is_empty) {
            return Err(CheckpointError::EmptyLine { line: i + 1 });
        }
        let mut lines = body.splitn(4, '\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines {
                lines: body.split('\n').count(),
            });
        };
        let extensions = lines.next().unwrap_or_default();
        if !is_valid_key_name(origin) {
            return Err(CheckpointError::InvalidOrigin {
                origin: origin.to_owned(),
            });
        }
        let size = parse_decimal(size).ok_or_else(|| CheckpointError::InvalidSize {
            size: size.to_owned(),
        })?;
        let root = decode_hash(root).ok_or(CheckpointError::InvalidRootHash)?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: extensions.to_owned(),
        })
    }

    /// The note text: origin, size, root and any extension lines, each ending in `\n`.
    pub fn encode(&self) -> Vec<u8> {
        self.text().into_bytes()
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without newlines (empty for checkpoints we make).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        // `split` would yield one empty line for an empty string.
        self.extensions.split_terminator('\n')
    }

    fn text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        if !self.extensions.is_empty() {
            s.push_str(&self.extensions);
            s.push('\n');
        }
        s
    }
}

impl WitnessPolicy {
    /// Requires `quorum` of `witnesses` (Ed25519 cosignature keys, `0x04`) to have cosigned.
    ///
    /// Witnesses must have distinct public keys: the Ed25519 cosignature does not commit to
    /// the witness name, so one key listed under two names could be counted twice.
    pub fn new(
        witnesses: Vec<NoteVerifier>,
        quorum: usize,
    ) -> Result<WitnessPolicy, CheckpointError> {
        for (i, w) in witnesses.iter().enumerate() {
            if w.key_type() != KeyType::Ed25519Cosignature {
                return Err(CheckpointError::WitnessKeyNotCosignature {
                    name: w.name().to_owned(),
                });
            }
            let seen = witnesses[..i].iter().any(|o| {
                o.public_key() == w.public_key()
                    || (o.name() == w.name() && o.key_id() == w.key_id())
            });
            if seen {
                return Err(CheckpointError::DuplicateWitness {
                    name: w.name().to_owned(),
                });
            }
        }
        if quorum > witnesses.len() {
            return Err(CheckpointError::QuorumTooLarge {
                quorum,
                witnesses: witnesses.len(),
            });
        }
        Ok(WitnessPolicy { witnesses, quorum })
    }

    /// No witnesses, quorum 0: trust the log's signature alone. Right for a witness checking a
    /// log or a log checking itself; a client that does this is open to split views.
    pub fn none() -> WitnessPolicy {
        WitnessPolicy {
            witnesses: Vec::new(),
            quorum: 0,
        }
    }

    /// The trusted witnesses.
    pub fn witnesses(&self) -> &[NoteVerifier] {
        &self.witnesses
    }

    /// How many distinct witnesses must have cosigned.
    pub fn quorum(&self) -> usize {
        self.quorum
    }
}

impl VerifiedCheckpoint {
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.checkpoint.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// The root hash, now trusted.
    pub fn root(&self) -> &Hash {
        &self.checkpoint.root
    }

    /// The signed note exactly as verified (to store or to pass on).
    pub fn signed_note(&self) -> &[u8] {
        &self.signed_note
    }

    /// The valid cosignatures from policy witnesses, one per witness.
    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }
}

impl Cosignature {
    /// The witness key that cosigned.
    pub fn witness(&self) -> &NoteVerifier {
        &self.witness
    }

    /// The witness key name.
    pub fn name(&self) -> &str {
        self.witness.name()
    }

    /// The witness key ID.
    pub fn key_id(&self) -> u32 {
        self.witness.key_id()
    }

    /// When the witness cosigned, in POSIX seconds (as claimed by the witness).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

impl CheckpointError {
    /// Whether the error is the caller's mistake (a bug or a misconfiguration) rather than bad
    /// input from outside.
    pub fn is_caller_misuse(&self) -> bool {
        match self {
            CheckpointError::Note(e) => e.is_caller_misuse(),
            CheckpointError::LogKeyNotEd25519 { .. }
            | CheckpointError::WitnessKeyNotCosignature { .. }
            | CheckpointError::DuplicateWitness { .. }
            | CheckpointError::QuorumTooLarge { .. }
            | CheckpointError::TimestampTooLarge { .. }
            | CheckpointError::SignerNotOrigin { .. } => true,
            _ => false,
        }
    }
}

/// An ASCII decimal u64 with no sign, no spaces and no leading zeros (except `0` itself).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// Canonical, padded standard base64 of exactly 32 bytes.
pub(crate) fn decode_hash(s: &str) -> Option<Hash> {
    // 32 bytes are always 44 characters; checking first bounds the work on hostile input.
    if s.len() != 44 {
        return None;
    }
    STANDARD.decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, VerifyingKey};

    const SOFA: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn signer(name: &str, n: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[n; 32]).unwrap()
    }

    fn log() -> NoteSigner {
        signer("example.com/log", 1)
    }

    fn checkpoint(size: u64) -> Checkpoint {
        Checkpoint::new("example.com/log", size, [size as u8; 32]).unwrap()
    }

    fn witnesses(n: u8) -> Vec<NoteSigner> {
        (0..n)
            .map(|i| signer(&format!("w{i}.example"), 100 + i))
            .collect()
    }

    fn policy(ws: &[NoteSigner], quorum: usize) -> WitnessPolicy {
        WitnessPolicy::new(
            ws.iter().map(NoteSigner::cosignature_verifier).collect(),
            quorum,
        )
        .unwrap()
    }

    /// A checkpoint signed by the log and cosigned by `ws` at times 1000, 1001, ...
    fn cosigned(cp: &Checkpoint, ws: &[NoteSigner]) -> Vec<u8> {
        let signed = sign(cp, &log()).unwrap();
        let sigs: Vec<NoteSignature> = ws
            .iter()
            .zip(1000..)
            .map(|(w, t)| cosign(cp, w, t).unwrap())
            .collect();
        add_cosignatures(&signed, &sigs).unwrap()
    }

    #[test]
    fn spec_example_parses_and_encodes_exactly() {
        let cp = Checkpoint::parse(SOFA.as_bytes()).unwrap();
        assert_eq!(cp.origin(), "example.com/behind-the-sofa");
        assert_eq!(cp.size(), 20852163);
        assert_eq!(
            STANDARD.encode(cp.root()),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert_eq!(cp.extensions().count(), 0);
        assert_eq!(cp.encode(), SOFA.as_bytes());
    }

    #[test]
    fn spec_cosignature_example_has_the_spec_layout() {
        // From c2sp.org/tlog-cosignature: key ID, then timestamp 1679315147 (the spec's
        // "time 1679315147"), then a 64-byte signature.
        let note = format!(
            "{SOFA}\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
        );
        let bytes = note.into_bytes();
        let note = Note::parse(&bytes).unwrap();
        assert_eq!(note.encode(), bytes);
        Checkpoint::parse(note.text().as_bytes()).unwrap();
        let cosig = &note.signatures()[1];
        assert_eq!(cosig.key_id(), 0x8d66cf3f);
        assert_eq!(cosig.bytes().len(), 72);
        assert_eq!(split_cosignature(cosig.bytes()).unwrap().0, 1679315147);
    }

    #[test]
    fn an_empty_tree_must_have_the_empty_root() {
        let bad = Checkpoint::new("example.com/log", 0, [7; 32]).unwrap();
        let err = verify_checkpoint(
            &sign(&bad, &log()).unwrap(),
            &log().verifier(),
            &policy(&[], 0),
        )
        .unwrap_err();
        assert!(matches!(err, CheckpointError::EmptyTreeRoot), "{err}");
        let good = Checkpoint::new("example.com/log", 0, crate::merkle::empty_root()).unwrap();
        verify_checkpoint(
            &sign(&good, &log()).unwrap(),
            &log().verifier(),
            &policy(&[], 0),
        )
        .unwrap();
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let cp = checkpoint(5);
        let signed = sign(&cp, &log()).unwrap();
        let text = String::from_utf8(signed.clone()).unwrap();
        assert!(text.starts_with(&format!(
            "example.com/log\n5\n{}\n\n\u{2014} example.com/log ",
            STANDARD.encode([5u8; 32])
        )));
        let v = verify_checkpoint(&signed, &log().verifier(), &WitnessPolicy::none()).unwrap();
        assert_eq!(v.checkpoint(), &cp);
        assert_eq!(
            (v.origin(), v.size(), v.root()),
            ("example.com/log", 5, &[5u8; 32])
        );
        assert_eq!(v.signed_note(), signed);
        assert!(v.cosignatures().is_empty());
        // Size 0 is written "0".
        let empty = Checkpoint::new("example.com/log", 0, crate::merkle::empty_root()).unwrap();
        let signed = sign(&empty, &log()).unwrap();
        assert!(signed.starts_with(b"example.com/log\n0\n47DEQpj8"));
        assert_eq!(
            verify_checkpoint(&signed, &log().verifier(), &WitnessPolicy::none())
                .unwrap()
                .size(),
            0
        );
        let max = Checkpoint::new("example.com/log", u64::MAX, [0; 32]).unwrap();
        assert_eq!(Checkpoint::parse(&max.encode()).unwrap(), max);
    }

    #[test]
    fn extension_lines_are_preserved_and_cosigned() {
        let text = format!("{SOFA}ext one\next two\n");
        let cp = Checkpoint::parse(text.as_bytes()).unwrap();
        assert_eq!(cp.extensions().collect::<Vec<_>>(), ["ext one", "ext two"]);
        assert_eq!(cp.encode(), text.as_bytes());
        let w = signer("w.example", 9);
        let sig = cosign(&cp, &w, 7).unwrap();
        assert_eq!(
            verify_cosignature(&cp, &w.cosignature_verifier(), &sig),
            Ok(7)
        );
        // The cosignature covers the extension lines.
        let without = Checkpoint::parse(SOFA.as_bytes()).unwrap();
        assert!(matches!(
            verify_cosignature(&without, &w.cosignature_verifier(), &sig),
            Err(CheckpointError::InvalidCosignature { .. })
        ));
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let with_size = |size: &str| format!("example.com/log\n{size}\n{root}\n");
        let with_root = |root: &str| format!("example.com/log\n1\n{root}\n");
        let bad_size = |size: &str| CheckpointError::InvalidSize { size: size.into() };
        let cases: Vec<(String, CheckpointError)> = vec![
            (with_size("01"), bad_size("01")),
            (with_size("00"), bad_size("00")),
            (with_size("-1"), bad_size("-1")),
            (with_size("+1"), bad_size("+1")),
            (with_size(" 1"), bad_size(" 1")),
            (with_size("1 "), bad_size("1 ")),
            (with_size("1e3"), bad_size("1e3")),
            (with_size("0x10"), bad_size("0x10")),
            (with_size("\u{661}"), bad_size("\u{661}")), // Arabic-Indic digit one
            (
                with_size("18446744073709551616"),
                bad_size("18446744073709551616"),
            ),
            (
                with_size("99999999999999999999999"),
                bad_size("99999999999999999999999"),
            ),
            (with_size(""), CheckpointError::EmptyLine { line: 2 }),
            (with_root("not base64!"), CheckpointError::InvalidRootHash),
            (
                with_root(&STANDARD.encode([1u8; 31])),
                CheckpointError::InvalidRootHash,
            ),
            (
                with_root(&STANDARD.encode([1u8; 33])),
                CheckpointError::InvalidRootHash,
            ),
            (
                with_root(root.trim_end_matches('=')),
                CheckpointError::InvalidRootHash,
            ),
            (
                with_root(&root.replace("2I=", "2J=")),
                CheckpointError::InvalidRootHash,
            ),
            (
                with_root(&root.replace('/', "_")),
                CheckpointError::InvalidRootHash,
            ),
            (
                with_root(&format!(" {root}")[..44]),
                CheckpointError::InvalidRootHash,
            ),
            (
                format!("example.com/log\n1\n{root}"),
                CheckpointError::InvalidText(TextProblem::MissingFinalNewline),
            ),
            (
                format!("example.com/log\r\n1\n{root}\n"),
                CheckpointError::InvalidText(TextProblem::ControlCharacter {
                    offset: 15,
                    byte: b'\r',
                }),
            ),
            (
                format!("example.com/log\n1\n{root}\n\n"),
                CheckpointError::EmptyLine { line: 4 },
            ),
            (
                format!("example.com/log\n1\n{root}\n\next\n"),
                CheckpointError::EmptyLine { line: 4 },
            ),
            (
                format!("\n1\n{root}\n"),
                CheckpointError::EmptyLine { line: 1 },
            ),
            (
                "example.com/log\n1\n".into(),
                CheckpointError::TooFewLines { lines: 2 },
            ),
            (
                "example.com/log\n".into(),
                CheckpointError::TooFewLines { lines: 1 },
            ),
            (
                "".into(),
                CheckpointError::InvalidText(TextProblem::MissingFinalNewline),
            ),
            (
                format!("example.com/my log\n1\n{root}\n"),
                CheckpointError::InvalidOrigin {
                    origin: "example.com/my log".into(),
                },
            ),
            (
                format!("example.com/log+1\n1\n{root}\n"),
                CheckpointError::InvalidOrigin {
                    origin: "example.com/log+1".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse(text.as_bytes()), Err(want), "{text:?}");
        }
        assert!(Checkpoint::parse(b"example.com/\xff\n1\nx\n").is_err());
        assert_eq!(
            Checkpoint::new("a b", 1, [0; 32]),
            Err(CheckpointError::InvalidOrigin {
                origin: "a b".into()
            })
        );
    }

    #[test]
    fn wrong_origin_or_key_is_rejected() {
        let cp = checkpoint(3);
        let other = signer("example.com/other", 2);
        let err = sign(&cp, &other).unwrap_err();
        assert!(err.is_caller_misuse());
        // A note for "example.com/log" signed by a key named "example.com/other".
        let note = Note::sign(std::str::from_utf8(&cp.encode()).unwrap(), &[&other]).unwrap();
        assert_eq!(
            verify_checkpoint(&note.encode(), &other.verifier(), &WitnessPolicy::none()),
            Err(CheckpointError::OriginMismatch {
                origin: "example.com/log".into(),
                key_name: "example.com/other".into()
            })
        );
        // The log's name but another key: its signature is from an unknown key.
        let signed = sign(&cp, &log()).unwrap();
        let impostor = signer("example.com/log", 3);
        assert_eq!(
            verify_checkpoint(&signed, &impostor.verifier(), &WitnessPolicy::none()),
            Err(CheckpointError::MissingLogSignature)
        );
        // A log key of the cosignature type is a misconfiguration.
        let err = verify_checkpoint(
            &signed,
            &log().cosignature_verifier(),
            &WitnessPolicy::none(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            CheckpointError::LogKeyNotEd25519 {
                key_type: KeyType::Ed25519Cosignature
            }
        );
        assert!(err.is_caller_misuse());
    }

    #[test]
    fn tampered_or_unsigned_checkpoints_are_rejected() {
        let cp = checkpoint(4);
        let signed = sign(&cp, &log()).unwrap();
        let none = WitnessPolicy::none();
        // Change the size in the text: the log signature fails.
        let tampered = String::from_utf8(signed.clone())
            .unwrap()
            .replacen("\n4\n", "\n5\n", 1);
        assert!(matches!(
            verify_checkpoint(tampered.as_bytes(), &log().verifier(), &none),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        // Only witness cosignatures, no log signature.
        let ws = witnesses(2);
        let text = String::from_utf8(cp.encode()).unwrap();
        let mut only_witnesses = Note::sign(&text, &[&signer("stranger.example", 4)]).unwrap();
        for (w, t) in ws.iter().zip(1..) {
            only_witnesses
                .add_signature(cosign(&cp, w, t).unwrap())
                .unwrap();
        }
        assert_eq!(
            verify_checkpoint(&only_witnesses.encode(), &log().verifier(), &policy(&ws, 0)),
            Err(CheckpointError::MissingLogSignature)
        );
        // Not a note at all, or a note whose text is not a checkpoint.
        assert!(matches!(
            verify_checkpoint(&cp.encode(), &log().verifier(), &none),
            Err(CheckpointError::Note(NoteError::MissingSignatureBlock))
        ));
        let not_cp = Note::sign("example.com/log\n", &[&log()]).unwrap().encode();
        assert_eq!(
            verify_checkpoint(&not_cp, &log().verifier(), &none),
            Err(CheckpointError::TooFewLines { lines: 1 })
        );
    }

    #[test]
    fn witness_quorum() {
        let cp = checkpoint(6);
        let ws = witnesses(3);
        let lk = log().verifier();
        let two = cosigned(&cp, &ws[..2]);
        let v = verify_checkpoint(&two, &lk, &policy(&ws, 2)).unwrap();
        let got: Vec<(&str, u64)> = v
            .cosignatures()
            .iter()
            .map(|c| (c.name(), c.timestamp()))
            .collect();
        assert_eq!(got, [("w0.example", 1000), ("w1.example", 1001)]);
        assert_eq!(v.cosignatures()[0].key_id(), ws[0].cosignature_key_id());
        assert_eq!(v.cosignatures()[0].witness(), &ws[0].cosignature_verifier());
        assert_eq!(
            verify_checkpoint(&two, &lk, &policy(&ws, 3)),
            Err(CheckpointError::QuorumNotMet {
                valid: 2,
                quorum: 3
            })
        );
        // Quorum 0 always passes, with or without cosignatures.
        assert!(verify_checkpoint(&sign(&cp, &log()).unwrap(), &lk, &policy(&ws, 0)).is_ok());
        assert!(
            verify_checkpoint(&two, &lk, &WitnessPolicy::none())
                .unwrap()
                .cosignatures()
                .is_empty()
        );
        // Cosignatures from witnesses outside the policy do not count.
        let outsiders = witnesses(5);
        let by_outsiders = cosigned(&cp, &outsiders[3..]);
        assert_eq!(
            verify_checkpoint(&by_outsiders, &lk, &policy(&ws, 1)),
            Err(CheckpointError::QuorumNotMet {
                valid: 0,
                quorum: 1
            })
        );
    }

    #[test]
    fn quorum_counts_distinct_witnesses_only() {
        let cp = checkpoint(7);
        let ws = witnesses(2);
        let lk = log().verifier();
        // w0 cosigns twice, at two times: still one witness.
        let signed = sign(&cp, &log()).unwrap();
        let twice = add_cosignatures(
            &signed,
            &[
                cosign(&cp, &ws[0], 1).unwrap(),
                cosign(&cp, &ws[0], 2).unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(Note::parse(&twice).unwrap().signatures().len(), 3);
        assert_eq!(
            verify_checkpoint(&twice, &lk, &policy(&ws, 2)),
            Err(CheckpointError::QuorumNotMet {
                valid: 1,
                quorum: 2
            })
        );
        // The same key under a second name would let one cosignature (relabelled with the
        // other name and key ID) count twice, so such a policy cannot be built.
        let alias = NoteVerifier::new(
            "alias.example",
            KeyType::Ed25519Cosignature,
            &ws[0].public_key(),
        )
        .unwrap();
        let err = WitnessPolicy::new(vec![ws[0].cosignature_verifier(), alias], 2).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::DuplicateWitness {
                name: "alias.example".into()
            }
        );
        assert!(err.is_caller_misuse());
        let err = WitnessPolicy::new(vec![ws[0].cosignature_verifier(); 2], 1).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::DuplicateWitness {
                name: "w0.example".into()
            }
        );
    }

    #[test]
    fn bad_policies_are_misuse() {
        let ws = witnesses(2);
        assert_eq!(
            WitnessPolicy::new(vec![ws[0].verifier()], 1),
            Err(CheckpointError::WitnessKeyNotCosignature {
                name: "w0.example".into()
            })
        );
        assert_eq!(
            policy_result(&ws, 3),
            Err(CheckpointError::QuorumTooLarge {
                quorum: 3,
                witnesses: 2
            })
        );
        assert_eq!(WitnessPolicy::new(vec![], 0), Ok(WitnessPolicy::none()));
        let p = policy(&ws, 1);
        assert_eq!((p.witnesses().len(), p.quorum()), (2, 1));
    }

    fn policy_result(ws: &[NoteSigner], quorum: usize) -> Result<WitnessPolicy, CheckpointError> {
        WitnessPolicy::new(
            ws.iter().map(NoteSigner::cosignature_verifier).collect(),
            quorum,
        )
    }

    #[test]
    fn tampered_cosignatures_reject_the_checkpoint() {
        let cp = checkpoint(8);
        let ws = witnesses(2);
        let signed = sign(&cp, &log()).unwrap();
        let good = cosign(&cp, &ws[0], 1_700_000_000).unwrap();
        // Rewrite the timestamp without re-signing.
        let mut raw = good.key_id().to_be_bytes().to_vec();
        raw.extend_from_slice(&1_700_000_001u64.to_be_bytes());
        raw.extend_from_slice(&good.bytes()[8..]);
        let line = format!("\u{2014} {} {}\n", good.name(), STANDARD.encode(&raw));
        let bad = NoteSignature::parse_lines(line.as_bytes())
            .unwrap()
            .remove(0);
        assert_eq!(
            verify_cosignature(&cp, &ws[0].cosignature_verifier(), &bad),
            Err(CheckpointError::InvalidCosignature {
                name: "w0.example".into(),
                key_id: ws[0].cosignature_key_id()
            })
        );
        let note = add_cosignatures(&signed, &[bad]).unwrap();
        assert!(matches!(
            verify_checkpoint(&note, &log().verifier(), &policy(&ws, 0)),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
        // A valid cosignature of another checkpoint, pasted in.
        let elsewhere = cosign(&checkpoint(9), &ws[1], 5).unwrap();
        let note = add_cosignatures(&signed, &[good, elsewhere]).unwrap();
        assert!(matches!(
            verify_checkpoint(&note, &log().verifier(), &policy(&ws, 1)),
            Err(CheckpointError::Note(NoteError::InvalidSignature { .. }))
        ));
    }

    #[test]
    fn cosignature_matches_a_hand_computed_message() {
        let cp = Checkpoint::parse(SOFA.as_bytes()).unwrap();
        let w = signer("witness.example.com/w1", 42);
        let sig = cosign(&cp, &w, 1679315147).unwrap();
        assert_eq!(sig.name(), "witness.example.com/w1");
        assert_eq!(
            sig.key_id(),
            crate::note::key_id(w.name(), 0x04, &w.public_key())
        );
        assert_eq!(&sig.bytes()[..8], &1679315147u64.to_be_bytes());
        let message = "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let key = VerifyingKey::from_bytes(&w.public_key()).unwrap();
        let ed = Signature::from_bytes(sig.bytes()[8..].try_into().unwrap());
        key.verify_strict(message.as_bytes(), &ed).unwrap();
        // And the line layout: base64(key ID || timestamp || signature).
        let line = sig.encode_line();
        let b64 = line.trim_end().rsplit_once(' ').unwrap().1;
        let raw = STANDARD.decode(b64).unwrap();
        assert_eq!(raw.len(), 4 + 8 + 64);
        assert_eq!(raw[..4], sig.key_id().to_be_bytes());
        assert_eq!(
            verify_cosignature(&cp, &w.cosignature_verifier(), &sig),
            Ok(1679315147)
        );
    }

    #[test]
    fn cosign_and_verify_cosignature_edge_cases() {
        let cp = checkpoint(10);
        let (w, other) = (signer("w.example", 50), signer("v.example", 51));
        assert_eq!(
            cosign(&cp, &w, MAX_TIMESTAMP).map(|s| s.bytes()[..8].to_vec()),
            Ok(MAX_TIMESTAMP.to_be_bytes().to_vec())
        );
        let err = cosign(&cp, &w, MAX_TIMESTAMP + 1).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::TimestampTooLarge {
                timestamp: MAX_TIMESTAMP + 1
            }
        );
        assert!(err.is_caller_misuse());
        let sig = cosign(&cp, &w, 0).unwrap();
        assert_eq!(
            verify_cosignature(&cp, &w.cosignature_verifier(), &sig),
            Ok(0)
        );
        assert_eq!(
            verify_cosignature(&cp, &other.cosignature_verifier(), &sig),
            Err(CheckpointError::CosignatureKeyMismatch {
                name: "w.example".into(),
                key_id: w.cosignature_key_id()
            })
        );
        assert!(
            verify_cosignature(&cp, &w.verifier(), &sig)
                .unwrap_err()
                .is_caller_misuse()
        );
        // A plain log signature is not a cosignature.
        let plain = Note::sign(std::str::from_utf8(&cp.encode()).unwrap(), &[&w]).unwrap();
        assert!(
            verify_cosignature(&cp, &w.cosignature_verifier(), &plain.signatures()[0]).is_err()
        );
    }

    #[test]
    fn add_cosignatures_appends_once() {
        let cp = checkpoint(11);
        let ws = witnesses(2);
        let signed = sign(&cp, &log()).unwrap();
        let c0 = cosign(&cp, &ws[0], 1).unwrap();
        let c1 = cosign(&cp, &ws[1], 2).unwrap();
        let once = add_cosignatures(&signed, &[c0.clone(), c1.clone()]).unwrap();
        let again = add_cosignatures(&once, &[c1, c0]).unwrap();
        assert_eq!(once, again);
        let mut expected = signed.clone();
        expected.extend_from_slice(cosign(&cp, &ws[0], 1).unwrap().encode_line().as_bytes());
        expected.extend_from_slice(cosign(&cp, &ws[1], 2).unwrap().encode_line().as_bytes());
        assert_eq!(once, expected);
        assert_eq!(
            verify_checkpoint(&once, &log().verifier(), &policy(&ws, 2))
                .unwrap()
                .cosignatures()
                .len(),
            2
        );
        // Only checkpoints.
        let not_cp = Note::sign("hello\n", &[&log()]).unwrap().encode();
        assert!(add_cosignatures(&not_cp, &[]).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
                let _ = Checkpoint::parse(&bytes);
                let _ = verify_checkpoint(&bytes, &log().verifier(), &WitnessPolicy::none());
            }

            #[test]
            fn parse_never_panics_near_valid(size in "[-+0-9 ]{0,25}", root in "[A-Za-z0-9+/=]{0,50}") {
                let text = format!("o.example\n{size}\n{root}\n");
                if let Ok(cp) = Checkpoint::parse(text.as_bytes()) {
                    prop_assert_eq!(cp.encode(), text.as_bytes());
                }
            }

            #[test]
            fn round_trip(origin in "[a-z0-9./_-]{1,30}", size in any::<u64>(), root in any::<[u8; 32]>()) {
                let cp = Checkpoint::new(&origin, size, root).unwrap();
                prop_assert_eq!(Checkpoint::parse(&cp.encode()).unwrap(), cp.clone());
                let signer = NoteSigner::from_seed(&origin, &root).unwrap();
                let signed = sign(&cp, &signer).unwrap();
                let v = verify_checkpoint(&signed, &signer.verifier(), &WitnessPolicy::none()).unwrap();
                prop_assert_eq!(v.checkpoint(), &cp);
            }
        }
    }
}
