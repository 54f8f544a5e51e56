//! Helpers for the rebuilder node's end-to-end tests: keys, `reprove rebuilder run` as a real
//! process (stdout and stderr to files, every wait bounded), and reading the attestations of a
//! release back from the log with their inclusion proofs checked.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::dsse::Envelope;
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{Entry, EntryKind, RebuildAttestation};
use reprove_verifier::proof::TlogProof;

use crate::common::{get, reprove, text};

/// A key made by `reprove key generate`.
#[derive(Debug, Clone)]
pub struct Key {
    /// The private key file.
    pub path: PathBuf,
    /// The verifier key.
    pub vkey: String,
}

/// `reprove key generate --name NAME --out DIR`.
pub fn generate_key(dir: &Path, name: &str) -> Key {
    let o = reprove(&[
        "key",
        "generate",
        "--name",
        name,
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "key generate: {}", text(&o.stderr));
    let vkey = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    Key {
        path: dir.join(format!("{name}.key")),
        vkey: vkey.trim().to_owned(),
    }
}

/// Daemons started by this test process (names their output files).
static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// A running `reprove rebuilder run`.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts a node following `ledger` with key `key` in `work`, with `extra` arguments
    /// (e.g. `--jobs 2`, `--exit-when-idle`). Polls every 0.2 s and retries after 0.2 s, so
    /// that tests do not wait for the production defaults.
    pub fn spawn(ledger: &str, log_key: &str, key: &Key, work: &Path, extra: &[&str]) -> Daemon {
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let stdout = work.with_extension(format!("stdout-{n}"));
        let stderr = work.with_extension(format!("stderr-{n}"));
        let child = Command::new(env!("CARGO_BIN_EXE_reprove"))
            .args(["rebuilder", "run", "--ledger", ledger, "--log-key", log_key])
            .args(["--key", key.path.to_str().unwrap()])
            .args(["--work", work.to_str().unwrap()])
            .args(["--poll-interval", "0.2", "--retry-delay", "0.2"])
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn reprove rebuilder run");
        Daemon {
            child,
            stdout,
            stderr,
        }
    }

    /// The node's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits (at most `limit`) for the node to exit; returns its exit code and stdout. Kills
    /// it and fails the test when it does not exit in time.
    pub fn wait(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
                return (status.code(), out);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = self.log();
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("the rebuilder node did not exit within {limit:?}; its log:\n{log}");
    }

    /// Waits (at most `limit`) until the node's log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the node exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the node did not log {needle:?} within {limit:?}:\n{}",
            self.log()
        );
    }

    /// SIGTERM, then [`Daemon::wait`] (at most `limit`).
    pub fn terminate(self, limit: Duration) -> (Option<i32>, String) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        self.wait(limit)
    }

    /// SIGKILL, and reap.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A rebuild attestation read back from the log.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The key IDs (vkeys) that signed the envelope.
    pub signers: Vec<String>,
    /// The attestation.
    pub attestation: RebuildAttestation,
}

/// Every rebuild attestation of `project`@`version` in the log at `url` (via
/// `/lookup/release`, all pages), each with its signature verified under the key it names
/// and its inclusion proof (`/proof/<i>`) verified under `log_vkey`.
pub fn attestations(url: &str, log_vkey: &str, project: &str, version: &str) -> Vec<Logged> {
    let agent = crate::common::agent();
    let log_key = NoteVerifier::parse(log_vkey).unwrap();
    let mut out = Vec::new();
    let mut after: Option<u64> = None;
    for _ in 0..100 {
        let mut path = format!("{url}/lookup/release/{project}/{version}");
        if let Some(a) = after {
            path.push_str(&format!("?after={a}"));
        }
        let (status, body) = get(&agent, &path);
        if status == 404 {
            return out;
        }
        assert_eq!(status, 200, "{path}: {}", text(&body));
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for index in page["indices"].as_array().unwrap() {
            let index = index.as_u64().unwrap();
            let entry = crate::common::get_ok(&agent, &format!("{url}/entry/{index}"));
            let envelope = Envelope::parse(&entry).unwrap();
            let parsed = Entry::parse(envelope.payload()).unwrap();
            let EntryKind::Rebuild(attestation) = parsed.into_kind() else {
                continue;
            };
            let signers: Vec<String> = envelope
                .signatures()
                .iter()
                .map(|s| s.keyid.clone())
                .collect();
            for keyid in &signers {
                let key = NoteVerifier::parse(keyid).unwrap();
                let trusted = [reprove_verifier::dsse::TrustedKey {
                    id: keyid.clone(),
                    key: *key.verifying_key(),
                }];
                envelope
                    .verify(&trusted, 1, &[reprove_verifier::statement::PAYLOAD_TYPE])
                    .unwrap_or_else(|e| panic!("entry {index}: signature of {keyid}: {e}"));
            }
            let proof = crate::common::get_ok(&agent, &format!("{url}/proof/{index}"));
            let proof = TlogProof::parse(&proof).unwrap();
            assert_eq!(proof.index(), index);
            proof
                .verify(&entry, &log_key, &WitnessPolicy::none())
                .unwrap_or_else(|e| panic!("entry {index}: inclusion proof: {e}"));
            out.push(Logged {
                signers,
                attestation,
            });
        }
        match page["next"].as_u64() {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
    panic!("more than 100 lookup pages for {project}@{version}");
}

/// A publisher's copy of a fixture, ready to publish: `fixtures/<name>` copied into `dir`,
/// its source packed (`fixtures/pack-source.sh`) and its artifacts built in the sandbox
/// (`reprove rebuild --manifest … --out dist`), as a publisher does. Returns the manifest.
pub fn prepare_fixture(name: &str, dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let copy = dir.join(name);
    let o = Command::new("cp")
        .arg("-R")
        .arg(root.join(name))
        .arg(&copy)
        .output()
        .unwrap();
    assert!(o.status.success(), "cp: {}", text(&o.stderr));
    let manifest = copy.join("reprove.toml");
    let toml: toml::Table = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    let (project, version) = (
        toml["project"].as_str().unwrap(),
        toml["version"].as_str().unwrap(),
    );
    let source = toml["source"]["path"].as_str().unwrap();
    let epoch = toml["recipe"]["source_date_epoch"].as_integer().unwrap();
    let o = Command::new("sh")
        .arg(root.join("pack-source.sh"))
        .arg(copy.join("src"))
        .arg(format!("{project}-{version}"))
        .arg(copy.join(source))
        .arg(epoch.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "pack-source.sh: {}", text(&o.stderr));
    let work = dir.join(format!("{name}-publisher-work"));
    let o = reprove(&[
        "rebuild",
        "--manifest",
        manifest.to_str().unwrap(),
        "--out",
        copy.join("dist").to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "building {name}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    manifest
}

/// A copy of `manifest` beside it (so relative paths still hold) with another `version`
/// and, when given, another recipe command.
pub fn variant(manifest: &Path, version: &str, command: Option<&[&str]>) -> PathBuf {
    let mut toml: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    toml.insert("version".into(), version.into());
    if let Some(command) = command {
        let recipe = toml["recipe"].as_table_mut().unwrap();
        recipe.insert(
            "command".into(),
            toml::Value::Array(command.iter().map(|&c| c.into()).collect()),
        );
    }
    let out = manifest.with_file_name(format!("reprove-{version}.toml"));
    std::fs::write(&out, toml::to_string(&toml).unwrap()).unwrap();
    out
}

/// `reprove release publish MANIFEST --key KEY --ledger URL --log-key VKEY`; the log index.
pub fn publish(manifest: &Path, key: &Key, url: &str, log_vkey: &str) -> u64 {
    let manifest = crate::common::served_manifest(manifest);
    let o = reprove(&[
        "release",
        "publish",
        manifest.to_str().unwrap(),
        "--key",
        key.path.to_str().unwrap(),
        "--ledger",
        url,
        "--log-key",
        log_vkey,
    ]);
    assert!(o.status.success(), "publish: {}", text(&o.stderr));
    text(&o.stdout).trim().parse().unwrap()
}

/// A copy of `manifest` (beside it) with another `version`, whose source rebuilders fetch from
/// `url` (the local archive is still what the publisher hashes).
pub fn with_source_url(manifest: &Path, version: &str, url: &str) -> PathBuf {
    let mut toml: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    toml.insert("version".into(), version.into());
    let source = toml["source"].as_table_mut().unwrap();
    source.insert("url".into(), url.into());
    let out = manifest.with_file_name(format!("reprove-{version}.toml"));
    std::fs::write(&out, toml::to_string(&toml).unwrap()).unwrap();
    out
}

/// `n` distinct ports on 127.0.0.1 that nothing listens on (bound together, then released).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Serves `body` to every request on 127.0.0.1:`port`, from a thread that lives as long as
/// the test process.
pub fn serve_bytes(port: u16, body: Vec<u8>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
}
