//! The node's main loop: the follower on the calling thread, the worker pool beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::follow::Follower;
use super::jobs::{Counts, JobTable};
use super::pool::{JobRunner, Pool, PoolConfig};
use crate::client::FetchError;

/// How the node runs.
#[derive(Debug, Clone, Copy)]
pub struct DaemonConfig {
    pub pool: PoolConfig,
    /// How often the follower asks for a new checkpoint.
    pub poll_interval: Duration,
    /// Stop once the log is read to its end and no job is left to do.
    pub exit_when_idle: bool,
}

/// What the node did, when it stopped.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub counts: Counts,
    pub log_size: u64,
    pub elapsed: Duration,
}

/// Runs the node until `stop` is set (or, with `exit_when_idle`, until there is nothing
/// left to do). A follower error that is about the path to the log (unreachable, 5xx) is
/// logged and retried at the next poll; any other (a checkpoint that does not verify, a
/// fork, a bundle that does not match its checkpoint) stops the node with that error.
pub fn run(
    follower: &Follower,
    table: Arc<JobTable>,
    runner: Arc<dyn JobRunner>,
    config: DaemonConfig,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let pool = Pool::start(table.clone(), runner, config.pool, stop.clone());
    let mut log_size = 0;
    let outcome = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let mut caught_up = false;
        match follower.poll(&table, &stop) {
            Ok(pass) => {
                log_size = pass.size;
                caught_up = pass.caught_up;
                if config.exit_when_idle && caught_up && table.counts().open() == 0 {
                    tracing::info!("the log is read to its end and every job is finished");
                    break Ok(());
                }
            }
            Err(e) if is_transient(&e) => {
                tracing::warn!("reading the log failed, will retry: {e:#}");
            }
            Err(e) => break Err(e),
        }
        // Under --exit-when-idle, poll again as soon as the last job is finished rather than
        // a whole interval later: that poll confirms the log has not grown, then the node exits.
        let idle = || config.exit_when_idle && caught_up && table.counts().open() == 0;
        sleep_unless(config.poll_interval, &stop, idle);
    };
    stop.store(true, Ordering::Relaxed);
    pool.join();
    outcome?;
    Ok(Summary {
        counts: table.counts(),
        log_size,
        elapsed: started.elapsed(),
    })
}

/// Whether a follower error is about reaching the log rather than about what it served.
fn is_transient(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<FetchError>())
        .any(|f| match f {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            f => f.is_transport(),
        })
}

/// Sleeps for `total`, or less when `stop` is set or `wake` returns true.
fn sleep_unless(total: Duration, stop: &AtomicBool, wake: impl Fn() -> bool) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::Relaxed) && !wake() {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}
