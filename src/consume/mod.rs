//! The consumer side: gathering evidence about artifacts from a log (live, through tiles) or
//! from an offline bundle, keeping the consumer's checkpoint state, and reporting verdicts.
//!
//! Nothing here decides trust. Entries are verified by
//! [`reprove_verifier::policy::verify_logged_entry_at`], checkpoints by the policy and
//! [`reprove_verifier::consistency`], and the verdict is
//! [`reprove_verifier::policy::verdict`]. This module only fetches bytes and hands them over.

pub mod bundle;
pub mod fetch;
pub mod report;
pub mod state;

use std::path::Path;

use anyhow::Context;
use reprove_verifier::policy::{EntryError, LoggedEntry, Policy};
use serde::Serialize;

/// A logged entry that could not be verified as a reprove entry (bad signature, unknown
/// predicate type, malformed statement): it counts for nothing, and the report says why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The entry's index in the log.
    pub index: u64,
    /// Why it was rejected.
    pub why: String,
}

/// One entry after verification.
#[derive(Debug, Clone)]
pub enum Verified {
    /// A proven, signed reprove entry (trusted or not: that is the verdict's call).
    Entry(Box<LoggedEntry>),
    /// Proven in the log, but not a valid reprove entry.
    Rejected(Rejected),
}

/// What is known about one artifact: verified entries and rejected ones.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub entries: Vec<LoggedEntry>,
    pub rejected: Vec<Rejected>,
    /// Online: the entries the log lists under the artifact that were not weighed (signed by
    /// keys the policy does not name), from one unscoped lookup page.
    pub not_weighed: Option<NotWeighed>,
}

/// Entries about an artifact by keys the policy does not name: counted from the log's word
/// (one lookup page), neither fetched nor verified, and never part of the decision.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct NotWeighed {
    /// How many the first page listed beyond the weighed ones.
    pub count: usize,
    /// Whether the log had more pages (so there are at least `count`).
    pub more: bool,
}

impl Evidence {
    /// Adds what `other` holds that this does not (by log index): a bundle's evidence with the
    /// live log's.
    pub fn merge(&mut self, other: Evidence) {
        for e in other.entries {
            if !self.entries.iter().any(|x| x.index() == e.index()) {
                self.entries.push(e);
            }
        }
        for r in other.rejected {
            if !self.rejected.iter().any(|x| x.index == r.index) {
                self.rejected.push(r);
            }
        }
        self.not_weighed = other.not_weighed.or(self.not_weighed);
    }

    fn push(&mut self, v: Verified) {
        match v {
            Verified::Entry(e) => self.entries.push(*e),
            Verified::Rejected(r) => self.rejected.push(r),
        }
    }
}

/// Sorts the result of verifying a proven entry: a failed *proof* is an error (the log, or the
/// bundle, is lying about what it committed to), anything wrong with the entry itself is a
/// rejection that counts for nothing.
fn classify(index: u64, result: Result<LoggedEntry, EntryError>) -> anyhow::Result<Verified> {
    match result {
        Ok(e) => Ok(Verified::Entry(Box::new(e))),
        Err(EntryError::Proof(e)) => Err(anyhow::anyhow!(
            "entry {index}: its proof does not verify under the policy's log: {e}"
        )),
        Err(e) => Ok(Verified::Rejected(Rejected {
            index,
            why: e.to_string(),
        })),
    }
}

/// Reads and validates a policy file. Every problem is an error naming the file.
pub fn load_policy(path: &Path) -> anyhow::Result<Policy> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading the policy {}", path.display()))?;
    Policy::parse(&bytes).with_context(|| format!("the policy {} is not valid", path.display()))
}

/// The log URL: `--ledger` when given, else the policy's `log.url`.
pub fn ledger_url(given: Option<&str>, policy: &Policy) -> anyhow::Result<String> {
    given
        .map(str::to_owned)
        .or_else(|| policy.log.url.clone())
        .context("no log URL: pass --ledger URL or set log.url in the policy")
}

/// Parses `sha256:<64 hex>` (or bare 64 hex).
pub fn parse_digest(s: &str) -> anyhow::Result<[u8; 32]> {
    let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
    reprove_verifier::statement::parse_hex32(hex_part).ok_or_else(|| {
        anyhow::anyhow!("{s:?} is not a digest: expected sha256:<64 lowercase hex digits>")
    })
}

/// The time now, in POSIX seconds (what witness timestamps are compared with).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_in_lowercase_hex() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_digest(&format!("sha256:{hex}")).unwrap(), [0xab; 32]);
        assert_eq!(parse_digest(&hex).unwrap(), [0xab; 32]);
        for bad in [
            "sha256:",
            "sha512:00",
            &"AB".repeat(32),
            &"ab".repeat(31),
            &format!("sha256:{}", "g".repeat(64)),
        ] {
            assert!(parse_digest(bad).is_err(), "{bad}");
        }
    }
}
