//! The group-commit sequencer: rounds by size and by age (driven by a manual clock, never by
//! real time), pushback when the pool is full, many concurrent submitters, graceful shutdown.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{check_accepted, entry, new_log, submission};
use reprove_ledger::{
    Error, ErrorKind, Ledger, ManualClock, Sequencer, SequencerConfig, Submission, TokioClock,
};
use tokio::task::JoinHandle;

fn config(batch_max_size: usize, pool_capacity: usize) -> SequencerConfig {
    SequencerConfig {
        batch_max_age: Duration::from_millis(100),
        batch_max_size,
        pool_capacity,
    }
}

fn spawn_submit(seq: &Sequencer, i: u64) -> JoinHandle<Result<reprove_ledger::Accepted, Error>> {
    let seq = seq.clone();
    tokio::spawn(async move { seq.submit(submission(i)).await })
}

/// Lets every other task run until it blocks.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_round_runs_when_its_size_is_reached_without_time_passing() {
    let (_dir, ledger, writer) = new_log();
    let clock = Arc::new(ManualClock::new());
    let seq = Sequencer::start(writer, config(4, 100), clock).unwrap();
    let tasks: Vec<_> = (0..4).map(|i| spawn_submit(&seq, i)).collect();
    let mut indices = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let a = t.await.unwrap().unwrap();
        check_accepted(&entry(i as u64), &a);
        assert_eq!(a.checkpoint.size(), 4);
        indices.push(a.index);
    }
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3]);
    assert_eq!(ledger.head().size(), 4);
    seq.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_round_runs_when_its_oldest_submission_is_old_enough() {
    let (_dir, ledger, writer) = new_log();
    let clock = Arc::new(ManualClock::new());
    let seq = Sequencer::start(writer, config(100, 100), clock.clone()).unwrap();
    let task = spawn_submit(&seq, 7);
    settle().await;
    clock.advance(Duration::from_millis(99));
    settle().await;
    assert!(!task.is_finished(), "the round ran before its age");
    assert_eq!(ledger.head().size(), 0);
    clock.advance(Duration::from_millis(1));
    let a = task.await.unwrap().unwrap();
    assert_eq!((a.index, a.duplicate), (0, false));
    check_accepted(&entry(7), &a);
    // The answer came after the round was durable and published.
    assert_eq!(ledger.head(), a.checkpoint);
    seq.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_pool_refuses_at_once_and_takes_again_once_answered() {
    let (_dir, _ledger, writer) = new_log();
    let clock = Arc::new(ManualClock::new());
    let seq = Sequencer::start(writer, config(10, 2), clock.clone()).unwrap();
    let waiting: Vec<_> = (0..2).map(|i| spawn_submit(&seq, i)).collect();
    settle().await;
    assert_eq!(seq.in_pool(), 2);
    let err = seq.submit(submission(2)).await.unwrap_err();
    assert!(matches!(err, Error::PoolFull { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(
        err.retry_after()
            .is_some_and(|d| d >= Duration::from_secs(1))
    );
    clock.advance(Duration::from_millis(100));
    for t in waiting {
        t.await.unwrap().unwrap();
    }
    assert_eq!(seq.in_pool(), 0);
    let late = spawn_submit(&seq, 2);
    settle().await;
    clock.advance(Duration::from_millis(100));
    assert_eq!(late.await.unwrap().unwrap().index, 2);
    seq.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_submissions_are_refused_before_the_pool() {
    let (_dir, _ledger, writer) = new_log();
    let seq = Sequencer::start(writer, config(10, 1), Arc::new(ManualClock::new())).unwrap();
    let err = seq
        .submit(Submission::new(vec![0; 70_000], vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(seq.in_pool(), 0);
    seq.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_are_all_answered_with_their_own_index() {
    let (_dir, ledger, writer) = new_log();
    let cfg = SequencerConfig {
        batch_max_age: Duration::from_millis(5),
        batch_max_size: 64,
        pool_capacity: 10_000,
    };
    let seq = Sequencer::start(writer, cfg, Arc::new(TokioClock)).unwrap();
    // 500 distinct entries, each submitted twice, from 1000 tasks.
    let tasks: Vec<_> = (0..1000u64)
        .map(|n| (n % 500, spawn_submit(&seq, n % 500)))
        .collect();
    let mut by_entry = std::collections::HashMap::new();
    let mut fresh = 0;
    for (i, t) in tasks {
        let a = t.await.unwrap().unwrap();
        check_accepted(&entry(i), &a);
        assert_eq!(ledger.entry(a.index).unwrap(), entry(i));
        fresh += usize::from(!a.duplicate);
        assert_eq!(
            *by_entry.entry(i).or_insert(a.index),
            a.index,
            "entry {i} got two indices"
        );
    }
    assert_eq!(fresh, 500);
    let mut indices: Vec<u64> = by_entry.into_values().collect();
    indices.sort();
    assert_eq!(indices, (0..500).collect::<Vec<_>>());
    assert_eq!(ledger.head().size(), 500);
    seq.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_answers_every_accepted_submission_then_refuses() {
    let (dir, ledger, writer) = new_log();
    let clock = Arc::new(ManualClock::new());
    // Rounds of 3, and time never moves: only shutdown can run the last, partial round.
    let seq = Sequencer::start(writer, config(3, 100), clock).unwrap();
    let tasks: Vec<_> = (0..8).map(|i| spawn_submit(&seq, i)).collect();
    settle().await;
    seq.shutdown().await.unwrap();
    for (i, t) in tasks.into_iter().enumerate() {
        check_accepted(&entry(i as u64), &t.await.unwrap().unwrap());
    }
    assert_eq!(ledger.head().size(), 8);
    assert!(!seq.is_running());
    assert!(matches!(
        seq.submit(submission(9)).await,
        Err(Error::SequencerStopped)
    ));
    seq.shutdown().await.unwrap();
    // The log is closed once every handle is gone, and reopens with everything.
    drop((seq, ledger));
    let (ledger, _w) = Ledger::open(dir.path(), common::signer()).unwrap();
    assert_eq!(ledger.head().size(), 8);
}

/// While rounds run, a reader that saw a head can prove every entry it was told about: the
/// index note a proof comes with (served from memory until the round's index is stored) is
/// never older than a head already published, the proof checks under it, and once the
/// sequencer is shut down the store holds the note the log served last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proven_lookups_during_rounds_are_never_behind_a_published_head() {
    use reprove_ledger::IndexKey;

    let (dir, ledger, writer) = new_log();
    let cfg = SequencerConfig {
        batch_max_age: Duration::from_millis(2),
        ..config(50, 10_000)
    };
    let seq = Sequencer::start(writer, cfg, Arc::new(TokioClock)).unwrap();
    let ledger = Arc::new(ledger);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (ledger, done) = (ledger.clone(), done.clone());
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut checked = 0u64;
            // Bounded in count and time.
            while !done.load(std::sync::atomic::Ordering::Relaxed)
                && checked < 20_000
                && started.elapsed() < Duration::from_secs(60)
            {
                let head = ledger.head().size();
                let Some(i) = head.checked_sub(1) else {
                    std::thread::yield_now();
                    continue;
                };
                // Submitters race: the entry at index `i` is `{"entry":n}` for some n.
                let bytes = ledger.entry(i).unwrap();
                let n = std::str::from_utf8(&bytes).unwrap();
                let n = n.trim_start_matches("{\"entry\":").trim_end_matches('}');
                let lookup = IndexKey::Artifact(common::artifact(n.parse().unwrap()));
                let (note, indices) = common::proven_lookup(&ledger, &lookup);
                assert!(note.size >= head, "note of {} under head {head}", note.size);
                assert_eq!(indices, vec![i]);
                checked += 1;
            }
            checked
        })
    };
    let tasks: Vec<_> = (0..600u64).map(|i| spawn_submit(&seq, i)).collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let checked = reader.await.unwrap();
    assert!(checked > 0);
    seq.shutdown().await.unwrap();
    let served = ledger.index_note().unwrap();
    drop(ledger);
    let (reopened, _writer) = Ledger::open(dir.path(), common::signer()).unwrap();
    assert_eq!(reopened.head().size(), 600);
    assert_eq!(reopened.index_note().unwrap(), served);
}
