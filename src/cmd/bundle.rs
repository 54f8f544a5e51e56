//! `reprove bundle NAME@VERSION -o FILE`: everything needed to verify a release offline.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::Context;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::EntryKind;

use reprove_verifier::policy::Policy;
use serde::Serialize;

use crate::Outcome;
use crate::cli::Bundle as BundleArgs;
use crate::client::write_atomic;
use crate::client::{release_key, signed_by};
use crate::cmd::gate::split_release;
use crate::cmd::verify::cache_dir;
use crate::consume::bundle::{Bundle, BundleEntry, BundleLookup};
use crate::consume::fetch::Online;
use crate::consume::report::LogSeen;
use crate::consume::state::StateDir;
use crate::consume::{Verified, ledger_url, load_policy};
use crate::progress;
use reprove_ledger::IndexKey;

/// Runs the command.
pub fn run(args: &BundleArgs) -> anyhow::Result<Outcome> {
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let (name, version) = split_release(&args.release)?;
    let url = ledger_url(args.consumer.ledger.as_deref(), &policy)?;
    let cache = cache_dir(args.consumer.cache.clone(), &policy.log.origin)?;
    let state = StateDir::new(args.consumer.state.as_deref())?;
    let mut online = Online::connect(&policy, &url, state, Some(cache))?;

    let indices = release_entries(&mut online, &policy, &url, name, version)?;
    let bar = progress::bar(indices.len() as u64, "collecting proofs");
    let mut entries = Vec::with_capacity(indices.len());
    for index in indices {
        let (entry, proof) = online.logged(index)?;
        entries.push(BundleEntry {
            index,
            entry,
            proof,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let bundle = Bundle {
        release: Some((name.to_string(), version.to_string())),
        entries,
        lookups: lookups(&online)?,
    };
    let bytes = bundle.encode();
    write_atomic(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    online.commit()?;

    let report = Written {
        bundle: args.out.display().to_string(),
        release: &args.release,
        entries: bundle.entries.len(),
        size: bytes.len(),
        log: LogSeen::of(online.checkpoint()),
    };
    crate::report::print(&report, args.json)?;
    Ok(Outcome::Ok)
}

/// What `bundle` prints: the file it wrote, and what is in it.
#[derive(Debug, Serialize)]
struct Written<'a> {
    /// The bundle's path, as displayed.
    bundle: String,
    /// `NAME@VERSION`.
    release: &'a str,
    entries: usize,
    /// The bundle's size in bytes.
    size: usize,
    /// The checkpoint the entries are proven under.
    log: LogSeen,
}

impl fmt::Display for Written<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "wrote {} ({} entries, {} bytes) for {} at tree size {}",
            self.bundle, self.entries, self.size, self.release, self.log.tree_size
        )
    }
}

/// The indices a bundle of `name`@`version` carries: the release's manifests and attestations,
/// the release each attestation names (whatever it is: the consumer's verdict checks the
/// binding from what the bundle carries), and every revocation notice about the policy's keys
/// and about the keys that signed those entries (a consumer's policy may trust signers this one
/// does not). Refuses a release with no manifest, or none by a publisher the policy trusts when
/// it pins publishers.
fn release_entries(
    online: &mut Online<'_>,
    policy: &Policy,
    url: &str,
    name: &str,
    version: &str,
) -> anyhow::Result<BTreeSet<u64>> {
    let release = online.lookup(&release_key(name, version))?;
    let size = online.checkpoint().checkpoint().size();
    let mut indices: BTreeSet<u64> = BTreeSet::new();
    let mut signers: Vec<NoteVerifier> = Vec::new();
    let mut artifacts: BTreeSet<[u8; 32]> = BTreeSet::new();
    let (mut manifests, mut trusted_manifests) = (0usize, 0usize);
    for &index in &release {
        if let Verified::Entry(e) = online.verified(index)? {
            let ours = match e.entry().kind() {
                EntryKind::Release(r) => {
                    let same = r.predicate.project == name && r.predicate.version == version;
                    manifests += usize::from(same);
                    let trusted = policy.trusts_publisher(name, e.signer());
                    trusted_manifests += usize::from(same && trusted);
                    if same {
                        artifacts.extend(e.entry().subjects().iter().map(|a| a.digest.sha256));
                    }
                    same
                }
                EntryKind::Rebuild(r) => {
                    let same =
                        r.predicate.release.name == name && r.predicate.release.version == version;
                    if same && r.predicate.release.log_index < size {
                        indices.insert(r.predicate.release.log_index);
                    }
                    if same {
                        // An unpinned output is named by the digest each rebuild produced.
                        artifacts.extend(e.entry().subjects().iter().map(|a| a.digest.sha256));
                    }
                    same
                }
                // A publisher's announcements, withdrawals and yanks of this release travel
                // with it: verify reads them (on_yanked, on_unverified) from the bundle too.
                EntryKind::Announcement(a) => {
                    a.predicate.release.name == name && a.predicate.release.version == version
                }
                EntryKind::Yank(y) => {
                    y.predicate.release.name == name && y.predicate.release.version == version
                }
                EntryKind::Withdrawal(w) => {
                    w.predicate.project == name && w.predicate.version == version
                }
                EntryKind::Revocation(_) => false,
            };
            if ours {
                if !signers.contains(e.signer()) {
                    signers.push(e.signer().clone());
                }
                indices.insert(index);
            }
        }
    }
    if manifests == 0 {
        anyhow::bail!(
            "the log at {url} (tree size {size}) has no release manifest for {name}@{version}"
        );
    }
    if !policy.publishers.is_empty() && trusted_manifests == 0 {
        anyhow::bail!(
            "the log at {url} (tree size {size}) has {manifests} release manifest(s) for \
             {name}@{version}, none signed by a publisher the policy trusts for {name}"
        );
    }
    indices.extend(proven_lists(online, policy, &signers, &artifacts)?);
    Ok(indices)
}

/// The entries a bundle carries so that a consumer of any policy can check it left nothing
/// out: the notices about the policy's operator keys and the release's signers, the entries
/// naming each artifact — each through a proven lookup the bundle carries — and every entry
/// any proven list of the session names.
fn proven_lists(
    online: &mut Online<'_>,
    policy: &Policy,
    signers: &[NoteVerifier],
    artifacts: &BTreeSet<[u8; 32]>,
) -> anyhow::Result<BTreeSet<u64>> {
    let mut indices = BTreeSet::new();
    // Every key whose notices a consumer may need: the policy's operator keys (by anyone, for
    // consumers with other recovery keys), the keys that signed the release's entries.
    indices.extend(online.revocations()?);
    let mut keys = signers.to_vec();
    for k in policy.operators.iter().flat_map(|o| o.keys.iter()) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    indices.extend(online.revocations_of(keys)?);
    // The entries naming each artifact, with the proof that the list is whole: every entry
    // of it goes in, so a consumer of any policy sees every attestation and mismatch. A list
    // too long to prove (flooded by strangers) is replaced by the lists of the keys known here.
    for sha256 in artifacts {
        let artifact = IndexKey::Artifact(*sha256);
        if online.lookup(&artifact).is_err() {
            let publishers = policy.publishers.iter().flat_map(|p| p.keys.iter());
            let known: Vec<NoteVerifier> = online
                .followed_keys()
                .iter()
                .chain(publishers)
                .chain(signers)
                .cloned()
                .collect();
            for signer in &known {
                online
                    .lookup(&signed_by(artifact.clone(), signer))
                    .with_context(|| {
                        format!("proving the entries about sha256:{}", hex::encode(sha256))
                    })?;
            }
        }
    }
    // Every entry a proven list names goes in: the consumer refuses a bundle that leaves one
    // out.
    for proven in online.proven.values() {
        indices.extend(&proven.inside);
    }
    Ok(indices)
}

/// The bundle's proven lookups: every lookup of the session, each with the consistency proof
/// from the bundle's checkpoint to its index note's tree.
fn lookups(online: &Online<'_>) -> anyhow::Result<Vec<BundleLookup>> {
    let size = online.checkpoint().checkpoint().size();
    let mut out = Vec::with_capacity(online.proven.len());
    for proven in online.proven.values() {
        let consistency = if proven.note.size > size && size > 0 {
            online
                .client()
                .consistency_proof_from_tiles(size, proven.note.size)?
        } else {
            Vec::new()
        };
        out.push(BundleLookup {
            key: proven.key.clone(),
            answer: proven.answer.clone(),
            consistency,
        });
    }
    Ok(out)
}
