//! Proof generation from stored hashes.
//!
//! The tree is append-only and left-complete, so every complete subtree is immutable: its hash
//! is written once and never rewritten. Everything here is computed from those stored complete
//! subtrees, which a caller serves through the narrow [`HashReader`] trait: the ledger backs it
//! with RocksDB, a client with tiles fetched over HTTP (`tiles::TileHashReader`).
//!
//! Nodes that are not complete in a tree of a given size ("ephemeral" nodes on the right
//! border) are never stored; a proof that needs one names the stored nodes that cover it
//! ([`ProofNodes`]) and folds them in memory.
//!
//! The write side is [`RightEdge::append`]: given the right edge at size `n` and a batch of
//! new leaf hashes it returns every newly completed node and the new edge, so the sequencer
//! integrates a batch without reading the tree back.

use std::convert::Infallible;
use std::ops::Range;

use super::{Hash, empty_root, node_hash};

/// A complete subtree: the node at height `level` whose leaves are
/// `[index * 2^level, (index + 1) * 2^level)`. Leaves are level 0.
///
/// This is the key a [`HashReader`] stores hashes under. In a tree of `u64` leaves the levels
/// that exist are `0..=63`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    /// The height of the subtree: 0 for a leaf.
    pub level: u8,
    /// The position of the subtree among the nodes of its level, from the left.
    pub index: u64,
}

impl NodeId {
    /// The node at `level`, `index`.
    pub const fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The leaf at `index`.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// Whether this node is a complete subtree of the tree of `size` leaves, i.e. whether a
    /// log of that size has stored its hash.
    pub fn is_complete_in(&self, size: u64) -> bool {
        self.level < 64 && (u128::from(self.index) + 1) << self.level <= u128::from(size)
    }
}

/// Read access to the hashes of stored complete subtrees.
///
/// The generators below make exactly one call per proof or root, with every node it needs,
/// so that an implementation can serve it with one batched read (a RocksDB `multi_get`, one
/// round of tile fetches). They only ever ask for nodes that are complete in the tree size
/// they were given, and make no call at all when they need no node.
pub trait HashReader {
    /// Why a read failed (storage error, missing tile, ...).
    type Error;

    /// Returns the hash of every node in `ids`, in the same order, one hash per id.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Self::Error>;
}

/// Why a proof, root or right edge could not be produced.
///
/// `IndexOutOfRange`, `SizeDecreased`, `NodeNotInTree`, `TreeFull` and `WrongEdgeLength` are
/// caller mistakes; `Read` is the reader's own failure; `WrongHashCount` means the reader broke
/// its contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError<E> {
    /// An inclusion proof was asked for a leaf the tree does not have.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("tree size {second} is smaller than {first}: a log cannot shrink")]
    SizeDecreased { first: u64, second: u64 },
    /// A node is not a complete subtree of the tree of that size.
    #[error("node at level {level}, index {index} is not complete in a tree of size {size}")]
    NodeNotInTree { level: u8, index: u64, size: u64 },
    /// Appending would take the tree past `u64::MAX` leaves.
    #[error("appending {added} leaves to a tree of size {size} overflows the tree size")]
    TreeFull { size: u64, added: usize },
    /// A right edge for `size` needs one hash per set bit of `size`.
    #[error("a right edge for tree size {size} has {want} hashes, got {got}")]
    WrongEdgeLength { size: u64, got: usize, want: usize },
    /// The reader failed.
    #[error("reading stored hashes failed")]
    Read(#[source] E),
    /// The reader returned a different number of hashes than it was asked for.
    #[error("the hash reader returned {got} hashes for {want} nodes")]
    WrongHashCount { got: usize, want: usize },
}

impl<E> GenerateError<E> {
    /// Separates a reader failure from the other variants, so that a reader whose own error
    /// type can absorb a proof-generation error (like `tiles::TileError`) can flatten the two.
    pub fn split_read(self) -> Result<E, GenerateError<Infallible>> {
        Err(match self {
            Self::Read(e) => return Ok(e),
            Self::IndexOutOfRange { index, size } => GenerateError::IndexOutOfRange { index, size },
            Self::SizeDecreased { first, second } => GenerateError::SizeDecreased { first, second },
            Self::NodeNotInTree { level, index, size } => {
                GenerateError::NodeNotInTree { level, index, size }
            }
            Self::TreeFull { size, added } => GenerateError::TreeFull { size, added },
            Self::WrongEdgeLength { size, got, want } => {
                GenerateError::WrongEdgeLength { size, got, want }
            }
            Self::WrongHashCount { got, want } => GenerateError::WrongHashCount { got, want },
        })
    }
}

/// The stored nodes a proof is made of, and how to turn their hashes into the proof.
///
/// A proof hash is either one stored node or, at most once per proof, an ephemeral node on the
/// right border of the tree: an incomplete subtree whose hash is the fold of the stored nodes
/// that cover it (`ids()[ephemeral()]`). Callers that prefetch read [`ids`](Self::ids) and pass
/// the hashes, in order, to [`rehash`](Self::rehash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofNodes {
    ids: Vec<NodeId>,
    ephemeral: Range<usize>,
}

impl ProofNodes {
    fn empty() -> Self {
        Self {
            ids: Vec::new(),
            ephemeral: 0..0,
        }
    }

    /// The stored nodes to read, in proof order.
    pub fn ids(&self) -> &[NodeId] {
        &self.ids
    }

    /// The positions in [`ids`](Self::ids) that fold into one ephemeral proof hash; empty when
    /// the proof has no ephemeral node.
    pub fn ephemeral(&self) -> Range<usize> {
        self.ephemeral.clone()
    }

    /// Turns the hashes of [`ids`](Self::ids) (same order) into the proof.
    pub fn rehash<E>(&self, hashes: Vec<Hash>) -> Result<Vec<Hash>, GenerateError<E>> {
        if hashes.len() != self.ids.len() {
            return Err(GenerateError::WrongHashCount {
                got: hashes.len(),
                want: self.ids.len(),
            });
        }
        let Range { start, end } = self.ephemeral.clone();
        if start == end {
            return Ok(hashes);
        }
        let mut proof = Vec::with_capacity(hashes.len() + 1 - (end - start));
        proof.extend_from_slice(&hashes[..start]);
        proof.push(fold_compact_range(&hashes[start..end]));
        proof.extend_from_slice(&hashes[end..]);
        Ok(proof)
    }

    /// Reads the nodes from `r` with one call and returns the proof.
    pub fn read<R: HashReader + ?Sized>(
        &self,
        r: &R,
    ) -> Result<Vec<Hash>, GenerateError<R::Error>> {
        self.rehash(read_all(r, &self.ids)?)
    }
}

/// The nodes of an inclusion proof for leaf `index` in the tree of `size` (RFC 9162 §2.1.3.1).
pub fn inclusion_nodes(index: u64, size: u64) -> Result<ProofNodes, GenerateError<Infallible>> {
    if index >= size {
        return Err(GenerateError::IndexOutOfRange { index, size });
    }
    Ok(path_nodes(NodeId::leaf(index), size))
}

/// The nodes of an inclusion proof for the complete subtree `node` in the tree of `size`.
///
/// The proof verifies with `verify_inclusion(node_hash, node.index, size', ...)` where
/// `size' = ceil(size / 2^node.level)`: above `node.level` the tree of `size` has the shape of
/// the tree of `size'` leaves. Clients use this to check a whole tile against a root.
pub fn node_inclusion_nodes(
    node: NodeId,
    size: u64,
) -> Result<ProofNodes, GenerateError<Infallible>> {
    if !node.is_complete_in(size) {
        return Err(GenerateError::NodeNotInTree {
            level: node.level,
            index: node.index,
            size,
        });
    }
    Ok(path_nodes(node, size))
}

/// The nodes of a consistency proof from the tree of `first` leaves to the tree of `second`
/// (RFC 9162 §2.1.4.1). `first == 0` and `first == second` need no nodes: their proof is empty.
pub fn consistency_nodes(first: u64, second: u64) -> Result<ProofNodes, GenerateError<Infallible>> {
    if first > second {
        return Err(GenerateError::SizeDecreased { first, second });
    }
    if first == 0 || first == second {
        return Ok(ProofNodes::empty());
    }
    // The largest complete subtree that ends at `first`: the proof is its inclusion proof in
    // the second tree, preceded by the subtree itself unless it is the whole first tree (then
    // the verifier already has it as the first root).
    let level = first.trailing_zeros();
    let seed = NodeId::new(level as u8, (first - 1) >> level);
    let path = path_nodes(seed, second);
    if first.is_power_of_two() {
        return Ok(path);
    }
    let mut ids = Vec::with_capacity(path.ids.len() + 1);
    ids.push(seed);
    ids.extend(path.ids);
    let ephemeral = if path.ephemeral.is_empty() {
        0..0
    } else {
        path.ephemeral.start + 1..path.ephemeral.end + 1
    };
    Ok(ProofNodes { ids, ephemeral })
}

/// The inclusion proof for leaf `index` in the tree of `size`, leaf sibling first.
pub fn inclusion_proof<R: HashReader + ?Sized>(
    r: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    inclusion_nodes(index, size).map_err(widen)?.read(r)
}

/// The inclusion proof for the complete subtree `node` in the tree of `size`; see
/// [`node_inclusion_nodes`].
pub fn node_inclusion_proof<R: HashReader + ?Sized>(
    r: &R,
    node: NodeId,
    size: u64,
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    node_inclusion_nodes(node, size).map_err(widen)?.read(r)
}

/// The consistency proof from the tree of `first` leaves to the tree of `second`.
pub fn consistency_proof<R: HashReader + ?Sized>(
    r: &R,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    consistency_nodes(first, second).map_err(widen)?.read(r)
}

/// The root of the tree of `size` leaves; [`empty_root`] for size 0.
pub fn root_from_reader<R: HashReader + ?Sized>(
    r: &R,
    size: u64,
) -> Result<Hash, GenerateError<R::Error>> {
    Ok(right_edge_from_reader(r, size)?.root())
}

/// The right edge of the tree of `size` leaves, read with one call.
pub fn right_edge_from_reader<R: HashReader + ?Sized>(
    r: &R,
    size: u64,
) -> Result<RightEdge, GenerateError<R::Error>> {
    let hashes = read_all(r, &compact_range(0, size))?;
    RightEdge::new(size, hashes).map_err(widen)
}

/// The compact range of the leaves `[begin, end)`: the fewest complete subtrees that cover
/// exactly those leaves, left to right. Empty when `begin >= end`.
///
/// For `begin == 0` this is the right edge of the tree of `end` leaves: one subtree per set
/// bit of `end`, largest first.
pub fn compact_range(begin: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut at = begin;
    while at < end {
        // The largest aligned subtree starting at `at` that does not pass `end`.
        let mut level = at.trailing_zeros().min(63);
        while level > 0 && (end - at) >> level == 0 {
            level -= 1;
        }
        nodes.push(NodeId::new(level as u8, at >> level));
        at += 1 << level;
    }
    nodes
}

/// Folds the hashes of a right edge (largest subtree first) into the root they cover:
/// `H(e0, H(e1, ... H(e_{k-1}, e_k)))`. The empty edge folds to [`empty_root`].
///
/// This is correct for the compact range of `[0, size)` and for the compact range of an
/// ephemeral right-border node, whose subtrees also shrink from left to right; it is not the
/// hash of an arbitrary compact range.
pub fn fold_compact_range(hashes: &[Hash]) -> Hash {
    let Some((last, rest)) = hashes.split_last() else {
        return empty_root();
    };
    rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc))
}

/// The right edge of a tree: the hashes of its maximal complete subtrees, largest first.
///
/// It is all the sequencer needs to keep in memory to append leaves and compute the new root
/// without reading the tree back. A value always has one hash per set bit of its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightEdge {
    size: u64,
    hashes: Vec<Hash>,
}

/// The result of [`RightEdge::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The right edge of the grown tree.
    pub edge: RightEdge,
    /// Every node completed by the batch, leaves included, children before parents: all of
    /// them must be stored before a checkpoint for the new size is published.
    pub nodes: Vec<(NodeId, Hash)>,
}

impl RightEdge {
    /// The right edge of the empty tree.
    pub fn empty() -> Self {
        Self {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// The right edge of the tree of `size`, from the hashes of [`compact_range`]`(0, size)`.
    pub fn new(size: u64, hashes: Vec<Hash>) -> Result<Self, GenerateError<Infallible>> {
        let want = size.count_ones() as usize;
        if hashes.len() != want {
            return Err(GenerateError::WrongEdgeLength {
                size,
                got: hashes.len(),
                want,
            });
        }
        Ok(Self { size, hashes })
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of the maximal complete subtrees, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The nodes the hashes belong to: [`compact_range`]`(0, self.size())`.
    pub fn nodes(&self) -> Vec<NodeId> {
        compact_range(0, self.size)
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash {
        fold_compact_range(&self.hashes)
    }

    /// Appends leaf hashes: returns the new edge and every node the batch completes, so the
    /// sequencer can store them in one write and then publish the new root.
    pub fn append(&self, leaves: &[Hash]) -> Result<Appended, GenerateError<Infallible>> {
        let added = leaves.len();
        let grown = u64::try_from(added)
            .ok()
            .and_then(|n| self.size.checked_add(n));
        if grown.is_none() {
            return Err(GenerateError::TreeFull {
                size: self.size,
                added,
            });
        }
        let mut edge = self.clone();
        let mut nodes = Vec::with_capacity(2 * added + 64);
        for leaf in leaves {
            edge.push(leaf, &mut nodes);
        }
        Ok(Appended { edge, nodes })
    }

    /// Appends one leaf; the caller has checked that the size does not overflow.
    fn push(&mut self, leaf: &Hash, nodes: &mut Vec<(NodeId, Hash)>) {
        let mut id = NodeId::leaf(self.size);
        let mut hash = *leaf;
        nodes.push((id, hash));
        // Each set low bit of the old size is a complete left sibling on the edge: merge.
        while id.index & 1 == 1 {
            let Some(left) = self.hashes.pop() else { break };
            hash = node_hash(&left, &hash);
            id = NodeId::new(id.level + 1, id.index >> 1);
            nodes.push((id, hash));
        }
        self.hashes.push(hash);
        self.size += 1;
    }
}

/// The proof path of the complete subtree `node` in the tree of `size`: its siblings from the
/// bottom up. `node` must be complete in `size`.
fn path_nodes(node: NodeId, size: u64) -> ProofNodes {
    let base = u32::from(node.level);
    let last = (size - 1) >> base;
    // Below `inner` levels the path runs beside the path to the last leaf; above, along it.
    let inner = 64 - (node.index ^ last).leading_zeros();
    let mut ids = Vec::new();
    let mut ephemeral = 0..0;
    for j in 0..inner {
        let sibling = NodeId::new((base + j) as u8, (node.index >> j) ^ 1);
        if sibling.is_complete_in(size) {
            ids.push(sibling);
        } else {
            // Only the topmost inner sibling can reach past the end of the tree.
            let begin = sibling.index << sibling.level;
            let start = ids.len();
            ids.extend(compact_range(begin, size));
            ephemeral = start..ids.len();
        }
    }
    let mut j = inner;
    while j < 64 && node.index >> j != 0 {
        if (node.index >> j) & 1 == 1 {
            ids.push(NodeId::new((base + j) as u8, (node.index >> j) - 1));
        }
        j += 1;
    }
    ProofNodes { ids, ephemeral }
}

/// Reads `ids` with one call (none when empty) and checks the count.
fn read_all<R: HashReader + ?Sized>(
    r: &R,
    ids: &[NodeId],
) -> Result<Vec<Hash>, GenerateError<R::Error>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = r.read_hashes(ids).map_err(GenerateError::Read)?;
    if hashes.len() != ids.len() {
        return Err(GenerateError::WrongHashCount {
            got: hashes.len(),
            want: ids.len(),
        });
    }
    Ok(hashes)
}

/// Turns a reader-less error into one for any reader.
fn widen<E>(e: GenerateError<Infallible>) -> GenerateError<E> {
    match e {
        GenerateError::Read(never) => match never {},
        GenerateError::IndexOutOfRange { index, size } => {
            GenerateError::IndexOutOfRange { index, size }
        }
        GenerateError::SizeDecreased { first, second } => {
            GenerateError::SizeDecreased { first, second }
        }
        GenerateError::NodeNotInTree { level, index, size } => {
            GenerateError::NodeNotInTree { level, index, size }
        }
        GenerateError::TreeFull { size, added } => GenerateError::TreeFull { size, added },
        GenerateError::WrongEdgeLength { size, got, want } => {
            GenerateError::WrongEdgeLength { size, got, want }
        }
        GenerateError::WrongHashCount { got, want } => GenerateError::WrongHashCount { got, want },
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{leaf_hash, verify_consistency, verify_inclusion};

    /// Stored hashes of a tree, built by the appender, counting reads.
    struct Store {
        nodes: HashMap<NodeId, Hash>,
        reads: Cell<usize>,
    }

    impl HashReader for Store {
        type Error = NodeId;
        fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
            self.reads.set(self.reads.get() + 1);
            ids.iter()
                .map(|id| self.nodes.get(id).copied().ok_or(*id))
                .collect()
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn store(n: u64) -> Store {
        let appended = RightEdge::empty().append(&leaves(n)).unwrap();
        Store {
            nodes: appended.nodes.into_iter().collect(),
            reads: Cell::new(0),
        }
    }

    /// RFC 6962 MTH, straight from the definition.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = split(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// RFC 6962 PATH(m, D[n]).
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split(d.len());
        let (mut p, sib) = if m < k {
            (path(m, &d[..k]), mth(&d[k..]))
        } else {
            (path(m - k, &d[k..]), mth(&d[..k]))
        };
        p.push(sib);
        p
    }

    /// RFC 6962 SUBPROOF(m, D[n], b).
    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split(n);
        let (mut p, sib) = if m <= k {
            (subproof(m, &d[..k], b), mth(&d[k..]))
        } else {
            (subproof(m - k, &d[k..], false), mth(&d[..k]))
        };
        p.push(sib);
        p
    }

    #[test]
    fn compact_ranges() {
        let ids = |v: &[(u8, u64)]| {
            v.iter()
                .map(|&(l, i)| NodeId::new(l, i))
                .collect::<Vec<_>>()
        };
        assert_eq!(compact_range(0, 0), vec![]);
        assert_eq!(compact_range(5, 5), vec![]);
        assert_eq!(compact_range(9, 3), vec![]);
        assert_eq!(compact_range(0, 1), ids(&[(0, 0)]));
        assert_eq!(compact_range(0, 6), ids(&[(2, 0), (1, 2)]));
        assert_eq!(compact_range(3, 9), ids(&[(0, 3), (2, 1), (0, 8)]));
        assert_eq!(compact_range(0, 1 << 63), ids(&[(63, 0)]));
        let all = compact_range(0, u64::MAX);
        assert_eq!(all.len(), 64);
        assert_eq!(all[0], NodeId::new(63, 0));
        assert_eq!(all[63], NodeId::new(0, u64::MAX - 1));
        assert_eq!(
            compact_range(u64::MAX - 1, u64::MAX),
            ids(&[(0, u64::MAX - 1)])
        );
    }

    #[test]
    fn compact_ranges_cover_exactly() {
        for begin in 0..70u64 {
            for end in begin..70 {
                let mut at = begin;
                for id in compact_range(begin, end) {
                    assert_eq!(id.index << id.level, at, "[{begin},{end}) not contiguous");
                    at += 1 << id.level;
                }
                assert_eq!(at, end, "[{begin},{end}) not covered");
            }
        }
    }

    #[test]
    fn complete_nodes() {
        assert!(NodeId::leaf(4).is_complete_in(5));
        assert!(!NodeId::leaf(5).is_complete_in(5));
        assert!(NodeId::new(2, 1).is_complete_in(8));
        assert!(!NodeId::new(2, 1).is_complete_in(7));
        assert!(NodeId::new(63, 0).is_complete_in(1 << 63));
        assert!(!NodeId::new(63, 1).is_complete_in(u64::MAX));
        assert!(!NodeId::new(64, 0).is_complete_in(u64::MAX));
        assert!(!NodeId::new(255, u64::MAX).is_complete_in(u64::MAX));
    }

    #[test]
    fn roots_match_the_definition() {
        let all = leaves(70);
        let s = store(70);
        for n in 0..=70u64 {
            assert_eq!(
                root_from_reader(&s, n).unwrap(),
                mth(&all[..n as usize]),
                "size {n}"
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_the_definition_and_verify() {
        let all = leaves(40);
        let s = store(40);
        for n in 1..=40u64 {
            let root = mth(&all[..n as usize]);
            for i in 0..n {
                let proof = inclusion_proof(&s, i, n).unwrap();
                assert_eq!(
                    proof,
                    path(i as usize, &all[..n as usize]),
                    "index {i} size {n}"
                );
                verify_inclusion(&all[i as usize], i, n, &proof, &root).unwrap();
            }
        }
    }

    #[test]
    fn consistency_proofs_match_the_definition_and_verify() {
        let all = leaves(40);
        let s = store(40);
        for second in 0..=40u64 {
            let root2 = mth(&all[..second as usize]);
            for first in 0..=second {
                let root1 = mth(&all[..first as usize]);
                let proof = consistency_proof(&s, first, second).unwrap();
                let want = if first == 0 || first == second {
                    Vec::new()
                } else {
                    subproof(first as usize, &all[..second as usize], true)
                };
                assert_eq!(proof, want, "{first} -> {second}");
                verify_consistency(first, second, &proof, &root1, &root2).unwrap();
            }
        }
    }

    #[test]
    fn node_inclusion_proofs_verify_at_their_level() {
        let all = leaves(100);
        let s = store(100);
        for n in 1..=100u64 {
            let root = mth(&all[..n as usize]);
            for level in 0..7u8 {
                let width = 1u64 << level;
                for index in 0..n / width {
                    let node = NodeId::new(level, index);
                    let hash = s.nodes[&node];
                    let proof = node_inclusion_proof(&s, node, n).unwrap();
                    let level_size = (n - 1) / width + 1;
                    verify_inclusion(&hash, index, level_size, &proof, &root).unwrap();
                }
            }
        }
        let err = node_inclusion_nodes(NodeId::new(2, 1), 7).unwrap_err();
        assert_eq!(
            err,
            GenerateError::NodeNotInTree {
                level: 2,
                index: 1,
                size: 7
            }
        );
    }

    #[test]
    fn one_read_per_proof_and_none_when_empty() {
        let s = store(300);
        inclusion_proof(&s, 17, 300).unwrap();
        assert_eq!(s.reads.get(), 1);
        consistency_proof(&s, 17, 300).unwrap();
        assert_eq!(s.reads.get(), 2);
        root_from_reader(&s, 300).unwrap();
        assert_eq!(s.reads.get(), 3);
        assert!(consistency_proof(&s, 0, 300).unwrap().is_empty());
        assert!(consistency_proof(&s, 300, 300).unwrap().is_empty());
        assert!(inclusion_proof(&s, 0, 1).unwrap().is_empty());
        assert_eq!(root_from_reader(&s, 0).unwrap(), empty_root());
        assert_eq!(s.reads.get(), 3);
    }

    #[test]
    fn ephemeral_nodes_are_folded() {
        // Leaf 0 in a tree of 7: its top inner sibling covers [4, 7), which is not stored.
        let nodes = inclusion_nodes(0, 7).unwrap();
        let ids = [
            NodeId::new(0, 1),
            NodeId::new(1, 1),
            NodeId::new(1, 2),
            NodeId::new(0, 6),
        ];
        assert_eq!(nodes.ids(), ids);
        assert_eq!(nodes.ephemeral(), 2..4);
        let h = |b: u8| [b; 32];
        let proof = nodes
            .rehash::<Infallible>(vec![h(1), h(2), h(3), h(4)])
            .unwrap();
        assert_eq!(proof, vec![h(1), h(2), node_hash(&h(3), &h(4))]);
        // A consistency proof whose seed is sent shifts the ephemeral range by one.
        let nodes = consistency_nodes(3, 7).unwrap();
        assert_eq!(nodes.ids()[0], NodeId::leaf(2));
        assert_eq!(nodes.ephemeral(), 3..5);
        let nodes = consistency_nodes(3, 8).unwrap();
        assert_eq!(nodes.ids()[0], NodeId::leaf(2));
        assert_eq!(nodes.ephemeral(), 0..0);
        let nodes = consistency_nodes(1, 7).unwrap();
        assert_eq!(nodes.ephemeral(), 2..4);
        let nodes = consistency_nodes(6, 7).unwrap();
        assert_eq!(
            nodes.ids(),
            [NodeId::new(1, 2), NodeId::leaf(6), NodeId::new(2, 0)]
        );
    }

    #[test]
    fn bad_arguments() {
        let s = store(10);
        assert_eq!(
            inclusion_proof(&s, 10, 10).unwrap_err(),
            GenerateError::IndexOutOfRange {
                index: 10,
                size: 10
            }
        );
        assert_eq!(
            inclusion_proof(&s, 0, 0).unwrap_err(),
            GenerateError::IndexOutOfRange { index: 0, size: 0 }
        );
        assert_eq!(
            consistency_proof(&s, 5, 4).unwrap_err(),
            GenerateError::SizeDecreased {
                first: 5,
                second: 4
            }
        );
        assert_eq!(s.reads.get(), 0);
    }

    #[test]
    fn reader_failures_are_reported() {
        let s = store(10);
        // The store has no node for a tree larger than it holds.
        assert_eq!(
            inclusion_proof(&s, 3, 12).unwrap_err(),
            GenerateError::Read(NodeId::new(2, 2))
        );

        struct Short;
        impl HashReader for Short {
            type Error = Infallible;
            fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Infallible> {
                Ok(vec![[0; 32]; ids.len() - 1])
            }
        }
        assert_eq!(
            inclusion_proof(&Short, 0, 8).unwrap_err(),
            GenerateError::WrongHashCount { got: 2, want: 3 }
        );
        assert_eq!(
            root_from_reader(&Short, 7).unwrap_err(),
            GenerateError::WrongHashCount { got: 2, want: 3 }
        );
        assert_eq!(
            ProofNodes::empty()
                .rehash::<Infallible>(vec![[0; 32]])
                .unwrap_err(),
            GenerateError::WrongHashCount { got: 1, want: 0 }
        );
    }

    #[test]
    fn split_read_separates_reader_errors() {
        assert_eq!(GenerateError::Read(7u8).split_read(), Ok(7));
        assert_eq!(
            GenerateError::<u8>::WrongHashCount { got: 1, want: 2 }.split_read(),
            Err(GenerateError::WrongHashCount { got: 1, want: 2 })
        );
    }

    #[test]
    fn appending_in_batches_stores_every_complete_node_once() {
        let all = leaves(300);
        let mut edge = RightEdge::empty();
        let mut nodes = HashMap::new();
        for chunk in all.chunks(37) {
            let appended = edge.append(chunk).unwrap();
            for (id, h) in appended.nodes {
                assert!(id.is_complete_in(appended.edge.size()));
                assert!(nodes.insert(id, h).is_none(), "{id:?} stored twice");
            }
            edge = appended.edge;
            assert_eq!(edge.root(), mth(&all[..edge.size() as usize]));
            let stored: Vec<Hash> = edge.nodes().iter().map(|id| nodes[id]).collect();
            assert_eq!(stored, edge.hashes());
        }
        let complete: u64 = (0..9).map(|l| 300u64 >> l).sum();
        assert_eq!(nodes.len() as u64, complete);
        assert_eq!(edge, store(300).edge_at(300));
    }

    impl Store {
        fn edge_at(&self, size: u64) -> RightEdge {
            right_edge_from_reader(self, size).unwrap()
        }
    }

    #[test]
    fn appending_nothing_changes_nothing() {
        let edge = store(5).edge_at(5);
        let appended = edge.append(&[]).unwrap();
        assert_eq!(appended.edge, edge);
        assert!(appended.nodes.is_empty());
    }

    #[test]
    fn right_edge_checks_its_length_and_the_size_limit() {
        assert_eq!(
            RightEdge::new(6, vec![[0; 32]]).unwrap_err(),
            GenerateError::WrongEdgeLength {
                size: 6,
                got: 1,
                want: 2
            }
        );
        let full = RightEdge::new(u64::MAX, vec![[0; 32]; 64]).unwrap();
        assert_eq!(
            full.append(&[[1; 32]]).unwrap_err(),
            GenerateError::TreeFull {
                size: u64::MAX,
                added: 1
            }
        );
        let almost = RightEdge::new(u64::MAX - 1, vec![[0; 32]; 63]).unwrap();
        let appended = almost.append(&[[1; 32]]).unwrap();
        assert_eq!(appended.edge.size(), u64::MAX);
        assert_eq!(appended.edge.hashes().len(), 64);
        assert_eq!(appended.nodes, vec![(NodeId::leaf(u64::MAX - 1), [1; 32])]);
    }

    #[test]
    fn fold_of_nothing_is_the_empty_root() {
        assert_eq!(fold_compact_range(&[]), empty_root());
        assert_eq!(RightEdge::empty().root(), empty_root());
        let h = [[1; 32], [2; 32], [3; 32]];
        assert_eq!(
            fold_compact_range(&h),
            node_hash(&h[0], &node_hash(&h[1], &h[2]))
        );
    }
}
