//! Group commit: submissions wait in a bounded pool; one writer task runs a round when the
//! oldest waiting submission is `batch_max_age` old or `batch_max_size` are waiting, and
//! answers every submitter of the round once the round is durable.
//!
//! - **Pushback, not queues.** The pool holds at most `pool_capacity` submissions, counted
//!   from arrival until answered (the round in progress included); a submission that finds it
//!   full is refused at once with [`Error::PoolFull`] (the HTTP layer answers 503 +
//!   `Retry-After`). That bounds memory and, with the round rate, the latency.
//! - **One writer.** The task owns the [`Writer`]; a round runs on a blocking thread
//!   (hashing, one batched dedup read, one synced write), and the task waits for it: rounds
//!   never overlap, so the next round always extends the last committed head.
//! - **Durable, then answered.** A submitter's future resolves only after its round's
//!   `commit` returned (see `round.rs`). If the submitter goes away (its future is dropped),
//!   its entry is still logged: once in the pool, a submission is the log's.
//! - **Graceful shutdown.** [`Sequencer::shutdown`] closes the pool to new submissions, runs
//!   rounds back to back (without waiting for age) until every accepted submission is
//!   answered, and returns when the writer task has ended.
//! - **A failed round** answers its submitters with the error. If the failure was the commit,
//!   the writer halts (its state on disk is unknown): the task drains the pool with
//!   [`Error::WriterHalted`] and stops; the process must reopen the log.
//!
//! Time comes from an injected [`Clock`], so tests drive round ages by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reprove_verifier::merkle::Hash;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::error::Error;
use crate::ledger::Writer;
use crate::round::{Accepted, Submission};

/// How rounds are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerConfig {
    /// A round runs at the latest this long after its oldest submission arrived.
    pub batch_max_age: Duration,
    /// A round runs as soon as this many submissions wait, and takes at most this many.
    pub batch_max_size: usize,
    /// How many submissions may be in the sequencer at once, from arrival until answered;
    /// more are refused with [`Error::PoolFull`]. Below `batch_max_size`, it caps the rounds.
    pub pool_capacity: usize,
}

impl Default for SequencerConfig {
    /// 50 ms, 4,096 per round, 16,384 in the pool: at 10,000 submissions/s a round holds
    /// ~500 entries and one fsync, the pool absorbs a 1.5 s burst, and the latency is about
    /// the age plus one round.
    fn default() -> Self {
        Self {
            batch_max_age: Duration::from_millis(50),
            batch_max_size: 4096,
            pool_capacity: 16_384,
        }
    }
}

/// A handle to the running sequencer: submit entries, shut it down. Cheap to clone; the
/// writer task ends when the last handle is dropped (after answering what it holds) or at
/// [`shutdown`](Self::shutdown).
#[derive(Debug, Clone)]
pub struct Sequencer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: mpsc::UnboundedSender<Pending>,
    room: Arc<Semaphore>,
    capacity: usize,
    clock: Arc<dyn Clock>,
    retry_after: Duration,
    stopping: AtomicBool,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<Result<(), Error>>>>,
    /// Whether the writer maintains the verifiable index: submitters then hash their proven
    /// keys before the round, off its critical path.
    hash_keys: bool,
}

#[derive(Debug)]
struct Pending {
    submission: Submission,
    /// The hashes of its proven lookup keys, computed on the submitter's task.
    proven: Vec<Hash>,
    arrived: Instant,
    reply: oneshot::Sender<Result<Accepted, Error>>,
    /// The submission's place in the pool, given back once it is answered.
    place: OwnedSemaphorePermit,
}

impl Sequencer {
    /// Starts the writer task on the current tokio runtime (an error outside of one).
    pub fn start(
        writer: Writer,
        config: SequencerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Sequencer, Error> {
        if config.batch_max_size == 0 {
            return Err(Error::InvalidConfig("batch_max_size must be at least 1"));
        }
        if config.pool_capacity == 0 || config.pool_capacity > Semaphore::MAX_PERMITS {
            return Err(Error::InvalidConfig(
                "pool_capacity must be at least 1 and fit a semaphore",
            ));
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(Error::InvalidConfig("the sequencer needs a tokio runtime"));
        };
        if writer.is_halted() {
            return Err(Error::WriterHalted);
        }
        // Unbounded channel, bounded by the semaphore: a place is taken on arrival and given
        // back only when the submission is answered, so the round in progress counts too.
        let (pool, rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let hash_keys = writer.vindex;
        let task = runtime.spawn(run(writer, rx, stop_rx, config, clock.clone()));
        // Whole seconds (Retry-After's unit), at least one: about when a round has drained.
        let retry_after = Duration::from_secs(config.batch_max_age.as_secs().max(1));
        Ok(Sequencer {
            inner: Arc::new(Inner {
                hash_keys,
                pool,
                room: Arc::new(Semaphore::new(config.pool_capacity)),
                capacity: config.pool_capacity,
                clock,
                retry_after,
                stopping: AtomicBool::new(false),
                stop,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// Submits an entry and waits until it is durable in the log (or refused).
    ///
    /// Errors: the submission's own limits (bad request), [`Error::PoolFull`] at once when
    /// the pool is full, [`Error::SequencerStopped`] after shutdown, and the round's error
    /// if its round failed.
    pub async fn submit(&self, submission: Submission) -> Result<Accepted, Error> {
        submission.check()?;
        if self.inner.stopping.load(Ordering::Acquire) {
            return Err(Error::SequencerStopped);
        }
        let Ok(place) = self.inner.room.clone().try_acquire_owned() else {
            return Err(Error::PoolFull {
                retry_after: self.inner.retry_after,
            });
        };
        let (reply, answer) = oneshot::channel();
        let arrived = self.inner.clock.now();
        let pending = Pending {
            proven: if self.inner.hash_keys {
                crate::vindex::proven_hashes(&submission.keys)
            } else {
                Vec::new()
            },
            submission,
            arrived,
            reply,
            place,
        };
        if self.inner.pool.send(pending).is_err() {
            return Err(Error::SequencerStopped);
        }
        // The writer drops the reply only if it died without answering.
        answer.await.unwrap_or(Err(Error::SequencerStopped))
    }

    /// How many submissions are in the pool, the round in progress included (for metrics).
    pub fn in_pool(&self) -> usize {
        self.inner.capacity - self.inner.room.available_permits()
    }

    /// Whether the sequencer still accepts submissions.
    pub fn is_running(&self) -> bool {
        !self.inner.stopping.load(Ordering::Acquire) && !self.inner.pool.is_closed()
    }

    /// Stops accepting submissions, answers every accepted one (running the remaining rounds
    /// at once), and waits for the writer task to end. Returns the error that halted the
    /// writer, if one did. Calling it again returns `Ok` at once.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.inner.stopping.store(true, Ordering::Release);
        self.inner.stop.send_replace(true);
        let task = self.inner.task.lock().await.take();
        match task {
            None => Ok(()),
            Some(task) => task.await.unwrap_or(Err(Error::RoundPanicked)),
        }
    }
}

/// The writer task.
async fn run(
    mut writer: Writer,
    mut pool: mpsc::UnboundedReceiver<Pending>,
    mut stop: watch::Receiver<bool>,
    config: SequencerConfig,
    clock: Arc<dyn Clock>,
) -> Result<(), Error> {
    let max = config.batch_max_size;
    let mut stopping = false;
    loop {
        let mut batch = Vec::with_capacity(max.min(config.pool_capacity).min(1 << 16));
        if !stopping {
            tokio::select! {
                biased;
                n = pool.recv_many(&mut batch, max) => if n == 0 { return Ok(()) },
                _ = stop.wait_for(|s| *s) => {
                    stopping = true;
                    pool.close();
                }
            }
        }
        if stopping {
            // Closed: no new submissions; run what is left back to back.
            if batch.is_empty() && pool.recv_many(&mut batch, max).await == 0 {
                return Ok(());
            }
        } else {
            // `recv_many` returned at least one, oldest first.
            let Some(oldest) = batch.first() else {
                continue;
            };
            let deadline = oldest.arrived + config.batch_max_age;
            let mut sleep = clock.sleep_until(deadline);
            while batch.len() < max {
                let room = max - batch.len();
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => {
                        stopping = true;
                        pool.close();
                        break;
                    }
                    n = pool.recv_many(&mut batch, room) => if n == 0 { break },
                    _ = &mut sleep => break,
                }
            }
        }
        let result;
        (writer, result) = round(writer, batch).await?;
        if let Err(e) = result {
            // The commit failed: nothing more can be signed. Refuse everything left.
            pool.close();
            while let Some(p) = pool.recv().await {
                let _ = p.reply.send(Err(Error::WriterHalted));
            }
            return Err(e);
        }
    }
}

/// Runs one round on a blocking thread, answers its submitters, then stores the round's index
/// if readers have it only from memory (`round.rs`, phase 8). Returns the writer and,
/// if the writer halted, the error; `Err` if the round's thread panicked (the writer is lost).
async fn round(
    mut writer: Writer,
    batch: Vec<Pending>,
) -> Result<(Writer, Result<(), Error>), Error> {
    // The pool places stay taken until the replies are sent.
    let mut submissions = Vec::with_capacity(batch.len());
    let mut proven = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    for p in batch {
        submissions.push(p.submission);
        proven.push(p.proven);
        replies.push((p.reply, p.place));
    }
    let joined = tokio::task::spawn_blocking(move || {
        let hashed = writer.vindex.then_some(&proven[..]);
        let result = writer.append_hashed(&submissions, hashed);
        (writer, result)
    })
    .await;
    let Ok((mut writer, result)) = joined else {
        for (reply, _place) in replies {
            let _ = reply.send(Err(Error::RoundPanicked));
        }
        return Err(Error::RoundPanicked);
    };
    let halted = match result {
        Ok(answers) => {
            for ((reply, _place), answer) in replies.into_iter().zip(answers) {
                // A submitter that went away does not need its answer.
                let _ = reply.send(Ok(answer));
            }
            Ok(())
        }
        Err(e) => {
            for (reply, _place) in replies {
                let _ = reply.send(Err(e.clone()));
            }
            if writer.is_halted() { Err(e) } else { Ok(()) }
        }
    };
    if halted.is_err() || !writer.has_pending_index() {
        return Ok((writer, halted));
    }
    // Readers have the round's index from memory: store it while the next round gathers.
    let stored = tokio::task::spawn_blocking(move || {
        let stored = writer.store_index();
        (writer, stored)
    })
    .await;
    let (writer, stored) = stored.map_err(|_| Error::RoundPanicked)?;
    Ok((writer, stored))
}
