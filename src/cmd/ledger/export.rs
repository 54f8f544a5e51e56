//! `reprove ledger export`: the read API as static files.
//!
//! Layout (the c2sp tlog-tiles paths, relative to OUT): `checkpoint`, `index-note` (the signed
//! index note of the same tree, docs/formats.md §7), `tile/<L>/<N>[.p/<W>]`
//! for every full tile and the partial tile of every level that the checkpoint's tree has,
//! and `tile/entries/<N>[.p/<W>]` for every bundle. Every file is written through a temporary
//! file and a rename; the checkpoint is written last, so a server that serves OUT while an
//! export runs serves the old tree (whose files are all still there: full files are never
//! rewritten and older partial tiles are not removed) or the new one, never half of one.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use reprove_ledger::Ledger;
use reprove_verifier::checkpoint::{WitnessPolicy, verify_checkpoint};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::tiles::{BundleId, tree_tiles};
use serde::Serialize;

use super::{log_key, open_error};
use crate::Outcome;
use crate::cli::LedgerExport;
use crate::client::write_atomic;
use crate::progress;
use crate::report::Log;

/// What one export wrote.
#[derive(Debug, Default)]
struct Counts {
    written: u64,
    unchanged: u64,
    bytes: u64,
}

/// Exports the log's read API into `--out`.
pub fn run(args: &LedgerExport) -> anyhow::Result<Outcome> {
    let key = log_key(
        &args.data,
        args.key.log_key.as_deref(),
        args.key.log_key_file.as_deref(),
    )?;
    let ledger =
        Ledger::open_read_only(&args.data, key.clone()).map_err(|e| open_error(&args.data, e))?;
    let head = ledger.head();
    let size = head.size();

    let checkpoint_file = args.out.join("checkpoint");
    refuse_older_or_other(&checkpoint_file, &args.out, &key, size)?;

    let levels = tree_tiles(size);
    let total: u64 = levels
        .iter()
        .map(|l| l.full + u64::from(l.partial.is_some()))
        .sum::<u64>()
        + levels
            .first()
            .map_or(0, |l| l.full + u64::from(l.partial.is_some()));
    let bar = progress::bar(total, "export");
    let mut counts = Counts::default();
    for level in &levels {
        for id in level.ids() {
            let bytes = ledger
                .tile(id)
                .with_context(|| format!("reading tile {id}"))?;
            put(&args.out, &id.path(), &bytes, id.is_full(), &mut counts)?;
            bar.inc(1);
        }
    }
    if let Some(level0) = levels.first() {
        for n in 0..level0.full + u64::from(level0.partial.is_some()) {
            let Some(id) = BundleId::in_tree(n, size) else {
                break;
            };
            let bytes = ledger
                .bundle(id)
                .with_context(|| format!("reading entry bundle {id}"))?;
            put(&args.out, &id.path(), &bytes, id.is_full(), &mut counts)?;
            bar.inc(1);
        }
    }
    // The index note of the same tree, before the checkpoint: an audit of the export re-derives
    // the verifiable index too (a static mirror serves no proven lookups, only the note).
    // (A log written before the verifiable index has none until it is next served.)
    let index_note = match ledger.index_note() {
        Ok(note) => note,
        Err(reprove_ledger::Error::NoIndex) => Vec::new(),
        Err(e) => return Err(e).context("reading the index note"),
    };
    let index_file = args.out.join("index-note");
    if !index_note.is_empty() {
        write_atomic(&index_file, &index_note)
            .with_context(|| format!("writing {}", index_file.display()))?;
    }
    write_atomic(&checkpoint_file, head.note())
        .with_context(|| format!("writing {}", checkpoint_file.display()))?;
    bar.finish_and_clear();

    let report = Exported {
        out: &args.out,
        log: Log::new(key.name(), size, &head.root()),
        // The checkpoint is always written, and the index note when the log has one.
        files_written: counts.written + 1 + u64::from(!index_note.is_empty()),
        files_unchanged: counts.unchanged,
        bytes_written: counts.bytes + (head.note().len() + index_note.len()) as u64,
    };
    crate::report::print(&report, args.json)?;
    Ok(Outcome::Ok)
}

/// What `ledger export` prints: the tree exported, and what it took to write it.
#[derive(Debug, Serialize)]
struct Exported<'a> {
    out: &'a Path,
    log: Log,
    files_written: u64,
    /// Immutable files already there, with the same contents.
    files_unchanged: u64,
    bytes_written: u64,
}

impl fmt::Display for Exported<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "exported {} at tree size {} to {}: {} files written, {} unchanged",
            self.log.origin,
            self.log.tree_size,
            self.out.display(),
            self.files_written,
            self.files_unchanged
        )
    }
}

/// Writes one file. An immutable file already there must hold exactly these bytes.
fn put(
    out: &Path,
    path: &str,
    bytes: &[u8],
    immutable: bool,
    counts: &mut Counts,
) -> anyhow::Result<()> {
    let file = out.join(path);
    if immutable {
        match std::fs::read(&file) {
            Ok(old) if old == bytes => {
                counts.unchanged += 1;
                return Ok(());
            }
            Ok(_) => bail!(
                "{} already exists with other contents: full tiles never change, so OUT holds \
                 another log or a damaged export",
                file.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context(format!("reading {}", file.display())),
        }
    }
    write_atomic(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    counts.written += 1;
    counts.bytes += bytes.len() as u64;
    Ok(())
}

/// Never mix two logs, or move a mirror back in time: an export directory that already holds a
/// checkpoint must hold one of this log's, no newer than `size`.
fn refuse_older_or_other(
    checkpoint_file: &Path,
    out: &Path,
    key: &NoteVerifier,
    size: u64,
) -> anyhow::Result<()> {
    match std::fs::read(checkpoint_file) {
        Ok(old) => {
            let old = verify_checkpoint(&old, key, &WitnessPolicy::none()).with_context(|| {
                format!(
                    "{} holds a checkpoint that is not this log's; refusing to mix two logs",
                    checkpoint_file.display()
                )
            })?;
            if old.size() > size {
                bail!(
                    "{} holds a newer export (tree size {}) than this log's {size}",
                    out.display(),
                    old.size()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context(format!("reading {}", checkpoint_file.display())),
    }
    Ok(())
}
