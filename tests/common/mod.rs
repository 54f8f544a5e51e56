//! Helpers for the ledger's end-to-end tests: the real `reprove` binary, a real server on
//! 127.0.0.1 (port 0), signed envelopes, a tiny static file server, and an HTTP client.
//! Every wait is bounded; every address is loopback.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_verifier::dsse::pae;
use reprove_verifier::merkle::leaf_hash;
use reprove_verifier::note::{Note, NoteSigner};
use reprove_verifier::predicates::{
    Artifact, Digests, Entry, EntryKind, Environment, Recipe, ReleaseManifest, ReleasePredicate,
    Source,
};
use reprove_verifier::statement::PAYLOAD_TYPE;

pub const ORIGIN: &str = "log.example.test/reprove";

/// The longest any single wait in these tests may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(120);

/// Runs `reprove` with `args` to completion.
pub fn reprove(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reprove"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run reprove")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `reprove ledger init` into `data`, returning the printed vkey.
pub fn init_log(data: &Path) -> String {
    let o = reprove(&[
        "ledger",
        "init",
        "--data",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
    ]);
    assert!(o.status.success(), "init failed: {}", text(&o.stderr));
    text(&o.stdout).trim().to_owned()
}

/// A running `reprove ledger serve`.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// Starts a server on `data` (127.0.0.1, port 0) and waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Self::try_start(data, extra)
            .unwrap_or_else(|(code, err)| panic!("the server did not start (exit {code:?}): {err}"))
    }

    /// Starts a server, or returns its exit code and stderr if it exits without listening.
    pub fn try_start(data: &Path, extra: &[&str]) -> Result<Server, (Option<i32>, String)> {
        let stderr = data.with_extension(format!("stderr-{}", unique()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_reprove"))
            .args(["ledger", "serve", "--data", data.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            // Short rounds keep tests fast, unless the test sets its own.
            .args(if extra.contains(&"--batch-max-age") {
                &[][..]
            } else {
                &["--batch-max-age", "20"][..]
            })
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn reprove ledger serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        match rx.recv_timeout(WAIT) {
            Ok(url) => Ok(Server { child, url }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().unwrap();
                Err((status.code(), std::fs::read_to_string(&stderr).unwrap()))
            }
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        for _ in 0..(WAIT.as_millis() / 50) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server did not stop within {WAIT:?} of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

/// A plain HTTP client for the tests (no proxies, bounded timeouts, statuses not errors).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(WAIT))
        .build()
        .into()
}

/// GET, returning status and body.
pub fn get(agent: &ureq::Agent, url: &str) -> (u16, Vec<u8>) {
    let mut r = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(32 << 20)
        .read_to_vec()
        .unwrap();
    (status, body)
}

/// GET that must answer 200.
pub fn get_ok(agent: &ureq::Agent, url: &str) -> Vec<u8> {
    let (status, body) = get(agent, url);
    assert_eq!(status, 200, "GET {url}: {}", text(&body));
    body
}

/// POST `body` with `content_type`, returning status and body (or the transport error).
pub fn post(
    agent: &ureq::Agent,
    url: &str,
    content_type: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), ureq::Error> {
    let mut r = agent
        .post(url)
        .header("content-type", content_type)
        .send(body)?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec()?;
    Ok((status, body))
}

/// A test signer.
pub fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(name, &[seed; 32]).unwrap()
}

/// A release manifest statement, distinct per `(tag, i)`.
pub fn release(tag: &str, i: u64) -> Vec<u8> {
    let name = format!("pkg-{i}.tar.gz");
    let manifest = ReleaseManifest {
        subjects: vec![Artifact {
            name: name.clone(),
            digest: Digests::sha256(leaf_hash(format!("{tag}/{i}").as_bytes())),
        }],
        predicate: ReleasePredicate {
            third_party_import: None,
            project: format!("project-{tag}"),
            version: format!("1.{i}"),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: format!("https://example.org/{tag}/{i}.tar.gz"),
                digest: Digests::sha256(leaf_hash(format!("src/{tag}/{i}").as_bytes())),
            },
            recipe: Recipe {
                unpinned_outputs: Default::default(),
                inputs: Vec::new(),
                build_deps: Vec::new(),
                build_user: Default::default(),
                command: vec!["make".into()],
                environment: Environment::Host {},
                source_date_epoch: Some(1_700_000_000),
                env: BTreeMap::new(),
                outputs: BTreeMap::from([(format!("out/{name}"), name)]),
            },
        },
    };
    Entry::new(EntryKind::Release(manifest)).unwrap().encode()
}

/// A DSSE envelope (JSON bytes) of `statement`, signed by `signer` with keyid = its vkey.
/// (A note signature is an Ed25519 signature over the text: signing the PAE as a note text,
/// with the payload ending in `\n`, gives the DSSE signature; see `src/sign.rs`.)
pub fn envelope(signer: &NoteSigner, statement: &[u8]) -> Vec<u8> {
    let mut payload = statement.to_vec();
    payload.push(b'\n');
    let message = pae(PAYLOAD_TYPE, &payload);
    let note = Note::sign(std::str::from_utf8(&message).unwrap(), &[signer]).unwrap();
    let sig = note.signatures()[0].bytes();
    serde_json::to_vec(&serde_json::json!({
        "payload": STANDARD.encode(&payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": signer.verifier().to_string(), "sig": STANDARD.encode(sig)}],
    }))
    .unwrap()
}

/// A directory listing with every file's bytes, to show that a refused command changed
/// nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// What a publisher does before logging a release: puts its files where rebuilders can fetch
/// them. Serves the manifest's directory on 127.0.0.1 (for the rest of the test process) and
/// writes a copy of the manifest beside it whose source archive and root filesystem, when given
/// by local path without a URL, are fetched from that server. Returns the copy.
pub fn served_manifest(manifest: &Path) -> PathBuf {
    let dir = manifest.parent().unwrap();
    let server = StaticServer::start(dir);
    let mut toml: toml::Table = std::fs::read_to_string(manifest).unwrap().parse().unwrap();
    let url = |path: &str| format!("{}/{}", server.url, path.trim_start_matches("./"));
    if let Some(source) = toml.get_mut("source").and_then(|s| s.as_table_mut())
        && !source.contains_key("url")
        && !source.contains_key("git")
        && let Some(path) = source
            .get("path")
            .and_then(|p| p.as_str())
            .map(str::to_owned)
    {
        source.insert("url".into(), url(&path).into());
    }
    if let Some(rootfs) = toml
        .get_mut("recipe")
        .and_then(|r| r.get_mut("toolchain"))
        .and_then(|t| t.get_mut("rootfs"))
        .and_then(|t| t.as_table_mut())
        && !rootfs.contains_key("url")
        && let Some(path) = rootfs
            .get("path")
            .and_then(|p| p.as_str())
            .map(str::to_owned)
    {
        rootfs.insert("url".into(), url(&path).into());
    }
    // The server lives as long as the test process: rebuilders fetch later.
    std::mem::forget(server);
    let out = manifest.with_file_name(format!(
        "{}.served.toml",
        manifest.file_stem().unwrap().to_string_lossy()
    ));
    std::fs::write(&out, toml::to_string(&toml).unwrap()).unwrap();
    out
}

/// Serves `dir` on 127.0.0.1 for the rest of the test process; its URL.
pub fn serve_dir(dir: &Path) -> String {
    let server = StaticServer::start(dir);
    let url = server.url.clone();
    std::mem::forget(server);
    url
}

/// A dynamic answer for a path (without its leading `/`) and query: `None` falls through to
/// the files.
pub type Hook = Arc<dyn Fn(&str, Option<&str>) -> Option<Vec<u8>> + Send + Sync>;

/// A minimal static file server over `root` on 127.0.0.1: GET only, one request per
/// connection, 404 for anything missing or outside the root. Stops when dropped.
pub struct StaticServer {
    pub url: String,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl StaticServer {
    pub fn start(root: &Path) -> StaticServer {
        Self::start_with(root, None)
    }

    /// A server whose `hook` answers first (the rest from the files).
    pub fn start_with(root: &Path, hook: Option<Hook>) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let root = root.clone();
                let hook = hook.clone();
                std::thread::spawn(move || {
                    let _ = serve_file(conn, &root, hook.as_ref());
                });
            }
        });
        StaticServer {
            url: format!("http://{addr}"),
            stop,
            addr,
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn serve_file(mut conn: TcpStream, root: &Path, hook: Option<&Hook>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target
        .split('?')
        .next()
        .unwrap_or("/")
        .trim_start_matches('/');
    let safe = method == "GET" && !path.split('/').any(|c| c == ".." || c.is_empty());
    let query = target.split_once('?').map(|(_, q)| q);
    let hooked = if method == "GET" {
        hook.and_then(|h| h(path, query))
    } else {
        None
    };
    let body = if let Some(b) = hooked {
        Some(b)
    } else if safe {
        std::fs::read(root.join(path)).ok().or_else(|| {
            // A log with lookups answers every lookup, with no indices when nothing matches.
            (path.starts_with("lookup/") && root.join("lookup").is_dir())
                .then(|| br#"{"indices":[],"next":null}"#.to_vec())
        })
    } else {
        None
    };
    match body {
        Some(body) => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            conn.write_all(&body)?;
        }
        None => {
            conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
        }
    }
    conn.flush()
}

/// The hashes of a `/consistency` answer: one base64 hash per line.
pub fn decode_lines(body: &[u8]) -> Vec<reprove_verifier::merkle::Hash> {
    use base64::Engine;
    text(body)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l)
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}
