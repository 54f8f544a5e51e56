//! Streaming digests: sha256 and blake3 of the same bytes in one read pass.
//!
//! sha256 is the digest every attestation is matched on; blake3 is recorded beside it. Reading
//! the file once and hashing it twice in sequence would cost the sum of both; here a second
//! thread runs blake3 on each chunk while this thread runs sha256 on it, so the pair costs about
//! as much as the slower of the two (sha256, with SHA-NI about 2 GB/s) plus the read.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use sha2::{Digest as _, Sha256};

/// Chunk size: large enough that the per-chunk hand-off between threads is noise, small enough
/// that two chunks in flight stay in cache.
const CHUNK: usize = 1 << 20;

/// What one pass over some bytes produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigests {
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// BLAKE3 of the bytes.
    pub blake3: [u8; 32],
    /// How many bytes there were.
    pub size: u64,
}

impl FileDigests {
    /// The sha256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The blake3 as lowercase hex.
    pub fn blake3_hex(&self) -> String {
        hex::encode(self.blake3)
    }
}

/// Hashes everything `reader` yields with sha256 and blake3 together. `progress` is called with
/// the number of bytes of each chunk read (for progress bars).
pub fn hash_reader(
    mut reader: impl Read,
    mut progress: impl FnMut(u64),
) -> io::Result<FileDigests> {
    let (to_blake3, chunks) = mpsc::sync_channel::<Arc<Vec<u8>>>(2);
    let worker = thread::spawn(move || {
        let mut hasher = blake3::Hasher::new();
        for chunk in chunks {
            hasher.update(&chunk);
        }
        *hasher.finalize().as_bytes()
    });
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let result = loop {
        let mut buf = vec![0u8; CHUNK];
        let n = match read_full(&mut reader, &mut buf) {
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        if n == 0 {
            break Ok(());
        }
        buf.truncate(n);
        let chunk = Arc::new(buf);
        // The worker only stops when the channel closes, so a send cannot fail while it runs.
        if to_blake3.send(Arc::clone(&chunk)).is_err() {
            break Err(io::Error::other("the blake3 worker stopped"));
        }
        sha.update(&chunk[..]);
        size += n as u64;
        progress(n as u64);
    };
    drop(to_blake3);
    let blake3 = worker
        .join()
        .map_err(|_| io::Error::other("the blake3 worker panicked"))?;
    result?;
    Ok(FileDigests {
        sha256: sha.finalize().into(),
        blake3,
        size,
    })
}

/// Hashes a file with sha256 and blake3 together.
pub fn hash_file(path: &Path, progress: impl FnMut(u64)) -> io::Result<FileDigests> {
    hash_reader(File::open(path)?, progress)
}

/// Hashes bytes in memory with sha256 and blake3.
pub fn hash_bytes(bytes: &[u8]) -> FileDigests {
    FileDigests {
        sha256: Sha256::digest(bytes).into(),
        blake3: *blake3::hash(bytes).as_bytes(),
        size: bytes.len() as u64,
    }
}

/// Fills `buf` as far as the reader allows; returns how many bytes were read (0 at the end).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_matches_each_digest_alone() {
        // Sizes around the chunk boundary, and empty input.
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut seen = 0;
            let got = hash_reader(&bytes[..], |n| seen += n).unwrap();
            assert_eq!(got, hash_bytes(&bytes), "len {len}");
            assert_eq!(seen, len as u64);
        }
    }

    #[test]
    fn known_digests_of_the_empty_input() {
        let d = hash_reader(&b""[..], |_| {}).unwrap();
        assert_eq!(
            d.sha256_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            d.blake3_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn a_read_error_is_reported() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = hash_reader(Failing, |_| {}).unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
    }
}
