//! A client of a reprove log: the c2sp tlog-tiles read API (checkpoint, tiles, entry bundles),
//! reprove's extras (entries, proofs, consistency proofs) and `POST /add`.
//!
//! Nothing fetched is trusted. The checkpoint is only handed out as a
//! [`VerifiedCheckpoint`] (its signature checked against the caller's log key); tiles and
//! bundles are only parsed (their shape checked), and callers prove them against a verified
//! root ([`LogClient::inclusion_from_tiles`], [`LogClient::consistency_from_tiles`], or the
//! auditor, which recomputes everything). Full tiles and bundles are immutable, so they may be
//! kept in a local cache directory; cached bytes are parsed and proven exactly like fetched
//! ones.
//!
//! The client is blocking (ureq) and cheap to clone; clones share one keep-alive connection
//! pool.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reprove_ledger::IndexKey;
use reprove_verifier::blob::{self, BlobSignature};
use reprove_verifier::checkpoint::{
    Checkpoint, VerifiedCheckpoint, WitnessPolicy, verify_checkpoint,
};
use reprove_verifier::merkle::{
    Hash, consistency_nodes, consistency_proof, inclusion_nodes, inclusion_proof,
    verify_consistency, verify_inclusion,
};
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::proof::TlogProof;
use reprove_verifier::tiles::{
    BundleId, EntryBundle, Tile, TileHashReader, TileId, tiles_for_nodes,
};
use reprove_verifier::vindex::{IndexNote, ProvenAnswer};
use sha2::{Digest, Sha256};
use ureq::http::Uri;

/// How many times [`LogClient::submit`] sends a submission the log pushed back (503).
const SUBMIT_ATTEMPTS: u32 = 4;

/// The longest [`LogClient::submit`] waits before sending a pushed-back submission again.
const SUBMIT_RETRY_MAX_WAIT: Duration = Duration::from_secs(10);

/// The largest body the client reads: a full bundle of maximal entries (256 × 65,537 bytes)
/// plus slack.
const MAX_BODY: u64 = 17 << 20;

/// How the client talks to the log.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Keep full tiles and bundles here (created on first use).
    pub cache: Option<PathBuf>,
    /// The longest one request may take, body included.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            cache: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The body of a [`LogClient::send`].
#[derive(Debug)]
pub enum SendBody<'a> {
    /// Bytes in memory (a JSON request, an envelope).
    Bytes(&'a [u8]),
    /// A file, streamed with its length (an artifact of any size).
    File(&'a std::fs::File),
}

/// A client of one log, at one URL prefix.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    agent: ureq::Agent,
    cache: Option<PathBuf>,
    /// Partial tiles and bundles fetched by this client. A `.p/W` path names fixed content
    /// just like a full one (c2sp tlog-tiles), so one verification run that proves many
    /// entries under the same checkpoint fetches each partial tile once. In memory only:
    /// partial tiles are superseded as the log grows, so keeping them on disk would only
    /// accumulate garbage. Bounded; emptied when full.
    partials: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    /// Full tiles and bundles fetched from the network and not yet used by a proof that
    /// verified: they reach the disk cache only then, so a lying mirror cannot poison it.
    unproven: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
}

/// How many partial tiles and bundles a client keeps in memory.
const PARTIALS_KEPT: usize = 1024;

/// Why a request failed. [`FetchError::Transport`] and [`FetchError::Cache`] are about the
/// path to the data; the others are about what the server answered.
#[derive(Debug)]
pub enum FetchError {
    /// The server could not be reached, or the connection failed or timed out.
    Transport { url: String, error: String },
    /// The server does not have it (404).
    NotFound { url: String },
    /// Any other unsuccessful status; `body` is the start of the answer.
    Status {
        url: String,
        status: u16,
        body: String,
        /// The `Retry-After` seconds of a 503.
        retry_after: Option<u64>,
    },
    /// The answer does not have the format it must have.
    Invalid { url: String, reason: String },
    /// Reading or writing the local cache failed.
    Cache {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The answer to a submission: where the entry is and the proof of it.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The entry's index in the log.
    pub index: u64,
    /// Whether the log already had the entry.
    pub duplicate: bool,
    /// The tlog-proof: the inclusion proof and the signed checkpoint it leads to.
    pub proof: TlogProof,
}

impl LogClient {
    /// A client of the log at `url` (the prefix under which `checkpoint` and `tile/…` live).
    /// Loopback URLs never go through a proxy.
    pub fn new(url: &str, options: ClientOptions) -> anyhow::Result<LogClient> {
        let loopback = is_loopback_url(url)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("reprove/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(64);
        // ureq resolves names on a new thread per request whenever an overall timeout is set
        // (so the lookup can be abandoned). For an IP address there is nothing to look up: bound
        // each phase instead, which spares a thread per request (measurable under load).
        let mut config = if host_is_ip_literal(url) {
            let t = Some(options.timeout);
            config
                .timeout_connect(t)
                .timeout_send_request(t)
                .timeout_send_body(t)
                .timeout_recv_response(t)
                .timeout_recv_body(t)
        } else {
            config.timeout_global(Some(options.timeout))
        };
        if loopback {
            config = config.proxy(None);
        }
        Ok(LogClient {
            base: url.trim_end_matches('/').to_owned(),
            agent: config.build().into(),
            cache: options.cache,
            partials: Default::default(),
            unproven: Default::default(),
        })
    }

    /// The URL prefix.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The bytes at `path` under the prefix (`200` only).
    pub fn get(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}/{path}", self.base);
        let transport = |e: ureq::Error| FetchError::Transport {
            url: url.clone(),
            error: e.to_string(),
        };
        let resp = self.agent.get(&url).call().map_err(transport)?;
        read_response(&url, resp)
    }

    /// The signed checkpoint, verified against the log key (no witnesses required).
    pub fn checkpoint(&self, log_key: &NoteVerifier) -> Result<VerifiedCheckpoint, FetchError> {
        let bytes = self.get("checkpoint")?;
        verify_checkpoint(&bytes, log_key, &WitnessPolicy::none()).map_err(|e| {
            FetchError::Invalid {
                url: self.url("checkpoint"),
                reason: format!("checkpoint does not verify under {}: {e}", log_key.name()),
            }
        })
    }

    /// Tile `id` (parsed, not yet proven). Full tiles come from the cache when there.
    pub fn tile(&self, id: TileId) -> Result<Tile, FetchError> {
        let path = id.path();
        let bytes = self.cached_get(&path, id.is_full())?;
        Tile::parse(id, &bytes).map_err(|e| self.invalid(&path, e))
    }

    /// Entry bundle `id` (parsed, not yet proven). Full bundles come from the cache when
    /// there. Gzip-encoded answers are decompressed.
    pub fn bundle(&self, id: BundleId) -> Result<EntryBundle, FetchError> {
        let path = id.path();
        let bytes = self.cached_get(&path, id.is_full())?;
        EntryBundle::parse(id, &bytes).map_err(|e| self.invalid(&path, e))
    }
}

// Entries and submissions: what `verify`, the publisher and the rebuilder need. (Proofs are
// built from the tiles, never taken from the log's `/proof` or `/consistency`.)
impl LogClient {
    /// The entry at `index` (unproven: check its leaf hash with a proof).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, FetchError> {
        self.get(&format!("entry/{index}"))
    }

    /// Submits a DSSE envelope (JSON bytes) to `POST /add` and waits for the durable answer.
    ///
    /// A busy log answers 503 with `Retry-After`: the submission is sent again after that
    /// long (at most [`SUBMIT_RETRY_MAX_WAIT`] each time, [`SUBMIT_ATTEMPTS`] attempts in
    /// all). Sending again is safe: the log answers a duplicate with the original's index.
    pub fn submit(&self, envelope: &[u8]) -> Result<Submitted, FetchError> {
        let mut attempt = 1;
        loop {
            let result = self.submit_once(envelope);
            match result.as_ref().err().and_then(FetchError::retry_after) {
                Some(seconds) if attempt < SUBMIT_ATTEMPTS => {
                    let wait = Duration::from_secs(seconds).min(SUBMIT_RETRY_MAX_WAIT);
                    tracing::info!(attempt, ?wait, "the log is busy (503); submitting again");
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    fn submit_once(&self, envelope: &[u8]) -> Result<Submitted, FetchError> {
        let url = self.url("add");
        let transport = |e: ureq::Error| FetchError::Transport {
            url: url.clone(),
            error: e.to_string(),
        };
        let resp = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(envelope)
            .map_err(transport)?;
        let body = read_response(&url, resp)?;
        parse_submitted(&body).map_err(|reason| FetchError::Invalid { url, reason })
    }

    /// Stores `bytes` in the log's blob store (`PUT /blobs/sha256/<hex>`, signed by `signer`)
    /// and returns their SHA-256. Storing a blob the log already holds succeeds.
    pub fn put_blob(&self, signer: &NoteSigner, bytes: &[u8]) -> Result<[u8; 32], FetchError> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let url = self.url(&format!("blobs/sha256/{}", hex::encode(digest)));
        let signature = BlobSignature::sign(signer, &digest, bytes.len() as u64).encode();
        let resp = self
            .agent
            .put(&url)
            .header(blob::HEADER, &signature)
            .send(bytes)
            .map_err(|e| FetchError::Transport {
                url: url.clone(),
                error: e.to_string(),
            })?;
        // 201: stored now; 200: the log already held it. Both are success (the answer is a
        // short JSON object, well within what a status error keeps of a body).
        let body = match read_response(&url, resp) {
            Err(FetchError::Status {
                status: 201, body, ..
            }) => body.into_bytes(),
            other => other?,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| FetchError::Invalid {
                url: url.clone(),
                reason: format!("answer is not JSON: {e}"),
            })?;
        if v["sha256"].as_str() != Some(hex::encode(digest).as_str()) {
            return Err(FetchError::Invalid {
                url,
                reason: "the answer names another digest".to_owned(),
            });
        }
        Ok(digest)
    }

    /// Sends `body` to `path` with `method` and `headers`; the status and the body of the
    /// answer, whatever the status (staged-release requests read the refusal's message).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: SendBody<'_>,
    ) -> Result<(u16, Vec<u8>), FetchError> {
        let url = self.url(path);
        let transport = |e: ureq::Error| FetchError::Transport {
            url: url.clone(),
            error: e.to_string(),
        };
        let mut resp = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                req.call().map_err(transport)?
            }
            (m, body) => {
                let mut req = match m {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                match body {
                    SendBody::Bytes(b) => req.send(b),
                    SendBody::File(f) => req.send(f),
                }
                .map_err(transport)?
            }
        };
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| FetchError::Transport {
                url: url.clone(),
                error: e.to_string(),
            })?;
        Ok((status, body))
    }

    /// The blob whose SHA-256 is `sha256`, checked against it.
    pub fn get_blob(&self, sha256: &[u8; 32]) -> Result<Vec<u8>, FetchError> {
        let path = format!("blobs/sha256/{}", hex::encode(sha256));
        let bytes = self.get(&path)?;
        let actual: [u8; 32] = Sha256::digest(&bytes).into();
        if &actual != sha256 {
            return Err(self.invalid(
                &path,
                format!("the blob's bytes hash to {}", hex::encode(actual)),
            ));
        }
        Ok(bytes)
    }

    /// The inclusion proof of `leaf` at `index` in `checkpoint`'s tree, built from the log's
    /// tiles and verified against the checkpoint's root.
    pub fn inclusion_from_tiles(
        &self,
        checkpoint: &VerifiedCheckpoint,
        index: u64,
        leaf: &Hash,
    ) -> Result<Vec<Hash>, FetchError> {
        let size = checkpoint.size();
        let invalid = |e: String| FetchError::Invalid {
            url: self.base.clone(),
            reason: e,
        };
        let nodes = inclusion_nodes(index, size).map_err(|e| invalid(e.to_string()))?;
        self.proven_once(size, nodes.ids(), |reader| {
            let proof = inclusion_proof(reader, index, size).map_err(|e| invalid(e.to_string()))?;
            verify_inclusion(leaf, index, size, &proof, checkpoint.root()).map_err(|e| {
                invalid(format!(
                    "the tiles' inclusion proof of entry {index} in tree {size} fails: {e}"
                ))
            })?;
            Ok(proof)
        })
    }

    /// Builds and checks a proof from the tiles holding `nodes` with `check`. The tiles it
    /// used are cached on disk only when it passes; when it fails and a tile came from the
    /// disk cache, those are evicted and the proof is built once more from the network, so a
    /// tile a lying mirror once left in the cache is not blamed on the log for ever.
    fn proven_once(
        &self,
        size: u64,
        nodes: &[reprove_verifier::merkle::NodeId],
        check: impl Fn(&TileHashReader) -> Result<Vec<Hash>, FetchError>,
    ) -> Result<Vec<Hash>, FetchError> {
        let ids = tiles_for_nodes(size, nodes).map_err(|e| self.invalid("tile", e))?;
        let paths: Vec<String> = ids
            .iter()
            .filter(|id| id.is_full())
            .map(|id| id.path())
            .collect();
        let first = self.reader_of(size, &ids).and_then(|r| check(&r));
        match first {
            Ok(proof) => {
                self.keep_proven(&paths);
                Ok(proof)
            }
            Err(e) if self.evict_cached(&paths) => {
                let again = self.reader_of(size, &ids).and_then(|r| check(&r));
                if again.is_ok() {
                    self.keep_proven(&paths);
                }
                again.map_err(|_| e)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes the fetched-but-unproven tiles or bundles at `paths` to the disk cache.
    pub fn keep_proven(&self, paths: &[String]) {
        let Some(dir) = &self.cache else { return };
        let mut unproven = self.unproven.lock().unwrap_or_else(|e| e.into_inner());
        for path in paths {
            if let Some(bytes) = unproven.remove(path) {
                // A cache that cannot be written only costs a refetch next time.
                let _ = write_atomic(&dir.join(path), &bytes);
            }
        }
    }

    /// Removes the tiles or bundles at `paths` from the disk cache (and from memory); whether
    /// any was there.
    pub fn evict_cached(&self, paths: &[String]) -> bool {
        let mut unproven = self.unproven.lock().unwrap_or_else(|e| e.into_inner());
        let mut any = false;
        for path in paths {
            unproven.remove(path);
            if let Some(dir) = &self.cache {
                any |= std::fs::remove_file(dir.join(path)).is_ok();
            }
        }
        any
    }

    /// The consistency proof between two verified checkpoints, built from the tiles of the
    /// newer one and verified against both roots.
    pub fn consistency_from_tiles(
        &self,
        old: &VerifiedCheckpoint,
        new: &VerifiedCheckpoint,
    ) -> Result<Vec<Hash>, FetchError> {
        let (first, second) = (old.size(), new.size());
        let invalid = |e: String| FetchError::Invalid {
            url: self.base.clone(),
            reason: e,
        };
        let check = |proof: &[Hash]| {
            verify_consistency(first, second, proof, old.root(), new.root()).map_err(|e| {
                invalid(format!(
                    "tree {second} is not consistent with tree {first}: {e}"
                ))
            })
        };
        if first == 0 || first >= second {
            check(&[])?;
            return Ok(Vec::new());
        }
        let nodes = consistency_nodes(first, second).map_err(|e| invalid(e.to_string()))?;
        self.proven_once(second, nodes.ids(), |reader| {
            let proof =
                consistency_proof(reader, first, second).map_err(|e| invalid(e.to_string()))?;
            check(&proof)?;
            Ok(proof)
        })
    }

    /// The consistency proof from tree size `first` to `second`, built from the tiles of tree
    /// `second` and NOT verified: for callers that judge it themselves (a consumer telling a
    /// fork from a tile it could not fetch). Empty when there is nothing to prove.
    pub fn consistency_proof_from_tiles(
        &self,
        first: u64,
        second: u64,
    ) -> Result<Vec<Hash>, FetchError> {
        if first == 0 || first >= second {
            return Ok(Vec::new());
        }
        let invalid = |e: String| FetchError::Invalid {
            url: self.base.clone(),
            reason: e,
        };
        let nodes = consistency_nodes(first, second).map_err(|e| invalid(e.to_string()))?;
        let reader = self.reader(second, nodes.ids())?;
        consistency_proof(&reader, first, second).map_err(|e| invalid(e.to_string()))
    }

    /// A hash reader over the tiles of the tree of `size` that hold `nodes`.
    fn reader(
        &self,
        size: u64,
        nodes: &[reprove_verifier::merkle::NodeId],
    ) -> Result<TileHashReader, FetchError> {
        let ids = tiles_for_nodes(size, nodes).map_err(|e| self.invalid("tile", e))?;
        self.reader_of(size, &ids)
    }

    /// A hash reader over the tiles `ids` of the tree of `size`.
    fn reader_of(&self, size: u64, ids: &[TileId]) -> Result<TileHashReader, FetchError> {
        let mut reader = TileHashReader::new(size);
        for &id in ids {
            let tile = self.tile(id)?;
            reader
                .insert(tile)
                .map_err(|e| self.invalid(&id.path(), e))?;
        }
        Ok(reader)
    }
}

/// The most lookup pages one lookup follows, and the page size it asks for (the server's
/// maximum): a million indices. Past that the lookup fails: a decision on part of the answer
/// could miss the one entry that matters (a log, or whoever fills a key's index with junk,
/// can push it past any budget).
const MAX_LOOKUP_PAGES: usize = 1000;
const LOOKUP_PAGE: usize = 1000;

impl LogClient {
    /// Every index a lookup path (`lookup/…`) answers, following `next` through all pages,
    /// sorted and without repeats. Fails, rather than answer in part, when
    /// the pages do not end within [`MAX_LOOKUP_PAGES`] or a page's `next` does not move on.
    /// Lookups are hints: callers prove every entry they use.
    pub fn lookup_all(&self, path: &str) -> anyhow::Result<Vec<u64>> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        let mut complete = false;
        for _ in 0..MAX_LOOKUP_PAGES {
            let join = if path.contains('?') { '&' } else { '?' };
            let page = match after {
                None => format!("{path}{join}limit={LOOKUP_PAGE}"),
                Some(a) => format!("{path}{join}after={a}&limit={LOOKUP_PAGE}"),
            };
            let LookupPage { indices, next } = self.lookup_page(&page)?;
            out.extend(indices);
            match next {
                None => {
                    complete = true;
                    break;
                }
                Some(n) if after.is_some_and(|a| n <= a) => anyhow::bail!(
                    "{}: the lookup's next page ({n}) does not move past the last ({}): refusing \
                     to decide on part of the answer",
                    self.url(path),
                    after.unwrap_or_default()
                ),
                Some(n) => after = Some(n),
            }
        }
        if !complete {
            anyhow::bail!(
                "{}: the lookup goes on past {MAX_LOOKUP_PAGES} pages ({} indices so far): \
                 refusing to decide on part of the answer (someone may be filling this index \
                 to hide an entry)",
                self.url(path),
                out.len()
            );
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

impl LogClient {
    /// A proven lookup: every index under `key`, with the proof checked — the index note is
    /// signed by `log_key`, the list is the key's whole list under its index root, and the
    /// note's tree is `under`'s or extends it (checked with a consistency proof built from
    /// the tiles). Returns the indices inside `under`'s tree and those past it. Every failure
    /// is an error, never "nothing found": a log that leaves an entry out of a list, serves
    /// a stale index or signs an index of another tree is caught here.
    pub fn proven_lookup(
        &self,
        key: &IndexKey,
        log_key: &NoteVerifier,
        under: &Checkpoint,
    ) -> anyhow::Result<Proven> {
        let path = key
            .proven_path()
            .ok_or_else(|| anyhow::anyhow!("the lookup {key:?} cannot be proven"))?;
        let body = match self.get(&path) {
            Ok(b) => b,
            Err(FetchError::NotFound { url }) => anyhow::bail!(
                "{url}: not found (404): this server serves no proven lookups — a static mirror \
                 of a log's tiles and checkpoint (or a ledger older than the verifiable index) \
                 cannot prove which entries name an artifact. Point --ledger at a reprove \
                 ledger (`reprove ledger serve`), or verify offline with --bundle"
            ),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("looking up {path}"))),
        };
        let answer: ProvenAnswer = serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("{}: not a proven lookup answer: {e}", self.url(&path)))?;
        let note = answer
            .verify(log_key, &key.encoding())
            .map_err(|e| anyhow::anyhow!("{}: the lookup's proof fails: {e}", self.url(&path)))?;
        self.check_index_note(&note, under)
            .map_err(|e| e.context(format!("{}: the lookup's index note", self.url(&path))))?;
        let (inside, later) = answer.indices.iter().partition(|&&i| i < under.size());
        Ok(Proven {
            key: key.clone(),
            inside,
            later,
            note,
            answer,
        })
    }

    /// Checks that `note` is bound to `under` ([`IndexNote::check_binds`]), with the
    /// consistency proof built from the tiles when the note's tree is larger.
    pub fn check_index_note(&self, note: &IndexNote, under: &Checkpoint) -> anyhow::Result<()> {
        let proof = if note.size > under.size() && under.size() > 0 {
            self.consistency_proof_from_tiles(under.size(), note.size)?
        } else {
            Vec::new()
        };
        Ok(note.check_binds(under, &proof)?)
    }
}

/// A proven lookup, checked against a checkpoint.
#[derive(Debug, Clone)]
pub struct Proven {
    /// The key looked up.
    pub key: IndexKey,
    /// The indices inside the checkpoint's tree.
    pub inside: Vec<u64>,
    /// The indices logged after it (the index note covers a larger tree).
    pub later: Vec<u64>,
    /// The index note the list is proven under.
    pub note: IndexNote,
    /// The answer as served.
    pub answer: ProvenAnswer,
}

/// One page of a lookup answer.
#[derive(Debug, serde::Deserialize)]
pub struct LookupPage {
    pub indices: Vec<u64>,
    pub next: Option<u64>,
}

impl LogClient {
    /// One page of a lookup (`path` with its query). A ledger answers every lookup, with
    /// no indices when nothing matches, so a 404 means the server has no lookups at all (a
    /// static mirror of the tiles): an error, never "no entries" — deciding "not trusted"
    /// from a mirror that cannot say would be a wrong answer, not a safe one.
    pub fn lookup_page(&self, path: &str) -> anyhow::Result<LookupPage> {
        let body = match self.get(path) {
            Ok(b) => b,
            Err(FetchError::NotFound { url }) => anyhow::bail!(
                "{url}: not found (404): this server serves no lookups — a static mirror of a \
                 log's tiles and checkpoint cannot say which entries name an artifact. Point \
                 --ledger at a reprove ledger (`reprove ledger serve`), or verify offline with \
                 --bundle"
            ),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("looking up {path}"))),
        };
        serde_json::from_slice(&body)
            .map_err(|e| anyhow::anyhow!("{}: not a lookup answer: {e}", self.url(path)))
    }
}

/// The lookup key of the release manifests and rebuild attestations of `name`@`version`.
pub fn release_key(name: &str, version: &str) -> IndexKey {
    IndexKey::Release {
        name: name.to_owned(),
        version: version.to_owned(),
    }
}

/// `key` (an artifact, release, project or revoked-key lookup) scoped to the entries `signer`
/// signed: the log keeps these lists only for signatures that verified, so strangers' entries
/// cannot crowd the signer's out of the answer.
pub fn signed_by(key: IndexKey, signer: &NoteVerifier) -> IndexKey {
    IndexKey::SignedBy {
        signer: signer.to_string(),
        key: Box::new(key),
    }
}

pub use reprove_ledger::path_segment;

impl LogClient {
    /// `get`, through the cache for immutable paths.
    fn cached_get(&self, path: &str, immutable: bool) -> Result<Vec<u8>, FetchError> {
        if !immutable {
            return self.partial_get(path);
        }
        let file = match &self.cache {
            Some(dir) => dir.join(path),
            None => return self.get(path),
        };
        match std::fs::read(&file) {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(FetchError::Cache { path: file, error }),
        }
        if let Some(bytes) = self
            .unproven
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
        {
            return Ok(bytes.clone());
        }
        // Cached on disk only once a proof that used it verifies (`keep_proven`).
        let bytes = self.get(path)?;
        let mut unproven = self.unproven.lock().unwrap_or_else(|e| e.into_inner());
        if unproven.len() >= PARTIALS_KEPT {
            unproven.clear();
        }
        unproven.insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }

    /// `get` of a partial tile or bundle, remembered for the life of this client.
    fn partial_get(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        let lock = || self.partials.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bytes) = lock().get(path) {
            return Ok(bytes.clone());
        }
        let bytes = self.get(path)?;
        let mut kept = lock();
        if kept.len() >= PARTIALS_KEPT {
            kept.clear();
        }
        kept.insert(path.to_owned(), bytes.clone());
        Ok(bytes)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    fn invalid(&self, path: &str, reason: impl fmt::Display) -> FetchError {
        FetchError::Invalid {
            url: self.url(path),
            reason: reason.to_string(),
        }
    }
}

impl FetchError {
    /// Whether the failure is on the way to the data (unreachable server, local cache), not
    /// in what the server answered.
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport { .. } | Self::Cache { .. })
    }

    /// The `Retry-After` of a request refused with 503 (the server is busy), in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Status {
                status: 503,
                retry_after,
                ..
            } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport { url, error } => write!(f, "GET/POST {url}: {error}"),
            Self::NotFound { url } => write!(f, "{url}: not found (404)"),
            Self::Status {
                url, status, body, ..
            } => write!(f, "{url}: HTTP {status}: {body}"),
            Self::Invalid { url, reason } => write!(f, "{url}: {reason}"),
            Self::Cache { path, error } => write!(f, "tile cache {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for FetchError {}

/// Whether `url` is an `http(s)://` URL whose host is a loopback address or `localhost`.
/// Errors on anything that is not an http(s) URL with a host.
/// Whether the URL's host is an IP address (`127.0.0.1`, `[::1]`), not a name to resolve.
fn host_is_ip_literal(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.parse::<std::net::IpAddr>().is_ok()
}

pub fn is_loopback_url(url: &str) -> anyhow::Result<bool> {
    let uri: Uri = url
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid URL {url:?}: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => anyhow::bail!("invalid URL {url:?}: it must start with http:// or https://"),
    }
    let Some(host) = uri.host() else {
        anyhow::bail!("invalid URL {url:?}: no host");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(true);
    }
    Ok(host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback()))
}

/// Reads a response body (at most [`MAX_BODY`]) and checks its status.
fn read_response(
    url: &str,
    mut resp: ureq::http::Response<ureq::Body>,
) -> Result<Vec<u8>, FetchError> {
    let status = resp.status().as_u16();
    let retry = retry_after(&resp);
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| FetchError::Transport {
            url: url.to_owned(),
            error: e.to_string(),
        })?;
    check_status(url, status, body, retry)
}

fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    resp.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn check_status(
    url: &str,
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u64>,
) -> Result<Vec<u8>, FetchError> {
    match status {
        200 => Ok(body),
        404 => Err(FetchError::NotFound {
            url: url.to_owned(),
        }),
        _ => {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
            Err(FetchError::Status {
                url: url.to_owned(),
                status,
                body: text.trim().to_owned(),
                retry_after,
            })
        }
    }
}

/// Parses `{"index": N, "duplicate": bool, "proof": "<tlog-proof text>"}`.
pub(crate) fn parse_submitted(body: &[u8]) -> Result<Submitted, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    let index = v["index"]
        .as_u64()
        .ok_or("answer has no numeric \"index\"")?;
    let duplicate = v["duplicate"]
        .as_bool()
        .ok_or("answer has no boolean \"duplicate\"")?;
    let proof = v["proof"]
        .as_str()
        .ok_or("answer has no string \"proof\"")?;
    let proof = TlogProof::parse(proof.as_bytes()).map_err(|e| format!("answer's proof: {e}"))?;
    if proof.index() != index {
        return Err(format!(
            "answer's proof is for index {}, not {index}",
            proof.index()
        ));
    }
    Ok(Submitted {
        index,
        duplicate,
        proof,
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, creating parents, so a
/// reader never sees a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = parent.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup server on 127.0.0.1 whose page after `a` is `page(a)` (bounded: it stops
    /// answering after 2,000 requests).
    fn lookup_server(page: fn(Option<u64>) -> String) -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut served = 0;
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut out = conn;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let after = line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|t| t.split("after=").nth(1))
                        .and_then(|v| v.split('&').next())
                        .and_then(|v| v.parse().ok());
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                            break;
                        }
                    }
                    let body = page(after);
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    served += 1;
                    if served > 2000 {
                        return;
                    }
                }
            }
        });
        url
    }

    #[test]
    fn a_lookup_that_never_ends_fails_instead_of_answering_in_part() {
        let url = lookup_server(|after| {
            let a = after.unwrap_or(0);
            format!("{{\"indices\":[{a}],\"next\":{}}}", a + 1)
        });
        let c = LogClient::new(&url, ClientOptions::default()).unwrap();
        let err = c.lookup_all("lookup/key/530d903a").unwrap_err().to_string();
        assert!(err.contains("goes on past 1000 pages"), "{err}");
        let url = lookup_server(|_| "{\"indices\":[1],\"next\":5}".to_owned());
        let c = LogClient::new(&url, ClientOptions::default()).unwrap();
        let err = c.lookup_all("lookup/key/530d903a").unwrap_err().to_string();
        assert!(err.contains("does not move past"), "{err}");
        let url = lookup_server(|after| match after {
            None => "{\"indices\":[1,2],\"next\":2}".to_owned(),
            Some(_) => "{\"indices\":[3],\"next\":null}".to_owned(),
        });
        let c = LogClient::new(&url, ClientOptions::default()).unwrap();
        assert_eq!(c.lookup_all("lookup/key/530d903a").unwrap(), [1, 2, 3]);
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(path_segment("a/b c%"), "a%2Fb%20c%25");
        assert_eq!(path_segment("hello-1.2_~"), "hello-1.2_~");
        assert_eq!(
            release_key("a b", "1/2").proven_path().unwrap(),
            "proven/release/a%20b/1%2F2"
        );
    }

    #[test]
    fn ip_literal_hosts() {
        for ip in [
            "http://127.0.0.1:8080",
            "http://10.1.2.3/x/y",
            "http://[::1]:9/",
            "https://user@192.0.2.1",
        ] {
            assert!(host_is_ip_literal(ip), "{ip}");
        }
        for name in [
            "http://localhost:1/",
            "https://log.example.org",
            "http://1.2.3.4.example/",
        ] {
            assert!(!host_is_ip_literal(name), "{name}");
        }
    }

    #[test]
    fn loopback_urls() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/x",
            "http://localhost:1/",
            "http://[::1]:9/",
            "https://LOCALHOST",
        ] {
            assert!(is_loopback_url(ok).unwrap(), "{ok}");
        }
        for remote in [
            "http://10.0.0.1",
            "https://example.com/log",
            "http://[::2]:1",
        ] {
            assert!(!is_loopback_url(remote).unwrap(), "{remote}");
        }
        for bad in ["ftp://127.0.0.1", "127.0.0.1:80", "", "http://"] {
            assert!(is_loopback_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn submitted_answers_are_checked() {
        assert!(parse_submitted(b"{}").is_err());
        assert!(parse_submitted(b"not json").is_err());
        assert!(parse_submitted(br#"{"index":1,"duplicate":false,"proof":"x"}"#).is_err());
    }
}
