//! Staged releases from the log alone: which versions of a project were announced, withdrawn
//! or yanked, and which one is "latest" — one rule, shared by the ledger (which serves
//! `/dl/<name>/latest/…` by it), `reprove latest` (which re-derives it from proven lookups and
//! catches a ledger that serves another one) and the verdict (`on_yanked`, `on_unverified`).
//!
//! The rule (docs/formats.md §8):
//!
//! 1. A **release** counts when its signer may publish the project ([`Speakers::may_publish`]);
//!    a version is the first counting release manifest of that project and version (lowest
//!    index): a version, once logged, is never another set of bytes.
//! 2. An **announcement**, **withdrawal** or **yank** counts for that release when its signer is
//!    the release's signer or the same publisher ([`Speakers::same_publisher`]), and the
//!    release it names resolves to that release (index, SHA-256 of the logged bytes, project
//!    and version) — for an announcement also with exactly the release's subjects. A withdrawal
//!    that names no release names the project and version.
//! 3. A version is **announced** by its first counting announcement; **withdrawn** or **yanked**
//!    by any counting withdrawal or yank (both take it back for good).
//! 4. **Latest** is the version with the newest counting announcement (highest index) that is
//!    neither withdrawn nor yanked. A yank therefore moves latest back to the previously
//!    announced version.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::note::NoteVerifier;
use crate::predicates::{Digests, Entry, EntryKind, ReleaseRef};

/// One logged entry, as the staging rule needs it.
#[derive(Debug, Clone, Copy)]
pub struct Fact<'a> {
    /// Its index in the log.
    pub index: u64,
    /// The key whose signature over it verified.
    pub signer: &'a NoteVerifier,
    /// For a release manifest, the digest of its logged bytes (what a [`ReleaseRef`] names).
    pub digest: Option<&'a Digests>,
    /// The entry.
    pub entry: &'a Entry,
}

/// Who speaks for a project: the consumer's policy, or the ledger's owners of a project.
pub trait Speakers {
    /// Whether `key` may publish (and so announce, withdraw, yank) `project`.
    fn may_publish(&self, project: &str, key: &NoteVerifier) -> bool;
    /// Whether `a` and `b` are keys of the same publisher of `project`.
    fn same_publisher(&self, project: &str, a: &NoteVerifier, b: &NoteVerifier) -> bool;
}

/// One version of a project and what the log says of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionState {
    /// The project.
    pub project: String,
    /// The version.
    pub version: String,
    /// The release manifest's index.
    pub release_index: u64,
    /// The SHA-256 of the release manifest's logged bytes, lowercase hex.
    pub release_sha256: String,
    /// The release manifest's signer (vkey).
    pub signer: String,
    /// The release's artifacts.
    pub artifacts: Vec<StagedArtifact>,
    /// The announcement, when announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced: Option<Announced>,
    /// The withdrawal, when withdrawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<TakenBack>,
    /// The yank, when yanked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yanked: Option<TakenBack>,
}

/// One artifact of a version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StagedArtifact {
    /// Its name.
    pub name: String,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// A counting announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announced {
    /// Its index.
    pub index: u64,
    /// The attestations it names.
    pub attestations: Vec<u64>,
    /// Its reason, when announced without reproduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
}

/// A counting withdrawal or yank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TakenBack {
    /// Its index.
    pub index: u64,
    /// The publisher's reason.
    pub reason: String,
    /// For a yank, the version to use instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// A withdrawal of a version that was never released (a set's files only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreleased {
    /// The version.
    pub version: String,
    /// The withdrawal.
    pub withdrawn: TakenBack,
}

/// Everything the log says of a project's staged releases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectState {
    /// Its released versions, oldest release first.
    pub versions: Vec<VersionState>,
    /// Versions withdrawn before any release was logged.
    pub unreleased_withdrawn: Vec<Unreleased>,
}

impl VersionState {
    /// Whether the version was taken back (withdrawn or yanked).
    pub fn taken_back(&self) -> bool {
        self.withdrawn.is_some() || self.yanked.is_some()
    }
}

impl ProjectState {
    /// Applies the rule above to `facts` (in any order) for `project`.
    pub fn derive(project: &str, facts: &[Fact<'_>], speakers: &dyn Speakers) -> ProjectState {
        let mut sorted: Vec<&Fact<'_>> = facts.iter().collect();
        sorted.sort_by_key(|f| f.index);
        let mut state = ProjectState::default();
        let mut signers: Vec<&NoteVerifier> = Vec::new();
        let mut digests: Vec<Digests> = Vec::new();
        for f in &sorted {
            let EntryKind::Release(r) = f.entry.kind() else {
                continue;
            };
            let p = &r.predicate;
            let known = state.versions.iter().any(|v| v.version == p.version);
            if p.project != project || known || !speakers.may_publish(project, f.signer) {
                continue;
            }
            let Some(digest) = f.digest else { continue };
            state.versions.push(VersionState {
                project: project.to_owned(),
                version: p.version.clone(),
                release_index: f.index,
                release_sha256: hex::encode(digest.sha256),
                signer: f.signer.to_string(),
                artifacts: r
                    .subjects
                    .iter()
                    .map(|a| StagedArtifact {
                        name: a.name.clone(),
                        sha256: hex::encode(a.digest.sha256),
                    })
                    .collect(),
                announced: None,
                withdrawn: None,
                yanked: None,
            });
            signers.push(f.signer);
            digests.push(*digest);
        }
        for f in &sorted {
            state.apply(project, f, &signers, &digests, speakers);
        }
        state
    }

    fn apply(
        &mut self,
        project: &str,
        f: &Fact<'_>,
        signers: &[&NoteVerifier],
        digests: &[Digests],
        speakers: &dyn Speakers,
    ) {
        let find = |r: &ReleaseRef| {
            self.versions.iter().position(|v| {
                r.name == project && v.version == r.version && v.release_index == r.log_index
            })
        };
        let speaks = |i: usize| {
            f.signer == signers[i] || speakers.same_publisher(project, f.signer, signers[i])
        };
        let resolves =
            |i: usize, r: &ReleaseRef| r.names(self.versions[i].release_index, &digests[i]);
        match f.entry.kind() {
            EntryKind::Announcement(a) => {
                let p = &a.predicate;
                let Some(i) = find(&p.release) else { return };
                let subjects: BTreeSet<StagedArtifact> = a
                    .subjects
                    .iter()
                    .map(|s| StagedArtifact {
                        name: s.name.clone(),
                        sha256: hex::encode(s.digest.sha256),
                    })
                    .collect();
                let released: BTreeSet<StagedArtifact> =
                    self.versions[i].artifacts.iter().cloned().collect();
                if speaks(i)
                    && resolves(i, &p.release)
                    && subjects == released
                    && self.versions[i].announced.is_none()
                {
                    self.versions[i].announced = Some(Announced {
                        index: f.index,
                        attestations: p.attestations.clone(),
                        unverified: p.unverified.as_ref().map(|u| u.reason.clone()),
                    });
                }
            }
            EntryKind::Yank(y) => {
                let p = &y.predicate;
                let Some(i) = find(&p.release) else { return };
                if speaks(i) && resolves(i, &p.release) && self.versions[i].yanked.is_none() {
                    self.versions[i].yanked = Some(TakenBack {
                        index: f.index,
                        reason: p.reason.clone(),
                        replacement: p.replacement.clone(),
                    });
                }
            }
            EntryKind::Withdrawal(w) => self.withdraw(project, f, w, signers, digests, speakers),
            _ => {}
        }
    }

    fn withdraw(
        &mut self,
        project: &str,
        f: &Fact<'_>,
        w: &crate::predicates::Withdrawal,
        signers: &[&NoteVerifier],
        digests: &[Digests],
        speakers: &dyn Speakers,
    ) {
        let p = &w.predicate;
        if p.project != project {
            return;
        }
        let taken = TakenBack {
            index: f.index,
            reason: p.reason.clone(),
            replacement: None,
        };
        let at = self.versions.iter().position(|v| v.version == p.version);
        match at {
            Some(i) => {
                let speaks = f.signer == signers[i]
                    || speakers.same_publisher(project, f.signer, signers[i]);
                let resolves = p
                    .release
                    .as_ref()
                    .is_none_or(|r| r.names(self.versions[i].release_index, &digests[i]));
                if speaks && resolves && self.versions[i].withdrawn.is_none() {
                    self.versions[i].withdrawn = Some(taken);
                }
            }
            None => {
                let seen = self
                    .unreleased_withdrawn
                    .iter()
                    .any(|u| u.version == p.version);
                if p.release.is_none() && !seen && speakers.may_publish(project, f.signer) {
                    self.unreleased_withdrawn.push(Unreleased {
                        version: p.version.clone(),
                        withdrawn: taken,
                    });
                }
            }
        }
    }

    /// The latest version: the newest counting announcement not taken back.
    pub fn latest(&self) -> Option<&VersionState> {
        self.versions
            .iter()
            .filter(|v| !v.taken_back())
            .filter_map(|v| v.announced.as_ref().map(|a| (a.index, v)))
            .max_by_key(|(index, _)| *index)
            .map(|(_, v)| v)
    }

    /// The version `version`, if released.
    pub fn version(&self, version: &str) -> Option<&VersionState> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// Where `version` stands: `withdrawn`, `yanked`, `announced`, `released`, or `open` (not
    /// in the log: on a ledger, a set still taking uploads).
    pub fn stage(&self, version: &str) -> &'static str {
        if self.withdrawal(version).is_some() {
            return "withdrawn";
        }
        match self.version(version) {
            Some(v) if v.yanked.is_some() => "yanked",
            Some(v) if v.announced.is_some() => "announced",
            Some(_) => "released",
            None => "open",
        }
    }

    /// Whether `version` was withdrawn (released or not).
    pub fn withdrawal(&self, version: &str) -> Option<&TakenBack> {
        match self.version(version) {
            Some(v) => v.withdrawn.as_ref(),
            None => self
                .unreleased_withdrawn
                .iter()
                .find(|u| u.version == version)
                .map(|u| &u.withdrawn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::NoteSigner;
    use crate::predicates::{
        AnnouncementPredicate, Artifact, Environment, Recipe, ReleaseManifest, ReleasePredicate,
        Source, Unverified, WithdrawalPredicate, YankPredicate,
    };

    struct Anyone;
    impl Speakers for Anyone {
        fn may_publish(&self, _: &str, _: &NoteVerifier) -> bool {
            true
        }
        fn same_publisher(&self, _: &str, a: &NoteVerifier, b: &NoteVerifier) -> bool {
            a == b
        }
    }

    fn key(seed: u8) -> NoteVerifier {
        NoteSigner::from_seed("k.example", &[seed; 32])
            .unwrap()
            .verifier()
    }

    fn artifacts(version: &str) -> Vec<Artifact> {
        vec![Artifact {
            name: format!("hello-{version}"),
            digest: Digests::sha256([version.len() as u8; 32]),
        }]
    }

    fn release(version: &str) -> Entry {
        let subjects = artifacts(version);
        let outputs = [("out".to_owned(), subjects[0].name.clone())].into();
        Entry::new(EntryKind::Release(ReleaseManifest {
            subjects,
            predicate: ReleasePredicate {
                project: "hello".into(),
                version: version.into(),
                artifacts: Default::default(),
                source: Source::Git {
                    uri: "https://git.example/hello".into(),
                    commit: "a".repeat(40),
                },
                recipe: Recipe {
                    command: vec!["make".into()],
                    environment: Environment::Host {},
                    source_date_epoch: Some(1),
                    env: Default::default(),
                    outputs,
                    unpinned_outputs: Default::default(),
                    inputs: vec![],
                    build_deps: vec![],
                    build_user: Default::default(),
                },
                third_party_import: None,
            },
        }))
        .unwrap()
    }

    fn reference(index: u64, version: &str, digest: &Digests) -> ReleaseRef {
        ReleaseRef {
            log_index: index,
            name: "hello".into(),
            version: version.into(),
            digest: *digest,
        }
    }

    fn announce(r: ReleaseRef) -> Entry {
        let version = r.version.clone();
        Entry::new(EntryKind::Announcement(crate::predicates::Announcement {
            subjects: artifacts(&version),
            predicate: AnnouncementPredicate {
                release: r,
                attestations: vec![],
                unverified: Some(Unverified {
                    reason: "test".into(),
                }),
            },
        }))
        .unwrap()
    }

    fn yank(r: ReleaseRef, announcement: u64) -> Entry {
        let version = r.version.clone();
        Entry::new(EntryKind::Yank(crate::predicates::Yank {
            subjects: artifacts(&version),
            predicate: YankPredicate {
                release: r,
                announcement,
                reason: "bad".into(),
                replacement: None,
            },
        }))
        .unwrap()
    }

    #[test]
    fn latest_moves_by_announcements_and_back_by_yanks() {
        let (publisher, stranger) = (key(1), key(2));
        let d = |n: u8| Digests::sha256([n; 32]);
        let entries = [
            (0, &publisher, Some(d(10)), release("1.0")),
            (1, &publisher, Some(d(11)), release("1.1")),
            (2, &publisher, None, announce(reference(0, "1.0", &d(10)))),
            (3, &publisher, None, announce(reference(1, "1.1", &d(11)))),
            // A stranger's yank and an announcement naming another digest do not count.
            (4, &stranger, None, yank(reference(1, "1.1", &d(11)), 3)),
            (5, &publisher, None, announce(reference(1, "1.1", &d(99)))),
        ];
        let facts: Vec<Fact<'_>> = entries
            .iter()
            .map(|(index, signer, digest, entry)| Fact {
                index: *index,
                signer,
                digest: digest.as_ref(),
                entry,
            })
            .collect();
        let state = ProjectState::derive("hello", &facts, &Anyone);
        assert_eq!(state.latest().unwrap().version, "1.1");
        assert_eq!(
            state
                .version("1.1")
                .unwrap()
                .announced
                .as_ref()
                .unwrap()
                .index,
            3
        );
        assert_eq!(state.stage("1.1"), "announced");

        let y = yank(reference(1, "1.1", &d(11)), 3);
        let mut more = facts.clone();
        more.push(Fact {
            index: 6,
            signer: &publisher,
            digest: None,
            entry: &y,
        });
        let state = ProjectState::derive("hello", &more, &Anyone);
        assert_eq!(
            state.latest().unwrap().version,
            "1.0",
            "the yank moves latest back"
        );
        assert_eq!(state.stage("1.1"), "yanked");

        let w = Entry::new(EntryKind::Withdrawal(crate::predicates::Withdrawal {
            subjects: artifacts("2.0"),
            predicate: WithdrawalPredicate {
                project: "hello".into(),
                version: "2.0".into(),
                release: None,
                reason: "abandoned".into(),
            },
        }))
        .unwrap();
        more.push(Fact {
            index: 7,
            signer: &publisher,
            digest: None,
            entry: &w,
        });
        let state = ProjectState::derive("hello", &more, &Anyone);
        assert_eq!(state.stage("2.0"), "withdrawn");
        assert_eq!(state.stage("3.0"), "open");
    }
}
