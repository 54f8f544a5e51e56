//! `reprove rebuilder run`: the long-running rebuilder node.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use reprove_verifier::note::NoteVerifier;
use serde::Serialize;

use crate::Outcome;
use crate::cli::RebuilderRun;
use crate::client::{ClientOptions, LogClient};
use crate::keys::read_signer;
use crate::rebuild::NodeConfig;
use crate::rebuilder::daemon::{self, DaemonConfig};
use crate::rebuilder::follow::Follower;
use crate::rebuilder::jobs::{Counts, JobTable};
use crate::rebuilder::pool::PoolConfig;
use crate::rebuilder::runner::NodeRunner;

/// Runs the node until it is stopped (or idle, with `--exit-when-idle`).
pub fn run(args: &RebuilderRun) -> anyhow::Result<Outcome> {
    crate::progress::init_logging();
    let log_key = args.log_key.require()?;
    let publishers = publishers(&args.publishers)?;
    crate::rebuild::hostfs::key_outside_work(&args.key, &args.work)
        .map_err(|e| anyhow::anyhow!(e))?;
    let signer = read_signer(&args.key)?;
    let poll_interval = positive("--poll-interval", args.poll_interval)?;
    let retry_delay = positive("--retry-delay", args.retry_delay)?;
    let ledger = crate::config::ledger(&args.ledger)?;
    let mut node = NodeConfig::new(signer.clone(), args.work.join("builds"));
    super::rebuild::configure(&mut node, &args.build)?;
    // No other local user enters the work directory (a build user may only pass through).
    crate::rebuild::hostfs::private_dir(&args.work, node.build_user.is_some())
        .with_context(|| format!("creating the work directory {}", args.work.display()))?;
    // Refuse at once rather than fail every job.
    node.check_sandbox()?;
    let client = LogClient::new(
        ledger,
        ClientOptions {
            cache: Some(args.work.join("tiles")),
            ..ClientOptions::default()
        },
    )?;
    let table = Arc::new(JobTable::open(
        &args.work.join("jobs"),
        &log_key,
        &signer.verifier(),
    )?);
    log_start(&table, &signer.verifier(), &log_key);
    let follower = Follower::new(client.clone(), log_key.clone(), publishers);
    let runner = Arc::new(NodeRunner {
        client,
        log_key,
        node,
    });
    let config = DaemonConfig {
        pool: PoolConfig {
            workers: usize::from(args.jobs),
            max_attempts: args.max_attempts,
            backoff_base: retry_delay,
            ..PoolConfig::default()
        },
        poll_interval,
        exit_when_idle: args.exit_when_idle,
    };
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    let summary = daemon::run(&follower, table, runner, config, stop)?;
    crate::report::print(&Stopped::of(&summary), args.json)?;
    Ok(Outcome::Ok)
}

/// `--publisher` keys.
fn publishers(given: &[String]) -> anyhow::Result<Vec<NoteVerifier>> {
    given
        .iter()
        .map(|p| {
            NoteVerifier::parse(p.trim())
                .with_context(|| format!("--publisher {p:?} is not a verifier key"))
        })
        .collect()
}

/// A positive duration in seconds. Zero would make the node poll the ledger (or retry) in a
/// busy loop.
fn positive(what: &str, d: Duration) -> anyhow::Result<Duration> {
    if d.is_zero() {
        anyhow::bail!("{what} must be longer than 0s");
    }
    Ok(d)
}

/// Where the node starts from: its cursor and its jobs.
fn log_start(table: &JobTable, node: &NoteVerifier, log_key: &NoteVerifier) {
    let counts = table.counts();
    let next_retry_secs = table
        .next_retry_ms()
        .map(|at| at.saturating_sub(crate::rebuilder::pool::now_ms()) as f64 / 1000.0);
    tracing::info!(
        node = %node,
        log = log_key.name(),
        cursor = table.cursor(),
        queued = counts.queued,
        retrying = counts.retrying,
        next_retry_secs,
        done = counts.done,
        "rebuilder node starting"
    );
}

/// What `rebuilder run` prints when the node stops: what it did.
#[derive(Debug, Serialize)]
struct Stopped {
    /// The log size the node had followed to.
    tree_size: u64,
    jobs: Counts,
    elapsed_secs: f64,
}

impl Stopped {
    fn of(summary: &daemon::Summary) -> Self {
        Stopped {
            tree_size: summary.log_size,
            jobs: summary.counts,
            elapsed_secs: summary.elapsed.as_secs_f64(),
        }
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.jobs;
        writeln!(
            f,
            "stopped after {:.1} s at log size {}: {} done, {} failed, {} queued, {} waiting to retry",
            self.elapsed_secs,
            self.tree_size,
            c.done,
            c.failed,
            c.queued + c.running,
            c.retrying
        )
    }
}

/// The first SIGINT or SIGTERM sets `stop` (running jobs finish); a second exits at once.
fn watch_signals(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the signal watcher")?;
    let (mut int, mut term) = runtime.block_on(async {
        anyhow::Ok((
            signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        ))
    })?;
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                for n in 0.. {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    if n > 0 {
                        tracing::warn!("second signal: exiting now; running jobs are redone at the next start");
                        std::process::exit(130);
                    }
                    tracing::info!("stopping: no new jobs; waiting for the running ones (signal again to exit now)");
                    stop.store(true, Ordering::Relaxed);
                }
            });
        })
        .context("starting the signal watcher")?;
    Ok(())
}
