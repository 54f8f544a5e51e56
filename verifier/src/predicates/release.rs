//! Release manifests: `https://reprove.dev/release/v1`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::checks::{check_ident, check_no_nul, check_text, check_uri, is_safe_relative_path};
use super::{Artifact, Digests, MAX_IDENT_BYTES, PredicateError, check_artifacts, null_as_default};

/// A release manifest: a publisher's claim that these artifacts are version `version` of
/// `project`, built from `source` by `recipe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseManifest {
    /// The published artifacts (the statement's subjects), at least one, names unique.
    pub subjects: Vec<Artifact>,
    /// The predicate.
    pub predicate: ReleasePredicate,
}

/// The predicate of a release manifest
/// ([`RELEASE_PREDICATE_TYPE`](super::RELEASE_PREDICATE_TYPE)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePredicate {
    /// The project's name (identifier rules: non-empty, no whitespace).
    pub project: String,
    /// The released version (identifier rules).
    pub version: String,
    /// Optional download URL per artifact name; every key must be a subject name.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub artifacts: BTreeMap<String, String>,
    /// Where the source comes from.
    pub source: Source,
    /// How to build it.
    pub recipe: Recipe,
    /// Present when the signer is not the project's publisher but an importer that derived
    /// this manifest from the ecosystem's own metadata (a third-party import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_import: Option<Import>,
}

/// Where a third-party import's facts came from ([`ReleasePredicate::third_party_import`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    /// The ecosystem the metadata belongs to (`pypi`); *identifier*.
    pub ecosystem: String,
    /// The index (registry, archive) the importer read; *URI*.
    pub index: String,
    /// For every digest in the manifest (each subject, the source, each input and build
    /// dependency, by name or URI), the metadata document that gave it; *URI*s.
    pub digest_sources: BTreeMap<String, String>,
    /// How the importer inferred the recipe, one sentence per choice; *text*.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub notes: Vec<String>,
}

/// The source of a release. JSON: `{"kind": "archive", "uri", "digest"}` or
/// `{"kind": "git", "uri", "commit"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// An archive (such as a tarball) at `uri`, which must hash to `digest`.
    Archive {
        /// Where to fetch it (URL or path).
        uri: String,
        /// Its digest; a rebuilder refuses source bytes with another SHA-256.
        digest: Digests,
    },
    /// A git repository at `uri`, checked out at `commit`.
    Git {
        /// The repository URL.
        uri: String,
        /// The full commit ID: 40 (SHA-1) or 64 (SHA-256) lowercase hex characters.
        commit: String,
    },
}

/// The build recipe of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The build command as an argument vector (no shell unless it names one): at least one
    /// element, the first non-empty, none containing NUL.
    pub command: Vec<String>,
    /// The toolchain the build runs on.
    pub environment: Environment,
    /// `SOURCE_DATE_EPOCH`, seconds since the Unix epoch, or `None` (JSON `null`): the
    /// variable is explicitly left unset. The field itself is required.
    #[serde(deserialize_with = "present_or_null")]
    pub source_date_epoch: Option<u64>,
    /// Extra fixed environment variables. Names `[A-Za-z_][A-Za-z0-9_]*`, not
    /// `SOURCE_DATE_EPOCH`; values without NUL.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub env: BTreeMap<String, String>,
    /// Output path (relative to the build tree, `/`-separated, no `.` or `..` components) to
    /// artifact name. Every subject is produced by exactly one output and every output names
    /// a subject.
    pub outputs: BTreeMap<String, String>,
    /// Outputs whose bytes no publisher fixed (a binary built from a crate): output path (the
    /// `outputs` path rules, not also in `outputs`) to artifact name (*identifier*, not a
    /// subject, unique among all outputs). A rebuild names each by the digest *it* produced,
    /// and a consumer trusts those bytes when enough distinct operators produced the same
    /// ones. A release whose outputs are all unpinned (`outputs` empty) has exactly one
    /// subject: its source archive, with the source's digest (a statement must name bytes).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub unpinned_outputs: BTreeMap<String, String>,
    /// More files the build needs, each fetched, checked and placed at its path in the build
    /// tree (beside the extracted source) before the build starts.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inputs: Vec<Input>,
    /// Packages installed into the toolchain root before the build (fetched and checked in
    /// the fetch stage, never inside the sandbox), by exact version and digest.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub build_deps: Vec<BuildDep>,
    /// Who the build runs as inside the sandbox's user namespace.
    #[serde(default, skip_serializing_if = "BuildUser::is_default")]
    pub build_user: BuildUser,
}

/// One more input file of a recipe ([`Recipe::inputs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// Where to fetch it; *URI*.
    pub uri: String,
    /// Its digest; a rebuilder refuses other bytes.
    pub digest: Digests,
    /// Where it goes: a relative path in the build tree (the output path rules), that the
    /// source does not already hold.
    pub path: String,
}

/// A build dependency pinned by exact version and digest ([`Recipe::build_deps`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDep {
    /// What kind of package it is, which says how it is installed.
    pub kind: DepKind,
    /// The package name; *identifier*; unique in the recipe.
    pub name: String,
    /// Its exact version; *identifier*.
    pub version: String,
    /// Where to fetch it; *URI*.
    pub uri: String,
    /// Its digest; a rebuilder refuses other bytes.
    pub digest: Digests,
}

/// How a [`BuildDep`] is installed into the toolchain root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepKind {
    /// A pure-Python wheel, unpacked (as pip installs one) into the toolchain root's
    /// `/opt/reprove/python`, which the build finds on `PYTHONPATH`.
    PypiWheel,
    /// A Debian binary package (`.deb`). A recipe whose build dependencies are `.deb`s builds
    /// in a root made of them alone (installed by dpkg, maintainer scripts run inside the
    /// sandbox), which replaces `environment` (then `host`).
    DebianDeb,
}

/// The user a build runs as inside the sandbox ([`Recipe::build_user`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildUser {
    /// uid/gid 1000, `builder` (the default).
    #[default]
    Builder,
    /// uid/gid 0 inside the sandbox's user namespace (for `fakeroot`-style builds); still
    /// an unprivileged account on the host.
    Root,
}

impl BuildUser {
    fn is_default(&self) -> bool {
        *self == BuildUser::Builder
    }
}

/// A field that must be present but may be `null`.
fn present_or_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// The build environment. JSON: `{"toolchain": "host"}` or
/// `{"toolchain": "rootfs", "uri"?, "digest"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "toolchain", rename_all = "snake_case", deny_unknown_fields)]
pub enum Environment {
    /// The rebuilder's own `/usr`, mounted read-only. Reproducible only where the hosts'
    /// toolchains agree. (A struct variant so that serde refuses unknown fields in it.)
    Host {},
    /// A root filesystem tarball, identified by digest.
    Rootfs {
        /// Where to fetch it, if the rebuilder does not have it already.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uri: Option<String>,
        /// Its digest; a rebuilder refuses a tarball with another SHA-256.
        digest: Digests,
    },
}

impl ReleaseManifest {
    /// Checks every rule in the field docs: subjects valid and unique, identifiers, URLs,
    /// source, command, environment names, and that outputs and subjects pair up one to one.
    pub fn validate(&self) -> Result<(), PredicateError> {
        let names = check_artifacts(&self.subjects)?;
        let p = &self.predicate;
        check_ident("project", &p.project)?;
        check_ident("version", &p.version)?;
        for (artifact, url) in &p.artifacts {
            if !names.contains(artifact.as_str()) {
                return Err(PredicateError::UrlForUnknownArtifact {
                    artifact: artifact.clone(),
                });
            }
            check_uri("artifacts URL", url)?;
        }
        match &p.source {
            Source::Archive { uri, digest: _ } => check_uri("source.uri", uri)?,
            Source::Git { uri, commit } => {
                check_uri("source.uri", uri)?;
                let hex = commit
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !(hex && (commit.len() == 40 || commit.len() == 64)) {
                    return Err(PredicateError::InvalidGitCommit {
                        commit: commit.clone(),
                    });
                }
            }
        }
        if let Some(import) = &p.third_party_import {
            check_ident("third_party_import.ecosystem", &import.ecosystem)?;
            check_uri("third_party_import.index", &import.index)?;
            for (what, from) in &import.digest_sources {
                check_text("third_party_import.digest_sources key", what)?;
                check_uri("third_party_import.digest_sources", from)?;
            }
            for note in &import.notes {
                check_text("third_party_import.notes", note)?;
            }
        }
        p.recipe.validate(&names, &p.source, &self.subjects)
    }

    /// The subjects a build produces (named by `recipe.outputs`), with the digests the
    /// release fixed: what a rebuild compares bit for bit. Not the source archive of a release
    /// whose outputs are all unpinned.
    pub fn pinned_subjects(&self) -> Vec<Artifact> {
        let produced: BTreeSet<&str> = self
            .predicate
            .recipe
            .outputs
            .values()
            .map(String::as_str)
            .collect();
        self.subjects
            .iter()
            .filter(|s| produced.contains(s.name.as_str()))
            .cloned()
            .collect()
    }

    /// Whether `name` is an unpinned output of this release
    /// ([`Recipe::unpinned_outputs`]).
    pub fn is_unpinned(&self, name: &str) -> bool {
        self.predicate
            .recipe
            .unpinned_outputs
            .values()
            .any(|n| n == name)
    }
}

impl Recipe {
    fn validate(
        &self,
        subject_names: &BTreeSet<&str>,
        source: &Source,
        subjects: &[Artifact],
    ) -> Result<(), PredicateError> {
        if self.command.first().is_none_or(String::is_empty) {
            return Err(PredicateError::EmptyCommand);
        }
        for arg in &self.command {
            check_no_nul("command argument", arg)?;
        }
        if let Environment::Rootfs {
            uri: Some(uri),
            digest: _,
        } = &self.environment
        {
            check_uri("environment.uri", uri)?;
        }
        for (name, value) in &self.env {
            let mut chars = name.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok
                || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                || name.len() > MAX_IDENT_BYTES
            {
                return Err(PredicateError::InvalidEnvName { name: name.clone() });
            }
            if name == "SOURCE_DATE_EPOCH" {
                return Err(PredicateError::ReservedEnvName { name: name.clone() });
            }
            check_no_nul("env value", value)?;
        }
        let mut placed = BTreeSet::new();
        for input in &self.inputs {
            check_uri("inputs.uri", &input.uri)?;
            if !is_safe_relative_path(&input.path) {
                return Err(PredicateError::UnsafeOutputPath {
                    path: input.path.clone(),
                });
            }
            if !placed.insert(input.path.as_str()) {
                return Err(PredicateError::Duplicate {
                    field: "input path",
                    value: input.path.clone(),
                });
            }
        }
        let mut deps = BTreeSet::new();
        for dep in &self.build_deps {
            check_ident("build_deps.name", &dep.name)?;
            check_ident("build_deps.version", &dep.version)?;
            check_uri("build_deps.uri", &dep.uri)?;
            if !deps.insert(dep.name.as_str()) {
                return Err(PredicateError::Duplicate {
                    field: "build dependency",
                    value: dep.name.clone(),
                });
            }
        }
        let mut produced = BTreeSet::new();
        for (path, artifact) in &self.outputs {
            if !is_safe_relative_path(path) {
                return Err(PredicateError::UnsafeOutputPath { path: path.clone() });
            }
            if !subject_names.contains(artifact.as_str()) {
                return Err(PredicateError::OutputForUnknownArtifact {
                    path: path.clone(),
                    artifact: artifact.clone(),
                });
            }
            if !produced.insert(artifact.as_str()) {
                return Err(PredicateError::Duplicate {
                    field: "output artifact",
                    value: artifact.clone(),
                });
            }
        }
        self.check_unpinned(subject_names, &mut produced)?;
        if self.outputs.is_empty() && !self.unpinned_outputs.is_empty() {
            return check_source_subject(source, subjects);
        }
        if let Some(missing) = subject_names.difference(&produced).next() {
            return Err(PredicateError::ArtifactWithoutOutput {
                artifact: (*missing).to_owned(),
            });
        }
        Ok(())
    }

    /// The rules of [`Recipe::unpinned_outputs`]; `produced` holds the pinned outputs' names.
    fn check_unpinned<'a>(
        &'a self,
        subject_names: &BTreeSet<&str>,
        produced: &mut BTreeSet<&'a str>,
    ) -> Result<(), PredicateError> {
        for (path, artifact) in &self.unpinned_outputs {
            if !is_safe_relative_path(path) || self.outputs.contains_key(path) {
                return Err(PredicateError::UnsafeOutputPath { path: path.clone() });
            }
            check_ident("unpinned output name", artifact)?;
            if subject_names.contains(artifact.as_str()) || !produced.insert(artifact.as_str()) {
                return Err(PredicateError::Duplicate {
                    field: "output artifact",
                    value: artifact.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A release whose outputs are all unpinned names its source archive as its one subject.
fn check_source_subject(source: &Source, subjects: &[Artifact]) -> Result<(), PredicateError> {
    match (source, subjects) {
        (Source::Archive { digest, .. }, [only]) if only.digest.sha256 == digest.sha256 => Ok(()),
        _ => Err(PredicateError::UnpinnedReleaseSubject),
    }
}
