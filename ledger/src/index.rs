//! Lookup indexes: which entries mention an artifact, a signer, a release or a revoked key.
//!
//! The ledger does not read entries: the HTTP layer validates a submission, derives its
//! [`IndexKey`]s and hands them over with the entry bytes. Each key of a new entry is stored
//! as `key bytes || index (u64 BE)` with an empty value, in the same write as the entry, so a
//! lookup is one range scan over a prefix and its results are in log order.
//!
//! The key encoding is length-prefixed (`kind || u16 BE length || bytes ...`), so one key's
//! prefix is never the prefix of another key (`"ab"` and `"abc"` differ in the length byte).

use crate::error::{Error, Integrity};

/// The column family the records live in (storage names it after this; the index does not
/// depend on storage).
pub(crate) const CF: &str = "index";

/// The longest string an index key may hold, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// The most index keys one entry may have (a release can name many artifacts, each also
/// recorded under each of its — at most 8 — signers).
pub const MAX_KEYS_PER_ENTRY: usize = 8192;

/// The most indices one lookup page returns.
pub const MAX_PAGE: usize = 1000;

/// Something an entry can be looked up by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexKey {
    /// An artifact's SHA-256 (a statement subject digest).
    Artifact([u8; 32]),
    /// A signer's key ID (as the DSSE `keyid`, the signer's vkey).
    Signer(String),
    /// A release by name and version.
    Release { name: String, version: String },
    /// Revocation notices for this key ID.
    RevokedKey(String),
    /// Every revocation notice (give it together with [`IndexKey::RevokedKey`]).
    Revocations,
    /// Every release manifest (the web pages' list of releases).
    Releases,
    /// Release manifests of one project, by its name.
    Project(String),
    /// Every rebuild attestation whose result is `mismatch`.
    Mismatches,
    /// Rebuild attestations signed by this key (its vkey); the distinct keys of this kind are
    /// the log's rebuilders.
    Rebuilder(String),
    /// Rebuild attestations that finished on this day (days since 1970-01-01, UTC), as the
    /// rebuilder dates them in `finished_on`: the log itself keeps no time.
    RebuildDay(u32),
    /// Rebuild attestations of that day (as [`IndexKey::RebuildDay`]) whose result is
    /// `reproduced`: the web pages' reproductions per day.
    ReproducedDay(u32),
    /// Rebuild attestations naming this blob (build log or diff report) by its SHA-256: the
    /// blob store accepts a blob only from a key whose logged entry names it.
    Blob([u8; 32]),
    /// A project's staged-release entries — announcements, withdrawals and yanks — by its
    /// name: with the project's release manifests, everything "latest" is derived from.
    Staged(String),
    /// Every announcement (the web pages' list of announced releases).
    Announcements,
    /// `key`, restricted to the entries `signer` (a vkey, in its one spelling) signed: the
    /// same records, scoped so that strangers' entries cannot crowd a signer's out of a
    /// lookup. Only [`IndexKey::Artifact`], [`IndexKey::Release`], [`IndexKey::RevokedKey`],
    /// [`IndexKey::Project`], [`IndexKey::Staged`] and [`IndexKey::Blob`] are scoped (see [`IndexKey::signed_by`]).
    SignedBy { signer: String, key: Box<IndexKey> },
}

/// Which way a lookup walks the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Oldest first.
    #[default]
    Forward,
    /// Newest first.
    Backward,
}

/// One page of a lookup request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Continue after this index (exclusive), in the page's direction; `None` starts at the
    /// oldest (forward) or newest (backward) entry.
    pub cursor: Option<u64>,
    /// How many indices at most, taken as 1 to [`MAX_PAGE`].
    pub limit: usize,
    /// Which way to walk.
    pub direction: Direction,
}

/// One page of a lookup answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Entry indices, in the requested direction.
    pub indices: Vec<u64>,
    /// The cursor for the next page, when there is more.
    pub next: Option<u64>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            cursor: None,
            limit: 100,
            direction: Direction::Forward,
        }
    }
}

const ARTIFACT: u8 = 1;
const SIGNER: u8 = 2;
const RELEASE: u8 = 3;
const REVOKED_KEY: u8 = 4;
const REVOCATIONS: u8 = 5;
const RELEASES: u8 = 6;
const PROJECT: u8 = 7;
const MISMATCHES: u8 = 8;
const REBUILDER: u8 = 9;
const REBUILD_DAY: u8 = 10;
const SIGNED_BY: u8 = 11;
const BLOB: u8 = 12;
const REPRODUCED_DAY: u8 = 13;
const STAGED: u8 = 14;
const ANNOUNCEMENTS: u8 = 15;

impl IndexKey {
    /// Checks the length limits, so that the key fits its encoding.
    pub fn check(&self) -> Result<(), Error> {
        let long = |s: &str| {
            if s.len() > MAX_KEY_LEN {
                Err(Error::IndexKeyTooLarge {
                    len: s.len(),
                    max: MAX_KEY_LEN,
                })
            } else {
                Ok(())
            }
        };
        match self {
            Self::Artifact(_)
            | Self::Blob(_)
            | Self::Revocations
            | Self::Releases
            | Self::Mismatches
            | Self::Announcements
            | Self::RebuildDay(_)
            | Self::ReproducedDay(_) => Ok(()),
            Self::Signer(s)
            | Self::RevokedKey(s)
            | Self::Project(s)
            | Self::Staged(s)
            | Self::Rebuilder(s) => long(s),
            Self::Release { name, version } => long(name).and(long(version)),
            Self::SignedBy { signer, key } => {
                if !key.is_scopable() {
                    return Err(Error::IndexKeyNotScopable);
                }
                long(signer).and(key.check())
            }
        }
    }

    /// `key` scoped to the entries `signer` signed, when `key` is of a kind that is scoped.
    pub fn signed_by(signer: &str, key: IndexKey) -> Option<IndexKey> {
        key.is_scopable().then(|| IndexKey::SignedBy {
            signer: signer.to_owned(),
            key: Box::new(key),
        })
    }

    /// Whether lookups of this kind can be scoped to a signer.
    fn is_scopable(&self) -> bool {
        matches!(
            self,
            Self::Artifact(_)
                | Self::Release { .. }
                | Self::RevokedKey(_)
                | Self::Blob(_)
                | Self::Project(_)
                | Self::Staged(_)
        )
    }

    /// Whether the verifiable index commits this key's list, so that a lookup of it is
    /// proven complete: the lookups a consumer decides on — artifacts, releases, projects,
    /// a signer's entries and a key's revocation notices (keys by their vkey: a 4-byte key ID
    /// can be ground out), and all of these scoped to a signer. The web pages' lists and the
    /// blob records are not: nobody's trust decision rests on them.
    pub fn is_proven(&self) -> bool {
        match self {
            Self::Artifact(_) | Self::Release { .. } | Self::Project(_) | Self::Staged(_) => true,
            Self::Signer(k) | Self::RevokedKey(k) => k.contains('+'),
            Self::SignedBy { key, .. } => !matches!(**key, Self::Blob(_)) && key.is_proven(),
            Self::Revocations
            | Self::Releases
            | Self::Mismatches
            | Self::Announcements
            | Self::Rebuilder(_)
            | Self::RebuildDay(_)
            | Self::ReproducedDay(_)
            | Self::Blob(_) => false,
        }
    }

    /// The path, under a ledger's URL, of this key's proven lookup (`proven/…`, with
    /// `?signer=` for a scoped key); `None` for a key that is not proven.
    pub fn proven_path(&self) -> Option<String> {
        if !self.is_proven() {
            return None;
        }
        let (key, signer) = match self {
            Self::SignedBy { signer, key } => (&**key, Some(signer)),
            key => (key, None),
        };
        let base = match key {
            Self::Artifact(d) => format!("proven/sha256/{}", hex::encode(d)),
            Self::Signer(k) => format!("proven/key/{}", hex::encode(k)),
            Self::Release { name, version } => format!(
                "proven/release/{}/{}",
                path_segment(name),
                path_segment(version)
            ),
            Self::Project(name) => format!("proven/project/{}", path_segment(name)),
            Self::Staged(name) => format!("proven/staged/{}", path_segment(name)),
            Self::RevokedKey(k) => format!("proven/revocations/{}", hex::encode(k)),
            _ => return None,
        };
        Some(match signer {
            Some(s) => format!("{base}?signer={}", hex::encode(s)),
            None => base,
        })
    }

    /// The key whose [`encoding`](Self::encoding) is `bytes`, if it is a valid one.
    pub fn from_encoding(bytes: &[u8]) -> Option<IndexKey> {
        parse_key(bytes).filter(|k| k.check().is_ok())
    }

    /// The key's encoding (docs/formats.md, "Verifiable index"): what the verifiable index
    /// hashes to place it, and the stored prefix of its lookup records.
    pub fn encoding(&self) -> Vec<u8> {
        self.prefix()
    }

    /// The stored prefix of this key: every index of it is `prefix || index BE`.
    ///
    /// The key must have passed [`check`](Self::check) (lengths fit a `u16`).
    pub(crate) fn prefix(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.len_hint());
        match self {
            Self::Artifact(d) => {
                out.push(ARTIFACT);
                out.extend_from_slice(d);
            }
            Self::Signer(s) => {
                out.push(SIGNER);
                push_str(&mut out, s);
            }
            Self::Release { name, version } => {
                out.push(RELEASE);
                push_str(&mut out, name);
                push_str(&mut out, version);
            }
            Self::RevokedKey(s) => {
                out.push(REVOKED_KEY);
                push_str(&mut out, s);
            }
            Self::Revocations => out.push(REVOCATIONS),
            Self::Releases => out.push(RELEASES),
            Self::Project(s) => {
                out.push(PROJECT);
                push_str(&mut out, s);
            }
            Self::Staged(s) => {
                out.push(STAGED);
                push_str(&mut out, s);
            }
            Self::Announcements => out.push(ANNOUNCEMENTS),
            Self::Mismatches => out.push(MISMATCHES),
            Self::Rebuilder(s) => {
                out.push(REBUILDER);
                push_str(&mut out, s);
            }
            Self::RebuildDay(day) => {
                out.push(REBUILD_DAY);
                out.extend_from_slice(&day.to_be_bytes());
            }
            Self::ReproducedDay(day) => {
                out.push(REPRODUCED_DAY);
                out.extend_from_slice(&day.to_be_bytes());
            }
            Self::Blob(d) => {
                out.push(BLOB);
                out.extend_from_slice(d);
            }
            Self::SignedBy { signer, key } => {
                out.push(SIGNED_BY);
                push_str(&mut out, signer);
                out.extend_from_slice(&key.prefix());
            }
        }
        out
    }

    /// The stored record for this key pointing at `index`.
    pub(crate) fn record(&self, index: u64) -> Vec<u8> {
        let mut out = self.prefix();
        out.extend_from_slice(&index.to_be_bytes());
        out
    }

    /// Decodes a stored record back into its key and index (for fsck).
    pub(crate) fn parse_record(bytes: &[u8]) -> Result<(IndexKey, u64), Error> {
        let bad = || Error::Integrity(Integrity::Undecodable(CF));
        let (body, index) = bytes.split_last_chunk::<8>().ok_or_else(bad)?;
        let key = parse_key(body).ok_or_else(bad)?;
        if key.check().is_err() {
            return Err(bad());
        }
        Ok((key, u64::from_be_bytes(*index)))
    }

    fn len_hint(&self) -> usize {
        match self {
            Self::Artifact(_) | Self::Blob(_) => 33,
            Self::Signer(s)
            | Self::RevokedKey(s)
            | Self::Project(s)
            | Self::Staged(s)
            | Self::Rebuilder(s) => 3 + s.len(),
            Self::Release { name, version } => 5 + name.len() + version.len(),
            Self::Revocations | Self::Releases | Self::Mismatches | Self::Announcements => 1,
            Self::RebuildDay(_) | Self::ReproducedDay(_) => 5,
            Self::SignedBy { signer, key } => 3 + signer.len() + key.len_hint(),
        }
    }
}

/// The key whose prefix is exactly `bytes` (a record without its index), or `None`.
fn parse_key(bytes: &[u8]) -> Option<IndexKey> {
    let (&kind, mut rest) = bytes.split_first()?;
    let key = match kind {
        ARTIFACT => return Some(IndexKey::Artifact(rest.try_into().ok()?)),
        BLOB => return Some(IndexKey::Blob(rest.try_into().ok()?)),
        REVOCATIONS if rest.is_empty() => return Some(IndexKey::Revocations),
        RELEASES if rest.is_empty() => return Some(IndexKey::Releases),
        MISMATCHES if rest.is_empty() => return Some(IndexKey::Mismatches),
        ANNOUNCEMENTS if rest.is_empty() => return Some(IndexKey::Announcements),
        REBUILD_DAY => {
            return Some(IndexKey::RebuildDay(u32::from_be_bytes(
                rest.try_into().ok()?,
            )));
        }
        REPRODUCED_DAY => {
            return Some(IndexKey::ReproducedDay(u32::from_be_bytes(
                rest.try_into().ok()?,
            )));
        }
        SIGNED_BY => {
            let signer = take_str(&mut rest)?;
            let key = parse_key(rest)?;
            return key.is_scopable().then(|| IndexKey::SignedBy {
                signer,
                key: Box::new(key),
            });
        }
        SIGNER => IndexKey::Signer(take_str(&mut rest)?),
        RELEASE => {
            let name = take_str(&mut rest)?;
            let version = take_str(&mut rest)?;
            IndexKey::Release { name, version }
        }
        REVOKED_KEY => IndexKey::RevokedKey(take_str(&mut rest)?),
        PROJECT => IndexKey::Project(take_str(&mut rest)?),
        STAGED => IndexKey::Staged(take_str(&mut rest)?),
        REBUILDER => IndexKey::Rebuilder(take_str(&mut rest)?),
        _ => return None,
    };
    // The string kinds consume `rest` as they go; anything left over is garbage.
    rest.is_empty().then_some(key)
}

/// Percent-encodes one URL path segment (everything but RFC 3986's unreserved characters).
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    // `check` bounds every string by MAX_KEY_LEN, far below u16::MAX.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

fn take_str(rest: &mut &[u8]) -> Option<String> {
    let (len, after) = rest.split_first_chunk::<2>()?;
    let (s, after) = after.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    *rest = after;
    String::from_utf8(s.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<IndexKey> {
        vec![
            IndexKey::Artifact([7; 32]),
            IndexKey::Signer("ab".into()),
            IndexKey::Signer("abc".into()),
            IndexKey::Signer(String::new()),
            IndexKey::Release {
                name: "hello".into(),
                version: "1.0".into(),
            },
            IndexKey::Release {
                name: "hello1".into(),
                version: ".0".into(),
            },
            IndexKey::RevokedKey("k+1234+AAA".into()),
            IndexKey::Revocations,
            IndexKey::Releases,
            IndexKey::Project("hello".into()),
            IndexKey::Project("hello1".into()),
            IndexKey::Staged("hello".into()),
            IndexKey::Announcements,
            IndexKey::Mismatches,
            IndexKey::Rebuilder("k+1234+AAA".into()),
            IndexKey::RebuildDay(0),
            IndexKey::RebuildDay(20_000),
            IndexKey::ReproducedDay(20_000),
            IndexKey::Blob([7; 32]),
            IndexKey::signed_by("k+1234+AAA", IndexKey::Artifact([7; 32])).unwrap(),
            IndexKey::signed_by("k+1234+AAA", IndexKey::Blob([7; 32])).unwrap(),
            IndexKey::signed_by("k+1234+AAA", IndexKey::RevokedKey("k+1234+AAA".into())).unwrap(),
            IndexKey::signed_by(
                "k+1234+AAB",
                IndexKey::Release {
                    name: "hello".into(),
                    version: "1.0".into(),
                },
            )
            .unwrap(),
        ]
    }

    #[test]
    fn records_round_trip() {
        for key in keys() {
            for index in [0, 1, 255, u64::MAX] {
                let record = key.record(index);
                assert_eq!(
                    IndexKey::parse_record(&record).unwrap(),
                    (key.clone(), index)
                );
            }
        }
    }

    #[test]
    fn no_prefix_is_the_prefix_of_another_key() {
        let keys = keys();
        for a in &keys {
            for b in &keys {
                if a != b {
                    assert!(
                        !b.record(0).starts_with(&a.prefix()),
                        "{a:?} prefixes {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn garbage_records_are_refused() {
        for bad in [
            &b""[..],
            &[1, 0, 0, 0, 0, 0, 0, 0][..],
            &[2, 0, 5, b'a', 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[2, 0, 1, b'a', b'b', 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[5, 1, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[9, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[2, 0, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[6, 1, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0][..],
            &[7, 0, 1, b'a', b'b', 0, 0, 0, 0, 0, 0, 0, 0][..],
            // Signer-scoped: a kind that is not scoped, nothing scoped, nested scopes.
            &[11, 0, 1, b'k', 5, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[11, 0, 1, b'k', 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[
                11, 0, 1, b'k', 11, 0, 1, b'k', 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ][..],
        ] {
            assert!(IndexKey::parse_record(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn long_keys_are_refused() {
        let long = "x".repeat(MAX_KEY_LEN + 1);
        assert!(IndexKey::Signer(long.clone()).check().is_err());
        assert!(
            IndexKey::Release {
                name: "a".into(),
                version: long
            }
            .check()
            .is_err()
        );
        assert!(IndexKey::Signer("x".repeat(MAX_KEY_LEN)).check().is_ok());
        assert!(IndexKey::signed_by("k", IndexKey::Mismatches).is_none());
        let nested = IndexKey::SignedBy {
            signer: "k".into(),
            key: Box::new(IndexKey::Mismatches),
        };
        assert!(nested.check().is_err());
    }
}
