//! c2sp.org/tlog-tiles: the static read API of the log.
//!
//! A tree of size `n` is published as tiles of Merkle hashes and bundles of entries, all
//! immutable once full:
//!
//! - tile `(L, N)` holds the hashes of the nodes at tree level `8L` with indices
//!   `N*256 .. N*256+255` (fewer in the rightmost, partial tile);
//! - entry bundle `N` holds the entries whose leaf hashes are element-for-element level-0 tile `N`.
//!
//! This module owns the coordinates ([`TileId`], [`BundleId`], [`parse_path`],
//! [`tree_tiles`], [`locate_node`]), the two codecs ([`Tile`], [`EntryBundle`]) and the client
//! side of reading proofs from tiles: a [`TileHashReader`] implements the Merkle
//! [`HashReader`], so the same proof generators that run in the ledger over RocksDB run in a
//! client over fetched tiles. Nothing read from a server is trusted until a proof built from it
//! verifies against a root from a verified checkpoint ([`TileHashReader::verify_tile`] and
//! [`TileHashReader::verify_bundle`] do that for whole tiles and bundles;
//! [`verify_bundle`] checks a bundle against its level-0 tile).
//!
//! Decompression (bundles may be served gzipped) is the I/O layer's job, not this module's.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::fmt::{self, Write};

use crate::merkle::{
    GenerateError, Hash, HashReader, NodeId, compact_range, leaf_hashes, node_inclusion_proof,
    perfect_root, root_from_inclusion,
};

/// Levels of the Merkle tree per tile level.
pub const TILE_HEIGHT: u32 = 8;

/// Hashes in a full tile, entries in a full bundle.
pub const TILE_WIDTH: u16 = 256;

/// The largest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;

/// The largest entry a bundle can hold: its length is a `uint16`.
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Why a tile path, tile, bundle or tile-based proof was rejected.
///
/// Path, codec and root errors are about untrusted input; `InvalidLevel`, `InvalidWidth`,
/// `EntryTooLarge` and `Generate` are caller mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A path that is not exactly a c2sp tile or entry bundle path.
    #[error("invalid tile path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// A tile level above [`MAX_TILE_LEVEL`].
    #[error("tile level {level} is above {MAX_TILE_LEVEL}")]
    InvalidLevel { level: u8 },
    /// A width outside `1..=256`.
    #[error("tile width {width} is outside 1..=256")]
    InvalidWidth { width: u16 },
    /// Tile bytes that are not exactly `width` hashes.
    #[error("tile {tile} must be {} bytes, got {len}", usize::from(tile.width()) * 32)]
    TileLength { tile: TileId, len: usize },
    /// A tile built from a number of hashes other than its width.
    #[error("tile {tile} must have {} hashes, got {got}", tile.width())]
    TileHashCount { tile: TileId, got: usize },
    /// An entry too long for its `uint16` length prefix.
    #[error("entry {index} is {len} bytes, a bundle entry is at most 65535")]
    EntryTooLarge { index: usize, len: usize },
    /// A bundle that ends inside an entry.
    #[error("entry bundle {bundle} ends inside entry {entry}")]
    BundleTruncated { bundle: BundleId, entry: usize },
    /// A bundle with fewer or more entries than its width.
    #[error("entry bundle {bundle} must have {} entries, got {got}", bundle.width())]
    BundleEntryCount { bundle: BundleId, got: usize },
    /// Bytes after the last entry of a bundle.
    #[error("entry bundle {bundle} has {len} bytes after its last entry")]
    BundleTrailingBytes { bundle: BundleId, len: usize },
    /// A bundle checked against a tile that is not its level-0 tile.
    #[error("entry bundle {bundle} does not belong with tile {tile}")]
    BundleTileMismatch { bundle: BundleId, tile: TileId },
    /// An entry whose leaf hash differs from its element of the level-0 tile.
    #[error("the leaf hash of entry {index} does not match its tile")]
    LeafMismatch { index: u64 },
    /// A node no tile can hold: level above 63, or an index past the end of any `u64` tree.
    #[error("node {node:?} does not exist in any tree")]
    NodeOutOfRange { node: NodeId },
    /// A node that is not in the tile it was looked up in.
    #[error("node {node:?} is not in tile {tile}")]
    NodeNotInTile { node: NodeId, tile: TileId },
    /// A node that is not a complete subtree of the tree being read.
    #[error("node {node:?} is not complete in a tree of size {size}")]
    NodeNotInTree { node: NodeId, size: u64 },
    /// A tile that a tree of this size does not have.
    #[error("a tree of size {size} has no tile {tile}")]
    TileNotInTree { tile: TileId, size: u64 },
    /// A partial tile narrower than the tree needs.
    #[error("tile {tile} is narrower than the {want} hashes the tree needs")]
    TileTooNarrow { tile: TileId, want: u16 },
    /// Two different versions of one tile.
    #[error("tile {tile} conflicts with a version already read")]
    TileConflict { tile: TileId },
    /// A tile needed for a proof that has not been read.
    #[error("tile {tile} is needed but has not been read")]
    MissingTile { tile: TileId },
    /// Tiles that do not hash to the trusted root.
    #[error("tile {tile} does not match the root")]
    RootMismatch { tile: TileId },
    /// Generating a proof from the tiles failed for a reason other than reading them.
    #[error(transparent)]
    Generate(#[from] GenerateError<Infallible>),
}

/// A tile of hashes: level `L`, index `N`, width `W` (`256` for a full tile).
///
/// A value is always a syntactically valid tile (`L <= 63`, `1 <= W <= 256`); whether a given
/// tree has it is [`TileId::in_tree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    level: u8,
    index: u64,
    width: u16,
}

impl TileId {
    /// The tile at `level`, `index` with `width` hashes.
    pub fn new(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::InvalidLevel { level });
        }
        check_width(width)?;
        Ok(Self {
            level,
            index,
            width,
        })
    }

    /// The tile at `level`, `index` as served for a tree of `size` (full, or partial with the
    /// width that size needs), or `None` if that tree has no such tile.
    pub fn in_tree(level: u8, index: u64, size: u64) -> Option<Self> {
        let count = level_hashes(level, size);
        let start = index.checked_mul(u64::from(TILE_WIDTH))?;
        let have = count.checked_sub(start).filter(|&n| n > 0)?;
        let width = have.min(u64::from(TILE_WIDTH)) as u16;
        Some(Self {
            level,
            index,
            width,
        })
    }

    /// The tile level `L`: its hashes are tree nodes of level `8L`.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The tile index `N` within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes, `1..=256`.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a full (immutable, long-cached) tile.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The path under the log prefix: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, index_path(self.index, self.width))
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// An entry bundle: index `N`, width `W` (`256` for a full bundle). Its entries hash, in order,
/// to the elements of level-0 tile `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundleId {
    index: u64,
    width: u16,
}

impl BundleId {
    /// The bundle at `index` with `width` entries.
    pub fn new(index: u64, width: u16) -> Result<Self, TileError> {
        check_width(width)?;
        Ok(Self { index, width })
    }

    /// The bundle at `index` as served for a tree of `size`, or `None` if it has none.
    pub fn in_tree(index: u64, size: u64) -> Option<Self> {
        TileId::in_tree(0, index, size).map(|t| Self {
            index,
            width: t.width,
        })
    }

    /// The bundle index `N`.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of entries, `1..=256`.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a full (immutable, long-cached) bundle.
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// The level-0 tile holding the leaf hashes of this bundle's entries.
    pub fn tile(&self) -> TileId {
        TileId {
            level: 0,
            index: self.index,
            width: self.width,
        }
    }

    /// The path under the log prefix: `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/entries/{}", index_path(self.index, self.width))
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TilePath {
    /// `tile/<L>/<N>[.p/<W>]`.
    Hashes(TileId),
    /// `tile/entries/<N>[.p/<W>]`.
    Entries(BundleId),
}

impl TilePath {
    /// The path, exactly as [`parse_path`] accepts it.
    pub fn path(&self) -> String {
        match self {
            Self::Hashes(t) => t.path(),
            Self::Entries(b) => b.path(),
        }
    }
}

/// Parses a path relative to the log prefix, accepting exactly the canonical c2sp forms.
///
/// Rejected, among others: leading zeros in `L` or `W`, `L > 63`, a `W` of 0 or 256 and more,
/// index elements that are not three digits, a missing or misplaced `x`, a leading `x000`
/// element, an index above `u64::MAX`, empty elements, and anything before or after.
pub fn parse_path(path: &str) -> Result<TilePath, TileError> {
    let bad = |reason| TileError::InvalidPath {
        path: path.to_owned(),
        reason,
    };
    let parts: Vec<&str> = path.split('/').collect();
    let [first, kind, rest @ ..] = parts.as_slice() else {
        return Err(bad("too few elements"));
    };
    if *first != "tile" || rest.is_empty() {
        return Err(bad("not tile/<L or entries>/<N>"));
    }
    let (index, width) = parse_index(rest).map_err(bad)?;
    let parsed = if *kind == "entries" {
        TilePath::Entries(BundleId { index, width })
    } else {
        let level = parse_decimal(kind, 2).filter(|&l| l <= u64::from(MAX_TILE_LEVEL));
        let level = level.ok_or_else(|| bad("level is not 0..=63 without leading zeros"))?;
        TilePath::Hashes(TileId {
            level: level as u8,
            index,
            width,
        })
    };
    // Belt and braces: there is exactly one spelling of every path.
    if parsed.path() != path {
        return Err(bad("not in canonical form"));
    }
    Ok(parsed)
}

/// The tiles at one level of a tree: `full` full tiles, then at most one partial tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelTiles {
    /// The tile level.
    pub level: u8,
    /// The number of full tiles, indices `0..full`.
    pub full: u64,
    /// The width of the partial tile at index `full`, if the level has one (`1..=255`).
    pub partial: Option<u16>,
}

impl LevelTiles {
    /// Every tile of this level, full ones first.
    pub fn ids(&self) -> impl Iterator<Item = TileId> + use<> {
        let level = self.level;
        let full = (0..self.full).map(move |index| TileId {
            level,
            index,
            width: TILE_WIDTH,
        });
        let partial = self.partial.map(|width| TileId {
            level,
            index: self.full,
            width,
        });
        full.chain(partial)
    }
}

/// The tiles a tree of `size` leaves has, one entry per non-empty level, level 0 first.
/// The entry bundles are the level-0 tiles' twins ([`BundleId::in_tree`]).
pub fn tree_tiles(size: u64) -> Vec<LevelTiles> {
    (0..=MAX_TILE_LEVEL)
        .map(|level| (level, level_hashes(level, size)))
        .take_while(|&(_, count)| count > 0)
        .map(|(level, count)| {
            let full = count / u64::from(TILE_WIDTH);
            let partial = (count % u64::from(TILE_WIDTH)) as u16;
            LevelTiles {
                level,
                full,
                partial: (partial > 0).then_some(partial),
            }
        })
        .collect()
}

/// Where a tree node's hash comes from in the tiles.
///
/// A node of level `h` is in tile level `h / 8`; if `h` is a multiple of 8 it is one element of
/// the tile, otherwise it is recomputed from the `2^(h % 8)` consecutive elements below it
/// ([`Tile::node_hash`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLocation {
    /// The tile level `L`.
    pub tile_level: u8,
    /// The tile index `N`.
    pub tile_index: u64,
    /// The first element covering the node.
    pub start: u16,
    /// The number of elements covering the node: `2^(h % 8)`.
    pub count: u16,
}

/// Finds the tile elements that hold or recompute `node`.
pub fn locate_node(node: NodeId) -> Result<NodeLocation, TileError> {
    let out_of_range = TileError::NodeOutOfRange { node };
    if node.level > MAX_TILE_LEVEL {
        return Err(out_of_range);
    }
    let below = u32::from(node.level) % TILE_HEIGHT;
    // The index of the first covering element among all nodes of level 8L.
    let first = u64::try_from(u128::from(node.index) << below).map_err(|_| out_of_range)?;
    Ok(NodeLocation {
        tile_level: node.level / TILE_HEIGHT as u8,
        tile_index: first / u64::from(TILE_WIDTH),
        start: (first % u64::from(TILE_WIDTH)) as u16,
        count: 1 << below,
    })
}

/// The tiles (with the widths a tree of `size` serves) that hold the given nodes, deduplicated
/// and sorted: what a client fetches before generating a proof from tiles.
pub fn tiles_for_nodes(size: u64, nodes: &[NodeId]) -> Result<Vec<TileId>, TileError> {
    let mut tiles = BTreeSet::new();
    for &node in nodes {
        if !node.is_complete_in(size) {
            return Err(TileError::NodeNotInTree { node, size });
        }
        let loc = locate_node(node)?;
        let tile = TileId::in_tree(loc.tile_level, loc.tile_index, size)
            .ok_or(TileError::NodeNotInTree { node, size })?;
        tiles.insert(tile);
    }
    Ok(tiles.into_iter().collect())
}

/// A tile: exactly `width` hashes. The wire form is the hashes back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    id: TileId,
    hashes: Vec<Hash>,
}

impl Tile {
    /// Parses the body of the tile `id`: exactly `32 * width` bytes.
    pub fn parse(id: TileId, bytes: &[u8]) -> Result<Self, TileError> {
        let (chunks, rest) = bytes.as_chunks::<32>();
        if rest.is_empty() && chunks.len() == usize::from(id.width) {
            Ok(Self {
                id,
                hashes: chunks.to_vec(),
            })
        } else {
            Err(TileError::TileLength {
                tile: id,
                len: bytes.len(),
            })
        }
    }

    /// The tile `id` from its hashes (as the ledger builds tiles from stored nodes).
    pub fn new(id: TileId, hashes: Vec<Hash>) -> Result<Self, TileError> {
        if hashes.len() != usize::from(id.width) {
            return Err(TileError::TileHashCount {
                tile: id,
                got: hashes.len(),
            });
        }
        Ok(Self { id, hashes })
    }

    /// The wire form: the hashes back to back.
    pub fn encode(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// Which tile this is.
    pub fn id(&self) -> TileId {
        self.id
    }

    /// The hashes, `width` of them.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The hash of `node`, read from this tile or recomputed from the elements below it.
    pub fn node_hash(&self, node: NodeId) -> Result<Hash, TileError> {
        let loc = locate_node(node)?;
        let not_here = TileError::NodeNotInTile {
            node,
            tile: self.id,
        };
        if loc.tile_level != self.id.level || loc.tile_index != self.id.index {
            return Err(not_here);
        }
        let start = usize::from(loc.start);
        let elements = self
            .hashes
            .get(start..start + usize::from(loc.count))
            .ok_or(not_here)?;
        Ok(perfect_root(elements))
    }

    /// This tile cut down to `width` hashes: the tile as a smaller tree serves it.
    fn truncated(&self, width: u16) -> Self {
        let id = TileId { width, ..self.id };
        Self {
            id,
            hashes: self.hashes[..usize::from(width)].to_vec(),
        }
    }
}

/// An entry bundle: exactly `width` entries of at most 65,535 bytes each. The wire form is each
/// entry as `uint16` big-endian length then bytes, back to back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryBundle {
    id: BundleId,
    entries: Vec<Vec<u8>>,
}

impl EntryBundle {
    /// Parses the body of bundle `id`: exactly `width` entries and nothing after them.
    pub fn parse(id: BundleId, bytes: &[u8]) -> Result<Self, TileError> {
        let want = usize::from(id.width);
        let mut entries = Vec::with_capacity(want);
        let mut rest = bytes;
        while entries.len() < want {
            if rest.is_empty() {
                return Err(TileError::BundleEntryCount {
                    bundle: id,
                    got: entries.len(),
                });
            }
            let truncated = TileError::BundleTruncated {
                bundle: id,
                entry: entries.len(),
            };
            let (len, after) = rest.split_first_chunk::<2>().ok_or(truncated.clone())?;
            let (entry, after) = after
                .split_at_checked(usize::from(u16::from_be_bytes(*len)))
                .ok_or(truncated)?;
            entries.push(entry.to_vec());
            rest = after;
        }
        if !rest.is_empty() {
            return Err(TileError::BundleTrailingBytes {
                bundle: id,
                len: rest.len(),
            });
        }
        Ok(Self { id, entries })
    }

    /// The bundle `id` from its entries; refuses a count other than the width and entries
    /// longer than 65,535 bytes.
    pub fn new(id: BundleId, entries: Vec<Vec<u8>>) -> Result<Self, TileError> {
        if let Some((index, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
        {
            return Err(TileError::EntryTooLarge {
                index,
                len: e.len(),
            });
        }
        if entries.len() != usize::from(id.width) {
            return Err(TileError::BundleEntryCount {
                bundle: id,
                got: entries.len(),
            });
        }
        Ok(Self { id, entries })
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let total = self.entries.iter().map(|e| 2 + e.len()).sum();
        let mut out = Vec::with_capacity(total);
        for e in &self.entries {
            // Every entry fits a u16 length: `new` and `parse` guarantee it.
            out.extend_from_slice(&(e.len() as u16).to_be_bytes());
            out.extend_from_slice(e);
        }
        out
    }

    /// Which bundle this is.
    pub fn id(&self) -> BundleId {
        self.id
    }

    /// The entries, `width` of them.
    pub fn entries(&self) -> &[Vec<u8>] {
        &self.entries
    }

    /// The leaf hashes of the entries: what level-0 tile `N` must hold.
    pub fn leaf_hashes(&self) -> Vec<Hash> {
        leaf_hashes(&self.entries)
    }
}

/// Checks that `bundle`'s entries hash to the elements of its level-0 `tile`.
pub fn verify_bundle(tile: &Tile, bundle: &EntryBundle) -> Result<(), TileError> {
    if tile.id != bundle.id.tile() {
        return Err(TileError::BundleTileMismatch {
            bundle: bundle.id,
            tile: tile.id,
        });
    }
    let base = bundle.id.index * u64::from(TILE_WIDTH);
    match bundle
        .leaf_hashes()
        .iter()
        .zip(&tile.hashes)
        .position(|(a, b)| a != b)
    {
        Some(i) => Err(TileError::LeafMismatch {
            index: base + i as u64,
        }),
        None => Ok(()),
    }
}

/// Tiles read for a tree of a known size, serving them as a Merkle [`HashReader`].
///
/// A client fetches the tiles [`tiles_for_nodes`] names for the proof it wants, inserts them,
/// runs the ordinary generators (`merkle::inclusion_proof(&reader, index, size)`, ...) and then
/// verifies the proof against the root of a verified checkpoint of that size, exactly as it
/// would a proof served by the log: the tiles themselves are never trusted.
#[derive(Debug, Clone)]
pub struct TileHashReader {
    size: u64,
    tiles: BTreeMap<(u8, u64), Tile>,
}

impl TileHashReader {
    /// An empty reader for the tree of `size` leaves.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: BTreeMap::new(),
        }
    }

    /// The tree size this reader serves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds a tile. A wider tile than the tree needs (a full tile fetched for an older, smaller
    /// tree) is accepted and cut to the width the tree serves; a narrower one is refused, as is
    /// a tile that differs from one already added.
    pub fn insert(&mut self, tile: Tile) -> Result<(), TileError> {
        let want = TileId::in_tree(tile.id.level, tile.id.index, self.size).ok_or(
            TileError::TileNotInTree {
                tile: tile.id,
                size: self.size,
            },
        )?;
        if tile.id.width < want.width {
            return Err(TileError::TileTooNarrow {
                tile: tile.id,
                want: want.width,
            });
        }
        let tile = tile.truncated(want.width);
        let key = (want.level, want.index);
        if self.tiles.get(&key).is_some_and(|old| *old != tile) {
            return Err(TileError::TileConflict { tile: want });
        }
        self.tiles.insert(key, tile);
        Ok(())
    }

    /// Checks every hash of `tile` against `root`, the root of a verified checkpoint of this
    /// reader's size, using the other tiles in the reader for the proofs.
    pub fn verify_tile(&self, tile: &Tile, root: &Hash) -> Result<(), TileError> {
        self.verify_elements(tile.id, &tile.hashes, root)
    }

    /// Checks every entry of `bundle` against `root`, the root of a verified checkpoint of this
    /// reader's size, using the tiles in the reader for the proofs.
    pub fn verify_bundle(&self, bundle: &EntryBundle, root: &Hash) -> Result<(), TileError> {
        self.verify_elements(bundle.id.tile(), &bundle.leaf_hashes(), root)
    }

    /// Proves the nodes of tile `id` (its `hashes`) into `root`: one node-inclusion proof per
    /// subtree of the tile's compact range. A valid proof authenticates every hash it uses, so
    /// this also vouches for the tiles the proofs were read from.
    fn verify_elements(&self, id: TileId, hashes: &[Hash], root: &Hash) -> Result<(), TileError> {
        let want =
            TileId::in_tree(id.level, id.index, self.size).ok_or(TileError::TileNotInTree {
                tile: id,
                size: self.size,
            })?;
        let hashes = hashes
            .get(..usize::from(want.width))
            .ok_or(TileError::TileTooNarrow {
                tile: id,
                want: want.width,
            })?;
        let base = u32::from(id.level) * TILE_HEIGHT;
        // `in_tree` succeeded, so these positions are below the tree size: no overflow.
        let first = id.index * u64::from(TILE_WIDTH);
        for sub in compact_range(first, first + u64::from(want.width)) {
            let offset = ((sub.index << sub.level) - first) as usize;
            let hash = perfect_root(&hashes[offset..offset + (1 << sub.level)]);
            let node = NodeId::new(base as u8 + sub.level, sub.index);
            let proof = node_inclusion_proof(self, node, self.size).map_err(flatten)?;
            let level_size = ((self.size - 1) >> node.level) + 1;
            let got = root_from_inclusion(&hash, node.index, level_size, &proof)
                .map_err(|_| TileError::RootMismatch { tile: want })?;
            if got != *root {
                return Err(TileError::RootMismatch { tile: want });
            }
        }
        Ok(())
    }
}

impl HashReader for TileHashReader {
    type Error = TileError;

    /// Reads each node from its tile; fails on the first node that is not complete in the
    /// reader's tree or whose tile has not been inserted.
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, TileError> {
        ids.iter().map(|&node| self.read_one(node)).collect()
    }
}

impl TileHashReader {
    fn read_one(&self, node: NodeId) -> Result<Hash, TileError> {
        if !node.is_complete_in(self.size) {
            return Err(TileError::NodeNotInTree {
                node,
                size: self.size,
            });
        }
        let loc = locate_node(node)?;
        match self.tiles.get(&(loc.tile_level, loc.tile_index)) {
            Some(tile) => tile.node_hash(node),
            None => {
                let tile = TileId::in_tree(loc.tile_level, loc.tile_index, self.size).ok_or(
                    TileError::NodeNotInTree {
                        node,
                        size: self.size,
                    },
                )?;
                Err(TileError::MissingTile { tile })
            }
        }
    }
}

/// Merges a proof-generation error over tiles into a tile error.
fn flatten(e: GenerateError<TileError>) -> TileError {
    e.split_read().unwrap_or_else(TileError::Generate)
}

/// The number of nodes at tree level `8 * level` in a tree of `size` leaves.
fn level_hashes(level: u8, size: u64) -> u64 {
    size.checked_shr(u32::from(level) * TILE_HEIGHT)
        .unwrap_or(0)
}

fn check_width(width: u16) -> Result<(), TileError> {
    if (1..=TILE_WIDTH).contains(&width) {
        Ok(())
    } else {
        Err(TileError::InvalidWidth { width })
    }
}

/// `<N>[.p/<W>]`: N in three-digit elements, all but the last prefixed by `x`.
fn index_path(index: u64, width: u16) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        let x = if i + 1 < groups.len() { "x" } else { "" };
        let sep = if i + 1 < groups.len() { "/" } else { "" };
        // Writing to a String cannot fail.
        let _ = write!(out, "{x}{g:03}{sep}");
    }
    if width != TILE_WIDTH {
        let _ = write!(out, ".p/{width}");
    }
    out
}

/// Parses the `<N>[.p/<W>]` elements of a path into the index and width.
fn parse_index(elements: &[&str]) -> Result<(u64, u16), &'static str> {
    let (groups, width, last) = match elements {
        [groups @ .., last, w] if last.ends_with(".p") => {
            let w = parse_decimal(w, 3).filter(|w| (1..u64::from(TILE_WIDTH)).contains(w));
            let w = w.ok_or("partial width is not 1..=255 without leading zeros")?;
            (groups, w as u16, &last[..last.len() - 2])
        }
        [groups @ .., last] => (groups, TILE_WIDTH, *last),
        [] => return Err("missing index"),
    };
    let mut index: u64 = 0;
    for g in groups {
        let digits = g
            .strip_prefix('x')
            .ok_or("index element without x prefix")?;
        index = push_group(index, digits)?;
    }
    if !groups.is_empty() && index == 0 {
        return Err("index has a leading x000 element");
    }
    index = push_group(index, last)?;
    Ok((index, width))
}

/// `index * 1000 + group` for a three-digit group, refusing overflow.
fn push_group(index: u64, group: &str) -> Result<u64, &'static str> {
    if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
        return Err("index element is not three digits");
    }
    let g = group
        .bytes()
        .fold(0, |acc, b| acc * 10 + u64::from(b - b'0'));
    index
        .checked_mul(1000)
        .and_then(|i| i.checked_add(g))
        .ok_or("index overflows 64 bits")
}

/// A decimal of at most `max_digits` digits without leading zeros.
fn parse_decimal(s: &str, max_digits: usize) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= max_digits
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.bytes().fold(0, |acc, b| acc * 10 + u64::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{
        RightEdge, inclusion_proof, leaf_hash, root_from_reader, verify_inclusion,
    };

    /// A tree of `n` leaves: its entries, stored nodes and root.
    struct Tree {
        entries: Vec<Vec<u8>>,
        nodes: HashMap<NodeId, Hash>,
        root: Hash,
    }

    fn tree(n: u64) -> Tree {
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let appended = RightEdge::empty().append(&leaf_hashes(&entries)).unwrap();
        let root = appended.edge.root();
        Tree {
            entries,
            nodes: appended.nodes.into_iter().collect(),
            root,
        }
    }

    impl Tree {
        fn tile(&self, id: TileId) -> Tile {
            let base = u32::from(id.level()) * TILE_HEIGHT;
            let hashes = (0..u64::from(id.width()))
                .map(|e| self.nodes[&NodeId::new(base as u8, id.index() * 256 + e)])
                .collect();
            Tile::new(id, hashes).unwrap()
        }

        fn bundle(&self, id: BundleId) -> EntryBundle {
            let start = (id.index() * 256) as usize;
            let entries = self.entries[start..start + usize::from(id.width())].to_vec();
            EntryBundle::new(id, entries).unwrap()
        }

        fn reader(&self, size: u64) -> TileHashReader {
            let mut r = TileHashReader::new(size);
            for level in tree_tiles(size) {
                for id in level.ids() {
                    r.insert(self.tile(id)).unwrap();
                }
            }
            r
        }
    }

    fn tid(level: u8, index: u64, width: u16) -> TileId {
        TileId::new(level, index, width).unwrap()
    }

    #[test]
    fn ids_are_validated() {
        assert_eq!(
            TileId::new(64, 0, 1),
            Err(TileError::InvalidLevel { level: 64 })
        );
        assert_eq!(
            TileId::new(0, 0, 0),
            Err(TileError::InvalidWidth { width: 0 })
        );
        assert_eq!(
            TileId::new(0, 0, 257),
            Err(TileError::InvalidWidth { width: 257 })
        );
        assert_eq!(
            BundleId::new(0, 0),
            Err(TileError::InvalidWidth { width: 0 })
        );
        assert!(tid(63, u64::MAX, 256).is_full());
        assert!(!tid(0, 0, 255).is_full());
    }

    #[test]
    fn tiles_in_a_tree() {
        assert_eq!(TileId::in_tree(0, 0, 0), None);
        assert_eq!(TileId::in_tree(0, 0, 1), Some(tid(0, 0, 1)));
        assert_eq!(TileId::in_tree(0, 0, 256), Some(tid(0, 0, 256)));
        assert_eq!(TileId::in_tree(0, 1, 256), None);
        assert_eq!(TileId::in_tree(1, 0, 256), Some(tid(1, 0, 1)));
        assert_eq!(TileId::in_tree(1, 0, 255), None);
        assert_eq!(TileId::in_tree(0, u64::MAX, u64::MAX), None);
        assert_eq!(TileId::in_tree(7, 0, u64::MAX), Some(tid(7, 0, 255)));
        assert_eq!(TileId::in_tree(8, 0, u64::MAX), None);
        assert_eq!(BundleId::in_tree(1, 300), BundleId::new(1, 44).ok());
        assert_eq!(tree_tiles(0), vec![]);
        assert_eq!(tree_tiles(u64::MAX).len(), 8);
    }

    #[test]
    fn nodes_are_located() {
        let loc = |l, i| locate_node(NodeId::new(l, i)).unwrap();
        let at = |tile_level, tile_index, start, count| NodeLocation {
            tile_level,
            tile_index,
            start,
            count,
        };
        assert_eq!(loc(0, 0), at(0, 0, 0, 1));
        assert_eq!(loc(0, 1000), at(0, 3, 232, 1));
        assert_eq!(loc(3, 5), at(0, 0, 40, 8));
        assert_eq!(loc(7, 3), at(0, 1, 128, 128));
        assert_eq!(loc(8, 300), at(1, 1, 44, 1));
        assert_eq!(loc(17, 1), at(2, 0, 2, 2));
        assert_eq!(loc(63, 0), at(7, 0, 0, 128));
        assert_eq!(loc(0, u64::MAX), at(0, u64::MAX / 256, 255, 1));
        let node = NodeId::new(64, 0);
        assert_eq!(locate_node(node), Err(TileError::NodeOutOfRange { node }));
        let node = NodeId::new(1, u64::MAX);
        assert_eq!(locate_node(node), Err(TileError::NodeOutOfRange { node }));
    }

    #[test]
    fn tile_codec() {
        let id = tid(1, 2, 3);
        let hashes = vec![[1; 32], [2; 32], [3; 32]];
        let tile = Tile::new(id, hashes.clone()).unwrap();
        let bytes = tile.encode();
        assert_eq!(bytes.len(), 96);
        assert_eq!(Tile::parse(id, &bytes).unwrap(), tile);
        assert_eq!(tile.hashes(), hashes);
        for len in [0, 1, 31, 64, 95, 97, 128] {
            assert_eq!(
                Tile::parse(id, &vec![0; len]),
                Err(TileError::TileLength { tile: id, len }),
                "{len} bytes"
            );
        }
        assert_eq!(
            Tile::new(id, vec![[0; 32]; 2]),
            Err(TileError::TileHashCount { tile: id, got: 2 })
        );
        let full = tid(0, 0, 256);
        assert_eq!(Tile::parse(full, &[7; 8192]).unwrap().hashes().len(), 256);
    }

    #[test]
    fn tile_recomputes_nodes_below_it() {
        let t = tree(256);
        let tile = t.tile(tid(0, 0, 256));
        for level in 0..8u8 {
            for index in 0..(256u64 >> level) {
                let node = NodeId::new(level, index);
                assert_eq!(tile.node_hash(node).unwrap(), t.nodes[&node], "{node:?}");
            }
        }
        let elsewhere = NodeId::new(0, 256);
        assert_eq!(
            tile.node_hash(elsewhere),
            Err(TileError::NodeNotInTile {
                node: elsewhere,
                tile: tile.id()
            })
        );
        let partial = t.tile(tid(0, 0, 5));
        let node = NodeId::new(2, 1);
        assert_eq!(
            partial.node_hash(node),
            Err(TileError::NodeNotInTile {
                node,
                tile: partial.id()
            })
        );
        assert_eq!(
            partial.node_hash(NodeId::new(2, 0)).unwrap(),
            t.nodes[&NodeId::new(2, 0)]
        );
    }

    #[test]
    fn bundle_codec() {
        let id = BundleId::new(0, 3).unwrap();
        let entries = vec![b"".to_vec(), b"ab".to_vec(), vec![9; 300]];
        let bundle = EntryBundle::new(id, entries.clone()).unwrap();
        let bytes = bundle.encode();
        assert_eq!(&bytes[..6], &[0, 0, 0, 2, b'a', b'b']);
        assert_eq!(&bytes[6..8], &[1, 44]);
        assert_eq!(bytes.len(), 2 + 4 + 302);
        assert_eq!(EntryBundle::parse(id, &bytes).unwrap(), bundle);
        assert_eq!(bundle.entries(), entries);

        let err = |bytes: &[u8]| EntryBundle::parse(id, bytes).unwrap_err();
        assert_eq!(
            err(&bytes[..bytes.len() - 1]),
            TileError::BundleTruncated {
                bundle: id,
                entry: 2
            }
        );
        assert_eq!(
            err(&bytes[..7]),
            TileError::BundleTruncated {
                bundle: id,
                entry: 2
            }
        );
        assert_eq!(
            err(&bytes[..5]),
            TileError::BundleTruncated {
                bundle: id,
                entry: 1
            }
        );
        assert_eq!(
            err(&bytes[..6]),
            TileError::BundleEntryCount { bundle: id, got: 2 }
        );
        assert_eq!(err(&[]), TileError::BundleEntryCount { bundle: id, got: 0 });
        let mut long = bytes.clone();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(
            err(&long),
            TileError::BundleTrailingBytes { bundle: id, len: 2 }
        );
        long.push(0);
        assert_eq!(
            err(&long),
            TileError::BundleTrailingBytes { bundle: id, len: 3 }
        );
    }

    #[test]
    fn bundle_limits() {
        let id = BundleId::new(0, 2).unwrap();
        let biggest = vec![0xaa; MAX_ENTRY_SIZE];
        let bundle = EntryBundle::new(id, vec![biggest.clone(), vec![]]).unwrap();
        let bytes = bundle.encode();
        assert_eq!(&bytes[..2], &[0xff, 0xff]);
        assert_eq!(
            EntryBundle::parse(id, &bytes).unwrap().entries()[0],
            biggest
        );
        assert_eq!(
            EntryBundle::new(id, vec![vec![], vec![0; MAX_ENTRY_SIZE + 1]]),
            Err(TileError::EntryTooLarge {
                index: 1,
                len: 65_536
            })
        );
        assert_eq!(
            EntryBundle::new(id, vec![vec![]]),
            Err(TileError::BundleEntryCount { bundle: id, got: 1 })
        );
    }

    #[test]
    fn bundles_match_their_tiles() {
        let t = tree(300);
        let id = BundleId::in_tree(1, 300).unwrap();
        let (tile, bundle) = (t.tile(id.tile()), t.bundle(id));
        verify_bundle(&tile, &bundle).unwrap();
        assert_eq!(bundle.leaf_hashes()[0], leaf_hash(b"entry 256"));

        let mut entries = bundle.entries().to_vec();
        entries[7] = b"forged".to_vec();
        let forged = EntryBundle::new(id, entries).unwrap();
        assert_eq!(
            verify_bundle(&tile, &forged),
            Err(TileError::LeafMismatch { index: 263 })
        );

        let other = t.tile(tid(0, 0, 256));
        assert_eq!(
            verify_bundle(&other, &bundle),
            Err(TileError::BundleTileMismatch {
                bundle: id,
                tile: other.id()
            })
        );
    }

    #[test]
    fn proofs_from_tiles_verify_against_the_root() {
        let size = 70_000;
        let t = tree(size);
        let r = t.reader(size);
        assert_eq!(root_from_reader(&r, size).unwrap(), t.root);
        for index in [0, 1, 255, 256, 65_535, 65_536, 69_887, 69_888, 69_999] {
            let proof = inclusion_proof(&r, index, size).unwrap();
            let leaf = leaf_hash(&t.entries[index as usize]);
            verify_inclusion(&leaf, index, size, &proof, &t.root).unwrap();
        }
        for level in tree_tiles(size) {
            for id in level.ids() {
                r.verify_tile(&t.tile(id), &t.root).unwrap();
            }
        }
        for index in [0, 272, 273] {
            r.verify_bundle(&t.bundle(BundleId::in_tree(index, size).unwrap()), &t.root)
                .unwrap();
        }
    }

    #[test]
    fn a_client_fetches_only_the_tiles_a_proof_needs() {
        let size = 70_000;
        let t = tree(size);
        let nodes = crate::merkle::inclusion_nodes(1234, size).unwrap();
        let needed = tiles_for_nodes(size, nodes.ids()).unwrap();
        assert_eq!(
            needed,
            vec![
                tid(0, 4, 256),
                tid(0, 273, 112),
                tid(1, 0, 256),
                tid(1, 1, 17)
            ]
        );
        let mut r = TileHashReader::new(size);
        for id in &needed {
            r.insert(t.tile(*id)).unwrap();
        }
        let proof = inclusion_proof(&r, 1234, size).unwrap();
        verify_inclusion(&leaf_hash(&t.entries[1234]), 1234, size, &proof, &t.root).unwrap();
        // Without one of them the read fails and says which tile is missing.
        let mut partial = TileHashReader::new(size);
        partial.insert(t.tile(needed[0])).unwrap();
        assert_eq!(
            inclusion_proof(&partial, 1234, size).unwrap_err(),
            GenerateError::Read(TileError::MissingTile {
                tile: tid(1, 0, 256)
            })
        );
    }

    #[test]
    fn forged_tiles_fail_verification() {
        let size = 1000;
        let t = tree(size);
        let mut forged = t.tile(tid(0, 1, 256));
        forged.hashes[17][0] ^= 1;
        let mut r = TileHashReader::new(size);
        for level in tree_tiles(size) {
            for id in level.ids().filter(|id| *id != forged.id()) {
                r.insert(t.tile(id)).unwrap();
            }
        }
        assert_eq!(
            r.verify_tile(&forged, &t.root),
            Err(TileError::RootMismatch { tile: forged.id() })
        );
        r.insert(forged.clone()).unwrap();
        // A proof through the forged hash does not verify; the other tiles still check out.
        let proof = inclusion_proof(&r, 256 + 16, size).unwrap();
        let leaf = leaf_hash(&t.entries[256 + 16]);
        assert_eq!(
            verify_inclusion(&leaf, 256 + 16, size, &proof, &t.root),
            Err(crate::merkle::ProofError::RootMismatch)
        );
        assert_eq!(
            r.verify_tile(&forged, &t.root),
            Err(TileError::RootMismatch { tile: forged.id() })
        );
        // The level-1 tile proves over the forged level-0 tile's neighbours, not through it.
        r.verify_tile(&t.tile(tid(1, 0, 3)), &t.root).unwrap();
        r.verify_tile(&t.tile(tid(0, 3, 232)), &t.root).unwrap();
        let wrong_root = [0; 32];
        assert_eq!(
            r.verify_tile(&t.tile(tid(0, 0, 256)), &wrong_root),
            Err(TileError::RootMismatch {
                tile: tid(0, 0, 256)
            })
        );
        let mut bundle = t.bundle(BundleId::new(0, 256).unwrap());
        bundle.entries[3].push(0);
        assert_eq!(
            r.verify_bundle(&bundle, &t.root),
            Err(TileError::RootMismatch {
                tile: tid(0, 0, 256)
            })
        );
    }

    #[test]
    fn insert_checks_the_tile_fits_the_tree() {
        let t = tree(600);
        let mut r = TileHashReader::new(500);
        // A full tile fetched for a larger tree serves a smaller one.
        r.insert(t.tile(tid(0, 1, 256))).unwrap();
        assert_eq!(r.tiles[&(0, 1)].id(), tid(0, 1, 244));
        r.insert(t.tile(tid(0, 1, 250))).unwrap();
        assert_eq!(
            r.insert(t.tile(tid(0, 1, 200))),
            Err(TileError::TileTooNarrow {
                tile: tid(0, 1, 200),
                want: 244
            })
        );
        assert_eq!(
            r.insert(t.tile(tid(0, 2, 88))),
            Err(TileError::TileNotInTree {
                tile: tid(0, 2, 88),
                size: 500
            })
        );
        let mut other = t.tile(tid(0, 1, 256));
        other.hashes[0][0] ^= 1;
        assert_eq!(
            r.insert(other),
            Err(TileError::TileConflict {
                tile: tid(0, 1, 244)
            })
        );
        let node = NodeId::leaf(500);
        assert_eq!(
            r.read_hashes(&[node]),
            Err(TileError::NodeNotInTree { node, size: 500 })
        );
        assert_eq!(
            tiles_for_nodes(500, &[NodeId::new(1, 0), node]),
            Err(TileError::NodeNotInTree { node, size: 500 })
        );
    }
}
