//! `reprove bench web`: how fast the log's web pages answer, measured from outside.
//!
//! For each page, `--clients` threads each hold one keep-alive connection and request the
//! page (as a browser would, `Accept: text/html`) back to back until the page has had
//! `--requests` requests or `--seconds` have passed. Every answer must be a 200 with a body;
//! latency is from sending the request to holding the whole body. Bounded in count and time.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Outcome;
use crate::cli::BenchWeb;
use crate::client::is_loopback_url;
use crate::progress;

/// One page's figures.
#[derive(Debug, serde::Serialize)]
struct PageResult {
    path: String,
    requests: usize,
    errors: u64,
    bytes: u64,
    median_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    pages_per_sec: f64,
}

/// Runs the command.
pub fn run(args: &BenchWeb) -> anyhow::Result<Outcome> {
    let loopback = is_loopback_url(&args.url)?;
    if !loopback && !args.allow_remote {
        bail!(
            "{} is not a loopback address: pass --allow-remote to load a remote server",
            args.url
        );
    }
    if args.clients == 0 || args.requests == 0 {
        bail!("--clients and --requests must be at least 1");
    }
    let base = args.url.trim_end_matches('/').to_owned();
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_idle_connections_per_host(args.clients.max(1));
    if loopback {
        config = config.proxy(None);
    }
    let agent: ureq::Agent = config.build().into();
    let pages = if args.pages.is_empty() {
        default_pages(&agent, &base)?
    } else {
        args.pages.clone()
    };
    let mut results = Vec::new();
    for path in &pages {
        if !path.starts_with('/') {
            bail!("page {path:?} must be a path starting with /");
        }
        results.push(load(&agent, &base, path, args)?);
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            crate::report::json(
                &serde_json::json!({"url": args.url, "clients": args.clients, "pages": results})
            )?
        )?;
    } else {
        writeln!(out, "{} clients against {}", args.clients, args.url)?;
        writeln!(
            out,
            "{:<48} {:>8} {:>10} {:>10} {:>10} {:>9}",
            "page", "requests", "median ms", "p99 ms", "max ms", "pages/s"
        )?;
        for r in &results {
            writeln!(
                out,
                "{:<48} {:>8} {:>10.2} {:>10.2} {:>10.2} {:>9.0}",
                r.path, r.requests, r.median_ms, r.p99_ms, r.max_ms, r.pages_per_sec
            )?;
        }
    }
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    if errors > 0 {
        bail!("{errors} requests failed (see the errors column with --json)");
    }
    Ok(Outcome::Ok)
}

/// `/`, the newest release's page and the middle entry's page.
fn default_pages(agent: &ureq::Agent, base: &str) -> anyhow::Result<Vec<String>> {
    let url = format!("{base}/?format=json");
    let mut resp = agent
        .get(&url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    if resp.status() != 200 {
        bail!(
            "GET {url}: status {} (is this a reprove log with web pages?)",
            resp.status()
        );
    }
    let home: serde_json::Value = serde_json::from_slice(&resp.body_mut().read_to_vec()?)
        .with_context(|| format!("GET {url}: not JSON"))?;
    let size = home["tree_size"]
        .as_u64()
        .context("the home page JSON has no tree_size")?;
    if size == 0 {
        bail!("the log is empty: there is no release or entry page to load");
    }
    let mut pages = vec!["/".to_owned()];
    if let Some(r) = home["latest_releases"].get(0) {
        let seg = |v: &serde_json::Value| {
            v.as_str()
                .unwrap_or_default()
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        pages.push(format!(
            "/release/{}/{}",
            seg(&r["project"]),
            seg(&r["version"])
        ));
    }
    pages.push(format!("/entry/{}", size / 2));
    Ok(pages)
}

/// Loads one page with every client; returns its figures.
fn load(
    agent: &ureq::Agent,
    base: &str,
    path: &str,
    args: &BenchWeb,
) -> anyhow::Result<PageResult> {
    let url = format!("{base}{path}");
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.duration;
    let progress = progress::bar(args.requests, &format!("GET {path}"));
    let started = Instant::now();
    let latencies: Vec<Vec<u32>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..args.clients)
            .map(|_| {
                let (agent, url, issued, errors, bytes, progress) =
                    (agent.clone(), &url, &issued, &errors, &bytes, &progress);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while issued.fetch_add(1, Ordering::Relaxed) < args.requests
                        && Instant::now() < deadline
                    {
                        let t = Instant::now();
                        let ok = agent
                            .get(url)
                            .header("Accept", "text/html")
                            .call()
                            .ok()
                            .filter(|r| r.status() == 200)
                            .and_then(|mut r| r.body_mut().read_to_vec().ok());
                        match ok {
                            Some(body) if !body.is_empty() => {
                                mine.push(
                                    u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX),
                                );
                                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                            }
                            _ => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        progress.inc(1);
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u32> = latencies.into_iter().flatten().collect();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        f64::from(all[i]) / 1000.0
    };
    Ok(PageResult {
        path: path.to_owned(),
        requests: all.len(),
        errors: errors.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        median_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        pages_per_sec: all.len() as f64 / elapsed,
    })
}
