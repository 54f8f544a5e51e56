//! The read path: what the HTTP layer serves, as plain functions of the stored log.
//!
//! Every function here is a few RocksDB point reads or one short range scan (a bundle is at
//! most 256 entries); they block, briefly. Bundles of large entries can be megabytes, so the
//! HTTP layer should call [`Ledger::bundle`] from `spawn_blocking`.
//!
//! Reads never wait for the writer: RocksDB reads see every committed round, and a tile, a
//! bundle or a proof for any tree size up to the head's is fully determined by hashes that
//! never change. So:
//!
//! - a partial tile of any width up to the stored one is served, as a prefix of the stored
//!   tile (it is exactly the tile an older, smaller tree had);
//! - proofs are served for any tree size up to the current one, signed or not;
//! - a signed checkpoint exists for every size a round produced (the history is kept: it
//!   costs one small record per round and lets a `tlog-proof` be built against any of them).

use reprove_verifier::merkle::{Hash, consistency_proof, inclusion_proof};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{BundleId, EntryBundle, TILE_WIDTH, TileId};

use crate::error::{CheckpointRef, Error, Integrity};
use crate::head::Head;
use crate::index::{IndexKey, Page, PageRequest};
use crate::ledger::Ledger;
use crate::round::tlog_proof;
use crate::storage::cf;
use crate::vindex::{MAX_PROVEN_LIST, prove};
use reprove_verifier::vindex::{Proof, key_hash};

/// An inclusion proof against a signed checkpoint: the parts of a c2sp `tlog-proof`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// The leaf index.
    pub index: u64,
    /// The inclusion proof, leaf sibling first.
    pub proof: Vec<Hash>,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: Head,
}

impl Inclusion {
    /// The c2sp `tlog-proof@v1` for this inclusion (`extra` is unauthenticated data to carry
    /// along); `encode()` gives the `.tlog-proof` bytes.
    pub fn tlog_proof(&self, extra: Option<Vec<u8>>) -> Result<TlogProof, Error> {
        tlog_proof(extra, self.index, &self.proof, &self.checkpoint)
    }
}

/// A proven lookup answer: every index under a key, and the proof that this is the whole
/// list under the index root the note signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenLookup {
    /// The signed index note (it names the tree size and log root it covers).
    pub note: Vec<u8>,
    /// The key's indices, in log order (empty: the key has none).
    pub indices: Vec<u64>,
    /// The proof of the list under the note's index root.
    pub proof: Proof,
}

impl Ledger {
    /// The signed checkpoint for tree `size`, if the log signed one for exactly that size.
    pub fn checkpoint_at(&self, size: u64) -> Result<Head, Error> {
        let bytes = self
            .store()
            .checkpoint(size)?
            .ok_or(Error::CheckpointNotFound(size))?;
        Head::verify(self.key(), &bytes, CheckpointRef::Size(size))
    }

    /// The bytes of tile `id`: the stored tile, cut to `id`'s width. Not found when the log
    /// has no such tile or a narrower one.
    pub fn tile(&self, id: TileId) -> Result<Vec<u8>, Error> {
        let mut bytes = self
            .store()
            .tile(id.level(), id.index())?
            .ok_or(Error::TileNotFound(id))?;
        let want = usize::from(id.width()) * 32;
        if bytes.len() < want {
            return Err(Error::TileNotFound(id));
        }
        bytes.truncate(want);
        Ok(bytes)
    }

    /// The bytes of entry bundle `id`. Not found when the tree does not have `id`'s entries.
    pub fn bundle(&self, id: BundleId) -> Result<Vec<u8>, Error> {
        let start = id.index().checked_mul(u64::from(TILE_WIDTH));
        let end = start.and_then(|s| s.checked_add(u64::from(id.width())));
        let (Some(start), Some(end)) = (start, end) else {
            return Err(Error::BundleNotFound(id));
        };
        if end > self.head().size() {
            return Err(Error::BundleNotFound(id));
        }
        let entries = self.store().entries(start, usize::from(id.width()))?;
        let bundle = EntryBundle::new(id, entries)
            .map_err(|_| Error::Integrity(Integrity::Undecodable(cf::ENTRIES)))?;
        Ok(bundle.encode())
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        if index >= self.head().size() {
            return Err(Error::EntryNotFound(index));
        }
        Ok(self
            .store()
            .entry(index)?
            .ok_or(Integrity::MissingEntry(index))?)
    }

    /// The index of the entry with this leaf hash, if it is in the log.
    pub fn find(&self, leaf_hash: &Hash) -> Result<Option<u64>, Error> {
        Ok(self
            .store()
            .dedup(std::slice::from_ref(leaf_hash))?
            .pop()
            .flatten())
    }

    /// The inclusion proof of leaf `index` in the tree of `size` (any size up to the head's).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(size)?;
        inclusion_proof(self.store(), index, size).map_err(Error::from_generate)
    }

    /// The consistency proof from the tree of `first` to the tree of `second` (up to the
    /// head's size).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(second)?;
        consistency_proof(self.store(), first, second).map_err(Error::from_generate)
    }

    /// The inclusion proof of leaf `index` against a signed checkpoint: the one for `size`
    /// when given (it must have been signed), else the current head.
    pub fn prove(&self, index: u64, size: Option<u64>) -> Result<Inclusion, Error> {
        let checkpoint = match size {
            Some(size) => self.checkpoint_at(size)?,
            None => self.head(),
        };
        let proof = self.inclusion_proof(index, checkpoint.size())?;
        Ok(Inclusion {
            index,
            proof,
            checkpoint,
        })
    }

    /// One page of the indices of the entries recorded under `key`.
    pub fn lookup(&self, key: &IndexKey, page: PageRequest) -> Result<Page, Error> {
        key.check()?;
        self.store().scan_index(&key.prefix(), page)
    }

    /// A proven lookup: the complete list of indices under `key` and its proof under the
    /// latest signed index note, all read from one committed round (a RocksDB snapshot).
    pub fn prove_lookup(&self, key: &IndexKey) -> Result<ProvenLookup, Error> {
        key.check()?;
        if !key.is_proven() {
            return Err(Error::NotProven);
        }
        // A log whose index an earlier version wrote (another layout) is not proven from
        // until it is reindexed: refused by name, not with a proof that fails to check.
        if self.store().index_version()? < crate::keys::INDEX_VERSION {
            return Err(Error::NoIndex);
        }
        let encoding = key.encoding();
        // The array and the snapshot are of one round: the writer changes the array only
        // while holding its lock across a commit, or, while the array holds the leaves and
        // the note (which the store may not yet), stores them after publishing them. The
        // lists are the first `count` records under the key: the snapshot can only hold more.
        let (snap, note, (proof, value)) = self.shared.with_dense(|dense| {
            let snap = self.store().snapshot()?;
            let proved = prove(dense, &mut snap.leaves(), &key_hash(&encoding))?;
            Ok((snap, dense.note().map(<[u8]>::to_vec), proved))
        })?;
        let note = match note {
            Some(note) => note,
            None => snap.index_note()?.ok_or(Error::NoIndex)?,
        };
        let count = value.map_or(0, |v| v.count);
        if count > MAX_PROVEN_LIST {
            return Err(Error::ProvenListTooLong {
                count,
                max: MAX_PROVEN_LIST,
            });
        }
        let indices = snap.index_list(&encoding, count)?;
        if indices.len() as u64 != count {
            return Err(Integrity::Undecodable(crate::vindex::CF).into());
        }
        Ok(ProvenLookup {
            note,
            indices,
            proof,
        })
    }

    /// The latest signed index note.
    pub fn index_note(&self) -> Result<Vec<u8>, Error> {
        match self.shared.published_note() {
            Some(note) => Ok(note),
            None => self.store().index_note()?.ok_or(Error::NoIndex),
        }
    }

    fn check_size(&self, size: u64) -> Result<(), Error> {
        let current = self.head().size();
        if size > current {
            return Err(Error::SizeOutOfRange { size, current });
        }
        Ok(())
    }
}
