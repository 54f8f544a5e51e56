//! The rebuilder core: find a logged release, rebuild it in a sandbox, compare bit for bit,
//! and sign an attestation of the outcome — whatever it is.
//!
//! The three entry points a rebuilder node uses (the one-shot `reprove rebuild` and the daemon
//! `reprove rebuilder run` alike):
//!
//! - [`find_release`]: a release manifest from the log by name and version, proven included
//!   under a checkpoint signed by the log key, its DSSE signature checked.
//! - [`rebuild_release`]: fetch and check the inputs, build in the sandbox, hash the outputs
//!   (sha256 + blake3 in one pass), compare, explain a mismatch (diff report), optionally run
//!   the variation builds, and sign the attestation. Every *build outcome* is `Ok` — negative
//!   results are first-class — and only local failures (the work directory, the sandbox tool
//!   missing) are `Err`.
//! - [`publish_report`]: upload the build log and diff report to the ledger's blob store, then
//!   append the attestation.
//!
//! Module map: `fetch` (inputs and digests), `sandbox` (bwrap and limits), `build` (one build
//! of a recipe), `compare`, `diff` (diff reports), `variations`, `manifest` (the publisher's
//! TOML), `time` (RFC 3339 stamps).

pub mod build;
pub mod cgroup;
pub mod compare;
pub mod debroot;
pub mod diff;
pub mod fetch;
pub mod hostfs;
pub mod manifest;
pub mod pack;
pub mod sandbox;
pub mod time;
pub mod toolchain;
pub mod variations;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reprove_verifier::merkle::leaf_hash;
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::predicates::{
    Builder, Comparison as ComparisonKind, Digests, Entry, EntryKind, RebuildAttestation,
    RebuildPredicate, RebuildResult, ReleaseManifest, ReleaseRef, Sandbox, SandboxKind,
};
use reprove_verifier::signed::{OpenError, Options, SignedEntry};

use crate::client::{LogClient, Submitted, release_key};
use crate::hash::hash_bytes;
use crate::sign::sign_statement;
use reprove_ledger::IndexKey;

pub use build::Variant;
pub use sandbox::{Limits, SandboxMode};
pub use variations::VariationReport;

/// How a rebuilder node builds. [`NodeConfig::new`] gives the safe defaults.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The rebuilder's key: signs attestations and blob uploads.
    pub signer: NoteSigner,
    /// The work directory: one `release-<index>/` per job (inputs, build tree, build log,
    /// diff report, signed attestation) and `rootfs/` (extracted root filesystems by sha256).
    pub work: PathBuf,
    /// The sandbox (bubblewrap unless `--insecure-no-sandbox`).
    pub sandbox: SandboxMode,
    /// Time, memory, log and diff limits.
    pub limits: Limits,
    /// Also run the variation builds after the baseline (a report, not attested).
    pub variations: bool,
    /// The rust toolchain directory mounted read-only at `/opt/rust` for `host` recipes
    /// (default: the host's `rustc --print sysroot`, when rustc is installed).
    pub rust_toolchain: Option<PathBuf>,
    /// The attestation's `builder.id` (default: the signer's key name).
    pub builder_id: String,
    /// The longest one input download may take.
    pub fetch_timeout: Duration,
    /// The host account builds run as: `None` for the node's own (an unprivileged node); a
    /// node running as root always has one ([`hostfs::BuildUser::for_this_process`]).
    pub build_user: Option<hostfs::BuildUser>,
    /// A delegated cgroup v2 each build runs in a child of (`--cgroup`).
    pub cgroup: Option<cgroup::Delegated>,
}

impl NodeConfig {
    /// Defaults: bubblewrap, [`Limits::default`], no variations, the host's rust toolchain,
    /// builder id = key name, 10-minute fetches, builds as `nobody` when running as root.
    pub fn new(signer: NoteSigner, work: PathBuf) -> NodeConfig {
        let builder_id = signer.name().to_owned();
        NodeConfig {
            signer,
            work,
            sandbox: SandboxMode::Bwrap,
            limits: Limits::default(),
            variations: false,
            rust_toolchain: build::detect_rust(),
            builder_id,
            fetch_timeout: Duration::from_secs(600),
            build_user: hostfs::BuildUser::for_this_process(None).unwrap_or(None),
            cgroup: None,
        }
    }

    /// Refuses to build when the sandbox is asked for and bubblewrap does not work here.
    pub fn check_sandbox(&self) -> anyhow::Result<()> {
        if hostfs::running_as_root() && self.build_user.is_none() {
            bail!(
                "refusing to run builds as root: give --build-user (an unprivileged account \
                 of their own; see docs/operations.md)"
            );
        }
        if self.sandbox == SandboxMode::Bwrap
            && let Err(cause) = sandbox::bwrap_probe()
        {
            bail!(sandbox::bwrap_refusal(&cause));
        }
        Ok(())
    }
}

/// A release manifest as logged.
#[derive(Debug, Clone)]
pub struct ReleaseRecord {
    /// Its index in the log.
    pub log_index: u64,
    /// The logged DSSE envelope bytes (the attestation names their digest).
    pub entry: Vec<u8>,
    /// The manifest inside.
    pub manifest: ReleaseManifest,
}

/// The outcome of one rebuild, signed.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// The attestation.
    pub attestation: RebuildAttestation,
    /// The signed DSSE envelope of the attestation (JSON bytes), ready for `POST /add`.
    pub envelope: Vec<u8>,
    /// The build log (reprove's header, then the build's stdout and stderr).
    pub build_log: Vec<u8>,
    /// The diff report, for a mismatch.
    pub diff_report: Option<Vec<u8>>,
    /// Whether the failure may be transient (an input fetch failed in transport).
    pub retryable: bool,
    /// The variation report, when variations were asked for and the baseline built.
    pub variations: Option<VariationReport>,
    /// The job directory holding the files of this rebuild.
    pub job_dir: PathBuf,
}

/// Whether [`rebuild_release`] shows its phases (fetch, build, compare, variations) on a
/// progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A bar on stderr, drawn only when stderr is a terminal (`reprove rebuild`).
    Bar,
    /// No bar (the daemon, which logs instead, or output meant for a program).
    Hidden,
}

/// Rebuilds one logged release and signs the outcome. `Err` only for local errors; every
/// build outcome (reproduced, mismatch, build-failed, inputs-unavailable) is `Ok`.
pub fn rebuild_release(
    config: &NodeConfig,
    release: &ReleaseRecord,
    progress: Progress,
) -> anyhow::Result<RebuildReport> {
    config.check_sandbox()?;
    let started = time::now_rfc3339();
    let job = prepare_job(config, release)?;
    let steps = Steps::new(progress, &release.manifest.predicate);
    let details = describe(config, &release.manifest.predicate);
    let draft = Draft {
        config,
        release,
        started,
        job,
        header: header(release, &details),
        details,
    };
    let report = draft.rebuild(&steps)?;
    steps.bar.finish_and_clear();
    Ok(report)
}

/// The progress bar of one rebuild: one step per phase, each named with the release.
struct Steps {
    bar: indicatif::ProgressBar,
    release: String,
    /// The phase running and when it started.
    phase: std::cell::RefCell<(String, std::time::Instant)>,
}

impl Steps {
    fn new(progress: Progress, p: &reprove_verifier::predicates::ReleasePredicate) -> Steps {
        let release = format!("{}@{}", p.project, p.version);
        let bar = match progress {
            Progress::Bar => crate::progress::bar(5, &format!("rebuild {release}")),
            Progress::Hidden => indicatif::ProgressBar::hidden(),
        };
        let phase = std::cell::RefCell::new((String::new(), std::time::Instant::now()));
        Steps {
            bar,
            release,
            phase,
        }
    }

    /// Names the phase now running (`what` the release).
    fn start(&self, what: &str) {
        self.bar.set_message(format!("{what} {}", self.release));
        *self.phase.borrow_mut() = (what.to_owned(), std::time::Instant::now());
    }

    /// A line about the phase running, above the bar (nothing when the bar is hidden).
    fn line(&self, line: &str) {
        self.bar.println(line);
    }

    /// Ends the phase: a line with its name and how long it took, above the bar (nothing
    /// when the bar is hidden).
    fn done(&self) {
        let (what, since) = &*self.phase.borrow();
        if !what.is_empty() {
            let secs = since.elapsed().as_secs_f64();
            self.bar.println(format!("  {what:<20} {secs:>7.1} s"));
        }
        self.bar.inc(1);
    }
}

/// The job's directory, emptied, private to the node (and its build user).
fn prepare_job(config: &NodeConfig, release: &ReleaseRecord) -> anyhow::Result<PathBuf> {
    let job = config.work.join(format!("release-{}", release.log_index));
    let shared = config.build_user.is_some();
    hostfs::private_dir(&config.work, shared)
        .with_context(|| format!("cannot create {}", config.work.display()))?;
    build::remove_dir(&job).with_context(|| format!("cannot clear {}", job.display()))?;
    hostfs::private_dir(&job, shared)
        .with_context(|| format!("cannot create {}", job.display()))?;
    Ok(job)
}

/// The sandbox and toolchain the build will run with, in words (the attestation's sandbox
/// details and the build log's header).
fn describe(config: &NodeConfig, p: &reprove_verifier::predicates::ReleasePredicate) -> String {
    let toolchain = match &p.recipe.environment {
        reprove_verifier::predicates::Environment::Host {} => sandbox::Toolchain::Host {
            rust: config.rust_toolchain.clone(),
        },
        reprove_verifier::predicates::Environment::Rootfs { digest, .. } => {
            sandbox::Toolchain::Rootfs(config.work.join("rootfs").join(hex::encode(digest.sha256)))
        }
    };
    build::describe(config.sandbox, &toolchain, p.recipe.command[0].as_str())
}

/// The build log's header: what is rebuilt, how.
fn header(release: &ReleaseRecord, details: &str) -> String {
    let p = &release.manifest.predicate;
    format!(
        "reprove {} rebuild of {} {} (log index {})\nsandbox: {details}\ncommand: {}\nSOURCE_DATE_EPOCH={}\nenv: {}\n----\n",
        env!("CARGO_PKG_VERSION"),
        p.project,
        p.version,
        release.log_index,
        shell_words(&p.recipe.command),
        p.recipe
            .source_date_epoch
            .map_or_else(|| "(unset)".to_owned(), |t| t.to_string()),
        shell_words(p.recipe.env.iter().map(|(k, v)| format!("{k}={v}"))),
    )
}

/// Words as a shell would read them back: plain where safe, else single-quoted.
fn shell_words<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> String {
    let quote = |w: &str| {
        let plain = !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_./=:@%+-,".contains(&b));
        if plain {
            w.to_owned()
        } else {
            format!("'{}'", w.replace('\'', "'\\''"))
        }
    };
    let words: Vec<String> = words.into_iter().map(|w| quote(w.as_ref())).collect();
    words.join(" ")
}

/// Every input of the release, fetched into the job (`Ok(Err(_))`: unavailable, a signed
/// outcome; `Err`: a local error).
fn fetch_inputs(
    config: &NodeConfig,
    release: &ReleaseRecord,
    job: &Path,
) -> anyhow::Result<Result<build::Inputs, fetch::Unavailable>> {
    let rootfs_cache = config.work.join("rootfs");
    hostfs::private_dir(&rootfs_cache, config.build_user.is_some())?;
    let toolchains = config.work.join("toolchains");
    hostfs::private_dir(&toolchains, config.build_user.is_some())?;
    let rust = match &config.rust_toolchain {
        Some(dir) => Some(
            hostfs::reachable_toolchain(dir, &config.work, config.build_user)
                .context("cannot make the rust toolchain readable by the build user")?,
        ),
        None => None,
    };
    Ok(build::fetch_inputs(
        job,
        &release.manifest.predicate,
        &release.manifest.subjects,
        rust.as_deref(),
        build::Caches {
            rootfs: &rootfs_cache,
            toolchains: &toolchains,
            configure: debroot::Configure {
                user: config.build_user,
                limits: &config.limits,
            },
        },
        config.fetch_timeout,
        fetch::Origin::Logged,
    ))
}

/// Why a finished build failed, in words; `None` when it succeeded.
fn build_failure(exit: &sandbox::Exit, limits: &Limits) -> Option<String> {
    match exit {
        sandbox::Exit::Success => None,
        sandbox::Exit::Failed(Some(code)) => {
            Some(format!("the build command exited with status {code}"))
        }
        sandbox::Exit::Failed(None) => Some("the build command was killed by a signal".to_owned()),
        sandbox::Exit::TimedOut => Some(format!(
            "the build was killed after the wall-time limit of {} s",
            limits.wall_time.as_secs()
        )),
        sandbox::Exit::DiskLimit => Some(format!(
            "the build was killed when it passed the disk limit of {} bytes or {} files",
            limits.disk_bytes, limits.max_files
        )),
    }
}

/// The diff report of the artifacts that differ (diffoscope in its own sandbox).
fn diff_report(
    config: &NodeConfig,
    release: &ReleaseRecord,
    inputs: &build::Inputs,
    run: &build::BuildRun,
    differing: &[String],
    job: &Path,
) -> Vec<u8> {
    let items: Vec<diff::Differing<'_>> = differing
        .iter()
        .filter_map(|name| {
            let subject = release.manifest.subjects.iter().find(|s| &s.name == name)?;
            let out = run.outputs.get(name).and_then(Option::as_ref);
            Some(diff::Differing {
                name,
                published: inputs.published.get(name).map(PathBuf::as_path),
                rebuilt: out.map(|(p, _)| p.as_path()),
                published_sha256: hex::encode(subject.digest.sha256),
                rebuilt_sha256: out.map(|(_, d)| d.sha256_hex()),
            })
        })
        .collect();
    diff::report(&items, &config.limits, job, config.build_user)
}

/// What is fixed before the outcome is known.
struct Draft<'a> {
    config: &'a NodeConfig,
    release: &'a ReleaseRecord,
    started: String,
    job: PathBuf,
    header: String,
    /// The sandbox and toolchain, in words ([`describe`]).
    details: String,
}

impl Draft<'_> {
    /// The phases: fetch every input by the digest the release gives, build in the sandbox,
    /// compare bit for bit (a diff report for what differs), optionally run the variation
    /// builds, and sign. A fetch or a build that fails ends it early, signed as such.
    fn rebuild(&self, steps: &Steps) -> anyhow::Result<RebuildReport> {
        let m = &self.release.manifest;
        steps.start("fetch");
        let inputs = match fetch_inputs(self.config, self.release, &self.job)? {
            Ok(inputs) => inputs,
            Err(u) => return self.inputs_unavailable(&u),
        };
        steps.done();
        steps.start("build");
        let runner = self.runner(&inputs);
        let run = runner
            .build(&self.job.join("build"), &Variant::baseline())
            .context("cannot run the build")?;
        let log = self.build_log(&run.finished);
        steps.done();
        if let Some(detail) = build_failure(&run.finished.exit, &self.config.limits) {
            return self.finish(
                RebuildResult::BuildFailed,
                Vec::new(),
                log,
                None,
                Some(detail),
            );
        }
        steps.start("compare");
        let unpinned = match compare::unpinned_built(m, &run.outputs) {
            Ok(built) => built,
            Err(missing) => {
                let detail = format!(
                    "the build did not produce the output(s) {}",
                    missing.join(", ")
                );
                return self.finish(
                    RebuildResult::BuildFailed,
                    Vec::new(),
                    log,
                    None,
                    Some(detail),
                );
            }
        };
        let mut cmp = compare::compare(&m.pinned_subjects(), &run.outputs);
        let (result, diff_report, detail) = self.judge(&inputs, &run, &cmp);
        cmp.rebuilt.extend(unpinned);
        steps.done();
        let variation_report = if self.config.variations {
            steps.start("variation builds");
            let v = variations::explore(&runner, &self.job, &run, &|line| steps.line(line))
                .context("variation builds")?;
            steps.done();
            Some(v)
        } else {
            None
        };
        steps.start("sign");
        let mut report = self.finish(result, cmp.rebuilt, log, diff_report, detail)?;
        steps.done();
        if let Some(v) = &variation_report {
            std::fs::write(self.job.join("variations.txt"), &v.text)?;
        }
        report.variations = variation_report;
        Ok(report)
    }

    /// The signed outcome when an input could not be fetched; retryable when that may pass.
    fn inputs_unavailable(&self, u: &fetch::Unavailable) -> anyhow::Result<RebuildReport> {
        let log = format!("{}inputs unavailable: {}\n", self.header, u.reason);
        let mut report = self.finish(
            RebuildResult::InputsUnavailable,
            Vec::new(),
            log.into_bytes(),
            None,
            Some(u.reason.clone()),
        )?;
        report.retryable = u.retryable;
        Ok(report)
    }

    /// What runs the job's builds (the baseline, then any variations) with `inputs`.
    fn runner<'a>(&'a self, inputs: &'a build::Inputs) -> build::Runner<'a> {
        build::Runner {
            mode: self.config.sandbox,
            limits: &self.config.limits,
            inputs,
            recipe: &self.release.manifest.predicate.recipe,
            user: self.config.build_user,
            cgroup: self.config.cgroup.as_ref(),
        }
    }

    /// The build log: the header, what the build wrote, and how it ended.
    fn build_log(&self, finished: &sandbox::Finished) -> Vec<u8> {
        let mut log = self.header.clone().into_bytes();
        log.extend_from_slice(&finished.log);
        log.extend_from_slice(
            format!(
                "\n----\n[reprove: {} after {:.1} s]\n",
                finished.exit,
                finished.elapsed.as_secs_f64()
            )
            .as_bytes(),
        );
        log
    }

    /// Reproduced, or a mismatch with its diff report and the names of what differs.
    fn judge(
        &self,
        inputs: &build::Inputs,
        run: &build::BuildRun,
        cmp: &compare::Comparison,
    ) -> (RebuildResult, Option<Vec<u8>>, Option<String>) {
        if cmp.reproduced() {
            return (RebuildResult::Reproduced, None, None);
        }
        let text = diff_report(
            self.config,
            self.release,
            inputs,
            run,
            &cmp.differing,
            &self.job,
        );
        let detail = format!("differing: {}", cmp.differing.join(", "));
        (RebuildResult::Mismatch, Some(text), Some(detail))
    }

    /// Builds and signs the attestation and writes the job's files.
    fn finish(
        &self,
        result: RebuildResult,
        rebuilt: Vec<reprove_verifier::predicates::Artifact>,
        build_log: Vec<u8>,
        diff_report: Option<Vec<u8>>,
        detail: Option<String>,
    ) -> anyhow::Result<RebuildReport> {
        let m = &self.release.manifest;
        let entry_digests = hash_bytes(&self.release.entry);
        let digests = |b: &[u8]| {
            let d = hash_bytes(b);
            Digests {
                sha256: d.sha256,
                blake3: Some(d.blake3),
            }
        };
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let detail = detail.map(|mut d| {
            d.retain(|c| c == '\n' || c == '\t' || !c.is_control());
            d.truncate(4000);
            d
        });
        let attestation = RebuildAttestation {
            subjects: compare::attested_subjects(m, &rebuilt),
            predicate: RebuildPredicate {
                release: ReleaseRef {
                    log_index: self.release.log_index,
                    name: m.predicate.project.clone(),
                    version: m.predicate.version.clone(),
                    digest: Digests {
                        sha256: entry_digests.sha256,
                        blake3: Some(entry_digests.blake3),
                    },
                },
                result,
                comparison: ComparisonKind::BitIdentical,
                rebuilt,
                build_log: Some(digests(&build_log)),
                diff_report: diff_report.as_deref().map(digests),
                sandbox: Sandbox {
                    kind: match self.config.sandbox {
                        SandboxMode::Bwrap => SandboxKind::Bubblewrap,
                        SandboxMode::InsecureNone => SandboxKind::None,
                    },
                    details: Some(self.details.clone()),
                },
                builder: Builder {
                    id: self.config.builder_id.clone(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                },
                started_on: self.started.clone(),
                finished_on: time::now_rfc3339(),
                invocation_id: Some(format!("urn:reprove:job:{}", hex::encode(nonce))),
                detail,
                variations: Vec::new(),
            },
        };
        let entry = Entry::new(EntryKind::Rebuild(attestation.clone()))
            .context("the attestation does not pass its own format rules")?;
        let envelope = sign_statement(&self.config.signer, &entry.encode())?.encode();
        std::fs::write(self.job.join("build.log"), &build_log)?;
        if let Some(d) = &diff_report {
            std::fs::write(self.job.join("diff-report.txt"), d)?;
        }
        std::fs::write(self.job.join("attestation.dsse.json"), &envelope)?;
        Ok(RebuildReport {
            attestation,
            envelope,
            build_log,
            diff_report,
            retryable: false,
            variations: None,
            job_dir: self.job.clone(),
        })
    }
}

/// The release manifest `name`@`version` from the log: found via `/lookup/release` — scoped
/// to each of `publishers` when any are given, so only their manifests are candidates — each
/// candidate entry proven included (from tiles) under a checkpoint signed by `log_key`, its
/// DSSE signature verified under the key its `keyid` names, and parsed. When a release was
/// logged more than once, the earliest is the release (first claim wins).
pub fn find_release(
    client: &LogClient,
    log_key: &NoteVerifier,
    name: &str,
    version: &str,
    publishers: &[NoteVerifier],
) -> anyhow::Result<ReleaseRecord> {
    let checkpoint = client
        .checkpoint(log_key)
        .context("cannot get a verified checkpoint")?;
    let release = release_key(name, version);
    let lookups: Vec<IndexKey> = if publishers.is_empty() {
        vec![release]
    } else {
        publishers
            .iter()
            .map(|p| crate::client::signed_by(release.clone(), p))
            .collect()
    };
    let mut indices = std::collections::BTreeSet::new();
    for lookup in &lookups {
        let proven = client
            .proven_lookup(lookup, log_key, checkpoint.checkpoint())
            .context("release lookup")?;
        indices.extend(proven.inside);
    }
    for index in indices {
        if index >= checkpoint.size() {
            continue; // logged after our checkpoint; a later lookup will see it
        }
        if let Some(record) = release_at(client, &checkpoint, index, name, version, publishers)? {
            return Ok(record);
        }
    }
    if publishers.is_empty() {
        bail!("the log has no release manifest for {name}@{version}")
    }
    bail!("the log has no release manifest for {name}@{version} signed by a --publisher key")
}

/// The entry at `index` as a release of `name`@`version`, proven; `None` if it is another kind
/// of entry (the release lookup also lists rebuild attestations).
fn release_at(
    client: &LogClient,
    checkpoint: &reprove_verifier::checkpoint::VerifiedCheckpoint,
    index: u64,
    name: &str,
    version: &str,
    publishers: &[NoteVerifier],
) -> anyhow::Result<Option<ReleaseRecord>> {
    let entry = client
        .entry(index)
        .with_context(|| format!("entry {index}"))?;
    client
        .inclusion_from_tiles(checkpoint, index, &leaf_hash(&entry))
        .with_context(|| format!("entry {index} is not proven in the log"))?;
    let allow = (!publishers.is_empty()).then_some(publishers);
    let opened = match SignedEntry::open_with(
        &entry,
        Options {
            allow,
            ..Options::default()
        },
    ) {
        Ok(opened) => opened,
        // Not signed by a --publisher, or by nobody it names: not this release.
        Err(OpenError::NotAllowed | OpenError::NoNamedSigner) => return Ok(None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("entry {index}"))),
    };
    let parsed = opened.into_entry();
    match parsed.into_kind() {
        EntryKind::Release(manifest)
            if manifest.predicate.project == name && manifest.predicate.version == version =>
        {
            Ok(Some(ReleaseRecord {
                log_index: index,
                entry,
                manifest,
            }))
        }
        _ => Ok(None),
    }
}

/// Appends the attestation, then uploads the build log and the diff report it names to the
/// ledger's blob store (signed by `signer`: the store takes blobs only from the key whose
/// logged entry names them). Returns the log's answer (index and proof).
pub fn publish_report(
    client: &LogClient,
    signer: &NoteSigner,
    report: &RebuildReport,
) -> anyhow::Result<Submitted> {
    let check = |what: &str, bytes: &[u8], want: Option<&Digests>| -> anyhow::Result<()> {
        let got = client
            .put_blob(signer, bytes)
            .with_context(|| format!("uploading the {what}"))?;
        if want.is_some_and(|d| d.sha256 != got) {
            bail!("the ledger stored the {what} under another digest");
        }
        Ok(())
    };
    let p = &report.attestation.predicate;
    let submitted = client
        .submit(&report.envelope)
        .context("appending the attestation")?;
    check("build log", &report.build_log, p.build_log.as_ref())?;
    if let Some(d) = &report.diff_report {
        check("diff report", d, p.diff_report.as_ref())?;
    }
    Ok(submitted)
}

#[cfg(test)]
mod tests {
    use super::shell_words;
    use crate::rebuild::sandbox::Exit;

    #[test]
    fn commands_and_exits_are_written_for_people_not_as_debug_text() {
        assert_eq!(shell_words(["make", "dist"]), "make dist");
        assert_eq!(
            shell_words(["sh", "-c", "echo it's $HOME", ""]),
            r"sh -c 'echo it'\''s $HOME' ''"
        );
        assert_eq!(shell_words(["CC=gcc -O2"]), "'CC=gcc -O2'");
        for (exit, text) in [
            (Exit::Success, "exit status 0"),
            (Exit::Failed(Some(2)), "exit status 2"),
            (Exit::Failed(None), "killed by a signal"),
            (Exit::TimedOut, "timed out"),
            (Exit::DiskLimit, "over the disk limit"),
        ] {
            assert_eq!(exit.to_string(), text);
        }
    }
}
