//! The demo's processes: every step runs the real `reprove` binary (this executable), the way a
//! person would type it, and the long-running ones (the ledger, the rebuilder nodes) are children
//! that are stopped when the demo ends, however it ends.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

/// How long the demo waits for any one process to start or finish before giving up.
pub const PATIENCE: Duration = Duration::from_secs(600);

/// Runs `reprove` subcommands and owns the long-running ones.
#[derive(Debug)]
pub struct Procs {
    exe: PathBuf,
    logs: PathBuf,
    children: Vec<(String, Child)>,
}

/// What a finished `reprove` run printed, and how it exited.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Both streams, for error messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Procs {
    /// `logs` receives one stderr file per long-running process.
    pub fn new(logs: &Path) -> anyhow::Result<Procs> {
        std::fs::create_dir_all(logs).with_context(|| format!("creating {}", logs.display()))?;
        Ok(Procs {
            exe: std::env::current_exe().context("finding the reprove executable")?,
            logs: logs.to_owned(),
            children: Vec::new(),
        })
    }

    /// The command line a reader could type for `args` (for the narration).
    pub fn shown(args: &[&str]) -> String {
        let mut line = String::from("reprove");
        for a in args {
            line.push(' ');
            if a.contains(' ') || a.is_empty() {
                line.push_str(&format!("'{a}'"));
            } else {
                line.push_str(a);
            }
        }
        line
    }

    /// Runs `reprove ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Ran> {
        let output = Command::new(&self.exe)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", Self::shown(args)))?;
        Ok(Ran::from(output))
    }

    /// Starts `reprove ledger serve` (or anything that prints `listening on URL`) and returns
    /// the URL once it listens.
    pub fn serve(&mut self, name: &str, args: &[&str]) -> anyhow::Result<String> {
        let log = self.logs.join(format!("{name}.log"));
        let mut child = Command::new(&self.exe)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", Self::shown(args)))?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        self.children.push((name.to_owned(), child));
        rx.recv_timeout(PATIENCE).map_err(|_| {
            anyhow!(
                "{name} did not start listening; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
    }

    /// Starts `reprove ARGS` in the background; its stderr goes to `LOGS/NAME.log`.
    pub fn spawn(&mut self, name: &str, args: &[&str]) -> anyhow::Result<()> {
        let log = self.logs.join(format!("{name}.log"));
        let child = Command::new(&self.exe)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(File::create(self.logs.join(format!("{name}.out")))?)
            .stderr(File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", Self::shown(args)))?;
        self.children.push((name.to_owned(), child));
        Ok(())
    }

    /// Waits (bounded) for the background process `name` to exit, and returns its exit code.
    pub fn wait(&mut self, name: &str) -> anyhow::Result<Option<i32>> {
        let at = self
            .children
            .iter()
            .position(|(n, _)| n == name)
            .with_context(|| format!("no process named {name}"))?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.children[at].1.try_wait()? {
                self.children.remove(at);
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                bail!("{name} did not finish within {} s", PATIENCE.as_secs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The log file of a background process.
    pub fn log_of(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    /// Stops one background process (SIGKILL: the ledger's durability makes that safe).
    pub fn stop(&mut self, name: &str) {
        if let Some(at) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(at);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
