//! `reprove log show|tail`: browse the log from the command line. Every entry listed is
//! fetched from its entry bundle, proven against the log's signed checkpoint (verified under
//! the policy, consistent with the last one this consumer saw) and signature-checked; who
//! signed it is named, and whether the policy names that key. Nothing is decided here:
//! `reprove verify` weighs entries, this only shows them.

use std::fmt;

use anyhow::Context;
use reprove_verifier::policy::{LoggedEntry, Policy};
use reprove_verifier::predicates::EntryKind;
use serde::Serialize;

use crate::Outcome;
use crate::cli::{ConsumerArgs, LogShow, LogTail};
use crate::client::release_key;
use crate::cmd::gate::split_release;
use crate::cmd::verify::cache_dir;
use crate::consume::fetch::Online;
use crate::consume::report::LogSeen;
use crate::consume::state::StateDir;
use crate::consume::{Verified, ledger_url, load_policy};
use crate::report;

/// What `log show` and `log tail` print.
#[derive(Serialize)]
struct Listing {
    log: LogSeen,
    /// What was asked: `NAME@VERSION`, or `the newest N entries`.
    asked: String,
    entries: Vec<Line>,
    /// Lookup results logged after the checkpoint (listed on the next run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    newer_entries: Vec<u64>,
}

/// One entry, proven and signature-checked.
#[derive(Serialize)]
struct Line {
    index: u64,
    /// `release`, `rebuild`, `revocation`, or `invalid` (proven, but not a valid entry).
    kind: &'static str,
    /// What it says, in a few words.
    summary: String,
    /// The key whose signature verified (absent for an invalid entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
    /// What the policy calls that key (`operator alice`, `publisher acme`), if it names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_names: Option<String>,
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (tree size {}, root {}): {}",
            self.log.origin, self.log.tree_size, self.log.root, self.asked
        )?;
        if self.entries.is_empty() {
            writeln!(f, "  no entries")?;
        }
        for l in &self.entries {
            write!(f, "  #{:<8} {:<10} {}", l.index, l.kind, l.summary)?;
            if let Some(s) = &l.signer {
                write!(f, "  signed by {}", short(s))?;
            }
            match &l.policy_names {
                Some(n) => writeln!(f, " ({n})")?,
                None if l.signer.is_some() => writeln!(f, " (not named by the policy)")?,
                None => writeln!(f)?,
            }
        }
        if !self.newer_entries.is_empty() {
            writeln!(
                f,
                "  {} newer entr{} after this checkpoint (listed on the next run)",
                self.newer_entries.len(),
                if self.newer_entries.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            )?;
        }
        Ok(())
    }
}

/// `reprove log show NAME@VERSION`.
pub fn show(args: &LogShow) -> anyhow::Result<Outcome> {
    let (name, version) = split_release(&args.release)?;
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let mut online = connect(&args.consumer, &policy)?;
    let indices = online
        .lookup(&release_key(name, version))
        .with_context(|| format!("looking up {name}@{version}"))?;
    let listing = list(&mut online, &policy, &indices, args.release.clone())?;
    report::print(&listing, args.json)?;
    Ok(Outcome::Ok)
}

/// `reprove log tail`.
pub fn tail(args: &LogTail) -> anyhow::Result<Outcome> {
    let policy = load_policy(crate::config::policy(&args.consumer)?)?;
    let mut online = connect(&args.consumer, &policy)?;
    let size = online.checkpoint().checkpoint().size();
    let indices: Vec<u64> = (size.saturating_sub(args.count)..size).collect();
    let asked = format!("the newest {} entries", indices.len());
    let listing = list(&mut online, &policy, &indices, asked)?;
    report::print(&listing, args.json)?;
    Ok(Outcome::Ok)
}

/// A session with the log of the policy, its checkpoint verified and consistent with the last
/// one this consumer saw.
fn connect<'p>(args: &ConsumerArgs, policy: &'p Policy) -> anyhow::Result<Online<'p>> {
    let state = StateDir::new(args.state.as_deref())?;
    let url = ledger_url(args.ledger.as_deref(), policy)?;
    let cache = cache_dir(args.cache.clone(), &policy.log.origin)?;
    Online::connect(policy, &url, state, Some(cache))
}

/// The entries at `indices`, each proven and checked; the checkpoint is then remembered.
fn list(
    online: &mut Online,
    policy: &Policy,
    indices: &[u64],
    asked: String,
) -> anyhow::Result<Listing> {
    let mut entries = Vec::with_capacity(indices.len());
    for &i in indices {
        let line = match online.verified(i)? {
            Verified::Entry(e) => line(&e, policy),
            Verified::Rejected(r) => Line {
                index: r.index,
                kind: "invalid",
                summary: r.why,
                signer: None,
                policy_names: None,
            },
        };
        entries.push(line);
    }
    online.commit()?;
    Ok(Listing {
        log: LogSeen::of(online.checkpoint()),
        asked,
        entries,
        newer_entries: online.newer.iter().copied().collect(),
    })
}

/// One proven entry's line.
fn line(e: &LoggedEntry, policy: &Policy) -> Line {
    let kind = e.entry().kind();
    let summary = match kind {
        EntryKind::Release(r) => format!(
            "{} {} ({} artifact{})",
            r.predicate.project,
            r.predicate.version,
            r.subjects.len(),
            if r.subjects.len() == 1 { "" } else { "s" }
        ),
        EntryKind::Rebuild(a) => format!(
            "{} {}: {}",
            a.predicate.release.name, a.predicate.release.version, a.predicate.result
        ),
        EntryKind::Revocation(n) => {
            format!("revokes {} ({})", short(&n.revoked_key), n.reason.as_str())
        }
        EntryKind::Announcement(a) => {
            let r = &a.predicate.release;
            match &a.predicate.unverified {
                Some(u) => format!(
                    "{} {} announced unverified: {}",
                    r.name, r.version, u.reason
                ),
                None => format!(
                    "{} {} announced ({} attestation{})",
                    r.name,
                    r.version,
                    a.predicate.attestations.len(),
                    if a.predicate.attestations.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ),
            }
        }
        EntryKind::Withdrawal(w) => format!(
            "{} {} withdrawn: {}",
            w.predicate.project, w.predicate.version, w.predicate.reason
        ),
        EntryKind::Yank(y) => format!(
            "{} {} yanked: {}",
            y.predicate.release.name, y.predicate.release.version, y.predicate.reason
        ),
    };
    let signer = e.signer();
    let policy_names = policy
        .operator_of(signer)
        .map(|o| format!("operator {}", o.name))
        .or_else(|| {
            policy
                .publishers
                .iter()
                .find(|p| p.keys.iter().any(|k| k.to_string() == signer.to_string()))
                .map(|p| format!("publisher {}", p.name))
        });
    Line {
        index: e.index(),
        kind: kind.name(),
        summary,
        signer: Some(signer.to_string()),
        policy_names,
    }
}

/// A key as people read it: `name+keyid`.
fn short(vkey: &str) -> String {
    let mut parts = vkey.splitn(3, '+');
    match (parts.next(), parts.next()) {
        (Some(n), Some(id)) => format!("{n}+{id}"),
        _ => vkey.to_owned(),
    }
}
