//! The offline bundle (`https://reprove.dev/bundle/v2`): every log entry a consumer needs to
//! verify a release without the network, each with its c2sp `tlog-proof`, and the proven
//! lookups that show the bundle left nothing out.
//!
//! ```json
//! {"format": "https://reprove.dev/bundle/v2",
//!  "release": {"name": "hello", "version": "1.2.0"},
//!  "entries": [{"index": 3, "entry": "<base64 of the logged bytes>",
//!               "proof": "c2sp.org/tlog-proof@v1\nindex 3\n…"}],
//!  "lookups": [{"key": "<hex of the key's encoding>", "answer": {"note": …, "indices": […],
//!               "proof": {…}}, "consistency": ["<base64 hash>", …]}]}
//! ```
//!
//! The bundle is not trusted: every entry is proven and verified under the consumer's policy
//! exactly like an entry fetched from the log, and every lookup is proven under the log's
//! verifiable index, bound to the bundle's checkpoint. The consumer requires a proven list for
//! every lookup its policy needs (an operator's attestations of the artifact, the notices about
//! a key), and every entry those lists name must be in the bundle: a bundle that drops a
//! mismatch or a revocation is refused. Documented in `docs/formats.md` ("Offline bundle").

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_ledger::IndexKey;
use reprove_verifier::checkpoint::Checkpoint;
use reprove_verifier::merkle::Hash;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::policy::{LoggedEntry, Policy, PolicyCheckpoint, verify_logged_entry_at};
use reprove_verifier::predicates::EntryKind;
use reprove_verifier::proof::TlogProof;
use reprove_verifier::vindex::ProvenAnswer;
use serde::{Deserialize, Serialize};

use crate::client::{release_key, signed_by};

use super::state::StateDir;
use super::{Evidence, Verified, classify};

/// The `format` this version writes and reads.
pub const FORMAT: &str = "https://reprove.dev/bundle/v2";

/// The format of bundles without lookup proofs, refused with a clear message.
const FORMAT_V1: &str = "https://reprove.dev/bundle/v1";

/// The largest bundle file read, in bytes.
pub const MAX_BUNDLE_SIZE: u64 = 1 << 30;

/// A bundle as written: entries with their proofs, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The release the bundle was made for, if any.
    pub release: Option<(String, String)>,
    /// Entries in increasing index order, each index once.
    pub entries: Vec<BundleEntry>,
    /// Proven lookups, each key once.
    pub lookups: Vec<BundleLookup>,
}

/// One proven lookup: the key, the ledger's answer, and the consistency proof from the
/// bundle's checkpoint to the tree of the answer's index note (empty when they are the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLookup {
    pub key: IndexKey,
    pub answer: ProvenAnswer,
    pub consistency: Vec<Hash>,
}

/// One logged entry and its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    pub index: u64,
    pub entry: Vec<u8>,
    pub proof: TlogProof,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundle {
    format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release: Option<RawRelease>,
    entries: Vec<RawEntry>,
    lookups: Vec<RawLookup>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLookup {
    key: String,
    answer: ProvenAnswer,
    consistency: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    name: String,
    version: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    index: u64,
    entry: String,
    proof: String,
}

impl Bundle {
    /// Parses a bundle: the format must be v1, entries strictly increasing by index, each
    /// entry base64, each proof a well-formed tlog-proof for that entry's index.
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Bundle> {
        #[derive(Deserialize)]
        struct Format {
            format: String,
        }
        if let Ok(Format { format }) = serde_json::from_slice::<Format>(bytes)
            && format == FORMAT_V1
        {
            anyhow::bail!(
                "this bundle is {FORMAT_V1}, which carries no lookup proofs: it cannot show that \
                 it left no attestation or revocation out. Make a new one with `reprove bundle`"
            );
        }
        let raw: RawBundle = serde_json::from_slice(bytes).context("not a reprove bundle")?;
        if raw.format != FORMAT {
            anyhow::bail!(
                "bundle format {:?} is not supported (this reprove reads {FORMAT})",
                raw.format
            );
        }
        let mut entries = Vec::with_capacity(raw.entries.len());
        let mut last: Option<u64> = None;
        for (i, e) in raw.entries.into_iter().enumerate() {
            if last.is_some_and(|l| e.index <= l) {
                anyhow::bail!(
                    "bundle entries[{i}]: index {} is out of order or repeated",
                    e.index
                );
            }
            last = Some(e.index);
            let entry = STANDARD
                .decode(&e.entry)
                .with_context(|| format!("bundle entries[{i}].entry: not base64"))?;
            let proof = TlogProof::parse(e.proof.as_bytes())
                .with_context(|| format!("bundle entries[{i}].proof: not a tlog-proof"))?;
            if proof.index() != e.index {
                anyhow::bail!(
                    "bundle entries[{i}]: the proof is for index {}, the entry is at {}",
                    proof.index(),
                    e.index
                );
            }
            entries.push(BundleEntry {
                index: e.index,
                entry,
                proof,
            });
        }
        let lookups = parse_lookups(raw.lookups)?;
        Ok(Bundle {
            release: raw.release.map(|r| (r.name, r.version)),
            entries,
            lookups,
        })
    }

    /// The bundle as JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        let raw = RawBundle {
            format: FORMAT.to_string(),
            release: self.release.as_ref().map(|(n, v)| RawRelease {
                name: n.clone(),
                version: v.clone(),
            }),
            entries: self
                .entries
                .iter()
                .map(|e| RawEntry {
                    index: e.index,
                    entry: STANDARD.encode(&e.entry),
                    proof: String::from_utf8_lossy(&e.proof.encode()).into_owned(),
                })
                .collect(),
            lookups: self
                .lookups
                .iter()
                .map(|l| RawLookup {
                    key: hex::encode(l.key.encoding()),
                    answer: l.answer.clone(),
                    consistency: l.consistency.iter().map(|h| STANDARD.encode(h)).collect(),
                })
                .collect(),
        };
        let mut out = serde_json::to_vec_pretty(&raw).expect("a bundle serializes");
        out.push(b'\n');
        out
    }

    /// Reads and parses a bundle file.
    pub fn read(path: &Path) -> anyhow::Result<Bundle> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading the bundle {}", path.display()))?;
        if meta.len() > MAX_BUNDLE_SIZE {
            anyhow::bail!(
                "the bundle {} is {} bytes; the limit is {MAX_BUNDLE_SIZE}",
                path.display(),
                meta.len()
            );
        }
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the bundle {}", path.display()))?;
        Bundle::parse(&bytes).with_context(|| format!("the bundle {}", path.display()))
    }
}

/// A bundle's entries, each proven and verified under the policy, and its proven lookups.
#[derive(Debug)]
pub struct Offline {
    verified: Vec<Verified>,
    /// The one checkpoint every entry is proven under (`None` for an empty bundle).
    size: Option<u64>,
    /// The encodings of the keys whose complete lists the bundle proves (every entry they
    /// list is in the bundle).
    covered: BTreeSet<Vec<u8>>,
}

impl Offline {
    /// Verifies every entry of `bundle` under `policy`. A proof that fails is an error (the
    /// bundle lies about the log); an entry that is not a valid reprove entry is rejected.
    /// Each distinct checkpoint is checked against the consumer's state when the sizes are
    /// equal (same size, other root: a fork); other sizes cannot be compared without the log,
    /// and the state is not updated from a bundle.
    pub fn verify(policy: &Policy, bundle: &Bundle, state: &StateDir) -> anyhow::Result<Offline> {
        let seen = state.load(policy)?;
        let mut checkpoints: HashMap<Vec<u8>, PolicyCheckpoint> = HashMap::new();
        for e in &bundle.entries {
            let note = e.proof.checkpoint();
            if !checkpoints.contains_key(note) {
                let cp = policy.verify_checkpoint(note).with_context(|| {
                    format!(
                        "bundle entry {}: its checkpoint does not verify under the policy (log key {})",
                        e.index, policy.log.key
                    )
                })?;
                if let Some(s) = &seen
                    && s.checkpoint.size() == cp.checkpoint().size()
                {
                    state.check(Some(s), &cp, |_, _| Ok(Vec::new()))?;
                }
                checkpoints.insert(note.to_vec(), cp);
            }
        }
        // One checkpoint for the whole bundle: entries proven under several trees could be
        // picked from several forks of the same log (same key) and merged into one story.
        if checkpoints.len() > 1 {
            anyhow::bail!(
                "the bundle's entries are proven under {} different checkpoints; a bundle holds \
                 entries proven under one (as `reprove bundle` writes them)",
                checkpoints.len()
            );
        }
        if let Some(cp) = checkpoints.values().next() {
            policy
                .check_age(cp.checkpoint(), super::now_secs())
                .context("the bundle is too old for the policy")?;
        }
        let size = checkpoints.values().next().map(|cp| cp.checkpoint().size());
        if let (Some(seen), Some(size)) = (&seen, size)
            && size < seen.checkpoint.size()
        {
            anyhow::bail!(
                "the bundle is as of tree size {size}, older than the checkpoint this consumer \
                 already verified (size {}): it may predate a revocation or a mismatch logged \
                 since; get a newer bundle, or verify online",
                seen.checkpoint.size()
            );
        }
        let verified = verify_entries(policy, bundle, &checkpoints)?;
        let covered = match checkpoints.values().next() {
            Some(cp) => check_lookups(policy, bundle, cp.checkpoint().checkpoint())?,
            None if bundle.lookups.is_empty() => BTreeSet::new(),
            None => anyhow::bail!("the bundle has lookups but no entries to prove them under"),
        };
        Ok(Offline {
            verified,
            size,
            covered,
        })
    }

    /// The tree size the bundle's entries are proven under.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Checks that the bundle proves complete every lookup the policy's verdict on `sha256`
    /// rests on — as a live log would be asked: the notices about each operator key (signed by
    /// the key or a recovery key), following replacements, and the entries naming the artifact
    /// signed by each of those keys and each publisher key — then gives the evidence. A
    /// lookup the bundle does not prove is an error: the bundle was made for another policy, or
    /// it hides something.
    pub fn proven_evidence(&self, policy: &Policy, sha256: &[u8; 32]) -> anyhow::Result<Evidence> {
        let missing = |what: String| {
            anyhow::anyhow!(
                "the bundle does not prove {what}: it cannot show that it left nothing out \
                 (made for another policy? make one with this policy, or verify online)"
            )
        };
        let recovery = policy.recovery_keys();
        let mut queue: Vec<NoteVerifier> = policy
            .operators
            .iter()
            .flat_map(|o| o.keys.iter().cloned())
            .collect();
        let mut followed: Vec<NoteVerifier> = Vec::new();
        while let Some(key) = queue.pop() {
            if followed.contains(&key) {
                continue;
            }
            if followed.len() >= MAX_FOLLOWED {
                anyhow::bail!(
                    "more than {MAX_FOLLOWED} keys to follow through replacement notices"
                );
            }
            followed.push(key.clone());
            let about = IndexKey::RevokedKey(key.to_string());
            let scoped = std::iter::once(&key)
                .chain(recovery.iter())
                .all(|s| self.covers(&signed_by(about.clone(), s)));
            if !self.covers(&about) && !scoped {
                return Err(missing(format!(
                    "which revocation notices exist about {key}"
                )));
            }
            for v in &self.verified {
                if let Verified::Entry(e) = v
                    && let Some(r) = e.replacement_for(&key, &recovery)
                {
                    queue.push(r);
                }
            }
        }
        let artifact = IndexKey::Artifact(*sha256);
        if !self.covers(&artifact) {
            let publishers = policy.publishers.iter().flat_map(|p| p.keys.iter());
            for signer in followed.iter().chain(publishers) {
                if !self.covers(&signed_by(artifact.clone(), signer)) {
                    return Err(missing(format!(
                        "which entries {signer} signed about the artifact sha256:{}",
                        hex::encode(sha256)
                    )));
                }
            }
        }
        self.with_unpinned_releases(self.evidence(sha256), &followed)
    }

    /// For attestations of unpinned outputs (bytes no publisher fixed): the release each binds
    /// to, and every attestation of that release, which the bundle must prove whole (the
    /// release's lookup, or its lookups scoped to every key followed) — a bundle must not hide
    /// an operator that built other bytes.
    fn with_unpinned_releases(
        &self,
        mut evidence: Evidence,
        followed: &[NoteVerifier],
    ) -> anyhow::Result<Evidence> {
        let wanted: BTreeSet<u64> = evidence
            .entries
            .iter()
            .filter_map(|e| match e.entry().kind() {
                EntryKind::Rebuild(r) => Some(r.predicate.release.log_index),
                _ => None,
            })
            .collect();
        let carried: Vec<&LoggedEntry> = self
            .verified
            .iter()
            .filter_map(|v| match v {
                Verified::Entry(e) => Some(&**e),
                Verified::Rejected(_) => None,
            })
            .collect();
        for release in carried.iter().filter(|e| wanted.contains(&e.index())) {
            let EntryKind::Release(r) = release.entry().kind() else {
                continue;
            };
            if r.predicate.recipe.unpinned_outputs.is_empty() {
                continue;
            }
            let key = release_key(&r.predicate.project, &r.predicate.version);
            let scoped = followed
                .iter()
                .all(|s| self.covers(&signed_by(key.clone(), s)));
            if !self.covers(&key) && !scoped {
                anyhow::bail!(
                    "the bundle does not prove which attestations exist of {}@{}, whose outputs \
                     no publisher pinned: it cannot show that no operator built other bytes",
                    r.predicate.project,
                    r.predicate.version
                );
            }
            for x in &carried {
                let binds = x.index() == release.index()
                    || matches!(x.entry().kind(), EntryKind::Rebuild(a)
                        if a.predicate.release.log_index == release.index());
                if binds && !evidence.entries.iter().any(|y| y.index() == x.index()) {
                    evidence.entries.push((*x).clone());
                }
            }
        }
        Ok(evidence)
    }

    fn covers(&self, key: &IndexKey) -> bool {
        self.covered.contains(&key.encoding())
    }

    /// The verified entries that name `sha256`, every revocation notice, and every rejected
    /// entry.
    fn evidence(&self, sha256: &[u8; 32]) -> Evidence {
        let mut evidence = Evidence::default();
        for v in &self.verified {
            let relevant = match v {
                Verified::Rejected(_) => true,
                Verified::Entry(e) => match e.entry().kind() {
                    EntryKind::Revocation(_) => true,
                    _ => e
                        .entry()
                        .subjects()
                        .iter()
                        .any(|a| a.digest.sha256 == *sha256),
                },
            };
            if relevant {
                evidence.push(v.clone());
            }
        }
        evidence
    }
}

/// Every entry of `bundle` proven and verified under its checkpoint (in `checkpoints`).
fn verify_entries(
    policy: &Policy,
    bundle: &Bundle,
    checkpoints: &HashMap<Vec<u8>, PolicyCheckpoint>,
) -> anyhow::Result<Vec<Verified>> {
    // Each entry costs one Ed25519 verification and a JSON parse, independent of the
    // others: spread them over the cores, keeping the bundle's order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = bundle.entries.len().div_ceil(threads).max(1);
    let results: Vec<anyhow::Result<Verified>> = std::thread::scope(|scope| {
        let workers: Vec<_> = bundle
            .entries
            .chunks(chunk)
            .map(|entries| {
                scope.spawn(move || {
                    entries
                        .iter()
                        .map(|e| {
                            let cp = &checkpoints[e.proof.checkpoint()];
                            let result = verify_logged_entry_at(policy, &e.entry, &e.proof, cp);
                            classify(e.index, result)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a verification thread panicked"))
            .collect()
    });
    results
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()
        .context("the bundle does not hold")
}

/// A bundle's lookups: each key the hex encoding of a proven key, once; each consistency
/// proof base64 hashes.
fn parse_lookups(raw: Vec<RawLookup>) -> anyhow::Result<Vec<BundleLookup>> {
    let mut lookups: Vec<BundleLookup> = Vec::with_capacity(raw.len());
    for (i, l) in raw.into_iter().enumerate() {
        let key = hex::decode(&l.key)
            .ok()
            .and_then(|b| IndexKey::from_encoding(&b))
            .filter(IndexKey::is_proven)
            .with_context(|| {
                format!("bundle lookups[{i}].key: not the hex encoding of a proven lookup key")
            })?;
        if lookups.iter().any(|o| o.key == key) {
            anyhow::bail!("bundle lookups[{i}]: the key {key:?} is there twice");
        }
        let consistency = l
            .consistency
            .iter()
            .map(|h| {
                STANDARD
                    .decode(h)
                    .ok()
                    .and_then(|b| <Hash>::try_from(b).ok())
            })
            .collect::<Option<Vec<Hash>>>()
            .with_context(|| format!("bundle lookups[{i}].consistency: not base64 hashes"))?;
        lookups.push(BundleLookup {
            key,
            answer: l.answer,
            consistency,
        });
    }
    Ok(lookups)
}

/// The most keys followed through replacement notices.
const MAX_FOLLOWED: usize = 10_000;

/// Checks every lookup of `bundle` under the bundle's checkpoint `under`: the answer's proof
/// and index note (signed by the log key), the note bound to `under` (the same tree, or one a
/// consistency proof shows extends it; an older index is refused), and every entry the list
/// names inside `under`'s tree present in the bundle. Returns the keys proven complete.
fn check_lookups(
    policy: &Policy,
    bundle: &Bundle,
    under: &Checkpoint,
) -> anyhow::Result<BTreeSet<Vec<u8>>> {
    let present: BTreeSet<u64> = bundle.entries.iter().map(|e| e.index).collect();
    let mut covered = BTreeSet::new();
    for l in &bundle.lookups {
        let encoding = l.key.encoding();
        let what = || format!("the bundle's lookup {:?}", l.key);
        let note = l
            .answer
            .verify(&policy.log.key, &encoding)
            .with_context(what)?;
        note.check_binds(under, &l.consistency).with_context(what)?;
        if let Some(&left_out) = l
            .answer
            .indices
            .iter()
            .find(|&&i| i < under.size() && !present.contains(&i))
        {
            anyhow::bail!(
                "the bundle leaves out entry {left_out}, which the log lists under {:?}: refusing \
                 a bundle that hides part of the evidence",
                l.key
            );
        }
        covered.insert(encoding);
    }
    Ok(covered)
}
