//! Durable storage: one RocksDB database in the log's data directory.
//!
//! # Layout
//!
//! | column family | key | value |
//! | --- | --- | --- |
//! | `meta` | `format` | [`FORMAT`] |
//! | `meta` | `head` | the latest signed checkpoint (note bytes) |
//! | `checkpoints` | tree size, u64 BE | the checkpoint signed for that size (note bytes) |
//! | `entries` | leaf index, u64 BE | entry bytes |
//! | `tiles` | tile level (u8) `\|\|` tile index (u64 BE) | the tile's hashes, 32 bytes each |
//! | `dedup` | leaf hash (32 bytes) | leaf index, u64 BE |
//! | `index` | [`IndexKey`](crate::IndexKey) record `\|\|` leaf index (u64 BE) | empty |
//! | `vindex` | the verifiable index's leaves and signed note (see `vindex.rs`) | |
//!
//! Hashes are stored as **tiles**, exactly as tlog-tiles serves them: only tree levels that
//! are multiples of 8, 256 hashes per full tile, and the rightmost tile of each level rewritten
//! (wider) by every round until it is full. That is ~32.1 bytes of hashes per entry and one key
//! per 256 entries, a tile read is one `get`, and the partial tiles of older tree sizes are
//! prefixes of the stored ones (hashes never change). The price is that a node between tile
//! levels is recomputed from up to 128 tile elements when a proof needs it; the sequencer
//! avoids that for fresh entries by answering their proofs from the round's own nodes (see
//! `tree.rs`), so only reads of old entries pay it.
//!
//! There is no separate record of the tree size or the right edge: the head checkpoint is the
//! one statement of both, and opening the log re-derives the edge from the tiles and compares
//! its root with the signed one, which a stored edge could only duplicate.
//!
//! Big-endian integer keys keep RocksDB's byte order equal to log order, so bundles, index
//! pages and the checkpoint history are range scans, and appends only ever add keys at the end
//! of `entries` (cheap to compact).
//!
//! # Durability contract
//!
//! `Store::commit` writes one round — entries, tiles, dedup records, index records, the
//! checkpoint history record and the new head — as one RocksDB `WriteBatch` with `sync = true`:
//! **when `commit` returns `Ok`, the whole round is durable (fsynced to the write-ahead log),
//! and after a crash either all of it or none of it is there.** When it returns `Err`, the
//! outcome on disk is unknown; the caller must not assume either (the writer halts).
//!
//! `Store::commit_unsynced` writes a round's verifiable index (its leaves and note) the same
//! way but without waiting for the disk, before the next round's batch: the next synced write
//! makes it durable (the write-ahead log is written in order), and a crash loses it whole or
//! not at all.
//!
//! `commit` is a compare-and-swap on the stored head: it writes only if the stored head is
//! still the checkpoint the round extended. With one process per database (RocksDB's lock
//! file) and one writer per process, this can only fail on a bug; it is checked anyway because
//! a second writer would sign an inconsistent checkpoint.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use reprove_verifier::merkle::{Hash, HashReader, NodeId, node_hash};
use reprove_verifier::tiles::{Tile, TileId, locate_node};
use reprove_verifier::vindex::Value;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType,
    Direction as DbDirection, IteratorMode, Options, WriteBatch, WriteOptions,
};

use crate::error::{Error, Integrity};
use crate::head::Head;
use crate::index::{Direction, MAX_PAGE, Page, PageRequest};
use crate::vindex::{LeafSource, decode_leaf, first_under, leaf_key, under};

/// The format marker written by `init` and required by `open`.
pub const FORMAT: &str = "reprove-ledger/1";

/// A stored key and its value.
pub(crate) type KeyValue = (Vec<u8>, Vec<u8>);

/// Column family names.
pub mod cf {
    /// Format marker and head checkpoint.
    pub const META: &str = "meta";
    /// Every signed checkpoint, by tree size.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// Entries by leaf index.
    pub const ENTRIES: &str = "entries";
    /// Hash tiles by level and index.
    pub const TILES: &str = "tiles";
    /// Leaf hash to leaf index.
    pub const DEDUP: &str = "dedup";
    /// Lookup index records.
    pub const INDEX: &str = crate::index::CF;
    /// The verifiable index: its tree nodes and latest signed index note.
    pub const VINDEX: &str = crate::vindex::CF;
    /// Staged releases: artifact sets and project owners (`sets.rs`), not part of the log.
    pub const SETS: &str = "sets";
    /// All of them, in creation order.
    pub const ALL: [&str; 8] = [
        META,
        CHECKPOINTS,
        ENTRIES,
        TILES,
        DEDUP,
        INDEX,
        VINDEX,
        SETS,
    ];
    /// The ones every log has: a log written before the verifiable index lacks `vindex`, which
    /// opening it for writing creates (and [`Writer::reindex`](crate::Writer::reindex) fills);
    /// one written before staged releases lacks `sets`, likewise created empty.
    pub const REQUIRED: [&str; 6] = [META, CHECKPOINTS, ENTRIES, TILES, DEDUP, INDEX];
}

/// Key encodings (see the module docs).
pub mod key {
    /// `meta`: the format marker.
    pub const FORMAT: &[u8] = b"format";
    /// `meta`: the latest signed checkpoint.
    pub const HEAD: &[u8] = b"head";
    /// `meta`: which derivation of index records the stored ones follow (`u64` BE; absent: 1).
    pub const INDEX_VERSION: &[u8] = b"index-version";

    /// `entries`: the entry at leaf `index`.
    pub fn entry(index: u64) -> [u8; 8] {
        index.to_be_bytes()
    }

    /// `checkpoints`: the checkpoint for tree `size`.
    pub fn checkpoint(size: u64) -> [u8; 8] {
        size.to_be_bytes()
    }

    /// `tiles`: the tile at `level`, `index`.
    pub fn tile(level: u8, index: u64) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = level;
        k[1..].copy_from_slice(&index.to_be_bytes());
        k
    }

    /// Decodes a big-endian `u64` key or value.
    pub fn parse_u64(bytes: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    /// Decodes a `tiles` key.
    pub fn parse_tile(bytes: &[u8]) -> Option<(u8, u64)> {
        let (&level, index) = bytes.split_first()?;
        Some((level, parse_u64(index)?))
    }
}

/// The RocksDB database of one log.
pub(crate) struct Store {
    db: DB,
    path: PathBuf,
    commit_lock: Mutex<()>,
    tile_cache: Mutex<HashMap<(u8, u64), Subtree>>,
}

/// A raw stored record: key and value.
pub(crate) type Record = (Box<[u8]>, Box<[u8]>);

/// One round's writes, applied by [`Store::commit`] all together or not at all.
pub(crate) struct Batch<'a> {
    cfs: Cfs<'a>,
    batch: WriteBatch,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("records", &self.batch.len())
            .finish()
    }
}

/// Handles to every column family, fetched once per batch or read.
#[derive(Clone, Copy)]
struct Cfs<'a> {
    meta: &'a ColumnFamily,
    checkpoints: &'a ColumnFamily,
    entries: &'a ColumnFamily,
    tiles: &'a ColumnFamily,
    dedup: &'a ColumnFamily,
    index: &'a ColumnFamily,
    /// Absent only in a read-only view of a log written before the verifiable index.
    vindex: Option<&'a ColumnFamily>,
}

impl Store {
    /// Creates a new, empty database with every column family at `path`. The caller has
    /// checked that `path` holds nothing.
    pub(crate) fn create(path: &Path) -> Result<Store, Error> {
        let mut opts = db_options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_error_if_exists(true);
        let db = DB::open_cf_descriptors(&opts, path, descriptors()?)?;
        Self::wrap(db, path)
    }

    /// Opens the database of an initialized log, for writing or read-only. Refuses a
    /// directory without a database, a database without every column family, and a database
    /// without the format marker.
    pub(crate) fn open(path: &Path, read_only: bool) -> Result<Store, Error> {
        let not_init = |reason| Error::NotInitialized {
            path: path.to_owned(),
            reason,
        };
        if !path.join("CURRENT").is_file() {
            return Err(not_init("no database"));
        }
        let mut opts = db_options();
        let existing = DB::list_cf(&opts, path)?;
        if cf::REQUIRED
            .iter()
            .any(|name| !existing.iter().any(|e| e == name))
        {
            return Err(not_init("missing column families"));
        }
        // A log written before the verifiable index: opening it for writing adds the column
        // family (empty: the index is derived when the log is next served); a read-only view
        // sees no index.
        opts.create_missing_column_families(true);
        let db = if read_only {
            let wanted = descriptors()?
                .into_iter()
                .filter(|d| existing.iter().any(|e| e == d.name()))
                .collect::<Vec<_>>();
            DB::open_cf_descriptors_read_only(&opts, path, wanted, false)?
        } else {
            DB::open_cf_descriptors(&opts, path, descriptors()?)?
        };
        let store = Self::wrap(db, path)?;
        match store.get(store.cfs()?.meta, key::FORMAT)? {
            None => Err(not_init("no format marker")),
            Some(f) if f == FORMAT.as_bytes() => Ok(store),
            Some(f) => Err(Integrity::UnknownFormat(String::from_utf8_lossy(&f).into()).into()),
        }
    }

    fn wrap(db: DB, path: &Path) -> Result<Store, Error> {
        let store = Store {
            db,
            path: path.to_owned(),
            commit_lock: Mutex::new(()),
            tile_cache: Mutex::new(HashMap::new()),
        };
        store.cfs()?;
        Ok(store)
    }

    /// The value of `key` in the `sets` column family (`None` also for a read-only view of a
    /// log written before staged releases).
    pub(crate) fn set_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self.db.cf_handle(cf::SETS) {
            Some(h) => self.get(h, key),
            None => Ok(None),
        }
    }

    /// Writes `key` = `value` in the `sets` column family, durably (the WAL is synced).
    pub(crate) fn set_put(&self, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let h = self.cf(cf::SETS)?;
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.put_cf_opt(h, key, value, &opts)?)
    }

    /// Every `(key, value)` of the `sets` column family whose key starts with `prefix`.
    pub(crate) fn set_scan(&self, prefix: &[u8]) -> Result<Vec<KeyValue>, Error> {
        let Some(h) = self.db.cf_handle(cf::SETS) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mode = IteratorMode::From(prefix, rocksdb::Direction::Forward);
        for item in self.db.iterator_cf(h, mode) {
            let (k, v) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    /// The data directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The latest signed checkpoint, as stored.
    pub(crate) fn head(&self) -> Result<Option<Vec<u8>>, Error> {
        self.get(self.cfs()?.meta, key::HEAD)
    }

    /// Which derivation of index records the stored ones follow (1 when never recorded).
    pub(crate) fn index_version(&self) -> Result<u64, Error> {
        Ok(self
            .get(self.cfs()?.meta, key::INDEX_VERSION)?
            .and_then(|v| key::parse_u64(&v))
            .unwrap_or(1))
    }

    /// The checkpoint signed for tree `size`, if one was.
    pub(crate) fn checkpoint(&self, size: u64) -> Result<Option<Vec<u8>>, Error> {
        self.get(self.cfs()?.checkpoints, &key::checkpoint(size))
    }

    /// The largest tree size in the checkpoint history.
    pub(crate) fn last_checkpoint_size(&self) -> Result<Option<u64>, Error> {
        self.last_u64_key(self.cfs()?.checkpoints, cf::CHECKPOINTS)
    }

    /// The entry at `index`, if stored.
    pub(crate) fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, Error> {
        self.get(self.cfs()?.entries, &key::entry(index))
    }

    /// `count` consecutive entries from `start`; a gap is an integrity error.
    pub(crate) fn entries(&self, start: u64, count: usize) -> Result<Vec<Vec<u8>>, Error> {
        let cfs = self.cfs()?;
        let from = key::entry(start);
        let iter = self
            .db
            .iterator_cf(cfs.entries, IteratorMode::From(&from, DbDirection::Forward));
        let mut out = Vec::with_capacity(count);
        for (want, item) in (start..).zip(iter.take(count)) {
            let (k, v) = item?;
            if key::parse_u64(&k) != Some(want) {
                return Err(Integrity::MissingEntry(want).into());
            }
            out.push(v.into_vec());
        }
        if out.len() < count {
            return Err(Integrity::MissingEntry(start + out.len() as u64).into());
        }
        Ok(out)
    }

    /// The largest stored leaf index.
    pub(crate) fn last_entry_index(&self) -> Result<Option<u64>, Error> {
        self.last_u64_key(self.cfs()?.entries, cf::ENTRIES)
    }

    /// The stored bytes of tile `level`, `index` (its widest version).
    pub(crate) fn tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, Error> {
        self.get(self.cfs()?.tiles, &key::tile(level, index))
    }

    /// The last stored tile key at `level`, if any.
    pub(crate) fn last_tile_index(&self, level: u8) -> Result<Option<u64>, Error> {
        let cfs = self.cfs()?;
        let upper = key::tile(level, u64::MAX);
        let mut iter = self
            .db
            .iterator_cf(cfs.tiles, IteratorMode::From(&upper, DbDirection::Reverse));
        match iter.next().transpose()? {
            None => Ok(None),
            Some((k, _)) => match key::parse_tile(&k) {
                Some((l, i)) if l == level => Ok(Some(i)),
                Some(_) => Ok(None),
                None => Err(Integrity::Undecodable(cf::TILES).into()),
            },
        }
    }

    /// The leaf index of each leaf hash, if it is in the log.
    pub(crate) fn dedup(&self, hashes: &[Hash]) -> Result<Vec<Option<u64>>, Error> {
        let cfs = self.cfs()?;
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let values = self
            .db
            .batched_multi_get_cf(cfs.dedup, hashes.iter(), false);
        values
            .into_iter()
            .map(|v| match v? {
                None => Ok(None),
                Some(v) => key::parse_u64(&v)
                    .map(Some)
                    .ok_or(Error::Integrity(Integrity::Undecodable(cf::DEDUP))),
            })
            .collect()
    }

    /// One page of the index records under `prefix`.
    pub(crate) fn scan_index(&self, prefix: &[u8], page: PageRequest) -> Result<Page, Error> {
        let cfs = self.cfs()?;
        let limit = page.limit.clamp(1, MAX_PAGE);
        let (start, direction) = match (page.direction, page.cursor) {
            (Direction::Forward, None) => (0, DbDirection::Forward),
            (Direction::Forward, Some(c)) => match c.checked_add(1) {
                Some(s) => (s, DbDirection::Forward),
                None => {
                    return Ok(Page {
                        indices: Vec::new(),
                        next: None,
                    });
                }
            },
            (Direction::Backward, None) => (u64::MAX, DbDirection::Reverse),
            (Direction::Backward, Some(c)) => match c.checked_sub(1) {
                Some(s) => (s, DbDirection::Reverse),
                None => {
                    return Ok(Page {
                        indices: Vec::new(),
                        next: None,
                    });
                }
            },
        };
        let mut from = prefix.to_vec();
        from.extend_from_slice(&start.to_be_bytes());
        let mut indices = Vec::with_capacity(limit + 1);
        for item in self
            .db
            .iterator_cf(cfs.index, IteratorMode::From(&from, direction))
        {
            let (k, _) = item?;
            let Some(rest) = k.strip_prefix(prefix) else {
                break;
            };
            let index =
                key::parse_u64(rest).ok_or(Error::Integrity(Integrity::Undecodable(cf::INDEX)))?;
            indices.push(index);
            if indices.len() > limit {
                break;
            }
        }
        let next = (indices.len() > limit).then(|| indices[limit - 1]);
        indices.truncate(limit);
        Ok(Page { indices, next })
    }

    /// The latest signed index note, if the log has one.
    pub(crate) fn index_note(&self) -> Result<Option<Vec<u8>>, Error> {
        match self.cfs()?.vindex {
            Some(cf) => self.get(cf, crate::vindex::NOTE_KEY),
            None => Ok(None),
        }
    }

    /// A consistent view of the verifiable index and the lookup records: everything read
    /// through it is of one committed round.
    pub(crate) fn snapshot(&self) -> Result<Snapshot<'_>, Error> {
        Ok(Snapshot {
            snap: self.db.snapshot(),
            cfs: self.cfs()?,
        })
    }

    /// A new, empty batch.
    pub(crate) fn batch(&self) -> Result<Batch<'_>, Error> {
        Ok(Batch {
            cfs: self.cfs()?,
            batch: WriteBatch::default(),
        })
    }

    /// Writes `batch` atomically and durably, if the stored head is still `expected_head`
    /// (`None`: no head yet, for `init`). See the module docs for the contract.
    pub(crate) fn commit(
        &self,
        batch: Batch<'_>,
        expected_head: Option<&[u8]>,
        expected_size: u64,
    ) -> Result<(), Error> {
        let _serial = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.db.get_pinned_cf(batch.cfs.meta, key::HEAD)?;
        if current.as_deref() != expected_head {
            return Err(Error::HeadMoved {
                expected: expected_size,
            });
        }
        drop(current);
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        // A round's records are mostly runs of neighbouring keys (entries, tiles, the index
        // tree's nodes in key order): let each memtable insert start where the last one ended.
        opts.set_memtable_insert_hint_per_batch(true);
        self.db.write_opt(batch.batch, &opts)?;
        Ok(())
    }

    /// Writes `batch` atomically but without waiting for the disk, if the stored head is
    /// `head`: a round's verifiable index, which the next synced write makes durable and a
    /// crash can only lose whole (then the writer derives it again from the durable entries).
    pub(crate) fn commit_unsynced(&self, batch: Batch<'_>, head: &Head) -> Result<(), Error> {
        let _serial = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.db.get_pinned_cf(batch.cfs.meta, key::HEAD)?;
        if current.as_deref() != Some(head.note()) {
            return Err(Error::HeadMoved {
                expected: head.size(),
            });
        }
        drop(current);
        let mut opts = WriteOptions::default();
        opts.set_memtable_insert_hint_per_batch(true);
        self.db.write_opt(batch.batch, &opts)?;
        Ok(())
    }

    /// Every record of column family `name` from key `from` on, in key order (for fsck).
    pub(crate) fn scan(
        &self,
        name: &'static str,
        from: &[u8],
    ) -> Result<impl Iterator<Item = Result<Record, Error>> + '_, Error> {
        let cf = self.cf(name)?;
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(from, DbDirection::Forward));
        Ok(iter.map(|r| r.map_err(Error::from)))
    }

    /// Checks that a key exists in column family `name` (for fsck).
    pub(crate) fn contains(
        &self,
        name: &'static str,
        keys: &[Vec<u8>],
    ) -> Result<Vec<bool>, Error> {
        let cf = self.cf(name)?;
        let values = self.db.batched_multi_get_cf(cf, keys.iter(), false);
        values.into_iter().map(|v| Ok(v?.is_some())).collect()
    }

    fn get(&self, cf: &ColumnFamily, k: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.db.get_cf(cf, k)?)
    }

    fn last_u64_key(&self, cf: &ColumnFamily, name: &'static str) -> Result<Option<u64>, Error> {
        match self
            .db
            .iterator_cf(cf, IteratorMode::End)
            .next()
            .transpose()?
        {
            None => Ok(None),
            Some((k, _)) => key::parse_u64(&k)
                .map(Some)
                .ok_or(Error::Integrity(Integrity::Undecodable(name))),
        }
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, Error> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| Error::NotInitialized {
                path: self.path.clone(),
                reason: "missing column families",
            })
    }

    fn cfs(&self) -> Result<Cfs<'_>, Error> {
        Ok(Cfs {
            meta: self.cf(cf::META)?,
            checkpoints: self.cf(cf::CHECKPOINTS)?,
            entries: self.cf(cf::ENTRIES)?,
            tiles: self.cf(cf::TILES)?,
            dedup: self.cf(cf::DEDUP)?,
            index: self.cf(cf::INDEX)?,
            vindex: self.db.cf_handle(cf::VINDEX),
        })
    }
}

impl Batch<'_> {
    /// Stores the format marker (init only).
    pub(crate) fn put_format(&mut self) {
        self.batch.put_cf(self.cfs.meta, key::FORMAT, FORMAT);
    }

    /// Stores a newly signed checkpoint as the head and in the history.
    pub(crate) fn put_head(&mut self, size: u64, note: &[u8]) {
        self.batch.put_cf(self.cfs.meta, key::HEAD, note);
        self.batch
            .put_cf(self.cfs.checkpoints, key::checkpoint(size), note);
    }

    /// Stores an entry and its dedup record.
    pub(crate) fn put_entry(&mut self, index: u64, leaf: &Hash, entry: &[u8]) {
        self.batch
            .put_cf(self.cfs.entries, key::entry(index), entry);
        self.batch.put_cf(self.cfs.dedup, leaf, index.to_be_bytes());
    }

    /// Stores (or widens) a tile.
    pub(crate) fn put_tile(&mut self, level: u8, index: u64, hashes: &[u8]) {
        self.batch
            .put_cf(self.cfs.tiles, key::tile(level, index), hashes);
    }

    /// Stores an index record.
    pub(crate) fn put_index(&mut self, record: &[u8]) {
        self.batch.put_cf(self.cfs.index, record, []);
    }

    /// Stores a node of the verifiable index.
    pub(crate) fn put_vindex(&mut self, key: &[u8], node: &[u8]) {
        if let Some(cf) = self.cfs.vindex {
            self.batch.put_cf(cf, key, node);
        }
    }

    /// Removes the whole verifiable index (before it is rebuilt).
    pub(crate) fn clear_vindex(&mut self) {
        if let Some(cf) = self.cfs.vindex {
            self.batch.delete_range_cf(cf, &b""[..], &[0xffu8; 40][..]);
        }
    }

    /// Stores the signed index note of the round's tree.
    pub(crate) fn put_index_note(&mut self, note: &[u8]) {
        if let Some(cf) = self.cfs.vindex {
            self.batch.put_cf(cf, crate::vindex::NOTE_KEY, note);
        }
    }

    /// Records which derivation the index records follow.
    pub(crate) fn put_index_version(&mut self, version: u64) {
        self.batch
            .put_cf(self.cfs.meta, key::INDEX_VERSION, version.to_be_bytes());
    }
}

impl Store {
    /// A cursor over the verifiable index's leaves as of now (each cursor sees one state).
    pub(crate) fn leaves(&self) -> Result<Leaves<'_>, Error> {
        Ok(Leaves {
            it: self.cfs()?.vindex.map(|cf| self.db.raw_iterator_cf(cf)),
        })
    }

    /// RocksDB's estimate of the number of records in the verifiable index's column family.
    pub(crate) fn estimate_leaves(&self) -> Result<u64, Error> {
        match self.cfs()?.vindex {
            Some(cf) => Ok(self
                .db
                .property_int_value_cf(cf, "rocksdb.estimate-num-keys")?
                .unwrap_or(0)),
            None => Ok(0),
        }
    }
}

/// A cursor over the verifiable index's leaves (records `k || key hash`), of the store or of a
/// snapshot. A log without the column family has none.
pub(crate) struct Leaves<'a> {
    it: Option<rocksdb::DBRawIteratorWithThreadMode<'a, DB>>,
}

impl Leaves<'_> {
    /// Reads leaves from `from` on while `keep` says so, visiting each.
    fn scan(
        &mut self,
        from: &Hash,
        keep: impl Fn(&Hash) -> bool,
        visit: &mut dyn FnMut(Hash, Value),
    ) -> Result<(), Error> {
        let Some(it) = &mut self.it else {
            return Ok(());
        };
        it.seek(leaf_key(from));
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.first() != Some(&crate::vindex::LEAF) {
                break;
            }
            let (key, value) = decode_leaf(k, v)?;
            if !keep(&key) {
                break;
            }
            visit(key, value);
            it.next();
        }
        it.status()?;
        Ok(())
    }
}

impl LeafSource for Leaves<'_> {
    fn leaves_under(
        &mut self,
        prefix: &Hash,
        depth: usize,
        out: &mut Vec<(Hash, Value)>,
    ) -> Result<(), Error> {
        self.scan(
            &first_under(prefix, depth),
            |k| under(k, prefix, depth),
            &mut |k, v| out.push((k, v)),
        )
    }

    fn each_leaf(&mut self, visit: &mut dyn FnMut(Hash, Value)) -> Result<(), Error> {
        self.scan(&[0; 32], |_| true, visit)
    }
}

/// A RocksDB snapshot of the store, for answers that must be of one round.
pub(crate) struct Snapshot<'a> {
    snap: rocksdb::SnapshotWithThreadMode<'a, DB>,
    cfs: Cfs<'a>,
}

impl Snapshot<'_> {
    /// A cursor over the verifiable index's leaves as of the snapshot.
    pub(crate) fn leaves(&self) -> Leaves<'_> {
        Leaves {
            it: self.cfs.vindex.map(|cf| self.snap.raw_iterator_cf(cf)),
        }
    }

    /// The signed index note as of the snapshot.
    pub(crate) fn index_note(&self) -> Result<Option<Vec<u8>>, Error> {
        match self.cfs.vindex {
            Some(cf) => Ok(self.snap.get_cf(cf, crate::vindex::NOTE_KEY)?),
            None => Ok(None),
        }
    }

    /// Every index recorded under `prefix`, in log order, at most `max` (more is an error the
    /// caller reports: the list is `count` long and the proof needs all of it).
    pub(crate) fn index_list(&self, prefix: &[u8], max: u64) -> Result<Vec<u64>, Error> {
        let mut out = Vec::new();
        let iter = self.snap.iterator_cf(
            self.cfs.index,
            IteratorMode::From(prefix, DbDirection::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            let Some(rest) = k.strip_prefix(prefix) else {
                break;
            };
            let index =
                key::parse_u64(rest).ok_or(Error::Integrity(Integrity::Undecodable(cf::INDEX)))?;
            if out.len() as u64 >= max {
                break;
            }
            out.push(index);
        }
        Ok(out)
    }
}

/// Node hashes straight from the stored tiles: one batched read of the distinct tiles a call
/// needs (minus the cached full tiles), then each node taken from its tile or recomputed from
/// the elements below it.
impl HashReader for Store {
    type Error = Error;

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
        let cfs = self.cfs()?;
        let mut wanted = Vec::with_capacity(ids.len());
        for &id in ids {
            let loc = locate_node(id).map_err(|_| Integrity::MissingHash(id))?;
            wanted.push((loc.tile_level, loc.tile_index));
        }
        let mut keys = wanted.clone();
        keys.sort_unstable();
        keys.dedup();
        let mut tiles: Vec<Option<TileNodes>> = {
            let cache = self
                .tile_cache
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            keys.iter()
                .map(|k| cache.get(k).cloned().map(TileNodes::Full))
                .collect()
        };
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| tiles[i].is_none()).collect();
        let encoded: Vec<[u8; 9]> = missing
            .iter()
            .map(|&i| key::tile(keys[i].0, keys[i].1))
            .collect();
        let values = self
            .db
            .batched_multi_get_cf(cfs.tiles, encoded.iter(), true);
        for (&i, value) in missing.iter().zip(values) {
            let Some(bytes) = value? else { continue };
            let (level, index) = keys[i];
            let tile = parse_tile(level, index, &bytes)?;
            tiles[i] = Some(if tile.id().is_full() {
                let nodes = Arc::new(subtree_nodes(tile.hashes()));
                self.cache_tile(keys[i], nodes.clone());
                TileNodes::Full(nodes)
            } else {
                TileNodes::Partial(tile)
            });
        }
        ids.iter()
            .zip(&wanted)
            .map(|(&id, at)| {
                // `keys` holds every element of `wanted`, so the search always succeeds.
                let tile = keys.binary_search(at).ok().and_then(|i| tiles[i].as_ref());
                Ok(tile
                    .and_then(|t| t.node(id))
                    .ok_or(Integrity::MissingHash(id))?)
            })
            .collect()
    }
}

impl Store {
    fn cache_tile(&self, key: (u8, u64), nodes: Subtree) {
        let mut cache = self
            .tile_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Crude but bounded: the hot tiles (upper levels, recent entries) come back at once.
        if cache.len() >= TILE_CACHE_TILES {
            cache.clear();
        }
        cache.insert(key, nodes);
    }
}

/// Every node of a full tile's subtree, by height within the tile (256, 128, ..., 1 hashes).
type Subtree = Arc<Vec<Vec<Hash>>>;

/// How many full tiles keep their subtree in memory (16 KiB each).
const TILE_CACHE_TILES: usize = 1024;

/// A stored tile as proofs read it.
enum TileNodes {
    /// A full tile with every node of its subtree, by height within the tile: full tiles
    /// never change, and recomputing a proof's nodes costs up to 255 hashes per tile level.
    Full(Subtree),
    /// A partial tile, whose nodes are recomputed on each read.
    Partial(Tile),
}

impl TileNodes {
    fn node(&self, id: NodeId) -> Option<Hash> {
        match self {
            Self::Full(levels) => {
                let loc = locate_node(id).ok()?;
                let height = loc.count.trailing_zeros() as usize;
                levels
                    .get(height)?
                    .get(usize::from(loc.start >> height))
                    .copied()
            }
            Self::Partial(tile) => tile.node_hash(id).ok(),
        }
    }
}

/// Every node of the perfect subtree over `hashes`, bottom level first.
fn subtree_nodes(hashes: &[Hash]) -> Vec<Vec<Hash>> {
    let mut levels = vec![hashes.to_vec()];
    while let Some(last) = levels.last().filter(|l| l.len() > 1) {
        let next = last
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
        levels.push(next);
    }
    levels
}

/// Parses stored tile bytes: a whole number of hashes, 1 to 256 of them.
pub(crate) fn parse_tile(level: u8, index: u64, bytes: &[u8]) -> Result<Tile, Error> {
    let bad = || Integrity::TileLength {
        level,
        index,
        len: bytes.len(),
    };
    let width = u16::try_from(bytes.len() / 32).map_err(|_| bad())?;
    let id = TileId::new(level, index, width).map_err(|_| bad())?;
    Ok(Tile::parse(id, bytes).map_err(|_| bad())?)
}

fn descriptors() -> Result<Vec<ColumnFamilyDescriptor>, Error> {
    // One block cache for every column family: hot tiles and dedup filter blocks compete.
    let cache = Cache::new_lru_cache(128 << 20)?;
    Ok(cf::ALL
        .iter()
        .map(|&name| ColumnFamilyDescriptor::new(name, cf_options(name, &cache)))
        .collect())
}

fn db_options() -> Options {
    let mut opts = Options::default();
    opts.set_max_background_jobs(2);
    // The write-ahead log is kept until every column family has flushed what it holds; the
    // small ones (dedup, index, checkpoints) would otherwise pin gigabytes of it.
    opts.set_max_total_wal_size(256 << 20);
    opts.set_bytes_per_sync(1 << 20);
    opts.set_keep_log_file_num(4);
    opts
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    let mut opts = Options::default();
    match name {
        // Hashes do not compress; the dedup map is probed for every submission and mostly
        // misses, which a Bloom filter answers without reading a block.
        cf::DEDUP => {
            table.set_bloom_filter(10.0, false);
            opts.set_compression_type(DBCompressionType::None);
        }
        cf::TILES => opts.set_compression_type(DBCompressionType::None),
        // The verifiable index's leaves are read by range (a Bloom filter serves point reads only) and are hashes.
        cf::VINDEX => opts.set_compression_type(DBCompressionType::None),
        _ => opts.set_compression_type(DBCompressionType::Lz4),
    }
    opts.set_block_based_table_factory(&table);
    opts
}
