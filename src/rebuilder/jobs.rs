//! The rebuilder node's durable job table: one RocksDB database under the work directory.
//!
//! # Layout (default column family)
//!
//! | key | value |
//! | --- | --- |
//! | `meta/format` | [`FORMAT`] |
//! | `meta/log` | the log's vkey: the table refuses to follow another log |
//! | `meta/node` | the node's vkey: the table refuses to attest with another key |
//! | `meta/cursor` | u64 BE: the next log index the follower reads |
//! | `meta/checkpoint` | the latest verified checkpoint (signed note bytes) |
//! | `job/<u64 BE release index>` | [`Job`] as JSON |
//! | `entry/<u64 BE release index>` | the release entry's logged bytes (removed when done) |
//!
//! # Durability contract
//!
//! Every method that changes the table writes one `WriteBatch` with `sync = true` before it
//! returns, so what it reports is on disk:
//!
//! - [`JobTable::ingest`] writes the new jobs **and** the cursor past the entries they came
//!   from in one batch: after a crash the follower resumes exactly after the last bundle
//!   whose jobs exist, so no release is lost and none is queued twice (an existing job is
//!   never overwritten).
//! - [`JobTable::claim`] marks a job `running` before the caller starts it. A job found
//!   `running` when the table is opened was interrupted by a crash: it is queued again
//!   (its attempt count kept), and the runner checks the log for an attestation already
//!   submitted before rebuilding, so a crash between submitting and recording `done` does
//!   not produce a second attestation.
//! - `done` records the attestation's log index and is final: a done job is never claimed.
//!
//! Scheduling reads an in-memory mirror of the jobs that are not finished, loaded at open;
//! the database stays the truth (the mirror is only changed after a successful write).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{Context, bail};
use reprove_verifier::note::NoteVerifier;
use rocksdb::{DB, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};

/// The format marker of the job table.
pub const FORMAT: &str = "reprove-rebuilder-jobs/1";

const KEY_FORMAT: &[u8] = b"meta/format";
const KEY_LOG: &[u8] = b"meta/log";
const KEY_NODE: &[u8] = b"meta/node";
const KEY_CURSOR: &[u8] = b"meta/cursor";
const KEY_CHECKPOINT: &[u8] = b"meta/checkpoint";
const JOB_PREFIX: &[u8] = b"job/";
const ENTRY_PREFIX: &[u8] = b"entry/";

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker has it (or had it when the node stopped: re-queued at the next start).
    Running,
    /// Waiting until `at_ms` (Unix milliseconds) after a transient failure.
    RetryAt { at_ms: u64 },
    /// Attested: the attestation is entry `attestation` of the log. Final.
    Done { attestation: u64, result: String },
    /// Given up without an attestation (the node itself failed every attempt). Final.
    Failed,
}

/// One release to rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The release manifest's log index (the job's identity).
    pub log_index: u64,
    /// The release's project and version, for logs and lookups.
    pub project: String,
    pub version: String,
    #[serde(flatten)]
    pub state: JobState,
    /// Rebuild attempts that ended in a transient failure.
    pub attempts: u32,
    /// Why the last attempt did not finish the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A release the follower found: a job to create, with its logged entry bytes.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub log_index: u64,
    pub project: String,
    pub version: String,
    pub entry: Vec<u8>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: u64,
    pub running: u64,
    pub retrying: u64,
    pub done: u64,
    pub failed: u64,
}

impl Counts {
    /// Jobs that still need work.
    pub fn open(&self) -> u64 {
        self.queued + self.running + self.retrying
    }
}

/// The durable job table of one node (see the module docs).
pub struct JobTable {
    db: DB,
    state: Mutex<Mirror>,
}

/// The in-memory mirror: unfinished jobs and the finished counts.
#[derive(Debug, Default)]
struct Mirror {
    open: BTreeMap<u64, Job>,
    done: u64,
    failed: u64,
    cursor: u64,
}

impl std::fmt::Debug for JobTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobTable")
            .field("path", &self.db.path())
            .finish_non_exhaustive()
    }
}

impl JobTable {
    /// Opens (creating on first use) the table in `dir` for the log `log` and the node key
    /// `node`. Refuses a table made for another log or another key, and re-queues the jobs
    /// a crash left `running`.
    pub fn open(dir: &Path, log: &NoteVerifier, node: &NoteVerifier) -> anyhow::Result<JobTable> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        let db = DB::open(&opts, dir)
            .with_context(|| format!("opening the job table {}", dir.display()))?;
        let table = JobTable {
            db,
            state: Mutex::new(Mirror::default()),
        };
        match table.get(KEY_FORMAT)? {
            None => {
                let mut batch = WriteBatch::default();
                batch.put(KEY_FORMAT, FORMAT);
                batch.put(KEY_LOG, log.to_string());
                batch.put(KEY_NODE, node.to_string());
                batch.put(KEY_CURSOR, 0u64.to_be_bytes());
                table.write(batch)?;
            }
            Some(f) if f == FORMAT.as_bytes() => {}
            Some(f) => bail!(
                "{} holds an unknown job table format {:?}",
                dir.display(),
                String::from_utf8_lossy(&f)
            ),
        }
        for (key, want, what) in [(KEY_LOG, log, "log"), (KEY_NODE, node, "node key")] {
            let have = table.get(key)?.unwrap_or_default();
            if have != want.to_string().as_bytes() {
                bail!(
                    "the work directory's job table belongs to {what} {}, not {}; use another \
                     --work directory for another {what}",
                    String::from_utf8_lossy(&have),
                    want
                );
            }
        }
        table.load()?;
        Ok(table)
    }

    /// The next log index the follower reads.
    pub fn cursor(&self) -> u64 {
        self.lock().cursor
    }

    /// The latest checkpoint the follower verified (signed note bytes).
    pub fn checkpoint(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.get(KEY_CHECKPOINT)
    }

    /// Records a newly verified checkpoint (the caller checked it is consistent with the
    /// previous one).
    pub fn save_checkpoint(&self, note: &[u8]) -> anyhow::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put(KEY_CHECKPOINT, note);
        self.write(batch)
    }

    /// Creates `jobs` (skipping any that exist) and moves the cursor to `cursor`, in one
    /// durable write. The cursor never moves back.
    pub fn ingest(&self, cursor: u64, jobs: &[NewJob]) -> anyhow::Result<usize> {
        let mut mirror = self.lock();
        if cursor < mirror.cursor {
            bail!(
                "the follower cursor would move back from {} to {cursor}",
                mirror.cursor
            );
        }
        let mut batch = WriteBatch::default();
        let mut created = Vec::new();
        for new in jobs {
            if self.get(&job_key(new.log_index))?.is_some() {
                continue;
            }
            let job = Job {
                log_index: new.log_index,
                project: new.project.clone(),
                version: new.version.clone(),
                state: JobState::Queued,
                attempts: 0,
                last_error: None,
            };
            batch.put(job_key(job.log_index), serde_json::to_vec(&job)?);
            batch.put(entry_key(job.log_index), &new.entry);
            created.push(job);
        }
        batch.put(KEY_CURSOR, cursor.to_be_bytes());
        self.write(batch)?;
        mirror.cursor = cursor;
        let n = created.len();
        for job in created {
            mirror.open.insert(job.log_index, job);
        }
        Ok(n)
    }

    /// Takes the first job (in log order) that is queued, or waiting for a retry due at
    /// `now_ms`: marks it running (durably) and returns it with its entry bytes.
    pub fn claim(&self, now_ms: u64) -> anyhow::Result<Option<(Job, Vec<u8>)>> {
        let mut mirror = self.lock();
        let Some(mut job) = mirror
            .open
            .values()
            .find(|j| match j.state {
                JobState::Queued => true,
                JobState::RetryAt { at_ms } => at_ms <= now_ms,
                _ => false,
            })
            .cloned()
        else {
            return Ok(None);
        };
        let entry = self
            .get(&entry_key(job.log_index))?
            .with_context(|| format!("job {} has no stored entry", job.log_index))?;
        job.state = JobState::Running;
        self.put_job(&mut mirror, job.clone(), false)?;
        Ok(Some((job, entry)))
    }

    /// Records that job `index` is attested by entry `attestation` with `result`. Final.
    pub fn done(&self, index: u64, attestation: u64, result: &str) -> anyhow::Result<()> {
        self.update(index, true, |job| {
            job.state = JobState::Done {
                attestation,
                result: result.to_owned(),
            };
            job.last_error = None;
        })
    }

    /// Puts job `index` back to wait until `at_ms`; `attempt` counts it as a failed attempt.
    pub fn retry_at(
        &self,
        index: u64,
        at_ms: u64,
        error: &str,
        attempt: bool,
    ) -> anyhow::Result<()> {
        self.update(index, false, |job| {
            job.state = JobState::RetryAt { at_ms };
            job.attempts += u32::from(attempt);
            job.last_error = Some(error.to_owned());
        })
    }

    /// Gives job `index` up without an attestation. Final.
    pub fn fail(&self, index: u64, error: &str) -> anyhow::Result<()> {
        self.update(index, true, |job| {
            job.state = JobState::Failed;
            job.attempts += 1;
            job.last_error = Some(error.to_owned());
        })
    }

    /// How many jobs are in each state.
    pub fn counts(&self) -> Counts {
        let mirror = self.lock();
        let mut c = Counts {
            done: mirror.done,
            failed: mirror.failed,
            ..Counts::default()
        };
        for job in mirror.open.values() {
            match job.state {
                JobState::Queued => c.queued += 1,
                JobState::Running => c.running += 1,
                JobState::RetryAt { .. } => c.retrying += 1,
                JobState::Done { .. } | JobState::Failed => {}
            }
        }
        c
    }

    /// The earliest retry time of a waiting job, if any.
    pub fn next_retry_ms(&self) -> Option<u64> {
        self.lock()
            .open
            .values()
            .filter_map(|j| match j.state {
                JobState::RetryAt { at_ms } => Some(at_ms),
                _ => None,
            })
            .min()
    }

    /// Every job, finished or not, in log order (reads the database).
    pub fn jobs(&self) -> anyhow::Result<Vec<Job>> {
        let mut out = Vec::new();
        for item in self.db.prefix_iterator(JOB_PREFIX) {
            let (key, value) = item?;
            if !key.starts_with(JOB_PREFIX) {
                break;
            }
            out.push(serde_json::from_slice(&value).context("an undecodable job record")?);
        }
        Ok(out)
    }

    /// Loads the mirror and re-queues jobs left running.
    fn load(&self) -> anyhow::Result<()> {
        let cursor = self
            .get(KEY_CURSOR)?
            .and_then(|v| Some(u64::from_be_bytes(v.as_slice().try_into().ok()?)))
            .context("the job table has no cursor")?;
        let mut mirror = self.lock();
        mirror.cursor = cursor;
        let mut batch = WriteBatch::default();
        for mut job in self.jobs()? {
            match job.state {
                JobState::Done { .. } => mirror.done += 1,
                JobState::Failed => mirror.failed += 1,
                JobState::Running => {
                    job.state = JobState::Queued;
                    batch.put(job_key(job.log_index), serde_json::to_vec(&job)?);
                    mirror.open.insert(job.log_index, job);
                }
                JobState::Queued | JobState::RetryAt { .. } => {
                    mirror.open.insert(job.log_index, job);
                }
            }
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        Ok(())
    }

    fn update(&self, index: u64, last: bool, change: impl FnOnce(&mut Job)) -> anyhow::Result<()> {
        let mut mirror = self.lock();
        let mut job = mirror
            .open
            .get(&index)
            .cloned()
            .with_context(|| format!("no unfinished job for release {index}"))?;
        change(&mut job);
        self.put_job(&mut mirror, job, last)
    }

    /// Writes `job` (and, when it is finished, drops its entry bytes), then the mirror.
    fn put_job(&self, mirror: &mut Mirror, job: Job, finished: bool) -> anyhow::Result<()> {
        let mut batch = WriteBatch::default();
        batch.put(job_key(job.log_index), serde_json::to_vec(&job)?);
        if finished {
            batch.delete(entry_key(job.log_index));
        }
        self.write(batch)?;
        if finished {
            mirror.open.remove(&job.log_index);
            match job.state {
                JobState::Failed => mirror.failed += 1,
                _ => mirror.done += 1,
            }
        } else {
            mirror.open.insert(job.log_index, job);
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?)
    }

    fn write(&self, batch: WriteBatch) -> anyhow::Result<()> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db
            .write_opt(batch, &opts)
            .context("writing the job table")
    }

    fn lock(&self) -> MutexGuard<'_, Mirror> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn job_key(index: u64) -> Vec<u8> {
    [JOB_PREFIX, &index.to_be_bytes()].concat()
}

fn entry_key(index: u64) -> Vec<u8> {
    [ENTRY_PREFIX, &index.to_be_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprove_verifier::note::NoteSigner;

    fn key(name: &str, seed: u8) -> NoteVerifier {
        NoteSigner::from_seed(name, &[seed; 32]).unwrap().verifier()
    }

    fn log() -> NoteVerifier {
        key("example.com/log", 1)
    }

    fn node() -> NoteVerifier {
        key("rebuilder.example.net", 2)
    }

    fn new_job(i: u64) -> NewJob {
        NewJob {
            log_index: i,
            project: format!("p{i}"),
            version: "1.0".to_owned(),
            entry: format!("entry {i}").into_bytes(),
        }
    }

    #[test]
    fn cursor_and_jobs_persist_together_and_are_never_queued_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let t = JobTable::open(dir.path(), &log(), &node()).unwrap();
            assert_eq!(t.cursor(), 0);
            assert_eq!(t.ingest(3, &[new_job(0), new_job(2)]).unwrap(), 2);
            // The same release again (a follower re-reading a bundle) creates nothing.
            assert_eq!(t.ingest(5, &[new_job(2), new_job(4)]).unwrap(), 1);
            assert!(t.ingest(4, &[]).is_err(), "the cursor never moves back");
        }
        let t = JobTable::open(dir.path(), &log(), &node()).unwrap();
        assert_eq!(t.cursor(), 5);
        assert_eq!(t.counts().queued, 3);
        let indices: Vec<u64> = t.jobs().unwrap().iter().map(|j| j.log_index).collect();
        assert_eq!(indices, [0, 2, 4]);
    }

    #[test]
    fn a_job_left_running_by_a_crash_is_queued_again_and_done_is_final() {
        let dir = tempfile::tempdir().unwrap();
        {
            let t = JobTable::open(dir.path(), &log(), &node()).unwrap();
            t.ingest(2, &[new_job(0), new_job(1)]).unwrap();
            let (a, entry) = t.claim(0).unwrap().unwrap();
            assert_eq!((a.log_index, entry), (0, b"entry 0".to_vec()));
            let (b, _) = t.claim(0).unwrap().unwrap();
            assert_eq!(b.log_index, 1);
            assert!(t.claim(0).unwrap().is_none());
            t.done(0, 7, "reproduced").unwrap();
            // "Crash" with job 1 running.
        }
        let t = JobTable::open(dir.path(), &log(), &node()).unwrap();
        let c = t.counts();
        assert_eq!((c.queued, c.running, c.done), (1, 0, 1));
        let (again, _) = t.claim(0).unwrap().unwrap();
        assert_eq!(again.log_index, 1);
        assert!(t.claim(0).unwrap().is_none(), "done job 0 is never claimed");
        assert!(t.done(0, 8, "reproduced").is_err(), "done is final");
        let jobs = t.jobs().unwrap();
        assert_eq!(
            jobs[0].state,
            JobState::Done {
                attestation: 7,
                result: "reproduced".to_owned()
            }
        );
    }

    #[test]
    fn retries_wait_for_their_time_and_count_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let t = JobTable::open(dir.path(), &log(), &node()).unwrap();
        t.ingest(1, &[new_job(0)]).unwrap();
        t.claim(0).unwrap().unwrap();
        t.retry_at(0, 1_000, "ledger unreachable", true).unwrap();
        assert_eq!(t.next_retry_ms(), Some(1_000));
        assert!(t.claim(999).unwrap().is_none());
        let (job, _) = t.claim(1_000).unwrap().unwrap();
        assert_eq!(job.attempts, 1);
        assert_eq!(job.last_error.as_deref(), Some("ledger unreachable"));
        t.fail(0, "gave up").unwrap();
        assert_eq!(t.counts().failed, 1);
        assert_eq!(t.counts().open(), 0);
    }

    #[test]
    fn a_table_refuses_another_log_or_key() {
        let dir = tempfile::tempdir().unwrap();
        drop(JobTable::open(dir.path(), &log(), &node()).unwrap());
        let e = JobTable::open(dir.path(), &key("other.example/log", 3), &node()).unwrap_err();
        assert!(e.to_string().contains("belongs to log"), "{e}");
        let e = JobTable::open(dir.path(), &log(), &key("other", 4)).unwrap_err();
        assert!(e.to_string().contains("belongs to node key"), "{e}");
    }
}
