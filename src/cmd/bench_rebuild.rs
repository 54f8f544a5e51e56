//! `reprove bench hash` and `reprove bench sandbox`.

use std::fs::File;
use std::io::{Read, Write as _};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use reprove_verifier::predicates::{Environment, Recipe};
use sha2::{Digest as _, Sha256};

use crate::Outcome;
use crate::cli::{BenchHash, BenchSandbox};
use crate::hash::hash_file;
use crate::rebuild::build::{self, Inputs, Runner, Variant};
use crate::rebuild::manifest;
use crate::rebuild::sandbox::{Exit, Limits, SandboxMode, Toolchain, bwrap_available};

/// Runs `reprove bench hash`: sha256 alone, blake3 alone, both in one pass (best of N).
pub fn hash(args: &BenchHash) -> anyhow::Result<Outcome> {
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    if size == 0 {
        bail!("{} is empty", args.file.display());
    }
    let runs = args.runs.max(1);
    // One read first, so every method reads from the page cache alike.
    stream(&args.file, |_| {})?;
    let mut best = [Duration::MAX; 3];
    for _ in 0..runs {
        let t = Instant::now();
        let mut h = Sha256::new();
        stream(&args.file, |b| h.update(b))?;
        std::hint::black_box(h.finalize());
        best[0] = best[0].min(t.elapsed());
        let t = Instant::now();
        let mut h = blake3::Hasher::new();
        stream(&args.file, |b| {
            h.update(b);
        })?;
        std::hint::black_box(h.finalize());
        best[1] = best[1].min(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(hash_file(&args.file, |_| {})?);
        best[2] = best[2].min(t.elapsed());
    }
    let mbps = |d: Duration| size as f64 / d.as_secs_f64() / 1e6;
    let (sha, b3, both) = (mbps(best[0]), mbps(best[1]), mbps(best[2]));
    let ratio = both / sha;
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "size": size, "runs": runs,
            "sha256_mb_per_sec": sha, "blake3_mb_per_sec": b3,
            "sha256_blake3_one_pass_mb_per_sec": both,
            "ratio_to_sha256": ratio,
        });
        writeln!(out, "{}", crate::report::json(&v)?)?;
    } else {
        writeln!(
            out,
            "file: {} ({size} bytes), best of {runs}",
            args.file.display()
        )?;
        writeln!(out, "sha256 alone:             {sha:8.0} MB/s")?;
        writeln!(out, "blake3 alone:             {b3:8.0} MB/s")?;
        writeln!(
            out,
            "sha256 + blake3 together: {both:8.0} MB/s ({:.1} % of sha256 alone)",
            ratio * 100.0
        )?;
    }
    Ok(Outcome::Ok)
}

fn stream(path: &std::path::Path, mut f: impl FnMut(&[u8])) -> anyhow::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n]);
    }
}

/// Runs `reprove bench sandbox`: the fixture's recipe built N times inside bwrap and N times
/// without a sandbox, alternating; the ratio of the medians.
pub fn sandbox(args: &BenchSandbox) -> anyhow::Result<Outcome> {
    if !bwrap_available() {
        bail!("bubblewrap (bwrap) does not work here");
    }
    let loaded = manifest::load(&args.fixture.join("reprove.toml"))?;
    let r = &loaded.spec.recipe;
    let recipe = Recipe {
        inputs: Vec::new(),
        build_deps: Vec::new(),
        unpinned_outputs: Default::default(),
        build_user: Default::default(),
        command: r.command.clone(),
        environment: Environment::Host {},
        source_date_epoch: r.source_date_epoch.value(),
        env: r.env.clone(),
        outputs: r.outputs.clone(),
    };
    let mut inputs = Inputs {
        source_tree: args.fixture.join("src"),
        toolchain: Toolchain::Host {
            rust: build::detect_rust(),
        },
        published: Default::default(),
        python_deps: None,
    };
    let tmp = tempfile::tempdir()?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let limits = Limits::default();
    let user = crate::rebuild::hostfs::BuildUser::for_this_process(None)
        .map_err(|e| anyhow::anyhow!(e))?;
    if let Toolchain::Host { rust: Some(dir) } = &inputs.toolchain {
        let staged = crate::rebuild::hostfs::reachable_toolchain(dir, &work, user)?;
        inputs.toolchain = Toolchain::Host { rust: Some(staged) };
    }
    let runs = args.runs.max(1);
    let mut times = [Vec::new(), Vec::new()];
    let mut digests = [None, None];
    let bar = crate::progress::bar(2 * runs as u64, "sandbox bench");
    for i in 0..runs {
        for (side, mode) in [SandboxMode::Bwrap, SandboxMode::InsecureNone]
            .into_iter()
            .enumerate()
        {
            let runner = Runner {
                mode,
                limits: &limits,
                inputs: &inputs,
                recipe: &recipe,
                user,
                cgroup: None,
            };
            let dir = work.join(format!("bench-{side}-{i}"));
            let t = Instant::now();
            let run = runner.build(&dir, &Variant::baseline())?;
            times[side].push(t.elapsed());
            if run.finished.exit != Exit::Success {
                bail!(
                    "the fixture build failed ({:?}):\n{}",
                    run.finished.exit,
                    String::from_utf8_lossy(&run.finished.log)
                );
            }
            let d: Vec<_> = run
                .outputs
                .values()
                .map(|o| o.as_ref().map(|(_, d)| d.sha256))
                .collect();
            digests[side] = Some(d);
            build::remove_dir(&dir)?;
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let inside = median(&mut times[0]);
    let outside = median(&mut times[1]);
    let ratio = inside.as_secs_f64() / outside.as_secs_f64();
    let same = digests[0] == digests[1];
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "fixture": args.fixture, "runs": runs,
            "bwrap_median_secs": inside.as_secs_f64(),
            "no_sandbox_median_secs": outside.as_secs_f64(),
            "ratio": ratio, "same_outputs": same,
        });
        writeln!(out, "{}", crate::report::json(&v)?)?;
    } else {
        writeln!(
            out,
            "fixture: {} ({runs} builds per side, alternating; each includes copying the source tree and hashing outputs)",
            args.fixture.display()
        )?;
        writeln!(out, "inside bwrap:   median {:.3} s", inside.as_secs_f64())?;
        writeln!(out, "no sandbox:     median {:.3} s", outside.as_secs_f64())?;
        writeln!(out, "ratio:          {ratio:.3}")?;
        writeln!(out, "outputs identical on both sides: {same}")?;
    }
    Ok(Outcome::Ok)
}
