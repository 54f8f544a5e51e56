//! The consumer's state: the last checkpoint it verified, per log, so that every later
//! checkpoint must provably extend it.
//!
//! One file per log origin, `<dir>/checkpoints/<origin>-<hash>`, holding the signed checkpoint
//! note exactly as the log served it. Updates are a compare-and-swap under an exclusive lock
//! (`flock` on a sibling `.lock` file, released by the kernel when its holder exits): a run
//! remembers what it read at its start, and when it comes to store its newer checkpoint it
//! re-reads the file under the lock; if another run stored something else meanwhile, the two
//! checkpoints are checked against each other before the larger one is kept. The file itself is
//! replaced by write-to-temporary + rename, so a reader never sees a
//! torn checkpoint, and a crash leaves either the old or the new one.
//!
//! The decision (same tree, extension, rollback, fork) is the pure core's
//! ([`reprove_verifier::consistency`]); this module does the file I/O around it.

use std::fmt;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use reprove_verifier::checkpoint::{VerifiedCheckpoint, WitnessPolicy, verify_checkpoint};
use reprove_verifier::consistency::{Inconsistency, check_consistency};
use reprove_verifier::merkle::Hash;
use reprove_verifier::policy::{Policy, PolicyCheckpoint};
use sha2::{Digest as _, Sha256};

use crate::client::write_atomic;

/// The state directory of one consumer.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// A checkpoint read from the state, verified under the policy's log key.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Where it was read from.
    pub file: PathBuf,
    /// The checkpoint.
    pub checkpoint: VerifiedCheckpoint,
}

/// The log showed this consumer a checkpoint that is not consistent with one it verified
/// before: a fork or a rollback. Never a reason to trust less; always a reason to stop.
#[derive(Debug)]
pub struct SecurityError {
    /// What was wrong.
    pub why: Inconsistency,
    /// The checkpoint seen before (note text with signatures).
    pub old: String,
    /// Where the old checkpoint is kept.
    pub old_file: PathBuf,
    /// The checkpoint the log shows now.
    pub new: String,
}

impl fmt::Display for SecurityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SECURITY: the log is not consistent with what this consumer verified before: {}. \
             The log (or whoever answers for it) showed a fork or a rollback; nothing was \
             trusted and the state was left untouched.\n--- checkpoint verified before ({}):\n{}--- checkpoint shown now:\n{}",
            self.why,
            self.old_file.display(),
            self.old,
            self.new
        )
    }
}

impl std::error::Error for SecurityError {}

impl StateDir {
    /// The state directory: `dir` when given, else `$XDG_STATE_HOME/reprove`, else
    /// `$HOME/.local/state/reprove`. Nothing is created until a checkpoint is stored.
    pub fn new(dir: Option<&Path>) -> anyhow::Result<StateDir> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => default_dir("XDG_STATE_HOME", ".local/state")?,
        };
        Ok(StateDir { dir })
    }

    /// The file that holds the last checkpoint of the log `origin`.
    pub fn file(&self, origin: &str) -> PathBuf {
        let safe: String = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(100)
            .collect();
        let tag = hex::encode(&Sha256::digest(origin.as_bytes())[..4]);
        self.dir.join("checkpoints").join(format!("{safe}-{tag}"))
    }

    /// The last checkpoint stored for the policy's log, if any, verified under its log key.
    /// A stored checkpoint the log key does not sign is an error: the state belongs to another
    /// log, or was tampered with.
    pub fn load(&self, policy: &Policy) -> anyhow::Result<Option<Seen>> {
        let file = self.file(&policy.log.origin);
        read_seen(&file, policy)
    }

    /// Checks that `new` extends the checkpoint seen before (`seen`); `prove(first, second)`
    /// returns the log's consistency proof between two tree sizes (unverified).
    pub fn check(
        &self,
        seen: Option<&Seen>,
        new: &PolicyCheckpoint,
        prove: impl FnMut(u64, u64) -> anyhow::Result<Vec<Hash>>,
    ) -> anyhow::Result<()> {
        match seen {
            None => Ok(()),
            Some(seen) => consistent(seen, new.checkpoint(), prove),
        }
    }

    /// Stores `new` as the last verified checkpoint, by compare-and-swap against `seen` (what
    /// this run read, and already checked `new` against). If another run stored a different
    /// checkpoint meanwhile, `new` is checked against that one too, and the larger tree is kept.
    ///
    /// Whatever consistency proofs that takes are fetched *before* the lock is taken; under the
    /// lock the decision is made again from the file as it is then, with no network: if it needs
    /// a proof not fetched yet (another run changed the file in between), the lock is released
    /// and the round repeats (a few times at most).
    pub fn advance(
        &self,
        policy: &Policy,
        seen: Option<&Seen>,
        new: &PolicyCheckpoint,
        mut prove: impl FnMut(u64, u64) -> anyhow::Result<Vec<Hash>>,
    ) -> anyhow::Result<()> {
        let file = self.file(&policy.log.origin);
        let parent = file.parent().expect("the state file has a parent");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the state directory {}", parent.display()))?;
        let mut lock_name = file
            .file_name()
            .expect("a state file has a name")
            .to_owned();
        lock_name.push(".lock");
        let lock_path = file.with_file_name(lock_name);
        let mut proofs: std::collections::HashMap<(u64, u64), Vec<Hash>> = Default::default();
        for _ in 0..ROUNDS {
            // Outside the lock: fetch every proof deciding needs now.
            let current = read_seen(&file, policy)?;
            decide(current.as_ref(), seen, new.checkpoint(), &mut |a, b| {
                let p = prove(a, b)?;
                proofs.insert((a, b), p.clone());
                Ok(p)
            })?;
            // Under the lock: decide again, from the file as it is now, without the network.
            let lock = Lock::acquire(&lock_path)?;
            let current = read_seen(&file, policy)?;
            let decided = decide(current.as_ref(), seen, new.checkpoint(), &mut |a, b| {
                proofs
                    .get(&(a, b))
                    .cloned()
                    .ok_or_else(|| anyhow::Error::new(ProofNotFetched))
            });
            match decided {
                Ok(keep_current) => {
                    if !keep_current {
                        write_atomic(&file, new.checkpoint().signed_note())
                            .with_context(|| format!("writing {}", file.display()))?;
                    }
                    drop(lock);
                    return Ok(());
                }
                Err(e) if e.is::<ProofNotFetched>() => drop(lock),
                Err(e) => return Err(e),
            }
        }
        anyhow::bail!(
            "the state {} kept changing under other runs; try again",
            file.display()
        )
    }
}

/// How many fetch-then-lock rounds [`StateDir::advance`] tries.
const ROUNDS: usize = 5;

/// Deciding under the lock needed a proof that was not fetched before it.
#[derive(Debug)]
struct ProofNotFetched;

impl fmt::Display for ProofNotFetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a consistency proof was not fetched before taking the lock")
    }
}

impl std::error::Error for ProofNotFetched {}

/// Whether the stored checkpoint `current` is kept (`true`) or replaced by `new`, after checking
/// them against each other; `seen` is what this run read at its start.
fn decide(
    current: Option<&Seen>,
    seen: Option<&Seen>,
    new_cp: &VerifiedCheckpoint,
    prove: &mut dyn FnMut(u64, u64) -> anyhow::Result<Vec<Hash>>,
) -> anyhow::Result<bool> {
    let unchanged = match (current, seen) {
        (None, None) => true,
        (Some(c), Some(s)) => c.checkpoint.signed_note() == s.checkpoint.signed_note(),
        _ => false,
    };
    Ok(match current {
        None => false,
        Some(c) if unchanged => c.checkpoint.size() >= new_cp.size(),
        Some(c) if c.checkpoint.size() <= new_cp.size() => {
            consistent(c, new_cp, &mut *prove)?;
            c.checkpoint.size() == new_cp.size()
        }
        Some(c) => {
            // Another run stored a larger tree: ours must be a prefix of it.
            let proof = prove(new_cp.size(), c.checkpoint.size())?;
            check_consistency(new_cp, &c.checkpoint, &proof).map_err(|why| SecurityError {
                why,
                old: text(c.checkpoint.signed_note()),
                old_file: c.file.clone(),
                new: text(new_cp.signed_note()),
            })?;
            true
        }
    })
}

/// An exclusive advisory lock (`flock`) on a sibling `.lock` file, held while the open file
/// is: the kernel releases it when the holder exits, however it exits, so no lock is ever
/// stale and none is broken by age; the file itself stays. The critical section does no
/// network I/O.
struct Lock {
    _file: std::fs::File,
}

/// How long a run waits for the lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(30);

impl Lock {
    fn acquire(path: &Path) -> anyhow::Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening the lock {}", path.display()))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() > LOCK_WAIT {
                        anyhow::bail!(
                            "the state lock {} is held by another reprove run for over {}s",
                            path.display(),
                            LOCK_WAIT.as_secs()
                        );
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
    }
}

/// `new` must extend `seen`.
fn consistent(
    seen: &Seen,
    new: &VerifiedCheckpoint,
    mut prove: impl FnMut(u64, u64) -> anyhow::Result<Vec<Hash>>,
) -> anyhow::Result<()> {
    let old = &seen.checkpoint;
    let proof = if old.size() < new.size() {
        prove(old.size(), new.size()).context("fetching the consistency proof from the log")?
    } else {
        Vec::new()
    };
    check_consistency(old, new, &proof).map_err(|why| SecurityError {
        why,
        old: text(old.signed_note()),
        old_file: seen.file.clone(),
        new: text(new.signed_note()),
    })?;
    Ok(())
}

fn read_seen(file: &Path, policy: &Policy) -> anyhow::Result<Option<Seen>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    // The witness quorum was checked when it was stored; the policy's witnesses may have
    // changed since, the log key may not.
    let checkpoint = verify_checkpoint(&bytes, &policy.log.key, &WitnessPolicy::none())
        .with_context(|| {
            format!(
                "the state file {} does not hold a checkpoint signed by the policy's log key {} \
                 (if you changed the log key on purpose, move the file away)",
                file.display(),
                policy.log.key
            )
        })?;
    Ok(Some(Seen {
        file: file.to_path_buf(),
        checkpoint,
    }))
}

fn text(note: &[u8]) -> String {
    String::from_utf8_lossy(note).into_owned()
}

/// `$<var>/reprove`, else `$HOME/<fallback>/reprove`.
pub fn default_dir(var: &str, fallback: &str) -> anyhow::Result<PathBuf> {
    if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(v).join("reprove"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .with_context(|| {
            format!("neither ${var} nor $HOME is set: name the directory explicitly")
        })?;
    Ok(PathBuf::from(home).join(fallback).join("reprove"))
}
