//! The blob store: build logs and diff reports, content-addressed by SHA-256.
//!
//! Blobs are not log entries. Rebuild attestations name them by digest, and whoever fetches
//! one checks it against that digest, so the store needs no Merkle tree: a blob is valid
//! exactly when its bytes hash to its name.
//!
//! # Layout
//!
//! One file per blob, under the log's data directory:
//! `blobs/sha256/<first 2 hex digits>/<all 64 hex digits>`, written through a temporary file
//! in `blobs/tmp/`. Files, not a RocksDB column family, because blobs are up to megabytes:
//! large values in an LSM tree are rewritten by every compaction, and files can be served or
//! mirrored as they are. RocksDB ignores subdirectories of its directory.
//!
//! # Durability contract
//!
//! - When [`Ledger::put_blob`] returns `Ok`, the blob is durable: its bytes were fsynced in a
//!   temporary file, the file was renamed to its final name and the directory holding it was
//!   fsynced. A crash before that leaves at most a stray temporary file, never a partial blob
//!   under a final name (the rename is atomic).
//! - A blob is never rewritten: storing bytes whose file exists returns
//!   [`BlobStored::Existing`] without touching it. Two concurrent stores of the same bytes
//!   both rename complete files of identical content, so either outcome is the same blob.
//! - Reads re-hash what they read: a file whose bytes do not match its name (disk corruption,
//!   tampering) is an integrity error, never served.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::error::{Error, Integrity};
use crate::ledger::Ledger;

/// What storing a blob did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobStored {
    /// The blob is new and now durable.
    Created,
    /// The store already held it; nothing was written.
    Existing,
}

/// What [`Ledger::blob_at_most`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundedBlob {
    /// The store does not hold the blob.
    Missing,
    /// The blob is longer than the bound (it was not read whole, nor checked).
    TooLarge,
    /// The whole blob, checked against its digest.
    Bytes(Vec<u8>),
}

/// Makes temporary file names unique within the process (one process holds a log).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Ledger {
    /// The blob whose SHA-256 is `sha256`, or `None` when the store does not hold it.
    /// The bytes are checked against the digest before they are returned.
    pub fn blob(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, Error> {
        Ok(match self.blob_at_most(sha256, u64::MAX)? {
            BoundedBlob::Bytes(bytes) => Some(bytes),
            BoundedBlob::Missing | BoundedBlob::TooLarge => None,
        })
    }

    /// The blob `sha256` if it is at most `max` bytes long (read and checked like
    /// [`Ledger::blob`]); [`BoundedBlob::TooLarge`] without reading more than `max + 1` bytes
    /// otherwise, so a caller showing part of a blob never loads a huge one.
    pub fn blob_at_most(&self, sha256: &[u8; 32], max: u64) -> Result<BoundedBlob, Error> {
        let path = blob_path(self.path(), sha256);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BoundedBlob::Missing),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut bytes = Vec::new();
        file.take(max.saturating_add(1)) // u64::MAX: the whole file
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max {
            return Ok(BoundedBlob::TooLarge);
        }
        if Sha256::digest(&bytes).as_slice() != sha256 {
            return Err(Integrity::BlobCorrupt(*sha256).into());
        }
        Ok(BoundedBlob::Bytes(bytes))
    }

    /// Whether the store holds the blob `sha256` (without reading or checking it).
    pub fn has_blob(&self, sha256: &[u8; 32]) -> Result<bool, Error> {
        let path = blob_path(self.path(), sha256);
        path.try_exists().map_err(|e| Error::io(path, e))
    }

    /// Stores `bytes` under their SHA-256, which must be `sha256` (else
    /// [`Error::BlobDigestMismatch`], nothing written). Durable when it returns `Ok` (see the
    /// module docs); idempotent.
    pub fn put_blob(&self, sha256: &[u8; 32], bytes: &[u8]) -> Result<BlobStored, Error> {
        let actual: [u8; 32] = Sha256::digest(bytes).into();
        if &actual != sha256 {
            return Err(Error::BlobDigestMismatch {
                expected: *sha256,
                actual,
            });
        }
        let path = blob_path(self.path(), sha256);
        if self.has_blob(sha256)? {
            return Ok(BlobStored::Existing);
        }
        let dir = path
            .parent()
            .ok_or(Error::Bug("a blob path has no parent"))?;
        let tmp_dir = self.path().join("blobs").join("tmp");
        for d in [dir, tmp_dir.as_path()] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let tmp = tmp_dir.join(format!(
            "{}.{}.{}",
            hex::encode(sha256),
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_synced(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(&path, e));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        // The rename is durable once the directory holding the new name is.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
        Ok(BlobStored::Created)
    }
}

impl Ledger {
    /// A fresh temporary file in the blob store for an upload in progress (streamed into it by
    /// the caller, then [`Ledger::adopt_blob`]ed or removed).
    pub fn blob_upload_path(&self, sha256: &[u8; 32]) -> Result<PathBuf, Error> {
        let tmp_dir = self.path().join("blobs").join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
        Ok(tmp_dir.join(format!(
            "{}.{}.{}",
            hex::encode(sha256),
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        )))
    }

    /// Makes the uploaded file `tmp` the blob `sha256`: its bytes are hashed again (they must
    /// be `sha256`, else [`Error::BlobDigestMismatch`]), fsynced, renamed into place and the
    /// directory fsynced — the durability contract of [`Ledger::put_blob`]. `tmp` is gone
    /// afterwards whatever the outcome. Memory stays bounded whatever the blob's size.
    pub fn adopt_blob(&self, tmp: &Path, sha256: &[u8; 32]) -> Result<BlobStored, Error> {
        let outcome = self.adopt_blob_inner(tmp, sha256);
        if tmp.exists() {
            let _ = std::fs::remove_file(tmp);
        }
        outcome
    }

    /// [`Ledger::adopt_blob`] for an upload whose bytes were hashed as they were written:
    /// `actual` is their SHA-256, so the file is not read again (a multi-GiB artifact is read
    /// once, not twice). `tmp` is gone afterwards whatever the outcome.
    pub fn adopt_hashed_blob(
        &self,
        tmp: &Path,
        sha256: &[u8; 32],
        actual: &[u8; 32],
    ) -> Result<BlobStored, Error> {
        let outcome = File::open(tmp)
            .map_err(|e| Error::io(tmp, e))
            .and_then(|file| self.place_blob(tmp, &file, sha256, actual));
        if tmp.exists() {
            let _ = std::fs::remove_file(tmp);
        }
        outcome
    }

    fn adopt_blob_inner(&self, tmp: &Path, sha256: &[u8; 32]) -> Result<BlobStored, Error> {
        let mut file = File::open(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(tmp, e))?;
        let actual: [u8; 32] = hasher.finalize().into();
        self.place_blob(tmp, &file, sha256, &actual)
    }

    /// The end of an adoption: refuses bytes that are not `sha256`, else makes `tmp` durable
    /// under its name (unless the store already holds it).
    fn place_blob(
        &self,
        tmp: &Path,
        file: &File,
        sha256: &[u8; 32],
        actual: &[u8; 32],
    ) -> Result<BlobStored, Error> {
        let actual = *actual;
        if &actual != sha256 {
            return Err(Error::BlobDigestMismatch {
                expected: *sha256,
                actual,
            });
        }
        if self.has_blob(sha256)? {
            return Ok(BlobStored::Existing);
        }
        file.sync_all().map_err(|e| Error::io(tmp, e))?;
        let path = blob_path(self.path(), sha256);
        let dir = path
            .parent()
            .ok_or(Error::Bug("a blob path has no parent"))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(tmp, &path).map_err(|e| Error::io(&path, e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))?;
        Ok(BlobStored::Created)
    }
}

/// Where blob `sha256` lives under the data directory `data`.
pub fn blob_path(data: &Path, sha256: &[u8; 32]) -> PathBuf {
    let hex = hex::encode(sha256);
    data.join("blobs").join("sha256").join(&hex[..2]).join(hex)
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprove_verifier::note::NoteSigner;

    fn log() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("example.com/blobs", &[1; 32]).unwrap();
        Ledger::init(dir.path(), &signer).unwrap();
        let (ledger, _writer) = Ledger::open(dir.path(), signer).unwrap();
        (dir, ledger)
    }

    fn digest(bytes: &[u8]) -> [u8; 32] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn a_blob_round_trips_once_and_is_never_rewritten() {
        let (_dir, ledger) = log();
        let bytes = b"build log\n";
        let d = digest(bytes);
        assert_eq!(ledger.blob(&d).unwrap(), None);
        assert_eq!(ledger.put_blob(&d, bytes).unwrap(), BlobStored::Created);
        let path = blob_path(ledger.path(), &d);
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(ledger.put_blob(&d, bytes).unwrap(), BlobStored::Existing);
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        assert_eq!(ledger.blob(&d).unwrap().as_deref(), Some(&bytes[..]));
        // No temporary file is left behind.
        let tmp = ledger.path().join("blobs/tmp");
        assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
    }

    #[test]
    fn a_bounded_read_refuses_blobs_over_its_bound() {
        let (_dir, ledger) = log();
        let bytes = b"0123456789";
        let d = digest(bytes);
        assert_eq!(ledger.blob_at_most(&d, 10).unwrap(), BoundedBlob::Missing);
        ledger.put_blob(&d, bytes).unwrap();
        assert_eq!(
            ledger.blob_at_most(&d, 10).unwrap(),
            BoundedBlob::Bytes(bytes.to_vec())
        );
        assert_eq!(ledger.blob_at_most(&d, 9).unwrap(), BoundedBlob::TooLarge);
        // Still checked against its name when it fits.
        std::fs::write(blob_path(ledger.path(), &d), b"0123456780").unwrap();
        assert!(ledger.blob_at_most(&d, 10).is_err());
    }

    #[test]
    fn wrong_bytes_are_refused_and_nothing_is_written() {
        let (_dir, ledger) = log();
        let d = digest(b"one");
        let e = ledger.put_blob(&d, b"two").unwrap_err();
        assert!(matches!(e, Error::BlobDigestMismatch { .. }), "{e}");
        assert!(!ledger.has_blob(&d).unwrap());
        assert!(!ledger.path().join("blobs").exists());
    }

    #[test]
    fn an_uploaded_file_is_adopted_only_when_its_bytes_match() {
        let (_dir, ledger) = log();
        let d = digest(b"streamed");
        let tmp = ledger.blob_upload_path(&d).unwrap();
        std::fs::write(&tmp, b"something else").unwrap();
        let e = ledger.adopt_blob(&tmp, &d).unwrap_err();
        assert!(matches!(e, Error::BlobDigestMismatch { .. }), "{e}");
        assert!(!tmp.exists() && !ledger.has_blob(&d).unwrap());
        let tmp = ledger.blob_upload_path(&d).unwrap();
        std::fs::write(&tmp, b"streamed").unwrap();
        assert_eq!(ledger.adopt_blob(&tmp, &d).unwrap(), BlobStored::Created);
        assert_eq!(ledger.blob(&d).unwrap().as_deref(), Some(&b"streamed"[..]));
        let tmp = ledger.blob_upload_path(&d).unwrap();
        std::fs::write(&tmp, b"streamed").unwrap();
        assert_eq!(ledger.adopt_blob(&tmp, &d).unwrap(), BlobStored::Existing);
        assert_eq!(
            std::fs::read_dir(ledger.path().join("blobs/tmp"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_corrupted_blob_is_an_integrity_error() {
        let (_dir, ledger) = log();
        let d = digest(b"original");
        ledger.put_blob(&d, b"original").unwrap();
        std::fs::write(blob_path(ledger.path(), &d), b"tampered").unwrap();
        let e = ledger.blob(&d).unwrap_err();
        assert!(
            matches!(e, Error::Integrity(Integrity::BlobCorrupt(_))),
            "{e}"
        );
    }

    #[test]
    fn the_log_still_opens_with_blobs_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("example.com/blobs", &[1; 32]).unwrap();
        Ledger::init(dir.path(), &signer).unwrap();
        {
            let (ledger, _w) = Ledger::open(dir.path(), signer.clone()).unwrap();
            ledger.put_blob(&digest(b"x"), b"x").unwrap();
        }
        let (ledger, _w) = Ledger::open(dir.path(), signer).unwrap();
        assert_eq!(
            ledger.blob(&digest(b"x")).unwrap().as_deref(),
            Some(&b"x"[..])
        );
    }
}
