//! The verifiable index, stored: the sparse Merkle tree of `reprove_verifier::vindex`, its
//! leaves kept in their own column family, its interior (and, up to [`MAX_LEAVES_IN_MEMORY`]
//! keys, its leaves) in memory. Each round writes its changed leaves and the index note as the
//! round's second batch (`round.rs`).
//!
//! # Layout (column family `vindex`, index version 5)
//!
//! | key | value |
//! | --- | --- |
//! | `k` `\|\|` key hash (32 bytes) | the key's leaf value: count (u64 BE) `\|\|` chain (32 bytes) |
//! | `note` | the latest signed index note (it names the tree size it covers) |
//!
//! Only the **leaves** are stored. The interior lives in memory as a [`Dense`] array: every
//! node of the tree's top `depth` levels, each as its subtree's hash and whether it holds no
//! key, one key (its hash is then that key's leaf, which sits as high as it can) or more. The
//! depth is chosen from the number of keys so that a few keys sit below each bottom node, and
//! the array is rebuilt from one scan of the leaves when a log is opened (or, deeper, when the
//! keys have grown past [`DEEPEN_AT`] per bottom node). While the keys are few enough the
//! array also holds the leaves, by bottom node; past that, a round range-reads the few leaves
//! below each bottom node it touches (one seek in key order, which also yields the old values).
//! A round rehashes those leaves and the array's nodes above, writes only the changed leaves
//! (73 bytes per key) and hands the array's changes to the writer, which publishes them under
//! the array's lock together with the write of its batch ([`Update::publish`]). A proof takes
//! its siblings from the array down to the bottom node and the rest from the leaves below it,
//! from memory or from a snapshot taken under the same lock. Keys are never removed (lists only
//! grow), so nothing is ever deleted. The commitment — root, leaves, nodes, proofs — is the one
//! of docs/formats.md §7 whatever the layout; the previous one (index version 4) stored the
//! interior as strata of four levels and wrote ≈ 870 bytes per changed key.
//!
//! Only the lookups a consumer decides on are committed ([`IndexKey::is_proven`]); the web
//! pages' lists (all releases, mismatches, rebuilders, days) and blob records stay plain
//! records: nobody's trust decision rests on them.

use reprove_verifier::merkle::Hash;
use reprove_verifier::note::{Note, NoteSigner};
use reprove_verifier::vindex::{
    EMPTY, IndexNote, Proof, Terminal, Value, bit, key_hash, leaf_hash, node_hash,
};

use crate::error::{Error, Integrity};
use crate::index::IndexKey;

/// The column family the leaves and the note live in.
pub(crate) const CF: &str = "vindex";

/// The key of the latest signed index note.
pub(crate) const NOTE_KEY: &[u8] = b"note";

/// The first byte of a leaf's stored key (`note` sorts after every leaf).
pub(crate) const LEAF: u8 = b'k';

/// The most indices one proven lookup answers with: a proof must carry the whole list. Past
/// it, a client asks a signer-scoped lookup (which strangers cannot flood).
pub const MAX_PROVEN_LIST: u64 = 100_000;

/// The shallowest in-memory array: 2¹² bottom nodes, ≈ 270 KB.
const MIN_DEPTH: usize = 12;

/// The deepest: 2²⁴ bottom nodes, ≈ 1.1 GB (a log of some 30 M keys); past it, more keys sit
/// below each bottom node and a round reads and hashes more of them.
const MAX_DEPTH: usize = 24;

/// How many keys a (re)built array aims to have below each bottom node: a round reads and
/// rehashes about this many leaves per key it changes, and the array takes ≈ 66 bytes per
/// bottom node.
const KEYS_PER_BOTTOM: u64 = 2;

/// The average number of keys per bottom node at which a round first rebuilds the array
/// deeper: one scan of the leaves each time the keys have grown fourfold.
const DEEPEN_AT: u64 = 8;

/// Up to this many keys (≈ 80 bytes each in memory, ≈ 650 MB), the array also holds every
/// leaf, by bottom node, so that a round and a proof read no leaf from the store; past it, they
/// range-read the leaves below each bottom node they need (one seek each).
const MAX_LEAVES_IN_MEMORY: u64 = 8_000_000;

/// The leaves below one bottom node, in key order.
type Bucket = Box<[(Hash, Value)]>;

/// The stored key of the leaf of `key`.
pub(crate) fn leaf_key(key: &Hash) -> [u8; 33] {
    let mut out = [LEAF; 33];
    out[1..].copy_from_slice(key);
    out
}

/// A stored leaf record: its key hash and value.
pub(crate) fn decode_leaf(key: &[u8], value: &[u8]) -> Result<(Hash, Value), Error> {
    let bad = || Error::Integrity(Integrity::Undecodable(CF));
    let hash = match key.split_first() {
        Some((&LEAF, hash)) => Hash::try_from(hash).map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    Ok((hash, Value::from_bytes(value).ok_or_else(bad)?))
}

/// Whether `key` starts with the first `depth` bits of `prefix`.
pub(crate) fn under(key: &Hash, prefix: &Hash, depth: usize) -> bool {
    let whole = depth / 8;
    if key[..whole] != prefix[..whole] {
        return false;
    }
    let rest = depth % 8;
    rest == 0 || (key[whole] ^ prefix[whole]) >> (8 - rest) == 0
}

/// `prefix` with every bit from `depth` on cleared: the first key hash under it.
pub(crate) fn first_under(prefix: &Hash, depth: usize) -> Hash {
    let mut out = EMPTY;
    let whole = depth / 8;
    out[..whole].copy_from_slice(&prefix[..whole]);
    let rest = depth % 8;
    if rest != 0 {
        out[whole] = prefix[whole] & !(0xffu8 >> rest);
    }
    out
}

/// The position of `key`'s node at `depth` (≤ 64) among that level's nodes.
fn index_of(key: &Hash, depth: usize) -> usize {
    if depth == 0 {
        return 0;
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&key[..8]);
    (u64::from_be_bytes(first) >> (64 - depth)) as usize
}

/// Where leaves are read from: a cursor over the store or a snapshot of it.
pub(crate) trait LeafSource {
    /// Appends to `out`, in key order, every stored leaf whose key hash starts with the first
    /// `depth` bits of `prefix`.
    fn leaves_under(
        &mut self,
        prefix: &Hash,
        depth: usize,
        out: &mut Vec<(Hash, Value)>,
    ) -> Result<(), Error>;

    /// Calls `visit` with every stored leaf, in key order.
    fn each_leaf(&mut self, visit: &mut dyn FnMut(Hash, Value)) -> Result<(), Error>;
}

/// A subtree's root, and whether it holds no key, one key (its hash is that key's leaf) or
/// more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sum {
    Empty,
    One(Hash),
    Many(Hash),
}

impl Sum {
    fn hash(&self) -> Hash {
        match self {
            Sum::Empty => EMPTY,
            Sum::One(h) | Sum::Many(h) => *h,
        }
    }

    /// The subtree whose children are `l` and `r`: one key collapses to its leaf.
    fn join(l: Sum, r: Sum) -> Sum {
        match (l, r) {
            (Sum::Empty, Sum::Empty) => Sum::Empty,
            (Sum::Empty, Sum::One(h)) | (Sum::One(h), Sum::Empty) => Sum::One(h),
            _ => Sum::Many(node_hash(&l.hash(), &r.hash())),
        }
    }
}

/// The subtree at `depth` holding `leaves` (in key order, each key once, all under one node
/// of that depth).
fn sum_below(leaves: &[(Hash, Value)], depth: usize) -> Sum {
    match leaves {
        [] => Sum::Empty,
        [(k, v)] => Sum::One(leaf_hash(k, v)),
        _ => {
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            let l = sum_below(&leaves[..split], depth + 1);
            let r = sum_below(&leaves[split..], depth + 1);
            Sum::Many(node_hash(&l.hash(), &r.hash()))
        }
    }
}

/// The tree's top levels in memory: level `d` holds its `2^d` nodes' hashes, and one bit per
/// node saying whether its subtree holds exactly one key (an empty subtree's hash is 32 zero
/// bytes, which no SHA-256 output is: the bits fit in the caches, where a byte per node of the
/// deepest levels would not); and, while the keys are few enough ([`MAX_LEAVES_IN_MEMORY`]),
/// the leaves below each bottom node.
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    depth: usize,
    hashes: Vec<Vec<Hash>>,
    ones: Vec<Vec<u64>>,
    keys: u64,
    leaves: Option<Vec<Bucket>>,
    /// The signed note of this root, while the store may not hold it yet (the writer stores a
    /// round's leaves and note after releasing the round when the array holds the leaves);
    /// `None`: the store's note is this root's.
    note: Option<Vec<u8>>,
}

impl Dense {
    /// An empty tree's array, `depth` levels deep, holding the leaves (none yet) or not.
    fn new(depth: usize, keep_leaves: bool) -> Dense {
        Dense {
            depth,
            hashes: (0..=depth).map(|d| vec![EMPTY; 1 << d]).collect(),
            ones: (0..=depth)
                .map(|d| vec![0; (1usize << d).div_ceil(64)])
                .collect(),
            keys: 0,
            leaves: keep_leaves.then(|| vec![Bucket::default(); 1 << depth]),
            note: None,
        }
    }

    /// Forgets the leaves, as past [`MAX_LEAVES_IN_MEMORY`] keys: they are read from the
    /// store from now on.
    #[cfg(test)]
    pub(crate) fn drop_leaves(&mut self) {
        self.leaves = None;
    }

    /// The signed note of this array's root when the store may not hold it yet.
    pub(crate) fn note(&self) -> Option<&[u8]> {
        self.note.as_deref()
    }

    /// Whether the array holds every leaf once `update` is published: then a proof reads no
    /// leaf from the store, and the update's leaves can be stored after it is published.
    pub(crate) fn holds_leaves_after(&self, update: &Update) -> bool {
        let holds = match &update.rebuilt {
            Some(rebuilt) => rebuilt.leaves.is_some(),
            None => self.leaves.is_some(),
        };
        holds && self.keys + update.new_keys <= MAX_LEAVES_IN_MEMORY
    }

    /// The array of an empty index.
    pub(crate) fn empty() -> Dense {
        Dense::new(MIN_DEPTH, true)
    }

    fn get(&self, depth: usize, i: usize) -> Sum {
        let h = self.hashes[depth][i];
        if self.ones[depth][i / 64] & (1 << (i % 64)) != 0 {
            Sum::One(h)
        } else if h == EMPTY {
            Sum::Empty
        } else {
            Sum::Many(h)
        }
    }

    fn set(&mut self, depth: usize, i: usize, sum: Sum) {
        let (one, h) = match sum {
            Sum::Empty => (false, EMPTY),
            Sum::One(h) => (true, h),
            Sum::Many(h) => (false, h),
        };
        let bits = &mut self.ones[depth][i / 64];
        *bits = (*bits & !(1 << (i % 64))) | (u64::from(one) << (i % 64));
        self.hashes[depth][i] = h;
    }

    /// Sets node `i` of level `depth` (empty until now) from its two children, once they
    /// are set.
    fn join_children(&mut self, depth: usize, i: usize) {
        let (l, r) = (self.get(depth + 1, 2 * i), self.get(depth + 1, 2 * i + 1));
        if (l, r) != (Sum::Empty, Sum::Empty) {
            self.set(depth, i, Sum::join(l, r));
        }
    }

    /// The index root.
    pub(crate) fn root(&self) -> Hash {
        self.hashes[0][0]
    }

    /// The number of keys in the index.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> u64 {
        self.keys
    }

    /// Appends to `out`, in key order, the leaves under the node at `depth` (≤ the array's) on
    /// `prefix`'s path: from memory when the array holds them, else from `src`.
    fn leaves_under(
        &self,
        src: &mut impl LeafSource,
        prefix: &Hash,
        depth: usize,
        out: &mut Vec<(Hash, Value)>,
    ) -> Result<(), Error> {
        match &self.leaves {
            Some(buckets) => {
                let shift = self.depth - depth;
                let first = index_of(prefix, depth) << shift;
                for bucket in &buckets[first..first + (1 << shift)] {
                    out.extend_from_slice(bucket);
                }
                Ok(())
            }
            None => src.leaves_under(prefix, depth, out),
        }
    }

    /// This array made `depth` deep (deeper than it is), from the leaves it holds: its own
    /// levels are kept as they are (the nodes above a bottom node do not depend on how deep the
    /// array is), and only the new levels are computed, bottom node by bottom node.
    fn deepened(&self, buckets: &[Bucket], depth: usize) -> Dense {
        let mut dense = Dense::new(depth, false);
        for level in 0..=self.depth {
            dense.hashes[level].clone_from(&self.hashes[level]);
            dense.ones[level].clone_from(&self.ones[level]);
        }
        dense.keys = self.keys;
        let mut leaves = vec![Bucket::default(); 1 << depth];
        for (b, bucket) in buckets.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
            let mut rest = &bucket[..];
            while let Some((first, _)) = rest.first() {
                let i = index_of(first, depth);
                let n = rest
                    .iter()
                    .take_while(|(k, _)| index_of(k, depth) == i)
                    .count();
                dense.set(depth, i, sum_below(&rest[..n], depth));
                leaves[i] = rest[..n].into();
                rest = &rest[n..];
            }
            for level in (self.depth + 1..depth).rev() {
                let first = b << (level - self.depth);
                for i in first..first + (1 << (level - self.depth)) {
                    dense.join_children(level, i);
                }
            }
            debug_assert_eq!(
                Sum::join(
                    dense.get(self.depth + 1, 2 * b),
                    dense.get(self.depth + 1, 2 * b + 1)
                ),
                self.get(self.depth, b)
            );
        }
        dense.leaves = Some(leaves);
        dense
    }

    /// The array for the leaves in `src`, deep enough for about `keys` of them.
    pub(crate) fn build(src: &mut impl LeafSource, keys: u64) -> Result<Dense, Error> {
        Dense::build_at(|visit| src.each_leaf(visit), depth_for(keys), true)
    }

    /// The array `depth` levels deep for the leaves `scan` visits (in key order), holding them
    /// if asked to (and they are few enough): one pass, each bottom node's leaves hashed as
    /// they pass, then the levels above.
    fn build_at(
        scan: impl FnOnce(&mut dyn FnMut(Hash, Value)) -> Result<(), Error>,
        depth: usize,
        keep_leaves: bool,
    ) -> Result<Dense, Error> {
        let mut dense = Dense::new(depth, keep_leaves);
        let mut group: Vec<(Hash, Value)> = Vec::new();
        let mut at = 0usize;
        let close = |dense: &mut Dense, at: usize, group: &mut Vec<(Hash, Value)>| {
            dense.set(depth, at, sum_below(group, depth));
            if let Some(buckets) = &mut dense.leaves {
                buckets[at] = group.as_slice().into();
            }
            group.clear();
        };
        scan(&mut |key, value| {
            let i = index_of(&key, depth);
            if i != at && !group.is_empty() {
                close(&mut dense, at, &mut group);
            }
            at = i;
            group.push((key, value));
            dense.keys += 1;
            if dense.keys > MAX_LEAVES_IN_MEMORY {
                dense.leaves = None;
            }
        })?;
        if !group.is_empty() {
            close(&mut dense, at, &mut group);
        }
        for d in (0..depth).rev() {
            for i in 0..1usize << d {
                dense.join_children(d, i);
            }
        }
        Ok(dense)
    }
}

/// The array depth for `keys` keys: about [`KEYS_PER_BOTTOM`] below each bottom node.
fn depth_for(keys: u64) -> usize {
    let bottoms = (keys / KEYS_PER_BOTTOM).max(1);
    (bottoms.next_power_of_two().ilog2() as usize).clamp(MIN_DEPTH, MAX_DEPTH)
}

/// A leaf as stored: its key ([`leaf_key`]) and value ([`Value::to_bytes`]).
pub(crate) type LeafRecord = ([u8; 33], [u8; 40]);

/// What one round changes: the leaf records to write, the array's new nodes and the new root.
#[derive(Debug, Default)]
pub(crate) struct Update {
    pub(crate) root: Hash,
    /// The changed leaves as stored records, in key order (RocksDB's memtable inserts a sorted
    /// run faster than scattered keys).
    pub(crate) records: Vec<LeafRecord>,
    /// A deeper array built this round, which the changes apply to.
    rebuilt: Option<Box<Dense>>,
    /// Per level, the changed nodes (position, new value), in position order.
    changes: Vec<Vec<(usize, Sum)>>,
    /// The changed bottom nodes' leaves, when the array holds the leaves.
    buckets: Vec<(usize, Bucket)>,
    new_keys: u64,
}

impl Update {
    /// Brings the writer's array to the tree this update's records make, whose signed note is
    /// `note` if the store may not hold it yet: called with the array locked against readers,
    /// once the round's entries are durable and, unless the array keeps `note`, while or after
    /// the update's records are stored.
    pub(crate) fn publish(self, dense: &mut Dense, note: Option<Vec<u8>>) {
        if let Some(rebuilt) = self.rebuilt {
            *dense = *rebuilt;
        }
        dense.note = note;
        for (depth, level) in self.changes.into_iter().enumerate() {
            for (i, sum) in level {
                dense.set(depth, i, sum);
            }
        }
        dense.keys += self.new_keys;
        if dense.keys > MAX_LEAVES_IN_MEMORY {
            dense.leaves = None;
        }
        if let Some(leaves) = &mut dense.leaves {
            for (i, bucket) in self.buckets {
                leaves[i] = bucket;
            }
        }
    }
}

/// The hashes of the proven keys among `keys`: what an entry adds to the index. The sequencer
/// computes them on the submitter's task, before the round.
pub(crate) fn proven_hashes(keys: &[IndexKey]) -> Vec<Hash> {
    let proven = keys.iter().filter(|k| k.is_proven());
    proven.map(|key| key_hash(&key.encoding())).collect()
}

/// The indices a round (or a reindex) appends to its keys' lists: (key hash, index) pairs,
/// gathered by [`Appends::add_entry`], then sorted by key and index.
#[derive(Debug, Default)]
pub(crate) struct Appends(Vec<(Hash, u64)>);

impl Appends {
    /// Adds entry `index` (entries in log order) to the lists of its proven keys among
    /// `keys`. An entry whose keys repeat counts once under each.
    pub(crate) fn add_entry(&mut self, index: u64, keys: &[IndexKey]) {
        self.add_hashes(index, &proven_hashes(keys));
    }

    /// Adds entry `index` to the lists of the keys whose hashes are `proven`
    /// ([`proven_hashes`] of its keys).
    pub(crate) fn add_hashes(&mut self, index: u64, proven: &[Hash]) {
        self.0.extend(proven.iter().map(|k| (*k, index)));
    }

    /// The pairs sorted by key hash, then index, each once.
    fn sorted(mut self) -> Vec<(Hash, u64)> {
        // Most comparisons end in the first eight bytes: compared as one integer first.
        let head = |k: &Hash| k.first_chunk::<8>().map(|b| u64::from_be_bytes(*b));
        self.0
            .sort_unstable_by(|a, b| head(&a.0).cmp(&head(&b.0)).then_with(|| a.cmp(b)));
        self.0.dedup();
        self.0
    }
}

/// Applies `appends` to the tree of `dense` and the leaves in `src`: the leaves below each
/// bottom node the round touches are read once (in key order), the touched ones extended,
/// and the changed nodes recomputed level by level up to the root, each once.
pub(crate) fn apply(
    dense: &Dense,
    src: &mut impl LeafSource,
    appends: Appends,
) -> Result<Update, Error> {
    let appends = appends.sorted();
    if appends.is_empty() {
        return Ok(Update {
            root: dense.root(),
            ..Update::default()
        });
    }
    let rebuilt = (dense.depth < MAX_DEPTH && dense.keys > DEEPEN_AT << dense.depth)
        .then(|| match &dense.leaves {
            // Deeper from the leaves it holds, or from the store.
            Some(buckets) => Ok(dense.deepened(buckets, depth_for(dense.keys))),
            None => Dense::build(src, dense.keys),
        })
        .transpose()?
        .map(Box::new);
    let base = rebuilt.as_deref().unwrap_or(dense);
    let depth = base.depth;
    let mut records = Vec::with_capacity(appends.len());
    let mut bottom = Vec::new();
    let mut buckets = Vec::new();
    let mut new_keys = 0;
    let mut here = Vec::new();
    let mut rest = &appends[..];
    while let Some(&(first, _)) = rest.first() {
        let b = index_of(&first, depth);
        here.clear();
        base.leaves_under(src, &first, depth, &mut here)?;
        while let Some(&(key, _)) = rest.first().filter(|(k, _)| index_of(k, depth) == b) {
            let at = match here.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(at) => at,
                Err(at) => {
                    here.insert(at, (key, Value::default()));
                    new_keys += 1;
                    at
                }
            };
            let value = &mut here[at].1;
            let run = rest.iter().take_while(|(k, _)| *k == key).count();
            for &(_, i) in &rest[..run] {
                value.push(i);
            }
            rest = &rest[run..];
            records.push((leaf_key(&key), value.to_bytes()));
        }
        bottom.push((b, sum_below(&here, depth)));
        if base.leaves.is_some() {
            buckets.push((b, here.as_slice().into()));
        }
    }
    let mut changes: Vec<Vec<(usize, Sum)>> = vec![Vec::new(); depth + 1];
    changes[depth] = bottom;
    for d in (0..depth).rev() {
        let (upper, lower) = changes.split_at_mut(d + 1);
        let (below, level) = (&lower[0], &mut upper[d]);
        level.reserve(below.len());
        let mut j = 0;
        while j < below.len() {
            let parent = below[j].0 >> 1;
            let (mut l, mut r) = (base.get(d + 1, 2 * parent), base.get(d + 1, 2 * parent + 1));
            while let Some(&(i, sum)) = below.get(j).filter(|(i, _)| i >> 1 == parent) {
                if i & 1 == 0 {
                    l = sum;
                } else {
                    r = sum;
                }
                j += 1;
            }
            level.push((parent, Sum::join(l, r)));
        }
    }
    let root = changes[0].first().map_or(base.root(), |(_, s)| s.hash());
    Ok(Update {
        root,
        records,
        rebuilt,
        changes,
        buckets,
        new_keys,
    })
}

/// The proof for `key` (its hash) in the tree of `dense` and the leaves in `src` (of the same
/// round), and the key's value (`None`: absent).
pub(crate) fn prove(
    dense: &Dense,
    src: &mut impl LeafSource,
    key: &Hash,
) -> Result<(Proof, Option<Value>), Error> {
    let mut siblings = Vec::with_capacity(dense.depth + 8);
    for d in 0..=dense.depth {
        let i = index_of(key, d);
        match dense.get(d, i) {
            Sum::Empty => {
                let proof = Proof {
                    siblings,
                    terminal: Terminal::Empty,
                };
                return Ok((proof, None));
            }
            Sum::Many(_) if d < dense.depth => {
                let right = bit(key, d);
                siblings.push(dense.get(d + 1, 2 * i + usize::from(!right)).hash());
            }
            sum => {
                let mut leaves = Vec::new();
                dense.leaves_under(src, key, d, &mut leaves)?;
                if matches!(sum, Sum::One(_)) && leaves.len() != 1 {
                    return Err(Integrity::Undecodable(CF).into());
                }
                return Ok(prove_below(&leaves, key, d, siblings));
            }
        }
    }
    Err(Error::Bug("a proof ran past the in-memory array"))
}

/// The rest of `key`'s proof below the node at `depth` that holds `leaves` (in key order),
/// after the `siblings` above it.
fn prove_below(
    mut leaves: &[(Hash, Value)],
    key: &Hash,
    mut depth: usize,
    mut siblings: Vec<Hash>,
) -> (Proof, Option<Value>) {
    loop {
        match leaves {
            [] => {
                let proof = Proof {
                    siblings,
                    terminal: Terminal::Empty,
                };
                return (proof, None);
            }
            [(k, v)] => {
                let (terminal, value) = if k == key {
                    (Terminal::Key, Some(*v))
                } else {
                    (Terminal::Other { key: *k, value: *v }, None)
                };
                return (Proof { siblings, terminal }, value);
            }
            _ => {
                let split = leaves.partition_point(|(k, _)| !bit(k, depth));
                let (near, far) = if bit(key, depth) {
                    (&leaves[split..], &leaves[..split])
                } else {
                    (&leaves[..split], &leaves[split..])
                };
                siblings.push(sum_below(far, depth + 1).hash());
                leaves = near;
                depth += 1;
            }
        }
    }
}

/// The root of the stored leaves: one scan, through an array of the shallowest depth that
/// keeps no leaf.
pub(crate) fn stored_root(src: &mut impl LeafSource) -> Result<Hash, Error> {
    Ok(Dense::build_at(|visit| src.each_leaf(visit), MIN_DEPTH, false)?.root())
}

/// Signs the index note of tree `size`, `log_root` with index root `index_root`.
pub(crate) fn sign_note(
    signer: &NoteSigner,
    size: u64,
    log_root: Hash,
    index_root: Hash,
) -> Result<Vec<u8>, Error> {
    let note = IndexNote {
        origin: signer.name().to_owned(),
        size,
        log_root,
        index_root,
    };
    Ok(Note::sign(&note.text(), &[signer])
        .map_err(|e| Error::Sign(e.into()))?
        .encode())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use reprove_verifier::vindex::{prove_in, root_of};

    use super::*;

    /// Leaves in memory, as the store keeps them.
    #[derive(Default)]
    struct Mem(BTreeMap<Hash, Value>);

    impl LeafSource for &Mem {
        fn leaves_under(
            &mut self,
            prefix: &Hash,
            depth: usize,
            out: &mut Vec<(Hash, Value)>,
        ) -> Result<(), Error> {
            let from = first_under(prefix, depth);
            out.extend(
                self.0
                    .range(from..)
                    .take_while(|(k, _)| under(k, prefix, depth))
                    .map(|(k, v)| (*k, *v)),
            );
            Ok(())
        }

        fn each_leaf(&mut self, visit: &mut dyn FnMut(Hash, Value)) -> Result<(), Error> {
            self.0.iter().for_each(|(k, v)| visit(*k, *v));
            Ok(())
        }
    }

    /// A writer's view: the stored leaves and the published array.
    struct Tree {
        mem: Mem,
        dense: Dense,
    }

    impl Tree {
        /// An empty tree whose array is `depth` deep and holds the leaves or reads them.
        fn new(depth: usize, keep_leaves: bool) -> Tree {
            Tree {
                mem: Mem::default(),
                dense: Dense::new(depth, keep_leaves),
            }
        }

        fn apply(&mut self, appends: &BTreeMap<Hash, Vec<u64>>) -> Hash {
            let pairs = appends
                .iter()
                .flat_map(|(k, list)| list.iter().map(|i| (*k, *i)))
                .collect();
            let update = apply(&self.dense, &mut &self.mem, Appends(pairs)).unwrap();
            for (key, record) in &update.records {
                let (k, v) = decode_leaf(key, record).unwrap();
                self.mem.0.insert(k, v);
            }
            let root = update.root;
            update.publish(&mut self.dense, None);
            assert_eq!(self.dense.root(), root);
            root
        }

        fn prove(&self, key: &Hash) -> (Proof, Option<Value>) {
            prove(&self.dense, &mut &self.mem, key).unwrap()
        }
    }

    fn reference(lists: &BTreeMap<Hash, Vec<u64>>) -> Vec<(Hash, Value)> {
        lists
            .iter()
            .map(|(k, l)| (*k, Value::of(l).unwrap()))
            .collect()
    }

    #[test]
    fn rounds_of_appends_give_the_reference_root_and_proofs_that_verify() {
        for keep_leaves in [true, false] {
            rounds_of_appends(keep_leaves);
        }
    }

    fn rounds_of_appends(keep_leaves: bool) {
        let mut tree = Tree::new(MIN_DEPTH, keep_leaves);
        let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
        let mut next = 0u64;
        assert_eq!(tree.dense.root(), EMPTY);
        // Rounds of different shapes: new keys, old keys again, one key many times.
        for round in 0..30u32 {
            let mut appends: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
            for j in 0..(round % 7 + 1) {
                let key = key_hash(&((round * 3 + j) % 40).to_be_bytes());
                appends.entry(key).or_default().push(next);
                lists.entry(key).or_default().push(next);
                next += 1;
            }
            let root = tree.apply(&appends);
            let leaves = reference(&lists);
            assert_eq!(root, root_of(&leaves), "round {round}");
            assert_eq!(tree.dense.keys(), lists.len() as u64);
            for (k, list) in &lists {
                let (proof, value) = tree.prove(k);
                assert_eq!(value, Some(Value::of(list).unwrap()));
                proof.verify(&root, k, list).unwrap();
            }
            for absent in 1000..1010u32 {
                let k = key_hash(&absent.to_be_bytes());
                let (proof, value) = tree.prove(&k);
                assert_eq!(value, None);
                proof.verify(&root, &k, &[]).unwrap();
            }
        }
    }

    /// Keys whose hashes share long prefixes (down to the last bit, far below the array) and
    /// thousands of random ones, on an array that starts 2 levels deep and is rebuilt deeper
    /// by a round: every root and proof is the reference one, and an array built from the
    /// leaves alone (as at open) is the one the rounds left.
    #[test]
    fn an_array_deepened_from_its_leaves_is_the_one_built_at_that_depth() {
        let mut lists = BTreeMap::new();
        for i in 0..5000u32 {
            let key = key_hash(&i.to_be_bytes());
            lists.insert(key, (0..u64::from(i % 3 + 1)).collect::<Vec<u64>>());
        }
        // Two keys that share 30 bits: below any bottom node these arrays have.
        let mut twin = [0x33; 32];
        lists.insert(twin, vec![7]);
        twin[3] ^= 0x02;
        lists.insert(twin, vec![8]);
        let leaves = reference(&lists);
        let scan = |visit: &mut dyn FnMut(Hash, Value)| {
            leaves.iter().for_each(|(k, v)| visit(*k, *v));
            Ok(())
        };
        for (from, to) in [(2, 12), (12, 14), (13, 20)] {
            let shallow = Dense::build_at(scan, from, true).unwrap();
            let deepened = shallow.deepened(shallow.leaves.as_ref().unwrap(), to);
            let built = Dense::build_at(scan, to, true).unwrap();
            assert_eq!(deepened.root(), root_of(&leaves));
            assert_eq!((deepened.depth, deepened.keys), (built.depth, built.keys));
            assert_eq!(deepened.hashes, built.hashes, "{from} -> {to}");
            assert_eq!(deepened.ones, built.ones, "{from} -> {to}");
            assert_eq!(deepened.leaves, built.leaves, "{from} -> {to}");
        }
    }

    #[test]
    fn deep_and_wide_trees_give_the_reference_root_and_proofs() {
        for keep_leaves in [true, false] {
            deep_and_wide(keep_leaves);
        }
    }

    fn deep_and_wide(keep_leaves: bool) {
        let mut tree = Tree::new(2, keep_leaves);
        let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
        let mut next = 0u64;
        let crafted = |last: u8, at: usize| {
            let mut k = [0x5a; 32];
            k[at] ^= last;
            k
        };
        let rounds: Vec<Vec<Hash>> = vec![
            vec![crafted(0, 31)],
            vec![crafted(1, 31), crafted(0x80, 16), crafted(0x01, 1)],
            (0..3000u32).map(|i| key_hash(&i.to_be_bytes())).collect(),
            vec![crafted(0, 31), crafted(2, 31), crafted(0x10, 0)],
            (1500..4500u32)
                .map(|i| key_hash(&i.to_be_bytes()))
                .collect(),
        ];
        for (n, keys) in rounds.into_iter().enumerate() {
            let mut appends: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
            for k in keys {
                appends.entry(k).or_default().push(next);
                lists.entry(k).or_default().push(next);
                next += 1;
            }
            let root = tree.apply(&appends);
            let leaves = reference(&lists);
            assert_eq!(root, root_of(&leaves));
            assert_eq!(stored_root(&mut &tree.mem).unwrap(), root);
            // The round after 3,000 keys found more than 8 per bottom node and rebuilt.
            assert_eq!(tree.dense.depth, if n < 3 { 2 } else { MIN_DEPTH }, "{n}");
            assert_eq!(tree.dense.leaves.is_some(), keep_leaves || n >= 3);
            let built = Dense::build(&mut &tree.mem, lists.len() as u64).unwrap();
            assert_eq!((built.root(), built.keys()), (root, lists.len() as u64));
            if built.depth == tree.dense.depth {
                assert_eq!(built.hashes, tree.dense.hashes);
                assert_eq!(built.ones, tree.dense.ones);
            }
            let absent = [crafted(3, 31), crafted(0x40, 16), key_hash(b"absent")];
            for k in lists
                .keys()
                .step_by(97)
                .chain(&absent)
                .chain(&[crafted(1, 31), crafted(0x01, 1)])
            {
                let list = lists.get(k).cloned().unwrap_or_default();
                let (proof, value) = tree.prove(k);
                assert_eq!(proof, prove_in(&leaves, k));
                assert_eq!(prove(&built, &mut &tree.mem, k).unwrap().0, proof);
                assert_eq!(value.map_or(0, |v| v.count), list.len() as u64);
                proof.verify(&root, k, &list).unwrap();
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random logs in random rounds, on arrays of random depth: after every round, each
        /// key's proven list is exactly the list re-derived from the entries (the reference
        /// root and proof), and keys never logged have proofs of absence.
        #[test]
        fn proven_lists_are_the_entries_lists(
            depth in 0usize..8,
            keep_leaves in proptest::bool::ANY,
            rounds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(0u8..60, 0..4), 1..12),
                1..10,
            ),
        ) {
            let mut tree = Tree::new(depth, keep_leaves);
            let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
            let mut next = 0u64;
            for round in rounds {
                let mut appends: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
                // Each entry of the round is under a few of 60 keys (repeats included).
                for entry_keys in round {
                    let mut keys: Vec<Hash> =
                        entry_keys.iter().map(|k| key_hash(&[*k])).collect();
                    keys.sort();
                    keys.dedup();
                    for k in keys {
                        appends.entry(k).or_default().push(next);
                        lists.entry(k).or_default().push(next);
                    }
                    next += 1;
                }
                let root = tree.apply(&appends);
                let leaves = reference(&lists);
                proptest::prop_assert_eq!(root, root_of(&leaves));
                for k in 0u8..70 {
                    let h = key_hash(&[k]);
                    let list = lists.get(&h).cloned().unwrap_or_default();
                    let (proof, value) = tree.prove(&h);
                    proptest::prop_assert_eq!(&proof, &prove_in(&leaves, &h));
                    proptest::prop_assert_eq!(value.map(|v| v.count).unwrap_or(0), list.len() as u64);
                    proptest::prop_assert!(proof.verify(&root, &h, &list).is_ok());
                    if !list.is_empty() {
                        proptest::prop_assert!(proof.verify(&root, &h, &list[1..]).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn prefixes_select_the_keys_below_a_node() {
        let mut key = [0u8; 32];
        key[0] = 0b1010_1100;
        key[1] = 0xff;
        assert_eq!(index_of(&key, 0), 0);
        assert_eq!(index_of(&key, 3), 0b101);
        assert_eq!(index_of(&key, 12), 0b1010_1100_1111);
        let first = first_under(&key, 5);
        assert_eq!((first[0], first[1]), (0b1010_1000, 0));
        assert!(under(&key, &first, 5));
        assert!(under(&key, &first, 0));
        assert!(!under(&key, &first, 6));
        assert!(under(&key, &key, 256));
        assert_eq!(first_under(&key, 256), key);
        assert_eq!(depth_for(0), MIN_DEPTH);
        assert_eq!(depth_for(3_000_000), 21);
        assert_eq!(depth_for(u64::MAX), MAX_DEPTH);
    }

    #[test]
    fn a_leaf_decodes_to_what_was_stored_and_refuses_anything_else() {
        let value = Value::of(&[1, 4]).unwrap();
        let key = leaf_key(&[3; 32]);
        assert_eq!(key[0], b'k');
        assert_eq!(
            decode_leaf(&key, &value.to_bytes()).unwrap(),
            ([3; 32], value)
        );
        let short_key = &key[..32];
        for (k, v) in [
            (&key[..], &value.to_bytes()[..39]),
            (short_key, &value.to_bytes()[..]),
            (&b"note"[..], &value.to_bytes()[..]),
            (&[b's'; 33][..], &value.to_bytes()[..]),
        ] {
            assert!(decode_leaf(k, v).is_err());
        }
    }
}
