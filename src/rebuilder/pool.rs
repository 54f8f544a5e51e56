//! The worker pool: N threads that claim jobs from the table, run them, and record what
//! happened — with bounded retries and exponential backoff for transient failures.
//!
//! The pool knows nothing about rebuilding: a [`JobRunner`] does the work (the real one is
//! `daemon::NodeRunner`; tests use closures). The retry policy lives here, in one place:
//!
//! - [`Attempt::Attested`]: the job is done (final).
//! - [`Attempt::Retry`] with `counts`: a failed attempt (a transient rebuild failure, or a
//!   local error). Retried after `backoff_base × 2^attempts` (capped) until
//!   `max_attempts` attempts have been made; the runner is told when an attempt is the last,
//!   so that it attests a transient outcome as it is rather than retrying. A local error on
//!   the last attempt fails the job without an attestation.
//! - [`Attempt::Retry`] without `counts`: the world was not ready (the ledger unreachable or
//!   pushing back). Retried with the same backoff, without using up attempts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::jobs::{Job, JobTable};

/// What one run of a job ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Attested, by the entry at `index`, with `result` (e.g. `reproduced`).
    Attested { index: u64, result: String },
    /// Not finished; try again later. `counts`: whether this used up an attempt.
    Retry { error: String, counts: bool },
}

/// Runs one job. `last` is true when this is the job's last allowed attempt.
pub trait JobRunner: Send + Sync {
    fn run(&self, job: &Job, entry: &[u8], last: bool) -> Attempt;
}

impl<F> JobRunner for F
where
    F: Fn(&Job, &[u8], bool) -> Attempt + Send + Sync,
{
    fn run(&self, job: &Job, entry: &[u8], last: bool) -> Attempt {
        self(job, entry, last)
    }
}

/// How the pool retries and waits.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Worker threads.
    pub workers: usize,
    /// Attempts per job before a transient outcome is attested as it is.
    pub max_attempts: u32,
    /// The first retry delay; doubled per attempt.
    pub backoff_base: Duration,
    /// The longest retry delay.
    pub backoff_max: Duration,
    /// How long an idle worker sleeps before looking for work again.
    pub idle: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            max_attempts: 3,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            idle: Duration::from_millis(200),
        }
    }
}

/// Running workers.
#[derive(Debug)]
pub struct Pool {
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `config.workers` threads working on `table` until `stop` is set. A worker
    /// finishes the job it holds before it stops.
    pub fn start(
        table: Arc<JobTable>,
        runner: Arc<dyn JobRunner>,
        config: PoolConfig,
        stop: Arc<AtomicBool>,
    ) -> Pool {
        let workers = (0..config.workers.max(1))
            .map(|n| {
                let (table, runner, stop) = (table.clone(), runner.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("rebuild-worker-{n}"))
                    .spawn(move || work(&table, runner.as_ref(), &config, &stop))
                    .expect("spawning a worker thread")
            })
            .collect();
        Pool { workers }
    }

    /// Waits for every worker to stop.
    pub fn join(self) {
        for w in self.workers {
            if w.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    }
}

/// The delay before retry number `attempts + 1`.
pub fn backoff(config: &PoolConfig, attempts: u32) -> Duration {
    config
        .backoff_base
        .saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX))
        .min(config.backoff_max)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn work(table: &JobTable, runner: &dyn JobRunner, config: &PoolConfig, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let claimed = match table.claim(now_ms()) {
            Ok(c) => c,
            Err(e) => {
                // The job table is the node's memory: without it, nothing is safe to do.
                tracing::error!("the job table failed: {e:#}; stopping");
                stop.store(true, Ordering::Relaxed);
                return;
            }
        };
        let Some((job, entry)) = claimed else {
            std::thread::sleep(config.idle);
            continue;
        };
        let last = job.attempts + 1 >= config.max_attempts;
        let index = job.log_index;
        tracing::info!(
            index,
            attempt = job.attempts + 1,
            "rebuilding {}@{}",
            job.project,
            job.version
        );
        let recorded = match runner.run(&job, &entry, last) {
            Attempt::Attested { index: at, result } => {
                tracing::info!(
                    index,
                    attestation = at,
                    result,
                    "attested {}@{}",
                    job.project,
                    job.version
                );
                table.done(index, at, &result)
            }
            Attempt::Retry { error, counts } if counts && last => {
                tracing::error!(
                    index,
                    "giving up after {} attempts: {error}",
                    job.attempts + 1
                );
                table.fail(index, &error)
            }
            Attempt::Retry { error, counts } => {
                let delay = backoff(config, job.attempts);
                tracing::warn!(
                    index,
                    retry_in_secs = delay.as_secs_f64(),
                    "will retry: {error}"
                );
                table.retry_at(index, now_ms() + delay.as_millis() as u64, &error, counts)
            }
        };
        if let Err(e) = recorded {
            tracing::error!("the job table failed: {e:#}; stopping");
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::rebuilder::jobs::{JobState, NewJob};
    use reprove_verifier::note::NoteSigner;

    fn table(dir: &std::path::Path) -> Arc<JobTable> {
        let log = NoteSigner::from_seed("example.com/log", &[1; 32]).unwrap();
        let node = NoteSigner::from_seed("node", &[2; 32]).unwrap();
        Arc::new(JobTable::open(dir, &log.verifier(), &node.verifier()).unwrap())
    }

    fn jobs(n: u64) -> Vec<NewJob> {
        (0..n)
            .map(|i| NewJob {
                log_index: i * 2,
                project: format!("p{i}"),
                version: "1".to_owned(),
                entry: vec![i as u8],
            })
            .collect()
    }

    fn config(workers: usize) -> PoolConfig {
        PoolConfig {
            workers,
            max_attempts: 3,
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
            idle: Duration::from_millis(2),
        }
    }

    /// Runs the pool until every job is finished (at most 10 s), then stops it.
    fn run_until_finished(table: &Arc<JobTable>, runner: Arc<dyn JobRunner>, workers: usize) {
        let stop = Arc::new(AtomicBool::new(false));
        let pool = Pool::start(table.clone(), runner, config(workers), stop.clone());
        for _ in 0..1000 {
            if table.counts().open() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        pool.join();
        assert_eq!(table.counts().open(), 0, "jobs left unfinished");
    }

    #[test]
    fn every_job_runs_exactly_once_across_workers() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        t.ingest(100, &jobs(40)).unwrap();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let seen = runs.clone();
        let runner = move |job: &Job, _: &[u8], _: bool| {
            seen.lock().unwrap().push(job.log_index);
            Attempt::Attested {
                index: 1000 + job.log_index,
                result: "reproduced".to_owned(),
            }
        };
        run_until_finished(&t, Arc::new(runner), 4);
        let mut runs = runs.lock().unwrap().clone();
        runs.sort_unstable();
        assert_eq!(runs, (0..40).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(t.counts().done, 40);
    }

    #[test]
    fn transient_failures_retry_and_the_last_attempt_is_told_so() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        t.ingest(4, &jobs(2)).unwrap();
        let lasts = Arc::new(Mutex::new(Vec::new()));
        let seen = lasts.clone();
        // Job 0 always fails transiently: attested as-is on the third (last) attempt.
        // Job 2 is refused by an absent ledger twice (not counted), then succeeds.
        let absent = Arc::new(Mutex::new(0));
        let runner = move |job: &Job, _: &[u8], last: bool| {
            seen.lock()
                .unwrap()
                .push((job.log_index, job.attempts, last));
            match job.log_index {
                0 if !last => Attempt::Retry {
                    error: "fetch failed".to_owned(),
                    counts: true,
                },
                0 => Attempt::Attested {
                    index: 10,
                    result: "inputs-unavailable".to_owned(),
                },
                _ => {
                    let mut n = absent.lock().unwrap();
                    *n += 1;
                    if *n <= 2 {
                        Attempt::Retry {
                            error: "ledger unreachable".to_owned(),
                            counts: false,
                        }
                    } else {
                        Attempt::Attested {
                            index: 11,
                            result: "reproduced".to_owned(),
                        }
                    }
                }
            }
        };
        run_until_finished(&t, Arc::new(runner), 1);
        let lasts = lasts.lock().unwrap().clone();
        let job0: Vec<_> = lasts.iter().filter(|r| r.0 == 0).copied().collect();
        assert_eq!(job0, [(0, 0, false), (0, 1, false), (0, 2, true)]);
        let job2: Vec<_> = lasts.iter().filter(|r| r.0 == 2).copied().collect();
        assert_eq!(job2, [(2, 0, false), (2, 0, false), (2, 0, false)]);
        let states: Vec<JobState> = t.jobs().unwrap().into_iter().map(|j| j.state).collect();
        assert_eq!(
            states,
            [
                JobState::Done {
                    attestation: 10,
                    result: "inputs-unavailable".to_owned()
                },
                JobState::Done {
                    attestation: 11,
                    result: "reproduced".to_owned()
                }
            ]
        );
    }

    #[test]
    fn a_node_that_fails_every_attempt_gives_the_job_up() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(dir.path());
        t.ingest(1, &jobs(1)).unwrap();
        let runner = |_: &Job, _: &[u8], _: bool| Attempt::Retry {
            error: "disk full".to_owned(),
            counts: true,
        };
        run_until_finished(&t, Arc::new(runner), 2);
        let job = &t.jobs().unwrap()[0];
        assert_eq!(job.state, JobState::Failed);
        assert_eq!(job.attempts, 3);
        assert_eq!(job.last_error.as_deref(), Some("disk full"));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let c = PoolConfig {
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(100),
            ..PoolConfig::default()
        };
        assert_eq!(backoff(&c, 0), Duration::from_secs(30));
        assert_eq!(backoff(&c, 1), Duration::from_secs(60));
        assert_eq!(backoff(&c, 2), Duration::from_secs(100));
        assert_eq!(backoff(&c, 40), Duration::from_secs(100));
    }
}
