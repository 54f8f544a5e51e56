//! What the pages show, as data: decoded entries, a release's status, a rebuilder's record.
//! The HTML pages and their JSON twins are two renderings of these same values.
//!
//! Everything here reads the log through its indexes: a page costs a bounded number of
//! lookups and entry reads, whatever the log's size. Decoded entries are cached (entries
//! never change), so a release's attestations are verified once, not on every view.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use reprove_verifier::merkle::leaf_hash;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{
    Artifact, Comparison, Digests, Entry, EntryKind, RebuildResult, Recipe, Source,
};
use reprove_verifier::signed::SignedEntry;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::answers::DiffExcerpt;
use crate::error::Error;
use crate::index::{Direction, IndexKey, PageRequest};
use crate::ledger::Ledger;

/// How many decoded entries the cache keeps before it starts over.
const CACHE_ENTRIES: usize = 8192;

/// The most attestations of one release a page weighs (one lookup page).
pub(crate) const MAX_ATTESTATIONS: usize = 200;

/// The most revocation notices of one key listed on a page.
const MAX_NOTICES: usize = 20;

/// The most lookup pages of a key's own notices weighed for its status.
const MAX_NOTICE_PAGES: usize = 10;

/// One log entry, decoded and checked: who signed it and what it says.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) index: u64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) leaf_hash: [u8; 32],
    /// The keys whose signatures verify (each signature under the vkey its `keyid` names).
    pub(crate) signers: Vec<NoteVerifier>,
    /// Signatures that name no usable key or do not verify.
    pub(crate) bad_signatures: usize,
    /// The entry, or why it is not one.
    pub(crate) entry: Result<Entry, String>,
}

impl Decoded {
    fn new(index: u64, bytes: Vec<u8>) -> Decoded {
        let leaf_hash = leaf_hash(&bytes);
        let (signers, bad_signatures, entry) = match SignedEntry::open(&bytes) {
            Ok(opened) => {
                let bad = opened.signatures() - opened.signers().len();
                let signers = opened.signers().to_vec();
                (signers, bad, Ok(opened.into_entry()))
            }
            Err(e) => (Vec::new(), 0, Err(e.to_string())),
        };
        Decoded {
            index,
            bytes,
            leaf_hash,
            signers,
            bad_signatures,
            entry,
        }
    }

    /// The SHA-256 of the entry's bytes (how a rebuild attestation names its release).
    pub(crate) fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// "release", "rebuild", "revocation" or "invalid".
    pub(crate) fn kind(&self) -> &'static str {
        match &self.entry {
            Ok(e) => e.kind().name(),
            Err(_) => "invalid",
        }
    }
}

/// A signer as the pages name it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct SignerView {
    /// The c2sp key ID, 8 lowercase hex.
    pub(crate) key_id: String,
    /// The key's name.
    pub(crate) name: String,
    /// The whole verifier key.
    pub(crate) vkey: String,
}

impl SignerView {
    pub(crate) fn of(k: &NoteVerifier) -> SignerView {
        SignerView {
            key_id: format!("{:08x}", k.key_id()),
            name: k.name().to_owned(),
            vkey: k.to_string(),
        }
    }
}

/// An artifact with its digests (and its download URL, for a release).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArtifactView {
    pub(crate) name: String,
    pub(crate) sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) blake3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
}

impl ArtifactView {
    fn of(a: &Artifact, url: Option<&String>) -> ArtifactView {
        ArtifactView {
            name: a.name.clone(),
            sha256: hex::encode(a.digest.sha256),
            blake3: a.digest.blake3.map(hex::encode),
            url: url.cloned(),
        }
    }
}

/// A release's status as the default policy would judge it (see [`release_status`]).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Status {
    /// `pending`, `reproduced` or `disputed`.
    pub(crate) state: &'static str,
    /// Distinct keys that reproduced every artifact bit for bit.
    pub(crate) reproduced_by: usize,
    /// Attestations reporting `mismatch`.
    pub(crate) mismatches: usize,
    /// Attestations reporting `build-failed` or `inputs-unavailable`.
    pub(crate) failures: usize,
    /// The label people read: `pending`, `reproduced by k`, `disputed`.
    pub(crate) label: String,
    /// The status in one sentence, from the attestations' facts (see [`super::answers`]).
    pub(crate) verdict: String,
}

/// A release manifest as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReleaseView {
    pub(crate) index: u64,
    pub(crate) project: String,
    pub(crate) version: String,
    pub(crate) artifacts: Vec<ArtifactView>,
    pub(crate) source: Source,
    /// How to build it: command, toolchain, `SOURCE_DATE_EPOCH`, outputs.
    pub(crate) recipe: Recipe,
    pub(crate) signers: Vec<SignerView>,
    pub(crate) status: Status,
    /// For a staged version (planned through this ledger's sets), in lists: `announced`,
    /// `yanked`, or — listed only on request — `released` (not announced), `withdrawn`, or
    /// `not the project's` (a manifest under its name by a key that does not speak for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stage: Option<&'static str>,
}

/// A rebuild attestation as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AttestationView {
    pub(crate) index: u64,
    pub(crate) signers: Vec<SignerView>,
    pub(crate) project: String,
    pub(crate) version: String,
    pub(crate) release_index: u64,
    pub(crate) result: &'static str,
    pub(crate) rebuilt: Vec<ArtifactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) build_log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff_report: Option<String>,
    pub(crate) builder: String,
    pub(crate) sandbox: &'static str,
    pub(crate) started_on: String,
    pub(crate) finished_on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    /// Whether it counts toward its release's `reproduced by k`.
    pub(crate) counts: bool,
    /// Signers whose key was revoked (by a self-signed notice) at or before this entry.
    pub(crate) revoked_signers: Vec<String>,
    /// The start of its diff report, where a release page shows it inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff_excerpt: Option<DiffExcerpt>,
}

/// A revocation notice as a page shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RevocationView {
    pub(crate) index: u64,
    pub(crate) revoked_key: String,
    pub(crate) revoked_key_id: String,
    pub(crate) reason: &'static str,
    pub(crate) effective_index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) replacement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<String>,
    pub(crate) signers: Vec<SignerView>,
    /// Signed by the revoked key itself: effective for everyone. Otherwise only a policy
    /// that names the signer as the operator's recovery key applies it.
    pub(crate) self_signed: bool,
    /// What the notice does, in words.
    pub(crate) effect: String,
}

/// The site: the ledger and a cache of decoded entries.
#[derive(Debug)]
pub(crate) struct Site {
    pub(crate) ledger: Arc<Ledger>,
    cache: Mutex<HashMap<u64, Arc<Decoded>>>,
}

impl Site {
    pub(crate) fn new(ledger: Arc<Ledger>) -> Site {
        Site {
            ledger,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Entry `index`, decoded (cached).
    pub(crate) fn decoded(&self, index: u64) -> Result<Arc<Decoded>, Error> {
        if let Some(d) = self.lock().get(&index) {
            return Ok(d.clone());
        }
        let bytes = self.ledger.entry(index)?;
        let decoded = Arc::new(Decoded::new(index, bytes));
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(index, decoded.clone());
        Ok(decoded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Decoded>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One page of indices under `key`, newest first unless `direction` says otherwise.
    pub(crate) fn page(
        &self,
        key: &IndexKey,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<u64>, Option<u64>), Error> {
        let page = self.ledger.lookup(
            key,
            PageRequest {
                cursor: after,
                limit,
                direction: Direction::Backward,
            },
        )?;
        Ok((page.indices, page.next))
    }

    /// The release manifest at `index` with its status, or `None` if it is not one.
    pub(crate) fn release(
        &self,
        index: u64,
    ) -> Result<Option<(ReleaseView, Vec<AttestationView>)>, Error> {
        let d = self.decoded(index)?;
        let Ok(entry) = &d.entry else { return Ok(None) };
        let EntryKind::Release(r) = entry.kind() else {
            return Ok(None);
        };
        let p = &r.predicate;
        let key = IndexKey::Release {
            name: p.project.clone(),
            version: p.version.clone(),
        };
        // The release's attestations come after it in the log: walk forward from it.
        let page = self.ledger.lookup(
            &key,
            PageRequest {
                cursor: Some(index),
                limit: MAX_ATTESTATIONS,
                direction: Direction::Forward,
            },
        )?;
        let digests = Digests {
            sha256: d.sha256(),
            blake3: Some(*blake3::hash(&d.bytes).as_bytes()),
        };
        let mut revoked = Revocations::default();
        let mut attestations = Vec::new();
        for i in page.indices {
            let a = self.decoded(i)?;
            let Some(view) = self.attestation(&a, &mut revoked)? else {
                continue;
            };
            if let Ok(e) = &a.entry
                && let EntryKind::Rebuild(rb) = e.kind()
                && rb.predicate.release.names(index, &digests)
            {
                let mut view = view;
                view.counts = view.counts && rb.covers_release(r);
                attestations.push(view);
            }
        }
        let mut status = if p.recipe.unpinned_outputs.is_empty() {
            release_status(&attestations)
        } else {
            unpinned_status(&attestations)
        };
        if page.next.is_some() {
            // More attestations than a page weighs: any status from part of them could hide a
            // mismatch (or a revocation) behind strangers' entries. Say so instead.
            status = Status::incomplete(status);
        }
        let view = ReleaseView {
            index,
            project: p.project.clone(),
            version: p.version.clone(),
            artifacts: r
                .subjects
                .iter()
                .map(|a| ArtifactView::of(a, p.artifacts.get(&a.name)))
                .collect(),
            source: p.source.clone(),
            recipe: p.recipe.clone(),
            signers: d.signers.iter().map(SignerView::of).collect(),
            status,
            stage: None,
        };
        Ok(Some((view, attestations)))
    }

    /// A rebuild attestation's view, or `None` if the entry is not one. `counts` is set when
    /// it reports `reproduced`, `bit-identical`, by a signer not revoked before it; the caller
    /// also checks it covers the release's artifacts.
    pub(crate) fn attestation(
        &self,
        d: &Decoded,
        revoked: &mut Revocations,
    ) -> Result<Option<AttestationView>, Error> {
        let Ok(entry) = &d.entry else { return Ok(None) };
        let EntryKind::Rebuild(r) = entry.kind() else {
            return Ok(None);
        };
        let p = &r.predicate;
        let mut revoked_signers = Vec::new();
        for k in &d.signers {
            if revoked
                .effective(self, k)?
                .is_some_and(|from| from <= d.index)
            {
                revoked_signers.push(k.to_string());
            }
        }
        let counts = p.result == RebuildResult::Reproduced
            && p.comparison == Comparison::BitIdentical
            && d.signers.len() > revoked_signers.len();
        Ok(Some(AttestationView {
            index: d.index,
            signers: d.signers.iter().map(SignerView::of).collect(),
            project: p.release.name.clone(),
            version: p.release.version.clone(),
            release_index: p.release.log_index,
            result: p.result.as_str(),
            rebuilt: p
                .rebuilt
                .iter()
                .map(|a| ArtifactView::of(a, None))
                .collect(),
            build_log: p.build_log.as_ref().map(hex_of),
            diff_report: p.diff_report.as_ref().map(hex_of),
            builder: p.builder.id.clone(),
            sandbox: match p.sandbox.kind {
                reprove_verifier::predicates::SandboxKind::Bubblewrap => "bubblewrap",
                reprove_verifier::predicates::SandboxKind::None => "none",
            },
            started_on: p.started_on.clone(),
            finished_on: p.finished_on.clone(),
            detail: p.detail.clone(),
            counts,
            revoked_signers,
            diff_excerpt: None,
        }))
    }

    /// A revocation notice's view, or `None` if the entry is not one.
    pub(crate) fn revocation(&self, d: &Decoded) -> Option<RevocationView> {
        let Ok(entry) = &d.entry else { return None };
        let EntryKind::Revocation(n) = entry.kind() else {
            return None;
        };
        let revoked = NoteVerifier::parse(&n.revoked_key).ok()?;
        let self_signed = d.signers.contains(&revoked);
        // The verifier's rule, so the page and `reprove verify` date a revocation alike.
        let effective_index = n.effective_from(d.index);
        let reason = n.reason.as_str();
        let mut effect = format!(
            "signatures by {} are not trusted from log index {effective_index} on",
            revoked.name()
        );
        if let Some(r) = &n.replacement {
            effect.push_str(&format!("; replaced by {r}"));
        }
        if !self_signed {
            effect.push_str(
                " — if the consumer's policy names a signer of this notice as the key's \
                 recovery key (it is not signed by the revoked key itself)",
            );
        }
        Some(RevocationView {
            index: d.index,
            revoked_key: revoked.to_string(),
            revoked_key_id: format!("{:08x}", revoked.key_id()),
            reason,
            effective_index,
            replacement: n.replacement.clone(),
            comment: n.comment.clone(),
            signers: d.signers.iter().map(SignerView::of).collect(),
            self_signed,
            effect,
        })
    }

    /// The notices revoking `key` (newest first, at most [`MAX_NOTICES`]).
    pub(crate) fn notices_of(&self, key: &NoteVerifier) -> Result<Vec<RevocationView>, Error> {
        let (indices, _) = self.page(&IndexKey::RevokedKey(key.to_string()), None, MAX_NOTICES)?;
        let mut out = Vec::new();
        for i in indices {
            if let Some(v) = self.revocation(&*self.decoded(i)?)
                && v.revoked_key == key.to_string()
            {
                out.push(v);
            }
        }
        Ok(out)
    }
}

/// Which keys are revoked from which index on, as far as the log alone can tell: by notices
/// the revoked key signed itself (the earliest effective index wins). Looked up once per key
/// per page.
#[derive(Debug, Default)]
pub(crate) struct Revocations(BTreeMap<String, Option<u64>>);

impl Revocations {
    pub(crate) fn effective(
        &mut self,
        site: &Site,
        key: &NoteVerifier,
    ) -> Result<Option<u64>, Error> {
        let name = key.to_string();
        if let Some(known) = self.0.get(&name) {
            return Ok(*known);
        }
        // Every notice the key signed about itself — a lookup scoped to the key as signer, so
        // nobody else's notices crowd them out — walked to the end: applying a notice only
        // takes trust away, so the earliest effective index of any of them wins. Only the
        // key's holder can make this list long; past the budget the key counts as revoked
        // from the start rather than judged on part of its notices.
        let scoped = IndexKey::signed_by(&name, IndexKey::RevokedKey(name.clone()))
            .ok_or(Error::Bug("revoked-key lookups are scoped"))?;
        let mut from: Option<u64> = None;
        let mut cursor = None;
        for _ in 0..MAX_NOTICE_PAGES {
            let page = site.ledger.lookup(
                &scoped,
                PageRequest {
                    cursor,
                    limit: crate::index::MAX_PAGE,
                    direction: Direction::Forward,
                },
            )?;
            for i in page.indices {
                if let Some(v) = site.revocation(&*site.decoded(i)?)
                    && v.self_signed
                    && v.revoked_key == name
                {
                    from = Some(from.map_or(v.effective_index, |f| f.min(v.effective_index)));
                }
            }
            match page.next {
                None => {
                    self.0.insert(name, from);
                    return Ok(from);
                }
                next => cursor = next,
            }
        }
        self.0.insert(name, Some(0));
        Ok(Some(0))
    }
}

/// The status the default policy gives a release, knowing no operators: the distinct keys of
/// attestations that `count` (reproduced, bit-identical, covering every artifact of the
/// release, signer not revoked before the attestation); `disputed` as soon as any attestation
/// reports `mismatch`; `pending` when no key reproduced it.
pub(crate) fn release_status(attestations: &[AttestationView]) -> Status {
    let mut keys = BTreeSet::new();
    let (mut mismatches, mut failures) = (0, 0);
    for a in attestations {
        match a.result {
            "mismatch" => mismatches += 1,
            "build-failed" | "inputs-unavailable" => failures += 1,
            _ => {}
        }
        if a.counts {
            for s in &a.signers {
                if !a.revoked_signers.contains(&s.vkey) {
                    keys.insert(s.vkey.clone());
                }
            }
        }
    }
    let reproduced_by = keys.len();
    let (state, label) = if mismatches > 0 {
        ("disputed", "disputed".to_owned())
    } else if reproduced_by > 0 {
        ("reproduced", format!("reproduced by {reproduced_by}"))
    } else {
        ("pending", "pending".to_owned())
    };
    let mut status = Status {
        state,
        reproduced_by,
        mismatches,
        failures,
        label,
        verdict: String::new(),
    };
    status.verdict = super::answers::verdict(&status, attestations);
    status
}

/// The status of a release with unpinned outputs (bytes no publisher fixed): the attestations
/// that count grouped by what they built (every rebuilt name and sha256). One group: `agreed by
/// k` (distinct keys that built those same bytes); more than one: `disputed` (the builds
/// disagree); none: as [`release_status`] says.
pub(crate) fn unpinned_status(attestations: &[AttestationView]) -> Status {
    let mut groups: BTreeMap<Vec<(String, String)>, BTreeSet<String>> = BTreeMap::new();
    for a in attestations.iter().filter(|a| a.counts) {
        let mut built: Vec<(String, String)> = a
            .rebuilt
            .iter()
            .map(|r| (r.name.clone(), r.sha256.clone()))
            .collect();
        built.sort();
        let keys = a
            .signers
            .iter()
            .filter(|s| !a.revoked_signers.contains(&s.vkey))
            .map(|s| s.vkey.clone());
        groups.entry(built).or_default().extend(keys);
    }
    let mut status = release_status(attestations);
    let groups: Vec<(Vec<(String, String)>, usize)> =
        groups.into_iter().map(|(b, k)| (b, k.len())).collect();
    match groups.as_slice() {
        [] => {}
        [(built, k)] if status.mismatches == 0 => {
            status.state = "reproduced";
            status.label = format!("agreed by {k}");
            status.verdict = super::answers::agreed(*k, built, status.failures);
        }
        _ => {
            status.state = "disputed";
            status.label = "builds disagree".to_owned();
            status.verdict = super::answers::disagree(&groups);
        }
    }
    status
}

impl Status {
    /// The status of a release with more attestations than a page weighs.
    fn incomplete(of_part: Status) -> Status {
        Status {
            state: "incomplete",
            label: format!(
                "more than {MAX_ATTESTATIONS} attestations: not judged here (reprove verify)"
            ),
            verdict: format!(
                "not judged here: this release has more than {MAX_ATTESTATIONS} rebuild \
                 attestations, more than a page weighs — check it with reprove verify below"
            ),
            ..of_part
        }
    }
}

fn hex_of(d: &Digests) -> String {
    hex::encode(d.sha256)
}
