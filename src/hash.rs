//! Streaming digests: sha256 and blake3 of the same bytes in one read pass.
//!
//! sha256 is the digest every attestation is matched on; blake3 is recorded beside it. Reading
//! the file once and hashing it twice in sequence would cost the sum of both. Here a helper
//! thread reads each chunk and runs blake3 on it, while the caller's thread runs sha256 alone:
//! sha256 (about 1.3-2 GB/s with SHA-NI) is the slower of the two, so keeping reads and blake3
//! off its thread makes the pair cost about what sha256 alone costs. Chunk buffers circulate
//! between the two threads instead of being allocated per chunk (a fresh 1 MiB buffer costs
//! page faults every time).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use sha2::{Digest as _, Sha256};

/// Chunk size: large enough that the per-chunk hand-off between threads is noise, small enough
/// that the chunks in flight stay in cache.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the reader and the sha256 thread.
const IN_FLIGHT: usize = 4;

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
/// the number of bytes of each chunk hashed (for progress bars).
pub fn hash_reader(
    mut reader: impl Read + Send,
    mut progress: impl FnMut(u64),
) -> io::Result<FileDigests> {
    // Full chunks go to this thread; emptied buffers go back to the reader.
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..IN_FLIGHT + 1 {
        let _ = empty_tx.send(vec![0u8; CHUNK]);
    }
    thread::scope(|scope| {
        let reading = scope.spawn(move || -> io::Result<[u8; 32]> {
            let mut blake = blake3::Hasher::new();
            // The buffers only run out when the sha256 side has stopped: then stop too.
            while let Ok(mut buf) = empty_rx.recv() {
                buf.resize(CHUNK, 0);
                let n = read_full(&mut reader, &mut buf)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                blake.update(&buf);
                if full_tx.send(buf).is_err() {
                    break;
                }
            }
            Ok(*blake.finalize().as_bytes())
        });
        let mut sha = Sha256::new();
        let mut size = 0u64;
        for buf in full_rx {
            sha.update(&buf);
            size += buf.len() as u64;
            progress(buf.len() as u64);
            // The reader may have finished and dropped its receiver: nothing to return then.
            let _ = empty_tx.send(buf);
        }
        let blake3 = reading
            .join()
            .map_err(|_| io::Error::other("the reading thread panicked"))??;
        Ok(FileDigests {
            sha256: sha.finalize().into(),
            blake3,
            size,
        })
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
