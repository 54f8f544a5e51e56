//! The read API over a real socket, checked the way a client checks it: the tree is rebuilt
//! from `/checkpoint`, `/tile/...` and `/tile/entries/...` alone (with the verifier's
//! `TileHashReader`), and the proofs `/proof` and `/consistency` serve are verified against it.

use crate::common;
use crate::common::http;

use std::io::Read;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{entry, fill, key, new_log, verify_checkpoint};
use http::{Response, Server, fast_rounds};
use reprove_ledger::{HttpConfig, IndexKey, Submission, TokioClock};
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::merkle::{
    Hash, compact_range, consistency_nodes, consistency_proof, inclusion_nodes, inclusion_proof,
    root_from_reader, verify_consistency,
};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{
    BundleId, EntryBundle, Tile, TileHashReader, TileId, tiles_for_nodes, tree_tiles,
};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A log filled by the writer with rounds ending at each of `sizes`, then served.
async fn served(sizes: &[u64], round: u64) -> Server {
    let (dir, ledger, mut writer) = new_log();
    let mut at = 0;
    for &size in sizes {
        fill(&mut writer, at, size, round);
        at = size;
    }
    Server::serve_log(dir, ledger, writer).await
}

/// GET `path`, expecting 200 and an octet-stream cached as a full or partial tile.
async fn fetch_tile(server: &Server, path: &str, full: bool) -> Vec<u8> {
    let r = server.get(&format!("/{path}")).await;
    assert_eq!(
        r.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let cache = r.header("cache-control").unwrap();
    assert_eq!(cache == IMMUTABLE, full, "{path}: {cache}");
    if !full {
        assert!(cache.contains("max-age="), "{path}: {cache}");
    }
    r.body
}

/// The signed checkpoint of `size` (from `/proof/0?size=`): verified size and root.
async fn checkpoint_at(server: &Server, size: u64) -> Hash {
    let r = server.get(&format!("/proof/0?size={size}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let proof = TlogProof::parse(&r.body).unwrap();
    let (got, root) = verify_checkpoint(proof.checkpoint());
    assert_eq!(got, size);
    root
}

/// Fetches the tiles `ids` of the tree of `size` into `reader`.
async fn load_tiles(server: &Server, reader: &mut TileHashReader, ids: &[TileId]) {
    for &id in ids {
        let bytes = fetch_tile(server, &id.path(), id.is_full()).await;
        reader.insert(Tile::parse(id, &bytes).unwrap()).unwrap();
    }
}

/// Rebuilds the tree of `size` from every tile and bundle served for it; returns the reader.
async fn rebuild(server: &Server, size: u64, root: &Hash) -> TileHashReader {
    let mut reader = TileHashReader::new(size);
    let ids: Vec<TileId> = tree_tiles(size).iter().flat_map(|l| l.ids()).collect();
    load_tiles(server, &mut reader, &ids).await;
    assert_eq!(
        root_from_reader(&reader, size).unwrap(),
        *root,
        "size {size}"
    );
    for id in tree_tiles(size)[0].ids() {
        let bundle_id = BundleId::in_tree(id.index(), size).unwrap();
        let bytes = fetch_tile(server, &bundle_id.path(), bundle_id.is_full()).await;
        let bundle = EntryBundle::parse(bundle_id, &bytes).unwrap();
        reader.verify_bundle(&bundle, root).unwrap();
        let first = id.index() * 256;
        for (i, e) in bundle.entries().iter().enumerate() {
            assert_eq!(*e, entry(first + i as u64));
        }
    }
    reader
}

/// The hashes of a `/consistency` answer.
fn hash_lines(r: &Response) -> Vec<Hash> {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    r.text()
        .lines()
        .map(|l| STANDARD.decode(l).unwrap().try_into().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_rebuilds_from_the_read_api_at_every_size_around_a_tile() {
    let sizes = [1u64, 255, 256, 257];
    let server = served(&sizes, 100).await;

    let r = server.get("/checkpoint").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=2"));
    assert_eq!(verify_checkpoint(&r.body).0, 257);

    let mut roots = Vec::new();
    for &size in &sizes {
        // Every tile of every older checkpoint is still served (partial ones as prefixes).
        let root = checkpoint_at(&server, size).await;
        let reader = rebuild(&server, size, &root).await;
        for index in [0, size / 2, size - 1] {
            let r = server.get(&format!("/proof/{index}?size={size}")).await;
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
            assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
            let proof = TlogProof::parse(&r.body).unwrap();
            let verified = proof
                .verify(&entry(index), &key(), &WitnessPolicy::none())
                .unwrap();
            assert_eq!(verified.checkpoint().size(), size);
            assert_eq!(
                proof.proof(),
                inclusion_proof(&reader, index, size).unwrap()
            );
        }
        for &(old, old_root) in &roots {
            let r = server
                .get(&format!("/consistency?old={old}&new={size}"))
                .await;
            assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
            let proof = hash_lines(&r);
            verify_consistency(old, size, &proof, &old_root, &root).unwrap();
            assert_eq!(proof, consistency_proof(&reader, old, size).unwrap());
        }
        roots.push((size, root));
    }

    // Without a size: the latest tree, not cached.
    let r = server.get("/proof/256").await;
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let proof = TlogProof::parse(&r.body).unwrap();
    proof
        .verify(&entry(256), &key(), &WitnessPolicy::none())
        .unwrap();
    let r = server.get("/consistency?old=1").await;
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    verify_consistency(1, 257, &hash_lines(&r), &roots[0].1, &roots[3].1).unwrap();
    // Equal sizes and size 0 have empty proofs.
    assert!(hash_lines(&server.get("/consistency?old=256&new=256").await).is_empty());
    assert!(hash_lines(&server.get("/consistency?old=0&new=257").await).is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_gzipped_when_the_client_accepts_it() {
    let server = served(&[300], 300).await;
    for (path, full) in [
        ("/tile/entries/000", true),
        ("/tile/entries/001.p/44", false),
    ] {
        let plain = server.get(path).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
        for accept in ["gzip", "br, gzip;q=0.5", "*"] {
            let r = server.get_with(path, &[("Accept-Encoding", accept)]).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-encoding"), Some("gzip"), "{accept}");
            assert_eq!(r.header("vary"), Some("Accept-Encoding"));
            assert_eq!(r.header("cache-control") == Some(IMMUTABLE), full);
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(&r.body[..])
                .read_to_end(&mut unzipped)
                .unwrap();
            assert_eq!(unzipped, plain.body, "{path} {accept}");
        }
        for accept in ["identity", "gzip;q=0", "*;q=0"] {
            let r = server.get_with(path, &[("Accept-Encoding", accept)]).await;
            assert_eq!(r.header("content-encoding"), None, "{accept}");
            assert_eq!(r.body, plain.body);
        }
    }
    // Hash tiles are never compressed (they are random bytes).
    let r = server
        .get_with("/tile/0/000", &[("Accept-Encoding", "gzip")])
        .await;
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body.len(), 256 * 32);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_served_as_logged_and_immutable() {
    let server = served(&[3], 3).await;
    for i in 0..3 {
        let r = server.get(&format!("/entry/{i}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some(IMMUTABLE));
        assert_eq!(r.body, entry(i));
    }
    server.get("/entry/3").await.assert_error(404, "no entry 3");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_page_through_the_log_both_ways() {
    let (dir, ledger, mut writer) = new_log();
    let release = IndexKey::Release {
        name: "hello".into(),
        version: "1.0".into(),
    };
    let subs: Vec<Submission> = (0..25u64)
        .map(|i| {
            let keys = if i % 2 == 0 {
                vec![release.clone()]
            } else {
                vec![]
            };
            Submission::new(entry(i), keys)
        })
        .collect();
    writer.append(&subs).unwrap();
    let server = Server::start_with(
        dir,
        ledger,
        writer,
        fast_rounds(),
        Arc::new(TokioClock),
        HttpConfig::default(),
    )
    .await;
    let want: Vec<u64> = (0..25).filter(|i| i % 2 == 0).collect();
    for (order, want) in [
        ("asc", want.clone()),
        ("desc", want.iter().rev().copied().collect()),
    ] {
        let mut got = Vec::new();
        let mut after: Option<u64> = None;
        for _ in 0..10 {
            let mut path = format!("/lookup/release/hello/1.0?limit=4&order={order}");
            if let Some(a) = after {
                path.push_str(&format!("&after={a}"));
            }
            let v = server.get(&path).await.json();
            let page: Vec<u64> = v["indices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap())
                .collect();
            assert!(page.len() <= 4);
            got.extend(page);
            match v["next"].as_u64() {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(got, want, "{order}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_of_70000_is_read_back_through_its_right_edge() {
    let sizes = [65_536u64, 70_000];
    let server = served(&sizes, 8192).await;
    let mut roots = Vec::new();
    for &size in &sizes {
        let root = checkpoint_at(&server, size).await;
        // The tiles of the right edge (the spec's example for 70,000: level-0 partial of 112,
        // level-1 partial of 17, level-2 partial of 1).
        let mut reader = TileHashReader::new(size);
        let edge = tiles_for_nodes(size, &compact_range(0, size)).unwrap();
        load_tiles(&server, &mut reader, &edge).await;
        assert_eq!(root_from_reader(&reader, size).unwrap(), root);
        let index = size - 1;
        let nodes = inclusion_nodes(index, size).unwrap();
        let ids = tiles_for_nodes(size, nodes.ids()).unwrap();
        load_tiles(&server, &mut reader, &ids).await;
        let r = server.get(&format!("/proof/{index}?size={size}")).await;
        let proof = TlogProof::parse(&r.body).unwrap();
        proof
            .verify(&entry(index), &key(), &WitnessPolicy::none())
            .unwrap();
        assert_eq!(
            proof.proof(),
            inclusion_proof(&reader, index, size).unwrap()
        );
        roots.push(root);
    }
    let mut reader = TileHashReader::new(70_000);
    let nodes = consistency_nodes(65_536, 70_000).unwrap();
    let ids = tiles_for_nodes(70_000, nodes.ids()).unwrap();
    load_tiles(&server, &mut reader, &ids).await;
    let proof = hash_lines(&server.get("/consistency?old=65536&new=70000").await);
    verify_consistency(65_536, 70_000, &proof, &roots[0], &roots[1]).unwrap();
    assert_eq!(proof, consistency_proof(&reader, 65_536, 70_000).unwrap());
    let widths: Vec<String> = tiles_for_nodes(70_000, &compact_range(0, 70_000))
        .unwrap()
        .iter()
        .map(|t| t.path())
        .collect();
    assert!(widths.contains(&"tile/2/000.p/1".to_owned()), "{widths:?}");
    server.stop().await;
}
