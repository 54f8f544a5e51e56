//! The consumer policy, entry verification, and the verdict.
//!
//! Three steps, each pure:
//!
//! 1. [`Policy::parse`] reads the consumer's TOML policy: which log to trust (origin + key),
//!    which witnesses (k of n), which rebuilders grouped by operator, how many distinct operators
//!    must reproduce an artifact, and what a mismatch does.
//! 2. [`verify_logged_entry`] turns the bytes of one log entry and its `tlog-proof` into a
//!    [`LoggedEntry`]: the checkpoint is signed by the policy's log key (and witnessed as the
//!    policy asks), the entry is included at the proven index, the DSSE signature verifies, and
//!    the statement is one of reprove's three entry kinds. Who signed is a cryptographic fact
//!    recorded here; whether that signer is trusted is decided in step 3.
//! 3. [`verdict`] applies the policy to every verified entry that concerns one artifact digest:
//!    revocation notices (and key rotation), trusted keys, results, and the count of *distinct
//!    operators* that reproduced these exact bytes. It explains every entry that did not count.
//!
//! Consistency between checkpoints seen at different times is the caller's job (it needs state);
//! the caller uses [`crate::merkle::verify_consistency`] and must treat a failure as a fork.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{VerifiedCheckpoint, WitnessPolicy};
use crate::merkle::Hash;
use crate::note::{KeyType, NoteVerifier};
use crate::predicates::{
    Entry, EntryKind, RebuildAttestation, RebuildResult, RevocationReason, SandboxKind,
};
use crate::proof::TlogProof;
use crate::signed::{OpenError, Options, SignedEntry};

/// The largest policy file accepted, in bytes.
pub const MAX_POLICY_SIZE: usize = 1 << 20;

/// What a `mismatch` from a trusted operator does to the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnMismatch {
    /// The artifact is not trusted, whatever the other operators said (the default).
    #[default]
    Fail,
    /// The verdict carries a warning; the threshold alone decides.
    Warn,
}

/// The log a policy trusts.
#[derive(Debug, Clone)]
pub struct LogTrust {
    /// The log's origin line, which is also its key name.
    pub origin: String,
    /// The log's Ed25519 checkpoint key.
    pub key: NoteVerifier,
    /// Where to reach the log's read API, if the policy says.
    pub url: Option<String>,
}

/// One operator: a party running one or more rebuilder nodes. Keys of one operator count once.
#[derive(Debug, Clone)]
pub struct Operator {
    /// A name unique within the policy.
    pub name: String,
    /// The operator's rebuilder keys (Ed25519).
    pub keys: Vec<NoteVerifier>,
    /// A key that may revoke the operator's keys (and name their replacements).
    pub recovery_key: Option<NoteVerifier>,
    /// Whether a `superseded` notice may introduce a replacement key for this operator.
    pub allow_rotation: bool,
}

/// A parsed, validated consumer policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The trusted log.
    pub log: LogTrust,
    /// Witnesses whose cosignatures checkpoints must carry (quorum 0: none required).
    pub witnesses: WitnessPolicy,
    /// How many distinct operators must report `reproduced` for an artifact to be trusted.
    pub threshold: usize,
    /// What a trusted operator's `mismatch` does.
    pub on_mismatch: OnMismatch,
    /// The trusted operators.
    pub operators: Vec<Operator>,
    /// Who may publish which projects. Empty: any publisher (verdicts say so loudly).
    pub publishers: Vec<Publisher>,
    /// Whether an attestation counts only from a sandboxed build (`sandbox.kind` not `none`).
    pub require_sandbox: bool,
    /// How old, in seconds, the checkpoint evidence is proven under may be: a witness quorum
    /// must have cosigned it within this time (witness timestamps are the only clock a
    /// checkpoint carries). `None`: no limit.
    pub max_checkpoint_age: Option<u64>,
    /// Whether an offline bundle's verdict also needs the live log, asked for mismatches and
    /// revocations the bundle may have left out.
    pub require_online_recheck: bool,
}

/// How far in the future a witness timestamp may be and still count (clock skew).
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// Why a checkpoint is too old for a policy's `max_checkpoint_age`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the checkpoint (tree size {size}) is older than the policy's max_checkpoint_age of {max_age} s: \
     {fresh} of the {quorum} witness cosignature(s) required are that recent{newest}"
)]
pub struct StaleCheckpoint {
    pub size: u64,
    pub max_age: u64,
    pub fresh: usize,
    pub quorum: usize,
    /// ", the newest from <n> s ago", when there is one.
    pub newest: String,
}

impl Policy {
    /// Checks `checkpoint` against `max_checkpoint_age` at `now` (POSIX seconds): at least the
    /// witness quorum of cosignatures with a timestamp no older than the limit (and no further
    /// in the future than [`MAX_CLOCK_SKEW_SECS`]). Always fine without a limit.
    pub fn check_age(
        &self,
        checkpoint: &VerifiedCheckpoint,
        now: u64,
    ) -> Result<(), StaleCheckpoint> {
        let Some(max_age) = self.max_checkpoint_age else {
            return Ok(());
        };
        let fresh = checkpoint
            .cosignatures()
            .iter()
            .filter(|c| {
                c.timestamp() <= now.saturating_add(MAX_CLOCK_SKEW_SECS)
                    && now.saturating_sub(c.timestamp()) <= max_age
            })
            .count();
        let quorum = self.witnesses.quorum().max(1);
        if fresh >= quorum {
            return Ok(());
        }
        let newest = checkpoint
            .cosignatures()
            .iter()
            .map(|c| c.timestamp())
            .max()
            .map(|t| format!(", the newest from {} s ago", now.saturating_sub(t)))
            .unwrap_or_default();
        Err(StaleCheckpoint {
            size: checkpoint.size(),
            max_age,
            fresh,
            quorum,
            newest,
        })
    }
}

/// `90`, `90s`, `15m`, `36h`, `7d` as seconds.
fn parse_age(s: &str) -> Option<u64> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).filter(|&v| v > 0)
}

fn encode_age(secs: u64) -> String {
    for (unit, scale) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs.is_multiple_of(scale) {
            return format!("{}{unit}", secs / scale);
        }
    }
    format!("{secs}s")
}

/// A publisher (or importer) trusted for some projects: a release manifest counts only when
/// one of its keys signed it and one of its patterns matches the release's project.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// A name, for reports.
    pub name: String,
    /// Project name patterns: exact names, or with `*` matching any run of characters.
    pub projects: Vec<String>,
    /// The publisher's keys (Ed25519).
    pub keys: Vec<NoteVerifier>,
}

impl Publisher {
    /// Whether `project` matches one of the patterns.
    pub fn covers(&self, project: &str) -> bool {
        self.projects.iter().any(|p| glob(p, project))
    }
}

/// `*` matches any run of characters (none included); everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file is {0} bytes; the limit is {MAX_POLICY_SIZE}")]
    TooLarge(usize),
    #[error("policy file is not UTF-8")]
    NotUtf8,
    #[error("policy file is not valid: {0}")]
    Toml(String),
    #[error("{field}: not a valid key: {reason}")]
    BadKey { field: String, reason: String },
    #[error("{field}: must be an Ed25519 signing key (type 0x01), not a cosignature key")]
    NotSigningKey { field: String },
    #[error("witnesses.keys[{index}]: must be an Ed25519 cosignature key (type 0x04)")]
    NotCosignatureKey { index: usize },
    #[error(
        "log.key is named {key_name:?} but log.origin is {origin:?}: a log's key name is its origin"
    )]
    LogKeyName { origin: String, key_name: String },
    #[error("threshold must be at least 1")]
    ZeroThreshold,
    #[error("threshold {threshold} can never be met: the policy names {operators} operator(s)")]
    ThresholdTooHigh { threshold: usize, operators: usize },
    #[error("witnesses.quorum {quorum} can never be met: the policy names {witnesses} witness(es)")]
    QuorumTooHigh { quorum: usize, witnesses: usize },
    #[error("witnesses: {0}")]
    Witnesses(String),
    #[error("operator name {0:?} is used twice")]
    DuplicateOperator(String),
    #[error("operator {0:?} has no keys")]
    OperatorWithoutKeys(String),
    #[error("key {key} is listed under both {first:?} and {second:?}: one key, one operator")]
    KeyInTwoOperators {
        key: String,
        first: String,
        second: String,
    },
    /// One public key under two names (or in two roles) would count twice: a signature can be
    /// relabelled with the other name's key ID without the private key.
    #[error(
        "{second} has the same public key as {first}: one public key may appear once in a policy (operators, recovery keys and witnesses alike)"
    )]
    PublicKeyTwice { first: String, second: String },
    #[error("publisher[{0}] names no project (projects = [\"name\", \"prefix-*\", …])")]
    PublisherWithoutProjects(usize),
    #[error("publisher[{0}] has no keys")]
    PublisherWithoutKeys(usize),
    #[error(
        "max_checkpoint_age {0:?} is not a duration such as \"36h\" or \"7d\" (s, m, h, d; more than 0)"
    )]
    BadAge(String),
    #[error(
        "max_checkpoint_age needs witnesses: their cosignature timestamps are the only clock a checkpoint carries"
    )]
    AgeWithoutWitnesses,
}

impl Policy {
    /// Parses and validates a policy file. Unknown fields are errors: a typo in a security
    /// policy must not silently weaken it.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        if bytes.len() > MAX_POLICY_SIZE {
            return Err(PolicyError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| PolicyError::NotUtf8)?;
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        raw.validate()
    }

    /// The policy as TOML, in the same shape [`Policy::parse`] reads.
    pub fn encode(&self) -> String {
        let raw = RawPolicy {
            threshold: self.threshold,
            on_mismatch: self.on_mismatch,
            log: RawLog {
                origin: self.log.origin.clone(),
                key: self.log.key.to_string(),
                url: self.log.url.clone(),
            },
            witnesses: (!self.witnesses.witnesses().is_empty()).then(|| RawWitnesses {
                quorum: self.witnesses.quorum(),
                keys: self
                    .witnesses
                    .witnesses()
                    .iter()
                    .map(|k| k.to_string())
                    .collect(),
            }),
            operator: self
                .operators
                .iter()
                .map(|o| RawOperator {
                    name: o.name.clone(),
                    keys: o.keys.iter().map(|k| k.to_string()).collect(),
                    recovery_key: o.recovery_key.as_ref().map(|k| k.to_string()),
                    allow_rotation: o.allow_rotation,
                })
                .collect(),
            require_sandbox: self.require_sandbox,
            max_checkpoint_age: self.max_checkpoint_age.map(encode_age),
            require_online_recheck: self.require_online_recheck,
            publisher: self
                .publishers
                .iter()
                .map(|p| RawPublisher {
                    name: p.name.clone(),
                    projects: p.projects.clone(),
                    keys: p.keys.iter().map(|k| k.to_string()).collect(),
                })
                .collect(),
        };
        // Serializing plain strings, integers and tables cannot fail.
        toml::to_string(&raw).expect("policy serializes")
    }

    /// The operator that lists `key` among its rebuilder keys.
    pub fn operator_of(&self, key: &NoteVerifier) -> Option<&Operator> {
        self.operators
            .iter()
            .find(|o| o.keys.iter().any(|k| same_key(k, key)))
    }
}

/// The policy file as written, before validation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    threshold: usize,
    #[serde(default)]
    on_mismatch: OnMismatch,
    log: RawLog,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    witnesses: Option<RawWitnesses>,
    #[serde(default)]
    operator: Vec<RawOperator>,
    #[serde(default)]
    require_sandbox: bool,
    #[serde(default)]
    publisher: Vec<RawPublisher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_checkpoint_age: Option<String>,
    #[serde(default)]
    require_online_recheck: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublisher {
    name: String,
    projects: Vec<String>,
    keys: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    origin: String,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitnesses {
    quorum: usize,
    keys: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: String,
    keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recovery_key: Option<String>,
    #[serde(default)]
    allow_rotation: bool,
}

fn signing_key(field: String, s: &str) -> Result<NoteVerifier, PolicyError> {
    let k = NoteVerifier::parse(s).map_err(|e| PolicyError::BadKey {
        field: field.clone(),
        reason: e.to_string(),
    })?;
    if k.key_type() != KeyType::Ed25519 {
        return Err(PolicyError::NotSigningKey { field });
    }
    Ok(k)
}

impl RawPolicy {
    fn validate(self) -> Result<Policy, PolicyError> {
        let log_key = signing_key("log.key".into(), &self.log.key)?;
        if log_key.name() != self.log.origin {
            return Err(PolicyError::LogKeyName {
                origin: self.log.origin,
                key_name: log_key.name().to_string(),
            });
        }
        let (quorum, wkeys) = self
            .witnesses
            .map_or((0, Vec::new()), |w| (w.quorum, w.keys));
        let mut witnesses = Vec::with_capacity(wkeys.len());
        for (i, s) in wkeys.iter().enumerate() {
            let k = NoteVerifier::parse(s).map_err(|e| PolicyError::BadKey {
                field: format!("witnesses.keys[{i}]"),
                reason: e.to_string(),
            })?;
            if k.key_type() != KeyType::Ed25519Cosignature {
                return Err(PolicyError::NotCosignatureKey { index: i });
            }
            witnesses.push(k);
        }
        if quorum > witnesses.len() {
            return Err(PolicyError::QuorumTooHigh {
                quorum,
                witnesses: witnesses.len(),
            });
        }
        let witnesses = WitnessPolicy::new(witnesses, quorum)
            .map_err(|e| PolicyError::Witnesses(e.to_string()))?;
        let mut operators: Vec<Operator> = Vec::with_capacity(self.operator.len());
        let mut owner: BTreeMap<String, String> = BTreeMap::new();
        for (i, raw) in self.operator.into_iter().enumerate() {
            if operators.iter().any(|o| o.name == raw.name) {
                return Err(PolicyError::DuplicateOperator(raw.name));
            }
            if raw.keys.is_empty() {
                return Err(PolicyError::OperatorWithoutKeys(raw.name));
            }
            let mut keys = Vec::with_capacity(raw.keys.len());
            for (j, s) in raw.keys.iter().enumerate() {
                let k = signing_key(format!("operator[{i}].keys[{j}]"), s)?;
                if let Some(first) = owner.insert(k.to_string(), raw.name.clone()) {
                    if first != raw.name {
                        return Err(PolicyError::KeyInTwoOperators {
                            key: k.to_string(),
                            first,
                            second: raw.name,
                        });
                    }
                    continue; // the same key twice in one operator: harmless, keep one
                }
                keys.push(k);
            }
            let recovery_key = raw
                .recovery_key
                .as_deref()
                .map(|s| signing_key(format!("operator[{i}].recovery_key"), s))
                .transpose()?;
            operators.push(Operator {
                name: raw.name,
                keys,
                recovery_key,
                allow_rotation: raw.allow_rotation,
            });
        }
        let mut publishers = Vec::with_capacity(self.publisher.len());
        for (i, raw) in self.publisher.into_iter().enumerate() {
            if raw.projects.is_empty() || raw.projects.iter().any(String::is_empty) {
                return Err(PolicyError::PublisherWithoutProjects(i));
            }
            if raw.keys.is_empty() {
                return Err(PolicyError::PublisherWithoutKeys(i));
            }
            let keys = raw
                .keys
                .iter()
                .enumerate()
                .map(|(j, s)| signing_key(format!("publisher[{i}].keys[{j}]"), s))
                .collect::<Result<Vec<_>, _>>()?;
            publishers.push(Publisher {
                name: raw.name,
                projects: raw.projects,
                keys,
            });
        }
        // Every public key once, whatever the name or role it is given under. (A publisher's
        // key may also be an operator's: publishing and rebuilding are different statements.)
        let mut seen: BTreeMap<[u8; 32], String> = BTreeMap::new();
        let roles = operators
            .iter()
            .flat_map(|o| {
                o.keys
                    .iter()
                    .map(move |k| (format!("a key of operator {:?} ({k})", o.name), k))
                    .chain(o.recovery_key.iter().map(move |k| {
                        (
                            format!("the recovery key of operator {:?} ({k})", o.name),
                            k,
                        )
                    }))
            })
            .chain(
                witnesses
                    .witnesses()
                    .iter()
                    .map(|k| (format!("witness {k}"), k)),
            );
        for (role, key) in roles {
            if let Some(first) = seen.insert(key.public_key(), role.clone()) {
                return Err(PolicyError::PublicKeyTwice {
                    first,
                    second: role,
                });
            }
        }
        let max_checkpoint_age = match &self.max_checkpoint_age {
            None => None,
            Some(s) => Some(parse_age(s).ok_or_else(|| PolicyError::BadAge(s.clone()))?),
        };
        if max_checkpoint_age.is_some() && witnesses.witnesses().is_empty() {
            return Err(PolicyError::AgeWithoutWitnesses);
        }
        if self.threshold == 0 {
            return Err(PolicyError::ZeroThreshold);
        }
        if self.threshold > operators.len() {
            return Err(PolicyError::ThresholdTooHigh {
                threshold: self.threshold,
                operators: operators.len(),
            });
        }
        Ok(Policy {
            log: LogTrust {
                origin: self.log.origin,
                key: log_key,
                url: self.log.url,
            },
            witnesses,
            threshold: self.threshold,
            on_mismatch: self.on_mismatch,
            operators,
            publishers,
            require_sandbox: self.require_sandbox,
            max_checkpoint_age,
            require_online_recheck: self.require_online_recheck,
        })
    }
}

/// Two verifier keys are the same key when name, ID, type and public key all agree.
fn same_key(a: &NoteVerifier, b: &NoteVerifier) -> bool {
    a == b
}

// ---------------------------------------------------------------------------------------------
// Step 2: one log entry, verified.

/// One log entry whose inclusion, checkpoint signature and DSSE signature have been verified.
///
/// Only [`verify_logged_entry`] creates one.
#[derive(Debug, Clone)]
pub struct LoggedEntry {
    index: u64,
    leaf_hash: Hash,
    digest: Option<crate::predicates::Digests>,
    signer: NoteVerifier,
    entry: Entry,
    checkpoint: VerifiedCheckpoint,
}

impl LoggedEntry {
    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.index
    }
    /// The entry's RFC 6962 leaf hash.
    pub fn leaf_hash(&self) -> &Hash {
        &self.leaf_hash
    }
    /// For a release manifest, the sha256 and blake3 of the logged bytes (what an
    /// attestation's `release.digest` names); computed for release manifests only, since no
    /// other entry is ever named by digest.
    pub fn digest(&self) -> Option<&crate::predicates::Digests> {
        self.digest.as_ref()
    }
    /// The Ed25519 key whose DSSE signature over the entry verified. It may or may not be a key
    /// the policy trusts: that is for [`verdict`] to decide.
    pub fn signer(&self) -> &NoteVerifier {
        &self.signer
    }
    /// The decoded entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
    /// The checkpoint the inclusion proof was verified against.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

/// Why a log entry could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("inclusion proof: {0}")]
    Proof(#[from] crate::proof::ProofFileError),
    #[error("entry is not a DSSE envelope: {0}")]
    Envelope(String),
    #[error("entry payload type is {0:?}, not an in-toto statement")]
    PayloadType(String),
    #[error("no signature on the entry verifies with the key it names or with any policy key")]
    NoValidSignature,
    #[error("the entry carries {0} signatures; at most {max} are accepted", max = crate::signed::MAX_SIGNATURES)]
    TooManySignatures(usize),
    #[error("entry payload is not an in-toto statement: {0}")]
    Statement(crate::statement::StatementError),
    #[error("entry is not a reprove entry: {0}")]
    Predicate(crate::predicates::PredicateError),
}

impl From<OpenError> for EntryError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Envelope(why) => EntryError::Envelope(why),
            OpenError::PayloadType(t) => EntryError::PayloadType(t),
            OpenError::TooManySignatures(n) => EntryError::TooManySignatures(n),
            OpenError::NoNamedSigner | OpenError::NotAllowed | OpenError::NoValidSignature => {
                EntryError::NoValidSignature
            }
            OpenError::Statement(e) => EntryError::Statement(e),
            OpenError::Predicate(e) => EntryError::Predicate(e),
        }
    }
}

/// Verifies one entry of the policy's log: inclusion proof and checkpoint (log key and witness
/// quorum from the policy), the DSSE signature, and the statement's shape.
///
/// The signer is taken from the signature's `keyid` when it is a vkey (reprove's convention: a
/// self-described key, verified here, trusted only if the policy says so in [`verdict`]), and
/// otherwise looked up among the policy's keys.
pub fn verify_logged_entry(
    policy: &Policy,
    entry: &[u8],
    proof: &TlogProof,
) -> Result<LoggedEntry, EntryError> {
    let inclusion = proof.verify(entry, &policy.log.key, &policy.witnesses)?;
    logged_entry(policy, entry, inclusion)
}

/// A checkpoint verified under a policy's log key and witness quorum. Only
/// [`Policy::verify_checkpoint`] creates one.
#[derive(Debug, Clone)]
pub struct PolicyCheckpoint {
    checkpoint: VerifiedCheckpoint,
}

impl PolicyCheckpoint {
    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &VerifiedCheckpoint {
        &self.checkpoint
    }
}

impl Policy {
    /// Verifies a signed checkpoint note as this policy requires: the log key's signature, the
    /// origin, and the witness quorum.
    pub fn verify_checkpoint(
        &self,
        signed_note: &[u8],
    ) -> Result<PolicyCheckpoint, crate::checkpoint::CheckpointError> {
        let checkpoint =
            crate::checkpoint::verify_checkpoint(signed_note, &self.log.key, &self.witnesses)?;
        Ok(PolicyCheckpoint { checkpoint })
    }
}

/// [`verify_logged_entry`] for many entries proven under one checkpoint: when `proof`'s
/// checkpoint is `checkpoint` byte for byte, its signatures are not checked again (they were,
/// under this policy, when `checkpoint` was made); otherwise the proof is verified in full.
/// The result is the same either way.
pub fn verify_logged_entry_at(
    policy: &Policy,
    entry: &[u8],
    proof: &TlogProof,
    checkpoint: &PolicyCheckpoint,
) -> Result<LoggedEntry, EntryError> {
    let inclusion = if proof.checkpoint() == checkpoint.checkpoint.signed_note() {
        proof.verify_under(entry, &checkpoint.checkpoint)?
    } else {
        proof.verify(entry, &policy.log.key, &policy.witnesses)?
    };
    logged_entry(policy, entry, inclusion)
}

/// The signature and statement checks of [`verify_logged_entry`], after the inclusion: the
/// entry is opened ([`SignedEntry::open_with`]) with the policy's keys as the fallback for
/// signatures that name no vkey.
fn logged_entry(
    policy: &Policy,
    entry: &[u8],
    inclusion: crate::proof::VerifiedInclusion,
) -> Result<LoggedEntry, EntryError> {
    let policy_keys: Vec<NoteVerifier> = policy
        .operators
        .iter()
        .flat_map(|o| o.keys.iter().chain(o.recovery_key.iter()))
        .chain(policy.publishers.iter().flat_map(|p| p.keys.iter()))
        .cloned()
        .collect();
    let opened = SignedEntry::open_with(
        entry,
        Options {
            fallback: &policy_keys,
            ..Options::default()
        },
    )?;
    // Several keys may have signed. The signer reported is one the policy knows when there is
    // one, so a stranger's co-signature cannot hide a trusted key's.
    let signer = opened
        .signers()
        .iter()
        .find(|k| policy_keys.contains(k))
        .or(opened.signers().first())
        .cloned()
        .ok_or(EntryError::NoValidSignature)?;
    let entry_value = opened.into_entry();
    Ok(LoggedEntry {
        index: inclusion.index(),
        leaf_hash: crate::merkle::leaf_hash(entry),
        digest: matches!(entry_value.kind(), EntryKind::Release(_)).then(|| {
            crate::predicates::Digests {
                sha256: <sha2::Sha256 as sha2::Digest>::digest(entry).into(),
                blake3: Some(*blake3::hash(entry).as_bytes()),
            }
        }),
        signer,
        entry: entry_value,
        checkpoint: inclusion.checkpoint().clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// Step 3: the verdict.

/// The outcome of applying a policy to the verified entries about one artifact digest.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The artifact's sha256, lowercase hex.
    pub sha256: String,
    /// Whether the policy holds.
    pub trusted: bool,
    /// The policy's threshold of distinct operators.
    pub threshold: usize,
    /// The distinct operators that reproduced these bytes, in name order.
    pub operators: Vec<String>,
    /// Attestations that counted toward the threshold (one per operator).
    pub counted: Vec<Counted>,
    /// Entries that did not count, each with the reason.
    pub not_counted: Vec<NotCounted>,
    /// `mismatch` attestations from trusted, non-revoked operators.
    pub mismatches: Vec<Mismatch>,
    /// Revocation notices that apply to policy keys.
    pub revocations: Vec<AppliedRevocation>,
    /// Revocation notices that were ignored, with the reason.
    pub ignored_revocations: Vec<IgnoredRevocation>,
    /// Things the consumer should know that did not decide the verdict.
    pub warnings: Vec<String>,
    /// Whether the policy names the publishers it trusts (`[[publisher]]`). Without, any
    /// logged release listing the artifact can make it trusted.
    pub publisher_pinned: bool,
    /// One line: why trusted or not.
    pub summary: String,
}

/// An attestation that counted.
#[derive(Debug, Clone, Serialize)]
pub struct Counted {
    pub index: u64,
    pub operator: String,
    pub key: String,
}

/// An entry that did not count, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotCounted {
    pub index: u64,
    pub key: String,
    pub operator: Option<String>,
    pub reason: Reason,
}

/// A trusted operator's `mismatch`.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub index: u64,
    pub operator: String,
    pub key: String,
    /// The rebuilt sha256 of this artifact, when the attestation names one.
    pub rebuilt_sha256: Option<String>,
    /// The digest of the diff report, when the attestation names one.
    pub diff_report: Option<String>,
}

/// A revocation notice applied to a policy key.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedRevocation {
    pub index: u64,
    pub key: String,
    pub operator: String,
    pub reason: RevocationReason,
    /// Attestations by the key at this index or later are rejected.
    pub effective_index: u64,
    /// A replacement key accepted for the operator (rotation allowed by the policy).
    pub replacement: Option<String>,
}

/// A revocation notice that was ignored.
#[derive(Debug, Clone, Serialize)]
pub struct IgnoredRevocation {
    pub index: u64,
    pub key: String,
    pub why: String,
}

/// Why an entry did not count toward the threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Signed by a key that is not in the policy.
    UntrustedKey,
    /// The key was revoked from `effective_index` on by the notice at `notice_index`.
    KeyRevoked {
        notice_index: u64,
        effective_index: u64,
        reason: RevocationReason,
    },
    /// A replacement key used before the notice that introduced it.
    ReplacementNotYetValid { notice_index: u64 },
    /// The entry is not a rebuild attestation.
    NotAnAttestation { predicate_type: String },
    /// The attestation does not name this artifact's sha256 as a subject.
    DifferentArtifact,
    /// The rebuild did not reproduce the artifact.
    NotReproduced { result: RebuildResult },
    /// Another attestation of the same operator already counted.
    OperatorAlreadyCounted { operator: String },
    /// The attestation's `release` does not resolve to a logged release manifest that lists
    /// this artifact (with the name, version and entry digest the attestation gives).
    ReleaseNotBound { release_index: u64, why: String },
    /// The release is not the one the consumer asked about (`--release`).
    OtherRelease { name: String, version: String },
    /// No publisher the policy trusts for the project signed the release.
    PublisherNotTrusted { release_index: u64, project: String },
    /// The policy requires a sandboxed build and this one was not.
    NotSandboxed,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UntrustedKey => f.write_str("signed by a key the policy does not trust"),
            Reason::KeyRevoked {
                notice_index,
                effective_index,
                reason,
            } => write!(
                f,
                "key revoked ({}) by the notice at index {notice_index}, effective from index {effective_index}",
                reason_str(*reason)
            ),
            Reason::ReplacementNotYetValid { notice_index } => write!(
                f,
                "replacement key used before the notice at index {notice_index} introduced it"
            ),
            Reason::NotAnAttestation { predicate_type } => {
                write!(f, "not a rebuild attestation ({predicate_type})")
            }
            Reason::DifferentArtifact => f.write_str("does not attest this artifact's sha256"),
            Reason::NotReproduced { result } => write!(f, "result is {result}, not reproduced"),
            Reason::OperatorAlreadyCounted { operator } => {
                write!(f, "operator {operator} already counted once")
            }
            Reason::ReleaseNotBound { release_index, why } => {
                write!(f, "its release (index {release_index}) {why}")
            }
            Reason::OtherRelease { name, version } => {
                write!(f, "attests {name}@{version}, not the release asked about")
            }
            Reason::PublisherNotTrusted {
                release_index,
                project,
            } => write!(
                f,
                "the release at index {release_index} is not signed by a publisher the policy trusts for {project}"
            ),
            Reason::NotSandboxed => f.write_str("built without a sandbox; the policy requires one"),
        }
    }
}

/// Checks that `att`'s release resolves among `entries` as [`verdict_for`] requires.
fn bound_release(
    policy: &Policy,
    sha256: &[u8; 32],
    expected: Option<(&str, &str)>,
    att: &RebuildAttestation,
    entries: &[LoggedEntry],
) -> Result<(), Reason> {
    let r = &att.predicate.release;
    let unbound = |why: &str| Reason::ReleaseNotBound {
        release_index: r.log_index,
        why: why.to_owned(),
    };
    if let Some((name, version)) = expected
        && (r.name != name || r.version != version)
    {
        return Err(Reason::OtherRelease {
            name: r.name.clone(),
            version: r.version.clone(),
        });
    }
    let Some(logged) = entries.iter().find(|e| e.index == r.log_index) else {
        return Err(unbound(
            "is not a release manifest listing this artifact among the entries seen",
        ));
    };
    let EntryKind::Release(manifest) = logged.entry.kind() else {
        return Err(unbound("is not a release manifest"));
    };
    let Some(digest) = logged.digest() else {
        return Err(unbound("is not a release manifest"));
    };
    if digest.sha256 != r.digest.sha256 || r.digest.blake3.is_some_and(|b| digest.blake3 != Some(b))
    {
        return Err(unbound(
            "has another entry digest than the attestation gives",
        ));
    }
    if manifest.predicate.project != r.name || manifest.predicate.version != r.version {
        return Err(unbound(
            "has another name or version than the attestation gives",
        ));
    }
    let listed = manifest
        .subjects
        .iter()
        .find(|s| s.digest.sha256 == *sha256);
    let Some(listed) = listed else {
        return Err(unbound("does not list this artifact"));
    };
    let attested = att.subjects.iter().find(|s| s.digest.sha256 == *sha256);
    if let (Some(a), Some(b)) = (listed.digest.blake3, attested.and_then(|s| s.digest.blake3))
        && a != b
    {
        return Err(unbound(
            "gives this artifact another blake3 than the attestation",
        ));
    }
    if !policy.publishers.is_empty() {
        let project = &manifest.predicate.project;
        let trusted = policy
            .publishers
            .iter()
            .any(|p| p.covers(project) && p.keys.iter().any(|k| same_key(k, &logged.signer)));
        if !trusted {
            return Err(Reason::PublisherNotTrusted {
                release_index: r.log_index,
                project: project.clone(),
            });
        }
    }
    Ok(())
}

/// Where a key stands in the policy at a given log index.
#[derive(Debug, Clone)]
struct KeyStanding {
    operator: String,
    /// Attestations at indices >= this are rejected; `None`: not revoked.
    revoked: Option<(u64, u64, RevocationReason)>, // (notice index, effective index, reason)
    /// For replacement keys: valid only after this notice index.
    valid_after: Option<u64>,
}

/// Applies the policy to every verified entry that concerns the artifact with digest `sha256`.
///
/// `entries` may hold attestations, release manifests and revocation notices in any order;
/// entries about other artifacts are listed as not counting. Revocation notices apply to every
/// attestation by the revoked key at or after the effective index.
pub fn verdict(policy: &Policy, sha256: &[u8; 32], entries: &[LoggedEntry]) -> Verdict {
    verdict_for(policy, sha256, None, entries)
}

/// [`verdict`], counting only attestations of the release `name`@`version` when one is given.
///
/// An attestation counts only when its `release` resolves, among `entries`, to a release
/// manifest: at its log index, with the entry digest, name and version it gives, listing this
/// artifact (blake3 agreeing where both give one), and — when the policy names publishers —
/// signed by a publisher trusted for the project. (A mismatch counts without that: hiding the
/// release must not hide a trusted operator's mismatch.)
pub fn verdict_for(
    policy: &Policy,
    sha256: &[u8; 32],
    release: Option<(&str, &str)>,
    entries: &[LoggedEntry],
) -> Verdict {
    let mut v = Verdict {
        sha256: hex::encode(sha256),
        trusted: false,
        threshold: policy.threshold,
        operators: Vec::new(),
        counted: Vec::new(),
        not_counted: Vec::new(),
        mismatches: Vec::new(),
        revocations: Vec::new(),
        ignored_revocations: Vec::new(),
        warnings: Vec::new(),
        publisher_pinned: !policy.publishers.is_empty(),
        summary: String::new(),
    };
    let standing = key_standing(policy, entries, &mut v);

    let mut sorted: Vec<&LoggedEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.index);
    let mut counted_ops: BTreeSet<String> = BTreeSet::new();
    for e in sorted {
        let key = e.signer.to_string();
        let att = match e.entry.kind() {
            EntryKind::Rebuild(att) => att,
            EntryKind::Revocation(_) => continue, // reported under revocations
            // What attestations bind to; the report lists the releases.
            EntryKind::Release(_) => continue,
        };
        let mut not = |operator: Option<&str>, reason: Reason| {
            v.not_counted.push(NotCounted {
                index: e.index,
                key: key.clone(),
                operator: operator.map(str::to_string),
                reason,
            })
        };
        let Some(st) = standing.get(&key) else {
            not(None, Reason::UntrustedKey);
            continue;
        };
        let op = st.operator.as_str();
        if let Some(after) = st.valid_after
            && e.index <= after
        {
            not(
                Some(op),
                Reason::ReplacementNotYetValid {
                    notice_index: after,
                },
            );
            continue;
        }
        if let Some((notice_index, effective_index, reason)) = st.revoked
            && e.index >= effective_index
        {
            not(
                Some(op),
                Reason::KeyRevoked {
                    notice_index,
                    effective_index,
                    reason,
                },
            );
            continue;
        }
        if !names_sha256(att, sha256) {
            not(Some(op), Reason::DifferentArtifact);
            continue;
        }
        match att.predicate.result {
            RebuildResult::Reproduced => {}
            RebuildResult::Mismatch => {
                let rebuilt = rebuilt_sha256_for(att, sha256).map(hex::encode);
                v.mismatches.push(Mismatch {
                    index: e.index,
                    operator: op.to_string(),
                    key: key.clone(),
                    rebuilt_sha256: rebuilt,
                    diff_report: att.predicate.diff_report.map(|d| hex::encode(d.sha256)),
                });
                not(
                    Some(op),
                    Reason::NotReproduced {
                        result: RebuildResult::Mismatch,
                    },
                );
                continue;
            }
            other => {
                not(Some(op), Reason::NotReproduced { result: other });
                continue;
            }
        }
        if policy.require_sandbox && att.predicate.sandbox.kind == SandboxKind::None {
            not(Some(op), Reason::NotSandboxed);
            continue;
        }
        if let Err(reason) = bound_release(policy, sha256, release, att, entries) {
            not(Some(op), reason);
            continue;
        }
        if !counted_ops.insert(op.to_string()) {
            not(
                Some(op),
                Reason::OperatorAlreadyCounted {
                    operator: op.to_string(),
                },
            );
            continue;
        }
        v.counted.push(Counted {
            index: e.index,
            operator: op.to_string(),
            key,
        });
    }
    v.operators = counted_ops.into_iter().collect();

    let enough = v.operators.len() >= policy.threshold;
    let disputed = !v.mismatches.is_empty();
    if disputed && policy.on_mismatch == OnMismatch::Warn {
        for m in &v.mismatches {
            v.warnings.push(format!(
                "operator {} reported a mismatch at index {} (policy: warn)",
                m.operator, m.index
            ));
        }
    }
    v.trusted = enough && !(disputed && policy.on_mismatch == OnMismatch::Fail);
    v.summary = if v.trusted {
        format!(
            "trusted: reproduced bit for bit by {} of {} required operator(s): {}",
            v.operators.len(),
            policy.threshold,
            v.operators.join(", ")
        )
    } else if disputed && policy.on_mismatch == OnMismatch::Fail {
        let ops: BTreeSet<&str> = v.mismatches.iter().map(|m| m.operator.as_str()).collect();
        format!(
            "not trusted: mismatch reported by trusted operator(s) {}",
            ops.into_iter().collect::<Vec<_>>().join(", ")
        )
    } else {
        format!(
            "not trusted: reproduced by {} distinct operator(s), the policy requires {}",
            v.operators.len(),
            policy.threshold
        )
    };
    v
}

/// Resolves which keys the policy trusts, for which operator, and from when to when, after
/// applying every revocation notice (and rotation) among `entries`.
///
/// A notice applies when it is signed by the revoked key itself or by the recovery key of the
/// operator that holds it. Several notices for one key: the earliest effective index wins.
/// A `compromised` notice cannot take effect after its own index (a compromise is not
/// scheduled); `retired` and `superseded` may name a later index. Rotation: a `superseded`
/// notice naming a replacement adds that key to the operator, valid after the notice, if the
/// policy allows rotation for the operator. Chains of replacements are followed.
fn key_standing(
    policy: &Policy,
    entries: &[LoggedEntry],
    v: &mut Verdict,
) -> BTreeMap<String, KeyStanding> {
    // Revocation by validity, not by order. A notice about key R applies when R is the policy's
    // (or a replacement that was validly introduced) and it is signed by R itself or by R's
    // operator's recovery key. Applying a notice only ever takes trust away, so every applicable
    // notice revokes R, and R's effective index is the earliest any of them gives. A notice that
    // *grants* something — a replacement key — counts only when signed by the recovery key, or
    // by R at an index where no *other* applicable notice has already revoked R: a thief holding
    // a revoked key cannot rotate it to their own, and a back-dated `compromised` notice voids
    // every rotation R signed from then on, and, transitively, whatever those replacements
    // introduced. Since a notice about R is signed only by R or a recovery key, R's effective
    // index depends on the notices about R alone, so the standings are computed without regard
    // to the order of the log.
    struct Notice<'a> {
        e: &'a LoggedEntry,
        n: &'a crate::predicates::RevocationNotice,
        revoked: String,
        effective: u64,
    }
    let mut owner: BTreeMap<String, &Operator> = BTreeMap::new();
    for o in &policy.operators {
        for k in &o.keys {
            owner.insert(k.to_string(), o);
        }
    }
    let mut notices: Vec<Notice> = entries
        .iter()
        .filter_map(|e| match e.entry.kind() {
            EntryKind::Revocation(n) => {
                let mut effective = n.effective_index.unwrap_or(e.index);
                if n.reason == RevocationReason::Compromised {
                    effective = effective.min(e.index);
                }
                Some(Notice {
                    e,
                    n,
                    revoked: canonical_vkey(&n.revoked_key)
                        .unwrap_or_else(|| n.revoked_key.clone()),
                    effective,
                })
            }
            _ => None,
        })
        .collect();
    notices.sort_by_key(|x| x.e.index);
    // Whether a notice could apply to its key, given the key's operator.
    let signed_right = |x: &Notice, op: &Operator| {
        let signer = x.e.signer.to_string();
        signer == x.revoked
            || op
                .recovery_key
                .as_ref()
                .is_some_and(|r| r.to_string() == signer)
    };
    // The earliest effective index of the notices about `key` (signed right), leaving one out.
    let effective_without = |key: &str, op: &Operator, skip: Option<usize>| -> Option<u64> {
        notices
            .iter()
            .enumerate()
            .filter(|(i, x)| Some(*i) != skip && x.revoked == key && signed_right(x, op))
            .map(|(_, x)| x.effective)
            .min()
    };
    // The keys the policy trusts: its own, then replacements introduced by valid grants,
    // breadth first (each key once; a replacement's validity starts after its grant).
    let mut standing: BTreeMap<String, KeyStanding> = BTreeMap::new();
    let mut queue: Vec<(String, &Operator, Option<u64>)> = Vec::new();
    for o in &policy.operators {
        for k in &o.keys {
            queue.push((k.to_string(), o, None));
        }
    }
    let mut refused_grants: Vec<String> = Vec::new();
    while !queue.is_empty() {
        // Take the earliest-valid key first, so a key named twice gets its earliest grant.
        queue.sort_by_key(|(_, _, after)| std::cmp::Reverse(after.map_or(0, |a| a + 1)));
        let (key, op, valid_after) = queue.pop().expect("not empty");
        if standing.contains_key(&key) {
            continue;
        }
        standing.insert(
            key.clone(),
            KeyStanding {
                operator: op.name.clone(),
                revoked: None,
                valid_after,
            },
        );
        for (i, x) in notices.iter().enumerate() {
            if x.revoked != key || !signed_right(x, op) {
                continue;
            }
            let Some(new) = x.n.replacement.as_deref().and_then(canonical_vkey) else {
                continue;
            };
            if !op.allow_rotation {
                v.warnings.push(format!(
                    "notice at index {} names replacement key {new} for operator {}, but the policy does not allow rotation for it",
                    x.e.index, op.name
                ));
                continue;
            }
            let by_recovery = x.e.signer.to_string() != key;
            let revoked_before =
                effective_without(&key, op, Some(i)).filter(|&eff| eff <= x.e.index);
            let too_early = valid_after.is_some_and(|a| x.e.index <= a);
            if !by_recovery && (revoked_before.is_some() || too_early) {
                refused_grants.push(format!(
                    "notice at index {} names replacement key {new}, but it is signed by {key}, which was {} at that index",
                    x.e.index,
                    match revoked_before {
                        Some(eff) => format!("revoked from index {eff}"),
                        None => "not yet valid".to_owned(),
                    }
                ));
                continue;
            }
            if owner.get(&new).is_some_and(|o| o.name != op.name) {
                refused_grants.push(format!(
                    "notice at index {} names replacement key {new}, which the policy lists under another operator",
                    x.e.index
                ));
                continue;
            }
            queue.push((new, op, Some(x.e.index)));
        }
    }
    v.warnings.extend(refused_grants);
    // Every applicable notice revokes its key; report them, and the rest as ignored.
    for x in &notices {
        let op = standing
            .get(&x.revoked)
            .and_then(|st| policy.operators.iter().find(|o| o.name == st.operator));
        let Some(op) = op.filter(|op| signed_right(x, op)) else {
            let why = if standing.contains_key(&x.revoked) {
                format!(
                    "signed by {}, which is neither the revoked key nor its operator's recovery key",
                    x.e.signer
                )
            } else {
                "the revoked key is not in the policy".to_string()
            };
            v.ignored_revocations.push(IgnoredRevocation {
                index: x.e.index,
                key: x.revoked.clone(),
                why,
            });
            continue;
        };
        let st = standing.get_mut(&x.revoked).expect("looked up above");
        match st.revoked {
            Some((_, eff, _)) if eff <= x.effective => {}
            _ => st.revoked = Some((x.e.index, x.effective, x.n.reason)),
        }
        let replacement =
            x.n.replacement
                .as_deref()
                .and_then(canonical_vkey)
                .filter(|new| {
                    standing
                        .get(new)
                        .is_some_and(|s| s.valid_after == Some(x.e.index) && s.operator == op.name)
                });
        v.revocations.push(AppliedRevocation {
            index: x.e.index,
            key: x.revoked.clone(),
            operator: op.name.clone(),
            reason: x.n.reason,
            effective_index: x.effective,
            replacement,
        });
    }
    standing
}

/// Whether the attestation names `sha256` among its subjects (the published artifacts).
fn names_sha256(att: &RebuildAttestation, sha256: &[u8; 32]) -> bool {
    att.subjects.iter().any(|s| s.digest.sha256 == *sha256)
}

/// The rebuilt sha256 of the published artifact with digest `sha256`, if the rebuild produced it.
fn rebuilt_sha256_for(att: &RebuildAttestation, sha256: &[u8; 32]) -> Option<[u8; 32]> {
    let subject = att.subjects.iter().find(|s| s.digest.sha256 == *sha256)?;
    att.predicate
        .rebuilt
        .iter()
        .find(|r| r.name == subject.name)
        .map(|r| r.digest.sha256)
}

/// A vkey in its one canonical spelling, so keys compare as strings.
fn canonical_vkey(vkey: &str) -> Option<String> {
    NoteVerifier::parse(vkey).ok().map(|k| k.to_string())
}

fn reason_str(r: RevocationReason) -> &'static str {
    match r {
        RevocationReason::Compromised => "compromised",
        RevocationReason::Retired => "retired",
        RevocationReason::Superseded => "superseded",
    }
}
