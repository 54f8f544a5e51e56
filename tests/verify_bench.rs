//! Consumer benchmarks (not tests: `#[ignore]`d, and they assert nothing about time). Run:
//!
//! ```sh
//! cargo test -p reprove --test verify_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! - `bench_small_artifact_and_bundle`: one small artifact against a local ledger with a warm
//!   tile cache (whole process, median of 21 runs), and `verify --bundle` of 1,000
//!   attestations (whole process, median of 7).
//! - `bench_large_log` (needs `REPROVE_BENCH_LOG=<dir>`: a log made by
//!   `ledger/examples/load.rs --dir <dir>`, whose key is that harness's fixed test key, and
//!   optionally `REPROVE_BENCH_MIB`, default 1024): one artifact of that many MiB against the
//!   large log, compared with hashing alone (sha256, the slower of the two digests, in
//!   process), plus the small artifact with a warm cache against the large log.

use crate::common;
use crate::consumer;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, envelope};
use consumer::{Op, World, attestation, key, outcome, release_statement, run};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::RebuildResult;
use sha2::{Digest as _, Sha256};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn timed(args: &[String], home: &Path, want: i32) -> Duration {
    let t = Instant::now();
    let o = run(args, home);
    let d = t.elapsed();
    let (code, out, err) = outcome(&o);
    assert_eq!(code, want, "{out}{err}");
    d
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
#[ignore]
fn bench_small_artifact_and_bundle() {
    let w = World::new();
    let art: &[u8] = b"small artifact\n";
    let arts = [("s.tar.gz", art)];
    let (ri, renv) = w.release(&key("publisher.example", 1), "s", "1", &arts);
    // 1,000 attestations by 1,000 keys of 10 operators, submitted by 8 threads.
    let keys: Vec<NoteSigner> = (0..1000u32)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            NoteSigner::from_seed(&format!("rebuilder-{i}.example"), &seed).unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for chunk in keys.chunks(125) {
            let (w, renv) = (&w, &renv);
            s.spawn(move || {
                for k in chunk {
                    w.add_signed(
                        k,
                        &attestation(ri, renv, "s", "1", &arts, RebuildResult::Reproduced),
                    );
                }
            });
        }
    });
    let ops: Vec<(String, Vec<&NoteSigner>)> = (0..10)
        .map(|o| {
            (
                format!("op{o}"),
                keys[o * 100..(o + 1) * 100].iter().collect(),
            )
        })
        .collect();
    let ops: Vec<Op> = ops.iter().map(|(n, k)| Op::new(n, k)).collect();
    let policy = w.policy("p.toml", 10, "fail", &ops);
    let file = w.file("s.tar.gz", art);
    let home = w.dir.path();
    let state = w.state().display().to_string();
    let cache = w.path("cache").display().to_string();
    let p = policy.display().to_string();
    let verify = strings(&[
        "verify", &file, "--policy", &p, "--ledger", &w.url, "--state", &state, "--cache", &cache,
    ]);
    timed(&verify, home, 0); // warm the cache
    let online = median((0..7).map(|_| timed(&verify, home, 0)).collect());

    let bundle = w.path("s.bundle").display().to_string();
    let t = Instant::now();
    timed(
        &strings(&[
            "bundle", "s@1", "--policy", &p, "--ledger", &w.url, "-o", &bundle, "--state", &state,
            "--cache", &cache,
        ]),
        home,
        0,
    );
    let make_bundle = t.elapsed();
    let offline = strings(&[
        "verify", &file, "--policy", &p, "--bundle", &bundle, "--state", &state,
    ]);
    let bundled = median((0..7).map(|_| timed(&offline, home, 0)).collect());
    println!(
        "BENCH 1,001-entry log: verify of a small artifact with 1,000 attestations, warm cache, \
         whole process: median {online:?}"
    );
    println!("BENCH reprove bundle of 1,001 entries: {make_bundle:?}");
    println!(
        "BENCH verify --bundle of 1,000 attestations (+1 release), whole process: median {bundled:?}"
    );

    // The small-artifact case proper: one release and two attestations, warm cache.
    let w2 = World::new();
    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let (ri, renv) = w2.release(&key("publisher.example", 1), "t", "1", &arts);
    w2.add_signed(
        &a,
        &attestation(ri, &renv, "t", "1", &arts, RebuildResult::Reproduced),
    );
    w2.add_signed(
        &b,
        &attestation(ri, &renv, "t", "1", &arts, RebuildResult::Reproduced),
    );
    let policy = w2.policy(
        "p.toml",
        2,
        "fail",
        &[Op::new("a", &[&a]), Op::new("b", &[&b])],
    );
    let file = w2.file("t.tar.gz", art);
    let verify = strings(&[
        "verify",
        &file,
        "--policy",
        policy.to_str().unwrap(),
        "--ledger",
        &w2.url,
        "--state",
        w2.state().to_str().unwrap(),
        "--cache",
        w2.path("cache").to_str().unwrap(),
    ]);
    timed(&verify, w2.dir.path(), 0);
    let small = median((0..21).map(|_| timed(&verify, w2.dir.path(), 0)).collect());
    println!(
        "BENCH verify of a small artifact (3-entry log), warm cache, whole process: median {small:?}"
    );
}

#[test]
#[ignore]
fn bench_large_log() {
    let Some(data) = std::env::var_os("REPROVE_BENCH_LOG") else {
        eprintln!("REPROVE_BENCH_LOG is not set: skipping");
        return;
    };
    let data = Path::new(&data);
    let mib: usize = std::env::var("REPROVE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    // The load harness's fixed log key (ledger/examples/load.rs).
    let log = NoteSigner::from_seed("example.com/load", &[5; 32]).unwrap();
    let key_file = home.join("log.key");
    std::fs::write(&key_file, log.to_private_key_string()).unwrap();
    let server = Server::start(data, &["--key", key_file.to_str().unwrap()]);

    // The artifact: `mib` MiB of non-constant bytes.
    let big = home.join("big.bin");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let mut block = vec![0u8; 1 << 20];
        for i in 0..mib {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (i * 131 + j * 7) as u8;
            }
            f.write_all(&block).unwrap();
        }
    }
    let t = Instant::now();
    let mut sha = Sha256::new();
    let mut f = std::fs::File::open(&big).unwrap();
    std::io::copy(&mut f, &mut sha).unwrap();
    let digest: [u8; 32] = sha.finalize().into();
    let hash_alone = t.elapsed();

    let (a, b) = (key("alice.example", 10), key("bob.example", 20));
    let pubk = key("publisher.example", 1);
    // Release and attestations name the big file's digest (built from its sha256 directly).
    let client = common::agent();
    let add = |env: Vec<u8>| -> u64 {
        let (status, body) = common::post(
            &client,
            &format!("{}/add", server.url),
            "application/json",
            &env,
        )
        .unwrap();
        assert_eq!(status, 200, "{}", common::text(&body));
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["index"]
            .as_u64()
            .unwrap()
    };
    let small: &[u8] = b"small artifact\n";
    let big_bytes_digest = digest;
    let renv = envelope(&pubk, &release_statement("big", "1", &[("small", small)]));
    let ri = add(renv.clone());
    for k in [&a, &b] {
        add(envelope(
            k,
            &attestation(
                ri,
                &renv,
                "big",
                "1",
                &[("small", small)],
                RebuildResult::Reproduced,
            ),
        ));
    }
    // Attestations of the big artifact: same shape, subject digest = the file's sha256.
    let big_att = |k: &NoteSigner| {
        let stmt = attestation(
            ri,
            &renv,
            "big",
            "1",
            &[("small", small)],
            RebuildResult::Reproduced,
        );
        let small_hex = hex::encode(consumer::sha256(small));
        let text = String::from_utf8(stmt)
            .unwrap()
            .replace(&small_hex, &hex::encode(big_bytes_digest));
        envelope(k, text.as_bytes())
    };
    add(big_att(&a));
    add(big_att(&b));

    let policy = home.join("p.toml");
    std::fs::write(
        &policy,
        format!(
            "threshold = 2\n[log]\norigin = \"example.com/load\"\nkey = \"{}\"\n\n[[operator]]\nname = \"a\"\nkeys = [\"{}\"]\n\n[[operator]]\nname = \"b\"\nkeys = [\"{}\"]\n",
            log.verifier(),
            a.verifier(),
            b.verifier()
        ),
    )
    .unwrap();
    let state = home.join("state").display().to_string();
    let cache = home.join("cache").display().to_string();
    let p = policy.display().to_string();
    let size = String::from_utf8(common::get_ok(
        &client,
        &format!("{}/checkpoint", server.url),
    ))
    .unwrap()
    .lines()
    .nth(1)
    .unwrap()
    .to_string();
    let big_s = big.display().to_string();
    let verify_big = strings(&[
        "verify",
        &big_s,
        "--policy",
        &p,
        "--ledger",
        &server.url,
        "--state",
        &state,
        "--cache",
        &cache,
    ]);
    let cold = timed(&verify_big, home, 0);
    let warm = median((0..3).map(|_| timed(&verify_big, home, 0)).collect());
    let small_file = home.join("small");
    std::fs::write(&small_file, small).unwrap();
    let small_s = small_file.display().to_string();
    let verify_small = strings(&[
        "verify",
        &small_s,
        "--policy",
        &p,
        "--ledger",
        &server.url,
        "--state",
        &state,
        "--cache",
        &cache,
    ]);
    timed(&verify_small, home, 0);
    let small_warm = median((0..21).map(|_| timed(&verify_small, home, 0)).collect());
    println!("BENCH log of {size} entries, artifact of {mib} MiB");
    println!("BENCH sha256 alone (in process): {hash_alone:?}");
    println!(
        "BENCH verify (whole process), cold tile cache: {cold:?} = {:.2}x hashing alone",
        cold.as_secs_f64() / hash_alone.as_secs_f64()
    );
    println!(
        "BENCH verify (whole process), warm tile cache, median of 3: {warm:?} = {:.2}x",
        warm.as_secs_f64() / hash_alone.as_secs_f64()
    );
    println!("BENCH small artifact against this log, warm cache, median of 21: {small_warm:?}");
}
