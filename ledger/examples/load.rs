//! A load harness for the write path: durable appends per second and submit-to-answer
//! latency through the real sequencer and RocksDB. Run by hand, never in tests:
//!
//! ```text
//! cargo run -p reprove-ledger --example load -- --entries 1000000 --rate 12000
//! ```
//!
//! Options (all optional):
//!
//! - `--entries N`       submissions to make (default 1,000,000)
//! - `--rate R`          open loop: R submissions per second, whatever the answers do
//!   (default: closed loop)
//! - `--concurrency C`   closed loop: C submitters, each waiting for its answer (default 2000)
//! - `--entry-bytes B`   entry size (default 1024: a DSSE envelope of an attestation)
//! - `--dup-percent P`   share of submissions repeating an earlier entry (default 5)
//! - `--age-ms A`, `--batch N`, `--pool N`   sequencer configuration
//! - `--dir PATH`        log directory (default: a temporary directory); an existing log made
//!   by this harness is reopened and grown, so a run can measure a large log without refilling it
//! - `--start N`         number submissions from N (to continue an earlier run's entries)
//! - `--fsck PATH`       instead of loading, run fsck on a log this harness made, and time it
//! - `--prove PATH`      instead of loading, time 1,000 proven lookups of artifacts (scoped to
//!   their signer) on a log this harness made: the ledger's proof, the answer's size and the
//!   client's check of it
//! - `--vindex on|off`   maintain the verifiable index (default on); `off` measures the log
//!   without it (such a log is reindexed when it is next served)
//!
//! Each entry is indexed under the keys a rebuild attestation derives: its artifact, its
//! signer (one of 50 rebuilder vkeys) by vkey and key ID, its release (shared by the 3 entries
//! of a release), its rebuilder and day, and the artifact and release scoped to the signer —
//! five of them proven.
//!
//! It prints appends/s (new entries made durable), submissions/s, latency percentiles, and
//! bytes on disk per entry.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reprove_ledger::storage::cf;
use reprove_ledger::{
    Error, FsckOptions, IndexKey, Ledger, Sequencer, SequencerConfig, Submission, TokioClock, fsck,
};
use reprove_verifier::merkle::leaf_hash;
use reprove_verifier::note::NoteSigner;

#[derive(Debug)]
struct Args {
    entries: u64,
    rate: Option<u64>,
    concurrency: u64,
    entry_bytes: usize,
    dup_percent: u64,
    config: SequencerConfig,
    dir: Option<PathBuf>,
    fsck: Option<PathBuf>,
    prove: Option<PathBuf>,
    start: u64,
    vindex: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        entries: 1_000_000,
        rate: None,
        concurrency: 2000,
        entry_bytes: 1024,
        dup_percent: 5,
        config: SequencerConfig::default(),
        dir: None,
        fsck: None,
        prove: None,
        start: 0,
        vindex: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--entries" => a.entries = num()?,
            "--rate" => a.rate = Some(num()?),
            "--concurrency" => a.concurrency = num()?,
            "--entry-bytes" => a.entry_bytes = num()? as usize,
            "--dup-percent" => a.dup_percent = num()?,
            "--age-ms" => a.config.batch_max_age = Duration::from_millis(num()?),
            "--batch" => a.config.batch_max_size = num()? as usize,
            "--pool" => a.config.pool_capacity = num()? as usize,
            "--dir" => a.dir = Some(value.into()),
            "--fsck" => a.fsck = Some(value.into()),
            "--prove" => a.prove = Some(value.into()),
            "--start" => a.start = num()?,
            "--vindex" => {
                a.vindex = match value.as_str() {
                    "on" => true,
                    "off" => false,
                    _ => return Err(format!("{flag} takes on or off")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

/// Submission `n`: a fresh entry, or (for `dup_percent` of them) a repeat of an earlier one.
/// Entries are incompressible-ish text, like the base64 payload of an envelope.
fn submission(n: u64, args: &Args) -> Submission {
    let n = n + args.start;
    let id = if n > 100 && n % 100 < args.dup_percent {
        n / 2
    } else {
        n
    };
    let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut entry = format!("{{\"n\":{id},\"payload\":\"").into_bytes();
    while entry.len() < args.entry_bytes.saturating_sub(2) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        entry.push(alphabet[(x % 64) as usize]);
    }
    entry.extend_from_slice(b"\"}");
    let signer = &REBUILDERS[(id % 50) as usize];
    let artifact = IndexKey::Artifact(leaf_hash(&id.to_be_bytes()));
    let release = IndexKey::Release {
        name: format!("project-{}", id / 3 % 10_000),
        version: format!("1.{}", id / 3),
    };
    let keys = vec![
        artifact.clone(),
        IndexKey::Signer(signer.clone()),
        IndexKey::Signer(format!("{:08x}", id % 50)),
        release.clone(),
        IndexKey::Rebuilder(signer.clone()),
        IndexKey::RebuildDay(20_000 + (id / 100_000) as u32),
        IndexKey::signed_by(signer, artifact).expect("scoped"),
        IndexKey::signed_by(signer, release).expect("scoped"),
    ];
    Submission::new(entry, keys)
}

/// 50 rebuilder vkeys.
static REBUILDERS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..50u8)
        .map(|i| {
            NoteSigner::from_seed(&format!("rebuilder-{i}.example"), &[i; 32])
                .unwrap()
                .verifier()
                .to_string()
        })
        .collect()
});

/// Times 1,000 proven lookups (artifact `id`, scoped to its signer) spread over the log.
fn prove_lookups(dir: &std::path::Path, signer: &NoteSigner) {
    use reprove_verifier::vindex::{ProvenAnswer, WireProof};
    let started = Instant::now();
    let ledger = Ledger::open_read_only(dir, signer.verifier()).unwrap();
    let size = ledger.head().size();
    let opened = started.elapsed();
    // The first proof builds the in-memory index from the stored leaves (one scan).
    let first = IndexKey::signed_by(
        &REBUILDERS[0],
        IndexKey::Artifact(leaf_hash(&0u64.to_be_bytes())),
    );
    ledger.prove_lookup(&first.expect("scoped")).unwrap();
    println!(
        "opened read-only in {:.2} s; the first proven lookup (building the in-memory index) took \
         {:.2} s",
        opened.as_secs_f64(),
        started.elapsed().as_secs_f64() - opened.as_secs_f64()
    );
    let (mut prove_us, mut check_us, mut bytes, mut siblings) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..1000u64 {
        let id = i * (size / 1000).max(1) % size.max(1);
        let key = IndexKey::signed_by(
            &REBUILDERS[(id % 50) as usize],
            IndexKey::Artifact(leaf_hash(&id.to_be_bytes())),
        )
        .expect("scoped");
        let started = Instant::now();
        let proven = ledger.prove_lookup(&key).unwrap();
        prove_us.push(started.elapsed().as_micros() as u64);
        let answer = ProvenAnswer {
            note: String::from_utf8(proven.note).unwrap(),
            indices: proven.indices,
            proof: WireProof::from(&proven.proof),
        };
        let json = serde_json::to_vec(&answer).unwrap();
        bytes.push(json.len() as u64);
        siblings.push(answer.proof.siblings.len() as u64);
        let started = Instant::now();
        let parsed: ProvenAnswer = serde_json::from_slice(&json).unwrap();
        parsed.verify(&signer.verifier(), &key.encoding()).unwrap();
        check_us.push(started.elapsed().as_micros() as u64);
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        (v[v.len() / 2], v[v.len() * 99 / 100], v[v.len() - 1])
    };
    let (p, c, b, s) = (
        median(&mut prove_us),
        median(&mut check_us),
        median(&mut bytes),
        median(&mut siblings),
    );
    println!(
        "proven lookups at size {size}: answer {} B median ({} p99, {} max), {} siblings median \
         ({} max); ledger proof {} us median ({} p99); client check (parse + note signature + \
         proof) {} us median ({} p99)",
        b.0, b.1, b.2, s.0, s.2, p.0, p.1, c.0, c.1
    );
}

#[derive(Default)]
struct Stats {
    latencies_us: Mutex<Vec<u32>>,
    fresh: AtomicU64,
    refused: AtomicU64,
    done: AtomicU64,
}

impl Stats {
    fn record(&self, started: Instant, result: Result<reprove_ledger::Accepted, Error>) {
        match result {
            Ok(a) => {
                let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                self.latencies_us.lock().unwrap().push(us);
                if !a.duplicate {
                    self.fresh.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(Error::PoolFull { .. }) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => panic!("submission failed: {e}"),
        }
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The allocator the `reprove` binary ships with (src/main.rs), so the harness measures the
/// ledger as it is served.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let signer = NoteSigner::from_seed("example.com/load", &[5; 32]).unwrap();
    if let Some(dir) = &args.fsck {
        let started = Instant::now();
        let report = fsck(dir, &signer.verifier(), &FsckOptions::default()).unwrap();
        println!(
            "fsck: size {}, {} checkpoints, {} index records, {} problems, {:.1} s",
            report.size,
            report.checkpoints,
            report.index_records,
            report.problem_count,
            started.elapsed().as_secs_f64()
        );
        return;
    }
    if let Some(dir) = &args.prove {
        prove_lookups(dir, &signer);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().join("log"));
    if !dir.exists() {
        Ledger::init(&dir, &signer).unwrap();
    }
    let opening = Instant::now();
    let (ledger, mut writer) = Ledger::open(&dir, signer).unwrap();
    println!(
        "opened the log (size {}) in {:.2} s",
        ledger.head().size(),
        opening.elapsed().as_secs_f64()
    );
    writer.set_verifiable_index(args.vindex).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stats = Arc::new(Stats::default());
    let started = Instant::now();
    runtime.block_on(async {
        let seq = Sequencer::start(writer, args.config, Arc::new(TokioClock)).unwrap();
        let progress = tokio::spawn(report_progress(stats.clone(), args.entries));
        match args.rate {
            Some(rate) => open_loop(&seq, &args, &stats, rate).await,
            None => closed_loop(&seq, &args, &stats).await,
        }
        progress.abort();
        seq.shutdown().await.unwrap();
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = std::mem::take(&mut *stats.latencies_us.lock().unwrap());
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));
    let ms = |v: Option<&u32>| v.map_or(0.0, |&us| f64::from(us) / 1000.0);
    let fresh = stats.fresh.load(Ordering::Relaxed);
    let size = ledger.head().size();
    let bytes = dir_size(&dir);
    println!("config: {:?}", args.config);
    println!(
        "entries: {} submitted ({} refused: pool full), {fresh} new, tree size {size}",
        args.entries,
        stats.refused.load(Ordering::Relaxed)
    );
    println!(
        "throughput: {:.0} durable appends/s, {:.0} answered submissions/s over {elapsed:.1} s",
        fresh as f64 / elapsed,
        lat.len() as f64 / elapsed
    );
    println!(
        "latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(lat.last())
    );
    println!(
        "disk: {:.1} MB, {:.0} bytes per entry ({} bytes of entry), write-ahead log included",
        bytes as f64 / 1e6,
        bytes as f64 / size.max(1) as f64,
        args.entry_bytes
    );
    drop(ledger);
    print_column_families(&dir, size);
}

/// Flushes every column family and prints its table size per entry: the steady-state cost.
fn print_column_families(dir: &std::path::Path, size: u64) {
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir, cf::ALL).unwrap();
    let mut line = String::from("after flush, bytes per entry:");
    let mut total = 0;
    for name in cf::ALL {
        let handle = db.cf_handle(name).unwrap();
        db.flush_cf(handle).unwrap();
        let bytes = db
            .property_int_value_cf(handle, "rocksdb.total-sst-files-size")
            .unwrap()
            .unwrap_or(0);
        total += bytes;
        line.push_str(&format!(
            " {name} {:.1},",
            bytes as f64 / size.max(1) as f64
        ));
    }
    println!("{line} total {:.1}", total as f64 / size.max(1) as f64);
}

async fn closed_loop(seq: &Sequencer, args: &Arc<Args>, stats: &Arc<Stats>) {
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (seq, args, stats, next) = (seq.clone(), args.clone(), stats.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= args.entries {
                        break;
                    }
                    let t = Instant::now();
                    stats.record(t, seq.submit(submission(n, &args)).await);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

async fn open_loop(seq: &Sequencer, args: &Arc<Args>, stats: &Arc<Stats>, rate: u64) {
    let start = tokio::time::Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while sent < args.entries {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due.min(args.entries) {
            let (seq, args, stats) = (seq.clone(), args.clone(), stats.clone());
            let n = sent;
            // Detached: keeping 10 M join handles would keep 10 M finished tasks in memory.
            tokio::spawn(async move {
                let t = Instant::now();
                stats.record(t, seq.submit(submission(n, &args)).await);
            });
            sent += 1;
        }
    }
    while stats.done.load(Ordering::Relaxed) < args.entries {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn report_progress(stats: Arc<Stats>, total: u64) {
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let done = stats.done.load(Ordering::Relaxed);
        eprintln!(
            "  {:>5.0} s: {done}/{total} answered, {:.0}/s",
            start.elapsed().as_secs_f64(),
            done as f64 / start.elapsed().as_secs_f64()
        );
    }
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
