//! Creating and opening a log: the only two ways to get a [`Ledger`].
//!
//! `init` creates a log and `open` opens one; neither ever does the other's job, so a typo in
//! a path cannot create a fresh, empty log where an operator meant an existing one.
//!
//! Opening re-derives the tree state from storage and refuses to go on if it disagrees with
//! the stored signed checkpoint: the head must verify under the log key, be the last entry of
//! the checkpoint history, and have exactly the root that the stored tiles give; entries and
//! tiles must end exactly where the head's tree ends. These checks read O(log n) records.
//! Everything else (every hash, entry, index) is `fsck`'s job.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use reprove_verifier::merkle::{HashReader, NodeId, empty_root, leaf_hash};
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::vindex::{EMPTY, IndexNote};

use crate::error::{CheckpointRef, Error, Integrity};
use crate::head::Head;
use crate::storage::Store;
use crate::tree::TreeState;
use crate::vindex::Dense;

/// A log: its storage, its key and its latest signed checkpoint. Cheap to clone; every read
/// function is here (see `read.rs`), the write side is the [`Writer`].
#[derive(Debug, Clone)]
pub struct Ledger {
    pub(crate) shared: Arc<Shared>,
}

/// The one right to append to a log, with the log's signing key. There is exactly one per
/// opened log; hand it to a [`Sequencer`](crate::Sequencer) or append rounds directly
/// ([`Writer::append`]).
#[derive(Debug)]
pub struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) signer: NoteSigner,
    pub(crate) tree: TreeState,
    /// Set when a commit failed: the disk may or may not hold that round, so signing another
    /// checkpoint could fork the log. Only reopening (which re-derives the state) clears it.
    pub(crate) halted: bool,
    /// Whether rounds maintain the verifiable index (on unless a benchmark turns it off).
    pub(crate) vindex: bool,
    /// The last round's verifiable index, published to readers from memory and not stored
    /// yet (`round.rs`, phase 8).
    pub(crate) pending_index: Option<crate::round::PendingIndex>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) key: NoteVerifier,
    pub(crate) head: RwLock<Head>,
    /// The verifiable index's interior, in memory: built when a log is opened for writing
    /// (when a read-only one first proves), changed by the writer only while it holds the
    /// lock, so a reader holding it sees the array of the latest published round: the store's
    /// latest round, or, while the array holds the leaves, a round whose leaves and note (the
    /// array keeps it) the writer stores after publishing them (`round.rs`, phase 8).
    pub(crate) dense: RwLock<Option<Dense>>,
}

impl Shared {
    /// The latest signed checkpoint. A poisoned lock still holds a committed head: the head is
    /// replaced whole, never half-written.
    pub(crate) fn head(&self) -> Head {
        self.head
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The verifiable index's array, locked for the writer: readers wait until the guard is
    /// dropped, so whatever the writer commits to the store meanwhile and changes in the array
    /// reaches them together.
    pub(crate) fn dense_mut(&self) -> std::sync::RwLockWriteGuard<'_, Option<Dense>> {
        self.dense.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest index note if the writer published it from memory (the store may not hold
    /// it yet); `None`: the store's note is the latest.
    pub(crate) fn published_note(&self) -> Option<Vec<u8>> {
        let dense = self.dense.read().unwrap_or_else(PoisonError::into_inner);
        dense.as_ref()?.note().map(<[u8]>::to_vec)
    }

    /// Runs `f` with the verifiable index's array, building it first if this view has none.
    pub(crate) fn with_dense<T>(
        &self,
        f: impl FnOnce(&Dense) -> Result<T, Error>,
    ) -> Result<T, Error> {
        loop {
            let dense = self.dense.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(dense) = dense.as_ref() {
                return f(dense);
            }
            drop(dense);
            let mut dense = self.dense.write().unwrap_or_else(PoisonError::into_inner);
            if dense.is_none() {
                *dense = Some(build_dense(&self.store)?);
            }
        }
    }
}

/// The verifiable index's array for the leaves in `store`.
fn build_dense(store: &Store) -> Result<Dense, Error> {
    Dense::build(&mut store.leaves()?, store.estimate_leaves()?)
}

impl Ledger {
    /// Creates a new log in `dir`, which must not exist or be empty, and signs the checkpoint
    /// of the empty tree with `signer` (whose key name is the log's origin).
    ///
    /// Refuses a directory that already holds a log or anything else. A crash during `init`
    /// leaves a directory that `open` refuses (no format marker) and `init` refuses (not
    /// empty): the operator removes it and runs `init` again.
    pub fn init(dir: &Path, signer: &NoteSigner) -> Result<Head, Error> {
        match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(if dir.join("CURRENT").exists() {
                        Error::AlreadyInitialized {
                            path: dir.to_owned(),
                        }
                    } else {
                        Error::DirectoryNotEmpty {
                            path: dir.to_owned(),
                        }
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            Err(e) => return Err(Error::io(dir, e)),
        }
        let store = Store::create(dir)?;
        let head = Head::sign(signer, 0, empty_root())?;
        let mut batch = store.batch()?;
        batch.put_head(0, head.note());
        batch.put_index_note(&crate::vindex::sign_note(signer, 0, head.root(), EMPTY)?);
        // A new log's records all follow this version's derivation.
        batch.put_index_version(crate::keys::INDEX_VERSION);
        // The marker goes in the same write: a log either is complete or is not a log.
        batch.put_format();
        store.commit(batch, None, 0)?;
        Ok(head)
    }

    /// Opens the log in `dir` for writing with its key: the ledger for reads and the one
    /// writer. Refuses a directory that is not an initialized log, a log signed by another
    /// key, and a log whose stored state disagrees with its signed checkpoint.
    pub fn open(dir: &Path, signer: NoteSigner) -> Result<(Ledger, Writer), Error> {
        let store = Store::open(dir, false)?;
        let (head, tree) = derive(&store, &signer.verifier())?;
        // A log whose index an earlier version stored (another layout) gets its array when it
        // is reindexed.
        let dense = if store.index_version()? >= crate::keys::INDEX_VERSION {
            build_dense(&store)?
        } else {
            Dense::empty()
        };
        let shared = Arc::new(Shared {
            store,
            key: signer.verifier(),
            head: RwLock::new(head),
            dense: RwLock::new(Some(dense)),
        });
        let mut writer = Writer {
            shared: shared.clone(),
            signer,
            tree,
            halted: false,
            vindex: true,
            pending_index: None,
        };
        let completed = writer.complete_index()?;
        if completed > 0 {
            tracing::info!(
                entries = completed,
                "completed the verifiable index up to the head"
            );
        }
        Ok((Ledger { shared }, writer))
    }

    /// Opens the log in `dir` read-only, checking it against the log's public key as
    /// [`open`](Self::open) does. It sees the log as it was when opened: for inspection,
    /// exports and `fsck`, not for serving a live log.
    pub fn open_read_only(dir: &Path, key: NoteVerifier) -> Result<Ledger, Error> {
        let store = Store::open(dir, true)?;
        let (head, _) = derive(&store, &key)?;
        Ok(Ledger {
            shared: Arc::new(Shared {
                store,
                key,
                head: RwLock::new(head),
                dense: RwLock::new(None),
            }),
        })
    }

    /// The log's origin (its key name).
    pub fn origin(&self) -> &str {
        self.shared.key.name()
    }

    /// The log's public key.
    pub fn key(&self) -> &NoteVerifier {
        &self.shared.key
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        self.shared.store.path()
    }

    /// The latest signed checkpoint.
    pub fn head(&self) -> Head {
        self.shared.head()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.shared.store
    }
}

impl Writer {
    /// The latest signed checkpoint (the one the next round extends).
    pub fn head(&self) -> Head {
        self.shared.head()
    }

    /// Which derivation of index records the stored ones follow: 1 for a log written before
    /// the version was recorded.
    pub fn index_version(&self) -> Result<u64, Error> {
        self.shared.store.index_version()
    }

    /// Writes the index records [`derive_index_keys`](crate::derive_index_keys) gives for
    /// every entry of the tree, rebuilds the verifiable index from them and signs its note for
    /// the head, then records [`INDEX_VERSION`](crate::INDEX_VERSION): how a log written by an
    /// earlier version gains the records a newer one derives (signer-scoped lookups, blobs,
    /// the verifiable index). Records are keys with empty values, so writing one that exists
    /// changes nothing; the verifiable index is cleared first, so a reindex interrupted by a
    /// crash is simply run again. Needs the writer: nothing is appended meanwhile. Returns the
    /// number of entries read.
    pub fn reindex(&mut self) -> Result<u64, Error> {
        self.store_index()?;
        let store = &self.shared.store;
        let size = self.head().size();
        let head = store.head()?;
        let mut dense = self.shared.dense_mut();
        let dense = dense.insert(Dense::empty());
        let mut batch = store.batch()?;
        batch.clear_vindex();
        store.commit(batch, head.as_deref(), size)?;
        self.index_entries(dense, 0, head.as_deref())?;
        let mut batch = store.batch()?;
        batch.put_index_version(crate::keys::INDEX_VERSION);
        store.commit(batch, head.as_deref(), size)?;
        self.vindex = true;
        Ok(size)
    }

    /// Completes the verifiable index up to the head when its note is behind: a crash between
    /// a round's two batches can leave it one round behind (`round.rs`). The round's entries
    /// are durable, and the keys derived from them ([`derive_index_keys`](crate::derive_index_keys),
    /// what `/add` derives) give the same leaves, root and note the round would have written.
    /// Returns the number of entries added.
    fn complete_index(&mut self) -> Result<u64, Error> {
        let store = &self.shared.store;
        if store.index_version()? < crate::keys::INDEX_VERSION {
            return Ok(0);
        }
        let size = self.head().size();
        let note = store.index_note()?;
        let Some(Ok(note)) = note.map(|n| IndexNote::verify(&n, &self.shared.key)) else {
            // Missing or not the log's: fsck reports it; a reindex rewrites it.
            return Ok(0);
        };
        if note.size >= size {
            return Ok(0);
        }
        let head = store.head()?;
        let mut dense = self.shared.dense_mut();
        let dense = dense.get_or_insert_with(Dense::empty);
        self.index_entries(dense, note.size, head.as_deref())?;
        Ok(size - note.size)
    }

    /// Adds the head's entries from `start` on to the lookup records and the verifiable index
    /// (`dense` is its array, locked), in synced chunks, then signs the index note for the head.
    fn index_entries(
        &self,
        dense: &mut Dense,
        mut start: u64,
        head: Option<&[u8]>,
    ) -> Result<(), Error> {
        const CHUNK: usize = 4096;
        let store = &self.shared.store;
        let size = self.head().size();
        while start < size {
            let count = CHUNK.min(usize::try_from(size - start).unwrap_or(CHUNK));
            let entries = store.entries(start, count)?;
            let mut batch = store.batch()?;
            let mut appends = crate::vindex::Appends::default();
            for entry in &entries {
                let keys = crate::keys::derive_index_keys(entry);
                for key in &keys {
                    key.check()?;
                    batch.put_index(&key.record(start));
                }
                appends.add_entry(start, &keys);
                start += 1;
            }
            let update = crate::vindex::apply(dense, &mut store.leaves()?, appends)?;
            for (key, record) in &update.records {
                batch.put_vindex(key, record);
            }
            store.commit(batch, head, size)?;
            update.publish(dense, None);
        }
        let mut batch = store.batch()?;
        batch.put_index_note(&crate::vindex::sign_note(
            &self.signer,
            size,
            self.head().root(),
            dense.root(),
        )?);
        store.commit(batch, head, size)
    }

    /// Turns the verifiable index's maintenance on or off (it is on). Off is for measuring the
    /// log without it: the log's stored index version is then cleared, so the next time it is
    /// served the index is derived again ([`Writer::reindex`]) before any proven lookup.
    pub fn set_verifiable_index(&mut self, on: bool) -> Result<(), Error> {
        self.store_index()?;
        if !on && self.vindex {
            let store = &self.shared.store;
            let head = store.head()?;
            let mut batch = store.batch()?;
            batch.put_index_version(0);
            store.commit(batch, head.as_deref(), self.head().size())?;
        }
        self.vindex = on;
        Ok(())
    }

    /// Whether an earlier write failed, so that this writer refuses to append.
    pub fn is_halted(&self) -> bool {
        self.halted
    }
}

/// Reads and verifies the head, then re-derives the tree state and checks it against it.
fn derive(store: &Store, key: &NoteVerifier) -> Result<(Head, TreeState), Error> {
    let bytes = store.head()?.ok_or(Integrity::MissingHead)?;
    let head = Head::verify(key, &bytes, CheckpointRef::Head)?;
    let size = head.size();
    let in_history = store.last_checkpoint_size()? == Some(size)
        && store.checkpoint(size)?.as_deref() == Some(&bytes[..]);
    if !in_history {
        return Err(Integrity::HeadNotInHistory { size }.into());
    }
    let tree = TreeState::load(store, size)?;
    if tree.root() != head.root() {
        let (derived, signed) = (tree.root(), head.root());
        return Err(Integrity::RootMismatch {
            size,
            derived,
            signed,
        }
        .into());
    }
    match (store.last_entry_index()?, size.checked_sub(1)) {
        (Some(last), Some(want)) if last == want => {}
        (None, None) => {}
        (Some(last), want) if want.is_none_or(|w| last > w) => {
            return Err(Integrity::EntryPastHead { index: last, size }.into());
        }
        _ => return Err(Integrity::MissingEntry(size - 1).into()),
    }
    if let Some(last) = size.checked_sub(1) {
        let entry = store.entry(last)?.ok_or(Integrity::MissingEntry(last))?;
        let leaf = leaf_hash(&entry);
        if store.read_hashes(&[NodeId::leaf(last)])? != [leaf] {
            return Err(Integrity::LeafMismatch(last).into());
        }
        if store.dedup(&[leaf])? != [Some(last)] {
            return Err(Integrity::DedupMismatch(last).into());
        }
    }
    Ok((head, tree))
}
