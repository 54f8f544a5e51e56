//! Entry bundles and tiles: parsing never panics; what parses re-encodes to its input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use reprove_verifier::tiles::{BundleId, EntryBundle, Tile, TileId};

fuzz_target!(|data: &[u8]| {
    let Some((&w, rest)) = data.split_first() else { return };
    let width = u16::from(w).max(1);
    if let Ok(id) = BundleId::new(0, width) {
        if let Ok(b) = EntryBundle::parse(id, rest) {
            assert_eq!(b.encode(), rest);
        }
    }
    if let Ok(id) = TileId::new(0, 0, width) {
        if let Ok(t) = Tile::parse(id, rest) {
            assert_eq!(t.encode(), rest);
        }
    }
});
