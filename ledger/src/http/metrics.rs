//! Prometheus metrics, with atomics (no metrics crate): counters, histograms with cumulative
//! `_bucket{le=...}`, `_sum` and `_count`, and the text exposition format 0.0.4.
//!
//! Rounds are counted from the answers the HTTP layer receives. Every fresh (non-duplicate)
//! entry of a round is answered with that round's checkpoint, and a round that ends at tree
//! size `end` after the previous one ended at `start` holds exactly `end - start` fresh
//! entries; so a round is complete once that many of its answers have been seen, and rounds
//! complete in log order. If entries reach the sequencer other than through this router, a
//! round never completes that way: it is closed after [`ROUND_GRACE`] with the entries seen.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::round::Accepted;

use super::error::Reject;

/// How long a round may wait for the rest of its answers before it is counted as it is.
const ROUND_GRACE: Duration = Duration::from_secs(1);

/// Bucket bounds of the entries-per-round histogram.
const ROUND_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

/// Bucket bounds of the submit-to-durable latency histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Everything the ledger's HTTP layer counts.
#[derive(Debug)]
pub(super) struct Metrics {
    rounds: AtomicU64,
    round_entries: Histogram,
    submit_seconds: Histogram,
    new_entries: AtomicU64,
    duplicates: AtomicU64,
    blobs_created: AtomicU64,
    blobs_existing: AtomicU64,
    blob_bytes_created: AtomicU64,
    rejections: [AtomicU64; Reject::ALL.len()],
    http: Mutex<BTreeMap<(String, u16), u64>>,
    tracker: Mutex<RoundTracker>,
}

/// The values read at scrape time rather than counted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gauges {
    /// The tree size of the latest checkpoint.
    pub(super) entries: u64,
    /// Submissions in the sequencer's pool.
    pub(super) pool_depth: usize,
    /// Whether the sequencer accepts submissions.
    pub(super) running: bool,
}

impl Metrics {
    /// Metrics for a log whose tree currently has `size` entries.
    pub(super) fn new(size: u64) -> Self {
        Self {
            rounds: AtomicU64::new(0),
            round_entries: Histogram::new(ROUND_BUCKETS),
            submit_seconds: Histogram::new(LATENCY_BUCKETS),
            new_entries: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            blobs_created: AtomicU64::new(0),
            blobs_existing: AtomicU64::new(0),
            blob_bytes_created: AtomicU64::new(0),
            rejections: Default::default(),
            http: Mutex::new(BTreeMap::new()),
            tracker: Mutex::new(RoundTracker::new(size)),
        }
    }

    /// A submission answered after `waited`.
    pub(super) fn committed(&self, accepted: &Accepted, waited: Duration) {
        self.submit_seconds.observe(waited.as_secs_f64());
        if accepted.duplicate {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.new_entries.fetch_add(1, Ordering::Relaxed);
        let done = lock(&self.tracker).fresh(accepted.checkpoint.size(), Instant::now());
        self.rounds_done(&done);
    }

    /// An accepted blob upload of `size` bytes; `created` unless the store already held it.
    pub(super) fn blob_stored(&self, created: bool, size: u64) {
        if created {
            self.blobs_created.fetch_add(1, Ordering::Relaxed);
            self.blob_bytes_created.fetch_add(size, Ordering::Relaxed);
        } else {
            self.blobs_existing.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A refused submission.
    pub(super) fn rejected(&self, reason: Reject) {
        if let Some(i) = Reject::ALL.iter().position(|r| *r == reason) {
            self.rejections[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An answered HTTP request.
    pub(super) fn http_request(&self, route: String, status: u16) {
        *lock(&self.http).entry((route, status)).or_default() += 1;
    }

    /// The exposition text.
    pub(super) fn render(&self, gauges: Gauges) -> String {
        let done = lock(&self.tracker).settle(Instant::now());
        self.rounds_done(&done);
        let mut out = String::with_capacity(4096);
        let w = &mut out;
        gauge(
            w,
            "reprove_ledger_entries",
            "Entries in the log: the tree size of the latest signed checkpoint.",
            gauges.entries as f64,
        );
        gauge(
            w,
            "reprove_ledger_pool_depth",
            "Submissions in the sequencer's pool, the round in progress included.",
            gauges.pool_depth as f64,
        );
        gauge(
            w,
            "reprove_ledger_sequencer_running",
            "1 while the sequencer accepts submissions.",
            f64::from(u8::from(gauges.running)),
        );
        counter(
            w,
            "reprove_ledger_rounds_committed_total",
            "Rounds committed (one fsync and one signed checkpoint each).",
            &[("", load(&self.rounds))],
        );
        self.round_entries.render(
            w,
            "reprove_ledger_round_entries",
            "New entries per committed round.",
        );
        self.submit_seconds.render(
            w,
            "reprove_ledger_submit_duration_seconds",
            "Time from submission to durable answer.",
        );
        counter(
            w,
            "reprove_ledger_submissions_total",
            "Accepted submissions, new or duplicate.",
            &[
                ("{result=\"new\"}", load(&self.new_entries)),
                ("{result=\"duplicate\"}", load(&self.duplicates)),
            ],
        );
        counter(
            w,
            "reprove_ledger_blob_uploads_total",
            "Accepted blob uploads: stored, or already held.",
            &[
                ("{result=\"new\"}", load(&self.blobs_created)),
                ("{result=\"existing\"}", load(&self.blobs_existing)),
            ],
        );
        counter(
            w,
            "reprove_ledger_blob_bytes_stored_total",
            "Bytes of new blobs stored.",
            &[("", load(&self.blob_bytes_created))],
        );
        self.render_by_label(w);
        out
    }

    /// The counters with a label per reason or per route.
    fn render_by_label(&self, w: &mut String) {
        header(
            w,
            "reprove_ledger_rejections_total",
            "Refused submissions by reason.",
            "counter",
        );
        for (reason, count) in Reject::ALL.iter().zip(&self.rejections) {
            let labels = format!("{{reason=\"{}\"}}", reason.label());
            sample(w, "reprove_ledger_rejections_total", &labels, load(count));
        }
        header(
            w,
            "reprove_ledger_http_requests_total",
            "HTTP requests by route template and status.",
            "counter",
        );
        for ((route, status), count) in lock(&self.http).iter() {
            let labels = format!("{{route=\"{}\",status=\"{status}\"}}", escape(route));
            sample(w, "reprove_ledger_http_requests_total", &labels, *count);
        }
    }

    fn rounds_done(&self, batches: &[u64]) {
        for &n in batches {
            self.rounds.fetch_add(1, Ordering::Relaxed);
            self.round_entries.observe(n as f64);
        }
    }
}

/// A histogram with fixed bucket bounds.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), the last one for `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|&le| value <= le)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        // The closure always returns Some, so this cannot fail.
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    fn render(&self, w: &mut String, name: &str, help: &str) {
        header(w, name, help, "histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += load(count);
            let le = match self.bounds.get(i) {
                Some(le) => le.to_string(),
                None => "+Inf".to_owned(),
            };
            sample(
                w,
                &format!("{name}_bucket"),
                &format!("{{le=\"{le}\"}}"),
                cumulative,
            );
        }
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let _ = writeln!(w, "{name}_sum {sum}");
        // The count is the +Inf bucket, so the two always agree.
        sample(w, &format!("{name}_count"), "", cumulative);
    }
}

/// Completes rounds from the fresh answers seen (see the module docs).
#[derive(Debug)]
struct RoundTracker {
    /// The tree size the last completed round ended at.
    last_end: u64,
    /// Rounds with answers seen, by the tree size they ended at.
    open: BTreeMap<u64, OpenRound>,
}

#[derive(Debug)]
struct OpenRound {
    fresh: u64,
    since: Instant,
}

impl RoundTracker {
    fn new(size: u64) -> Self {
        Self {
            last_end: size,
            open: BTreeMap::new(),
        }
    }

    /// A fresh entry of the round that ended at `end`; returns the sizes of the rounds that
    /// are now complete, oldest first.
    fn fresh(&mut self, end: u64, now: Instant) -> Vec<u64> {
        if end > self.last_end {
            self.open
                .entry(end)
                .or_insert(OpenRound {
                    fresh: 0,
                    since: now,
                })
                .fresh += 1;
        }
        self.settle(now)
    }

    /// Closes the oldest rounds while they are complete or past the grace period.
    fn settle(&mut self, now: Instant) -> Vec<u64> {
        let mut done = Vec::new();
        while let Some(round) = self.open.first_entry() {
            let end = *round.key();
            let complete = round.get().fresh >= end - self.last_end;
            let stale = now.saturating_duration_since(round.get().since) >= ROUND_GRACE;
            if !complete && !stale {
                break;
            }
            done.push(round.remove().fresh);
            self.last_end = end;
        }
        done
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

fn header(w: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(w: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(w, "{name}{labels} {value}");
}

/// A counter family: its header, then one sample per label set.
fn counter(w: &mut String, name: &str, help: &str, samples: &[(&str, u64)]) {
    header(w, name, help, "counter");
    for (labels, value) in samples {
        sample(w, name, labels, *value);
    }
}

fn gauge(w: &mut String, name: &str, help: &str, value: f64) {
    header(w, name, help, "gauge");
    let _ = writeln!(w, "{name} {value}");
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_complete_in_order_whatever_order_their_answers_come_in() {
        let t0 = Instant::now();
        let mut t = RoundTracker::new(10);
        // Round 10..13 and round 13..14; the later one's answer comes first.
        assert!(t.fresh(14, t0).is_empty());
        assert!(t.fresh(13, t0).is_empty());
        assert!(t.fresh(13, t0).is_empty());
        assert_eq!(t.fresh(13, t0), [3, 1]);
        assert_eq!(t.last_end, 14);
        // A stale answer (for a round already closed) is ignored.
        assert!(t.fresh(14, t0).is_empty());
        assert_eq!(t.fresh(15, t0), [1]);
    }

    #[test]
    fn a_round_with_answers_seen_elsewhere_closes_after_the_grace_period() {
        let t0 = Instant::now();
        let mut t = RoundTracker::new(0);
        // Entries 0..5 went through another path; this router saw one answer of round 0..6.
        assert!(t.fresh(6, t0).is_empty());
        assert!(t.settle(t0 + ROUND_GRACE / 2).is_empty());
        assert_eq!(t.settle(t0 + ROUND_GRACE), [1]);
        assert_eq!(t.fresh(7, t0 + ROUND_GRACE), [1]);
    }

    #[test]
    fn histograms_are_cumulative_and_count_the_inf_bucket() {
        let h = Histogram::new(&[1.0, 2.5]);
        for v in [0.5, 1.0, 2.0, 3.0, 100.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert_eq!(
            out,
            "# HELP x help\n# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"2.5\"} 3\n\
             x_bucket{le=\"+Inf\"} 5\nx_sum 106.5\nx_count 5\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
