//! Helpers for the rebuild tests: prepared fixtures (source packed, artifacts built once in the
//! sandbox by `reprove rebuild --manifest`), a ledger with keys, and `reprove` runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Server, init_log, reprove, serve_dir, served_manifest, text};

pub const EPOCH: &str = "1700000000";

/// The checked-in fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Copies `fixtures/<name>` into `dir/<name>` and packs its source as
/// `dist/<top>-src.tar.gz` with `fixtures/pack-source.sh`. Returns the copy.
pub fn copy_fixture(dir: &Path, name: &str, top: &str) -> PathBuf {
    let to = dir.join(name);
    let ok = Command::new("cp")
        .arg("-R")
        .arg(fixtures().join(name))
        .arg(&to)
        .status()
        .unwrap();
    assert!(ok.success());
    pack(
        &to.join("src"),
        top,
        &to.join(format!("dist/{top}-src.tar.gz")),
    );
    to
}

/// Packs `src` deterministically as `out` (under the top directory `top`).
pub fn pack(src: &Path, top: &str, out: &Path) {
    let o = Command::new(fixtures().join("pack-source.sh"))
        .arg(src)
        .arg(top)
        .arg(out)
        .arg(EPOCH)
        .output()
        .unwrap();
    assert!(o.status.success(), "pack: {}", text(&o.stderr));
}

/// Builds the fixture copy's manifest locally (in the sandbox) and puts the outputs in `out`
/// under their artifact names: how the publisher makes the artifacts it publishes.
pub fn build_artifacts(fixture: &Path, manifest: &str, out: &Path, work: &Path) {
    let o = reprove(&[
        "rebuild",
        "--manifest",
        fixture.join(manifest).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "local build of {}: {}{}",
        fixture.display(),
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// A ledger on 127.0.0.1 with its vkey, and a directory of keys.
pub struct Ledger {
    pub server: Server,
    pub vkey: String,
    pub dir: PathBuf,
}

impl Ledger {
    pub fn start(dir: &Path) -> Ledger {
        let data = dir.join("log");
        let vkey = init_log(&data);
        let server = Server::start(&data, &[]);
        Ledger {
            server,
            vkey,
            dir: dir.to_path_buf(),
        }
    }

    /// `reprove key generate --name NAME`, returning the private key file.
    pub fn key(&self, name: &str) -> PathBuf {
        let keys = self.dir.join("keys");
        let o = reprove(&[
            "key",
            "generate",
            "--name",
            name,
            "--out",
            keys.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        keys.join(format!("{}.key", name.replace('/', "_")))
    }

    /// `reprove release publish`, returning the log index. The source is served over HTTP on
    /// 127.0.0.1 ([`served_manifest`]); with `url_prefix`, so are the artifacts, from that
    /// directory.
    pub fn publish(&self, manifest: &Path, key: &Path, url_prefix: Option<&Path>) -> u64 {
        let manifest = served_manifest(manifest);
        let mut args = vec![
            "release".to_owned(),
            "publish".to_owned(),
            manifest.to_str().unwrap().to_owned(),
            "--key".to_owned(),
            key.to_str().unwrap().to_owned(),
            "--ledger".to_owned(),
            self.server.url.clone(),
            "--log-key".to_owned(),
            self.vkey.clone(),
        ];
        if let Some(p) = url_prefix {
            args.push("--artifact-url-prefix".to_owned());
            args.push(serve_dir(p));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = reprove(&args);
        assert!(o.status.success(), "publish: {}", text(&o.stderr));
        text(&o.stdout).trim().parse().unwrap()
    }

    /// `reprove rebuild --release … --json [extra]`: the exit code and the JSON answer.
    pub fn rebuild(
        &self,
        release: &str,
        key: &Path,
        work: &Path,
        extra: &[&str],
    ) -> (Option<i32>, serde_json::Value, Output) {
        let o = self.rebuild_output(release, key, work, &[&["--json"], extra].concat());
        let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
            panic!(
                "rebuild printed no JSON (exit {:?}): {}{}",
                o.status.code(),
                text(&o.stdout),
                text(&o.stderr)
            )
        });
        (o.status.code(), v, o)
    }

    /// `reprove rebuild --release … [extra]` against this ledger, as it ran.
    pub fn rebuild_output(&self, release: &str, key: &Path, work: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "rebuild",
            "--release",
            release,
            "--ledger",
            &self.server.url,
            "--log-key",
            &self.vkey,
            "--key",
            key.to_str().unwrap(),
            "--work",
            work.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        reprove(&args)
    }
}
