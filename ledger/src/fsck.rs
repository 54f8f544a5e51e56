//! `fsck`: the outside auditor. It trusts nothing stored but the entries and the log's
//! public key: it re-derives every hash, tile, bundle, dedup record, index record and
//! checkpoint root from the entries, and reports every disagreement with what is stored.
//! The staged releases' hosting is checked too: every set and owner record parses, and every
//! set file's blob holds the recorded bytes (`crate::sets::check_sets`).
//!
//! It opens the database read-only and makes one pass over the entries in order, appending
//! them to a tree exactly as the writer does. Each tile is compared as soon as it is full,
//! each signed checkpoint when the tree reaches its size. Stray records (tiles past the tree,
//! dedup and index records nobody needs) are found by key scans; the slow, random-read search
//! for *which* dedup or index record is stray only runs when the counts say one is.
//!
//! Run it on a stopped log: RocksDB lets a read-only instance open beside a writer, but it
//! sees the log as of its opening, and the writer's compactions may delete files under it
//! (a storage error).
//!
//! Bundles are not stored: they are encoded from the entries on every read, so checking a
//! bundle is checking that its entries exist, fit the bundle format and hash to its tile.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use reprove_verifier::merkle::{Hash, HashReader, NodeId, empty_root, leaf_hash};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::tiles::{MAX_ENTRY_SIZE, TILE_WIDTH, tree_tiles};
use reprove_verifier::vindex::{IndexError, IndexNote, Value, key_hash, root_of};

use crate::error::{CheckpointRef, Error, Integrity};
use crate::head::Head;
use crate::index::IndexKey;
use crate::keys::derive_index_keys;
use crate::storage::{Store, cf, key};
use crate::tree::TreeState;

/// What fsck checks beyond the tree.
#[derive(Debug, Clone)]
pub struct FsckOptions {
    /// Whether to re-derive every entry's index keys ([`derive_index_keys`], the submission
    /// path's own derivation) and report records missing or called for by no entry. Without
    /// it fsck checks only that index records decode and point into the tree; a log whose
    /// entries are not signed entries (the storage tests') wants that.
    pub index_keys: bool,
    /// Problems recorded in the report; more are only counted.
    pub max_problems: usize,
}

/// What fsck found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// The tree size checked: the head's, or the number of stored entries if the head is bad.
    pub size: u64,
    /// The root re-derived from the entries.
    pub root: Hash,
    /// Signed checkpoints checked (the history, head included).
    pub checkpoints: u64,
    /// Index records seen.
    pub index_records: u64,
    /// The verifiable index's root re-derived from the entries (with
    /// [`FsckOptions::index_keys`]).
    pub index_root: Hash,
    /// The log's index records were written by an earlier version ([`crate::INDEX_VERSION`]):
    /// the verifiable index is not compared (the next `ledger serve` derives it, and the
    /// records this version adds, which fsck then reports as missing).
    pub index_pending: bool,
    /// The verifiable index covers only this tree size, a round or more behind the head, and
    /// is the entries' index up to it, signed for that size's checkpoint: what a crash leaves
    /// between a round's release and the write of its index (`ledger/src/lib.rs`, durability
    /// contract). Not a problem: the writer derives the rest from the entries when the log is
    /// next opened for writing.
    pub index_behind: Option<u64>,
    /// The first [`FsckOptions::max_problems`] problems, in the order found.
    pub problems: Vec<Problem>,
    /// How many problems there were in all.
    pub problem_count: u64,
}

/// One disagreement between the stored log and what its entries imply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The head checkpoint is missing or does not verify: the tree size is taken from the
    /// entries.
    #[error("head checkpoint: {0}")]
    Head(Integrity),
    /// The head is not the latest checkpoint of the history.
    #[error("the head (size {size}) is not the latest checkpoint in the history")]
    HeadNotInHistory { size: u64 },
    /// A checkpoint in the history does not verify, or is stored under another size.
    #[error("checkpoint history record {key}: {problem}")]
    Checkpoint { key: String, problem: Integrity },
    /// A signed root that is not the root of the entries of that size.
    #[error(
        "the checkpoint for size {size} signs root {}, the entries give {}",
        hex::encode(signed),
        hex::encode(derived)
    )]
    CheckpointRoot {
        size: u64,
        signed: Hash,
        derived: Hash,
    },
    /// A signed checkpoint for a size the tree does not reach.
    #[error("a checkpoint is signed for size {size}, past the tree size {tree}")]
    CheckpointPastTree { size: u64, tree: u64 },
    /// An entry of the tree is missing.
    #[error("entry {0} is missing")]
    MissingEntry(u64),
    /// An entry stored past the tree size.
    #[error("entry {0} is stored past the tree size")]
    EntryPastHead(u64),
    /// An entry too large for an entry bundle.
    #[error("entry {index} is {len} bytes, too large for an entry bundle")]
    EntryTooLarge { index: u64, len: usize },
    /// A tile the tree needs is not stored.
    #[error("tile level {level} index {index} is missing")]
    TileMissing { level: u8, index: u64 },
    /// A stored tile that differs from the one the entries give.
    #[error("tile level {level} index {index} differs from the entries' hashes")]
    TileMismatch { level: u8, index: u64 },
    /// A tile stored past the tree.
    #[error("tile level {level} index {index} is stored past the tree")]
    TileExtra { level: u8, index: u64 },
    /// No dedup record for an entry.
    #[error("entry {index} has no dedup record")]
    DedupMissing { index: u64 },
    /// An entry's dedup record names another index.
    #[error("the dedup record of entry {index} names entry {found}")]
    DedupWrong { index: u64, found: u64 },
    /// A dedup record for no entry of the tree.
    #[error("dedup record {} -> {index} matches no entry", hex::encode(leaf))]
    DedupExtra { leaf: Hash, index: u64 },
    /// An index record the entry's keys call for is missing.
    #[error("index record {key:?} -> {index} is missing")]
    IndexMissing { key: IndexKey, index: u64 },
    /// An index record no entry calls for.
    #[error("index record {key:?} -> {index} matches no entry's keys")]
    IndexExtra { key: IndexKey, index: u64 },
    /// The verifiable index's signed note is missing or does not verify, or names another
    /// tree than the head's.
    #[error("index note: {0}")]
    IndexNote(String),
    /// The index root the log signed is not the one its entries give: the log signed a wrong
    /// index (caught like a fork).
    #[error(
        "the index note signs index root {}, the entries give {}",
        hex::encode(signed),
        hex::encode(derived)
    )]
    IndexRoot { signed: Hash, derived: Hash },
    /// The stored index tree's root is not the one the entries give.
    #[error(
        "the stored verifiable index has root {}, the entries give {}",
        hex::encode(stored),
        hex::encode(derived)
    )]
    IndexTree { stored: Hash, derived: Hash },
    /// A stored record of the verifiable index that does not decode.
    #[error("the stored verifiable index has a record that does not decode ({0})")]
    IndexUndecodable(String),
    /// An index record pointing past the tree.
    #[error("index record {key:?} -> {index} points past the tree")]
    IndexPastHead { key: IndexKey, index: u64 },
    /// A record that does not decode.
    #[error("undecodable record in column family {cf}: key {}", hex::encode(key))]
    Undecodable { cf: &'static str, key: Vec<u8> },
    /// A staged release's record (its set, its owner) or a file of its set that is not what
    /// the record says.
    #[error("{record} {problem}")]
    Set { record: String, problem: String },
}

impl FsckReport {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }
}

impl Default for FsckOptions {
    fn default() -> Self {
        Self {
            index_keys: true,
            max_problems: 10_000,
        }
    }
}

/// Checks the log in `dir` against its public `key`. Fails only when the directory is not a
/// readable log; every inconsistency is a [`Problem`] in the report.
pub fn fsck(dir: &Path, key: &NoteVerifier, options: &FsckOptions) -> Result<FsckReport, Error> {
    let store = Store::open(dir, true)?;
    let mut c = Checker::new(&store, key, options);
    c.check_checkpoints()?;
    c.check_entries()?;
    c.check_stray_tiles()?;
    c.check_stray_dedup()?;
    c.check_index_records()?;
    c.check_vindex()?;
    for (record, problem) in crate::sets::check_sets(&store, dir)? {
        c.problem(Problem::Set { record, problem });
    }
    Ok(c.report)
}

struct Checker<'a> {
    store: &'a Store,
    key: &'a NoteVerifier,
    options: &'a FsckOptions,
    report: FsckReport,
    /// Valid signed checkpoints `(size, root)`, ascending.
    history: Vec<(u64, Hash)>,
    /// Entries whose dedup record names them.
    dedup_ok: u64,
    /// Leaf hashes whose record names another entry (reported once, as `DedupWrong`).
    dedup_wrong: BTreeSet<Hash>,
    /// Index records the entries call for that exist.
    index_found: u64,
    /// Every proven key's list, re-derived from the entries (hash → value).
    proven: HashMap<Hash, Value>,
    /// The stored index note, read and verified once (with [`FsckOptions::index_keys`]).
    note: Option<Result<IndexNote, IndexError>>,
    /// When the note is behind the head: the index root the entries give at its size, taken as
    /// the pass over the entries reaches it.
    root_at_note: Option<Hash>,
}

impl<'a> Checker<'a> {
    fn new(store: &'a Store, key: &'a NoteVerifier, options: &'a FsckOptions) -> Self {
        let report = FsckReport {
            size: 0,
            root: empty_root(),
            checkpoints: 0,
            index_records: 0,
            index_root: reprove_verifier::vindex::EMPTY,
            index_pending: false,
            index_behind: None,
            problems: Vec::new(),
            problem_count: 0,
        };
        Self {
            store,
            key,
            options,
            report,
            history: Vec::new(),
            dedup_ok: 0,
            dedup_wrong: BTreeSet::new(),
            index_found: 0,
            proven: HashMap::new(),
            note: None,
            root_at_note: None,
        }
    }

    /// The tree size the stored note covers, if it verifies and is behind the head.
    fn note_size(&self) -> Option<u64> {
        let note = self.note.as_ref()?.as_ref().ok()?;
        (note.size < self.report.size).then_some(note.size)
    }

    /// The root of the index of the proven keys' lists so far.
    fn proven_root(&self) -> Hash {
        let mut leaves: Vec<(Hash, Value)> = self.proven.iter().map(|(k, v)| (*k, *v)).collect();
        leaves.sort_unstable_by_key(|(k, _)| *k);
        root_of(&leaves)
    }

    fn problem(&mut self, p: Problem) {
        self.report.problem_count += 1;
        if self.report.problems.len() < self.options.max_problems {
            self.report.problems.push(p);
        }
    }

    /// Verifies the head and the history; sets the tree size to check.
    fn check_checkpoints(&mut self) -> Result<(), Error> {
        let head = match self.store.head()? {
            None => Err(Integrity::MissingHead),
            Some(bytes) => match Head::verify(self.key, &bytes, CheckpointRef::Head) {
                Ok(head) => Ok(head),
                Err(Error::Integrity(i)) => Err(i),
                Err(e) => return Err(e),
            },
        };
        for item in self.store.scan(cf::CHECKPOINTS, &[])? {
            let (k, v) = item?;
            self.report.checkpoints += 1;
            let Some(size) = key::parse_u64(&k) else {
                self.problem(Problem::Undecodable {
                    cf: cf::CHECKPOINTS,
                    key: k.into_vec(),
                });
                continue;
            };
            match Head::verify(self.key, &v, CheckpointRef::Size(size)) {
                Ok(h) if h.size() == size => self.history.push((size, h.root())),
                Ok(_) => {
                    let problem = Integrity::CheckpointMalformed {
                        what: CheckpointRef::Size(size),
                        reason: "stored under another size",
                    };
                    self.problem(Problem::Checkpoint {
                        key: size.to_string(),
                        problem,
                    });
                }
                Err(Error::Integrity(problem)) => {
                    self.problem(Problem::Checkpoint {
                        key: size.to_string(),
                        problem,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        self.report.size = match head {
            Ok(head) => {
                if self.history.last().map(|&(s, _)| s) != Some(head.size()) {
                    self.problem(Problem::HeadNotInHistory { size: head.size() });
                }
                head.size()
            }
            Err(i) => {
                self.problem(Problem::Head(i));
                self.store
                    .last_entry_index()?
                    .map_or(0, |i| i.saturating_add(1))
            }
        };
        Ok(())
    }

    /// The pass over the entries: leaf hashes, dedup, index records, tiles, roots.
    fn check_entries(&mut self) -> Result<(), Error> {
        let size = self.report.size;
        // A note behind the head (checked in `check_vindex`): the pass takes the index root
        // at its size on the way.
        if self.options.index_keys {
            let note = self.store.index_note()?;
            self.note = note.map(|bytes| IndexNote::verify(&bytes, self.key));
        }
        let mut feed = Feed {
            state: TreeState::empty(),
            partial_tiles: HashMap::new(),
            chunk: Vec::new(),
            next_checkpoint: 0,
        };
        self.check_roots(&mut feed);
        let mut next = 0u64;
        for item in self.store.scan(cf::ENTRIES, &key::entry(0))? {
            let (k, v) = item?;
            let Some(index) = key::parse_u64(&k) else {
                self.problem(Problem::Undecodable {
                    cf: cf::ENTRIES,
                    key: k.into_vec(),
                });
                continue;
            };
            if index >= size {
                self.problem(Problem::EntryPastHead(index));
                continue;
            }
            while next < index {
                self.problem(Problem::MissingEntry(next));
                self.push(&mut feed, next, None)?;
                next += 1;
            }
            self.push(&mut feed, index, Some(v.into_vec()))?;
            next = index + 1;
        }
        while next < size {
            self.problem(Problem::MissingEntry(next));
            self.push(&mut feed, next, None)?;
            next += 1;
        }
        // What is left are the rightmost partial tiles.
        let mut rest: Vec<_> = feed.partial_tiles.drain().collect();
        rest.sort();
        for ((level, index), bytes) in rest {
            self.compare_tile(level, index, &bytes)?;
        }
        self.report.root = feed.state.root();
        let past: Vec<u64> = self.history[feed.next_checkpoint..]
            .iter()
            .map(|h| h.0)
            .collect();
        for s in past {
            self.problem(Problem::CheckpointPastTree {
                size: s,
                tree: size,
            });
        }
        Ok(())
    }

    /// Adds one entry (or a stand-in for a missing one) and processes the chunk at each tile
    /// boundary, checkpoint size and the end of the tree.
    fn push(&mut self, feed: &mut Feed, index: u64, entry: Option<Vec<u8>>) -> Result<(), Error> {
        feed.chunk.push((index, entry));
        let end = index + 1;
        let at_checkpoint = self
            .history
            .get(feed.next_checkpoint)
            .is_some_and(|&(s, _)| s == end);
        if end.is_multiple_of(u64::from(TILE_WIDTH)) || at_checkpoint || end == self.report.size {
            self.process(feed)?;
        }
        Ok(())
    }

    fn process(&mut self, feed: &mut Feed) -> Result<(), Error> {
        let chunk = std::mem::take(&mut feed.chunk);
        let mut leaves = Vec::with_capacity(chunk.len());
        let mut present = Vec::with_capacity(chunk.len());
        for (index, entry) in &chunk {
            match entry {
                Some(e) => {
                    if e.len() > MAX_ENTRY_SIZE {
                        self.problem(Problem::EntryTooLarge {
                            index: *index,
                            len: e.len(),
                        });
                    }
                    let leaf = leaf_hash(e);
                    leaves.push(leaf);
                    present.push((*index, leaf, &e[..]));
                }
                // Stand in the stored leaf hash, so the rest of the tree can still be checked.
                None => leaves.push(
                    self.store
                        .read_hashes(&[NodeId::leaf(*index)])
                        .ok()
                        .and_then(|h| h.first().copied())
                        .unwrap_or([0; 32]),
                ),
            }
        }
        self.check_dedup(&present)?;
        self.check_expected_index(&present)?;
        let integrated = feed.state.integrate(&leaves)?;
        feed.state = integrated.state;
        for (level, index, bytes) in integrated.tiles {
            if bytes.len() == usize::from(TILE_WIDTH) * 32 {
                feed.partial_tiles.remove(&(level, index));
                self.compare_tile(level, index, &bytes)?;
            } else {
                feed.partial_tiles.insert((level, index), bytes);
            }
        }
        self.check_roots(feed);
        Ok(())
    }

    /// Compares the roots of the checkpoints signed for the current size.
    fn check_roots(&mut self, feed: &mut Feed) {
        let size = feed.state.size();
        while let Some(&(s, signed)) = self.history.get(feed.next_checkpoint) {
            if s != size {
                break;
            }
            let derived = feed.state.root();
            if derived != signed {
                self.problem(Problem::CheckpointRoot {
                    size,
                    signed,
                    derived,
                });
            }
            feed.next_checkpoint += 1;
        }
    }

    fn check_dedup(&mut self, present: &[(u64, Hash, &[u8])]) -> Result<(), Error> {
        let leaves: Vec<Hash> = present.iter().map(|p| p.1).collect();
        for (&(index, leaf, _), found) in present.iter().zip(self.store.dedup(&leaves)?) {
            match found {
                Some(f) if f == index => self.dedup_ok += 1,
                Some(found) => {
                    self.dedup_wrong.insert(leaf);
                    self.problem(Problem::DedupWrong { index, found });
                }
                None => self.problem(Problem::DedupMissing { index }),
            }
        }
        Ok(())
    }

    fn check_expected_index(&mut self, present: &[(u64, Hash, &[u8])]) -> Result<(), Error> {
        if !self.options.index_keys {
            return Ok(());
        }
        // Deriving verifies each entry's signature, by far fsck's largest cost: spread the
        // chunk over the cores, keeping entry order.
        let derive_part = |part: &[(u64, Hash, &[u8])]| -> Vec<(IndexKey, u64)> {
            let mut wanted = Vec::new();
            for &(index, _, entry) in part {
                let keys: BTreeSet<IndexKey> = derive_index_keys(entry)
                    .into_iter()
                    .filter(|k| k.check().is_ok())
                    .collect();
                wanted.extend(keys.into_iter().map(|k| (k, index)));
            }
            wanted
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = present.len().div_ceil(threads).max(64);
        let wanted: Vec<(IndexKey, u64)> = if present.len() <= per_thread {
            derive_part(present)
        } else {
            std::thread::scope(|s| {
                let parts: Vec<_> = present
                    .chunks(per_thread)
                    .map(|part| s.spawn(move || derive_part(part)))
                    .collect();
                parts
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        // `wanted` is in entry order: each proven key's list grows in log order.
        let note_size = self.note_size();
        for (key, index) in &wanted {
            if key.is_proven() {
                if self.root_at_note.is_none() && note_size.is_some_and(|n| *index >= n) {
                    self.root_at_note = Some(self.proven_root());
                }
                self.proven
                    .entry(key_hash(&key.encoding()))
                    .or_default()
                    .push(*index);
            }
        }
        let records: Vec<Vec<u8>> = wanted.iter().map(|(k, i)| k.record(*i)).collect();
        for ((key, index), found) in wanted
            .into_iter()
            .zip(self.store.contains(cf::INDEX, &records)?)
        {
            if found {
                self.index_found += 1;
            } else {
                self.problem(Problem::IndexMissing { key, index });
            }
        }
        Ok(())
    }

    /// The verifiable index: the root re-derived from the entries' proven keys must be the
    /// stored tree's root and the one the index note signs, and the note must cover the head.
    fn check_vindex(&mut self) -> Result<(), Error> {
        if !self.options.index_keys {
            return Ok(());
        }
        let derived = self.proven_root();
        self.report.index_root = derived;
        // No proven key after the note's size: the index at that size is the whole one.
        let note_size = self.note_size();
        if note_size.is_some() && self.root_at_note.is_none() {
            self.root_at_note = Some(derived);
        }
        // A log whose records an earlier version wrote has no index to compare yet: the next
        // `ledger serve` derives it (and the records this version adds) before serving.
        if self.store.index_version()? < crate::keys::INDEX_VERSION {
            self.report.index_pending = true;
            return Ok(());
        }
        let note = self.note.take();
        // Behind the head, but signed for a checkpoint of this log and exactly the entries'
        // index at its size, which is what the store holds: a crash before the round's index
        // was written.
        let behind = match &note {
            Some(Ok(n)) => {
                let at = self.history.binary_search_by_key(&n.size, |(s, _)| *s);
                let log_root = at.ok().map(|i| self.history[i].1);
                let ok = note_size == Some(n.size)
                    && log_root == Some(n.log_root)
                    && self.root_at_note == Some(n.index_root);
                ok.then_some(n.index_root)
            }
            _ => None,
        };
        let want = behind.unwrap_or(derived);
        match crate::vindex::stored_root(&mut self.store.leaves()?) {
            Ok(stored) if stored != want => {
                self.problem(Problem::IndexTree {
                    stored,
                    derived: want,
                });
            }
            Ok(_) => {
                if behind.is_some() {
                    self.report.index_behind = note_size;
                    return Ok(());
                }
            }
            Err(e @ Error::Integrity(_)) => self.problem(Problem::IndexUndecodable(e.to_string())),
            Err(e) => return Err(e),
        }
        let Some(note) = note else {
            self.problem(Problem::IndexNote("missing".into()));
            return Ok(());
        };
        match note {
            Err(e) => self.problem(Problem::IndexNote(e.to_string())),
            Ok(note) => {
                if note.size != self.report.size || note.log_root != self.report.root {
                    self.problem(Problem::IndexNote(format!(
                        "it covers tree size {}, the head is {} (or its log root differs)",
                        note.size, self.report.size
                    )));
                }
                if note.index_root != derived {
                    self.problem(Problem::IndexRoot {
                        signed: note.index_root,
                        derived,
                    });
                }
            }
        }
        Ok(())
    }

    fn compare_tile(&mut self, level: u8, index: u64, want: &[u8]) -> Result<(), Error> {
        match self.store.tile(level, index)? {
            None => self.problem(Problem::TileMissing { level, index }),
            Some(got) if got != want => self.problem(Problem::TileMismatch { level, index }),
            Some(_) => {}
        }
        Ok(())
    }

    /// Tiles stored at positions the tree does not have.
    fn check_stray_tiles(&mut self) -> Result<(), Error> {
        let levels = tree_tiles(self.report.size);
        for item in self.store.scan(cf::TILES, &[])? {
            let (k, _) = item?;
            let Some((level, index)) = key::parse_tile(&k) else {
                self.problem(Problem::Undecodable {
                    cf: cf::TILES,
                    key: k.into_vec(),
                });
                continue;
            };
            let count = levels
                .get(usize::from(level))
                .map_or(0, |lt| lt.full + u64::from(lt.partial.is_some()));
            if index >= count {
                self.problem(Problem::TileExtra { level, index });
            }
        }
        Ok(())
    }

    /// Dedup records beyond one per entry: found by count, then by a scan.
    fn check_stray_dedup(&mut self) -> Result<(), Error> {
        let mut count = 0u64;
        for item in self.store.scan(cf::DEDUP, &[])? {
            item?;
            count += 1;
        }
        if count == self.dedup_ok {
            return Ok(());
        }
        for item in self.store.scan(cf::DEDUP, &[])? {
            let (k, v) = item?;
            let (Ok(leaf), Some(index)) = (<Hash>::try_from(&k[..]), key::parse_u64(&v)) else {
                self.problem(Problem::Undecodable {
                    cf: cf::DEDUP,
                    key: k.into_vec(),
                });
                continue;
            };
            if !self.dedup_wrong.contains(&leaf) && !self.entry_hashes_to(index, &leaf)? {
                self.problem(Problem::DedupExtra { leaf, index });
            }
        }
        Ok(())
    }

    /// Every index record decodes and points into the tree; with `index_keys`, records no
    /// entry calls for are found by count, then by a scan.
    fn check_index_records(&mut self) -> Result<(), Error> {
        let size = self.report.size;
        let mut valid = 0u64;
        for item in self.store.scan(cf::INDEX, &[])? {
            let (k, _) = item?;
            self.report.index_records += 1;
            match IndexKey::parse_record(&k) {
                Err(_) => self.problem(Problem::Undecodable {
                    cf: cf::INDEX,
                    key: k.into_vec(),
                }),
                Ok((key, index)) if index >= size => {
                    self.problem(Problem::IndexPastHead { key, index })
                }
                Ok(_) => valid += 1,
            }
        }
        if !self.options.index_keys {
            return Ok(());
        }
        // Every record found by the pass is valid, so the difference is the stray ones.
        if valid == self.index_found {
            return Ok(());
        }
        for item in self.store.scan(cf::INDEX, &[])? {
            let (k, _) = item?;
            let Ok((key, index)) = IndexKey::parse_record(&k) else {
                continue;
            };
            if index >= size {
                continue;
            }
            let wanted = self
                .store
                .entry(index)?
                .is_some_and(|e| derive_index_keys(&e).contains(&key));
            if !wanted {
                self.problem(Problem::IndexExtra { key, index });
            }
        }
        Ok(())
    }

    fn entry_hashes_to(&self, index: u64, leaf: &Hash) -> Result<bool, Error> {
        if index >= self.report.size {
            return Ok(false);
        }
        Ok(self
            .store
            .entry(index)?
            .is_some_and(|e| leaf_hash(&e) == *leaf))
    }
}

/// The state of the pass over the entries.
struct Feed {
    state: TreeState,
    /// Partial tiles emitted so far, by position: compared once final.
    partial_tiles: HashMap<(u8, u64), Vec<u8>>,
    /// Entries since the last processed boundary; `None` for a missing entry.
    chunk: Vec<(u64, Option<Vec<u8>>)>,
    /// The position in the history of the next checkpoint to compare.
    next_checkpoint: usize,
}
