//! Staged releases on the ledger: artifact sets, who owns a project, and the rules an entry
//! posted through a set must follow.
//!
//! A **set** is planned for one project and version by one publisher key, at a URL fixed at
//! once (`/sets/<id>/<file>`); files are uploaded into it (the blob store holds the bytes) and
//! served from it at once (the preview). Everything after that is a log entry — the release
//! manifest that seals the set, the announcement that moves "latest", the withdrawal and the
//! yank — so the state of a version is derived from the log alone
//! ([`reprove_verifier::staging`]), with the project's owners as the keys that speak for it.
//! Only the set's files, its planner and the project's first planner are stored here (the
//! `sets` column family): they are the ledger's hosting, not facts of the log.
//!
//! Keys: `s` + set id → [`SetRecord`] (JSON); `o` + project → the project's owner (vkey).

use std::collections::BTreeMap;
use std::path::Path;

use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{Digests, EntryKind, ReleaseRef};
use reprove_verifier::signed::SignedEntry;
use reprove_verifier::staging::{Fact, ProjectState, Speakers};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::index::{Direction, IndexKey, MAX_PAGE, PageRequest};
use crate::ledger::Ledger;
use crate::storage::Store;

/// The most files one set holds.
pub const MAX_SET_FILES: usize = 256;

/// One uploaded file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetFile {
    /// Its SHA-256, lowercase hex (the blob holding its bytes).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its BLAKE3, lowercase hex, hashed by the ledger from the bytes it received (the same
    /// bytes that hashed to `sha256`): what a download re-hashes the stored blob against,
    /// because BLAKE3 costs a fraction of SHA-256's CPU. Absent from records written before
    /// it existed; those downloads re-hash with SHA-256. Never shown by the read API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blake3: Option<String>,
}

/// An artifact set as the ledger stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRecord {
    /// The set's id: 32 lowercase hex digits, a function of project and version.
    pub id: String,
    /// The project.
    pub project: String,
    /// The version.
    pub version: String,
    /// The key that planned it (vkey).
    pub owner: String,
    /// When it was planned (Unix seconds, the ledger's clock).
    pub planned: u64,
    /// Its files by name.
    pub files: BTreeMap<String, SetFile>,
}

/// Why a set operation is refused (the HTTP layer maps each to a 4xx).
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// A malformed request (400).
    #[error("{0}")]
    Invalid(String),
    /// The key may not act on this project or set (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such set (404).
    #[error("{0}")]
    NotFound(String),
    /// The set's state forbids it (409).
    #[error("{0}")]
    Conflict(String),
    /// The set was withdrawn (410).
    #[error("{0}")]
    Gone(String),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] Error),
}

/// The keys that speak for one project on this ledger: its owner (the key that planned its
/// first set) and the keys the ledger's configuration names for it.
#[derive(Debug, Clone)]
pub struct Owners {
    keys: Vec<NoteVerifier>,
}

impl Owners {
    /// Whether `key` is one of them.
    pub fn contains(&self, key: &NoteVerifier) -> bool {
        self.keys.contains(key)
    }

    /// The keys.
    pub fn keys(&self) -> &[NoteVerifier] {
        &self.keys
    }
}

impl Speakers for Owners {
    fn may_publish(&self, _project: &str, key: &NoteVerifier) -> bool {
        self.contains(key)
    }

    fn same_publisher(&self, _project: &str, a: &NoteVerifier, b: &NoteVerifier) -> bool {
        self.contains(a) && self.contains(b)
    }
}

/// The set id of `project`@`version`: one set per version on a ledger, so planning again is
/// idempotent and the URL is known before anything is uploaded.
pub fn set_id(project: &str, version: &str) -> String {
    let digest = Sha256::digest(format!("reprove set v1\n{project}\n{version}\n"));
    hex::encode(&digest[..16])
}

/// Whether `id` is a well-formed set id.
pub fn is_set_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn set_key(id: &str) -> Vec<u8> {
    [b"s".as_slice(), id.as_bytes()].concat()
}

fn owner_key(project: &str) -> Vec<u8> {
    [b"o".as_slice(), project.as_bytes()].concat()
}

/// What `fsck` finds wrong with the `sets` column family of the log in `dir`, as
/// `(record, problem)`: every set record parses and is stored under its id, which is the id of
/// its project and version; every owner record is a vkey; every file of a set is a blob of the
/// recorded size whose bytes hash to the record (its BLAKE3 where recorded, else its SHA-256).
pub(crate) fn check_sets(store: &Store, dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let mut problems = Vec::new();
    for (k, v) in store.set_scan(b"o")? {
        let project = String::from_utf8_lossy(&k[1..]).into_owned();
        let owner = std::str::from_utf8(&v).ok().map(NoteVerifier::parse);
        if !matches!(owner, Some(Ok(_))) {
            problems.push((format!("owner of {project}"), "is not a vkey".to_owned()));
        }
    }
    for (k, v) in store.set_scan(b"s")? {
        let label = String::from_utf8_lossy(&k[1..]).into_owned();
        let Ok(set) = serde_json::from_slice::<SetRecord>(&v) else {
            problems.push((format!("set {label}"), "does not parse".to_owned()));
            continue;
        };
        if k != set_key(&set.id) || set.id != set_id(&set.project, &set.version) {
            problems.push((
                format!("set {label}"),
                format!(
                    "is not stored under the id of {}@{}",
                    set.project, set.version
                ),
            ));
        }
        for (name, f) in &set.files {
            if let Err(why) = check_set_file(dir, f) {
                problems.push((format!("set {label} file {name}"), why));
            }
        }
    }
    Ok(problems)
}

/// Whether the blob of `f` holds its bytes: the reason when not.
fn check_set_file(dir: &Path, f: &SetFile) -> Result<(), String> {
    use std::io::Read;
    let sha256: [u8; 32] = hex::decode(&f.sha256)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("its sha256 is not 64 hex digits")?;
    let blake3: Option<[u8; 32]> = match &f.blake3 {
        Some(b) => Some(
            hex::decode(b)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("its blake3 is not 64 hex digits")?,
        ),
        None => None,
    };
    let path = crate::blobs::blob_path(dir, &sha256);
    let mut file =
        std::fs::File::open(&path).map_err(|e| format!("its blob {}: {e}", path.display()))?;
    let (mut b3, mut sha) = (blake3::Hasher::new(), Sha256::new());
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("reading its blob {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        match blake3 {
            Some(_) => {
                b3.update(&buf[..n]);
            }
            None => sha.update(&buf[..n]),
        }
    }
    if size != f.size {
        return Err(format!(
            "its blob is {size} bytes, the record says {}",
            f.size
        ));
    }
    let matches = match blake3 {
        Some(expected) => *b3.finalize().as_bytes() == expected,
        None => <[u8; 32]>::from(sha.finalize()) == sha256,
    };
    if !matches {
        return Err("its blob's bytes are not the file's".to_owned());
    }
    Ok(())
}

impl Ledger {
    /// The set `id`, if planned.
    pub fn set(&self, id: &str) -> Result<Option<SetRecord>, Error> {
        let Some(bytes) = self.store().set_get(&set_key(id))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| Error::Bug("a stored set record does not parse"))
    }

    /// Stores `set`, durably.
    pub fn save_set(&self, set: &SetRecord) -> Result<(), Error> {
        let bytes = serde_json::to_vec(set).map_err(|_| Error::Bug("a set record serializes"))?;
        self.store().set_put(&set_key(&set.id), &bytes)
    }

    /// Every planned set, by id.
    pub fn sets(&self) -> Result<Vec<SetRecord>, Error> {
        self.store()
            .set_scan(b"s")?
            .into_iter()
            .map(|(_, v)| {
                serde_json::from_slice(&v).map_err(|_| Error::Bug("a stored set record parses"))
            })
            .collect()
    }

    /// The keys that speak for `project`: its owner and `configured` (the ledger's
    /// per-project allow-list).
    pub fn owners(&self, project: &str, configured: &[NoteVerifier]) -> Result<Owners, Error> {
        let mut keys = configured.to_vec();
        if let Some(owner) = self.store().set_get(&owner_key(project))? {
            let owner = std::str::from_utf8(&owner)
                .ok()
                .and_then(|s| NoteVerifier::parse(s).ok())
                .ok_or(Error::Bug("a stored project owner is a vkey"))?;
            if !keys.contains(&owner) {
                keys.push(owner);
            }
        }
        Ok(Owners { keys })
    }

    /// Plans the set of `project`@`version` for `key` (idempotent for the same key): the set,
    /// and whether this call created it. The first key to plan a project owns it, unless the
    /// configuration names the project's keys.
    pub fn plan_set(
        &self,
        project: &str,
        version: &str,
        key: &NoteVerifier,
        configured: &[NoteVerifier],
        now: u64,
    ) -> Result<(SetRecord, bool), SetError> {
        let owners = self.owners(project, configured)?;
        let unowned = owners.keys().is_empty();
        if !unowned && !owners.contains(key) {
            return Err(SetError::Forbidden(format!(
                "{} may not plan releases of {project}: the project belongs to {}",
                key.name(),
                names(owners.keys())
            )));
        }
        let id = set_id(project, version);
        if let Some(set) = self.set(&id)? {
            return Ok((set, false));
        }
        let state = self.project_state(project, &owners)?;
        if state.version(version).is_some() || state.withdrawal(version).is_some() {
            return Err(SetError::Conflict(format!(
                "{project}@{version} is already in the log: a version is never reused"
            )));
        }
        if unowned {
            self.store()
                .set_put(&owner_key(project), key.to_string().as_bytes())?;
        }
        let set = SetRecord {
            id,
            project: project.to_owned(),
            version: version.to_owned(),
            owner: key.to_string(),
            planned: now,
            files: BTreeMap::new(),
        };
        self.save_set(&set)?;
        Ok((set, true))
    }

    /// What the log says of `project`'s staged releases, with `owners` speaking for it: their
    /// release manifests and staged entries, read through the project's lookups.
    pub fn project_state(&self, project: &str, owners: &Owners) -> Result<ProjectState, Error> {
        let mut indices = Vec::new();
        for k in owners.keys() {
            for key in [
                IndexKey::Project(project.to_owned()),
                IndexKey::Staged(project.to_owned()),
            ] {
                let scoped = IndexKey::signed_by(&k.to_string(), key)
                    .ok_or(Error::Bug("project lookups are scoped"))?;
                indices.extend(self.all_indices(&scoped)?);
            }
        }
        indices.sort_unstable();
        indices.dedup();
        let mut opened = Vec::with_capacity(indices.len());
        for index in indices {
            let bytes = self.entry(index)?;
            let Ok(entry) = SignedEntry::open(&bytes) else {
                continue;
            };
            let digest = matches!(entry.entry().kind(), EntryKind::Release(_)).then(|| Digests {
                sha256: Sha256::digest(&bytes).into(),
                blake3: Some(*blake3::hash(&bytes).as_bytes()),
            });
            let signer = entry
                .signers()
                .iter()
                .find(|s| owners.contains(s))
                .or(entry.signers().first())
                .cloned();
            if let Some(signer) = signer {
                opened.push((index, signer, digest, entry));
            }
        }
        let facts: Vec<Fact<'_>> = opened
            .iter()
            .map(|(index, signer, digest, entry)| Fact {
                index: *index,
                signer,
                digest: digest.as_ref(),
                entry: entry.entry(),
            })
            .collect();
        Ok(ProjectState::derive(project, &facts, owners))
    }

    /// Every index under `key`, oldest first.
    fn all_indices(&self, key: &IndexKey) -> Result<Vec<u64>, Error> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.lookup(
                key,
                PageRequest {
                    cursor,
                    limit: MAX_PAGE,
                    direction: Direction::Forward,
                },
            )?;
            out.extend(&page.indices);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }
}

/// Key names for a message: `a, b`.
fn names(keys: &[NoteVerifier]) -> String {
    keys.iter()
        .map(|k| k.name().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The checks an entry posted to a set passes before it is logged: its signer speaks for the
/// project, and it is the next step of the set's version (docs/formats.md §8).
pub fn check_posted(
    set: &SetRecord,
    state: &ProjectState,
    owners: &Owners,
    opened: &SignedEntry,
) -> Result<(), SetError> {
    if !opened.signers().iter().any(|s| owners.contains(s)) {
        return Err(SetError::Forbidden(format!(
            "the entry is not signed by a key that speaks for {}: {}",
            set.project,
            names(owners.keys())
        )));
    }
    let label = format!("{}@{}", set.project, set.version);
    if let Some(w) = state.withdrawal(&set.version) {
        return Err(SetError::Gone(format!(
            "{label} was withdrawn at index {}: {}",
            w.index, w.reason
        )));
    }
    let version = state.version(&set.version);
    match opened.entry().kind() {
        EntryKind::Release(r) => {
            if r.predicate.project != set.project || r.predicate.version != set.version {
                return Err(SetError::Invalid(format!(
                    "the release manifest is {}@{}, the set is {label}",
                    r.predicate.project, r.predicate.version
                )));
            }
            if let Some(v) = version {
                return Err(SetError::Conflict(format!(
                    "{label} is already released at index {}: the set is sealed",
                    v.release_index
                )));
            }
            same_files(set, &r.subjects)
        }
        EntryKind::Announcement(a) => {
            let v = released(version, &label)?;
            names_release(&a.predicate.release, v, &label)?;
            if let Some(a) = &v.announced {
                return Err(SetError::Conflict(format!(
                    "{label} is already announced at index {}",
                    a.index
                )));
            }
            Ok(())
        }
        EntryKind::Withdrawal(w) => {
            if w.predicate.project != set.project || w.predicate.version != set.version {
                return Err(SetError::Invalid(format!(
                    "the withdrawal is of {}@{}, the set is {label}",
                    w.predicate.project, w.predicate.version
                )));
            }
            match version {
                Some(v) if v.announced.is_some() => Err(SetError::Conflict(format!(
                    "{label} is announced: yank it instead (`reprove release yank`)"
                ))),
                Some(v) => match &w.predicate.release {
                    Some(r) => names_release(r, v, &label),
                    None => Err(SetError::Invalid(format!(
                        "{label} is released at index {}: the withdrawal must name it",
                        v.release_index
                    ))),
                },
                None if w.predicate.release.is_some() => Err(SetError::Invalid(format!(
                    "{label} has no release in the log to name"
                ))),
                None => same_files(set, &w.subjects),
            }
        }
        EntryKind::Yank(y) => {
            let v = released(version, &label)?;
            names_release(&y.predicate.release, v, &label)?;
            let Some(a) = &v.announced else {
                return Err(SetError::Conflict(format!(
                    "{label} was never announced: withdraw it instead (`reprove release withdraw`)"
                )));
            };
            if y.predicate.announcement != a.index {
                return Err(SetError::Invalid(format!(
                    "{label} was announced at index {}, the yank names {}",
                    a.index, y.predicate.announcement
                )));
            }
            if let Some(yanked) = &v.yanked {
                return Err(SetError::Conflict(format!(
                    "{label} is already yanked at index {}",
                    yanked.index
                )));
            }
            Ok(())
        }
        EntryKind::Rebuild(_) | EntryKind::Revocation(_) => Err(SetError::Invalid(
            "a set takes release manifests, announcements, withdrawals and yanks; log other \
             entries with POST /add"
                .into(),
        )),
    }
}

fn released<'a>(
    version: Option<&'a reprove_verifier::staging::VersionState>,
    label: &str,
) -> Result<&'a reprove_verifier::staging::VersionState, SetError> {
    version.ok_or_else(|| {
        SetError::Conflict(format!(
            "{label} is not released yet: publish it first (`reprove release publish`)"
        ))
    })
}

fn names_release(
    r: &ReleaseRef,
    v: &reprove_verifier::staging::VersionState,
    label: &str,
) -> Result<(), SetError> {
    if r.log_index != v.release_index
        || r.name != v.project
        || r.version != v.version
        || hex::encode(r.digest.sha256) != v.release_sha256
    {
        return Err(SetError::Invalid(format!(
            "the entry names the release at index {} ({}@{}); {label} is the release at index {}",
            r.log_index, r.name, r.version, v.release_index
        )));
    }
    Ok(())
}

/// The entry's subjects are exactly the set's files.
fn same_files(
    set: &SetRecord,
    subjects: &[reprove_verifier::predicates::Artifact],
) -> Result<(), SetError> {
    let listed: BTreeMap<&str, String> = subjects
        .iter()
        .map(|a| (a.name.as_str(), hex::encode(a.digest.sha256)))
        .collect();
    let held: BTreeMap<&str, String> = set
        .files
        .iter()
        .map(|(n, f)| (n.as_str(), f.sha256.clone()))
        .collect();
    if listed != held {
        return Err(SetError::Invalid(format!(
            "the entry's subjects are not the set's files (the set holds {}; the entry lists {})",
            file_list(&held),
            file_list(&listed)
        )));
    }
    Ok(())
}

fn file_list(files: &BTreeMap<&str, String>) -> String {
    if files.is_empty() {
        return "nothing".into();
    }
    files
        .iter()
        .map(|(n, d)| format!("{n} sha256:{}", &d[..12.min(d.len())]))
        .collect::<Vec<_>>()
        .join(", ")
}
