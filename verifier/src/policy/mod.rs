//! The consumer policy, entry verification, and the verdict.
//!
//! This file: the policy file ([`Policy::parse`]); `entry.rs`: one logged entry verified;
//! `verdict.rs`: the verdict; `revocation.rs`: where each key stands after the notices.
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

mod entry;
mod revocation;
mod verdict;

pub use entry::{
    EntryError, LoggedEntry, PolicyCheckpoint, verify_logged_entry, verify_logged_entry_at,
};
impl crate::staging::Speakers for Policy {
    fn may_publish(&self, project: &str, key: &NoteVerifier) -> bool {
        Policy::may_publish(self, project, key)
    }

    fn same_publisher(&self, project: &str, a: &NoteVerifier, b: &NoteVerifier) -> bool {
        same_key(a, b)
            || self.publishers.iter().any(|p| {
                p.covers(project)
                    && p.keys.iter().any(|k| same_key(k, a))
                    && p.keys.iter().any(|k| same_key(k, b))
            })
    }
}

pub use verdict::{
    AppliedRevocation, Counted, IgnoredBecause, IgnoredRevocation, Mismatch, NotCounted, Reason,
    RefusedReplacement, Summary, Unbound, Verdict, Warning, verdict, verdict_for,
};

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

/// What a finding about a release that does not disprove its bytes does to the verdict: a
/// yank (`on_yanked`, default `warn`) or an announcement without reproduction
/// (`on_unverified`, default `fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFinding {
    /// Not trusted (a yank), or not made trusted (an unverified announcement).
    Fail,
    /// A warning: the yanked bytes stay trusted; the unverified announcement makes the bytes
    /// trusted without reproduction, when the policy names the publisher.
    Warn,
}

fn warn() -> OnFinding {
    OnFinding::Warn
}

fn fail() -> OnFinding {
    OnFinding::Fail
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
    /// What a yank of the artifact's release by its publisher does (default `warn`).
    pub on_yanked: OnFinding,
    /// Whether a release its publisher announced without reproduction is trusted anyway
    /// (`warn`; only when the policy names publishers) or not (`fail`, the default).
    pub on_unverified: OnFinding,
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
    /// Every operator's recovery key (the keys that may revoke an operator's keys and name
    /// their replacements).
    pub fn recovery_keys(&self) -> Vec<NoteVerifier> {
        self.operators
            .iter()
            .filter_map(|o| o.recovery_key.clone())
            .collect()
    }

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
            on_yanked: self.on_yanked,
            on_unverified: self.on_unverified,
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

    /// Whether `key` belongs to a publisher the policy trusts for `project`.
    pub fn trusts_publisher(&self, project: &str, key: &NoteVerifier) -> bool {
        self.publishers
            .iter()
            .any(|p| p.covers(project) && p.keys.iter().any(|k| same_key(k, key)))
    }

    /// Whether `key` may speak for `project`'s staged releases: a publisher trusted for it,
    /// or anyone when the policy names no publishers.
    pub fn may_publish(&self, project: &str, key: &NoteVerifier) -> bool {
        self.publishers.is_empty() || self.trusts_publisher(project, key)
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
    #[serde(default = "warn")]
    on_yanked: OnFinding,
    #[serde(default = "fail")]
    on_unverified: OnFinding,
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
        let witnesses = witnesses(self.witnesses)?;
        let operators = operators(self.operator)?;
        let publishers = publishers(self.publisher)?;
        each_public_key_once(&operators, &witnesses)?;
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
            on_yanked: self.on_yanked,
            on_unverified: self.on_unverified,
            operators,
            publishers,
            require_sandbox: self.require_sandbox,
            max_checkpoint_age,
            require_online_recheck: self.require_online_recheck,
        })
    }
}

/// The `[witnesses]` table: cosignature keys and a quorum they can meet.
fn witnesses(raw: Option<RawWitnesses>) -> Result<WitnessPolicy, PolicyError> {
    let (quorum, wkeys) = raw.map_or((0, Vec::new()), |w| (w.quorum, w.keys));
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
    WitnessPolicy::new(witnesses, quorum).map_err(|e| PolicyError::Witnesses(e.to_string()))
}

/// The `[[operator]]` tables: unique names, at least one key each, no key in two operators.
fn operators(raw: Vec<RawOperator>) -> Result<Vec<Operator>, PolicyError> {
    let mut operators: Vec<Operator> = Vec::with_capacity(raw.len());
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (i, raw) in raw.into_iter().enumerate() {
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
    Ok(operators)
}

/// The `[[publisher]]` tables: at least one project pattern and one key each.
fn publishers(raw: Vec<RawPublisher>) -> Result<Vec<Publisher>, PolicyError> {
    let mut publishers = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
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
    Ok(publishers)
}

/// Every public key once, whatever the name or role it is given under: one signature could
/// otherwise be relabelled to count twice. (A publisher's key may also be an operator's:
/// publishing and rebuilding are different statements.)
fn each_public_key_once(
    operators: &[Operator],
    witnesses: &WitnessPolicy,
) -> Result<(), PolicyError> {
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
    Ok(())
}

/// Two verifier keys are the same key when name, ID, type and public key all agree.
fn same_key(a: &NoteVerifier, b: &NoteVerifier) -> bool {
    a == b
}
