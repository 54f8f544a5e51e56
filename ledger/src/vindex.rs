//! The verifiable index, stored: the sparse Merkle tree of `reprove_verifier::vindex` kept in
//! its own column family and updated inside each round's write batch, so the index root, the
//! lookup records, the entries and the checkpoint become durable together.
//!
//! # Layout (column family `vindex`, index version 4)
//!
//! | key | value |
//! | --- | --- |
//! | `s` `\|\|` level (u8: depth / 4) `\|\|` the first ⌈depth/8⌉ bytes of the path (unused bits 0) | a [`Stratum`]: `taken` (u16 BE, bit `j` for slot `j`) `\|\|` `subs` (u16 BE, a subset) `\|\|` per taken slot in order, a subtree's hash (32 bytes) or a leaf's `key hash \|\| count (u64 BE) \|\| chain` (72 bytes) |
//! | `note` | the latest signed index note (it names the tree size it covers) |
//!
//! The tree is stored in **strata** of four levels: one record for the subtree at every
//! position whose depth is a multiple of 4 and that holds two keys or more (and for the root),
//! holding the 16 subtrees four levels below it — each empty, one key's leaf (which may sit
//! higher: a one-key subtree collapses) or the root hash of the next stratum. The 15 hashes
//! inside a stratum are recomputed from its slots when it is read. A round rewrites one record
//! per four levels of each changed path instead of one per level (≈ 4.5× fewer records at a
//! few million keys, about the same bytes), a proof reads ⌈depth/4⌉ records, and the writer
//! keeps recently used strata in a bounded cache ([`NodeCache`]). Keys are never removed
//! (lists only grow), so nothing is ever deleted. The commitment — root, leaves, nodes, proofs —
//! is the one of docs/formats.md §7 whatever the layout.
//!
//! Only the lookups a consumer decides on are committed ([`IndexKey::is_proven`]); the web
//! pages' lists (all releases, mismatches, rebuilders, days) and blob records stay plain
//! records: nobody's trust decision rests on them.

use std::collections::BTreeMap;

use reprove_verifier::merkle::Hash;
use reprove_verifier::note::{Note, NoteSigner};
use reprove_verifier::vindex::{
    EMPTY, IndexNote, Proof, Terminal, Value, bit, key_hash, leaf_hash, node_hash,
};

use crate::error::{Error, Integrity};
use crate::index::IndexKey;
use crate::storage::KeyValue;

/// The column family the tree lives in.
pub(crate) const CF: &str = "vindex";

/// The key of the latest signed index note.
pub(crate) const NOTE_KEY: &[u8] = b"note";

/// The most indices one proven lookup answers with: a proof must carry the whole list. Past
/// it, a client asks a signer-scoped lookup (which strangers cannot flood).
pub const MAX_PROVEN_LIST: u64 = 100_000;

/// How many levels of the tree one stored record (a stratum) spans.
const STRATUM: usize = 4;

/// The positions at the bottom of a stratum: its slots.
const FANOUT: usize = 1 << STRATUM;

/// A position in the tree: its depth and the path bits above it. The positions the store
/// keeps records at are the strata's tops, at depths that are multiples of [`STRATUM`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    depth: u16,
    path: Hash,
}

impl std::hash::Hash for Pos {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The path is (a prefix of) a SHA-256 hash: its first 8 bytes and the depth are as
        // good a hash as any, for a fraction of hashing all 34 bytes.
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.path[..8]);
        state.write_u64(u64::from_le_bytes(first) ^ u64::from(self.depth).rotate_left(56));
    }
}

/// Hashes a [`Pos`]'s one `u64` with a multiply, not SipHash: the cache's keys are not chosen
/// by anyone who could aim collisions at it (they are SHA-256 prefixes).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PosHasher(u64);

impl std::hash::Hasher for PosHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Strata by position, boxed: a stratum is ≈ 1.3 KB, and the map moves its values when it grows.
type PosMap =
    std::collections::HashMap<Pos, Box<Stratum>, std::hash::BuildHasherDefault<PosHasher>>;

impl Pos {
    const ROOT: Pos = Pos {
        depth: 0,
        path: EMPTY,
    };

    /// The top of the stratum below slot `slot` of this stratum.
    fn child(&self, slot: usize) -> Pos {
        let mut path = self.path;
        let d = usize::from(self.depth);
        // `STRATUM` divides 8: a stratum's slot bits sit inside one byte.
        let shift = 8 - STRATUM - d % 8;
        path[d / 8] |= (slot as u8) << shift;
        Pos {
            depth: self.depth + STRATUM as u16,
            path,
        }
    }

    /// The slot of this stratum that `key` falls in.
    fn slot_of(&self, key: &Hash) -> usize {
        let d = usize::from(self.depth);
        usize::from(key[d / 8] >> (8 - STRATUM - d % 8)) & (FANOUT - 1)
    }

    /// The stored key of this stratum: `s`, the stratum's level (depth / [`STRATUM`]), the
    /// first ⌈depth/8⌉ bytes of the path (unused bits 0).
    pub(crate) fn key(&self) -> Vec<u8> {
        let bytes = usize::from(self.depth).div_ceil(8);
        let mut out = Vec::with_capacity(2 + bytes);
        out.push(b's');
        out.push((usize::from(self.depth) / STRATUM) as u8);
        out.extend_from_slice(&self.path[..bytes]);
        out
    }
}

/// What sits at the bottom of a stratum, [`STRATUM`] levels below its top.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Slot {
    /// An empty subtree.
    #[default]
    Empty,
    /// The one key of this subtree (its leaf may sit higher: a one-key subtree collapses).
    Leaf { key: Hash, value: Value },
    /// A subtree of two keys or more, stored as the stratum below: its root hash.
    Sub(Hash),
}

/// A subtree's root, and whether it holds no key, one key (its hash is that key's leaf) or
/// more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sum {
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

/// One stored record: [`STRATUM`] levels of the tree below a position, as the [`FANOUT`]
/// subtrees at their bottom. The interior hashes are recomputed from the slots (at most
/// `FANOUT - 1` node hashes): storing them would double the bytes every round rewrites.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stratum {
    slots: [Slot; FANOUT],
}

/// The stratum's subtree, heap-ordered: `[1]` is its top, `[i]`'s children are `[2i]` and
/// `[2i + 1]`, slot `j` is `[FANOUT + j]`.
type Sums = [Sum; 2 * FANOUT];

impl Stratum {
    fn sums(&self) -> Sums {
        let mut t = [Sum::Empty; 2 * FANOUT];
        for (j, slot) in self.slots.iter().enumerate() {
            t[FANOUT + j] = match slot {
                Slot::Empty => Sum::Empty,
                Slot::Leaf { key, value } => Sum::One(leaf_hash(key, value)),
                Slot::Sub(h) => Sum::Many(*h),
            };
        }
        for i in (1..FANOUT).rev() {
            t[i] = Sum::join(t[2 * i], t[2 * i + 1]);
        }
        t
    }

    /// The stored bytes: which slots are taken and which of them are subtrees (two `u16` BE
    /// bitmaps, bit `j` for slot `j`), then each taken slot in order: a subtree's hash, or a
    /// leaf's key hash and value (count u64 BE, chain).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (mut taken, mut subs) = (0u16, 0u16);
        let mut body = Vec::with_capacity(FANOUT * 72);
        for (j, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Empty => continue,
                Slot::Leaf { key, value } => {
                    body.extend_from_slice(key);
                    body.extend_from_slice(&value.to_bytes());
                }
                Slot::Sub(h) => {
                    subs |= 1 << j;
                    body.extend_from_slice(h);
                }
            }
            taken |= 1 << j;
        }
        let mut out = Vec::with_capacity(4 + body.len());
        out.extend_from_slice(&taken.to_be_bytes());
        out.extend_from_slice(&subs.to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// The stratum [`Stratum::encode`] wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Stratum, Error> {
        let bad = || Error::Integrity(Integrity::Undecodable(CF));
        let (head, mut rest) = bytes.split_first_chunk::<4>().ok_or_else(bad)?;
        let taken = u16::from_be_bytes([head[0], head[1]]);
        let subs = u16::from_be_bytes([head[2], head[3]]);
        if subs & !taken != 0 {
            return Err(bad());
        }
        let mut st = Stratum::default();
        for (j, slot) in st.slots.iter_mut().enumerate() {
            if taken & (1 << j) == 0 {
                continue;
            }
            let len = if subs & (1 << j) != 0 { 32 } else { 72 };
            let (this, more) = rest.split_at_checked(len).ok_or_else(bad)?;
            rest = more;
            *slot = if len == 32 {
                Slot::Sub(this.try_into().map_err(|_| bad())?)
            } else {
                Slot::Leaf {
                    key: this[..32].try_into().map_err(|_| bad())?,
                    value: Value::from_bytes(&this[32..]).ok_or_else(bad)?,
                }
            };
        }
        if rest.is_empty() { Ok(st) } else { Err(bad()) }
    }

    /// The one leaf among the slots under heap node `i` (whose sum is one key).
    fn only_leaf(&self, i: usize) -> Option<(Hash, Value)> {
        let level = i.ilog2() as usize;
        let width = FANOUT >> level;
        let first = (i << (STRATUM - level)) - FANOUT;
        self.slots[first..first + width]
            .iter()
            .find_map(|s| match s {
                Slot::Leaf { key, value } => Some((*key, *value)),
                _ => None,
            })
    }
}

/// Where strata are read from: the store, or a snapshot of it. `None`: no record (only the
/// root of an empty index has none; every [`Slot::Sub`] has its stratum).
pub(crate) trait NodeSource {
    fn stratum(&self, pos: &Pos) -> Result<Option<Stratum>, Error>;
}

/// A bounded write-through cache of strata in front of the store, for the writer: the upper
/// strata are on every round's paths. Two generations: a lookup that hits the old one moves
/// the stratum to the young one, and when the young one is full the old one is dropped — at
/// most `2 × cap` strata, the hot ones kept.
#[derive(Debug)]
pub(crate) struct NodeCache {
    young: PosMap,
    old: PosMap,
    cap: usize,
}

impl NodeCache {
    /// A cache of at most `2 × cap` strata.
    pub(crate) fn new(cap: usize) -> Self {
        NodeCache {
            young: PosMap::default(),
            old: PosMap::default(),
            cap,
        }
    }

    fn get(&mut self, pos: &Pos) -> Option<Stratum> {
        if let Some(n) = self.young.get(pos) {
            return Some((**n).clone());
        }
        let n = self.old.remove(pos)?;
        let copy = (*n).clone();
        self.put(*pos, n);
        Some(copy)
    }

    fn put(&mut self, pos: Pos, stratum: Box<Stratum>) {
        if self.young.len() >= self.cap {
            // Sized once per generation: growing it would rehash every entry again and again.
            let fresh = PosMap::with_capacity_and_hasher(self.cap, Default::default());
            self.old = std::mem::replace(&mut self.young, fresh);
        }
        self.young.insert(pos, stratum);
    }

    /// Records a committed round's writes.
    pub(crate) fn committed(&mut self, writes: Vec<(Pos, Box<Stratum>)>) {
        for (pos, stratum) in writes {
            self.put(pos, stratum);
        }
    }

    /// Forgets everything (the store changed under it: a rebuild of the index).
    pub(crate) fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

/// The store read through a [`NodeCache`].
pub(crate) struct Cached<'a, S> {
    pub(crate) store: &'a S,
    pub(crate) cache: std::cell::RefCell<&'a mut NodeCache>,
}

impl<S: NodeSource> NodeSource for Cached<'_, S> {
    fn stratum(&self, pos: &Pos) -> Result<Option<Stratum>, Error> {
        if let Some(n) = self.cache.borrow_mut().get(pos) {
            return Ok(Some(n));
        }
        let n = self.store.stratum(pos)?;
        if let Some(n) = &n {
            self.cache.borrow_mut().put(*pos, Box::new(n.clone()));
        }
        Ok(n)
    }
}

/// The strata one round rewrites and the new root.
#[derive(Debug, Default)]
pub(crate) struct Update {
    pub(crate) root: Hash,
    pub(crate) writes: Vec<(Pos, Box<Stratum>)>,
    /// The writes as stored records, in key order (RocksDB's memtable inserts a sorted run
    /// faster than scattered keys): encoded where the update is computed, off the commit.
    pub(crate) records: Vec<KeyValue>,
}

impl Update {
    fn new(root: Hash, writes: Vec<(Pos, Box<Stratum>)>) -> Update {
        let mut records: Vec<KeyValue> = writes
            .iter()
            .map(|(pos, st)| (pos.key(), st.encode()))
            .collect();
        records.sort_unstable();
        Update {
            root,
            writes,
            records,
        }
    }
}

/// One key being placed: its hash, its value before this round when known (a leaf that moves
/// down), and the indices to append to it.
struct Item<'a> {
    key: Hash,
    base: Option<Value>,
    append: &'a [u64],
}

/// Applies `appends` (key hash → indices to append, increasing) to the tree in `src`: every
/// key's path is walked once, all of the round's keys together, so a stratum the round's keys
/// share is read, rehashed and written once.
pub(crate) fn apply(
    src: &impl NodeSource,
    appends: &BTreeMap<Hash, Vec<u64>>,
) -> Result<Update, Error> {
    let root = src.stratum(&Pos::ROOT)?.unwrap_or_default();
    if appends.is_empty() {
        return Ok(Update::new(root.sums()[1].hash(), Vec::new()));
    }
    // In key order, so the keys under each slot are one run.
    let items: Vec<Item<'_>> = appends
        .iter()
        .map(|(key, append)| Item {
            key: *key,
            base: None,
            append,
        })
        .collect();
    let mut writes = Vec::new();
    let sum = place(src, Pos::ROOT, root, items, &mut writes)?;
    Ok(Update::new(sum.hash(), writes))
}

/// Places `items` (all under `pos`, in key order) into the stratum at `pos`, `current`.
fn place(
    src: &impl NodeSource,
    pos: Pos,
    mut current: Stratum,
    items: Vec<Item<'_>>,
    writes: &mut Vec<(Pos, Box<Stratum>)>,
) -> Result<Sum, Error> {
    let mut items = items.into_iter().peekable();
    while let Some(first) = items.next() {
        let slot = pos.slot_of(&first.key);
        let mut run = vec![first];
        while let Some(next) = items.next_if(|i| pos.slot_of(&i.key) == slot) {
            run.push(next);
        }
        current.slots[slot] = place_slot(src, pos, slot, current.slots[slot], run, writes)?;
    }
    let sum = current.sums()[1];
    writes.push((pos, Box::new(current)));
    Ok(sum)
}

/// Places `run` (in key order) into slot `slot` of the stratum at `pos`, which holds `was`.
fn place_slot(
    src: &impl NodeSource,
    pos: Pos,
    slot: usize,
    was: Slot,
    mut run: Vec<Item<'_>>,
    writes: &mut Vec<(Pos, Box<Stratum>)>,
) -> Result<Slot, Error> {
    // One key into an empty slot, or into its own leaf: the slot is (still) its leaf.
    if let [item] = &run[..] {
        let base = match was {
            Slot::Empty => Some(item.base.unwrap_or_default()),
            Slot::Leaf { key, value } if key == item.key => Some(value),
            _ => None,
        };
        if let Some(mut value) = base {
            for &i in item.append {
                value.push(i);
            }
            return Ok(Slot::Leaf {
                key: item.key,
                value,
            });
        }
    }
    if usize::from(pos.depth) + STRATUM >= reprove_verifier::vindex::MAX_DEPTH {
        return Err(Error::Bug("two index keys with the same hash"));
    }
    let child = pos.child(slot);
    let below = match was {
        Slot::Empty => Stratum::default(),
        // The leaf here moves down, with its value, beside the newcomers.
        Slot::Leaf { key, value } => {
            match run.binary_search_by(|i| i.key.cmp(&key)) {
                Ok(at) => run[at].base = Some(value),
                Err(at) => run.insert(
                    at,
                    Item {
                        key,
                        base: Some(value),
                        append: &[],
                    },
                ),
            }
            Stratum::default()
        }
        Slot::Sub(_) => src
            .stratum(&child)?
            .ok_or(Error::Integrity(Integrity::Undecodable(CF)))?,
    };
    match place(src, child, below, run, writes)? {
        Sum::Many(h) => Ok(Slot::Sub(h)),
        _ => Err(Error::Bug(
            "a stratum below a slot holds fewer than two keys",
        )),
    }
}

/// The proof for `key` (its hash) in the tree in `src`, and the key's value (`None`: absent).
pub(crate) fn prove(src: &impl NodeSource, key: &Hash) -> Result<(Proof, Option<Value>), Error> {
    let mut siblings = Vec::new();
    let mut pos = Pos::ROOT;
    let mut stratum = src.stratum(&pos)?.unwrap_or_default();
    let end = |siblings, terminal| Ok((Proof { siblings, terminal }, None));
    loop {
        let sums = stratum.sums();
        let mut i = 1;
        // Down the stratum along the key, to a slot that is a stratum of its own.
        while i < FANOUT || !matches!(sums[i], Sum::Many(_)) {
            match sums[i] {
                Sum::Empty => return end(siblings, Terminal::Empty),
                Sum::One(_) => {
                    let (k, value) = stratum
                        .only_leaf(i)
                        .ok_or(Error::Integrity(Integrity::Undecodable(CF)))?;
                    if &k == key {
                        let proof = Proof {
                            siblings,
                            terminal: Terminal::Key,
                        };
                        return Ok((proof, Some(value)));
                    }
                    return end(siblings, Terminal::Other { key: k, value });
                }
                Sum::Many(_) => {
                    let level = i.ilog2() as usize;
                    let right = bit(key, usize::from(pos.depth) + level);
                    siblings.push(sums[2 * i + usize::from(!right)].hash());
                    i = 2 * i + usize::from(right);
                }
            }
        }
        pos = pos.child(i - FANOUT);
        if usize::from(pos.depth) >= reprove_verifier::vindex::MAX_DEPTH {
            return Err(Integrity::Undecodable(CF).into());
        }
        stratum = src
            .stratum(&pos)?
            .ok_or(Error::Integrity(Integrity::Undecodable(CF)))?;
    }
}

/// The root of the stored tree.
pub(crate) fn stored_root(src: &impl NodeSource) -> Result<Hash, Error> {
    Ok(src
        .stratum(&Pos::ROOT)?
        .map_or(EMPTY, |root| root.sums()[1].hash()))
}

/// Adds entry `index` (entries in log order) to the lists of its proven keys among `keys`:
/// what one round, or a reindex, appends to the tree. An entry whose keys repeat counts once
/// under each.
pub(crate) fn add_entry(appends: &mut BTreeMap<Hash, Vec<u64>>, index: u64, keys: &[IndexKey]) {
    for key in keys.iter().filter(|k| k.is_proven()) {
        let list = appends.entry(key_hash(&key.encoding())).or_default();
        if list.last() != Some(&index) {
            list.push(index);
        }
    }
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
    use std::cell::RefCell;
    use std::collections::HashMap;

    use reprove_verifier::vindex::root_of;

    use super::*;

    /// An in-memory node store.
    #[derive(Default)]
    struct Mem(RefCell<HashMap<Vec<u8>, Vec<u8>>>);

    impl NodeSource for Mem {
        fn stratum(&self, pos: &Pos) -> Result<Option<Stratum>, Error> {
            self.0
                .borrow()
                .get(&pos.key())
                .map(|b| Stratum::decode(b))
                .transpose()
        }
    }

    impl Mem {
        fn apply(&self, appends: &BTreeMap<Hash, Vec<u64>>) -> Hash {
            let update = apply(self, appends).unwrap();
            let mut map = self.0.borrow_mut();
            for (key, record) in update.records {
                map.insert(key, record);
            }
            update.root
        }
    }

    #[test]
    fn rounds_of_appends_give_the_reference_root_and_proofs_that_verify() {
        let mem = Mem::default();
        let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
        let mut next = 0u64;
        // Rounds of different shapes: new keys, old keys again, one key many times.
        for round in 0..30u32 {
            let mut appends: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
            for j in 0..(round % 7 + 1) {
                let key = key_hash(&((round * 3 + j) % 40).to_be_bytes());
                appends.entry(key).or_default().push(next);
                lists.entry(key).or_default().push(next);
                next += 1;
            }
            let root = mem.apply(&appends);
            let leaves: Vec<(Hash, Value)> = lists
                .iter()
                .map(|(k, l)| (*k, Value::of(l).unwrap()))
                .collect();
            assert_eq!(root, root_of(&leaves), "round {round}");
            for (k, list) in &lists {
                let (proof, value) = prove(&mem, k).unwrap();
                assert_eq!(value, Some(Value::of(list).unwrap()));
                proof.verify(&root, k, list).unwrap();
            }
            for absent in 1000..1010u32 {
                let k = key_hash(&absent.to_be_bytes());
                let (proof, value) = prove(&mem, &k).unwrap();
                assert_eq!(value, None);
                proof.verify(&root, &k, &[]).unwrap();
            }
        }
    }

    /// Keys whose hashes share long prefixes (down to the last bit) and thousands of random
    /// ones: every stratum depth, leaves moving down several strata at once, and the deepest
    /// stratum, against the reference root and prover.
    #[test]
    fn deep_and_wide_trees_give_the_reference_root_and_proofs() {
        let mem = Mem::default();
        let mut lists: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
        let mut next = 0u64;
        let crafted = |last: u8, at: usize| {
            let mut k = [0x5a; 32];
            k[at] ^= last;
            k
        };
        let rounds: Vec<Vec<Hash>> = vec![
            vec![crafted(0, 31)],
            vec![crafted(1, 31), crafted(0x80, 16)],
            (0..3000u32).map(|i| key_hash(&i.to_be_bytes())).collect(),
            vec![crafted(0, 31), crafted(2, 31), crafted(0x10, 0)],
            (1500..4500u32)
                .map(|i| key_hash(&i.to_be_bytes()))
                .collect(),
        ];
        for keys in rounds {
            let mut appends: BTreeMap<Hash, Vec<u64>> = BTreeMap::new();
            for k in keys {
                appends.entry(k).or_default().push(next);
                lists.entry(k).or_default().push(next);
                next += 1;
            }
            let root = mem.apply(&appends);
            let leaves: Vec<(Hash, Value)> = lists
                .iter()
                .map(|(k, l)| (*k, Value::of(l).unwrap()))
                .collect();
            assert_eq!(root, root_of(&leaves));
            assert_eq!(stored_root(&mem).unwrap(), root);
            let absent = [crafted(3, 31), crafted(0x40, 16), key_hash(b"absent")];
            for k in lists
                .keys()
                .step_by(97)
                .chain(&absent)
                .chain(&[crafted(1, 31)])
            {
                let list = lists.get(k).cloned().unwrap_or_default();
                let (proof, value) = prove(&mem, k).unwrap();
                assert_eq!(proof, reprove_verifier::vindex::prove_in(&leaves, k));
                assert_eq!(value.map_or(0, |v| v.count), list.len() as u64);
                proof.verify(&root, k, &list).unwrap();
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Random logs in random rounds: after every round, each key's proven list is exactly
        /// the list re-derived from the entries (the reference root, a proof that verifies),
        /// and keys never logged have proofs of absence.
        #[test]
        fn proven_lists_are_the_entries_lists(
            rounds in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(0u8..60, 0..4), 1..12),
                1..10,
            ),
        ) {
            let mem = Mem::default();
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
                let root = mem.apply(&appends);
                let leaves: Vec<(Hash, Value)> = lists
                    .iter()
                    .map(|(k, l)| (*k, Value::of(l).unwrap()))
                    .collect();
                proptest::prop_assert_eq!(root, root_of(&leaves));
                for k in 0u8..70 {
                    let h = key_hash(&[k]);
                    let list = lists.get(&h).cloned().unwrap_or_default();
                    let (proof, value) = prove(&mem, &h).unwrap();
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
    fn strata_have_distinct_keys_and_slots_follow_the_key_bits() {
        let a = Pos::ROOT.child(0b1010).child(0b0001);
        let b = Pos::ROOT.child(0b1010);
        let c = Pos::ROOT.child(0).child(0);
        assert_ne!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        assert_eq!(Pos::ROOT.key(), b"s\0");
        assert_eq!(b.key(), b"s\x01\xa0");
        assert_eq!(a.key(), b"s\x02\xa1");
        let mut key = [0u8; 32];
        key[0] = 0xa1;
        key[1] = 0x70;
        assert_eq!(Pos::ROOT.slot_of(&key), 0xa);
        assert_eq!(b.slot_of(&key), 1);
        assert_eq!(a.slot_of(&key), 7);
        assert_eq!(a.child(7).key(), b"s\x03\xa1\x70");
    }

    #[test]
    fn a_stratum_decodes_to_what_was_encoded_and_refuses_anything_else() {
        let mut st = Stratum::default();
        st.slots[0] = Slot::Sub([9; 32]);
        st.slots[5] = Slot::Leaf {
            key: [3; 32],
            value: Value::of(&[1, 4]).unwrap(),
        };
        st.slots[15] = Slot::Sub([8; 32]);
        let bytes = st.encode();
        assert_eq!(bytes.len(), 4 + 32 + 72 + 32);
        assert_eq!(Stratum::decode(&bytes).unwrap(), st);
        assert_eq!(Stratum::decode(&[0, 0, 0, 0]).unwrap(), Stratum::default());
        for bad in [
            &bytes[..bytes.len() - 1],
            &[bytes.as_slice(), &[0]].concat(),
            &[0, 1, 0, 3],
        ] {
            assert!(Stratum::decode(bad).is_err());
        }
    }
}
