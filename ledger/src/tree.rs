//! The tree state the writer keeps in memory, and the integration of a batch of leaves.
//!
//! The writer never reads the tree back while appending. It holds:
//!
//! - the right edge (one hash per set bit of the size): enough to append and to compute the
//!   new root ([`RightEdge::append`] yields every newly completed node);
//! - the rightmost, not yet full tile of each tile level: a round appends the new tile
//!   elements to it and rewrites it, so a round writes O(round size / 256 + levels) tiles.
//!
//! Both are re-derived from storage when the log opens ([`TreeState::load`]), which is how
//! startup checks the stored hashes against the signed root.
//!
//! Proofs for a round's fresh entries come from the round's own nodes plus the old right
//! edge ([`RoundReader`]): every sibling on the path of a new leaf is either completed by the
//! round or a maximal complete subtree of the old tree, i.e. on the old edge. So answering a
//! round of `k` submissions costs `k` map lookups per proof level, not `k` storage reads and
//! tile recomputations. Older nodes (proofs for duplicates of old entries) fall through to the
//! stored tiles.

use std::collections::HashMap;

use reprove_verifier::merkle::{Hash, HashReader, NodeId, RightEdge, right_edge_from_reader};
use reprove_verifier::tiles::{TILE_HEIGHT, TILE_WIDTH, tree_tiles};

use crate::error::{Error, Integrity};
use crate::storage::{Store, parse_tile};

/// The writer's view of the tree: right edge and rightmost partial tiles.
#[derive(Debug, Clone)]
pub(crate) struct TreeState {
    edge: RightEdge,
    /// Per tile level, the elements of the rightmost tile that is not full (often none).
    partial: Vec<Vec<Hash>>,
}

/// The result of integrating a batch of leaves.
#[derive(Debug)]
pub(crate) struct Integrated {
    /// The state after the batch.
    pub(crate) state: TreeState,
    /// Every tile the batch completed or widened: `(level, index, hashes)`.
    pub(crate) tiles: Vec<(u8, u64, Vec<u8>)>,
    /// Every node the batch completed, and the old right edge: all a proof for a new leaf
    /// needs.
    pub(crate) nodes: HashMap<NodeId, Hash>,
}

/// Reads nodes from a round's nodes first and from storage for the rest, in one batched
/// storage read at most.
#[derive(Debug)]
pub(crate) struct RoundReader<'a> {
    pub(crate) nodes: &'a HashMap<NodeId, Hash>,
    pub(crate) store: &'a Store,
}

impl TreeState {
    /// The state of the empty tree.
    pub(crate) fn empty() -> TreeState {
        TreeState {
            edge: RightEdge::empty(),
            partial: Vec::new(),
        }
    }

    /// Re-derives the state of the tree of `size` from the stored tiles, checking that every
    /// tile level has exactly the tiles that size implies at the rightmost position (no tile
    /// past the end, the partial tile exactly as wide as the size needs).
    pub(crate) fn load(store: &Store, size: u64) -> Result<TreeState, Error> {
        let edge = right_edge_from_reader(store, size).map_err(Error::from_generate)?;
        let levels = tree_tiles(size);
        let mut partial = Vec::with_capacity(levels.len());
        for lt in &levels {
            let last = store.last_tile_index(lt.level)?;
            let elements = match lt.partial {
                None => Vec::new(),
                Some(width) => {
                    let missing = Integrity::MissingHash(NodeId::new(
                        lt.level * TILE_HEIGHT as u8,
                        lt.full * u64::from(TILE_WIDTH),
                    ));
                    let bytes = store.tile(lt.level, lt.full)?.ok_or(missing)?;
                    let tile = parse_tile(lt.level, lt.full, &bytes)?;
                    if tile.id().width() != width {
                        let len = bytes.len();
                        return Err(Integrity::TileLength {
                            level: lt.level,
                            index: lt.full,
                            len,
                        }
                        .into());
                    }
                    tile.hashes().to_vec()
                }
            };
            let allowed = if lt.partial.is_some() {
                Some(lt.full)
            } else {
                lt.full.checked_sub(1)
            };
            if last > allowed {
                let index = last.unwrap_or_default();
                let len = store.tile(lt.level, index)?.map_or(0, |t| t.len());
                return Err(Integrity::TileLength {
                    level: lt.level,
                    index,
                    len,
                }
                .into());
            }
            partial.push(elements);
        }
        // No tile at all above the tree's top tile level.
        let above = u8::try_from(levels.len()).unwrap_or(u8::MAX);
        if let Some(index) = store.last_tile_index(above)? {
            let len = store.tile(above, index)?.map_or(0, |t| t.len());
            return Err(Integrity::TileLength {
                level: above,
                index,
                len,
            }
            .into());
        }
        Ok(TreeState { edge, partial })
    }

    /// The tree size.
    pub(crate) fn size(&self) -> u64 {
        self.edge.size()
    }

    /// The root hash.
    pub(crate) fn root(&self) -> Hash {
        self.edge.root()
    }

    /// Appends `leaves`: the new state, the tiles to write and the nodes for proofs.
    pub(crate) fn integrate(&self, leaves: &[Hash]) -> Result<Integrated, Error> {
        let appended = self.edge.append(leaves).map_err(|_| Error::TreeFull)?;
        let size = appended.edge.size();
        let mut partial = self.partial.clone();
        let mut dirty: Vec<bool> = vec![false; partial.len()];
        let mut tiles = Vec::new();
        let width = usize::from(TILE_WIDTH);
        for (id, hash) in &appended.nodes {
            if u32::from(id.level) % TILE_HEIGHT != 0 {
                continue;
            }
            let level = (u32::from(id.level) / TILE_HEIGHT) as usize;
            if partial.len() <= level {
                partial.resize(level + 1, Vec::new());
                dirty.resize(level + 1, false);
            }
            let elements = &mut partial[level];
            // Nodes of one level complete left to right, continuing the partial tile.
            if elements.len() as u64 != id.index % u64::from(TILE_WIDTH) {
                return Err(Error::Bug("tile elements out of order"));
            }
            elements.push(*hash);
            if elements.len() == width {
                tiles.push((
                    level as u8,
                    id.index / u64::from(TILE_WIDTH),
                    elements.concat(),
                ));
                elements.clear();
                dirty[level] = false;
            } else {
                dirty[level] = true;
            }
        }
        for (level, elements) in partial.iter().enumerate() {
            if dirty[level] {
                let count = size >> (level as u32 * TILE_HEIGHT);
                tiles.push((
                    level as u8,
                    count / u64::from(TILE_WIDTH),
                    elements.concat(),
                ));
            }
        }
        let mut nodes = HashMap::with_capacity(appended.nodes.len() + self.edge.hashes().len());
        nodes.extend(
            self.edge
                .nodes()
                .into_iter()
                .zip(self.edge.hashes().iter().copied()),
        );
        nodes.extend(appended.nodes);
        Ok(Integrated {
            state: TreeState {
                edge: appended.edge,
                partial,
            },
            tiles,
            nodes,
        })
    }
}

impl HashReader for RoundReader<'_> {
    type Error = Error;

    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Error> {
        let mut out: Vec<Option<Hash>> = ids.iter().map(|id| self.nodes.get(id).copied()).collect();
        let missing: Vec<NodeId> = ids
            .iter()
            .zip(&out)
            .filter(|(_, h)| h.is_none())
            .map(|(id, _)| *id)
            .collect();
        if !missing.is_empty() {
            let mut read = self.store.read_hashes(&missing)?.into_iter();
            for slot in out.iter_mut().filter(|h| h.is_none()) {
                *slot = read.next();
            }
        }
        ids.iter()
            .zip(out)
            .map(|(id, h)| h.ok_or(Integrity::MissingHash(*id).into()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprove_verifier::merkle::{inclusion_proof, leaf_hash, verify_inclusion};

    fn leaves(range: std::ops::Range<u64>) -> Vec<Hash> {
        range.map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    fn empty() -> TreeState {
        TreeState::empty()
    }

    /// Applies the tile writes to a map, as the store would.
    fn apply(tiles: &mut HashMap<(u8, u64), Vec<u8>>, writes: Vec<(u8, u64, Vec<u8>)>) {
        for (level, index, bytes) in writes {
            let old = tiles.insert((level, index), bytes.clone());
            // A rewrite only ever widens a tile: hashes never change.
            if let Some(old) = old {
                assert!(bytes.starts_with(&old), "tile {level}/{index} changed");
                assert!(bytes.len() > old.len());
            }
        }
    }

    #[test]
    fn integrating_in_rounds_writes_the_tiles_of_the_tree() {
        let all = leaves(0..70_000);
        let mut state = empty();
        let mut tiles = HashMap::new();
        for chunk in all.chunks(997) {
            let done = state.integrate(chunk).unwrap();
            apply(&mut tiles, done.tiles);
            state = done.state;
        }
        assert_eq!(state.size(), 70_000);
        // The spec's example: 273 full + 1 partial (112) at level 0, 1 + 1 (17) at level 1,
        // one partial of width 1 at level 2.
        let widths = |level: u8| {
            let mut w: Vec<(u64, usize)> = tiles
                .iter()
                .filter(|((l, _), _)| *l == level)
                .map(|((_, i), b)| (*i, b.len() / 32))
                .collect();
            w.sort();
            w
        };
        let l0 = widths(0);
        assert_eq!(l0.len(), 274);
        assert!(l0[..273].iter().all(|&(_, w)| w == 256));
        assert_eq!(l0[273], (273, 112));
        assert_eq!(widths(1), vec![(0, 256), (1, 17)]);
        assert_eq!(widths(2), vec![(0, 1)]);
        assert_eq!(widths(3), vec![]);
        assert_eq!(tiles[&(0, 3)][..32], all[3 * 256]);
    }

    #[test]
    fn round_nodes_answer_every_proof_of_the_round() {
        let all = leaves(0..1000);
        let first = empty().integrate(&all[..613]).unwrap();
        let second = first.state.integrate(&all[613..]).unwrap();
        let root = second.state.root();
        struct Nothing;
        impl HashReader for Nothing {
            type Error = NodeId;
            fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
                Err(ids[0])
            }
        }
        struct MapOnly<'a>(&'a HashMap<NodeId, Hash>);
        impl HashReader for MapOnly<'_> {
            type Error = NodeId;
            fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, NodeId> {
                ids.iter()
                    .map(|id| self.0.get(id).copied().ok_or(*id))
                    .collect()
            }
        }
        for i in 613..1000u64 {
            let proof = inclusion_proof(&MapOnly(&second.nodes), i, 1000).unwrap();
            verify_inclusion(&all[i as usize], i, 1000, &proof, &root).unwrap();
        }
        // An old leaf needs nodes the round does not have.
        assert!(inclusion_proof(&MapOnly(&second.nodes), 3, 1000).is_err());
        assert!(inclusion_proof(&Nothing, 3, 1000).is_err());
    }
}
