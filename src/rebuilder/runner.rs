//! The runner that turns one job into one attestation: rebuild (`crate::rebuild`), then
//! upload the build log and diff report and append the attestation.
//!
//! "Never attests the same release twice": the job table gives each release one job and
//! never reruns a done one; and before rebuilding, [`NodeRunner`] asks the log whether this
//! node's key already attested the release (`/lookup/release/<name>/<version>`, then each
//! entry's signature and `release.log_index`). That covers the one window the table cannot:
//! a crash after the ledger accepted the attestation and before the job was marked done.

use anyhow::Context;
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{EntryKind, RebuildResult};
use reprove_verifier::signed::{Options, SignedEntry};

use super::jobs::Job;
use super::pool::{Attempt, JobRunner};
use crate::client::{LogClient, release_key};
use crate::rebuild::{NodeConfig, Progress, ReleaseRecord, publish_report, rebuild_release};

/// Rebuilds a job's release and publishes the attestation.
#[derive(Debug)]
pub struct NodeRunner {
    pub client: LogClient,
    pub log_key: NoteVerifier,
    pub node: NodeConfig,
}

impl JobRunner for NodeRunner {
    fn run(&self, job: &Job, entry: &[u8], last: bool) -> Attempt {
        let retry = |e: anyhow::Error, counts: bool| Attempt::Retry {
            error: format!("{e:#}"),
            counts,
        };
        match self.attested_before(job) {
            Ok(Some((index, result))) => {
                tracing::info!(
                    index = job.log_index,
                    attestation = index,
                    "the log already holds this node's attestation (an earlier run submitted it)"
                );
                return Attempt::Attested { index, result };
            }
            Ok(None) => {}
            Err(e) => return retry(e.context("looking up earlier attestations"), false),
        }
        let record = match release_record(job, entry) {
            Ok(r) => r,
            Err(e) => return retry(e, true),
        };
        let report = match rebuild_release(&self.node, &record, Progress::Hidden) {
            Ok(r) => r,
            Err(e) => return retry(e.context("rebuilding"), true),
        };
        let result = result_name(report.attestation.predicate.result);
        if report.retryable && !last {
            let why = report
                .attestation
                .predicate
                .detail
                .clone()
                .unwrap_or_else(|| result.clone());
            return Attempt::Retry {
                error: format!("{result} (transient): {why}"),
                counts: true,
            };
        }
        let submitted = match publish_report(&self.client, &self.node.signer, &report) {
            Ok(s) => s,
            Err(e) => return retry(e, false),
        };
        if let Err(e) =
            submitted
                .proof
                .verify(&report.envelope, &self.log_key, &WitnessPolicy::none())
        {
            return retry(
                anyhow::anyhow!("the ledger's proof of the attestation does not verify: {e}"),
                false,
            );
        }
        Attempt::Attested {
            index: submitted.index,
            result,
        }
    }
}

impl NodeRunner {
    /// This node's attestation of `job`'s release, if the log already has one.
    fn attested_before(&self, job: &Job) -> anyhow::Result<Option<(u64, String)>> {
        let me = self.node.signer.verifier();
        // Scoped to this node's key: strangers' attestations of the release cannot push this
        // node's own out of the answer (and make it rebuild and attest again).
        let checkpoint = self.client.checkpoint(&self.log_key)?;
        let indices = self
            .client
            .proven_lookup(
                &crate::client::signed_by(release_key(&job.project, &job.version), &me),
                &self.log_key,
                checkpoint.checkpoint(),
            )?
            .inside;
        let mine = [me];
        for index in indices.into_iter().filter(|&i| i > job.log_index) {
            let bytes = self.client.entry(index)?;
            let Ok(opened) = SignedEntry::open_with(
                &bytes,
                Options {
                    allow: Some(&mine),
                    ..Options::default()
                },
            ) else {
                continue;
            };
            if let EntryKind::Rebuild(r) = opened.entry().kind()
                && r.predicate.release.log_index == job.log_index
            {
                return Ok(Some((index, result_name(r.predicate.result))));
            }
        }
        Ok(None)
    }
}

/// The release record of a job, from the entry bytes the follower verified.
fn release_record(job: &Job, entry: &[u8]) -> anyhow::Result<ReleaseRecord> {
    let opened = SignedEntry::open(entry).context("the stored release entry")?;
    match opened.into_entry().into_kind() {
        EntryKind::Release(manifest) => Ok(ReleaseRecord {
            log_index: job.log_index,
            entry: entry.to_vec(),
            manifest,
        }),
        _ => anyhow::bail!("the stored entry of job {} is not a release", job.log_index),
    }
}

/// The wire name of a result (`reproduced`, `mismatch`, ...).
fn result_name(result: RebuildResult) -> String {
    result.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_names_are_the_wire_names() {
        assert_eq!(result_name(RebuildResult::Reproduced), "reproduced");
        assert_eq!(result_name(RebuildResult::BuildFailed), "build-failed");
        assert_eq!(
            result_name(RebuildResult::InputsUnavailable),
            "inputs-unavailable"
        );
    }
}
