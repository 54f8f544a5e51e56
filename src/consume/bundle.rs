//! The offline bundle (`https://reprove.dev/bundle/v1`): every log entry a consumer needs to
//! verify a release without the network, each with its c2sp `tlog-proof`.
//!
//! ```json
//! {"format": "https://reprove.dev/bundle/v1",
//!  "release": {"name": "hello", "version": "1.2.0"},
//!  "entries": [{"index": 3, "entry": "<base64 of the logged bytes>",
//!               "proof": "c2sp.org/tlog-proof@v1\nindex 3\n…"}]}
//! ```
//!
//! The bundle is not trusted: every entry is proven and verified under the consumer's policy
//! exactly like an entry fetched from the log. Proofs that share a checkpoint (the usual case:
//! a bundle is written at one checkpoint) cost one checkpoint signature check in all.
//! Documented in `docs/formats.md` ("Offline bundle").

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_verifier::policy::{Policy, PolicyCheckpoint, verify_logged_entry_at};
use reprove_verifier::predicates::EntryKind;
use reprove_verifier::proof::TlogProof;
use serde::{Deserialize, Serialize};

use super::state::StateDir;
use super::{Evidence, Verified, classify};

/// The `format` of version 1.
pub const FORMAT: &str = "https://reprove.dev/bundle/v1";

/// The largest bundle file read, in bytes.
pub const MAX_BUNDLE_SIZE: u64 = 1 << 30;

/// A bundle as written: entries with their proofs, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The release the bundle was made for, if any.
    pub release: Option<(String, String)>,
    /// Entries in increasing index order, each index once.
    pub entries: Vec<BundleEntry>,
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
        Ok(Bundle {
            release: raw.release.map(|r| (r.name, r.version)),
            entries,
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

/// A bundle's entries, each proven and verified under the policy.
#[derive(Debug)]
pub struct Offline {
    verified: Vec<Verified>,
    /// The one checkpoint every entry is proven under (`None` for an empty bundle).
    size: Option<u64>,
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
        // Each entry costs one Ed25519 verification and a JSON parse, independent of the
        // others: spread them over the cores, keeping the bundle's order.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = bundle.entries.len().div_ceil(threads).max(1);
        let checkpoints = &checkpoints;
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
        let verified = results
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()
            .context("the bundle does not hold")?;
        Ok(Offline { verified, size })
    }

    /// The tree size the bundle's entries are proven under.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The verified entries that name `sha256`, every revocation notice, and every rejected
    /// entry.
    pub fn evidence(&self, sha256: &[u8; 32]) -> Evidence {
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
