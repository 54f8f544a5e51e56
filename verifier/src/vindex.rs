//! The verifiable index: a map from each lookup key to the complete, ordered list of the log
//! indices recorded under it, committed as a sparse Merkle tree whose root the log signs in an
//! [`IndexNote`] bound to a tree size and log root. A lookup answer carries a [`Proof`] that
//! the list it gives is the whole list (or that the key has none) under that root, so a log
//! cannot leave one entry out of a lookup without signing a root that anyone who re-derives
//! the index from the entries finds wrong.
//!
//! The shape (docs/formats.md, "Verifiable index"):
//!
//! - a key is hashed: `k = SHA-256(key encoding)`, 256 bits, read most significant bit first;
//! - a key's value is its list, committed by a hash chain: `c0 = 32 zero bytes`,
//!   `c_i = SHA-256(0x02 || c_{i-1} || index_i as u64 BE)`, with the list's length: `(count,
//!   chain)`. Appending an index is one hash, and the list only ever grows;
//! - `leaf(k, v) = SHA-256(0x00 || k || count as u64 BE || chain)`,
//!   `node(l, r) = SHA-256(0x01 || l || r)`, an empty subtree is 32 zero bytes;
//! - a subtree holding exactly one key *is* that key's leaf (it sits as high as it can), so a
//!   path is about `log2(keys)` long, not 256.
//!
//! A proof lists the sibling hashes from the root down to where the walk along `k` stops: at
//! the key's own leaf (present), at an empty subtree, or at the leaf of another key that shares
//! the path so far (both: absent). This module only verifies; the ledger builds and stores the
//! tree, and [`root_of`] is the reference that re-derives a root from every key's value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, decode_hash, parse_decimal};
use crate::merkle::{Hash, sha256_short};
use crate::note::{Note, NoteError, NoteVerifier, is_valid_key_name};

/// The hash of an empty subtree (and the root of an empty index).
pub const EMPTY: Hash = [0; 32];

/// The deepest a leaf can sit: one level per bit of a key hash.
pub const MAX_DEPTH: usize = 256;

/// The first line of an index note: no checkpoint can begin with it followed by a non-decimal
/// second line, so a log's signature on one is never taken for a checkpoint.
pub const INDEX_NOTE_HEADER: &str = "reprove.dev/index/v1";

/// Errors of the verifiable index. Every variant means "this does not prove the claim".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("the indices of a lookup must be strictly increasing ({prev} then {next})")]
    NotIncreasing { prev: u64, next: u64 },
    #[error("the proof is {len} levels deep; a key hash has {MAX_DEPTH} bits")]
    TooDeep { len: usize },
    #[error("the proof ends at the leaf of the key asked for, but claims the key is absent")]
    OwnLeafForAbsence,
    #[error("the proof ends at another key's leaf, but the key was claimed present")]
    OtherLeafForPresence,
    #[error("the proof ends at an empty subtree, but the key was claimed present")]
    EmptyForPresence,
    #[error(
        "the other key in the proof does not share the first {depth} bits with the key asked for"
    )]
    NotOnPath { depth: usize },
    #[error("the proof does not lead to the index root the log signed")]
    RootMismatch,
    #[error("index note: {0}")]
    Note(String),
    #[error(
        "the log proves this lookup against its index of tree size {note}, older than the \
         checkpoint of size {under} this check is under: a stale index cannot show the entries \
         logged since"
    )]
    Stale { note: u64, under: u64 },
    #[error(
        "the index note's tree (size {note}) is not shown to extend the checkpoint of size \
         {under}: {reason}"
    )]
    NotExtending {
        note: u64,
        under: u64,
        reason: crate::merkle::ProofError,
    },
    #[error("the index note names origin {got:?}; the log is {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error(
        "the index note covers tree size {size} with log root {note_root}, but the checkpoint \
         of that size has root {checkpoint_root}: the log signed an index of another tree"
    )]
    WrongLogRoot {
        size: u64,
        note_root: String,
        checkpoint_root: String,
    },
}

/// A key's committed value: how many indices its list holds and the hash chain over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Value {
    /// The number of indices.
    pub count: u64,
    /// The hash chain over the indices, in order (`EMPTY` for none).
    pub chain: Hash,
}

impl Default for Value {
    fn default() -> Self {
        Value {
            count: 0,
            chain: EMPTY,
        }
    }
}

impl Value {
    /// The value of the list `indices` (strictly increasing).
    pub fn of(indices: &[u64]) -> Result<Value, IndexError> {
        let mut v = Value::default();
        for pair in indices.windows(2) {
            if pair[1] <= pair[0] {
                return Err(IndexError::NotIncreasing {
                    prev: pair[0],
                    next: pair[1],
                });
            }
        }
        for &i in indices {
            v.push(i);
        }
        Ok(v)
    }

    /// Appends `index` to the list (the caller keeps the order).
    pub fn push(&mut self, index: u64) {
        self.chain = sha256_short(&[&[2], &self.chain, &index.to_be_bytes()]);
        self.count += 1;
    }

    /// The 40 stored bytes: count (u64 BE) then chain.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..8].copy_from_slice(&self.count.to_be_bytes());
        out[8..].copy_from_slice(&self.chain);
        out
    }

    /// The value stored as [`Value::to_bytes`] wrote it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Value> {
        let (count, chain) = bytes.split_first_chunk::<8>()?;
        Some(Value {
            count: u64::from_be_bytes(*count),
            chain: chain.try_into().ok()?,
        })
    }
}

/// The hash a key is placed by: SHA-256 of its encoding (docs/formats.md).
pub fn key_hash(encoding: &[u8]) -> Hash {
    Sha256::digest(encoding).into()
}

/// A leaf: `SHA-256(0x00 || key hash || count BE || chain)`.
pub fn leaf_hash(key: &Hash, value: &Value) -> Hash {
    sha256_short(&[&[0], key, &value.count.to_be_bytes(), &value.chain])
}

/// An interior node: `SHA-256(0x01 || left || right)`, as in the log's tree.
pub use crate::merkle::node_hash;

/// Bit `depth` of a key hash, most significant first: `true` goes right.
pub fn bit(key: &Hash, depth: usize) -> bool {
    key[depth / 8] & (0x80 >> (depth % 8)) != 0
}

/// How many leading bits `a` and `b` share.
pub fn common_prefix(a: &Hash, b: &Hash) -> usize {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = x ^ y;
        if d != 0 {
            return i * 8 + d.leading_zeros() as usize;
        }
    }
    MAX_DEPTH
}

/// Where the walk along a key stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    /// At the leaf of the key asked for: the key is present.
    Key,
    /// At an empty subtree: absent.
    Empty,
    /// At the leaf of another key whose hash shares the path: absent.
    Other { key: Hash, value: Value },
}

/// A proof for one key: the sibling hashes from the root down, and where the walk stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// `siblings[d]` is the hash of the child at depth `d + 1` that is *not* on the key's path.
    pub siblings: Vec<Hash>,
    /// What is at depth `siblings.len()` on the key's path.
    pub terminal: Terminal,
}

impl Proof {
    /// Checks that under `root` the key `key` holds exactly the list `indices` (strictly
    /// increasing; empty: the key is absent).
    pub fn verify(&self, root: &Hash, key: &Hash, indices: &[u64]) -> Result<(), IndexError> {
        let value = Value::of(indices)?;
        let depth = self.siblings.len();
        if depth > MAX_DEPTH {
            return Err(IndexError::TooDeep { len: depth });
        }
        let mut h = match (&self.terminal, indices.is_empty()) {
            (Terminal::Key, false) => leaf_hash(key, &value),
            (Terminal::Key, true) => return Err(IndexError::OwnLeafForAbsence),
            (Terminal::Empty, true) => EMPTY,
            (Terminal::Empty, false) => return Err(IndexError::EmptyForPresence),
            (Terminal::Other { .. }, false) => return Err(IndexError::OtherLeafForPresence),
            (Terminal::Other { key: other, value }, true) => {
                if other == key || common_prefix(other, key) < depth {
                    return Err(IndexError::NotOnPath { depth });
                }
                leaf_hash(other, value)
            }
        };
        for (d, sibling) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, d) {
                node_hash(sibling, &h)
            } else {
                node_hash(&h, sibling)
            };
        }
        if &h == root {
            Ok(())
        } else {
            Err(IndexError::RootMismatch)
        }
    }
}

/// The root of the index holding `leaves` (key hash, value), sorted by key hash, each key once:
/// the reference derivation that fsck and audits compare a log's signed root with.
pub fn root_of(leaves: &[(Hash, Value)]) -> Hash {
    subtree_root(leaves, 0)
}

fn subtree_root(leaves: &[(Hash, Value)], depth: usize) -> Hash {
    match leaves {
        [] => EMPTY,
        [(k, v)] => leaf_hash(k, v),
        _ => {
            let split = leaves.partition_point(|(k, _)| !bit(k, depth));
            node_hash(
                &subtree_root(&leaves[..split], depth + 1),
                &subtree_root(&leaves[split..], depth + 1),
            )
        }
    }
}

/// The proof for `key` in the index holding `leaves` (sorted by key hash, each key once): the
/// reference prover, the walk [`root_of`] takes. The ledger proves from its stored tree; tests
/// and test doubles use this one.
pub fn prove_in(leaves: &[(Hash, Value)], key: &Hash) -> Proof {
    let mut siblings = Vec::new();
    let mut here = leaves;
    let mut depth = 0;
    loop {
        match here {
            [] => {
                return Proof {
                    siblings,
                    terminal: Terminal::Empty,
                };
            }
            [(k, v)] => {
                let terminal = if k == key {
                    Terminal::Key
                } else {
                    Terminal::Other { key: *k, value: *v }
                };
                return Proof { siblings, terminal };
            }
            _ => {
                let split = here.partition_point(|(k, _)| !bit(k, depth));
                let (l, r) = here.split_at(split);
                if bit(key, depth) {
                    siblings.push(subtree_root(l, depth + 1));
                    here = r;
                } else {
                    siblings.push(subtree_root(r, depth + 1));
                    here = l;
                }
                depth += 1;
            }
        }
    }
}

/// The signed statement binding an index root to a tree: the log's key signs it, and it names
/// the tree size and log root it covers, so a consumer who verified that checkpoint (or one it
/// extends) knows which index root its lookups are proven against.
///
/// ```text
/// reprove.dev/index/v1
/// <origin>
/// <tree size>
/// <log root, base64>
/// <index root, base64>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexNote {
    /// The log's origin (its key name).
    pub origin: String,
    /// The tree size the index covers: entries `0..size`.
    pub size: u64,
    /// The log's root at that size.
    pub log_root: Hash,
    /// The index root.
    pub index_root: Hash,
}

impl IndexNote {
    /// The note text.
    pub fn text(&self) -> String {
        format!(
            "{INDEX_NOTE_HEADER}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.log_root),
            STANDARD.encode(self.index_root)
        )
    }

    /// Parses the note text (not the signed note: see [`IndexNote::verify`]).
    pub fn parse_text(text: &str) -> Result<IndexNote, IndexError> {
        let bad = |what: &str| IndexError::Note(what.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text does not end in a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [header, origin, size, log_root, index_root] = lines[..] else {
            return Err(bad("an index note has exactly five lines"));
        };
        if header != INDEX_NOTE_HEADER {
            return Err(bad(&format!("the first line is not {INDEX_NOTE_HEADER}")));
        }
        if !is_valid_key_name(origin) {
            return Err(bad("the origin is not a valid log name"));
        }
        Ok(IndexNote {
            origin: origin.to_owned(),
            size: parse_decimal(size).ok_or_else(|| bad("the tree size is not a decimal"))?,
            log_root: decode_hash(log_root).ok_or_else(|| bad("the log root is not a hash"))?,
            index_root: decode_hash(index_root)
                .ok_or_else(|| bad("the index root is not a hash"))?,
        })
    }

    /// Verifies the signed note `bytes` under the log key `log` and parses it; its origin must
    /// be the key's name.
    pub fn verify(bytes: &[u8], log: &NoteVerifier) -> Result<IndexNote, IndexError> {
        let note = Note::parse(bytes).map_err(|e| IndexError::Note(e.to_string()))?;
        note.verify(std::slice::from_ref(log))
            .map_err(|e: NoteError| IndexError::Note(format!("not signed by the log key: {e}")))?;
        let parsed = IndexNote::parse_text(note.text())?;
        if parsed.origin != log.name() {
            return Err(IndexError::WrongOrigin {
                got: parsed.origin,
                want: log.name().to_owned(),
            });
        }
        Ok(parsed)
    }

    /// Checks that the note is bound to `under`, a checkpoint the consumer verified: the same
    /// tree, or a larger one that `consistency` (the RFC 9162 consistency proof from `under`'s
    /// size to the note's) shows extends it. An index of a smaller tree is stale: refused.
    /// Lists only grow, in log order, so a list proven at a larger tree, cut at `under`'s
    /// size, is the complete list as of `under`.
    pub fn check_binds(&self, under: &Checkpoint, consistency: &[Hash]) -> Result<(), IndexError> {
        if self.size < under.size() {
            return Err(IndexError::Stale {
                note: self.size,
                under: under.size(),
            });
        }
        self.check_covers(under)?;
        if self.size > under.size() && under.size() > 0 {
            crate::merkle::verify_consistency(
                under.size(),
                self.size,
                consistency,
                under.root(),
                &self.log_root,
            )
            .map_err(|reason| IndexError::NotExtending {
                note: self.size,
                under: under.size(),
                reason,
            })?;
        }
        Ok(())
    }

    /// Checks that the note covers `checkpoint`'s tree (same size, same root).
    pub fn check_covers(&self, checkpoint: &Checkpoint) -> Result<(), IndexError> {
        if self.size == checkpoint.size() && &self.log_root != checkpoint.root() {
            return Err(IndexError::WrongLogRoot {
                size: self.size,
                note_root: STANDARD.encode(self.log_root),
                checkpoint_root: STANDARD.encode(checkpoint.root()),
            });
        }
        Ok(())
    }
}

/// A proven lookup as the ledger serves it (`GET /proven/…`) and a bundle carries it: the
/// signed index note, the key's complete list, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenAnswer {
    /// The signed index note, as text.
    pub note: String,
    /// Every index under the key, in log order (empty: none).
    pub indices: Vec<u64>,
    /// The proof of `indices` under the note's index root.
    pub proof: WireProof,
}

/// A [`Proof`] on the wire: hashes in standard base64.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireProof {
    /// The sibling hashes, root side first.
    pub siblings: Vec<String>,
    /// Where the walk stops: `key` (the key's own leaf), `empty` or `other`.
    pub end: String,
    /// With `end: other`: that leaf's key hash, count and chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<WireLeaf>,
}

/// Another key's leaf, on the wire.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireLeaf {
    pub key: String,
    pub count: u64,
    pub chain: String,
}

/// The most siblings a wire proof may list.
const MAX_WIRE_SIBLINGS: usize = MAX_DEPTH;

impl From<&Proof> for WireProof {
    fn from(p: &Proof) -> Self {
        let (end, other) = match &p.terminal {
            Terminal::Key => ("key", None),
            Terminal::Empty => ("empty", None),
            Terminal::Other { key, value } => (
                "other",
                Some(WireLeaf {
                    key: STANDARD.encode(key),
                    count: value.count,
                    chain: STANDARD.encode(value.chain),
                }),
            ),
        };
        WireProof {
            siblings: p.siblings.iter().map(|h| STANDARD.encode(h)).collect(),
            end: end.to_owned(),
            other,
        }
    }
}

impl TryFrom<&WireProof> for Proof {
    type Error = IndexError;

    fn try_from(w: &WireProof) -> Result<Self, IndexError> {
        let bad = |what: &str| IndexError::Note(format!("malformed proof: {what}"));
        if w.siblings.len() > MAX_WIRE_SIBLINGS {
            return Err(IndexError::TooDeep {
                len: w.siblings.len(),
            });
        }
        let siblings = w
            .siblings
            .iter()
            .map(|s| decode_hash(s).ok_or_else(|| bad("a sibling is not a base64 hash")))
            .collect::<Result<Vec<Hash>, _>>()?;
        let terminal = match (w.end.as_str(), &w.other) {
            ("key", None) => Terminal::Key,
            ("empty", None) => Terminal::Empty,
            ("other", Some(o)) => Terminal::Other {
                key: decode_hash(&o.key).ok_or_else(|| bad("other.key is not a base64 hash"))?,
                value: Value {
                    count: o.count,
                    chain: decode_hash(&o.chain)
                        .ok_or_else(|| bad("other.chain is not a base64 hash"))?,
                },
            },
            _ => {
                return Err(bad(
                    "end is key, empty or other (with other: {key, count, chain})",
                ));
            }
        };
        Ok(Proof { siblings, terminal })
    }
}

impl ProvenAnswer {
    /// Checks the answer for the key whose encoding is `encoding`: the note is signed by the
    /// log key `log`, and the proof shows that `indices` is the key's whole list under the
    /// note's index root. Returns the note; binding it to a checkpoint the consumer verified
    /// (same size and root, or a consistency proof) is the caller's part.
    pub fn verify(&self, log: &NoteVerifier, encoding: &[u8]) -> Result<IndexNote, IndexError> {
        let note = IndexNote::verify(self.note.as_bytes(), log)?;
        let proof = Proof::try_from(&self.proof)?;
        proof.verify(&note.index_root, &key_hash(encoding), &self.indices)?;
        if let Some(&last) = self.indices.last()
            && last >= note.size
        {
            return Err(IndexError::Note(format!(
                "the list names entry {last}, past the tree of {} the note covers",
                note.size
            )));
        }
        Ok(note)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> Hash {
        key_hash(&i.to_be_bytes())
    }

    fn prove(leaves: &[(Hash, Value)], key: &Hash) -> Proof {
        prove_in(leaves, key)
    }

    fn index(n: u32) -> (Vec<(Hash, Value)>, Vec<Vec<u64>>) {
        let lists: Vec<Vec<u64>> = (0..n)
            .map(|i| {
                (0..u64::from(i % 5 + 1))
                    .map(|j| j * 7 + u64::from(i))
                    .collect()
            })
            .collect();
        let mut leaves: Vec<(Hash, Value)> = (0..n)
            .map(|i| (k(i), Value::of(&lists[i as usize]).unwrap()))
            .collect();
        leaves.sort_by_key(|(k, _)| *k);
        (leaves, lists)
    }

    #[test]
    fn every_key_proves_its_list_and_absent_keys_prove_absence() {
        for n in [0, 1, 2, 3, 17, 200] {
            let (leaves, lists) = index(n);
            let root = root_of(&leaves);
            for i in 0..n {
                let key = k(i);
                let proof = prove(&leaves, &key);
                let list = &lists[i as usize];
                proof.verify(&root, &key, list).unwrap();
                // One index left out, one added, the list of another key: all refused.
                assert!(proof.verify(&root, &key, &list[1..]).is_err());
                let mut more = list.clone();
                more.push(1_000_000);
                assert!(proof.verify(&root, &key, &more).is_err());
                assert!(proof.verify(&root, &key, &[]).is_err());
            }
            for i in n..n + 50 {
                let key = k(i);
                let proof = prove(&leaves, &key);
                proof.verify(&root, &key, &[]).unwrap();
                assert!(proof.verify(&root, &key, &[3]).is_err());
            }
        }
    }

    #[test]
    fn a_present_key_cannot_be_proven_absent() {
        let (leaves, _) = index(40);
        let root = root_of(&leaves);
        let key = k(7);
        let honest = prove(&leaves, &key);
        // Stop the walk one level early at the sibling's side, or claim an empty subtree
        // where the key's leaf is, or show a neighbour's leaf: none leads to the root.
        let empty = Proof {
            siblings: honest.siblings.clone(),
            terminal: Terminal::Empty,
        };
        assert!(empty.verify(&root, &key, &[]).is_err());
        let (nk, nv) = leaves.iter().find(|(x, _)| *x != key).unwrap();
        let other = Proof {
            siblings: honest.siblings[..common_prefix(nk, &key).min(honest.siblings.len())]
                .to_vec(),
            terminal: Terminal::Other {
                key: *nk,
                value: *nv,
            },
        };
        assert!(other.verify(&root, &key, &[]).is_err());
        let own = Proof {
            siblings: honest.siblings.clone(),
            terminal: Terminal::Other {
                key,
                value: Value::default(),
            },
        };
        assert_eq!(
            own.verify(&root, &key, &[]),
            Err(IndexError::NotOnPath {
                depth: honest.siblings.len()
            })
        );
    }

    #[test]
    fn lists_must_be_increasing_and_values_round_trip() {
        assert!(Value::of(&[1, 1]).is_err());
        assert!(Value::of(&[2, 1]).is_err());
        let v = Value::of(&[1, 5, 9]).unwrap();
        assert_eq!(v.count, 3);
        assert_eq!(Value::from_bytes(&v.to_bytes()), Some(v));
        assert_eq!(Value::from_bytes(&[0; 39]), None);
        assert_eq!(Value::of(&[]).unwrap(), Value::default());
    }

    #[test]
    fn index_notes_round_trip_and_refuse_what_is_not_one() {
        let note = IndexNote {
            origin: "example.com/log".into(),
            size: 12,
            log_root: [1; 32],
            index_root: [2; 32],
        };
        assert_eq!(IndexNote::parse_text(&note.text()).unwrap(), note);
        // A checkpoint text is not an index note, and an index note is not a checkpoint.
        let cp = Checkpoint::new("example.com/log", 12, [1; 32]).unwrap();
        assert!(IndexNote::parse_text(&String::from_utf8(cp.encode()).unwrap()).is_err());
        assert!(Checkpoint::parse(note.text().as_bytes()).is_err());
        for bad in [
            "reprove.dev/index/v1\nexample.com/log\n12\n",
            "reprove.dev/index/v2\nexample.com/log\n12\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n",
            "reprove.dev/index/v1\nexample.com/log\n012\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n",
        ] {
            assert!(IndexNote::parse_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_proven_answer_checks_the_note_the_proof_and_the_list() {
        use crate::note::NoteSigner;
        let log = NoteSigner::from_seed("example.com/log", &[5; 32]).unwrap();
        let (leaves, lists) = index(30);
        let root = root_of(&leaves);
        let note = IndexNote {
            origin: "example.com/log".into(),
            size: 1000,
            log_root: [9; 32],
            index_root: root,
        };
        let signed =
            String::from_utf8(Note::sign(&note.text(), &[&log]).unwrap().encode()).unwrap();
        let encoding = 3u32.to_be_bytes();
        let answer = ProvenAnswer {
            note: signed.clone(),
            indices: lists[3].clone(),
            proof: WireProof::from(&prove(&leaves, &k(3))),
        };
        // Through JSON, as served and bundled.
        let json = serde_json::to_string(&answer).unwrap();
        let back: ProvenAnswer = serde_json::from_str(&json).unwrap();
        assert_eq!(back.verify(&log.verifier(), &encoding).unwrap(), note);
        // One index dropped, another key's encoding, another log's key, a list past the tree.
        let mut dropped = back.clone();
        dropped.indices.pop();
        assert!(dropped.verify(&log.verifier(), &encoding).is_err());
        assert!(back.verify(&log.verifier(), &4u32.to_be_bytes()).is_err());
        let other = NoteSigner::from_seed("example.com/log", &[6; 32]).unwrap();
        assert!(back.verify(&other.verifier(), &encoding).is_err());
        let short = IndexNote {
            size: 3,
            ..note.clone()
        };
        let mut past = back.clone();
        past.note =
            String::from_utf8(Note::sign(&short.text(), &[&log]).unwrap().encode()).unwrap();
        assert!(past.verify(&log.verifier(), &encoding).is_err());
        // An absent key proves absence; unknown fields and bad shapes are refused.
        let absent = ProvenAnswer {
            note: signed,
            indices: vec![],
            proof: WireProof::from(&prove(&leaves, &k(77))),
        };
        absent
            .verify(&log.verifier(), &77u32.to_be_bytes())
            .unwrap();
        assert!(
            serde_json::from_str::<ProvenAnswer>(&json.replace("\"end\"", "\"extra\":1,\"end\""))
                .is_err()
        );
        let mut bad = back.clone();
        bad.proof.end = "other".into();
        assert!(bad.verify(&log.verifier(), &encoding).is_err());
    }

    #[test]
    fn a_note_of_another_tree_of_the_same_size_is_refused() {
        let note = IndexNote {
            origin: "example.com/log".into(),
            size: 12,
            log_root: [1; 32],
            index_root: [2; 32],
        };
        note.check_covers(&Checkpoint::new("example.com/log", 12, [1; 32]).unwrap())
            .unwrap();
        assert!(matches!(
            note.check_covers(&Checkpoint::new("example.com/log", 12, [3; 32]).unwrap()),
            Err(IndexError::WrongLogRoot { .. })
        ));
    }
}
