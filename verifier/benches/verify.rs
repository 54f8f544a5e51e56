//! Benchmarks of the verification core: `cargo bench -p reprove-verifier`.
//!
//! Large trees are real RFC 6962 trees whose leaves are all the same entry: every complete
//! subtree of height h then has the same hash, so a reader can serve any node of a 2^30-leaf
//! tree in O(1) and the proofs generated from it are genuine proofs for that tree.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use reprove_verifier::checkpoint::{self, Checkpoint, WitnessPolicy, verify_checkpoint};
use reprove_verifier::dsse::{Envelope, TrustedKey};
use reprove_verifier::merkle::{
    self, Hash, HashReader, NodeId, consistency_proof, inclusion_proof, root_from_reader,
};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::policy::{Policy, verdict_for, verify_logged_entry};
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    Sandbox, SandboxKind, Source,
};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::statement::PAYLOAD_TYPE;

/// A tree whose every leaf is the same entry.
struct Uniform {
    by_level: Vec<Hash>,
}

impl Uniform {
    fn new() -> Self {
        Self::of(b"reprove bench leaf")
    }

    /// The tree whose every leaf is `entry`.
    fn of(entry: &[u8]) -> Self {
        let mut by_level = vec![merkle::leaf_hash(entry)];
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
        Ok(ids
            .iter()
            .map(|id| self.by_level[id.level as usize])
            .collect())
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

/// An interior node's hash (65 bytes: two blocks), as the trees compute it (the block
/// function on input padded in place) and as the streaming hasher would.
fn node_hashing(c: &mut Criterion) {
    use sha2::{Digest, Sha256};
    let mut g = c.benchmark_group("node_hash");
    let pairs: Vec<(Hash, Hash)> = (0..1024u32)
        .map(|i| (Sha256::digest(i.to_be_bytes()).into(), [i as u8; 32]))
        .collect();
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("block_function", |b| {
        b.iter(|| {
            let hashes = pairs.iter().map(|(l, r)| merkle::node_hash(l, r));
            hashes.collect::<Vec<_>>()
        })
    });
    g.bench_function("streaming_hasher", |b| {
        b.iter(|| {
            let hashes = pairs.iter().map(|(l, r)| {
                let mut h = Sha256::new();
                h.update([1u8]);
                h.update(l);
                h.update(r);
                <[u8; 32]>::from(h.finalize())
            });
            hashes.collect::<Vec<_>>()
        })
    });
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
        b.iter(|| {
            merkle::verify_consistency(black_box(first), size, &cproof, &root1, &root).unwrap()
        })
    });
    c.bench_function("inclusion_generate_2^30", |b| {
        b.iter(|| inclusion_proof(&tree, black_box(index), size).unwrap())
    });
}

/// A tree whose leaves are all one filler entry except a few: any node is the filler's
/// complete-subtree hash unless it covers a special leaf, then it is computed from below.
struct Sparse {
    filler: Uniform,
    special: Vec<(u64, Hash)>,
}

impl Sparse {
    fn node(&self, level: u8, index: u64) -> Hash {
        let first = index << level;
        let last = first + (1u64 << level) - 1;
        if !self.special.iter().any(|(i, _)| (first..=last).contains(i)) {
            return self.filler.by_level[level as usize];
        }
        if level == 0 {
            return self.special.iter().find(|(i, _)| *i == index).unwrap().1;
        }
        merkle::node_hash(
            &self.node(level - 1, index * 2),
            &self.node(level - 1, index * 2 + 1),
        )
    }
}

impl HashReader for Sparse {
    type Error = Infallible;
    fn read_hashes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, Infallible> {
        Ok(ids.iter().map(|id| self.node(id.level, id.index)).collect())
    }
}

const ORIGIN: &str = "log.example.org/reprove";

fn release_envelope(key: &SigningKey, vkey: &str) -> Vec<u8> {
    let entry = Entry::new(EntryKind::Release(ReleaseManifest {
        subjects: vec![Artifact {
            name: "hello-1.0.0.tar.gz".into(),
            digest: Digests::sha256([0xaa; 32]),
        }],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: "hello".into(),
            version: "1.0.0".into(),
            artifacts: Default::default(),
            source: Source::Git {
                uri: "https://example.org/hello.git".into(),
                commit: "a".repeat(40),
            },
            recipe: Recipe {
                inputs: Vec::new(),
                unpinned_outputs: Default::default(),
                build_deps: Vec::new(),
                build_user: Default::default(),
                command: vec!["make".into()],
                environment: Environment::Host {},
                source_date_epoch: Some(1_700_000_000),
                env: Default::default(),
                outputs: [(
                    "dist/hello-1.0.0.tar.gz".to_owned(),
                    "hello-1.0.0.tar.gz".to_owned(),
                )]
                .into_iter()
                .collect(),
            },
        },
    }))
    .unwrap();
    Envelope::sign(PAYLOAD_TYPE, &entry.encode(), &[(vkey, key)])
        .unwrap()
        .encode()
}

fn attestation_envelope(key: &SigningKey, vkey: &str) -> Vec<u8> {
    attestation_of(key, vkey, 7, [0x11; 32])
}

fn attestation_of(key: &SigningKey, vkey: &str, release_index: u64, release: [u8; 32]) -> Vec<u8> {
    let subjects = vec![Artifact {
        name: "hello-1.0.0.tar.gz".into(),
        digest: Digests::sha256([0xaa; 32]),
    }];
    let entry = Entry::new(EntryKind::Rebuild(RebuildAttestation {
        subjects: subjects.clone(),
        predicate: RebuildPredicate {
            release: ReleaseRef {
                log_index: release_index,
                name: "hello".into(),
                version: "1.0.0".into(),
                digest: Digests::sha256(release),
            },
            result: RebuildResult::Reproduced,
            comparison: Comparison::BitIdentical,
            rebuilt: subjects,
            build_log: Some(Digests::sha256([0x22; 32])),
            diff_report: None,
            sandbox: Sandbox {
                kind: SandboxKind::Bubblewrap,
                details: Some("bwrap 0.8.0".into()),
            },
            builder: Builder {
                id: "https://rebuilder.example/a".into(),
                version: "0.1.0".into(),
            },
            started_on: "2026-11-21T10:00:00Z".into(),
            finished_on: "2026-11-21T10:01:00Z".into(),
            invocation_id: None,
            detail: None,
            variations: vec![],
        },
    }))
    .unwrap();
    Envelope::sign(PAYLOAD_TYPE, &entry.encode(), &[(vkey, key)])
        .unwrap()
        .encode()
}

fn signatures(c: &mut Criterion) {
    let log = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
    let cp = Checkpoint::new(ORIGIN, (1 << 30) + 12_345, [7; 32]).unwrap();
    let signed = checkpoint::sign(&cp, &log).unwrap();
    let none = WitnessPolicy::none();
    let vlog = log.verifier();
    c.bench_function("checkpoint_verify", |b| {
        b.iter(|| verify_checkpoint(black_box(&signed), &vlog, &none).unwrap())
    });

    let rebuilder = NoteSigner::from_seed("rebuilder-a", &[2; 32]).unwrap();
    let key = SigningKey::from_bytes(&[2; 32]);
    let vkey = rebuilder.verifier().to_string();
    let env_bytes = attestation_envelope(&key, &vkey);
    let trusted = [TrustedKey {
        id: vkey.clone(),
        key: key.verifying_key(),
    }];
    // The same Ed25519 rules two ways: ed25519-dalek's `verify_strict` and ours, which skips
    // decoding R (verifier/src/ed25519.rs).
    let message = b"a message of about the size of a DSSE pre-authentication encoding";
    let sig = ed25519_dalek::Signer::sign(&key, message);
    let vk = key.verifying_key();
    c.bench_function("ed25519_verify_strict_dalek", |b| {
        b.iter(|| {
            vk.verify_strict(black_box(message), black_box(&sig))
                .unwrap()
        })
    });
    c.bench_function("ed25519_verify_strict_ours", |b| {
        b.iter(|| {
            assert!(reprove_verifier::ed25519::verify_strict(
                &vk,
                black_box(message),
                black_box(&sig)
            ))
        })
    });

    c.bench_function("dsse_parse_verify", |b| {
        b.iter(|| {
            Envelope::parse(black_box(&env_bytes))
                .unwrap()
                .verify(&trusted, 1, &[PAYLOAD_TYPE])
                .unwrap()
        })
    });
}

/// The goal of issue #2: one attestation verified offline — tlog-proof (checkpoint signature +
/// inclusion proof in a 2^30-leaf tree) + DSSE signature + statement and predicate parsing.
fn one_attestation_offline(c: &mut Criterion) {
    let log = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
    let rebuilder = NoteSigner::from_seed("rebuilder-a", &[2; 32]).unwrap();
    let vkey = rebuilder.verifier().to_string();
    let entry = attestation_envelope(&SigningKey::from_bytes(&[2; 32]), &vkey);
    let tree = Uniform::of(&entry);
    let size: u64 = (1 << 30) + 12_345;
    let index: u64 = (1 << 29) + 777;
    let root = root_from_reader(&tree, size).unwrap();
    let signed = checkpoint::sign(&Checkpoint::new(ORIGIN, size, root).unwrap(), &log).unwrap();
    let proof = TlogProof::new(
        None,
        index,
        inclusion_proof(&tree, index, size).unwrap(),
        signed,
    )
    .unwrap();
    let proof_text = proof.encode();
    let policy = Policy::parse(
        format!(
            "threshold = 1\n[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[[operator]]\nname = \"a\"\nkeys = [\"{vkey}\"]\n",
            log.verifier()
        )
        .as_bytes(),
    )
    .unwrap();
    c.bench_function("attestation_offline_2^30", |b| {
        b.iter(|| {
            let p = TlogProof::parse(black_box(&proof_text)).unwrap();
            verify_logged_entry(&policy, black_box(&entry), &p).unwrap()
        })
    });
}

/// Issue #13: one attestation verified offline *with its release* — both entries' tlog-proofs
/// in a 2^30-leaf tree, both DSSE signatures, and the verdict binding the attestation to the
/// release (index, entry digest, name and version, subjects, pinned publisher).
fn one_attestation_with_its_release_offline(c: &mut Criterion) {
    use sha2::Digest as _;
    let log = NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap();
    let rebuilder = NoteSigner::from_seed("rebuilder-a", &[2; 32]).unwrap();
    let publisher = NoteSigner::from_seed("publisher", &[3; 32]).unwrap();
    let (rvkey, pvkey) = (
        rebuilder.verifier().to_string(),
        publisher.verifier().to_string(),
    );
    let release = release_envelope(&SigningKey::from_bytes(&[3; 32]), &pvkey);
    let (ri, ai): (u64, u64) = ((1 << 29) + 5, (1 << 29) + 777);
    let digest: [u8; 32] = sha2::Sha256::digest(&release).into();
    let attestation = attestation_of(&SigningKey::from_bytes(&[2; 32]), &rvkey, ri, digest);
    let tree = Sparse {
        filler: Uniform::new(),
        special: vec![
            (ri, merkle::leaf_hash(&release)),
            (ai, merkle::leaf_hash(&attestation)),
        ],
    };
    let size: u64 = (1 << 30) + 12_345;
    let root = root_from_reader(&tree, size).unwrap();
    let signed = checkpoint::sign(&Checkpoint::new(ORIGIN, size, root).unwrap(), &log).unwrap();
    let proof_of = |i| {
        TlogProof::new(
            None,
            i,
            inclusion_proof(&tree, i, size).unwrap(),
            signed.clone(),
        )
        .unwrap()
        .encode()
    };
    let (release_proof, attestation_proof) = (proof_of(ri), proof_of(ai));
    let policy = Policy::parse(
        format!(
            "threshold = 1\n[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\n\n[[operator]]\nname = \"a\"\nkeys = [\"{rvkey}\"]\n\n[[publisher]]\nname = \"p\"\nprojects = [\"hello\"]\nkeys = [\"{pvkey}\"]\n",
            log.verifier()
        )
        .as_bytes(),
    )
    .unwrap();
    c.bench_function("attestation_with_release_offline_2^30", |b| {
        b.iter(|| {
            let rp = TlogProof::parse(black_box(&release_proof)).unwrap();
            let ap = TlogProof::parse(black_box(&attestation_proof)).unwrap();
            let entries = [
                verify_logged_entry(&policy, black_box(&release), &rp).unwrap(),
                verify_logged_entry(&policy, black_box(&attestation), &ap).unwrap(),
            ];
            let v = verdict_for(&policy, &[0xaa; 32], Some(("hello", "1.0.0")), &entries);
            assert!(v.trusted, "{}", v.summary);
            v
        })
    });
}

criterion_group!(
    benches,
    leaf_hashing,
    node_hashing,
    proofs,
    signatures,
    one_attestation_offline,
    one_attestation_with_its_release_offline
);
criterion_main!(benches);
