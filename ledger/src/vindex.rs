//! The verifiable index, stored: the sparse Merkle tree of `reprove_verifier::vindex` kept in
//! its own column family and updated inside each round's write batch, so the index root, the
//! lookup records, the entries and the checkpoint become durable together.
//!
//! # Layout (column family `vindex`)
//!
//! | key | value |
//! | --- | --- |
//! | `n` `\|\|` depth (u16 BE) `\|\|` the first ⌈depth/8⌉ bytes of the path (unused bits 0) | `0x00 \|\| key hash \|\| count (u64 BE) \|\| chain` (a leaf) or `0x01 \|\| left hash \|\| right hash` (an interior node) |
//! | `note` | the latest signed index note (it names the tree size it covers) |
//!
//! An interior node keeps both children's hashes, so walking down a path reads one record per
//! level (the sibling's hash is in its parent), and the writer keeps recently used nodes in a
//! bounded cache ([`NodeCache`]). An absent node is an empty subtree. A leaf sits at the
//! shallowest position where it is alone; when a second key arrives below it, the position becomes an interior node and both
//! leaves move down. Keys are never removed (lists only grow), so nothing is ever deleted.
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

/// The column family the tree lives in.
pub(crate) const CF: &str = "vindex";

/// The key of the latest signed index note.
pub(crate) const NOTE_KEY: &[u8] = b"note";

/// The most indices one proven lookup answers with: a proof must carry the whole list. Past
/// it, a client asks a signer-scoped lookup (which strangers cannot flood).
pub const MAX_PROVEN_LIST: u64 = 100_000;

/// A position in the tree: its depth and the path bits above it.
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

type PosMap = std::collections::HashMap<Pos, Node, std::hash::BuildHasherDefault<PosHasher>>;

impl Pos {
    const ROOT: Pos = Pos {
        depth: 0,
        path: EMPTY,
    };

    /// The child on side `right`.
    fn child(&self, right: bool) -> Pos {
        let mut path = self.path;
        if right {
            let d = usize::from(self.depth);
            path[d / 8] |= 0x80 >> (d % 8);
        }
        Pos {
            depth: self.depth + 1,
            path,
        }
    }

    /// The stored key of this position.
    pub(crate) fn key(&self) -> Vec<u8> {
        let bytes = usize::from(self.depth).div_ceil(8);
        let mut out = Vec::with_capacity(3 + bytes);
        out.push(b'n');
        out.extend_from_slice(&self.depth.to_be_bytes());
        out.extend_from_slice(&self.path[..bytes]);
        out
    }
}

/// What is at a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    Empty,
    Leaf {
        key: Hash,
        value: Value,
    },
    /// An interior node, with its children's hashes.
    Interior {
        left: Hash,
        right: Hash,
    },
}

impl Node {
    pub(crate) fn hash(&self) -> Hash {
        match self {
            Node::Empty => EMPTY,
            Node::Leaf { key, value } => leaf_hash(key, value),
            Node::Interior { left, right } => node_hash(left, right),
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Node::Empty => Vec::new(),
            Node::Leaf { key, value } => {
                let mut out = Vec::with_capacity(73);
                out.push(0);
                out.extend_from_slice(key);
                out.extend_from_slice(&value.to_bytes());
                out
            }
            Node::Interior { left, right } => {
                let mut out = Vec::with_capacity(65);
                out.push(1);
                out.extend_from_slice(left);
                out.extend_from_slice(right);
                out
            }
        }
    }

    pub(crate) fn decode(bytes: Option<&[u8]>) -> Result<Node, Error> {
        let bad = || Error::Integrity(Integrity::Undecodable(CF));
        match bytes {
            None => Ok(Node::Empty),
            Some([0, rest @ ..]) if rest.len() == 72 => Ok(Node::Leaf {
                key: rest[..32].try_into().map_err(|_| bad())?,
                value: Value::from_bytes(&rest[32..]).ok_or_else(bad)?,
            }),
            Some([1, rest @ ..]) if rest.len() == 64 => Ok(Node::Interior {
                left: rest[..32].try_into().map_err(|_| bad())?,
                right: rest[32..].try_into().map_err(|_| bad())?,
            }),
            Some(_) => Err(bad()),
        }
    }
}

/// Where nodes are read from: the store, or a snapshot of it.
pub(crate) trait NodeSource {
    fn node(&self, pos: &Pos) -> Result<Node, Error>;
}

/// A bounded write-through cache of tree nodes in front of the store, for the writer: the
/// upper levels of the tree are on every round's paths. Two generations: a lookup that hits
/// the old one moves the node to the young one, and when the young one is full the old one is
/// dropped — at most `2 × cap` nodes, the hot ones kept.
#[derive(Debug)]
pub(crate) struct NodeCache {
    young: PosMap,
    old: PosMap,
    cap: usize,
}

impl NodeCache {
    /// A cache of at most `2 × cap` nodes.
    pub(crate) fn new(cap: usize) -> Self {
        NodeCache {
            young: PosMap::default(),
            old: PosMap::default(),
            cap,
        }
    }

    fn get(&mut self, pos: &Pos) -> Option<Node> {
        if let Some(n) = self.young.get(pos) {
            return Some(*n);
        }
        let n = self.old.remove(pos)?;
        self.put(*pos, n);
        Some(n)
    }

    fn put(&mut self, pos: Pos, node: Node) {
        if self.young.len() >= self.cap {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(pos, node);
    }

    /// Records a committed round's node writes.
    pub(crate) fn committed(&mut self, writes: &[(Pos, Node)]) {
        for (pos, node) in writes {
            self.put(*pos, *node);
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
    fn node(&self, pos: &Pos) -> Result<Node, Error> {
        if let Some(n) = self.cache.borrow_mut().get(pos) {
            return Ok(n);
        }
        let n = self.store.node(pos)?;
        self.cache.borrow_mut().put(*pos, n);
        Ok(n)
    }
}

/// The node writes of one round and the new root.
#[derive(Debug, Default)]
pub(crate) struct Update {
    pub(crate) root: Hash,
    pub(crate) writes: Vec<(Pos, Node)>,
}

/// One key being placed: its hash, its value before this round when known (found on the way
/// down, or a leaf that moves down), and the indices to append to it.
struct Item<'a> {
    key: Hash,
    base: Option<Value>,
    append: &'a [u64],
}

/// Applies `appends` (key hash → indices to append, increasing) to the tree in `src`.
pub(crate) fn apply(
    src: &impl NodeSource,
    appends: &BTreeMap<Hash, Vec<u64>>,
) -> Result<Update, Error> {
    let root = src.node(&Pos::ROOT)?;
    if appends.is_empty() {
        return Ok(Update {
            root: root.hash(),
            writes: Vec::new(),
        });
    }
    let items: Vec<Item<'_>> = appends
        .iter()
        .map(|(key, append)| Item {
            key: *key,
            base: None,
            append,
        })
        .collect();
    let mut writes = Vec::new();
    let node = place(src, Pos::ROOT, root, items, &mut writes)?;
    Ok(Update {
        root: node.hash(),
        writes,
    })
}

/// Places `items` (all under `pos`) into the subtree at `pos`, whose node is `current`.
fn place(
    src: &impl NodeSource,
    pos: Pos,
    current: Node,
    mut items: Vec<Item<'_>>,
    writes: &mut Vec<(Pos, Node)>,
) -> Result<Node, Error> {
    // One key into an empty position, or into its own leaf: the leaf stays (or lands) here.
    if let [item] = &items[..] {
        let base = match current {
            Node::Empty => Some(item.base.unwrap_or_default()),
            Node::Leaf { key, value } if key == item.key => Some(value),
            _ => None,
        };
        if let Some(mut value) = base {
            for &i in item.append {
                value.push(i);
            }
            let node = Node::Leaf {
                key: item.key,
                value,
            };
            writes.push((pos, node));
            return Ok(node);
        }
    }
    if usize::from(pos.depth) >= reprove_verifier::vindex::MAX_DEPTH {
        return Err(Error::Bug("two index keys with the same hash"));
    }
    // The children's hashes, and whether the children are stored (only below an interior
    // node: below a leaf or an empty position everything is empty).
    let (mut left, mut right, stored) = match current {
        Node::Empty => (EMPTY, EMPTY, false),
        // A leaf here moves down, with its value, beside the newcomers.
        Node::Leaf { key, value } => {
            match items.iter_mut().find(|i| i.key == key) {
                Some(i) => i.base = Some(value),
                None => items.push(Item {
                    key,
                    base: Some(value),
                    append: &[],
                }),
            }
            (EMPTY, EMPTY, false)
        }
        Node::Interior { left, right } => (left, right, true),
    };
    let depth = usize::from(pos.depth);
    let (r_items, l_items): (Vec<Item<'_>>, Vec<Item<'_>>) =
        items.into_iter().partition(|i| bit(&i.key, depth));
    for (side, side_items, hash) in [(false, l_items, &mut left), (true, r_items, &mut right)] {
        if side_items.is_empty() {
            continue;
        }
        let child = pos.child(side);
        let below = if stored {
            src.node(&child)?
        } else {
            Node::Empty
        };
        *hash = place(src, child, below, side_items, writes)?.hash();
    }
    let node = Node::Interior { left, right };
    writes.push((pos, node));
    Ok(node)
}

/// The proof for `key` (its hash) in the tree in `src`, and the key's value (`None`: absent).
pub(crate) fn prove(src: &impl NodeSource, key: &Hash) -> Result<(Proof, Option<Value>), Error> {
    let mut siblings = Vec::new();
    let mut pos = Pos::ROOT;
    loop {
        match src.node(&pos)? {
            Node::Empty => {
                return Ok((
                    Proof {
                        siblings,
                        terminal: Terminal::Empty,
                    },
                    None,
                ));
            }
            Node::Leaf { key: k, value } if &k == key => {
                return Ok((
                    Proof {
                        siblings,
                        terminal: Terminal::Key,
                    },
                    Some(value),
                ));
            }
            Node::Leaf { key: k, value } => {
                return Ok((
                    Proof {
                        siblings,
                        terminal: Terminal::Other { key: k, value },
                    },
                    None,
                ));
            }
            Node::Interior { left, right: r } => {
                let right = bit(key, usize::from(pos.depth));
                siblings.push(if right { left } else { r });
                pos = pos.child(right);
                if usize::from(pos.depth) > reprove_verifier::vindex::MAX_DEPTH {
                    return Err(Integrity::Undecodable(CF).into());
                }
            }
        }
    }
}

/// The root of the stored tree.
pub(crate) fn stored_root(src: &impl NodeSource) -> Result<Hash, Error> {
    Ok(src.node(&Pos::ROOT)?.hash())
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
        fn node(&self, pos: &Pos) -> Result<Node, Error> {
            Node::decode(self.0.borrow().get(&pos.key()).map(Vec::as_slice))
        }
    }

    impl Mem {
        fn apply(&self, appends: &BTreeMap<Hash, Vec<u64>>) -> Hash {
            let update = apply(self, appends).unwrap();
            let mut map = self.0.borrow_mut();
            for (pos, node) in update.writes {
                map.insert(pos.key(), node.encode());
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
    fn positions_have_distinct_keys() {
        let a = Pos::ROOT.child(true).child(false);
        let b = Pos::ROOT.child(true);
        let c = Pos::ROOT.child(false).child(false);
        assert_ne!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        assert_eq!(Pos::ROOT.key(), b"n\0\0");
    }
}
