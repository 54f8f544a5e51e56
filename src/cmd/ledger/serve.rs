//! `reprove ledger serve`: open the log, start the sequencer, serve HTTP until a signal.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use reprove_ledger::INDEX_VERSION;
use reprove_ledger::http::{HttpConfig, router, serve};
use reprove_ledger::{Ledger, Sequencer, SequencerConfig, TokioClock};
use reprove_verifier::note::NoteVerifier;

use super::{key_path, open_error, read_signer};
use crate::Outcome;
use crate::cli::LedgerServe;

/// Serves the log until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(args: &LedgerServe) -> anyhow::Result<Outcome> {
    crate::progress::init_logging();
    if !args.data.is_dir() {
        bail!(
            "{} is not an initialized log (no such directory); create one with `reprove ledger init`",
            args.data.display()
        );
    }
    let signer = read_signer(&key_path(&args.data, args.key.as_ref()))?;
    let allow_keys = args
        .allow_keys
        .as_deref()
        .map(read_allow_keys)
        .transpose()?;
    let project_keys = parse_project_keys(&args.project_keys)?;
    let config = SequencerConfig {
        batch_max_age: args.batch_max_age,
        batch_max_size: args.batch_max_size,
        pool_capacity: args.pool_capacity,
    };
    // Open before anything else: a directory that is not a sound log is refused at once.
    let (ledger, mut writer) =
        Ledger::open(&args.data, signer).map_err(|e| open_error(&args.data, e))?;
    // A log written by an earlier version gains the lookup records this one derives (signer-
    // scoped lookups, blobs) before it serves: lookups must not answer from half an index.
    let version = writer
        .index_version()
        .context("reading the index version")?;
    if version < INDEX_VERSION {
        let started = std::time::Instant::now();
        let n = writer.reindex().context("re-deriving the lookup index")?;
        if n > 0 {
            eprintln!(
                "re-derived the lookup index of {n} entries (index version {version} -> \
                 {INDEX_VERSION}) in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let sequencer = Sequencer::start(writer, config, Arc::new(TokioClock))
            .context("starting the sequencer")?;
        let http = HttpConfig {
            allow_keys,
            max_blob_bytes: args.max_blob_bytes,
            max_blob_uploads: args.max_blob_uploads,
            max_blob_bytes_per_key: args.max_blob_bytes_per_key,
            max_artifact_bytes: args.max_artifact_bytes,
            project_keys,
            ..HttpConfig::default()
        };
        let head = ledger.head();
        let origin = ledger.origin().to_owned();
        let app = router(Arc::new(ledger), Arc::new(sequencer.clone()), http);
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let shutdown = shutdown_signal()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
        }
        tracing::info!(%addr, origin, size = head.size(), "serving the log");
        let served = serve(listener, app, shutdown).await;
        tracing::info!("no longer accepting requests; finishing the rounds in flight");
        let stopped = sequencer.shutdown().await;
        served.context("serving HTTP")?;
        stopped.context("stopping the sequencer")?;
        tracing::info!("stopped cleanly");
        anyhow::Ok(())
    })?;
    Ok(Outcome::Ok)
}

/// `--project-key NAME=VKEY` flags, grouped by project.
fn parse_project_keys(
    flags: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, Vec<NoteVerifier>>> {
    let mut out: std::collections::BTreeMap<String, Vec<NoteVerifier>> = Default::default();
    for flag in flags {
        let Some((name, vkey)) = flag.split_once('=') else {
            bail!("--project-key {flag:?} is not NAME=VKEY");
        };
        if name.is_empty() {
            bail!("--project-key {flag:?} names no project");
        }
        let key = NoteVerifier::parse(vkey)
            .with_context(|| format!("--project-key {flag:?}: {vkey:?} is not a verifier key"))?;
        out.entry(name.to_owned()).or_default().push(key);
    }
    Ok(out)
}

/// Reads an allow-list: one vkey per line; blank lines and `#` comments are ignored.
pub fn read_allow_keys(path: &Path) -> anyhow::Result<Vec<NoteVerifier>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the allow-list {}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let key = NoteVerifier::parse(line).with_context(|| {
            format!(
                "{} line {}: {line:?} is not a verifier key",
                path.display(),
                n + 1
            )
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// Registers SIGINT and SIGTERM handlers now (so a signal that arrives as soon as the address
/// is printed is not fatal) and returns a future that resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT received"),
            _ = term.recv() => tracing::info!("SIGTERM received"),
        }
    })
}
