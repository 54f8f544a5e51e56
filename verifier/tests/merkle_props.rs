//! Property tests for Merkle proof generation and verification over random trees.
//!
//! Oracles, all independent of the code under test:
//! - `rs_merkle` with an RFC 6962 node hasher, for roots and inclusion paths;
//! - the RFC 6962 recursive definitions (`MTH`, `PATH`, `SUBPROOF`) written out below, for
//!   roots and consistency proofs;
//! - recursive reference verifiers that walk the RFC definitions instead of the bit tricks of
//!   RFC 9162, for which claims a proof proves (differential testing of every corruption).
//!
//! The stored hashes of one large tree are built once; every smaller tree is a prefix of it.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use reprove_verifier::merkle::{
    Hash, HashReader, NodeId, RightEdge, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, root_from_reader, verify_consistency, verify_inclusion,
};
use reprove_verifier::tiles::{Tile, TileHashReader, tree_tiles};
use sha2::{Digest, Sha256};

/// Leaves in the shared tree: enough for three tile levels.
const BIG: u64 = 140_000;

/// The largest tree compared with `rs_merkle`, which is rebuilt per case.
const ORACLE_MAX: u64 = 4_000;

struct Fixture {
    leaves: Vec<Hash>,
    /// `perfect[l][i]`: the hash of the perfect subtree of height `l` at index `i`, built
    /// level by level by pairing, independently of the code under test.
    perfect: Vec<Vec<Hash>>,
    /// What the appender stored, in batches.
    nodes: HashMap<NodeId, Hash>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let leaves: Vec<Hash> = (0..BIG).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut perfect = vec![leaves.clone()];
        while let Some(below) = perfect.last().filter(|l| l.len() > 1) {
            let above = below
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            perfect.push(above);
        }
        let mut edge = RightEdge::empty();
        let mut nodes = HashMap::new();
        for batch in leaves.chunks(977) {
            let appended = edge.append(batch).unwrap();
            nodes.extend(appended.nodes);
            edge = appended.edge;
        }
        Fixture {
            leaves,
            perfect,
            nodes,
        }
    })
}

impl Fixture {
    /// RFC 6962 `MTH(D[a:b])`, by its recursive definition, with perfect subtrees looked up.
    fn mth(&self, a: u64, b: u64) -> Hash {
        let n = b - a;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && a.is_multiple_of(n) {
            return self.perfect[n.trailing_zeros() as usize][(a / n) as usize];
        }
        let k = split(n);
        node_hash(&self.mth(a, a + k), &self.mth(a + k, b))
    }

    /// The root of the first `n` leaves.
    fn root(&self, n: u64) -> Hash {
        self.mth(0, n)
    }

    /// RFC 6962 `SUBPROOF(m, D[a:b], flag)`.
    fn subproof(&self, m: u64, a: u64, b: u64, flag: bool) -> Vec<Hash> {
        let n = b - a;
        if m == n {
            return if flag {
                Vec::new()
            } else {
                vec![self.mth(a, b)]
            };
        }
        let k = split(n);
        let (mut p, sibling) = if m <= k {
            (self.subproof(m, a, a + k, flag), self.mth(a + k, b))
        } else {
            (self.subproof(m - k, a + k, b, false), self.mth(a, a + k))
        };
        p.push(sibling);
        p
    }
}

/// The shared store seen as a tree of `size` leaves. It fails any read of a node that is not
/// complete in that tree and counts reads, so both halves of the reader contract are checked.
struct Store<'a> {
    nodes: &'a HashMap<NodeId, Hash>,
    size: u64,
    reads: Cell<usize>,
}

impl<'a> Store<'a> {
    fn new(size: u64) -> Self {
        Self {
            nodes: &fixture().nodes,
            size,
            reads: Cell::new(0),
        }
    }
}

impl HashReader for Store<'_> {
    type Error = NodeId;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
        self.reads.set(self.reads.get() + 1);
        ids.iter()
            .map(|id| match self.nodes.get(id) {
                Some(h) if id.is_complete_in(self.size) => Ok(*h),
                _ => Err(*id),
            })
            .collect()
    }
}

/// rs_merkle's node hasher for RFC 6962: `hash(left || right) = SHA-256(0x01 || left || right)`.
/// Leaves are fed as already-computed leaf hashes.
#[derive(Clone)]
struct Rfc6962;

impl rs_merkle::Hasher for Rfc6962 {
    type Hash = Hash;
    fn hash(data: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(data);
        h.finalize().into()
    }
}

fn oracle(leaves: &[Hash]) -> rs_merkle::MerkleTree<Rfc6962> {
    rs_merkle::MerkleTree::<Rfc6962>::from_leaves(leaves)
}

/// `k`: the largest power of two strictly below `n` (n > 1).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The root an inclusion proof leads to, by the recursion of RFC 6962 `PATH` (the last proof
/// hash is the sibling at the top).
fn ref_inclusion_root(m: u64, n: u64, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
    if n == 1 {
        return proof.is_empty().then_some(*leaf);
    }
    let (top, rest) = proof.split_last()?;
    let k = split(n);
    if m < k {
        Some(node_hash(&ref_inclusion_root(m, k, leaf, rest)?, top))
    } else {
        Some(node_hash(
            top,
            &ref_inclusion_root(m - k, n - k, leaf, rest)?,
        ))
    }
}

fn ref_verify_inclusion(m: u64, n: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    m < n && ref_inclusion_root(m, n, leaf, proof) == Some(*root)
}

/// The (old, new) roots a consistency proof leads to, by the recursion of RFC 6962 `SUBPROOF`.
fn ref_consistency_roots(
    m: u64,
    n: u64,
    b: bool,
    root1: &Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    if m == n {
        return match (b, proof) {
            (true, []) => Some((*root1, *root1)),
            (false, [x]) => Some((*x, *x)),
            _ => None,
        };
    }
    let (top, rest) = proof.split_last()?;
    let k = split(n);
    if m <= k {
        let (old, new) = ref_consistency_roots(m, k, b, root1, rest)?;
        Some((old, node_hash(&new, top)))
    } else {
        let (old, new) = ref_consistency_roots(m - k, n - k, false, root1, rest)?;
        Some((node_hash(top, &old), node_hash(top, &new)))
    }
}

fn ref_verify_consistency(m: u64, n: u64, proof: &[Hash], root1: &Hash, root2: &Hash) -> bool {
    match (m, n) {
        _ if m > n => false,
        // MTH({}) is SHA-256(""): the empty tree has exactly one root.
        (0, _) if *root1 != empty_root() => false,
        _ if m == n => proof.is_empty() && root1 == root2,
        (0, _) => proof.is_empty(),
        _ => ref_consistency_roots(m, n, true, root1, proof) == Some((*root1, *root2)),
    }
}

/// Every corruption of a proof: each single-bit flip, each hash removed, a foreign hash or a
/// copy of a neighbour inserted at each position, each hash duplicated in place.
fn corruptions(proof: &[Hash], foreign: Hash) -> Vec<(String, Vec<Hash>)> {
    let mut out = Vec::new();
    for i in 0..proof.len() {
        for bit in 0..256 {
            let mut p = proof.to_vec();
            p[i][bit / 8] ^= 1 << (bit % 8);
            out.push((format!("bit {bit} of hash {i} flipped"), p));
        }
        let mut p = proof.to_vec();
        p.remove(i);
        out.push((format!("hash {i} removed"), p));
        let mut p = proof.to_vec();
        p.insert(i, proof[i]);
        out.push((format!("hash {i} duplicated"), p));
    }
    for i in 0..=proof.len() {
        let mut p = proof.to_vec();
        p.insert(i, foreign);
        out.push((format!("foreign hash inserted at {i}"), p));
        if let Some(&neighbour) = proof.get(i.saturating_sub(1)) {
            let mut p = proof.to_vec();
            p.insert(i, neighbour);
            out.push((
                format!("copy of hash {} inserted at {i}", i.saturating_sub(1)),
                p,
            ));
        }
    }
    out
}

/// Sizes around `n` that a verifier must not confuse with it.
fn nearby(n: u64, extra: u64) -> Vec<u64> {
    let mut v = vec![
        n.saturating_sub(1),
        n + 1,
        n * 2,
        n / 2,
        n ^ 1,
        n ^ 2,
        extra,
        n.next_power_of_two(),
    ];
    v.retain(|&x| x != n);
    v
}

fn check_inclusion(size: u64, index: u64, other: u64) -> Result<(), TestCaseError> {
    let f = fixture();
    let store = Store::new(size);
    let root = f.root(size);
    let leaf = f.leaves[index as usize];
    let proof = inclusion_proof(&store, index, size).unwrap();
    prop_assert_eq!(store.reads.get(), usize::from(!proof.is_empty()));
    prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));
    prop_assert!(ref_verify_inclusion(index, size, &leaf, &proof, &root));

    for (what, bad) in corruptions(&proof, f.leaves[(other % size) as usize]) {
        prop_assert!(
            verify_inclusion(&leaf, index, size, &bad, &root).is_err(),
            "{} accepted",
            what
        );
        prop_assert!(
            !ref_verify_inclusion(index, size, &leaf, &bad, &root),
            "ref: {}",
            what
        );
    }
    for wrong in nearby(index, other % size)
        .into_iter()
        .filter(|&i| i < size)
    {
        prop_assert!(
            verify_inclusion(&leaf, wrong, size, &proof, &root).is_err(),
            "index {}",
            wrong
        );
    }
    if size > 1 {
        let other_leaf = f.leaves[((index + 1) % size) as usize];
        prop_assert!(verify_inclusion(&other_leaf, index, size, &proof, &root).is_err());
    }
    for wrong in nearby(size, other % BIG + 1) {
        // With the root the proof was made for, a different size is accepted exactly when the
        // RFC 6962 recursion says the same hashes prove it (same path shape); with the real root
        // of the other size, never.
        let ours = verify_inclusion(&leaf, index, wrong, &proof, &root).is_ok();
        prop_assert_eq!(
            ours,
            ref_verify_inclusion(index, wrong, &leaf, &proof, &root),
            "size {}",
            wrong
        );
        if wrong <= BIG && index < wrong {
            let their_root = f.root(wrong);
            prop_assert!(verify_inclusion(&leaf, index, wrong, &proof, &their_root).is_err());
        }
    }
    Ok(())
}

fn check_consistency(first: u64, second: u64, other: u64) -> Result<(), TestCaseError> {
    let f = fixture();
    let store = Store::new(second);
    let root1 = f.root(first);
    let root2 = f.root(second);
    let proof = consistency_proof(&store, first, second).unwrap();
    prop_assert_eq!(store.reads.get(), usize::from(!proof.is_empty()));
    let want = if first == 0 || first == second {
        Vec::new()
    } else {
        f.subproof(first, 0, second, true)
    };
    prop_assert_eq!(&proof, &want);
    prop_assert_eq!(
        verify_consistency(first, second, &proof, &root1, &root2),
        Ok(())
    );
    prop_assert!(ref_verify_consistency(
        first, second, &proof, &root1, &root2
    ));
    if proof.is_empty() {
        return Ok(());
    }
    for (what, bad) in corruptions(&proof, f.leaves[(other % second) as usize]) {
        prop_assert!(
            verify_consistency(first, second, &bad, &root1, &root2).is_err(),
            "{} accepted",
            what
        );
        prop_assert!(
            !ref_verify_consistency(first, second, &bad, &root1, &root2),
            "ref: {}",
            what
        );
    }
    prop_assert!(verify_consistency(first, second, &proof, &root2, &root1).is_err());
    let mut pairs: Vec<(u64, u64)> = nearby(first, other % second)
        .into_iter()
        .map(|m| (m, second))
        .collect();
    pairs.extend(
        nearby(second, other % BIG + 1)
            .into_iter()
            .map(|n| (first, n)),
    );
    for (m, n) in pairs {
        let ours = verify_consistency(m, n, &proof, &root1, &root2).is_ok();
        prop_assert_eq!(
            ours,
            ref_verify_consistency(m, n, &proof, &root1, &root2),
            "{} -> {}",
            m,
            n
        );
        if m <= n && n <= BIG {
            let (r1, r2) = (f.root(m), f.root(n));
            prop_assert!(
                verify_consistency(m, n, &proof, &r1, &r2).is_err(),
                "true roots of {} -> {}",
                m,
                n
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Roots and inclusion paths agree with rs_merkle, and every generated proof verifies.
    #[test]
    fn inclusion_proofs(size in 1..=ORACLE_MAX, picks in prop::array::uniform4(any::<u64>())) {
        let f = fixture();
        let leaves = &f.leaves[..size as usize];
        let tree = oracle(leaves);
        let root = root_from_reader(&Store::new(size), size).unwrap();
        prop_assert_eq!(Some(root), tree.root());
        prop_assert_eq!(root, f.root(size));
        let mut indices = vec![0, size - 1, picks[0] % size, picks[1] % size];
        indices.dedup();
        for index in indices {
            let ours = inclusion_proof(&Store::new(size), index, size).unwrap();
            // rs_merkle lists proof hashes bottom-up, leaf sibling first, like RFC 9162.
            let theirs = tree.proof(&[index as usize]);
            prop_assert_eq!(ours.as_slice(), theirs.proof_hashes(), "index {}", index);
            check_inclusion(size, index, picks[2])?;
        }
    }

    /// Consistency proofs are RFC 6962 `SUBPROOF`, verify, and nothing corrupted does.
    #[test]
    fn consistency_proofs(second in 1..=ORACLE_MAX, picks in prop::array::uniform4(any::<u64>())) {
        let mut firsts = vec![0, 1, second, second - 1, picks[0] % second, picks[1] % second];
        firsts.push(1 << (63 - second.leading_zeros()));
        firsts.sort_unstable();
        firsts.dedup();
        for first in firsts {
            check_consistency(first, second, picks[2])?;
        }
    }

    /// Large trees: the same properties without rs_merkle, sizes across tile levels.
    #[test]
    fn proofs_in_large_trees(size in ORACLE_MAX..=BIG, picks in prop::array::uniform4(any::<u64>())) {
        check_inclusion(size, picks[0] % size, picks[1])?;
        check_consistency(picks[2] % size, size, picks[3])?;
    }

    /// Tiles built from the stored hashes serve the same root and proofs, and every tile
    /// checks out against the root.
    #[test]
    fn tiles_reproduce_the_tree(size in prop_oneof![1..=2_000u64, 60_000..=BIG], picks in prop::array::uniform4(any::<u64>())) {
        let f = fixture();
        let mut reader = TileHashReader::new(size);
        let mut tiles = Vec::new();
        for level in tree_tiles(size) {
            for id in level.ids() {
                let base = 8 * u32::from(id.level());
                let hashes = (0..u64::from(id.width()))
                    .map(|e| f.nodes[&NodeId::new(base as u8, id.index() * 256 + e)])
                    .collect();
                let tile = Tile::new(id, hashes).unwrap();
                reader.insert(tile.clone()).unwrap();
                tiles.push(tile);
            }
        }
        let root = f.root(size);
        prop_assert_eq!(root_from_reader(&reader, size).unwrap(), root);
        let store = Store::new(size);
        let index = picks[0] % size;
        prop_assert_eq!(inclusion_proof(&reader, index, size).unwrap(), inclusion_proof(&store, index, size).unwrap());
        let first = picks[1] % size;
        prop_assert_eq!(consistency_proof(&reader, first, size).unwrap(), consistency_proof(&store, first, size).unwrap());
        // Check the tiles on the right edge and one more; checking all is quadratic.
        let n = tiles.len();
        for i in [0, n - 1, (picks[2] % n as u64) as usize] {
            prop_assert_eq!(reader.verify_tile(&tiles[i], &root), Ok(()));
        }
    }

    /// Appending in arbitrary batches stores exactly the complete nodes, once each.
    #[test]
    fn batched_appends(batches in prop::collection::vec(0usize..300, 1..20)) {
        let f = fixture();
        let mut edge = RightEdge::empty();
        let mut stored = HashMap::new();
        for len in batches {
            let start = edge.size() as usize;
            let appended = edge.append(&f.leaves[start..start + len]).unwrap();
            for (id, hash) in appended.nodes {
                prop_assert_eq!(f.nodes.get(&id), Some(&hash));
                prop_assert!(stored.insert(id, hash).is_none(), "{:?} stored twice", id);
            }
            edge = appended.edge;
            prop_assert_eq!(edge.root(), f.root(edge.size()));
        }
        let complete: u64 = (0..64).map(|l| edge.size() >> l).sum();
        prop_assert_eq!(stored.len() as u64, complete);
    }
}

/// The appender, fed in batches, stored exactly the perfect subtrees built by plain pairing.
#[test]
fn appender_stores_exactly_the_perfect_subtrees() {
    let f = fixture();
    let mut count = 0;
    for (level, hashes) in f.perfect.iter().enumerate() {
        for (index, hash) in hashes.iter().enumerate() {
            assert_eq!(
                f.nodes.get(&NodeId::new(level as u8, index as u64)),
                Some(hash)
            );
            count += 1;
        }
    }
    assert_eq!(f.nodes.len(), count);
}

/// rs_merkle's level-by-level pairing, promoting an odd last node, builds the RFC 6962 tree:
/// checked for every size up to 600, not assumed.
#[test]
fn rs_merkle_shape_is_rfc6962() {
    let f = fixture();
    for n in 1..=600 {
        assert_eq!(
            oracle(&f.leaves[..n as usize]).root(),
            Some(f.root(n)),
            "size {n}"
        );
    }
}

/// Exhaustively for small trees: every generated proof, checked at every claim, gets the same
/// verdict from our verifier and from the recursive reference, and the reference accepts only
/// the true claim or claims with the same path shape.
#[test]
fn small_trees_differential() {
    let f = fixture();
    let roots: Vec<Hash> = (0..=24).map(|n| f.root(n)).collect();
    for n in 1..=20u64 {
        for i in 0..n {
            let proof = inclusion_proof(&Store::new(n), i, n).unwrap();
            let leaf = f.leaves[i as usize];
            for n2 in 1..=24u64 {
                for i2 in 0..n2 {
                    let root = &roots[n as usize];
                    let ours = verify_inclusion(&leaf, i2, n2, &proof, root).is_ok();
                    assert_eq!(
                        ours,
                        ref_verify_inclusion(i2, n2, &leaf, &proof, root),
                        "{i}/{n} as {i2}/{n2}"
                    );
                    // In the same tree a proof is for one leaf only.
                    assert!(!ours || i2 == i || n2 != n, "{i}/{n} accepted as {i2}/{n2}");
                }
            }
        }
        for m in 0..=n {
            let proof = consistency_proof(&Store::new(n), m, n).unwrap();
            for n2 in 0..=24u64 {
                for m2 in 0..=n2 {
                    let (r1, r2) = (&roots[m as usize], &roots[n as usize]);
                    let ours = verify_consistency(m2, n2, &proof, r1, r2).is_ok();
                    assert_eq!(
                        ours,
                        ref_verify_consistency(m2, n2, &proof, r1, r2),
                        "{m}->{n} as {m2}->{n2}"
                    );
                }
            }
        }
    }
}

/// RFC 9162 verification binds a proof to a path shape, not to a tree size: the checkpoint
/// binds size and root together. Documented here so the size checks above are not mistaken for
/// "any other size is rejected".
#[test]
fn a_proof_binds_the_shape_not_the_size() {
    let f = fixture();
    let root4 = f.root(4);
    let proof = inclusion_proof(&Store::new(4), 0, 4).unwrap();
    assert_eq!(verify_inclusion(&f.leaves[0], 0, 3, &proof, &root4), Ok(()));
    let proof = consistency_proof(&Store::new(4), 2, 4).unwrap();
    let root2 = f.root(2);
    assert_eq!(verify_consistency(2, 3, &proof, &root2, &root4), Ok(()));
    // With the true root of the size claimed, both are rejected.
    let root3 = f.root(3);
    assert!(
        verify_inclusion(
            &f.leaves[0],
            0,
            3,
            &inclusion_proof(&Store::new(4), 0, 4).unwrap(),
            &root3
        )
        .is_err()
    );
    assert!(verify_consistency(2, 3, &proof, &root2, &root3).is_err());
}
