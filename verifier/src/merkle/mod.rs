//! RFC 6962 / RFC 9162 Merkle trees over SHA-256.
//!
//! - Hashing: [`leaf_hash`], [`node_hash`], [`empty_root`], [`leaf_hashes`].
//! - Verification of inclusion and consistency proofs ([`verify_inclusion`],
//!   [`verify_consistency`]), with the exact proof length enforced: a proof with a component
//!   too many or too few is rejected even when the extra bytes would not change the result.
//! - Generation of proofs, roots and right edges from stored hashes ([`inclusion_proof`],
//!   [`consistency_proof`], [`root_from_reader`], [`RightEdge`]), behind the narrow
//!   [`HashReader`] trait so that the ledger can back it with RocksDB and a client with fetched
//!   tiles.

mod generate;

pub use generate::{
    Appended, GenerateError, HashReader, NodeId, ProofNodes, RightEdge, compact_range,
    consistency_nodes, consistency_proof, fold_compact_range, inclusion_nodes, inclusion_proof,
    node_inclusion_nodes, node_inclusion_proof, right_edge_from_reader, root_from_reader,
};

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The size of a [`Hash`](type@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// Errors from proof verification. Every variant means "this proof does not prove the claim".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("proof has {got} hashes, a proof for these sizes has exactly {want}")]
    WrongProofLength { got: usize, want: usize },
    #[error("tree size {second} is smaller than {first}: a log cannot shrink")]
    SizeDecreased { first: u64, second: u64 },
    #[error("a consistency proof from the empty tree proves nothing and must be empty")]
    NonEmptyProofFromEmptyTree,
    #[error("the trees have the same size but different root hashes")]
    EqualSizesDifferentRoots,
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
    #[error("the tree of size 0 has one root, SHA-256 of the empty string; this is another")]
    NotEmptyTreeRoot,
    #[error("{what} is {len} bytes; a SHA-256 hash is 32")]
    NotAHash { what: &'static str, len: usize },
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The leaf hash of an entry: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256_short(&[&[1], left, right])
}

/// The most bytes [`sha256_short`] hashes: two blocks less the padding's 9 bytes.
pub const SHORT_MAX: usize = 2 * 64 - 9;

/// SHA-256 of the concatenation of `parts`, at most [`SHORT_MAX`] bytes: padded here and run
/// through the block function directly, which takes 6–8 % less time than the streaming hasher
/// for a node (`cargo bench -p reprove-verifier -- node_hash`; README, "Benchmarks"). Panics
/// on longer input (every caller hashes a fixed size).
pub fn sha256_short(parts: &[&[u8]]) -> Hash {
    type Block = sha2::digest::generic_array::GenericArray<u8, sha2::digest::consts::U64>;
    const IV: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut buf = [0u8; 128];
    let mut len = 0;
    for part in parts {
        assert!(
            len + part.len() <= SHORT_MAX,
            "sha256_short: input too long"
        );
        buf[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    buf[len] = 0x80;
    let end = if len + 9 <= 64 { 64 } else { 128 };
    buf[end - 8..end].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    let mut state = IV;
    for block in buf[..end].chunks_exact(64) {
        sha2::compress256(&mut state, std::slice::from_ref(Block::from_slice(block)));
    }
    let mut out = [0u8; 32];
    for (bytes, word) in out.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Leaf hashes for many entries at once.
///
/// Uses the available cores when the batch is large enough to pay for the threads; the result
/// is in input order either way.
pub fn leaf_hashes<E: AsRef<[u8]> + Sync>(entries: &[E]) -> Vec<Hash> {
    const PER_THREAD_MIN: usize = 512;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || entries.len() < 2 * PER_THREAD_MIN {
        return entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
    }
    let chunk = entries.len().div_ceil(threads);
    let mut out = vec![[0u8; 32]; entries.len()];
    std::thread::scope(|s| {
        for (inp, outp) in entries.chunks(chunk).zip(out.chunks_mut(chunk)) {
            s.spawn(move || {
                for (e, o) in inp.iter().zip(outp.iter_mut()) {
                    *o = leaf_hash(e.as_ref());
                }
            });
        }
    });
    out
}

/// The number of hashes in an inclusion proof for `index` in a tree of `size` (`index < size`).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (inner, border) = decomp_inclusion(index, size);
    inner + border
}

/// Splits an inclusion proof into the part below the point where the leaf's path leaves the
/// right border (`inner`) and the part along the border (`border`).
fn decomp_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    // `inner` is 64 when the path leaves the border at the root of a tree over 2^63 leaves;
    // a plain shift by 64 would overflow.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones() as usize;
    let inner = inner as usize;
    (inner, border)
}

/// [`verify_inclusion`] for hashes as decoded from the wire (base64 proof lines, JSON): every
/// length is checked here, so a caller never has to trust that an untrusted value is a hash.
pub fn verify_inclusion_bytes<P: AsRef<[u8]>>(
    leaf: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), ProofError> {
    let leaf = to_hash("leaf hash", leaf)?;
    let root = to_hash("root hash", root)?;
    let proof = to_hashes(proof)?;
    verify_inclusion(&leaf, index, size, &proof, &root)
}

/// [`verify_consistency`] for hashes as decoded from the wire.
///
/// Trees of equal size are consistent exactly when the proof is empty and the two roots are
/// the same bytes (for size 0, the empty-tree root); that claim needs no hashing, so it is
/// decided on the bytes as given. Every other case needs real hashes: each proof element and
/// both roots must be 32 bytes.
pub fn verify_consistency_bytes<P: AsRef<[u8]>>(
    first: u64,
    second: u64,
    proof: &[P],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if first == second && first != 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::EqualSizesDifferentRoots)
        };
    }
    let proof = to_hashes(proof)?;
    let root1 = to_hash("first root", root1)?;
    let root2 = to_hash("second root", root2)?;
    verify_consistency(first, second, &proof, &root1, &root2)
}

fn to_hash(what: &'static str, bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::NotAHash {
        what,
        len: bytes.len(),
    })
}

fn to_hashes<P: AsRef<[u8]>>(proof: &[P]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .map(|p| to_hash("proof hash", p.as_ref()))
        .collect()
}

/// Verifies that `leaf` is at `index` in the tree of `size` with root `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(leaf, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Computes the root that an inclusion proof leads to (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let mut r = *leaf;
    let end = climb(index, size - 1, proof, |p, left| {
        r = if left {
            node_hash(p, &r)
        } else {
            node_hash(&r, p)
        };
    });
    // With the length checked above the walk always ends at the root.
    debug_assert_eq!(end, Some(0));
    Ok(r)
}

/// RFC 9162's verification loop: climbs from node `f` of a tree whose last node is `s`,
/// telling `join` each proof hash and whether it is the left sibling of the path so far.
/// Returns where `s` ended (`0`: at the root), or `None` when the proof runs past the root.
fn climb(mut f: u64, mut s: u64, proof: &[Hash], mut join: impl FnMut(&Hash, bool)) -> Option<u64> {
    for p in proof {
        if s == 0 {
            return None;
        }
        let left = f & 1 == 1 || f == s;
        join(p, left);
        if left {
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        }
        f >>= 1;
        s >>= 1;
    }
    Some(s)
}

/// The root of a perfect subtree from its `2^k` bottom hashes (a tile's, an auditor's level
/// of 256): the node `2^k` leaves up. Empty: the empty-tree root.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => empty_root(),
        [h] => *h,
        _ => {
            let (left, right) = hashes.split_at(hashes.len() / 2);
            node_hash(&perfect_root(left), &perfect_root(right))
        }
    }
}

/// The number of hashes in a consistency proof from `first` to `second` (`0 < first < second`).
pub fn consistency_proof_len(first: u64, second: u64) -> usize {
    let level = first.trailing_zeros() as usize;
    let (inner, border) = decomp_inclusion(first - 1, second);
    let (inner, border) = (inner - level, border);
    // When `first` is a power of two its root is a node of the second tree and is not sent.
    usize::from(first != 1 << level) + inner + border
}

/// Verifies that the tree of size `second` with root `root2` extends the tree of size `first`
/// with root `root1` (RFC 9162 §2.1.4.2).
///
/// `first == second` needs an empty proof and equal roots. `first == 0` is "nothing to prove":
/// the empty tree is a prefix of every tree, and the proof must be empty. Either way a size-0
/// root must be the empty-tree root: a log that claims otherwise for its empty tree is lying.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if second < first {
        return Err(ProofError::SizeDecreased { first, second });
    }
    if first == second || first == 0 {
        return verify_trivial_consistency(first, second, proof, root1, root2);
    }
    let want = consistency_proof_len(first, second);
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let (fr, sr, complete) =
        consistency_roots(first, second, proof, root1).ok_or(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        })?;
    if complete && fr == *root1 && sr == *root2 {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The cases with nothing to prove: equal sizes (empty proof, equal roots) and `first == 0`
/// (the empty tree is a prefix of every tree; empty proof). A size-0 root must be the
/// empty-tree root.
fn verify_trivial_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        if first == 0 && *root1 != empty_root() {
            return Err(ProofError::NotEmptyTreeRoot);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::EqualSizesDifferentRoots)
        };
    }
    if *root1 != empty_root() {
        return Err(ProofError::NotEmptyTreeRoot);
    }
    if proof.is_empty() {
        Ok(())
    } else {
        Err(ProofError::NonEmptyProofFromEmptyTree)
    }
}

/// The roots of the trees of sizes `first` and `second` that a consistency proof of the right
/// length implies (`0 < first < second`), and whether the proof reached the second tree's
/// root; `None` when it runs past it (RFC 9162 §2.1.4.2's algorithm).
fn consistency_roots(
    first: u64,
    second: u64,
    proof: &[Hash],
    root1: &Hash,
) -> Option<(Hash, Hash, bool)> {
    // When `first` is a power of two its root is a node of the second tree and is the seed;
    // otherwise the proof starts with the seed.
    let (start, rest): (Hash, &[Hash]) = if first.is_power_of_two() {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    let end = climb(f, s, rest, |c, left| {
        if left {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
        } else {
            sr = node_hash(&sr, c);
        }
    })?;
    Some((fr, sr, end == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hashes_equal_the_streaming_hasher_at_every_length_and_split() {
        let bytes: Vec<u8> = (0..=SHORT_MAX as u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..=SHORT_MAX {
            let input = &bytes[..len];
            let want: Hash = Sha256::digest(input).into();
            assert_eq!(sha256_short(&[input]), want, "length {len}");
            let (a, rest) = input.split_at(len / 3);
            let (b, c) = rest.split_at(rest.len() / 2);
            assert_eq!(
                sha256_short(&[a, b, &[], c]),
                want,
                "length {len}, in parts"
            );
        }
        assert_eq!(sha256_short(&[]), empty_root());
    }

    #[test]
    #[should_panic(expected = "input too long")]
    fn a_short_hash_refuses_more_than_two_blocks_hold() {
        sha256_short(&[&[0; 100], &[0; 20]]);
    }

    fn h(hex: &str) -> Hash {
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root(),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn batch_leaf_hashes_match_single() {
        let entries: Vec<Vec<u8>> = (0u32..3000).map(|i| i.to_be_bytes().to_vec()).collect();
        let batch = leaf_hashes(&entries);
        for (e, b) in entries.iter().zip(&batch) {
            assert_eq!(leaf_hash(e), *b);
        }
    }

    /// Regression: sizes above 2^63 made the proof-length arithmetic shift by 64 and panic.
    #[test]
    fn huge_tree_sizes_do_not_panic() {
        let size = u64::MAX;
        assert_eq!(inclusion_proof_len(0, size), 64);
        assert_eq!(inclusion_proof_len(size - 1, size), 63);
        let leaf = leaf_hash(b"x");
        assert!(verify_inclusion(&leaf, 1 << 63, size, &[[0; 32]; 3], &leaf).is_err());
        assert!(verify_consistency(1 << 63, size, &[[0; 32]; 2], &leaf, &leaf).is_err());
        assert!(verify_consistency((1 << 63) + 1, size, &[], &leaf, &leaf).is_err());
    }

    #[test]
    fn proof_lengths() {
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(0, 8), 3);
        assert_eq!(inclusion_proof_len(6, 7), 2);
        assert_eq!(inclusion_proof_len(4, 5), 1);
        assert_eq!(consistency_proof_len(4, 8), 1);
        assert_eq!(consistency_proof_len(3, 8), 4);
        assert_eq!(consistency_proof_len(1, 2), 1);
    }
}
