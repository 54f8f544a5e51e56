//! Per-build cgroups, where the operator delegates a cgroup v2 subtree to the node
//! (`--cgroup DIR`, e.g. a systemd service with `Delegate=yes`): each build gets a child cgroup
//! with `memory.max` (everything the build's processes use, tmpfs pages included),
//! `memory.swap.max = 0` and `pids.max`, and the whole cgroup is killed when the build ends.
//!
//! A node cannot create such a subtree itself (cgroup v2's "no internal processes" rule, and
//! delegation is the service manager's), so without `--cgroup` the limits of
//! [`super::sandbox`] are what holds (per process memory, process count per account, sized
//! `/tmp`, measured disk); docs/operations.md says what each bounds.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A delegated cgroup v2 directory the node creates build cgroups in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    dir: PathBuf,
}

impl Delegated {
    /// Checks that `dir` is a cgroup v2 directory whose children get the `memory` and `pids`
    /// controllers (`cgroup.subtree_control`) and in which this process may create children.
    pub fn open(dir: &Path) -> Result<Delegated, String> {
        let control = fs::read_to_string(dir.join("cgroup.subtree_control")).map_err(|e| {
            format!(
                "--cgroup {}: not a cgroup v2 directory ({e}); delegate one to the node (systemd: Delegate=yes)",
                dir.display()
            )
        })?;
        let enabled: Vec<&str> = control.split_whitespace().collect();
        for needed in ["memory", "pids"] {
            if !enabled.contains(&needed) {
                return Err(format!(
                    "--cgroup {}: the {needed} controller is not enabled for its children \
                     (write \"+{needed}\" to its cgroup.subtree_control)",
                    dir.display()
                ));
            }
        }
        let probe = dir.join(format!("reprove-probe-{}", std::process::id()));
        fs::create_dir(&probe)
            .and_then(|()| fs::remove_dir(&probe))
            .map_err(|e| format!("--cgroup {}: cannot create a child: {e}", dir.display()))?;
        Ok(Delegated {
            dir: dir.to_path_buf(),
        })
    }

    /// Creates the cgroup of one build with its limits.
    pub fn build_cgroup(&self, memory_bytes: u64, max_procs: u64) -> io::Result<BuildCgroup> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| io::Error::other(e.to_string()))?;
        let dir = self.dir.join(format!("build-{}", hex::encode(nonce)));
        fs::create_dir(&dir)?;
        let cg = BuildCgroup { dir };
        fs::write(cg.dir.join("memory.max"), memory_bytes.to_string())?;
        fs::write(cg.dir.join("pids.max"), max_procs.to_string())?;
        // Not every kernel has swap accounting: best effort.
        let _ = fs::write(cg.dir.join("memory.swap.max"), "0");
        Ok(cg)
    }
}

/// The cgroup of one build; removed (its processes killed) when dropped.
#[derive(Debug)]
pub struct BuildCgroup {
    dir: PathBuf,
}

impl BuildCgroup {
    /// Where a process writes its pid to join (`echo $$ > …` before it execs the build).
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// Whether the kernel stopped the build for its memory limit (`memory.events` oom_kill).
    pub fn oom_killed(&self) -> bool {
        fs::read_to_string(self.dir.join("memory.events")).is_ok_and(|t| {
            t.lines()
                .any(|l| l.strip_prefix("oom_kill ").is_some_and(|n| n.trim() != "0"))
        })
    }

    /// Kills every process in the cgroup (`cgroup.kill`, or SIGKILL to each listed pid on
    /// kernels before 5.14) and waits, up to `wait`, until it is empty.
    pub fn kill_all(&self, wait: Duration) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_err()
            && let Ok(pids) = fs::read_to_string(self.procs_file())
        {
            for pid in pids.split_whitespace() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", pid])
                    .status();
            }
        }
        let until = Instant::now() + wait;
        while Instant::now() < until
            && fs::read_to_string(self.procs_file()).is_ok_and(|t| !t.trim().is_empty())
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BuildCgroup {
    fn drop(&mut self) {
        self.kill_all(Duration::from_secs(5));
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_the_controllers_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Delegated::open(dir.path()).unwrap_err();
        assert!(err.contains("not a cgroup v2 directory"), "{err}");
        fs::write(dir.path().join("cgroup.subtree_control"), "cpu pids\n").unwrap();
        let err = Delegated::open(dir.path()).unwrap_err();
        assert!(err.contains("memory controller"), "{err}");
        fs::write(
            dir.path().join("cgroup.subtree_control"),
            "cpu memory pids\n",
        )
        .unwrap();
        // A plain directory passes the file checks; the kernel is what makes it a cgroup.
        let d = Delegated::open(dir.path()).unwrap();
        let cg = d.build_cgroup(1 << 30, 64).unwrap();
        let child = cg.procs_file().parent().unwrap().to_path_buf();
        assert_eq!(
            fs::read_to_string(child.join("memory.max")).unwrap(),
            "1073741824"
        );
        assert_eq!(fs::read_to_string(child.join("pids.max")).unwrap(), "64");
        fs::write(child.join("memory.events"), "low 0\noom 1\noom_kill 1\n").unwrap();
        assert!(cg.oom_killed());
    }
}
