//! Benchmarks of the verification core: `cargo bench -p reprove-verifier`.
//!
//! Large trees are real RFC 6962 trees whose leaves are all the same entry: every complete
//! subtree of height h then has the same hash, so a reader can serve any node of a 2^30-leaf
//! tree in O(1) and the proofs generated from it are genuine proofs for that tree.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use reprove_verifier::merkle::{
    self, Hash, HashReader, NodeId, consistency_proof, inclusion_proof, root_from_reader,
};

/// A tree whose every leaf is the same entry.
struct Uniform {
    by_level: Vec<Hash>,
}

impl Uniform {
    fn new() -> Self {
        let mut by_level = vec![merkle::leaf_hash(b"reprove bench leaf")];
        for h in 1..64 {
            let below = by_level[h - 1];
            by_level.push(merkle::node_hash(&below, &below));
        }
        Uniform { by_level }
    }
}

impl HashReader for Uniform {
    type Error = Infallible;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Infallible> {
        Ok(ids.iter().map(|id| self.by_level[id.level as usize]).collect())
    }
}

fn leaf_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaf_hash");
    for size in [256usize, 1024] {
        let entries: Vec<Vec<u8>> = (0..4096).map(|i| vec![(i % 251) as u8; size]).collect();
        g.throughput(Throughput::Bytes((entries.len() * size) as u64));
        g.bench_with_input(BenchmarkId::new("sequential", size), &entries, |b, e| {
            b.iter(|| e.iter().map(|x| merkle::leaf_hash(x)).collect::<Vec<_>>())
        });
        g.bench_with_input(BenchmarkId::new("batch", size), &entries, |b, e| {
            b.iter(|| merkle::leaf_hashes(e))
        });
    }
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let tree = Uniform::new();
    let size: u64 = (1 << 30) + 12_345;
    let root = root_from_reader(&tree, size).unwrap();
    let leaf = tree.by_level[0];
    let index = (1 << 29) + 777;
    let proof = inclusion_proof(&tree, index, size).unwrap();
    c.bench_function("inclusion_verify_2^30", |b| {
        b.iter(|| merkle::verify_inclusion(&leaf, black_box(index), size, &proof, &root).unwrap())
    });
    let first: u64 = (1 << 30) - 1_000_003;
    let root1 = root_from_reader(&tree, first).unwrap();
    let cproof = consistency_proof(&tree, first, size).unwrap();
    c.bench_function("consistency_verify_2^30", |b| {
        b.iter(|| merkle::verify_consistency(black_box(first), size, &cproof, &root1, &root).unwrap())
    });
    c.bench_function("inclusion_generate_2^30", |b| {
        b.iter(|| inclusion_proof(&tree, black_box(index), size).unwrap())
    });
}

criterion_group!(benches, leaf_hashing, proofs);
criterion_main!(benches);
