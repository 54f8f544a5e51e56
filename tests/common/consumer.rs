//! Helpers for the consumer tests (`verify`, `gate`, `bundle`, `key revoke`): a real ledger on
//! 127.0.0.1 with crafted, signed entries (release manifests, rebuild attestations, revocation
//! notices), policy files, and a *lying log*: a static copy of the read API (checkpoint, tiles,
//! entry bundles, lookups) built from any entries and signed with the real log key, served by
//! `StaticServer`, so a test can fork, roll back or tamper with what a consumer is shown.
//!
//! Include with `mod common; #[path = "common/consumer.rs"] mod consumer;`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use reprove_ledger::IndexKey;
use reprove_verifier::note::Note;
use reprove_verifier::vindex::{
    IndexNote, ProvenAnswer, Value, WireProof, key_hash, prove_in, root_of as vindex_root,
};

use reprove_verifier::checkpoint::{Checkpoint, sign};
use reprove_verifier::merkle::{Hash, leaf_hash, node_hash};
use reprove_verifier::note::NoteSigner;
use reprove_verifier::predicates::{
    Artifact, Builder, Comparison, Digests, Entry, EntryKind, Environment, RebuildAttestation,
    RebuildPredicate, RebuildResult, Recipe, ReleaseManifest, ReleasePredicate, ReleaseRef,
    RevocationNotice, RevocationReason, Sandbox, SandboxKind, Source,
};
use reprove_verifier::tiles::{BundleId, EntryBundle, Tile, TileId};
use sha2::{Digest as _, Sha256};

use crate::common::{
    Hook, ORIGIN, Server, StaticServer, agent, envelope, get_ok, init_log, post, text,
};

/// One operator in a policy.
pub struct Op<'a> {
    pub name: &'a str,
    pub keys: Vec<&'a NoteSigner>,
    pub recovery: Option<&'a NoteSigner>,
    pub allow_rotation: bool,
}

impl<'a> Op<'a> {
    pub fn new(name: &'a str, keys: &[&'a NoteSigner]) -> Op<'a> {
        Op {
            name,
            keys: keys.to_vec(),
            recovery: None,
            allow_rotation: false,
        }
    }
}

/// A consumer's world: a real ledger, a state directory and a tile cache, all in one temp dir.
pub struct World {
    pub dir: tempfile::TempDir,
    pub log_vkey: String,
    pub log_key: NoteSigner,
    pub server: Option<Server>,
    pub url: String,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("log");
        let log_vkey = init_log(&data);
        let key_text = std::fs::read_to_string(data.join("log.key")).unwrap();
        let log_key = NoteSigner::from_private_key(key_text.trim()).unwrap();
        let server = Server::start(&data, &[]);
        let url = server.url.clone();
        World {
            dir,
            log_vkey,
            log_key,
            server: Some(server),
            url,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Appends a signed entry (DSSE envelope bytes) to the real ledger; returns its index.
    pub fn add(&self, env: &[u8]) -> u64 {
        let (status, body) = post(
            &agent(),
            &format!("{}/add", self.url),
            "application/json",
            env,
        )
        .unwrap();
        assert_eq!(status, 200, "POST /add: {}", text(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["index"].as_u64().unwrap()
    }

    /// Signs `statement` with `key` and appends it.
    pub fn add_signed(&self, key: &NoteSigner, statement: &[u8]) -> u64 {
        self.add(&envelope(key, statement))
    }

    /// Publishes a release of `name`@`version` with these artifacts (name, bytes); returns its
    /// index and the logged envelope.
    pub fn release(
        &self,
        publisher: &NoteSigner,
        name: &str,
        version: &str,
        artifacts: &[(&str, &[u8])],
    ) -> (u64, Vec<u8>) {
        let env = envelope(publisher, &release_statement(name, version, artifacts));
        (self.add(&env), env)
    }

    /// Writes a policy file and returns its path.
    pub fn policy(&self, file: &str, threshold: usize, on_mismatch: &str, ops: &[Op]) -> PathBuf {
        let path = self.path(file);
        std::fs::write(
            &path,
            policy_text(&self.log_vkey, &self.url, threshold, on_mismatch, ops),
        )
        .unwrap();
        path
    }

    /// Every entry of the real ledger, in order, from its read API.
    pub fn entries(&self) -> Vec<Vec<u8>> {
        let a = agent();
        let cp = get_ok(&a, &format!("{}/checkpoint", self.url));
        let size: u64 = text(&cp).lines().nth(1).unwrap().parse().unwrap();
        (0..size)
            .map(|i| get_ok(&a, &format!("{}/entry/{i}", self.url)))
            .collect()
    }

    /// `reprove verify` against `url` with this world's state and cache, plus `extra` args.
    pub fn verify_at(&self, url: &str, policy: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify".to_string(),
            "--policy".into(),
            policy.display().to_string(),
            "--ledger".into(),
            url.to_string(),
            "--state".into(),
            self.state().display().to_string(),
            "--cache".into(),
            self.path("cache").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&args, self.dir.path())
    }

    /// `reprove verify` against the real ledger.
    pub fn verify(&self, policy: &Path, extra: &[&str]) -> Output {
        self.verify_at(&self.url, policy, extra)
    }

    /// Writes `bytes` as a file in the world and returns its path as a string.
    pub fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }
}

/// Runs `reprove` with XDG directories pointed inside `home` (nothing escapes the test).
pub fn run(args: &[String], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reprove"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("xdg-state"))
        .env("XDG_CACHE_HOME", home.join("xdg-cache"))
        .output()
        .expect("run reprove")
}

/// Exit code, stdout and stderr, for assertions.
pub fn outcome(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr),
    )
}

/// A test key.
pub fn key(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(name, &[seed; 32]).unwrap()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn policy_text(
    log_vkey: &str,
    url: &str,
    threshold: usize,
    on_mismatch: &str,
    ops: &[Op],
) -> String {
    let mut s = format!(
        "threshold = {threshold}\non_mismatch = \"{on_mismatch}\"\n\n[log]\norigin = \"{ORIGIN}\"\nkey = \"{log_vkey}\"\nurl = \"{url}\"\n"
    );
    for op in ops {
        let keys: Vec<String> = op
            .keys
            .iter()
            .map(|k| format!("\"{}\"", k.verifier()))
            .collect();
        s.push_str(&format!(
            "\n[[operator]]\nname = \"{}\"\nkeys = [{}]\nallow_rotation = {}\n",
            op.name,
            keys.join(", "),
            op.allow_rotation
        ));
        if let Some(r) = op.recovery {
            s.push_str(&format!("recovery_key = \"{}\"\n", r.verifier()));
        }
    }
    s
}

/// A release manifest statement for these artifacts (name, bytes).
pub fn release_statement(name: &str, version: &str, artifacts: &[(&str, &[u8])]) -> Vec<u8> {
    let manifest = ReleaseManifest {
        subjects: artifacts
            .iter()
            .map(|(n, b)| Artifact {
                name: n.to_string(),
                digest: Digests::sha256(sha256(b)),
            })
            .collect(),
        predicate: ReleasePredicate {
            third_party_import: None,
            project: name.to_string(),
            version: version.to_string(),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: format!("https://example.org/{name}-{version}.tar.gz"),
                digest: Digests::sha256(sha256(format!("src {name} {version}").as_bytes())),
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
                outputs: artifacts
                    .iter()
                    .map(|(n, _)| (format!("out/{n}"), n.to_string()))
                    .collect(),
            },
        },
    };
    Entry::new(EntryKind::Release(manifest)).unwrap().encode()
}

/// A rebuild attestation of the release at `release_index` (whose logged envelope is
/// `release_env`) for these published artifacts, with `result`.
pub fn attestation(
    release_index: u64,
    release_env: &[u8],
    name: &str,
    version: &str,
    artifacts: &[(&str, &[u8])],
    result: RebuildResult,
) -> Vec<u8> {
    let subjects: Vec<Artifact> = artifacts
        .iter()
        .map(|(n, b)| Artifact {
            name: n.to_string(),
            digest: Digests::sha256(sha256(b)),
        })
        .collect();
    let (rebuilt, diff_report) = match result {
        RebuildResult::Reproduced => (subjects.clone(), None),
        RebuildResult::Mismatch => (
            subjects
                .iter()
                .map(|s| Artifact {
                    name: s.name.clone(),
                    digest: Digests::sha256([0xee; 32]),
                })
                .collect(),
            Some(Digests::sha256([0xdd; 32])),
        ),
        _ => (vec![], None),
    };
    Entry::new(EntryKind::Rebuild(RebuildAttestation {
        subjects,
        predicate: RebuildPredicate {
            release: ReleaseRef {
                log_index: release_index,
                name: name.to_string(),
                version: version.to_string(),
                digest: Digests::sha256(sha256(release_env)),
            },
            result,
            comparison: Comparison::BitIdentical,
            rebuilt,
            build_log: None,
            diff_report,
            sandbox: Sandbox {
                kind: SandboxKind::Bubblewrap,
                details: None,
            },
            builder: Builder {
                id: "https://rebuilder.example.test".into(),
                version: "0.1.0".into(),
            },
            started_on: "2026-01-01T00:00:00Z".into(),
            finished_on: "2026-01-01T00:01:00Z".into(),
            invocation_id: None,
            detail: None,
            variations: vec![],
        },
    }))
    .unwrap()
    .encode()
}

/// A revocation notice statement.
pub fn revocation(
    revoked: &NoteSigner,
    reason: RevocationReason,
    effective: Option<u64>,
    replacement: Option<&NoteSigner>,
) -> Vec<u8> {
    Entry::new(EntryKind::Revocation(RevocationNotice {
        revoked_key: revoked.verifier().to_string(),
        reason,
        effective_index: effective,
        replacement: replacement.map(|k| k.verifier().to_string()),
        comment: None,
    }))
    .unwrap()
    .encode()
}

/// A log served as static files: any entries, signed with a log key, with lookups derived the
/// way the real ledger derives them (by subject sha256 and by revoked key), unless overridden,
/// and proven lookups (`/proven/…`) answered from a verifiable index of the same entries
/// ([`ProvenIndex`]) that a test can make lie. At most 255 entries (one partial tile), which is
/// all these tests need.
pub struct StaticLog {
    pub root: PathBuf,
    pub server: StaticServer,
    pub index: Arc<Mutex<ProvenIndex>>,
}

impl StaticLog {
    pub fn build(root: &Path, log_key: &NoteSigner, entries: &[Vec<u8>]) -> StaticLog {
        assert!(!entries.is_empty() && entries.len() < 256);
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root).unwrap();
        let size = entries.len() as u64;
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let width = size as u16;
        let tile = Tile::new(TileId::new(0, 0, width).unwrap(), leaves.clone()).unwrap();
        write(root, &tile.id().path(), &tile.encode());
        let bundle = EntryBundle::new(BundleId::new(0, width).unwrap(), entries.to_vec()).unwrap();
        write(root, &bundle.id().path(), &bundle.encode());
        let cp = sign(
            &Checkpoint::new(ORIGIN, size, root_of(&leaves)).unwrap(),
            log_key,
        )
        .unwrap();
        write(root, "checkpoint", &cp);
        // Lookups, as the ledger would answer them.
        let mut by_sha: BTreeMap<[u8; 32], BTreeSet<u64>> = BTreeMap::new();
        let mut by_revoked: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(entry) = parse_entry(e) else {
                continue;
            };
            for a in entry.subjects() {
                by_sha.entry(a.digest.sha256).or_default().insert(i as u64);
            }
            if let EntryKind::Revocation(n) = entry.kind() {
                by_revoked
                    .entry(n.revoked_key.clone())
                    .or_default()
                    .insert(i as u64);
            }
        }
        let index = Arc::new(Mutex::new(ProvenIndex::derive(
            log_key,
            entries,
            entries.len(),
        )));
        let served = index.clone();
        let hook: Hook = Arc::new(move |path: &str, query: Option<&str>| {
            let index = served.lock().unwrap();
            if !index.served {
                return None;
            }
            if path == "index-note" {
                return Some(index.note.clone().into_bytes());
            }
            let key = parse_proven(path, query)?;
            Some(serde_json::to_vec(&index.answer(&key)).unwrap())
        });
        let log = StaticLog {
            server: StaticServer::start_with(root, Some(hook)),
            root: root.to_path_buf(),
            index,
        };
        for (sha, idx) in by_sha {
            log.set_lookup(
                &format!("sha256/{}", hex::encode(sha)),
                &idx.into_iter().collect::<Vec<_>>(),
            );
        }
        for (k, idx) in by_revoked {
            log.set_lookup(
                &format!("revocations/{}", hex::encode(k)),
                &idx.into_iter().collect::<Vec<_>>(),
            );
        }
        log
    }

    /// Changes the index's lists with `change`, then signs the changed index: a log that signs
    /// an index its entries do not give, consistently (its proofs hold).
    pub fn sign_changed_index(&self, change: impl FnOnce(&mut BTreeMap<IndexKey, Vec<u64>>)) {
        let mut index = self.index.lock().unwrap();
        change(&mut index.lists);
        index.resign();
    }

    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// Makes `lookup/<what>` answer `indices`.
    pub fn set_lookup(&self, what: &str, indices: &[u64]) {
        let body = serde_json::json!({"indices": indices, "next": null}).to_string();
        write(&self.root, &format!("lookup/{what}"), body.as_bytes());
    }

    /// Flips one bit of the file at `path` (relative to the root), at `offset` from its end.
    pub fn flip(&self, path: &str, from_end: usize) {
        let p = self.root.join(path);
        let mut b = std::fs::read(&p).unwrap();
        let at = b.len() - 1 - from_end;
        b[at] ^= 1;
        std::fs::write(&p, b).unwrap();
    }

    /// The path of the only level-0 tile, and of the only entry bundle.
    pub fn tile_path(&self) -> String {
        find(&self.root, "tile/0/")
    }

    pub fn bundle_path(&self) -> String {
        find(&self.root, "tile/entries/")
    }
}

fn find(root: &Path, prefix: &str) -> String {
    let mut stack = vec![root.join(prefix)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                return p.strip_prefix(root).unwrap().display().to_string();
            }
        }
    }
    panic!("no file under {prefix}");
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn parse_entry(envelope: &[u8]) -> Option<Entry> {
    let env = reprove_verifier::dsse::Envelope::parse(envelope).ok()?;
    Entry::parse(env.payload()).ok()
}

/// RFC 6962 root of leaf hashes.
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            let k = if k == n { n / 2 } else { k };
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Every file in the world's state directory, with its bytes.
pub fn snapshot_state(w: &World) -> BTreeMap<PathBuf, Vec<u8>> {
    crate::common::snapshot(&w.state())
}

/// Changes a proven answer after it is built.
pub type Tamper = Box<dyn Fn(&IndexKey, &mut ProvenAnswer) + Send>;

/// The verifiable index a [`StaticLog`] serves: each proven key's list, the reference tree over
/// them, and the signed index note; a test changes it to lie.
pub struct ProvenIndex {
    log_key: NoteSigner,
    /// The tree the note covers, and its log root.
    size: u64,
    log_root: Hash,
    pub lists: BTreeMap<IndexKey, Vec<u64>>,
    leaves: Vec<(Hash, Value)>,
    pub note: String,
    /// Changes an answer after it is proven (the proof then no longer matches it).
    pub tamper: Option<Tamper>,
    /// Whether proven lookups and the index note are served at all.
    pub served: bool,
}

impl ProvenIndex {
    /// The index of the first `size` of `entries`, as the ledger derives it.
    pub fn derive(log_key: &NoteSigner, entries: &[Vec<u8>], size: usize) -> ProvenIndex {
        let mut lists: BTreeMap<IndexKey, Vec<u64>> = BTreeMap::new();
        for (i, e) in entries[..size].iter().enumerate() {
            for k in reprove_ledger::derive_index_keys(e) {
                if k.is_proven() {
                    lists.entry(k).or_default().push(i as u64);
                }
            }
        }
        let leaves: Vec<Hash> = entries[..size].iter().map(|e| leaf_hash(e)).collect();
        let mut index = ProvenIndex {
            log_key: NoteSigner::from_private_key(&log_key.to_private_key_string()).unwrap(),
            size: size as u64,
            log_root: root_of(&leaves),
            lists,
            leaves: Vec::new(),
            note: String::new(),
            tamper: None,
            served: true,
        };
        index.resign();
        index
    }

    /// Recomputes the tree from the lists and signs its note.
    pub fn resign(&mut self) {
        let mut leaves: Vec<(Hash, Value)> = self
            .lists
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(k, l)| (key_hash(&k.encoding()), Value::of(l).unwrap()))
            .collect();
        leaves.sort_by_key(|(k, _)| *k);
        let note = IndexNote {
            origin: ORIGIN.to_owned(),
            size: self.size,
            log_root: self.log_root,
            index_root: vindex_root(&leaves),
        };
        self.note = String::from_utf8(Note::sign(&note.text(), &[&self.log_key]).unwrap().encode())
            .unwrap();
        self.leaves = leaves;
    }

    /// The proven answer for `key`.
    pub fn answer(&self, key: &IndexKey) -> ProvenAnswer {
        let indices = self.lists.get(key).cloned().unwrap_or_default();
        let proof = prove_in(&self.leaves, &key_hash(&key.encoding()));
        let mut answer = ProvenAnswer {
            note: self.note.clone(),
            indices,
            proof: WireProof::from(&proof),
        };
        if let Some(t) = &self.tamper {
            t(key, &mut answer);
        }
        answer
    }
}

/// `key` scoped to the entries `signer` signed.
pub fn signed_by(key: IndexKey, signer: &reprove_verifier::note::NoteVerifier) -> IndexKey {
    IndexKey::SignedBy {
        signer: signer.to_string(),
        key: Box::new(key),
    }
}

/// The lookup key a `proven/…` path and query name (vkeys hex-encoded, as `reprove` sends
/// them), or `None`.
fn parse_proven(path: &str, query: Option<&str>) -> Option<IndexKey> {
    let rest = path.strip_prefix("proven/")?;
    let vkey = |h: &str| String::from_utf8(hex::decode(h).ok()?).ok();
    let (kind, arg) = rest.split_once('/')?;
    let key = match kind {
        "sha256" => IndexKey::Artifact(hex::decode(arg).ok()?.try_into().ok()?),
        "key" => IndexKey::Signer(vkey(arg)?),
        "revocations" => IndexKey::RevokedKey(vkey(arg)?),
        "project" => IndexKey::Project(percent_decode(arg)?),
        "release" => {
            let (n, v) = arg.split_once('/')?;
            IndexKey::Release {
                name: percent_decode(n)?,
                version: percent_decode(v)?,
            }
        }
        _ => return None,
    };
    match query.and_then(|q| q.strip_prefix("signer=")) {
        None => Some(key),
        Some(s) => Some(IndexKey::SignedBy {
            signer: vkey(s)?,
            key: Box::new(key),
        }),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
