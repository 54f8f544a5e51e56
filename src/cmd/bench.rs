//! `reprove bench ledger`: a load generator for a running ledger (tessera's "hammer").
//!
//! Writers submit pre-signed release manifests back to back, each on its own keep-alive
//! connection, so the server's group commit batches across them; a share of submissions
//! repeat an envelope already sent, to exercise deduplication. Readers fetch random full
//! tiles and entry bundles. Latency is measured from sending a submission to holding its
//! durable answer (index and tlog-proof). The run is bounded by time and by request count.
//!
//! The generator shares the machine with the server it measures, so it must be cheap: the
//! writers are tasks on one thread (a hyper HTTP/1.1 connection each), not a thread each.
//! With 512 blocking threads, context switches alone took a fifth of the generator's CPU.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use reprove_verifier::checkpoint::Checkpoint;
use reprove_verifier::merkle::{Hash, leaf_hash, verify_inclusion};
use reprove_verifier::note::{Note, NoteSigner};
use reprove_verifier::predicates::{
    Artifact, Digests, Entry, EntryKind, Environment, Recipe, ReleaseManifest, ReleasePredicate,
    Source,
};
use reprove_verifier::tiles::{BundleId, TILE_WIDTH, TileId};

use crate::Outcome;
use crate::cli::BenchLedger;
use crate::client::{ClientOptions, LogClient, Submitted, is_loopback_url, parse_submitted};
use crate::cmd::key::fresh_signer;
use crate::cmd::ledger::read_signer;
use crate::sign::sign_statement;

/// What every writer and reader shares.
struct Shared {
    /// Signed envelopes and their leaf hashes.
    pool: Vec<(Bytes, Hash)>,
    /// The next fresh envelope of the pool.
    next: AtomicUsize,
    requests: AtomicU64,
    max_requests: u64,
    stop: AtomicBool,
    deadline: Instant,
}

/// One writer's tallies.
#[derive(Debug, Default)]
struct WriterStats {
    latencies_us: Vec<u32>,
    appended: u64,
    duplicates: u64,
    pushback: u64,
    errors: u64,
    last_error: Option<String>,
    max_index: Option<u64>,
}

/// One reader's tallies.
#[derive(Debug, Default)]
struct ReaderStats {
    tiles: u64,
    bundles: u64,
    bytes: u64,
    errors: u64,
}

/// Runs the benchmark and prints the result.
pub fn ledger(args: &BenchLedger) -> anyhow::Result<Outcome> {
    if !is_loopback_url(&args.url)? && !args.allow_remote {
        bail!(
            "{} is not a loopback address; pass --allow-remote to load a remote server",
            args.url
        );
    }
    if !(0.0..1.0).contains(&args.dedup_ratio) {
        bail!("--dedup-ratio must be in [0, 1)");
    }
    if args.writers == 0 && args.readers == 0 {
        bail!("nothing to do: --writers and --readers are both 0");
    }
    let signers: Vec<NoteSigner> = if args.key.is_empty() {
        vec![fresh_signer("bench.reprove.invalid")?]
    } else {
        args.key
            .iter()
            .map(|p| read_signer(p))
            .collect::<anyhow::Result<_>>()?
    };
    let client = LogClient::new(&args.url, ClientOptions::default())?;
    let target = Arc::new(Target::new(&args.url)?);
    let start_size = tree_size(&client).context("fetching the log's checkpoint")?;

    // Enough for ~8,000 appends/s (well above what 2 cores sustain), ~1.3 KiB each.
    let pool_size = args.pool.unwrap_or_else(|| {
        let per_sec = 8000u64.saturating_mul(args.duration.as_secs().max(1));
        per_sec.clamp(1000, 2_000_000) as usize
    });
    let pool = if args.writers > 0 {
        eprintln!("signing {pool_size} envelopes…");
        make_pool(&signers, pool_size)?
    } else {
        Vec::new()
    };

    eprintln!(
        "loading {} for {:?}: {} writers, {} readers",
        args.url, args.duration, args.writers, args.readers
    );
    let started = Instant::now();
    let shared = Arc::new(Shared {
        pool,
        next: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        max_requests: args.max_requests,
        stop: AtomicBool::new(false),
        deadline: started + args.duration,
    });
    let (writers, readers) = std::thread::scope(|s| {
        let writers = {
            let (shared, target) = (shared.clone(), target.clone());
            let (n, ratio) = (args.writers, args.dedup_ratio);
            s.spawn(move || run_writers(shared, target, n, ratio))
        };
        let readers: Vec<_> = (0..args.readers)
            .map(|i| {
                let (shared, client) = (shared.clone(), client.clone());
                s.spawn(move || reader(&shared, &client, i as u64))
            })
            .collect();
        let w: Vec<WriterStats> = writers.join().unwrap_or_else(|_| {
            vec![WriterStats {
                errors: 1,
                last_error: Some("the writers' thread panicked".into()),
                ..Default::default()
            }]
        });
        let r: Vec<ReaderStats> = readers
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect();
        (w, r)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let end_size = tree_size(&client).unwrap_or(0);

    let mut latencies: Vec<u32> = writers
        .iter()
        .flat_map(|w| w.latencies_us.iter().copied())
        .collect();
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let sum = |f: fn(&WriterStats) -> u64| writers.iter().map(f).sum::<u64>();
    let appended = sum(|w| w.appended);
    let duplicates = sum(|w| w.duplicates);
    let pushback = sum(|w| w.pushback);
    let write_errors = sum(|w| w.errors);
    let tiles: u64 = readers.iter().map(|r| r.tiles).sum();
    let bundles: u64 = readers.iter().map(|r| r.bundles).sum();
    let read_bytes: u64 = readers.iter().map(|r| r.bytes).sum();
    let read_errors: u64 = readers.iter().map(|r| r.errors).sum();
    let exhausted = shared.next.load(Ordering::Relaxed) >= shared.pool.len() && args.writers > 0;
    let last_error = writers.iter().find_map(|w| w.last_error.clone());

    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "url": args.url,
            "writers": args.writers,
            "readers": args.readers,
            "elapsed_secs": elapsed,
            "start_tree_size": start_size,
            "end_tree_size": end_size,
            "appended": appended,
            "duplicates": duplicates,
            "appends_per_sec": appended as f64 / elapsed,
            "submissions_per_sec": (appended + duplicates) as f64 / elapsed,
            "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": pct(1.0)},
            "pushback_503": pushback,
            "write_errors": write_errors,
            "last_write_error": last_error,
            "tiles": tiles,
            "bundles": bundles,
            "tiles_per_sec": tiles as f64 / elapsed,
            "bundles_per_sec": bundles as f64 / elapsed,
            "read_mib_per_sec": read_bytes as f64 / elapsed / 1048576.0,
            "read_errors": read_errors,
            "pool_exhausted": exhausted,
        });
        writeln!(out, "{}", crate::report::json(&v)?)?;
    } else {
        writeln!(
            out,
            "{:.1} s against {} ({} writers, {} readers); tree {start_size} -> {end_size}",
            elapsed, args.url, args.writers, args.readers
        )?;
        writeln!(
            out,
            "appends:    {appended} new ({:.0}/s), {duplicates} duplicates, {pushback} pushed back (503), {write_errors} errors",
            appended as f64 / elapsed
        )?;
        writeln!(
            out,
            "latency:    p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (submit to durable answer with proof)",
            pct(0.50),
            pct(0.99),
            pct(1.0)
        )?;
        writeln!(
            out,
            "reads:      {tiles} tiles ({:.0}/s), {bundles} bundles ({:.0}/s), {:.1} MiB/s, {read_errors} errors",
            tiles as f64 / elapsed,
            bundles as f64 / elapsed,
            read_bytes as f64 / elapsed / 1048576.0
        )?;
        if exhausted {
            writeln!(
                out,
                "note: the envelope pool ran out before the time was up (raise --pool)"
            )?;
        }
        if let Some(e) = &last_error {
            writeln!(out, "last write error: {e}")?;
        }
    }
    Ok(Outcome::Ok)
}

/// Signs `n` distinct release manifests, spread over the signers, on every core; each with
/// its leaf hash, to check answers against.
fn make_pool(signers: &[NoteSigner], n: usize) -> anyhow::Result<Vec<(Bytes, Hash)>> {
    let mut run = [0u8; 8];
    getrandom::fill(&mut run).map_err(|e| anyhow::anyhow!("reading random bytes: {e}"))?;
    let run = hex::encode(run);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = n.div_ceil(threads).max(1);
    let parts: Vec<anyhow::Result<Vec<(Bytes, Hash)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let run = &run;
                s.spawn(move || {
                    (from..(from + chunk).min(n))
                        .map(|i| {
                            let signer = &signers[i % signers.len()];
                            let statement = release(run, i as u64)?;
                            let envelope = sign_statement(signer, &statement)?.encode();
                            let leaf = leaf_hash(&envelope);
                            Ok((Bytes::from(envelope), leaf))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
            })
            .collect()
    });
    let mut pool = Vec::with_capacity(n);
    for p in parts {
        pool.extend(p?);
    }
    Ok(pool)
}

/// Release manifest `i` of this run: one artifact, a source archive, a one-line recipe.
pub fn release(run: &str, i: u64) -> anyhow::Result<Vec<u8>> {
    let name = format!("bench-{i}.tar.gz");
    let manifest = ReleaseManifest {
        subjects: vec![Artifact {
            name: name.clone(),
            digest: Digests::sha256(leaf_hash(format!("{run}/artifact/{i}").as_bytes())),
        }],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: format!("bench-{run}"),
            version: format!("1.0.{i}"),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: format!("https://example.org/src/bench-{i}.tar.gz"),
                digest: Digests::sha256(leaf_hash(format!("{run}/source/{i}").as_bytes())),
            },
            recipe: Recipe {
                inputs: Vec::new(),
                build_deps: Vec::new(),
                unpinned_outputs: Default::default(),
                build_user: Default::default(),
                command: vec!["make".into(), "dist".into()],
                environment: Environment::Host {},
                source_date_epoch: Some(1_700_000_000),
                env: BTreeMap::new(),
                outputs: BTreeMap::from([(format!("dist/{name}"), name)]),
            },
        },
    };
    Ok(Entry::new(EntryKind::Release(manifest))?.encode())
}

/// Where the writers send their submissions: the server's address and the `POST /add` path.
#[derive(Debug)]
struct Target {
    /// `host:port`, to connect to and to send as `Host`.
    authority: String,
    /// The path of `add` under the URL prefix.
    add: Uri,
}

impl Target {
    fn new(url: &str) -> anyhow::Result<Target> {
        let uri: Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("the load generator speaks plain HTTP only: {url} is not an http:// URL");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("invalid URL {url:?}: no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let add = format!("{}/add", uri.path().trim_end_matches('/'))
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid URL {url:?}: {e}"))?;
        Ok(Target {
            authority: format!("{}:{port}", authority.host()),
            add,
        })
    }
}

/// Runs `n` writers as tasks on one thread (its own runtime) until the run is over.
fn run_writers(shared: Arc<Shared>, target: Arc<Target>, n: usize, ratio: f64) -> Vec<WriterStats> {
    if n == 0 {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return vec![WriterStats {
                errors: 1,
                last_error: Some(format!("starting the writers' runtime: {e}")),
                ..Default::default()
            }];
        }
    };
    runtime.block_on(async move {
        let tasks: Vec<_> = (0..n)
            .map(|i| tokio::spawn(writer(shared.clone(), target.clone(), ratio, i as u64)))
            .collect();
        let mut stats = Vec::with_capacity(n);
        for task in tasks {
            stats.push(task.await.unwrap_or_else(|e| WriterStats {
                errors: 1,
                last_error: Some(format!("a writer task failed: {e}")),
                ..Default::default()
            }));
        }
        stats
    })
}

/// How long a writer waits to connect, and for an answer, before giving up on the connection:
/// a stuck server must not keep the run from ending.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why one submission did not get its answer.
enum Failed {
    /// The connection broke (or could not be made): reconnect before the next one.
    Transport(String),
    /// 503: the server's pool is full.
    Pushback,
    /// Any other answer, or an answer that does not check out.
    Answer(String),
}

/// A writer: submit until the deadline, the request cap or the end of the pool, over one
/// keep-alive connection (made again if it breaks).
async fn writer(
    shared: Arc<Shared>,
    target: Arc<Target>,
    dedup_ratio: f64,
    seed: u64,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut rng = Rng::new(seed);
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    let mut checker = AnswerChecker::default();
    while take_request(&shared) {
        // Connecting is not part of a submission's latency (with thousands of writers, the
        // first connections can wait for the server's accept queue).
        let sender = match &mut connection {
            Some(sender) => sender,
            None => match tokio::time::timeout(REQUEST_TIMEOUT, connect(&target))
                .await
                .unwrap_or_else(|_| Err(format!("connecting to {} timed out", target.authority)))
            {
                Ok(sender) => connection.insert(sender),
                Err(e) => {
                    stats.errors += 1;
                    stats.last_error = Some(e);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let sent = shared.next.load(Ordering::Relaxed).min(shared.pool.len());
        let i = if sent > 0 && rng.unit() < dedup_ratio {
            (rng.next() % sent as u64) as usize
        } else {
            let i = shared.next.fetch_add(1, Ordering::Relaxed);
            if i >= shared.pool.len() {
                break;
            }
            i
        };
        let (envelope, leaf) = &shared.pool[i];
        let t0 = Instant::now();
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, submit(sender, &target, envelope))
            .await
            .unwrap_or_else(|_| {
                Err(Failed::Transport(format!(
                    "no answer from {} within {} s",
                    target.authority,
                    REQUEST_TIMEOUT.as_secs()
                )))
            });
        match answer {
            Ok(answer) => {
                let us = t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                if let Err(e) = checker.check(leaf, &answer) {
                    stats.errors += 1;
                    stats.last_error = Some(e.to_string());
                    continue;
                }
                stats.latencies_us.push(us);
                if answer.duplicate {
                    stats.duplicates += 1;
                } else {
                    stats.appended += 1;
                }
                stats.max_index = stats.max_index.max(Some(answer.index));
            }
            Err(Failed::Pushback) => {
                stats.pushback += 1;
                stats.last_error = Some("503: the server's pool is full".into());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(Failed::Transport(e)) => {
                stats.errors += 1;
                stats.last_error = Some(e);
                connection = None;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(Failed::Answer(e)) => {
                stats.errors += 1;
                stats.last_error = Some(e);
            }
        }
    }
    stats
}

/// A keep-alive HTTP/1.1 connection to the server.
async fn connect(target: &Target) -> Result<SendRequest<Full<Bytes>>, String> {
    let transport =
        |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", target.authority);
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| transport("connecting to", &e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| transport("configuring the connection to", &e))?;
    let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| transport("connecting to", &e))?;
    // The driver ends with the connection; its error shows up as the next send's.
    tokio::spawn(driver);
    Ok(sender)
}

/// One `POST /add` on the writer's connection.
async fn submit(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    envelope: &Bytes,
) -> Result<Submitted, Failed> {
    let transport = |what: &str, e: &dyn std::fmt::Display| {
        Failed::Transport(format!("{what} {}: {e}", target.authority))
    };
    sender
        .ready()
        .await
        .map_err(|e| transport("connection to", &e))?;
    let request = Request::post(target.add.clone())
        .header(HOST, &target.authority)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(envelope.clone()))
        .map_err(|e| Failed::Answer(format!("building the request: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transport("POST /add to", &e))?;
    let status = response.status();
    let pushback = response.headers().contains_key(RETRY_AFTER);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| transport("reading the answer from", &e))?
        .to_bytes();
    match status {
        StatusCode::OK => parse_submitted(&body).map_err(Failed::Answer),
        StatusCode::SERVICE_UNAVAILABLE if pushback => Err(Failed::Pushback),
        status => Err(Failed::Answer(format!(
            "POST /add answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))),
    }
}

/// A reader: random full tiles and bundles (the partial ones when the log has no full one).
fn reader(shared: &Shared, client: &LogClient, seed: u64) -> ReaderStats {
    let mut stats = ReaderStats::default();
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut size = 0;
    let mut n = 0u64;
    while take_request(shared) {
        if n.is_multiple_of(256) || size == 0 {
            match tree_size(client) {
                Ok(s) => size = s,
                Err(_) => stats.errors += 1,
            }
            if size == 0 {
                std::thread::sleep(Duration::from_millis(10));
                n += 1;
                continue;
            }
        }
        n += 1;
        let full = size / u64::from(TILE_WIDTH);
        let index = if full > 0 { rng.next() % full } else { 0 };
        let fetched = if n.is_multiple_of(2) {
            TileId::in_tree(0, index, size).map(|id| {
                client.tile(id).map(|t| {
                    stats.tiles += 1;
                    t.hashes().len() as u64 * 32
                })
            })
        } else {
            BundleId::in_tree(index, size).map(|id| {
                client.bundle(id).map(|b| {
                    stats.bundles += 1;
                    b.entries().iter().map(|e| e.len() as u64 + 2).sum()
                })
            })
        };
        match fetched {
            Some(Ok(bytes)) => stats.bytes += bytes,
            _ => stats.errors += 1,
        }
    }
    stats
}

/// Checks that the answer's inclusion proof leads from the envelope to the root of the
/// answer's checkpoint (the signature is not checked: this is load, not audit). The answers
/// of one round share their checkpoint, so the last one parsed is kept.
#[derive(Debug, Default)]
struct AnswerChecker {
    /// The last checkpoint note seen, and its tree size and root.
    last: Option<(Vec<u8>, u64, Hash)>,
}

impl AnswerChecker {
    fn check(&mut self, leaf: &Hash, answer: &Submitted) -> anyhow::Result<()> {
        let note = answer.proof.checkpoint();
        let (size, root) = match &self.last {
            Some((last, size, root)) if last.as_slice() == note => (*size, *root),
            _ => {
                let parsed = Note::parse(note)?;
                let checkpoint = Checkpoint::parse(parsed.text().as_bytes())?;
                let (size, root) = (checkpoint.size(), *checkpoint.root());
                self.last = Some((note.to_vec(), size, root));
                (size, root)
            }
        };
        verify_inclusion(leaf, answer.index, size, answer.proof.proof(), &root)?;
        Ok(())
    }
}

/// Claims one request of the budget; false once the run is over.
fn take_request(shared: &Shared) -> bool {
    if shared.stop.load(Ordering::Relaxed) || Instant::now() >= shared.deadline {
        shared.stop.store(true, Ordering::Relaxed);
        return false;
    }
    if shared.requests.fetch_add(1, Ordering::Relaxed) >= shared.max_requests {
        shared.stop.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// The size of the log's current checkpoint (signature not checked: this is load, not audit).
fn tree_size(client: &LogClient) -> anyhow::Result<u64> {
    let bytes = client.get("checkpoint")?;
    let note = Note::parse(&bytes)?;
    Ok(Checkpoint::parse(note.text().as_bytes())?.size())
}

/// xorshift64*: fast, good enough to pick envelopes and tiles.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut s = [0u8; 8];
        let _ = getrandom::fill(&mut s);
        Rng((u64::from_le_bytes(s) ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
