//! The publisher's manifest (TOML) and how it becomes a release manifest statement.
//!
//! The TOML names what a human knows — local files, URLs, a git commit — and `resolve` turns
//! it into the signed form, which names only bytes by digest: every local file is hashed
//! (sha256 + blake3), every URL without a local copy is downloaded and hashed, and a given
//! `sha256` must match. A commented example is `fixtures/hello-c/reprove.toml`; the format:
//!
//! ```toml
//! project = "hello-c"
//! version = "1.0.0"
//!
//! [source]                      # exactly one of: path, url (+ sha256), git (+ commit)
//! path = "dist/src.tar.gz"      # a local tar or tar.gz, hashed; `url` says where rebuilders
//! url = "https://…/src.tar.gz"  # fetch it (default: the absolute path of `path`)
//! # sha256 = "…"                # required with `url` alone; checked when given with `path`
//! # git = "https://…/repo.git"  # or a git repository
//! # commit = "<40 or 64 hex>"   # at this full commit ID
//!
//! [recipe]
//! command = ["make", "dist"]    # argument vector, no implicit shell
//! toolchain = "host"            # or [recipe.toolchain.rootfs] with path/url and sha256
//! source_date_epoch = 1700000000   # or "unset": the build sees no SOURCE_DATE_EPOCH
//! env = { LC_ALL = "C.UTF-8" }  # extra fixed variables
//! outputs = { "out/hello.tar.gz" = "hello-1.0.0.tar.gz" }   # path in the tree → artifact
//! # unpinned_outputs = { "target/release/hello" = "hello" }  # no published digest: rebuilders
//! #                             # must agree; with no `outputs`, the one artifact is the source
//! # build_user = "root"         # uid 0 inside the sandbox's user namespace (default: builder)
//!
//! [[recipe.input]]              # more files, placed in the build tree before the build
//! url = "https://…/data.bin"
//! sha256 = "…"
//! path = "vendor/data.bin"
//!
//! [[recipe.build_dep]]          # pinned packages installed into the toolchain root
//! kind = "pypi-wheel"
//! name = "flit_core"
//! version = "3.10.1"
//! url = "https://…/flit_core-3.10.1-py3-none-any.whl"
//! sha256 = "…"
//!
//! [[artifact]]                  # one per published artifact
//! name = "hello-1.0.0.tar.gz"
//! path = "dist/hello-1.0.0.tar.gz"   # the local file, hashed
//! url = "https://…/hello-1.0.0.tar.gz"  # where it is published (rebuilders fetch it for
//!                                       # diff reports); without `path`, it is downloaded
//! ```
//!
//! Relative paths are relative to the TOML file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reprove_verifier::predicates::{
    Artifact, BuildDep, Digests, Entry, EntryKind, Environment, Input, Recipe, ReleaseManifest,
    ReleasePredicate, Source,
};
use reprove_verifier::statement::parse_hex32;
use serde::Deserialize;

use super::fetch;
use crate::hash::{FileDigests, hash_file};

/// The publisher's manifest as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherManifest {
    /// The project name.
    pub project: String,
    /// The version.
    pub version: String,
    /// Where the source is.
    pub source: SourceSpec,
    /// How to build.
    pub recipe: RecipeSpec,
    /// The published artifacts.
    #[serde(rename = "artifact", default)]
    pub artifacts: Vec<ArtifactSpec>,
}

/// `[source]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// A local archive.
    pub path: Option<String>,
    /// Where rebuilders fetch the archive.
    pub url: Option<String>,
    /// The archive's sha256 (hex).
    pub sha256: Option<String>,
    /// A git repository.
    pub git: Option<String>,
    /// Its full commit ID.
    pub commit: Option<String>,
}

/// `[recipe]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeSpec {
    /// The build command.
    pub command: Vec<String>,
    /// The toolchain.
    #[serde(default)]
    pub toolchain: ToolchainSpec,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: EpochSpec,
    /// Extra fixed environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Output path → artifact name.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Output path → artifact name, for outputs whose bytes no publisher fixes (rebuilders
    /// must agree with each other on them).
    #[serde(default)]
    pub unpinned_outputs: BTreeMap<String, String>,
    /// Who the build runs as inside the sandbox.
    #[serde(default)]
    pub build_user: reprove_verifier::predicates::BuildUser,
    /// More input files.
    #[serde(rename = "input", default)]
    pub inputs: Vec<InputSpec>,
    /// Pinned build dependencies.
    #[serde(rename = "build_dep", default)]
    pub build_deps: Vec<BuildDepSpec>,
}

/// `source_date_epoch = <seconds>` or `"unset"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum EpochSpec {
    /// Seconds since the epoch.
    At(u64),
    /// `"unset"`.
    Unset(Unset),
}

/// The word `unset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unset {
    /// `"unset"`.
    Unset,
}

impl EpochSpec {
    /// The value, `None` for unset.
    pub fn value(self) -> Option<u64> {
        match self {
            EpochSpec::At(t) => Some(t),
            EpochSpec::Unset(_) => None,
        }
    }
}

/// `[[recipe.input]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Where rebuilders fetch it.
    pub url: String,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Where it goes in the build tree.
    pub path: String,
}

/// `[[recipe.build_dep]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDepSpec {
    /// The package kind.
    pub kind: reprove_verifier::predicates::DepKind,
    /// The package name.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// Where rebuilders fetch it.
    pub url: String,
    /// Its sha256 (hex).
    pub sha256: String,
}

/// `toolchain = "host"` or `[recipe.toolchain.rootfs]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolchainSpec {
    /// The rebuilder's `/usr`.
    #[default]
    Host,
    /// A root filesystem tarball.
    Rootfs {
        /// A local copy (hashed).
        path: Option<String>,
        /// Where rebuilders fetch it.
        url: Option<String>,
        /// Its sha256 (hex).
        sha256: Option<String>,
    },
}

/// `[[artifact]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSpec {
    /// The artifact name (a subject name).
    pub name: String,
    /// The local file.
    pub path: Option<String>,
    /// Where it is published.
    pub url: Option<String>,
}

/// A publisher manifest read from a file.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The manifest.
    pub spec: PublisherManifest,
    /// The directory relative paths are resolved against.
    pub base: PathBuf,
    /// Whether a `[source] path` that is a directory is packed (`super::pack`) into the
    /// scratch directory, leaving out these paths: only for a local build, where the packed
    /// archive lives as long as the build. Otherwise a directory is refused.
    pub pack_source_dir: Option<Vec<PathBuf>>,
}

/// Reads and parses a publisher manifest.
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the manifest {}", path.display()))?;
    let spec: PublisherManifest = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid publisher manifest", path.display()))?;
    let abs = std::path::absolute(path)?;
    let base = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
    Ok(Loaded {
        spec,
        base,
        pack_source_dir: None,
    })
}

impl Loaded {
    fn local(&self, p: &str) -> PathBuf {
        self.base.join(p)
    }

    /// The source and recipe in their signed form (local files hashed, remote ones fetched to
    /// `scratch` and checked). What a local build needs; [`Loaded::resolve`] adds artifacts.
    pub fn resolve_build(
        &self,
        scratch: &Path,
        timeout: Duration,
    ) -> anyhow::Result<(Source, Recipe)> {
        let s = &self.spec.source;
        let source = match (&s.path, &s.url, &s.git, &s.commit) {
            (None, None, Some(git), Some(commit)) => {
                if s.sha256.is_some() {
                    bail!(
                        "[source]: sha256 is for archives, not git (the commit ID is the digest)"
                    );
                }
                let uri = if git.contains("://") || git.starts_with('/') {
                    git.clone()
                } else {
                    self.local(git).to_string_lossy().into_owned()
                };
                Source::Git {
                    uri,
                    commit: commit.clone(),
                }
            }
            (Some(_), _, None, None) | (None, Some(_), None, None) => {
                let path = self.source_archive(scratch)?;
                let (uri, digests) =
                    self.resolve_file("source", &path, &s.url, &s.sha256, scratch, timeout)?;
                Source::Archive {
                    uri,
                    digest: digests,
                }
            }
            _ => bail!(
                "[source] must give either path (and optionally url, sha256), url with sha256, or git with commit"
            ),
        };
        let r = &self.spec.recipe;
        let environment = match &r.toolchain {
            ToolchainSpec::Host => Environment::Host {},
            ToolchainSpec::Rootfs { path, url, sha256 } => {
                let (uri, digest) =
                    self.resolve_file("rootfs", path, url, sha256, scratch, timeout)?;
                Environment::Rootfs {
                    uri: Some(uri),
                    digest,
                }
            }
        };
        let digest = |what: &str, h: &str| -> anyhow::Result<Digests> {
            Ok(Digests::sha256(parse_hex32(h).with_context(|| {
                format!("{what}: sha256 {h:?} is not 64 lowercase hex")
            })?))
        };
        let recipe = Recipe {
            inputs: r
                .inputs
                .iter()
                .map(|i| {
                    Ok(Input {
                        uri: i.url.clone(),
                        digest: digest(&format!("[[recipe.input]] {}", i.path), &i.sha256)?,
                        path: i.path.clone(),
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            build_deps: r
                .build_deps
                .iter()
                .map(|d| {
                    Ok(BuildDep {
                        kind: d.kind,
                        name: d.name.clone(),
                        version: d.version.clone(),
                        uri: d.url.clone(),
                        digest: digest(&format!("[[recipe.build_dep]] {}", d.name), &d.sha256)?,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            unpinned_outputs: r.unpinned_outputs.clone(),
            build_user: r.build_user,
            command: r.command.clone(),
            environment,
            source_date_epoch: r.source_date_epoch.value(),
            env: r.env.clone(),
            outputs: r.outputs.clone(),
        };
        Ok((source, recipe))
    }

    /// The `[source] path` as an archive: a directory packed into `scratch` when allowed
    /// ([`Loaded::pack_source_dir`]), refused otherwise.
    fn source_archive(&self, scratch: &Path) -> anyhow::Result<Option<String>> {
        let Some(p) = &self.spec.source.path else {
            return Ok(None);
        };
        let dir = self.local(p);
        if !dir.is_dir() {
            return Ok(Some(p.clone()));
        }
        let Some(exclude) = &self.pack_source_dir else {
            bail!(
                "[source] path {} is a directory: a logged release names an archive. \
                 `reprove rebuild --manifest` packs it reproducibly (into its work directory, \
                 as NAME-VERSION-src.tar.gz); publish that archive and name it here",
                dir.display()
            );
        };
        let top = format!(
            "{}-{}",
            super::build::safe_name(&self.spec.project),
            super::build::safe_name(&self.spec.version)
        );
        let out = scratch.join(format!("{top}-src.tar.gz"));
        super::pack::pack_dir(
            &dir,
            &top,
            &out,
            self.spec.recipe.source_date_epoch.value().unwrap_or(0),
            exclude,
        )
        .with_context(|| format!("packing the source directory {}", dir.display()))?;
        Ok(Some(out.to_string_lossy().into_owned()))
    }

    /// Fills in `PREFIX/<file name of path>` as the URL of every artifact, and of the source
    /// archive and root filesystem, that has a local path and no URL.
    pub fn fill_urls(&mut self, prefix: &str) -> anyhow::Result<()> {
        let prefix = prefix.trim_end_matches('/');
        let at = |path: &str| -> anyhow::Result<String> {
            let file = Path::new(path)
                .file_name()
                .with_context(|| format!("{path:?} has no file name"))?
                .to_string_lossy()
                .into_owned();
            Ok(format!("{prefix}/{file}"))
        };
        for a in &mut self.spec.artifacts {
            if let (None, Some(path)) = (&a.url, &a.path) {
                a.url = Some(at(path)?);
            }
        }
        let s = &mut self.spec.source;
        if let (None, Some(path), None) = (&s.url, &s.path, &s.git) {
            s.url = Some(at(path)?);
        }
        if let ToolchainSpec::Rootfs {
            path: Some(path),
            url: url @ None,
            ..
        } = &mut self.spec.recipe.toolchain
        {
            *url = Some(at(path)?);
        }
        Ok(())
    }

    /// The complete release manifest: source and recipe, and every artifact hashed.
    pub fn resolve(&self, scratch: &Path, timeout: Duration) -> anyhow::Result<ReleaseManifest> {
        let (source, recipe) = self.resolve_build(scratch, timeout)?;
        let mut subjects = Vec::new();
        let mut urls = BTreeMap::new();
        if self.spec.artifacts.is_empty() {
            bail!("the manifest names no [[artifact]]");
        }
        for a in &self.spec.artifacts {
            let d = match (&a.path, &a.url) {
                (Some(p), _) => {
                    let file = self.local(p);
                    hash_file(&file, |_| {}).with_context(|| {
                        format!("artifact {}: cannot read {}", a.name, file.display())
                    })?
                }
                (None, Some(url)) => {
                    let dest = scratch.join(format!("artifact-{}", subjects.len()));
                    fetch::fetch("artifact", url, fetch::Origin::Operator, &dest, timeout)
                        .map_err(|u| anyhow::anyhow!("artifact {}: {u}", a.name))?
                }
                (None, None) => bail!("artifact {} has neither path nor url", a.name),
            };
            if let Some(url) = &a.url {
                urls.insert(a.name.clone(), url.clone());
            }
            subjects.push(Artifact {
                name: a.name.clone(),
                digest: both(&d),
            });
        }
        let manifest = ReleaseManifest {
            subjects,
            predicate: ReleasePredicate {
                third_party_import: None,
                project: self.spec.project.clone(),
                version: self.spec.version.clone(),
                artifacts: urls,
                source,
                recipe,
            },
        };
        Entry::new(EntryKind::Release(manifest.clone()))
            .context("the release manifest breaks a format rule")?;
        Ok(manifest)
    }

    /// A file input (source archive, rootfs): `(uri, digests)`.
    fn resolve_file(
        &self,
        what: &str,
        path: &Option<String>,
        url: &Option<String>,
        sha256: &Option<String>,
        scratch: &Path,
        timeout: Duration,
    ) -> anyhow::Result<(String, Digests)> {
        let want = match sha256 {
            Some(h) => Some(
                parse_hex32(h)
                    .with_context(|| format!("[{what}] sha256 {h:?} is not 64 lowercase hex"))?,
            ),
            None => None,
        };
        let (uri, got) = match (path, url) {
            (Some(p), url) => {
                let file = self.local(p);
                let d = hash_file(&file, |_| {})
                    .with_context(|| format!("{what}: cannot read {}", file.display()))?;
                let uri = url
                    .clone()
                    .unwrap_or_else(|| file.to_string_lossy().into_owned());
                (uri, d)
            }
            (None, Some(url)) => {
                if want.is_none() {
                    bail!("{what}: a url alone needs its sha256");
                }
                let dest = scratch.join(format!("{what}.download"));
                let d = fetch::fetch(what, url, fetch::Origin::Operator, &dest, timeout)
                    .map_err(|u| anyhow::anyhow!("{u}"))?;
                (url.clone(), d)
            }
            (None, None) => bail!("{what}: give a path or a url"),
        };
        if let Some(w) = want
            && w != got.sha256
        {
            bail!(
                "{what}: the file has sha256 {}, the manifest says {}",
                got.sha256_hex(),
                hex::encode(w)
            );
        }
        Ok((uri, both(&got)))
    }
}

fn both(d: &FileDigests) -> Digests {
    Digests {
        sha256: d.sha256,
        blake3: Some(d.blake3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_manifest_resolves_to_hashed_subjects() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "src.tar.gz", "source bytes");
        write(dir.path(), "hello.bin", "artifact bytes");
        let toml = r#"
            project = "hello"
            version = "1.0"
            [source]
            path = "src.tar.gz"
            [recipe]
            command = ["make"]
            source_date_epoch = 1700000000
            outputs = { "out/hello" = "hello.bin" }
            [[artifact]]
            name = "hello.bin"
            path = "hello.bin"
            url = "https://example.org/hello.bin"
        "#;
        let m = load(&write(dir.path(), "r.toml", toml)).unwrap();
        let r = m.resolve(dir.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(
            r.subjects[0].digest.sha256,
            crate::hash::hash_bytes(b"artifact bytes").sha256
        );
        match &r.predicate.source {
            Source::Archive { uri, digest } => {
                assert!(uri.ends_with("/src.tar.gz"), "{uri}");
                assert_eq!(
                    digest.sha256,
                    crate::hash::hash_bytes(b"source bytes").sha256
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.predicate.artifacts["hello.bin"],
            "https://example.org/hello.bin"
        );
    }

    #[test]
    fn bad_manifests_are_refused_with_reasons() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "src.tar.gz", "source bytes");
        let base = |source: &str, extra: &str| {
            format!(
                "project = \"p\"\nversion = \"1\"\n[source]\n{source}\n[recipe]\ncommand = [\"make\"]\nsource_date_epoch = 1\noutputs = {{ \"o\" = \"a\" }}\n{extra}"
            )
        };
        let art = "[[artifact]]\nname = \"a\"\npath = \"src.tar.gz\"\n";
        let cases = [
            (base("path = \"src.tar.gz\"", ""), "no [[artifact]]"),
            (
                base("path = \"src.tar.gz\"\nsha256 = \"00\"", art),
                "not 64 lowercase hex",
            ),
            (
                base(
                    &format!("path = \"src.tar.gz\"\nsha256 = \"{}\"", "0".repeat(64)),
                    art,
                ),
                "the manifest says",
            ),
            (base("url = \"https://x/y\"", art), "needs its sha256"),
            (base("git = \"/r\"", art), "[source] must give"),
            (base("path = \"missing.tgz\"", art), "cannot read"),
            (
                base("path = \"src.tar.gz\"\ntypo = 1", art),
                "unknown field",
            ),
            (
                base(
                    "path = \"src.tar.gz\"",
                    "[[artifact]]\nname = \"b\"\npath = \"src.tar.gz\"\n",
                ),
                "breaks a format rule",
            ),
        ];
        for (i, (toml, want)) in cases.iter().enumerate() {
            let path = write(dir.path(), &format!("m{i}.toml"), toml);
            let err = load(&path)
                .and_then(|m| m.resolve(dir.path(), Duration::from_secs(5)))
                .unwrap_err();
            let chain = format!("{err:#}");
            assert!(chain.contains(want), "case {i}: {chain}");
        }
    }
}
