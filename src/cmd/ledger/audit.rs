//! `reprove ledger audit`: fsck from the outside, through the public read API only.
//!
//! Trusts nothing but the log key. It verifies the checkpoint, then walks the tree bottom-up
//! in one pass: for each entry bundle (in order) it fetches the bundle and its level-0 tile,
//! recomputes the leaf hashes from the entries and compares them with the tile; every full
//! tile's root is the next element of the level above, so each tile of level `L + 1` is
//! compared, as soon as 256 elements are known, with the hashes derived from level `L`, and
//! each level's partial tile with the elements left over at the end. Every derived hash comes
//! from the entries, never from a served tile. The root of all the entries must be the
//! checkpoint's root. Memory is O(256 × levels) whatever the log's size.
//!
//! The verifiable index is re-derived too: the audit fetches the signed index note first,
//! derives every entry's lookup keys as the ledger does at `/add` (opening each entry, its
//! signatures verified) for the entries the note covers, and compares the root of the index
//! they give with the one the log signed; the note's log root must be the checkpoint's, or
//! one it extends. That costs one signature check per entry and a few dozen bytes of memory
//! per lookup key (a server with no index note, e.g. a static mirror of an older export, is
//! audited without it, and the report says so).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use anyhow::Context;
use reprove_ledger::derive_index_keys;
use reprove_verifier::checkpoint::{Checkpoint, VerifiedCheckpoint};
use reprove_verifier::dsse::Envelope;
use reprove_verifier::merkle::{Hash, RightEdge, perfect_root, verify_consistency};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::tiles::{BundleId, EntryBundle, TILE_WIDTH, Tile, TileId, tree_tiles};
use reprove_verifier::vindex::{IndexNote, Value, key_hash, root_of};
use serde::Serialize;

use super::write_problems;
use crate::Outcome;
use crate::cli::LedgerAudit;
use crate::client::{ClientOptions, FetchError, LogClient};
use crate::progress;
use crate::report::Log;

/// Problems listed in the report; more are counted.
const MAX_LISTED: usize = 1000;

/// Audits the log at `args.url`.
pub fn run(args: &LedgerAudit) -> anyhow::Result<Outcome> {
    let key = args.log_key.require()?;
    let url = crate::config::ledger(if args.url.is_some() {
        &args.url
    } else {
        &args.ledger
    })?;
    let client = LogClient::new(
        url,
        ClientOptions {
            cache: args.cache.clone(),
            ..ClientOptions::default()
        },
    )?;
    let mut audit = Audit::new(args.dsse);
    // The index note before the checkpoint: an honest log's checkpoint is then as new or newer.
    let index_note = match client.get("index-note") {
        Ok(bytes) => match IndexNote::verify(&bytes, &key) {
            Ok(note) => Some(note),
            Err(e) => {
                audit.problem(format!("the index note does not verify: {e}"));
                None
            }
        },
        Err(FetchError::NotFound { .. }) => None,
        Err(e) if e.is_transport() => return Err(e).context("fetching the index note"),
        Err(e) => {
            audit.problem(e.to_string());
            None
        }
    };
    audit.index = index_note.as_ref().map(|n| (n.size, HashMap::new()));
    let checkpoint = match client.checkpoint(&key) {
        Ok(c) => Some(c),
        Err(e) if e.is_transport() => return Err(e).context("fetching the checkpoint"),
        Err(e) => {
            audit.problem(e.to_string());
            None
        }
    };
    if let Some(checkpoint) = &checkpoint {
        audit.walk(&client, checkpoint.size(), args.parallel.max(1))?;
        let root = audit.edge.root();
        if root != *checkpoint.root() {
            audit.problem(format!(
                "the entries give root {}, the checkpoint signs {}",
                hex::encode(root),
                hex::encode(checkpoint.root())
            ));
        }
        if let Some(note) = &index_note {
            audit.check_index(&client, note, checkpoint.checkpoint())?;
        }
    }
    let report = Audited::new(&client, &key, checkpoint.as_ref(), &audit);
    crate::report::print(&report, args.json)?;
    Ok(if report.clean {
        Outcome::Ok
    } else {
        Outcome::No
    })
}

/// What `ledger audit` prints: the checkpoint, what the walk checked, and the problems found.
#[derive(Debug, Serialize)]
struct Audited<'a> {
    url: &'a str,
    /// The checkpoint that verified (`null` when none did).
    log: Option<Log>,
    tiles: u64,
    bundles: u64,
    entries: u64,
    /// Every entry's DSSE envelope was checked too.
    dsse_checked: bool,
    /// The verifiable index re-derived from the entries (`null`: the server serves no index
    /// note): the tree size it covers and its root.
    index: Option<IndexChecked>,
    /// No problems at all.
    clean: bool,
    /// How many problems there were in all.
    problem_count: u64,
    /// The first problems, in the order found.
    problems: &'a [String],
}

impl<'a> Audited<'a> {
    fn new(
        client: &'a LogClient,
        key: &'a NoteVerifier,
        checkpoint: Option<&VerifiedCheckpoint>,
        audit: &'a Audit,
    ) -> Self {
        Audited {
            url: client.base(),
            log: checkpoint.map(|c| Log::new(key.name(), c.size(), c.root())),
            tiles: audit.tiles,
            bundles: audit.bundles,
            entries: audit.edge.size(),
            dsse_checked: audit.dsse,
            index: audit.index_checked.clone(),
            clean: audit.problem_count == 0,
            problem_count: audit.problem_count,
            problems: &audit.problems,
        }
    }
}

impl fmt::Display for Audited<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(log) = &self.log {
            writeln!(
                f,
                "{} at {}: tree size {}, root {}; checked {} tiles, {} bundles, {} entries{}",
                log.origin,
                self.url,
                log.tree_size,
                log.root,
                self.tiles,
                self.bundles,
                self.entries,
                if self.dsse_checked {
                    " (all DSSE-checked)"
                } else {
                    ""
                }
            )?;
        }
        match &self.index {
            Some(i) => writeln!(
                f,
                "verifiable index at tree size {}: re-derived from the entries, root {}",
                i.tree_size, i.root
            )?,
            None => writeln!(
                f,
                "no index note served: the verifiable index was not checked"
            )?,
        }
        write_problems(f, self.problems, self.problem_count)
    }
}

/// The verifiable index as the audit re-derived it.
#[derive(Debug, Clone, Serialize)]
struct IndexChecked {
    tree_size: u64,
    /// The root the entries give (hex).
    root: String,
}

/// The state of one walk over the tree.
struct Audit {
    dsse: bool,
    /// The right edge of the entries seen so far: gives the root.
    edge: RightEdge,
    /// Per tile level `L >= 1`: the index of the next tile to compare, and the elements
    /// derived for it so far.
    pending: Vec<(u64, Vec<Hash>)>,
    tiles: u64,
    bundles: u64,
    problems: Vec<String>,
    problem_count: u64,
    /// While walking: the tree size the index note covers, and each proven key's list as the
    /// entries below it give it.
    index: Option<(u64, HashMap<Hash, Value>)>,
    index_checked: Option<IndexChecked>,
}

impl Audit {
    fn new(dsse: bool) -> Self {
        Self {
            index: None,
            index_checked: None,
            dsse,
            edge: RightEdge::empty(),
            pending: Vec::new(),
            tiles: 0,
            bundles: 0,
            problems: Vec::new(),
            problem_count: 0,
        }
    }

    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }

    /// Records a fetch failure as a problem; a transport failure stops the audit.
    fn fetched<T>(&mut self, r: Result<T, FetchError>) -> anyhow::Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_transport() => Err(e.into()),
            Err(e) => {
                self.problem(e.to_string());
                Ok(None)
            }
        }
    }

    /// Walks every bundle and tile of the tree of `size`.
    fn walk(&mut self, client: &LogClient, size: u64, parallel: usize) -> anyhow::Result<()> {
        let levels = tree_tiles(size);
        let bundles = levels
            .first()
            .map_or(0, |l| l.full + u64::from(l.partial.is_some()));
        let bar = progress::bar(bundles, "audit");
        let shared = Arc::new(client.clone());
        let mut next = 0;
        while next < bundles {
            let batch: Vec<BundleId> = (next..bundles.min(next + parallel as u64))
                .filter_map(|n| BundleId::in_tree(n, size))
                .collect();
            next += batch.len() as u64;
            let fetched = fetch_all(&shared, &batch);
            for (id, (tile, bundle)) in batch.iter().zip(fetched) {
                self.level0(*id, tile, bundle, client)?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        // The partial tiles of the levels above 0: what is left over must be exactly them.
        for level in levels.iter().skip(1) {
            let l = usize::from(level.level);
            let (index, elements) = self.pending.get(l).cloned().unwrap_or_default();
            match level.partial {
                Some(width) => {
                    let id = TileId::new(level.level, level.full, width)?;
                    if index != level.full || elements.len() != usize::from(width) {
                        self.problem(format!(
                            "tile level {l}: the entries give {} hashes after tile {index}, the \
                             tree needs {width} after tile {}",
                            elements.len(),
                            level.full
                        ));
                    } else {
                        self.compare(client, id, &elements)?;
                    }
                }
                None if !elements.is_empty() => self.problem(format!(
                    "tile level {l}: {} hashes derived past the tree",
                    elements.len()
                )),
                None => {}
            }
        }
        Ok(())
    }

    /// Checks one bundle and its level-0 tile, and feeds the levels above.
    fn level0(
        &mut self,
        id: BundleId,
        tile: Result<Tile, FetchError>,
        bundle: Result<EntryBundle, FetchError>,
        client: &LogClient,
    ) -> anyhow::Result<()> {
        let tile = self.fetched(tile)?;
        let bundle = self.fetched(bundle)?;
        self.tiles += u64::from(tile.is_some());
        self.bundles += u64::from(bundle.is_some());
        let leaves = match (&bundle, &tile) {
            (Some(bundle), tile) => {
                if self.dsse {
                    let base = id.index() * u64::from(TILE_WIDTH);
                    for (i, e) in bundle.entries().iter().enumerate() {
                        if let Err(err) = Envelope::parse(e) {
                            self.problem(format!(
                                "entry {} is not a DSSE envelope: {err}",
                                base + i as u64
                            ));
                        }
                    }
                }
                self.derive_index(id.index() * u64::from(TILE_WIDTH), bundle.entries());
                let leaves = bundle.leaf_hashes();
                match tile
                    .as_ref()
                    .map(|t| reprove_verifier::tiles::verify_bundle(t, bundle))
                {
                    Some(Err(e)) => self.problem(format!("{}: {e}", id.tile())),
                    // The bundle's entries give the tile's hashes: both may be cached.
                    Some(Ok(())) => client.keep_proven(&[id.tile().path(), id.path()]),
                    None => {}
                }
                leaves
            }
            // Without the entries, go on with the served hashes (already a problem).
            (None, Some(tile)) => tile.hashes().to_vec(),
            (None, None) => vec![[0; 32]; usize::from(id.width())],
        };
        self.edge = self.edge.append(&leaves)?.edge;
        if id.is_full() {
            self.push(client, 1, perfect_root(&leaves))?;
        }
        Ok(())
    }

    /// Adds the proven lookup keys of `entries` (the first at index `base`) that the index
    /// note covers to the re-derived lists. Opening an entry verifies its signatures: the work
    /// is spread over the cores, the lists kept in log order.
    fn derive_index(&mut self, base: u64, entries: &[Vec<u8>]) {
        let Some((size, lists)) = &mut self.index else {
            return;
        };
        let covered = usize::try_from(size.saturating_sub(base)).unwrap_or(usize::MAX);
        let entries = &entries[..entries.len().min(covered)];
        if entries.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = entries.len().div_ceil(threads).max(1);
        let keys: Vec<Vec<Hash>> = std::thread::scope(|s| {
            let parts: Vec<_> = entries
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|e| {
                                derive_index_keys(e)
                                    .iter()
                                    .filter(|k| k.is_proven())
                                    .map(|k| key_hash(&k.encoding()))
                                    .collect()
                            })
                            .collect::<Vec<Vec<Hash>>>()
                    })
                })
                .collect();
            parts
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        for (i, hashes) in keys.into_iter().enumerate() {
            for h in hashes {
                lists.entry(h).or_default().push(base + i as u64);
            }
        }
    }

    /// Compares the re-derived index with the index note, and the note's tree with the
    /// checkpoint's (the same, or one the checkpoint extends).
    fn check_index(
        &mut self,
        client: &LogClient,
        note: &IndexNote,
        checkpoint: &Checkpoint,
    ) -> anyhow::Result<()> {
        let Some((_, lists)) = self.index.take() else {
            return Ok(());
        };
        let mut leaves: Vec<(Hash, Value)> = lists.into_iter().collect();
        leaves.sort_unstable_by_key(|(k, _)| *k);
        let derived = root_of(&leaves);
        self.index_checked = Some(IndexChecked {
            tree_size: note.size,
            root: hex::encode(derived),
        });
        if derived != note.index_root {
            self.problem(format!(
                "the index note (tree size {}) signs index root {}, the entries give {}: the log \
                 signed an index that does not match its entries",
                note.size,
                hex::encode(note.index_root),
                hex::encode(derived)
            ));
        }
        if note.size > checkpoint.size() {
            self.problem(format!(
                "the index note covers tree size {}, past the checkpoint's {}",
                note.size,
                checkpoint.size()
            ));
        } else if let Err(e) = note.check_covers(checkpoint) {
            self.problem(e.to_string());
        } else if note.size < checkpoint.size() && note.size > 0 {
            let proof = client.consistency_proof_from_tiles(note.size, checkpoint.size())?;
            if let Err(e) = verify_consistency(
                note.size,
                checkpoint.size(),
                &proof,
                &note.log_root,
                checkpoint.root(),
            ) {
                self.problem(format!(
                    "the index note's log root (tree size {}) is not in the checkpoint's tree: {e}",
                    note.size
                ));
            }
        }
        Ok(())
    }

    /// Adds a derived element to tile level `level`, comparing each tile as it fills.
    fn push(&mut self, client: &LogClient, level: u8, hash: Hash) -> anyhow::Result<()> {
        let l = usize::from(level);
        if self.pending.len() <= l {
            self.pending.resize(l + 1, (0, Vec::new()));
        }
        self.pending[l].1.push(hash);
        if self.pending[l].1.len() < usize::from(TILE_WIDTH) {
            return Ok(());
        }
        let (index, elements) = std::mem::take(&mut self.pending[l]);
        self.pending[l].0 = index + 1;
        let id = TileId::new(level, index, TILE_WIDTH)?;
        self.compare(client, id, &elements)?;
        if level < reprove_verifier::tiles::MAX_TILE_LEVEL {
            self.push(client, level + 1, perfect_root(&elements))?;
        }
        Ok(())
    }

    /// Fetches tile `id` and compares it with the hashes derived from below.
    fn compare(&mut self, client: &LogClient, id: TileId, derived: &[Hash]) -> anyhow::Result<()> {
        let Some(tile) = self.fetched(client.tile(id))? else {
            return Ok(());
        };
        self.tiles += 1;
        match tile.hashes().iter().zip(derived).position(|(a, b)| a != b) {
            Some(i) => self.problem(format!(
                "{id}: element {i} differs from the hash the entries give"
            )),
            None => client.keep_proven(&[id.path()]),
        }
        Ok(())
    }
}

/// Fetches the level-0 tile and the bundle of each id, `ids.len()` requests at a time.
#[allow(clippy::type_complexity)]
fn fetch_all(
    client: &Arc<LogClient>,
    ids: &[BundleId],
) -> Vec<(Result<Tile, FetchError>, Result<EntryBundle, FetchError>)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|&id| {
                let client = client.clone();
                s.spawn(move || (client.tile(id.tile()), client.bundle(id)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let err = || FetchError::Invalid {
                        url: String::new(),
                        reason: "fetch thread panicked".into(),
                    };
                    (Err(err()), Err(err()))
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprove_verifier::merkle::leaf_hash;

    #[test]
    fn perfect_root_is_the_tree_root() {
        let leaves: Vec<Hash> = (0u32..256).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let edge = RightEdge::empty().append(&leaves).unwrap().edge;
        assert_eq!(perfect_root(&leaves), edge.root());
    }
}
