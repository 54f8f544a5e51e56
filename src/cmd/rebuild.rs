//! `reprove rebuild`: rebuild one logged release and attest the outcome, or (with
//! `--manifest`) build a local publisher manifest in the same sandbox.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{RebuildResult, ReleasePredicate};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{BuildArgs, Rebuild};
use crate::client::{ClientOptions, LogClient};
use crate::keys::read_signer;
use crate::rebuild::build::{self, Runner, Variant};
use crate::rebuild::fetch::Origin;
use crate::rebuild::hostfs;
use crate::rebuild::{
    Limits, NodeConfig, Progress, SandboxMode, find_release, manifest, publish_report,
    rebuild_release, variations,
};
use crate::report::{as_hex, as_hex_opt};

/// Runs the command.
pub fn run(args: &Rebuild) -> anyhow::Result<Outcome> {
    let limits = limits(&args.build);
    let mode = sandbox_mode(&args.build);
    if let Some(path) = &args.manifest {
        if args.in_toto_link.is_some() {
            anyhow::bail!(
                "--in-toto-link needs --release: a link records a rebuild of a logged release"
            );
        }
        return local(args, path, mode, limits);
    }
    let (Some(key), Some(release)) = (&args.key, &args.release) else {
        bail!("--release needs --key");
    };
    let ledger = crate::config::ledger(&args.ledger)?;
    let (name, version) = release
        .rsplit_once('@')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .with_context(|| format!("--release {release:?} is not NAME@VERSION"))?;
    let log_key = args.log_key.require()?;
    hostfs::key_outside_work(key, &args.work).map_err(|e| anyhow::anyhow!(e))?;
    let signer = read_signer(key)?;
    let mut config = NodeConfig::new(signer, args.work.clone());
    configure(&mut config, &args.build)?;
    config.variations = args.variations;
    config.check_sandbox()?;
    std::fs::create_dir_all(&config.work)
        .with_context(|| format!("cannot create {}", config.work.display()))?;
    let client =
        LogClient::new(ledger, ClientOptions::default()).context("--ledger is not a usable URL")?;
    let publishers = publishers(args, (name, version))?;
    let record = find_release(&client, &log_key, name, version, &publishers)?;
    let progress = if args.json || args.quiet {
        Progress::Hidden
    } else {
        Progress::Bar
    };
    let report = rebuild_release(&config, &record, progress)?;
    if report.attestation.predicate.result == RebuildResult::BuildFailed
        && progress == Progress::Bar
    {
        eprint!("{}", log_tail(&report.build_log, 20));
    }
    let submitted = if args.submit {
        let s = publish_report(&client, &config.signer, &report)?;
        s.proof
            .verify(&report.envelope, &log_key, &WitnessPolicy::none())
            .map_err(|e| super::logged_but_not_proven("the attestation", s.index, &log_key, e))?;
        Some(s)
    } else {
        None
    };
    if let Some(file) = &args.in_toto_link {
        write_link(file, &config.signer, &record, &report)?;
    }
    let index = submitted.as_ref().map(|s| s.index);
    crate::report::print(
        &Rebuilt::new((name, version), &record, &report, index),
        args.json,
    )?;
    Ok(
        if report.attestation.predicate.result == RebuildResult::Reproduced {
            Outcome::Ok
        } else {
            Outcome::No
        },
    )
}

/// The `--publisher` keys, warning when there are none (anyone's manifest is then built).
fn publishers(args: &Rebuild, (name, version): (&str, &str)) -> anyhow::Result<Vec<NoteVerifier>> {
    let publishers = args
        .publishers
        .iter()
        .map(|k| {
            NoteVerifier::parse(k.trim()).map_err(|e| anyhow::anyhow!("--publisher {k:?}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if publishers.is_empty() {
        eprintln!(
            "warning: no --publisher given: building the earliest manifest anyone logged for \
             {name}@{version}"
        );
    }
    Ok(publishers)
}

/// What `rebuild --release` prints: the outcome, what was rebuilt, and where the job's files
/// and the attestation are.
#[derive(Debug, Serialize)]
struct Rebuilt<'a> {
    release: RebuiltRelease<'a>,
    result: RebuildResult,
    detail: Option<&'a str>,
    rebuilt: Vec<RebuiltArtifact<'a>>,
    #[serde(serialize_with = "as_hex_opt")]
    build_log_sha256: Option<[u8; 32]>,
    #[serde(serialize_with = "as_hex_opt")]
    diff_report_sha256: Option<[u8; 32]>,
    /// The failure may be transient (an input fetch failed in transport).
    retryable: bool,
    job_dir: &'a Path,
    /// Where the attestation was logged, when it was submitted.
    attestation_index: Option<u64>,
    variations: Option<&'a variations::VariationReport>,
}

/// The release a rebuild was of.
#[derive(Debug, Serialize)]
struct RebuiltRelease<'a> {
    project: &'a str,
    version: &'a str,
    /// The release manifest's log index.
    index: u64,
}

/// One artifact a rebuild produced.
#[derive(Debug, Serialize)]
struct RebuiltArtifact<'a> {
    name: &'a str,
    #[serde(serialize_with = "as_hex")]
    sha256: [u8; 32],
    #[serde(serialize_with = "as_hex_opt")]
    blake3: Option<[u8; 32]>,
}

impl<'a> Rebuilt<'a> {
    fn new(
        (name, version): (&'a str, &'a str),
        record: &crate::rebuild::ReleaseRecord,
        report: &'a crate::rebuild::RebuildReport,
        attestation_index: Option<u64>,
    ) -> Self {
        let p = &report.attestation.predicate;
        Rebuilt {
            release: RebuiltRelease {
                project: name,
                version,
                index: record.log_index,
            },
            result: p.result,
            detail: p.detail.as_deref(),
            rebuilt: p
                .rebuilt
                .iter()
                .map(|a| RebuiltArtifact {
                    name: &a.name,
                    sha256: a.digest.sha256,
                    blake3: a.digest.blake3,
                })
                .collect(),
            build_log_sha256: p.build_log.map(|d| d.sha256),
            diff_report_sha256: p.diff_report.map(|d| d.sha256),
            retryable: report.retryable,
            job_dir: &report.job_dir,
            attestation_index,
            variations: report.variations.as_ref(),
        }
    }
}

impl fmt::Display for Rebuilt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (r, job) = (&self.release, self.job_dir);
        writeln!(f, "{}", self.result)?;
        writeln!(
            f,
            "release: {}@{} (log index {})",
            r.project, r.version, r.index
        )?;
        if let Some(d) = self.detail {
            writeln!(f, "detail: {d}")?;
        }
        for a in &self.rebuilt {
            writeln!(f, "rebuilt: {} sha256 {}", a.name, hex::encode(a.sha256))?;
        }
        writeln!(f, "build log: {}", job.join("build.log").display())?;
        if self.diff_report_sha256.is_some() {
            writeln!(f, "diff report: {}", job.join("diff-report.txt").display())?;
        }
        match self.attestation_index {
            Some(index) => writeln!(f, "attestation: log index {index}")?,
            None => writeln!(
                f,
                "attestation: {} (not submitted; pass --submit)",
                job.join("attestation.dsse.json").display()
            )?,
        }
        if let Some(v) = self.variations {
            write!(f, "\n{}", v.text)?;
        }
        Ok(())
    }
}

/// `--manifest`: build a publisher manifest locally; exit 0 when it built (and, with
/// --variations, when no variation changed an output), 1 otherwise.
fn local(
    args: &Rebuild,
    path: &Path,
    mode: SandboxMode,
    limits: Limits,
) -> anyhow::Result<Outcome> {
    if mode == SandboxMode::Bwrap
        && let Err(cause) = crate::rebuild::sandbox::bwrap_probe()
    {
        bail!(crate::rebuild::sandbox::bwrap_refusal(&cause));
    }
    let mut loaded = manifest::load(path)?;
    let user = hostfs::BuildUser::for_this_process(args.build.build_user.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    let cgroup = delegated_cgroup(&args.build)?;
    let work = std::path::absolute(&args.work)?;
    // A source directory is packed; the work and output directories may sit inside it.
    loaded.pack_source_dir = Some(
        [Some(work.clone()), args.out.clone()]
            .into_iter()
            .flatten()
            .collect(),
    );
    hostfs::private_dir(&work, user.is_some())
        .with_context(|| format!("cannot create {}", args.work.display()))?;
    let (job, predicate, inputs) =
        local_inputs(&loaded, &work, user, args.build.rust_toolchain.clone())?;
    let runner = Runner {
        mode,
        limits: &limits,
        inputs: &inputs,
        recipe: &predicate.recipe,
        user,
        cgroup: cgroup.as_ref(),
    };
    let run = runner.build(&job.join("build"), &Variant::baseline())?;
    std::fs::write(job.join("build.log"), &run.finished.log)?;
    if run.finished.exit != crate::rebuild::sandbox::Exit::Success {
        print_local_failure(&run, &job)?;
        return Ok(Outcome::No);
    }
    let (outputs, missing) = local_outputs(args, &run)?;
    let report = if args.variations {
        let live = crate::progress::Live::new(args.quiet || args.json);
        live.line("variation builds (each compared with the first build):");
        Some(variations::explore(&runner, &job, &run, &|line| {
            live.line(line);
        })?)
    } else {
        None
    };
    let built = Built {
        outputs,
        missing,
        build_log_file: job.join("build.log"),
        variations: report.as_ref(),
    };
    crate::report::print(&built, args.json)?;
    let robust = report.as_ref().is_none_or(|r| {
        r.unstable.is_empty() && r.changed_by.values().all(Vec::is_empty) && r.failed.is_empty()
    });
    Ok(if built.missing.is_empty() && robust {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

/// The last `lines` lines of a build log, headed, for a failure on stderr.
fn log_tail(log: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let all: Vec<&str> = text.lines().collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    format!(
        "--- the last {} lines of the build log ---\n{}\n",
        tail.len(),
        tail.join("\n")
    )
}

/// A local build that failed: the tail of its log on stderr, how it ended on stdout.
fn print_local_failure(run: &build::BuildRun, job: &Path) -> anyhow::Result<()> {
    let tail_from = run.finished.log.len().saturating_sub(4000);
    let _ = std::io::stderr().write_all(&run.finished.log[tail_from..]);
    writeln!(
        std::io::stdout().lock(),
        "build-failed ({}); build log: {}",
        run.finished.exit,
        job.join("build.log").display()
    )?;
    Ok(())
}

/// What a local build produced, copied into `--out` when given: its outputs, and the names of
/// those it did not produce.
fn local_outputs(
    args: &Rebuild,
    run: &build::BuildRun,
) -> anyhow::Result<(Vec<BuiltOutput>, Vec<String>)> {
    let mut missing = Vec::new();
    let mut outputs = Vec::new();
    for (name, found) in &run.outputs {
        match found {
            Some((file, d)) => {
                if let Some(dir) = &args.out {
                    std::fs::create_dir_all(dir)?;
                    std::fs::copy(file, dir.join(name))
                        .with_context(|| format!("cannot copy {name} to {}", dir.display()))?;
                }
                outputs.push(BuiltOutput {
                    name: name.clone(),
                    sha256: d.sha256,
                    blake3: d.blake3,
                    size: d.size,
                });
            }
            None => missing.push(name.clone()),
        }
    }
    Ok((outputs, missing))
}

/// What `rebuild --manifest` prints for a build that succeeded: its outputs, those it did not
/// produce, and the variation report.
#[derive(Debug, Serialize)]
struct Built<'a> {
    outputs: Vec<BuiltOutput>,
    /// Outputs the manifest names that the build did not produce.
    missing: Vec<String>,
    build_log_file: PathBuf,
    variations: Option<&'a variations::VariationReport>,
}

/// One output of a local build.
#[derive(Debug, Serialize)]
struct BuiltOutput {
    name: String,
    #[serde(serialize_with = "as_hex")]
    sha256: [u8; 32],
    #[serde(serialize_with = "as_hex")]
    blake3: [u8; 32],
    size: u64,
}

impl fmt::Display for Built<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in &self.outputs {
            writeln!(
                f,
                "{} sha256 {} ({} bytes)",
                o.name,
                hex::encode(o.sha256),
                o.size
            )?;
        }
        for m in &self.missing {
            writeln!(f, "{m}: NOT PRODUCED by the build")?;
        }
        if let Some(r) = self.variations {
            write!(f, "\n{}", r.text)?;
        }
        Ok(())
    }
}

/// The local job directory, the release predicate the manifest resolves to, and its inputs
/// (the operator's own manifest: its local paths are what it is for).
fn local_inputs(
    loaded: &manifest::Loaded,
    work: &Path,
    user: Option<hostfs::BuildUser>,
    rust_toolchain: Option<std::path::PathBuf>,
) -> anyhow::Result<(std::path::PathBuf, ReleasePredicate, build::Inputs)> {
    let job = work.join(format!(
        "local-{}-{}",
        build::safe_name(&loaded.spec.project),
        build::safe_name(&loaded.spec.version)
    ));
    build::remove_dir(&job)?;
    hostfs::private_dir(&job, user.is_some())?;
    let (source, recipe) = loaded.resolve_build(&job, Duration::from_secs(600))?;
    let predicate = ReleasePredicate {
        third_party_import: None,
        project: loaded.spec.project.clone(),
        version: loaded.spec.version.clone(),
        artifacts: Default::default(),
        source,
        recipe,
    };
    let rust = match rust_toolchain.or_else(build::detect_rust) {
        Some(dir) => Some(hostfs::reachable_toolchain(&dir, work, user)?),
        None => None,
    };
    let rootfs_cache = work.join("rootfs");
    hostfs::private_dir(&rootfs_cache, user.is_some())?;
    let toolchains = work.join("toolchains");
    hostfs::private_dir(&toolchains, user.is_some())?;
    let inputs = build::fetch_inputs(
        &job,
        &predicate,
        &[],
        rust.as_deref(),
        build::Caches {
            rootfs: &rootfs_cache,
            toolchains: &toolchains,
            configure: crate::rebuild::debroot::Configure {
                user,
                limits: &crate::rebuild::sandbox::Limits::default(),
            },
        },
        Duration::from_secs(600),
        Origin::Operator,
    )
    .map_err(|u| anyhow::anyhow!("inputs unavailable: {u}"))?;
    Ok((job, predicate, inputs))
}

/// Writes the legacy in-toto link of a rebuild (see `crate::link`).
fn write_link(
    file: &std::path::Path,
    signer: &reprove_verifier::note::NoteSigner,
    record: &crate::rebuild::ReleaseRecord,
    report: &crate::rebuild::RebuildReport,
) -> anyhow::Result<()> {
    use reprove_verifier::predicates::Source;
    let release = &report.attestation.predicate.release;
    let manifest = &record.manifest.predicate;
    let mut materials = vec![(
        format!("{}-{}.release.dsse.json", release.name, release.version),
        release.digest.sha256,
    )];
    if let Source::Archive { uri, digest } = &manifest.source {
        let name = uri.rsplit('/').next().unwrap_or(uri).to_owned();
        materials.push((name, digest.sha256));
    }
    let products: Vec<(String, [u8; 32])> = report
        .attestation
        .predicate
        .rebuilt
        .iter()
        .map(|a| (a.name.clone(), a.digest.sha256))
        .collect();
    let link = crate::link::legacy_link(
        signer,
        &crate::link::LinkStep {
            name: "rebuild",
            materials: &materials,
            products: &products,
            command: &manifest.recipe.command,
            env: &manifest.recipe.env,
        },
    )?;
    crate::client::write_atomic(file, &link)
        .with_context(|| format!("writing the in-toto link to {}", file.display()))
}

/// The limits `args` ask for (the same in `reprove rebuild` and `reprove rebuilder run`).
pub fn limits(args: &BuildArgs) -> Limits {
    Limits {
        wall_time: args.timeout,
        memory_bytes: args.memory.saturating_mul(1 << 20),
        log_bytes: args.max_log.saturating_mul(1 << 10),
        max_procs: args.max_procs,
        tmp_bytes: args.tmp_size.saturating_mul(1 << 20),
        disk_bytes: args.max_disk.saturating_mul(1 << 20),
        max_files: args.max_files,
        ..Limits::default()
    }
}

/// The sandbox `args` ask for, warning loudly when it is none.
pub fn sandbox_mode(args: &BuildArgs) -> SandboxMode {
    if args.insecure_no_sandbox {
        eprintln!(
            "warning: --insecure-no-sandbox: builds run WITHOUT isolation, with network access"
        );
        SandboxMode::InsecureNone
    } else {
        SandboxMode::Bwrap
    }
}

/// The delegated cgroup `--cgroup` names, checked.
fn delegated_cgroup(args: &BuildArgs) -> anyhow::Result<Option<crate::rebuild::cgroup::Delegated>> {
    args.cgroup
        .as_deref()
        .map(|d| crate::rebuild::cgroup::Delegated::open(d).map_err(|e| anyhow::anyhow!(e)))
        .transpose()
}

/// Applies `args` (sandbox, limits, toolchain, builder id, build user, cgroup) to a node's
/// configuration.
pub fn configure(config: &mut NodeConfig, args: &BuildArgs) -> anyhow::Result<()> {
    config.cgroup = delegated_cgroup(args)?;
    config.build_user = hostfs::BuildUser::for_this_process(args.build_user.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    config.sandbox = sandbox_mode(args);
    config.limits = limits(args);
    if let Some(dir) = &args.rust_toolchain {
        config.rust_toolchain = Some(dir.clone());
    }
    if let Some(id) = &args.builder_id {
        config.builder_id = id.clone();
    }
    Ok(())
}
