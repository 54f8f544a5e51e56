//! Evidence from a live log: the checkpoint (verified under the policy and checked against
//! the consumer's state), lookups, and entries with their inclusion proofs *built from the
//! log's tiles* (through [`LogClient`] and its tile cache), never taken from the log's word.
//!
//! Lookups are proven: every list comes with a proof under the log's verifiable index, bound
//! to the session's checkpoint, so the log cannot leave an entry out of one; and it cannot make
//! an entry count that it did not commit to, because every entry is proven under the signed
//! checkpoint and verified by the pure core.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use anyhow::Context;
use reprove_verifier::merkle::leaf_hash;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::policy::{Policy, PolicyCheckpoint, verify_logged_entry_at};
use reprove_verifier::predicates::EntryKind;
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{BundleId, EntryBundle};

use super::state::{Seen, StateDir};
use super::{Evidence, NotWeighed, Verified, classify};
use crate::client::{ClientOptions, LogClient, Proven, signed_by};
use reprove_ledger::{IndexKey, derive_index_keys};
use reprove_verifier::dsse::Envelope;

/// The most keys whose revocation notices are followed (policy keys and their replacements).
const MAX_KEYS: usize = 10_000;

/// A verifying session against one live log, at one checkpoint.
#[derive(Debug)]
pub struct Online<'p> {
    policy: &'p Policy,
    client: LogClient,
    state: StateDir,
    seen: Option<Seen>,
    checkpoint: PolicyCheckpoint,
    bundles: HashMap<u64, EntryBundle>,
    verified: HashMap<u64, Verified>,
    revocations: Option<Vec<u64>>,
    /// The keys whose notices were followed: the policy's operator keys and the replacement
    /// keys valid notices introduced (set with `revocations`).
    followed: Vec<NoteVerifier>,
    /// Indices a lookup named that the checkpoint does not cover yet (logged after it).
    pub newer: BTreeSet<u64>,
    /// Every proven lookup of the session, by key encoding (what a bundle carries).
    pub proven: BTreeMap<Vec<u8>, Proven>,
    /// The lookup keys of the downloaded entries checked against the proven lists, derived
    /// once each (deriving verifies signatures).
    derived: HashMap<u64, Vec<IndexKey>>,
}

impl<'p> Online<'p> {
    /// Connects to the log at `url`: fetches its checkpoint, verifies it under the policy (log
    /// key, witnesses), and checks that it extends the checkpoint this consumer saw last.
    pub fn connect(
        policy: &'p Policy,
        url: &str,
        state: StateDir,
        cache: Option<PathBuf>,
    ) -> anyhow::Result<Online<'p>> {
        let client = LogClient::new(
            url,
            ClientOptions {
                cache,
                ..ClientOptions::default()
            },
        )?;
        let bytes = client
            .get("checkpoint")
            .with_context(|| format!("fetching the checkpoint of the log at {url}"))?;
        let checkpoint = policy.verify_checkpoint(&bytes).with_context(|| {
            format!(
                "the checkpoint of the log at {url} does not verify under the policy (log key {}, \
                 {} of {} witnesses)",
                policy.log.key,
                policy.witnesses.quorum(),
                policy.witnesses.witnesses().len()
            )
        })?;
        policy
            .check_age(checkpoint.checkpoint(), super::now_secs())
            .with_context(|| {
                format!("the log at {url} serves a checkpoint too old for the policy")
            })?;
        let seen = state.load(policy)?;
        state.check(seen.as_ref(), &checkpoint, |a, b| {
            Ok(client.consistency_proof_from_tiles(a, b)?)
        })?;
        Ok(Online {
            policy,
            client,
            state,
            seen,
            checkpoint,
            bundles: HashMap::new(),
            verified: HashMap::new(),
            revocations: None,
            followed: Vec::new(),
            newer: BTreeSet::new(),
            proven: BTreeMap::new(),
            derived: HashMap::new(),
        })
    }

    /// The log client of the session.
    pub fn client(&self) -> &LogClient {
        &self.client
    }

    /// The keys whose notices were followed (after [`Online::revocations`]): the policy's
    /// operator keys and the replacements valid notices introduced.
    pub fn followed_keys(&self) -> &[NoteVerifier] {
        &self.followed
    }

    /// The verified checkpoint everything is proven under.
    pub fn checkpoint(&self) -> &PolicyCheckpoint {
        &self.checkpoint
    }

    /// Records the checkpoint in the state (compare-and-swap): call after a run that completed.
    pub fn commit(&self) -> anyhow::Result<()> {
        self.state
            .advance(self.policy, self.seen.as_ref(), &self.checkpoint, |a, b| {
                Ok(self.client.consistency_proof_from_tiles(a, b)?)
            })
    }

    /// Every index under `key`, proven complete (the log's verifiable index, bound to the
    /// session's checkpoint), in log order, restricted to the checkpoint's tree (later ones
    /// are noted in [`Online::newer`]). A missing or failing proof is an error.
    pub fn lookup(&mut self, key: &IndexKey) -> anyhow::Result<Vec<u64>> {
        let proven = self.client.proven_lookup(
            key,
            &self.policy.log.key,
            self.checkpoint.checkpoint().checkpoint(),
        )?;
        self.newer.extend(proven.later.iter().copied());
        let inside = proven.inside.clone();
        self.proven.insert(key.encoding(), proven);
        Ok(inside)
    }

    /// The logged bytes of entry `index` (from its entry bundle) and its tlog-proof under the
    /// session's checkpoint, built from the tiles and verified against the signed root.
    pub fn logged(&mut self, index: u64) -> anyhow::Result<(Vec<u8>, TlogProof)> {
        let size = self.checkpoint.checkpoint().size();
        let n = index / 256;
        let id = BundleId::in_tree(n, size)
            .with_context(|| format!("entry {index} is outside the tree of {size}"))?;
        let mut proven = None;
        // Twice at most: a bundle the disk cache held that does not prove is evicted and
        // fetched again, so a lying mirror's leftover is not blamed on the log for ever.
        for attempt in 0..2 {
            let bundle = match self.bundles.get(&n) {
                Some(b) => b,
                None => {
                    let b = self
                        .client
                        .bundle(id)
                        .with_context(|| format!("fetching the entry bundle of entry {index}"))?;
                    self.bundles.entry(n).or_insert(b)
                }
            };
            let entry = bundle.entries()[(index % 256) as usize].clone();
            match self.client.inclusion_from_tiles(
                self.checkpoint.checkpoint(),
                index,
                &leaf_hash(&entry),
            ) {
                Ok(proof) => {
                    self.client.keep_proven(&[id.path()]);
                    proven = Some((entry, proof));
                    break;
                }
                Err(e) => {
                    self.bundles.remove(&n);
                    if attempt == 0 && self.client.evict_cached(&[id.path()]) {
                        continue;
                    }
                    return Err(anyhow::Error::new(e)).with_context(|| {
                        format!(
                            "entry {index}: the log's tiles and entry bundle do not prove it \
                             under the log's signed checkpoint (tree {size}): the log served \
                             data that does not match its signed tree"
                        )
                    });
                }
            }
        }
        let (entry, proof) = proven.context("the entry was not proven")?;
        let proof = TlogProof::new(
            None,
            index,
            proof,
            self.checkpoint.checkpoint().signed_note().to_vec(),
        )
        .context("building the entry's tlog-proof")?;
        Ok((entry, proof))
    }

    /// Entry `index`, fetched, proven and verified (once per session).
    pub fn verified(&mut self, index: u64) -> anyhow::Result<Verified> {
        if let Some(v) = self.verified.get(&index) {
            return Ok(v.clone());
        }
        let (entry, proof) = self.logged(index)?;
        let result = verify_logged_entry_at(self.policy, &entry, &proof, &self.checkpoint);
        let v = classify(index, result)?;
        self.verified.insert(index, v.clone());
        Ok(v)
    }

    /// The indices of every revocation notice about a policy key, or about a replacement key
    /// that a notice introduced (followed transitively), fetched once per session. Only
    /// notices that can apply are asked for: signed by the revoked key or by a recovery key of
    /// the policy (lookups scoped to those signers, so nobody else's notices crowd them out).
    pub fn revocations(&mut self) -> anyhow::Result<Vec<u64>> {
        if let Some(r) = &self.revocations {
            return Ok(r.clone());
        }
        let keys: Vec<NoteVerifier> = self
            .policy
            .operators
            .iter()
            .flat_map(|o| o.keys.iter().cloned())
            .collect();
        let (found, followed) = self.notices_about(keys, true)?;
        let found: Vec<u64> = found.into_iter().collect();
        self.revocations = Some(found.clone());
        self.followed = followed;
        Ok(found)
    }

    /// The indices of every revocation notice about `keys`, by anyone, and about the
    /// replacement keys those notices introduce, followed transitively: what a bundle carries
    /// for consumers whose policies may name other recovery keys than this one.
    pub fn revocations_of(&mut self, keys: Vec<NoteVerifier>) -> anyhow::Result<BTreeSet<u64>> {
        Ok(self.notices_about(keys, false)?.0)
    }

    /// The notices about `keys` and their replacements, and every key followed. `scoped`: ask
    /// only for notices signed by the key itself or a recovery key of the policy.
    fn notices_about(
        &mut self,
        keys: Vec<NoteVerifier>,
        scoped: bool,
    ) -> anyhow::Result<(BTreeSet<u64>, Vec<NoteVerifier>)> {
        let recovery = self.policy.recovery_keys();
        let mut queue = keys;
        let mut asked: Vec<NoteVerifier> = Vec::new();
        let mut found: BTreeSet<u64> = BTreeSet::new();
        while let Some(key) = queue.pop() {
            if asked.contains(&key) {
                continue;
            }
            if asked.len() >= MAX_KEYS {
                anyhow::bail!(
                    "more than {MAX_KEYS} keys to follow through replacement notices: refusing \
                     to decide on part of the revocations"
                );
            }
            asked.push(key.clone());
            let about = IndexKey::RevokedKey(key.to_string());
            let lookups: Vec<IndexKey> = if scoped {
                std::iter::once(&key)
                    .chain(recovery.iter())
                    .map(|signer| signed_by(about.clone(), signer))
                    .collect()
            } else {
                vec![about]
            };
            let mut indices = BTreeSet::new();
            for lookup in &lookups {
                indices.extend(self.lookup(lookup)?);
            }
            for index in indices {
                found.insert(index);
                if let Verified::Entry(e) = self.verified(index)?
                    && let Some(r) = e.replacement_for(&key, &recovery)
                {
                    queue.push(r);
                }
            }
        }
        Ok((found, asked))
    }

    /// Everything the log holds about the artifact `sha256` that the policy can weigh: the
    /// entries naming it signed by an operator key (or a replacement a notice introduced) or a
    /// pinned publisher key, every revocation notice that may apply to those keys, and the
    /// release each attestation names (fetched by its index, whoever signed it, so the verdict
    /// can check the binding even when no publisher is pinned). Each lookup is scoped to one
    /// signer: entries by anyone else cannot crowd the ones that decide out of the answer.
    pub fn evidence(&mut self, sha256: &[u8; 32]) -> anyhow::Result<Evidence> {
        let mut indices: BTreeSet<u64> = self.revocations()?.into_iter().collect();
        let artifact = IndexKey::Artifact(*sha256);
        let mut signers = self.followed.clone();
        for k in self.policy.publishers.iter().flat_map(|p| p.keys.iter()) {
            if !signers.contains(k) {
                signers.push(k.clone());
            }
        }
        for signer in &signers {
            indices.extend(self.lookup(&signed_by(artifact.clone(), signer))?);
        }
        let size = self.checkpoint.checkpoint().size();
        let mut releases = BTreeSet::new();
        for &index in &indices {
            if let Verified::Entry(e) = self.verified(index)?
                && let EntryKind::Rebuild(r) = e.entry().kind()
                && r.predicate.release.log_index < size
            {
                releases.insert(r.predicate.release.log_index);
            }
        }
        let others = self.unpinned_peers(&releases)?;
        indices.extend(releases);
        indices.extend(others);
        self.check_index_against_bundles()?;
        let mut evidence = Evidence::default();
        for &index in &indices {
            evidence.push(self.verified(index)?);
        }
        let path = format!("lookup/sha256/{}", hex::encode(sha256));
        evidence.not_weighed = Some(self.not_weighed(&path, &indices)?);
        Ok(evidence)
    }

    /// For each of `releases` that has unpinned outputs (bytes no publisher fixed), every
    /// attestation of it by an operator key (or a replacement a notice introduced): the
    /// verdict weighs the ones that give the output other bytes than the consumer's. Proven
    /// lookups, each scoped to one signer.
    fn unpinned_peers(&mut self, releases: &BTreeSet<u64>) -> anyhow::Result<BTreeSet<u64>> {
        let mut found = BTreeSet::new();
        for &index in releases {
            let Verified::Entry(e) = self.verified(index)? else {
                continue;
            };
            let EntryKind::Release(r) = e.entry().kind() else {
                continue;
            };
            if r.predicate.recipe.unpinned_outputs.is_empty() {
                continue;
            }
            let key = IndexKey::Release {
                name: r.predicate.project.clone(),
                version: r.predicate.version.clone(),
            };
            for signer in self.followed.clone() {
                found.extend(self.lookup(&signed_by(key.clone(), &signer))?);
            }
        }
        Ok(found)
    }

    /// Checks the log's signed index against the entries this session downloaded anyway (the
    /// entry bundles its proofs used): every entry signed by a key whose scoped lists this
    /// session holds must be in each of those lists it belongs under (the ledger's own
    /// derivation, `keys_of`). A log that signs an index leaving out, say, a mismatch that
    /// sits in the same bundle as the attestations a consumer fetched is caught here; one that
    /// leaves out an entry no consumer downloads is caught by whoever re-derives the index
    /// (`reprove ledger audit`, `fsck`, a monitor), as a fork is.
    fn check_index_against_bundles(&mut self) -> anyhow::Result<()> {
        let scoped: BTreeSet<&str> = self
            .proven
            .values()
            .filter_map(|p| match &p.key {
                IndexKey::SignedBy { signer, .. } => Some(signer.as_str()),
                _ => None,
            })
            .collect();
        if scoped.is_empty() {
            return Ok(());
        }
        let size = self.checkpoint.checkpoint().size();
        for (n, bundle) in &self.bundles {
            for (j, entry) in bundle.entries().iter().enumerate() {
                let index = n * 256 + j as u64;
                if index >= size {
                    break;
                }
                // Only entries that claim a signer whose lists we hold are opened (their
                // signatures verified by the derivation).
                let claims = Envelope::parse(entry).is_ok_and(|env| {
                    env.signatures()
                        .iter()
                        .any(|s| scoped.contains(s.keyid.as_str()))
                });
                if !claims {
                    continue;
                }
                let keys = self
                    .derived
                    .entry(index)
                    .or_insert_with(|| derive_index_keys(entry));
                for key in keys.iter() {
                    if let Some(p) = self.proven.get(&key.encoding())
                        && !p.inside.contains(&index)
                    {
                        anyhow::bail!(
                            "the log's signed index leaves entry {index} out of the lookup \
                             {key:?}, though the entry is under that key: the log signed an \
                             index that does not match its entries (audit it with `reprove \
                             ledger audit`)"
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// How many entries the unscoped lookup `path` lists (one page) that are not among
    /// `weighed`: the report says they exist and were not weighed, nothing more. This count
    /// is the one unproven lookup a consumer reads: it informs, it decides nothing.
    fn not_weighed(&self, path: &str, weighed: &BTreeSet<u64>) -> anyhow::Result<NotWeighed> {
        let page = self.client.lookup_page(&format!("{path}?limit=1000"))?;
        let size = self.checkpoint.checkpoint().size();
        Ok(NotWeighed {
            count: page
                .indices
                .iter()
                .filter(|&&i| i < size && !weighed.contains(&i))
                .count(),
            more: page.next.is_some(),
        })
    }
}
