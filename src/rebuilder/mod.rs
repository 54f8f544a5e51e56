//! The rebuilder node (`reprove rebuilder run`): follow the log, keep a durable job table,
//! rebuild releases N at a time and attest every outcome, exactly once per release.
//!
//! - `follow.rs`: tail the log from the persisted cursor, proving every checkpoint and bundle;
//! - `jobs.rs`: the job table in RocksDB (queued, running, retry-at, done, failed) and its
//!   durability contract;
//! - `pool.rs`: worker threads, retries with backoff;
//! - `daemon.rs`: the runner (one job → one attestation, checking the log for an earlier
//!   one first) and the main loop.
//!
//! The rebuild itself is `crate::rebuild`'s.

pub mod daemon;
pub mod follow;
pub mod jobs;
pub mod pool;
pub mod runner;
