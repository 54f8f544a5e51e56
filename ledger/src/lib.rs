//! reprove-ledger: the transparency log — durable storage, the group-commit write path and
//! the read path, as a library. The HTTP API and the CLI sit on top of it.
//!
//! # Using it
//!
//! ```text
//! Ledger::init(dir, &signer)?;                       // once, explicitly; refuses an existing log
//! let (ledger, writer) = Ledger::open(dir, signer)?; // refuses anything that is not a sound log
//! let seq = Sequencer::start(writer, SequencerConfig::default(), Arc::new(TokioClock))?;
//! let accepted = seq.submit(Submission::new(entry, keys)).await?;  // durable when it returns
//! ledger.head(); ledger.tile(id)?; ledger.bundle(id)?; ledger.prove(i, None)?; ...
//! seq.shutdown().await?;                             // answers everything accepted, then stops
//! fsck(dir, &key, &FsckOptions::default())?;         // re-derives everything, reports problems
//! ```
//!
//! # Durability contract
//!
//! - An entry is acknowledged ([`Sequencer::submit`] / [`Writer::append`] return `Ok`) only
//!   after the round holding it was written as **one** RocksDB `WriteBatch` with `sync = true`:
//!   the entries, their hashes (tiles), their dedup and lookup records and the checkpoint
//!   signed for the new tree become durable together, with one fsync per round. After a crash
//!   the log is at the last committed round, never between two.
//! - The round's verifiable index (its changed leaves and the index note for the new tree) is
//!   computed while the first batch is written and published to readers before the checkpoint
//!   or any answer is released. It is written as a second batch, unsynced (the next round's
//!   fsync covers it): while the in-memory array holds every leaf (up to 8 M keys), readers
//!   take the leaves and the note from memory and the batch is written right after the round
//!   is released, before the next round; past that, before the release. A crash can lose only
//!   that batch; the stored note is then one round behind the stored head, and
//!   [`Ledger::open`] derives the missing round's index again from its durable entries (the
//!   same leaves, root and note — byte for byte the note that was served: the index is a
//!   function of the entries and the signature is deterministic) before the writer appends. A
//!   read-only view of a log that crashed there (or of a live log, read just before the second
//!   batch is written) sees the note one round behind; fsck says so (`index_behind`) and checks
//!   that the stored index is exactly the entries' index at the note's size.
//! - The log key signs a checkpoint only for the tree the writer derived by appending to the
//!   last signed one, and the commit is a compare-and-swap on the stored head. A failed commit
//!   halts the writer: the round may or may not be on disk, so nothing more is signed until
//!   the log is reopened, which re-derives the state from what is on disk.
//! - [`Ledger::open`] re-derives the tree (right edge, rightmost tiles, last entry) from
//!   storage and refuses to open when it disagrees with the stored signed checkpoint.
//! - Read functions serve only committed data, and hashes never change, so full tiles and
//!   bundles are immutable and a partial tile of an older tree is a prefix of the stored one.
//!
//! # Modules
//!
//! - `ledger.rs`: init/open, the [`Ledger`] and the [`Writer`];
//! - `round.rs`: one round of the write path, synchronous, in phases;
//! - `sequencer.rs`: the bounded pool and the writer task;
//! - `tree.rs`: the in-memory right edge and partial tiles, integration of a round;
//! - `storage.rs`: RocksDB layout, key encodings, the commit contract;
//! - `read.rs`: tiles, bundles, entries, proofs, lookups;
//! - `fsck.rs`: the outside auditor;
//! - `blobs.rs`: the content-addressed blob store (build logs, diff reports), files beside
//!   the database, with its own durability contract;
//! - `http.rs` (and `http/`): the HTTP API over all of it ([`http::router`], [`http::serve`]);
//! - `keys.rs`: what an entry is looked up by ([`keys_of`]), pure and shared by `/add`, fsck
//!   and reindexing; `time.rs`: the RFC 3339 dates entries carry;
//! - `head.rs`, `index.rs`, `clock.rs`, `error.rs`: the types around them.

#![forbid(unsafe_code)]

mod blobs;
mod clock;
mod error;
mod fsck;
mod head;
pub mod http;
mod index;
mod keys;
mod ledger;
mod read;
mod round;
mod sequencer;
pub mod sets;
pub mod storage;
mod time;
mod tree;
mod vindex;
mod web;

pub use blobs::{BlobStored, BoundedBlob, blob_path};
pub use clock::{Clock, ManualClock, Sleep, TokioClock};
pub use error::{CheckpointRef, Error, ErrorKind, Integrity};
pub use fsck::{FsckOptions, FsckReport, Problem, fsck};
pub use head::Head;
pub use http::HttpConfig;
pub use index::{
    Direction, IndexKey, MAX_KEY_LEN, MAX_KEYS_PER_ENTRY, MAX_PAGE, Page, PageRequest, path_segment,
};
pub use keys::{INDEX_VERSION, derive_index_keys, keys_of};
pub use ledger::{Ledger, Writer};
pub use read::{Inclusion, ProvenLookup};
pub use round::{Accepted, Submission};
pub use sequencer::{Sequencer, SequencerConfig};
pub use vindex::MAX_PROVEN_LIST;
