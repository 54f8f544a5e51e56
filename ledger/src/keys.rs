//! What an entry is looked up by: [`keys_of`], a pure function of an opened entry, shared by
//! `POST /add`, fsck and reindexing, so the three cannot disagree. A new kind of entry is one
//! arm here.

use reprove_verifier::note::NoteVerifier;
use reprove_verifier::predicates::{EntryKind, RebuildResult, ReleaseRef};
use reprove_verifier::signed::{KeyCache, Options, SignedEntry};

use crate::index::IndexKey;

/// The derivation of index records [`keys_of`] implements: 2 added signer-scoped records
/// (`?signer=`) and blob records; 3 added project records scoped to a signer, reproductions
/// per day and the verifiable index; 4 stores the verifiable index in strata of four levels
/// instead of one record per node; 5 stores only its leaves and keeps the interior in memory
/// (`vindex.rs`). A log whose stored records follow an older one is re-derived
/// ([`Writer::reindex`](crate::Writer::reindex)) before it is served.
pub const INDEX_VERSION: u64 = 5;

/// The lookup keys the log records for the entry `bytes`: exactly what `POST /add` derives
/// when it accepts it. An entry that no longer opens derives none.
pub fn derive_index_keys(bytes: &[u8]) -> Vec<IndexKey> {
    // fsck derives the keys of every entry: parse each signer key once, not once per entry
    // (decompressing a key costs a quarter of a verification).
    static KEYS: std::sync::LazyLock<KeyCache> = std::sync::LazyLock::new(KeyCache::default);
    SignedEntry::open_with(
        bytes,
        Options {
            cache: Some(&KEYS),
            ..Options::default()
        },
    )
    .map(|opened| keys_of(&opened))
    .unwrap_or_default()
}

/// What an entry can be looked up by: the sha256 of every subject, every key that signed
/// it, the release it is about (a release manifest's own, a rebuild's `release`), and for a
/// revocation notice the revocations list and the revoked key.
pub fn keys_of(opened: &SignedEntry) -> Vec<IndexKey> {
    let (entry, signers) = (opened.entry(), opened.signers());
    let mut keys: Vec<IndexKey> = entry
        .subjects()
        .iter()
        .map(|a| IndexKey::Artifact(a.digest.sha256))
        .collect();
    // Each signer under its vkey and under its c2sp key ID (8 lowercase hex), the short name
    // people and `/lookup/key/<keyid>` use. The two never collide: a vkey always holds a `+`.
    for k in signers {
        keys.push(IndexKey::Signer(k.to_string()));
        keys.push(IndexKey::Signer(key_id_hex(k)));
    }
    match entry.kind() {
        EntryKind::Release(r) => {
            keys.push(IndexKey::Release {
                name: r.predicate.project.clone(),
                version: r.predicate.version.clone(),
            });
            // The web pages' lists: every release, and a project's releases.
            keys.push(IndexKey::Releases);
            keys.push(IndexKey::Project(r.predicate.project.clone()));
        }
        EntryKind::Rebuild(r) => {
            keys.push(IndexKey::Release {
                name: r.predicate.release.name.clone(),
                version: r.predicate.release.version.clone(),
            });
            // The web pages' rebuilders, mismatches and attestations per day.
            for k in signers {
                keys.push(IndexKey::Rebuilder(k.to_string()));
            }
            if r.predicate.result == RebuildResult::Mismatch {
                keys.push(IndexKey::Mismatches);
            }
            // The blobs it names: the blob store takes them from this entry's signers only.
            for d in r.predicate.build_log.iter().chain(&r.predicate.diff_report) {
                keys.push(IndexKey::Blob(d.sha256));
            }
            if let Some(day) = crate::time::rfc3339_day(&r.predicate.finished_on) {
                keys.push(IndexKey::RebuildDay(day));
                if r.predicate.result == RebuildResult::Reproduced {
                    keys.push(IndexKey::ReproducedDay(day));
                }
            }
        }
        EntryKind::Announcement(a) => {
            staged(
                &mut keys,
                &a.predicate.release.name,
                &a.predicate.release.version,
            );
            keys.push(IndexKey::Announcements);
        }
        EntryKind::Withdrawal(w) => staged(&mut keys, &w.predicate.project, &w.predicate.version),
        EntryKind::Yank(y) => {
            let ReleaseRef { name, version, .. } = &y.predicate.release;
            staged(&mut keys, name, version);
        }
        EntryKind::Revocation(n) => {
            keys.push(IndexKey::Revocations);
            keys.push(IndexKey::RevokedKey(canonical_vkey(&n.revoked_key)));
            if let Ok(k) = NoteVerifier::parse(&n.revoked_key) {
                keys.push(IndexKey::RevokedKey(key_id_hex(&k)));
            }
        }
    }
    // The same records scoped to each verified signer (the full vkey: a 4-byte key ID can be
    // ground out by a stranger), so a lookup can ask for one signer's entries only and
    // strangers' entries under the same artifact, release or revoked key cannot crowd them out.
    let scoped: Vec<IndexKey> = keys
        .iter()
        .filter(|k| !matches!(k, IndexKey::RevokedKey(s) if !s.contains('+')))
        .flat_map(|k| {
            signers
                .iter()
                .filter_map(|s| IndexKey::signed_by(&s.to_string(), k.clone()))
        })
        .collect();
    keys.extend(scoped);
    keys.sort();
    keys.dedup();
    keys
}

/// A staged-release entry (announcement, withdrawal, yank) of `name`@`version`: found with
/// the release and under the project's staged entries.
fn staged(keys: &mut Vec<IndexKey>, name: &str, version: &str) {
    keys.push(IndexKey::Release {
        name: name.to_owned(),
        version: version.to_owned(),
    });
    keys.push(IndexKey::Staged(name.to_owned()));
}

/// A key's c2sp key ID as 8 lowercase hex digits.
fn key_id_hex(k: &NoteVerifier) -> String {
    format!("{:08x}", k.key_id())
}

/// A vkey in its one spelling (as lookups spell it), or as given if it does not parse.
fn canonical_vkey(vkey: &str) -> String {
    NoteVerifier::parse(vkey).map_or_else(|_| vkey.to_owned(), |k| k.to_string())
}
