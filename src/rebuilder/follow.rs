//! Tailing the log like any monitor: from the persisted cursor, read the entry bundles,
//! prove each one against a checkpoint signed by the log key, and turn every release
//! manifest the node accepts into a job.
//!
//! Trust: the node trusts the log key and nothing the server says without proof. Each
//! checkpoint must verify under the log key and be consistent (a consistency proof built from
//! the tiles) with the last one this node verified, which is stored in the job table: a log
//! that rolls back or forks is an error that stops the node, never something it follows.
//! Each bundle is proven into the checkpoint's root before any of its entries is read.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use reprove_verifier::checkpoint::{VerifiedCheckpoint, WitnessPolicy, verify_checkpoint};
use reprove_verifier::merkle::{NodeId, compact_range, node_inclusion_nodes};
use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::EntryKind;
use reprove_verifier::signed::SignedEntry;
use reprove_verifier::tiles::{
    BundleId, EntryBundle, TILE_WIDTH, Tile, TileHashReader, tiles_for_nodes,
};

use super::jobs::{JobTable, NewJob};
use crate::client::LogClient;

/// Reads the log for one node.
#[derive(Debug, Clone)]
pub struct Follower {
    client: LogClient,
    log_key: NoteVerifier,
    /// Only releases signed by one of these keys become jobs; empty: every release.
    publishers: Vec<NoteVerifier>,
}

/// What one pass read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// The tree size of the checkpoint the pass read up to.
    pub size: u64,
    /// Jobs created.
    pub created: usize,
    /// Release manifests skipped (publisher not accepted).
    pub skipped: usize,
    /// Whether the cursor reached the checkpoint's size.
    pub caught_up: bool,
}

impl Follower {
    pub fn new(client: LogClient, log_key: NoteVerifier, publishers: Vec<NoteVerifier>) -> Self {
        Self {
            client,
            log_key,
            publishers,
        }
    }

    /// One pass: fetch and check the checkpoint, then read every bundle from the cursor to
    /// its size (stopping early when `stop` is set). Each bundle's jobs and the cursor past it
    /// are written together.
    pub fn poll(&self, table: &JobTable, stop: &AtomicBool) -> anyhow::Result<Pass> {
        let checkpoint = self.checkpoint(table)?;
        let size = checkpoint.size();
        let mut pass = Pass {
            size,
            ..Pass::default()
        };
        let mut cursor = table.cursor();
        if cursor > size {
            bail!(
                "the job table has read {cursor} entries, but the log's checkpoint has only {size}"
            );
        }
        while cursor < size && !stop.load(Ordering::Relaxed) {
            let n = cursor / u64::from(TILE_WIDTH);
            let id = BundleId::in_tree(n, size).context("a bundle index inside the tree")?;
            let bundle = self
                .client
                .bundle(id)
                .with_context(|| format!("fetching entry bundle {n}"))?;
            self.prove(&checkpoint, &bundle)
                .with_context(|| format!("entry bundle {n} does not verify"))?;
            let first = n * u64::from(TILE_WIDTH);
            let mut jobs = Vec::new();
            for (i, entry) in bundle.entries().iter().enumerate() {
                let index = first + i as u64;
                if index < cursor {
                    continue;
                }
                match self.classify(index, entry) {
                    Found::Release(job) => jobs.push(job),
                    Found::Skipped(why) => {
                        pass.skipped += 1;
                        tracing::info!(index, "skipping release: {why}");
                    }
                    Found::Other => {}
                }
            }
            let end = first + u64::from(id.width());
            let created = table.ingest(end, &jobs)?;
            for job in &jobs {
                tracing::info!(
                    index = job.log_index,
                    "queued release {}@{}",
                    job.project,
                    job.version
                );
            }
            pass.created += created;
            cursor = end;
        }
        pass.caught_up = cursor == size;
        Ok(pass)
    }

    /// The log's checkpoint, verified and consistent with the stored one, which it replaces.
    fn checkpoint(&self, table: &JobTable) -> anyhow::Result<VerifiedCheckpoint> {
        let new = self
            .client
            .checkpoint(&self.log_key)
            .context("fetching the log's checkpoint")?;
        let old = match table.checkpoint()? {
            None => None,
            Some(bytes) => Some(
                verify_checkpoint(&bytes, &self.log_key, &WitnessPolicy::none())
                    .context("the stored checkpoint does not verify under the log key")?,
            ),
        };
        if let Some(old) = &old {
            if new.size() < old.size() {
                bail!(
                    "the log serves a checkpoint of size {} after this node verified size {}: \
                     a log never shrinks (rolled back or forked); refusing to follow it",
                    new.size(),
                    old.size()
                );
            }
            if new.size() == old.size() {
                if new.root() != old.root() {
                    bail!(
                        "the log signed two different roots for tree size {}: it forked",
                        new.size()
                    );
                }
                return Ok(new);
            }
            self.client.consistency_from_tiles(old, &new).context(
                "the log's new checkpoint is not consistent with the last one verified (fork)",
            )?;
        }
        table.save_checkpoint(new.signed_note())?;
        Ok(new)
    }

    /// Proves every entry of `bundle` into the checkpoint's root. Its own level-0 tile is
    /// derived from the entries; the tiles above come from the log (and are authenticated by
    /// the proof).
    fn prove(&self, checkpoint: &VerifiedCheckpoint, bundle: &EntryBundle) -> anyhow::Result<()> {
        let size = checkpoint.size();
        let id = bundle.id();
        let mut reader = TileHashReader::new(size);
        reader.insert(Tile::new(id.tile(), bundle.leaf_hashes())?)?;
        let first = id.index() * u64::from(TILE_WIDTH);
        let mut nodes: Vec<NodeId> = Vec::new();
        for sub in compact_range(first, first + u64::from(id.width())) {
            nodes.extend_from_slice(node_inclusion_nodes(sub, size)?.ids());
        }
        let mut used = vec![id.path()];
        for tile in tiles_for_nodes(size, &nodes)? {
            if tile.level() == 0 && tile.index() == id.index() {
                continue;
            }
            let fetched = self
                .client
                .tile(tile)
                .with_context(|| format!("fetching tile {}", tile.path()))?;
            reader.insert(fetched)?;
            used.push(tile.path());
        }
        reader.verify_bundle(bundle, checkpoint.root())?;
        // Proven: the tiles and the bundle may go to the disk cache now.
        self.client.keep_proven(&used);
        Ok(())
    }

    /// What entry `index` means to this node.
    fn classify(&self, index: u64, bytes: &[u8]) -> Found {
        let Ok(opened) = SignedEntry::open(bytes) else {
            return Found::Other;
        };
        let EntryKind::Release(manifest) = opened.entry().kind() else {
            return Found::Other;
        };
        let (project, version) = (&manifest.predicate.project, &manifest.predicate.version);
        if !self.publishers.is_empty() && !self.publishers.iter().any(|p| opened.signed_by(p)) {
            return Found::Skipped(format!(
                "{project}@{version} (entry {index}) is not signed by an accepted --publisher"
            ));
        }
        Found::Release(NewJob {
            log_index: index,
            project: project.clone(),
            version: version.clone(),
            entry: bytes.to_vec(),
        })
    }
}

/// An entry, as the follower sees it.
enum Found {
    /// A release manifest to rebuild.
    Release(NewJob),
    /// A release manifest this node does not rebuild, and why.
    Skipped(String),
    /// Anything else (attestations, revocations): not the follower's business.
    Other,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use reprove_ledger::http::{HttpConfig, router, serve};
    use reprove_ledger::{Ledger, Sequencer, SequencerConfig, Submission, TokioClock};
    use reprove_verifier::note::NoteSigner;
    use reprove_verifier::predicates::{
        Artifact, Digests, Entry, Environment, Recipe, ReleaseManifest, ReleasePredicate, Source,
    };

    use super::*;
    use crate::client::ClientOptions;

    fn log_signer() -> NoteSigner {
        NoteSigner::from_seed("example.com/follow-test", &[9; 32]).unwrap()
    }

    fn publisher(seed: u8) -> NoteSigner {
        NoteSigner::from_seed(&format!("publisher{seed}.example"), &[seed; 32]).unwrap()
    }

    fn release(signer: &NoteSigner, i: u64) -> Vec<u8> {
        let name = format!("p{i}.tar.gz");
        let entry = Entry::new(EntryKind::Release(ReleaseManifest {
            subjects: vec![Artifact {
                name: name.clone(),
                digest: Digests::sha256([i as u8; 32]),
            }],
            predicate: ReleasePredicate {
                third_party_import: None,
                project: format!("p{i}"),
                version: "1.0".to_owned(),
                artifacts: BTreeMap::new(),
                source: Source::Git {
                    uri: "https://example.com/p.git".to_owned(),
                    commit: "a".repeat(40),
                },
                recipe: Recipe {
                    inputs: Vec::new(),
                    build_deps: Vec::new(),
                    unpinned_outputs: Default::default(),
                    build_user: Default::default(),
                    command: vec!["make".to_owned()],
                    environment: Environment::Host {},
                    source_date_epoch: Some(1),
                    env: BTreeMap::new(),
                    outputs: [(format!("out/{name}"), name)].into_iter().collect(),
                },
            },
        }))
        .unwrap();
        crate::sign::sign_statement(signer, &entry.encode())
            .unwrap()
            .encode()
    }

    /// Entry `i`: a release by publisher 1 (i % 3 == 0), by publisher 2 (== 1), or not a
    /// release at all.
    fn entry(i: u64, salt: &str) -> Vec<u8> {
        match i % 3 {
            0 => release(&publisher(1), i),
            1 => release(&publisher(2), i),
            _ => format!("{{\"other\":{i},\"salt\":\"{salt}\"}}").into_bytes(),
        }
    }

    /// A log of `n` entries served on 127.0.0.1; the runtime serves until dropped.
    struct Served {
        _dir: tempfile::TempDir,
        _rt: tokio::runtime::Runtime,
        url: String,
        head: Vec<u8>,
    }

    fn serve_log(n: u64, salt: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        Ledger::init(dir.path(), &log_signer()).unwrap();
        let (ledger, mut writer) = Ledger::open(dir.path(), log_signer()).unwrap();
        let all: Vec<Submission> = (0..n)
            .map(|i| Submission::new(entry(i, salt), Vec::new()))
            .collect();
        for chunk in all.chunks(100) {
            writer.append(chunk).unwrap();
        }
        let head = ledger.head().note().to_vec();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let url = rt.block_on(async move {
            let seq =
                Sequencer::start(writer, SequencerConfig::default(), Arc::new(TokioClock)).unwrap();
            let app = router(Arc::new(ledger), Arc::new(seq), HttpConfig::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(serve(listener, app, std::future::pending()));
            format!("http://{addr}")
        });
        Served {
            _dir: dir,
            _rt: rt,
            url,
            head,
        }
    }

    fn follower(url: &str, publishers: Vec<NoteVerifier>) -> Follower {
        let client = LogClient::new(url, ClientOptions::default()).unwrap();
        Follower::new(client, log_signer().verifier(), publishers)
    }

    fn table(dir: &std::path::Path) -> JobTable {
        JobTable::open(dir, &log_signer().verifier(), &publisher(7).verifier()).unwrap()
    }

    #[test]
    fn releases_of_accepted_publishers_become_jobs_once() {
        let log = serve_log(600, "a");
        let work = tempfile::tempdir().unwrap();
        let stop = AtomicBool::new(false);
        let f = follower(&log.url, vec![publisher(1).verifier()]);
        {
            let t = table(work.path());
            let pass = f.poll(&t, &stop).unwrap();
            assert_eq!((pass.size, pass.created, pass.skipped), (600, 200, 200));
            assert!(pass.caught_up);
            let jobs = t.jobs().unwrap();
            assert!(jobs.iter().all(|j| j.log_index % 3 == 0));
            assert_eq!(jobs[1].project, "p3");
        }
        // Restarted: the cursor and checkpoint persisted; nothing is queued twice.
        let t = table(work.path());
        assert_eq!(t.cursor(), 600);
        let pass = f.poll(&t, &stop).unwrap();
        assert_eq!((pass.created, pass.skipped), (0, 0));
        assert_eq!(t.counts().queued, 200);
        // Without --publisher, every release is a job.
        let all = tempfile::tempdir().unwrap();
        let pass = follower(&log.url, Vec::new())
            .poll(&table(all.path()), &stop)
            .unwrap();
        assert_eq!((pass.created, pass.skipped), (400, 0));
    }

    #[test]
    fn a_forked_or_rolled_back_log_is_refused() {
        let honest = serve_log(300, "a");
        let forked = serve_log(300, "b");
        let shorter = serve_log(10, "a");
        let stop = AtomicBool::new(false);

        // The node saw the honest log; the server now shows another tree of the same size.
        let work = tempfile::tempdir().unwrap();
        let t = table(work.path());
        t.save_checkpoint(&honest.head).unwrap();
        let e = follower(&forked.url, Vec::new())
            .poll(&t, &stop)
            .unwrap_err();
        assert!(format!("{e:#}").contains("forked"), "{e:#}");
        assert_eq!(t.cursor(), 0, "nothing was read from the forked log");

        // A smaller tree than the one seen.
        let e = follower(&shorter.url, Vec::new())
            .poll(&t, &stop)
            .unwrap_err();
        assert!(format!("{e:#}").contains("never shrinks"), "{e:#}");

        // A bigger tree that does not extend the one seen.
        let bigger_fork = serve_log(400, "b");
        let e = follower(&bigger_fork.url, Vec::new())
            .poll(&t, &stop)
            .unwrap_err();
        assert!(format!("{e:#}").contains("not consistent"), "{e:#}");
        assert_eq!(t.counts().queued, 0);

        // A log key that does not sign the served checkpoint.
        let client = LogClient::new(&honest.url, ClientOptions::default()).unwrap();
        let wrong = Follower::new(client, publisher(3).verifier(), Vec::new());
        let fresh = tempfile::tempdir().unwrap();
        assert!(wrong.poll(&table(fresh.path()), &stop).is_err());
    }
}
