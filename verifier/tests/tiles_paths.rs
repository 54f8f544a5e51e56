//! c2sp tlog-tiles paths and tile counts: the spec's own examples, and the spellings that must
//! be refused because every tile has exactly one path.

use reprove_verifier::tiles::{
    BundleId, LevelTiles, TileError, TileId, TilePath, parse_path, tree_tiles,
};

fn tile(level: u8, index: u64, width: u16) -> TileId {
    TileId::new(level, index, width).unwrap()
}

fn bundle(index: u64, width: u16) -> BundleId {
    BundleId::new(index, width).unwrap()
}

/// Formats `want` and checks the path parses back to it.
fn check(path: &str, want: TilePath) {
    assert_eq!(want.path(), path);
    assert_eq!(parse_path(path), Ok(want), "{path}");
}

#[test]
fn spec_examples() {
    check(
        "tile/0/x001/x234/067",
        TilePath::Hashes(tile(0, 1_234_067, 256)),
    );
    check("tile/0/000", TilePath::Hashes(tile(0, 0, 256)));
    check("tile/0/x001/000", TilePath::Hashes(tile(0, 1000, 256)));
    check(
        "tile/entries/x001/x234/067",
        TilePath::Entries(bundle(1_234_067, 256)),
    );
    check("tile/entries/000", TilePath::Entries(bundle(0, 256)));
    check(
        "tile/entries/x001/000",
        TilePath::Entries(bundle(1000, 256)),
    );
}

#[test]
fn partial_levels_and_large_indices() {
    check("tile/0/273.p/112", TilePath::Hashes(tile(0, 273, 112)));
    check("tile/1/001.p/17", TilePath::Hashes(tile(1, 1, 17)));
    check("tile/2/000.p/1", TilePath::Hashes(tile(2, 0, 1)));
    check("tile/63/999.p/255", TilePath::Hashes(tile(63, 999, 255)));
    check("tile/10/x999/999", TilePath::Hashes(tile(10, 999_999, 256)));
    check(
        "tile/entries/273.p/112",
        TilePath::Entries(bundle(273, 112)),
    );
    check(
        "tile/0/x018/x446/x744/x073/x709/x551/615",
        TilePath::Hashes(tile(0, u64::MAX, 256)),
    );
    check(
        "tile/entries/x018/x446/x744/x073/x709/x551/615.p/9",
        TilePath::Entries(bundle(u64::MAX, 9)),
    );
    assert_eq!(tile(0, 5, 3).to_string(), "tile/0/005.p/3");
    assert_eq!(bundle(5, 3).to_string(), "tile/entries/005.p/3");
    assert_eq!(bundle(5, 3).tile(), tile(0, 5, 3));
}

#[test]
fn every_index_round_trips() {
    let mut indices: Vec<u64> = (0..2100).collect();
    indices.extend([
        999_999,
        1_000_000,
        1_000_001,
        u64::MAX - 1,
        u64::MAX,
        1 << 32,
        1 << 63,
    ]);
    for index in indices {
        for width in [1, 100, 255, 256] {
            let t = tile(3, index, width);
            assert_eq!(parse_path(&t.path()), Ok(TilePath::Hashes(t)));
            let b = bundle(index, width);
            assert_eq!(parse_path(&b.path()), Ok(TilePath::Entries(b)));
        }
    }
}

#[test]
fn non_canonical_and_malformed_paths_are_refused() {
    let bad = [
        // Leading zeros, out-of-range levels and widths.
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/100/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/0/000.p/0",
        "tile/0/000.p/00",
        "tile/0/000.p/05",
        "tile/0/000.p/256",
        "tile/0/000.p/1000",
        "tile/0/000.p/-1",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000.p/5/",
        "tile/0/000/p/5",
        "tile/0/000.P/5",
        "tile/0/x001.p/5",
        "tile/0/x001/000.p/5/6",
        // Index elements: digits, width, x prefixes, canonical form, overflow.
        "tile/0/0",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/1234",
        "tile/0/abc",
        "tile/0/1e3",
        "tile/0/ 12",
        "tile/0/x000",
        "tile/0/x001",
        "tile/0/001/000",
        "tile/0/x1/000",
        "tile/0/xx001/000",
        "tile/0/X001/000",
        "tile/0/x000/001",
        "tile/0/x000/x001/000",
        "tile/0/000/x001",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "tile/0/x001/x000/x000/x000/x000/x000/x000/000",
        // Structure.
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "tile//000",
        "tile/0//000",
        "tile/0/x001//000",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/000 ",
        "tile/0/000\n",
        "tiles/0/000",
        "Tile/0/000",
        "tile/entries",
        "tile/entries/",
        "tile/entries/0",
        "tile/entries/000.p/256",
        "tile/Entries/000",
        "tile/data/000",
        "tile/8/0/000",
        "tile/8/data/000",
        "tile/0/../000",
        "tile/../0/000",
        "tile/0/./000",
        "prefix/tile/0/000",
        "tile/0/000?x=1",
        "tile/0/٠٠٠",
    ];
    for path in bad {
        let err = parse_path(path).expect_err(path);
        assert!(
            matches!(err, TileError::InvalidPath { .. }),
            "{path}: {err}"
        );
    }
}

#[test]
fn the_70000_example() {
    let levels = tree_tiles(70_000);
    assert_eq!(
        levels,
        vec![
            LevelTiles {
                level: 0,
                full: 273,
                partial: Some(112)
            },
            LevelTiles {
                level: 1,
                full: 1,
                partial: Some(17)
            },
            LevelTiles {
                level: 2,
                full: 0,
                partial: Some(1)
            },
        ]
    );
    let ids: Vec<TileId> = levels.iter().flat_map(LevelTiles::ids).collect();
    assert_eq!(ids.len(), 273 + 1 + 1 + 1 + 1);
    assert_eq!(ids[0], tile(0, 0, 256));
    assert_eq!(ids[272], tile(0, 272, 256));
    assert_eq!(ids[273], tile(0, 273, 112));
    assert_eq!(ids[274..], [tile(1, 0, 256), tile(1, 1, 17), tile(2, 0, 1)]);
    assert_eq!(TileId::in_tree(0, 273, 70_000), Some(tile(0, 273, 112)));
    assert_eq!(TileId::in_tree(1, 1, 70_000), Some(tile(1, 1, 17)));
    assert_eq!(TileId::in_tree(2, 0, 70_000), Some(tile(2, 0, 1)));
    assert_eq!(TileId::in_tree(0, 274, 70_000), None);
    assert_eq!(TileId::in_tree(3, 0, 70_000), None);
    assert_eq!(BundleId::in_tree(273, 70_000), Some(bundle(273, 112)));
}

#[test]
fn tile_counts_follow_the_width_formula() {
    // W = floor(size / 256^L) mod 256 for the partial tile of every level.
    for size in [
        1u64,
        255,
        256,
        257,
        65_535,
        65_536,
        65_537,
        16_777_216,
        u64::MAX,
    ] {
        for level in tree_tiles(size) {
            let count = size >> (8 * u32::from(level.level));
            assert_eq!(level.full, count / 256, "size {size} level {}", level.level);
            let w = (count % 256) as u16;
            assert_eq!(
                level.partial,
                (w > 0).then_some(w),
                "size {size} level {}",
                level.level
            );
        }
    }
    assert_eq!(
        tree_tiles(256),
        vec![
            LevelTiles {
                level: 0,
                full: 1,
                partial: None
            },
            LevelTiles {
                level: 1,
                full: 0,
                partial: Some(1)
            },
        ]
    );
}

proptest::proptest! {
    /// Any string: no panic, and whatever is accepted is the canonical spelling of what it names.
    #[test]
    fn parse_is_total_and_canonical(path in "(tile/)?(entries/|[0-9]{1,3}/)?([x0-9./p]{0,6}/?){0,9}") {
        if let Ok(parsed) = parse_path(&path) {
            proptest::prop_assert_eq!(parsed.path(), path);
        }
    }

    /// Every tile and bundle path round-trips.
    #[test]
    fn formatted_paths_parse_back(level in 0u8..=63, index: u64, width in 1u16..=256) {
        let t = tile(level, index, width);
        proptest::prop_assert_eq!(parse_path(&t.path()), Ok(TilePath::Hashes(t)));
        let b = bundle(index, width);
        proptest::prop_assert_eq!(parse_path(&b.path()), Ok(TilePath::Entries(b)));
    }
}
