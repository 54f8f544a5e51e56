//! `GET /health` and `GET /metrics`, and the record of submissions waiting for their round.
//!
//! Health is about whether the log can still sign: a quiet log is healthy (its latest
//! checkpoint is still its valid head; nothing needs signing). It is unhealthy when the
//! sequencer has stopped (shut down, or halted after a failed write) or when a submission has
//! waited longer than `health_max_staleness` without its round being committed.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::metrics::Gauges;

/// The submissions this router is waiting on, by arrival.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    waiting: Mutex<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    next: u64,
    /// Arrival order is id order, so the first one is the oldest.
    since: BTreeMap<u64, Instant>,
}

/// A submission's place in [`InFlight`], given back when dropped.
#[derive(Debug)]
pub(super) struct InFlightGuard<'a> {
    set: &'a InFlight,
    id: u64,
}

impl InFlight {
    /// Records a submission from now until the guard is dropped.
    pub(super) fn enter(&self) -> InFlightGuard<'_> {
        let mut w = self.lock();
        let id = w.next;
        w.next += 1;
        w.since.insert(id, Instant::now());
        InFlightGuard { set: self, id }
    }

    /// How long the oldest waiting submission has waited.
    fn oldest_wait(&self, now: Instant) -> Option<Duration> {
        let w = self.lock();
        w.since
            .first_key_value()
            .map(|(_, since)| now.saturating_duration_since(*since))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.set.lock().since.remove(&self.id);
    }
}

/// `GET /health`: `200 ok`, or `503` with the reason.
pub(super) async fn health(State(state): State<AppState>) -> Response {
    let limit = state.config.health_max_staleness;
    let problem = if !state.sequencer.is_running() {
        Some("the sequencer is not running: no checkpoint can be signed".to_owned())
    } else {
        match state.in_flight.oldest_wait(Instant::now()) {
            Some(waited) if waited > limit => Some(format!(
                "a submission has waited {:.1} s without being committed (limit {:.1} s)",
                waited.as_secs_f64(),
                limit.as_secs_f64()
            )),
            _ => None,
        }
    };
    let (status, body) = match problem {
        None => (StatusCode::OK, "ok\n".to_owned()),
        Some(p) => {
            tracing::warn!(problem = %p, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {p}\n"))
        }
    };
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// `GET /metrics`: the Prometheus text exposition.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = Gauges {
        entries: state.ledger.head().size(),
        pool_depth: state.sequencer.in_pool(),
        running: state.sequencer.is_running(),
    };
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        state.metrics.render(gauges),
    )
        .into_response()
}
