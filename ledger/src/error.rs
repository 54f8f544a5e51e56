//! The one error type of the ledger crate.
//!
//! Variants are grouped by who is at fault, and [`Error::kind`] names the group, so that the
//! HTTP layer maps errors to statuses in one `match` on [`ErrorKind`] and never has to look at
//! individual variants:
//!
//! - bad request: the caller's input cannot be accepted (too large, out of range);
//! - not found: a tile, bundle, entry or checkpoint the log does not have (yet);
//! - conflict: the operation contradicts the state on disk (init over a log, open of a
//!   directory that is not one, a head that moved under a compare-and-swap);
//! - unavailable: try again later (full pool, stopped sequencer);
//! - integrity: the stored log contradicts itself; the ledger refuses to go on;
//! - internal: I/O or storage failures and broken invariants.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reprove_verifier::checkpoint::CheckpointError;
use reprove_verifier::merkle::{GenerateError, Hash, NodeId};
use reprove_verifier::tiles::{BundleId, TileId};

/// Everything that can go wrong in the ledger.
///
/// `Clone` so that one failed round can answer every submitter waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    // Bad request.
    /// An entry longer than an entry bundle can hold.
    #[error("entry is {len} bytes, the limit is {max}")]
    EntryTooLarge { len: usize, max: usize },
    /// An index key longer than the limit.
    #[error("index key is {len} bytes, the limit is {max}")]
    IndexKeyTooLarge { len: usize, max: usize },
    /// A signer-scoped index key whose inner key is of a kind that is not scoped.
    #[error("only artifact, release and revoked-key lookups can be scoped to a signer")]
    IndexKeyNotScopable,
    /// Too many index keys for one entry.
    #[error("{count} index keys for one entry, the limit is {max}")]
    TooManyIndexKeys { count: usize, max: usize },
    /// A leaf index that is not in the tree of the given size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A tree size larger than the log.
    #[error("tree size {size} is larger than the log's {current}")]
    SizeOutOfRange { size: u64, current: u64 },
    /// A tlog-proof over the format's size limit (because of its `extra` data).
    #[error("the tlog-proof would be {size} bytes, the limit is {max}")]
    TlogProofTooLarge { size: usize, max: usize },
    /// A consistency proof asked from a larger tree to a smaller one.
    #[error("tree size {second} is smaller than {first}: a log cannot shrink")]
    SizeDecreased { first: u64, second: u64 },
    /// Blob bytes whose SHA-256 is not the digest they were offered under.
    #[error(
        "digest mismatch: the body's sha256 is {}, the path names {}",
        hex::encode(actual),
        hex::encode(expected)
    )]
    BlobDigestMismatch { expected: Hash, actual: Hash },

    // Not found.
    /// A tile the log does not have at that width.
    #[error("the log has no tile {0}")]
    TileNotFound(TileId),
    /// An entry bundle the log does not have at that width.
    #[error("the log has no entry bundle {0}")]
    BundleNotFound(BundleId),
    /// An entry index at or past the tree size.
    #[error("the log has no entry {0}")]
    EntryNotFound(u64),
    /// No checkpoint was signed for this tree size.
    #[error("no checkpoint was signed for tree size {0}")]
    CheckpointNotFound(u64),

    // Conflict.
    /// `init` on a directory that already holds a log.
    #[error("{} already holds a log; init refuses to touch it", path.display())]
    AlreadyInitialized { path: PathBuf },
    /// `init` on a directory that holds something else.
    #[error("{} is not empty; init only creates a log in a new or empty directory", path.display())]
    DirectoryNotEmpty { path: PathBuf },
    /// `open` on a directory that is not an initialized log.
    #[error("{} is not an initialized log ({reason}); create one with init", path.display())]
    NotInitialized { path: PathBuf, reason: &'static str },
    /// The stored head is not the one the writer extended: another writer moved it.
    #[error("the log head moved: it is no longer the checkpoint for tree size {expected}")]
    HeadMoved { expected: u64 },
    /// A second sequencer or writer for the same log.
    #[error("the log already has a writer")]
    WriterTaken,

    // Unavailable.
    /// The submission pool is full: push back, retry later.
    #[error("the submission pool is full; retry after {retry_after:?}")]
    PoolFull { retry_after: Duration },
    /// The sequencer has stopped (shut down, or halted after a failed write).
    #[error("the sequencer is not running")]
    SequencerStopped,
    /// A write failed; its outcome on disk is unknown, so this writer refuses to sign anything
    /// more until the log is reopened and its state re-derived from storage.
    #[error("an earlier write failed; reopen the log to continue")]
    WriterHalted,

    // Integrity.
    /// The stored log contradicts itself or its signed checkpoint.
    #[error("the stored log is inconsistent: {0}")]
    Integrity(#[from] Integrity),

    // Internal.
    /// RocksDB failed.
    #[error("storage: {0}")]
    Storage(#[from] rocksdb::Error),
    /// A filesystem operation outside RocksDB failed.
    #[error("I/O on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// Signing a checkpoint failed (a bug, or a log key whose name is not an origin).
    #[error("signing the checkpoint failed: {0}")]
    Sign(CheckpointError),
    /// A configuration value that cannot work.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// The log would grow past `u64::MAX` entries.
    #[error("the log is full")]
    TreeFull,
    /// A round's worker thread died.
    #[error("the sequencing round panicked")]
    RoundPanicked,
    /// A lookup the verifiable index does not commit: it can be answered only as a hint.
    #[error(
        "this lookup is not proven: the verifiable index commits artifacts, releases, \
         projects, and keys named by their vkey (see docs/formats.md)"
    )]
    NotProven,
    /// A proven lookup whose list is too long to carry in one answer.
    #[error(
        "this key has {count} entries, more than the {max} a proven answer carries: ask for \
         the entries of one signer (signer=)"
    )]
    ProvenListTooLong { count: u64, max: u64 },
    /// The log has no verifiable index yet (written by an earlier version, not reindexed).
    #[error("this log has no verifiable index yet: reopen it for writing to derive it")]
    NoIndex,
    /// An invariant of this crate does not hold (a bug).
    #[error("internal invariant broken: {0}")]
    Bug(&'static str),
}

/// What the stored log disagrees with: the reason the ledger refuses to open or to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Integrity {
    /// The format marker names another format or version.
    #[error("unknown storage format {0:?}")]
    UnknownFormat(String),
    /// The latest signed checkpoint is missing.
    #[error("no stored head checkpoint")]
    MissingHead,
    /// A stored checkpoint is not a checkpoint of this log signed by its key.
    #[error("stored checkpoint {what} does not verify under the log key: {error}")]
    Checkpoint {
        what: CheckpointRef,
        error: CheckpointError,
    },
    /// A stored checkpoint that verifies but is not what the log stores.
    #[error("stored checkpoint {what} is malformed: {reason}")]
    CheckpointMalformed {
        what: CheckpointRef,
        reason: &'static str,
    },
    /// The head checkpoint is not the last entry of the checkpoint history.
    #[error("the head checkpoint (size {size}) is not the latest in the history")]
    HeadNotInHistory { size: u64 },
    /// The root derived from the stored hashes is not the signed root.
    #[error(
        "tree of size {size}: stored hashes give root {}, the checkpoint signs {}",
        hex::encode(derived),
        hex::encode(signed)
    )]
    RootMismatch {
        size: u64,
        derived: Hash,
        signed: Hash,
    },
    /// A hash the tree of the head's size must have is not stored.
    #[error("missing stored hash for node level {} index {}", .0.level, .0.index)]
    MissingHash(NodeId),
    /// A stored tile whose length is not 1 to 256 whole hashes, or not the width the tree
    /// size implies.
    #[error("stored tile level {level} index {index} has an invalid length of {len} bytes")]
    TileLength { level: u8, index: u64, len: usize },
    /// An entry of the tree is missing.
    #[error("entry {0} is missing")]
    MissingEntry(u64),
    /// An entry is stored past the tree size.
    #[error("entry {index} is stored past the tree size {size}")]
    EntryPastHead { index: u64, size: u64 },
    /// An entry whose leaf hash is not the stored level-0 hash.
    #[error("the leaf hash of entry {0} differs from its stored hash")]
    LeafMismatch(u64),
    /// The dedup map does not send an entry's leaf hash to its index.
    #[error("the dedup map does not map entry {0}'s leaf hash to it")]
    DedupMismatch(u64),
    /// A stored key or value in a column family that does not decode.
    #[error("undecodable record in column family {0}")]
    Undecodable(&'static str),
    /// A stored blob whose bytes do not hash to its name.
    #[error("the stored blob {} does not hash to its name", hex::encode(.0))]
    BlobCorrupt(Hash),
}

/// Which stored checkpoint an [`Integrity`] error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointRef {
    /// The head (latest) checkpoint.
    Head,
    /// The checkpoint signed for this tree size, in the history.
    Size(u64),
}

impl fmt::Display for CheckpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Head => f.write_str("head"),
            Self::Size(s) => write!(f, "for size {s}"),
        }
    }
}

/// The group an [`Error`] belongs to: what the HTTP layer maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input cannot be accepted (400).
    BadRequest,
    /// The log does not have the thing asked for (404).
    NotFound,
    /// The request contradicts the stored state (409); also init/open refusals.
    Conflict,
    /// Try again later (503, with `Retry-After` for [`Error::PoolFull`]).
    Unavailable,
    /// The stored log is inconsistent (500; the operator must run fsck).
    Integrity,
    /// I/O, storage or an internal bug (500).
    Internal,
}

impl Error {
    /// The group this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::EntryTooLarge { .. }
            | Self::IndexKeyTooLarge { .. }
            | Self::IndexKeyNotScopable
            | Self::TooManyIndexKeys { .. }
            | Self::IndexOutOfRange { .. }
            | Self::SizeOutOfRange { .. }
            | Self::TlogProofTooLarge { .. }
            | Self::SizeDecreased { .. }
            | Self::NotProven
            | Self::ProvenListTooLong { .. }
            | Self::BlobDigestMismatch { .. } => ErrorKind::BadRequest,
            Self::TileNotFound(_)
            | Self::BundleNotFound(_)
            | Self::EntryNotFound(_)
            | Self::CheckpointNotFound(_) => ErrorKind::NotFound,
            Self::AlreadyInitialized { .. }
            | Self::DirectoryNotEmpty { .. }
            | Self::NotInitialized { .. }
            | Self::HeadMoved { .. }
            | Self::WriterTaken => ErrorKind::Conflict,
            Self::PoolFull { .. } | Self::SequencerStopped | Self::WriterHalted | Self::NoIndex => {
                ErrorKind::Unavailable
            }
            Self::Integrity(_) => ErrorKind::Integrity,
            Self::Storage(_)
            | Self::Io { .. }
            | Self::Sign(_)
            | Self::InvalidConfig(_)
            | Self::TreeFull
            | Self::RoundPanicked
            | Self::Bug(_) => ErrorKind::Internal,
        }
    }

    /// How long a client should wait before retrying, for errors that ask it to.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::PoolFull { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Maps a proof-generation error over storage: the caller's range errors stay bad
    /// requests, a reader failure is itself, the rest cannot happen with a correct reader.
    pub(crate) fn from_generate(e: GenerateError<Error>) -> Self {
        match e.split_read() {
            Ok(e) => e,
            Err(GenerateError::IndexOutOfRange { index, size }) => {
                Self::IndexOutOfRange { index, size }
            }
            Err(GenerateError::SizeDecreased { first, second }) => {
                Self::SizeDecreased { first, second }
            }
            Err(GenerateError::TreeFull { .. }) => Self::TreeFull,
            Err(_) => Self::Bug("proof generation rejected the stored hashes' shape"),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}
