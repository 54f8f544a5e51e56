//! `/health` and `/metrics`: health follows whether the log can still sign, and the
//! Prometheus text parses and its counts move with what the server did.

use crate::common;
use crate::common::http;
use crate::common::signed;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::Server;
use reprove_ledger::{HttpConfig, ManualClock, SequencerConfig};
use reprove_verifier::statement::PAYLOAD_TYPE;
use signed::{digest, publisher, release, stranger};

/// Parses the exposition text into `name{labels} -> value`, checking its shape: every sample
/// belongs to the family of the `# TYPE` line before it, and every value is a number.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            family = Some((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        let (family, kind) = family.as_ref().unwrap_or_else(|| panic!("no TYPE: {line}"));
        let ok = match kind.as_str() {
            "histogram" => [
                format!("{family}_bucket"),
                format!("{family}_sum"),
                format!("{family}_count"),
            ]
            .contains(&name.to_owned()),
            _ => name == family,
        };
        assert!(ok, "{line} is not in family {family}");
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

/// Checks a histogram's buckets are cumulative and its count is its `+Inf` bucket.
fn check_histogram(samples: &BTreeMap<String, f64>, name: &str) {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| *v)
        .collect();
    assert!(buckets.len() > 2, "{name}");
    let mut by_le: Vec<(f64, f64)> = samples
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            Some((le, *v))
        })
        .collect();
    by_le.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        by_le.windows(2).all(|w| w[0].1 <= w[1].1),
        "{name}: {by_le:?}"
    );
    assert_eq!(by_le.last().unwrap().0, f64::INFINITY);
    assert_eq!(by_le.last().unwrap().1, samples[&format!("{name}_count")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_what_happened() {
    let server = Arc::new(Server::start(HttpConfig::default()).await);
    let key = publisher();
    // Three one at a time (three rounds), then four at once, then a duplicate.
    for n in 0..3 {
        let body = key.sign(&release("hello", &format!("1.{n}"), &[digest(n)]));
        assert_eq!(server.add(&body).await.status, 200);
    }
    let mut tasks = Vec::new();
    for n in 3..7 {
        let body = key.sign(&release("hello", &format!("1.{n}"), &[digest(n)]));
        let server = server.clone();
        tasks.push(tokio::spawn(async move { server.add(&body).await.status }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let again = key.sign(&release("hello", "1.0", &[digest(0)]));
    assert_eq!(server.add(&again).await.json()["duplicate"], true);
    // Refusals.
    let forged = key.sign_as(&stranger().vkey(), PAYLOAD_TYPE, b"{}");
    assert_eq!(server.add(&forged).await.status, 403);
    let r = http::request(server.addr, "POST", "/add", &[], Some(b"{}")).await;
    assert_eq!(r.status, 415);
    assert_eq!(server.get("/tile/0/000.p/7").await.status, 200);
    assert_eq!(server.get("/nope").await.status, 404);

    let r = server.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let m = parse_metrics(r.text());
    let get = |k: &str| {
        *m.get(k)
            .unwrap_or_else(|| panic!("no {k} in\n{}", r.text()))
    };
    assert_eq!(get("reprove_ledger_entries"), 7.0);
    assert_eq!(get("reprove_ledger_pool_depth"), 0.0);
    assert_eq!(get("reprove_ledger_sequencer_running"), 1.0);
    assert_eq!(get("reprove_ledger_submissions_total{result=\"new\"}"), 7.0);
    assert_eq!(
        get("reprove_ledger_submissions_total{result=\"duplicate\"}"),
        1.0
    );
    let rounds = get("reprove_ledger_rounds_committed_total");
    assert!((4.0..=7.0).contains(&rounds), "{rounds}");
    assert_eq!(get("reprove_ledger_round_entries_count"), rounds);
    assert_eq!(get("reprove_ledger_round_entries_sum"), 7.0);
    assert!(get("reprove_ledger_round_entries_bucket{le=\"1\"}") >= 3.0);
    assert_eq!(get("reprove_ledger_submit_duration_seconds_count"), 8.0);
    assert!(get("reprove_ledger_submit_duration_seconds_sum") > 0.0);
    check_histogram(&m, "reprove_ledger_round_entries");
    check_histogram(&m, "reprove_ledger_submit_duration_seconds");
    assert_eq!(
        get("reprove_ledger_rejections_total{reason=\"signature\"}"),
        1.0
    );
    assert_eq!(
        get("reprove_ledger_rejections_total{reason=\"media_type\"}"),
        1.0
    );
    assert_eq!(
        get("reprove_ledger_rejections_total{reason=\"pool_full\"}"),
        0.0
    );
    let http = |route: &str, status: u16| {
        get(&format!(
            "reprove_ledger_http_requests_total{{route=\"{route}\",status=\"{status}\"}}"
        ))
    };
    assert_eq!(http("/add", 200), 8.0);
    assert_eq!(http("/add", 403), 1.0);
    assert_eq!(http("/add", 415), 1.0);
    assert_eq!(http("/tile/{*path}", 200), 1.0);
    assert_eq!(http("unmatched", 404), 1.0);

    // The scrape itself is counted for the next one.
    let m = parse_metrics(server.get("/metrics").await.text());
    assert_eq!(
        m["reprove_ledger_http_requests_total{route=\"/metrics\",status=\"200\"}"],
        1.0
    );
    Arc::into_inner(server).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_fails_while_a_submission_is_stuck_and_after_the_sequencer_stops() {
    let (dir, ledger, writer) = common::new_log();
    let clock = Arc::new(ManualClock::new());
    let config = HttpConfig {
        health_max_staleness: Duration::from_millis(50),
        ..HttpConfig::default()
    };
    let seq = SequencerConfig {
        batch_max_age: Duration::from_millis(100),
        ..SequencerConfig::default()
    };
    let server =
        Arc::new(Server::start_with(dir, ledger, writer, seq, clock.clone(), config).await);

    // A quiet log is healthy.
    let r = server.get("/health").await;
    assert_eq!((r.status, r.text()), (200, "ok\n"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    // A submission whose round does not come (the clock stands still) makes it unhealthy.
    let body = publisher().sign(&release("hello", "1.0", &[digest(1)]));
    let waiting = {
        let (server, body) = (server.clone(), body.clone());
        tokio::spawn(async move { server.add(&body).await })
    };
    let mut r = server.get("/health").await;
    for _ in 0..500 {
        if r.status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        r = server.get("/health").await;
    }
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("without being committed"), "{}", r.text());

    // Once its round runs, healthy again.
    clock.advance(Duration::from_millis(100));
    assert_eq!(waiting.await.unwrap().status, 200);
    assert_eq!(server.get("/health").await.status, 200);

    // A stopped sequencer can sign nothing.
    server.seq.shutdown().await.unwrap();
    let r = server.get("/health").await;
    assert_eq!(r.status, 503);
    assert!(r.text().contains("not running"), "{}", r.text());
    Arc::into_inner(server).unwrap().stop().await;
}
