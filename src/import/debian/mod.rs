//! `reprove import debian SOURCE=VERSION`: a release manifest for a Debian source package,
//! from the archive's own signed metadata.
//!
//! Chain of facts, each checked: the suite's `InRelease` verifies with Debian's archive keyring
//! (`gpgv`); it gives the sha256 of `main/source/Sources.xz` and `main/binary-<arch>/Packages.xz`;
//! `Sources` gives the `.dsc` and its files by sha256 (each downloaded and checked); `Packages`
//! gives every `.deb` the source built for the architecture (the release's artifacts, each
//! downloaded and checked) and every package of the build root. Choices, each written into
//! `third_party_import.notes`: the build root (the `.buildinfo`'s `Installed-Build-Depends`, or
//! the suite's current versions), SOURCE_DATE_EPOCH (the top `debian/changelog` entry's date,
//! as dpkg-buildpackage sets it), the build user (`Rules-Requires-Root`).

pub mod archive;
pub mod deb822;
pub mod resolve;
mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use reprove_verifier::predicates::{
    Artifact, BuildDep, BuildUser, DepKind, Digests, Entry, EntryKind, Environment, Import, Input,
    Recipe, ReleaseManifest, ReleasePredicate, Source,
};

pub use super::pypi::Refusal;
use crate::rebuild::fetch;
use resolve::{Archive, Binary};

/// Where the `.dsc` and its files are placed in the build tree.
pub const DSC_DIR: &str = "reprove-dsc";

/// The build command's script, run by `sh -c` in the build tree (the root of the package's
/// upstream tarball) with `$1` the `.dsc` file name and `$2` dpkg-buildpackage's build-type
/// option: unpack the source package as `dpkg-source -x` does, then build its binary packages
/// unsigned; the `.deb`s land in the build tree.
pub const BUILD_SCRIPT: &str = "set -eu
dpkg-source --no-check -x \"reprove-dsc/$1\" reprove-src
cd reprove-src
dpkg-buildpackage --no-sign \"$2\"
";

fn refuse<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(Refusal(msg.into()).into())
}

/// What to import.
#[derive(Debug, Clone)]
pub struct Request {
    /// The mirror's base URL (`https://deb.debian.org/debian`).
    pub mirror: String,
    /// The suite (`bookworm`).
    pub suite: String,
    /// The source package.
    pub source: String,
    /// Its exact version.
    pub version: String,
    /// The architecture whose binary packages are the artifacts.
    pub arch: String,
    /// A `.buildinfo` of the published build, if the importer has one.
    pub buildinfo: Option<PathBuf>,
    /// The OpenPGP keyring `InRelease` must verify with.
    pub keyring: PathBuf,
    /// The longest one download may take.
    pub timeout: Duration,
}

/// Parses `SOURCE=VERSION`.
pub fn parse_spec(spec: &str) -> anyhow::Result<(String, String)> {
    match spec.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => {
            Ok((n.trim().to_owned(), v.trim().to_owned()))
        }
        _ => bail!("{spec:?} is not SOURCE=VERSION (an exact version, e.g. tree=2.1.0-1)"),
    }
}

/// The import's result.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The release manifest (not yet signed).
    pub manifest: ReleaseManifest,
    /// The signed suite: `InRelease` URL, its `Date`, the good signatures' key fingerprints.
    pub release: archive::Release,
    /// Where the build root's versions came from: `buildinfo` or `suite`.
    pub build_root_from: &'static str,
}

/// Imports one source package version: see the module documentation.
pub fn import(req: &Request, scratch: &Path) -> anyhow::Result<Imported> {
    let release =
        archive::read_release(&req.mirror, &req.suite, &req.keyring, scratch, req.timeout)?;
    let mut sources = BTreeMap::new();
    let (sources_url, stanzas) = archive::read_index(
        &release,
        &req.suite,
        "main/source/Sources.xz",
        scratch,
        req.timeout,
    )?;
    sources.insert("main/source/Sources.xz".to_owned(), release.url.clone());
    let src = source::find(&stanzas, &req.source, &req.version, &sources_url)?;
    drop(stanzas);
    let packages_path = format!("main/binary-{}/Packages.xz", req.arch);
    let (packages_url, stanzas) =
        archive::read_index(&release, &req.suite, &packages_path, scratch, req.timeout)?;
    sources.insert(packages_path, release.url.clone());
    let archive = Archive::new(stanzas, &req.arch);
    let files = source::download(&src, &req.mirror, scratch, req.timeout)?;
    for f in &files {
        sources.insert(f.name.clone(), sources_url.clone());
    }
    let facts = source::read_debian_dir(&src, &files, scratch)?;
    let binaries = pick_binaries(&archive, req, &packages_url)?;
    let mut notes = vec![format!(
        "{} (Suite {}, Codename {}, Version {}, Date {}) verified with the OpenPGP keyring {} by gpgv: good signatures by {}",
        release.url,
        release.suite,
        release.codename,
        release.version,
        release.date,
        req.keyring.display(),
        release.signers.join(", ")
    )];
    let mut subjects = Vec::new();
    let mut artifacts = BTreeMap::new();
    for b in &binaries {
        let url = format!("{}/{}", req.mirror, b.filename);
        let name = file_name(&b.filename);
        let got = download_checked(
            &url,
            b.sha256,
            &scratch.join("published").join(&name),
            req.timeout,
            &packages_url,
        )?;
        subjects.push(Artifact {
            name: name.clone(),
            digest: Digests {
                sha256: got.sha256,
                blake3: Some(got.blake3),
            },
        });
        sources.insert(name.clone(), packages_url.clone());
        artifacts.insert(name, url);
    }
    let info = match &req.buildinfo {
        Some(path) => Some(source::read_buildinfo(path, req)?),
        None => None,
    };
    let (root, from) = match &info {
        Some(info) => (
            resolve::from_buildinfo(&archive, &info.installed, &req.arch)?,
            "buildinfo",
        ),
        None => (
            resolve::from_suite(&archive, facts.build_depends.clone(), &req.arch)?,
            "suite",
        ),
    };
    notes.push(match from {
        "buildinfo" => format!(
            "build root: the {} packages of the .buildinfo's Installed-Build-Depends, at exactly those versions, each found in the suite's Packages",
            root.len()
        ),
        _ => format!(
            "build root: {} packages, the suite's current versions of every Essential: yes package, build-essential and the source's build dependencies, closed under Pre-Depends and Depends (first satisfiable alternative of each clause); no .buildinfo was given, so the published build's exact versions are not known",
            root.len()
        ),
    });
    // One key for all of them: a log entry is at most 65535 bytes, and a root has hundreds.
    sources.insert("build_deps".to_owned(), packages_url.clone());
    let build_deps: Vec<BuildDep> = root
        .values()
        .map(|b| BuildDep {
            kind: DepKind::DebianDeb,
            name: b.name.clone(),
            version: b.version.clone(),
            uri: format!("{}/{}", req.mirror, b.filename),
            digest: Digests {
                sha256: b.sha256,
                blake3: None,
            },
        })
        .collect();
    let sde = match info.as_ref().and_then(|i| i.source_date_epoch) {
        Some(t) if t != facts.changelog_time => {
            notes.push(format!(
                "SOURCE_DATE_EPOCH {t} from the .buildinfo's Environment (the changelog's top entry says {})",
                facts.changelog_time
            ));
            t
        }
        _ => {
            notes.push(format!(
                "SOURCE_DATE_EPOCH {} from the top debian/changelog entry's date {:?}, as dpkg-buildpackage sets it",
                facts.changelog_time, facts.changelog_date
            ));
            facts.changelog_time
        }
    };
    let user = build_user(facts.rules_requires_root.as_deref(), &mut notes);
    let arch_any = binaries.iter().any(|b| b.arch != "all");
    let arch_all = binaries.iter().any(|b| b.arch == "all");
    let build_type = match (arch_any, arch_all) {
        (true, true) => "--build=binary",
        (true, false) => "--build=any",
        _ => "--build=all",
    };
    notes.push(format!(
        "built by dpkg-source -x of the .dsc, then dpkg-buildpackage --no-sign {build_type}, offline, in a root made of the pinned .debs alone"
    ));
    let mut env = BTreeMap::from([("LC_ALL".to_owned(), "C.UTF-8".to_owned())]);
    if let Some(info) = &info {
        for (k, v) in &info.environment {
            env.insert(k.clone(), v.clone());
        }
    }
    let dsc = files
        .iter()
        .find(|f| f.name.ends_with(".dsc"))
        .context("no .dsc")?;
    let upstream = source::upstream_tarball(&files)?;
    let manifest = ReleaseManifest {
        subjects,
        predicate: ReleasePredicate {
            project: req.source.clone(),
            version: req.version.clone(),
            artifacts,
            source: Source::Archive {
                uri: upstream.url.clone(),
                digest: upstream.digests(),
            },
            recipe: Recipe {
                command: vec![
                    "sh".to_owned(),
                    "-c".to_owned(),
                    BUILD_SCRIPT.to_owned(),
                    "sh".to_owned(),
                    dsc.name.clone(),
                    build_type.to_owned(),
                ],
                environment: Environment::Host {},
                source_date_epoch: Some(sde),
                env,
                outputs: binaries
                    .iter()
                    .map(|b| (file_name(&b.filename), file_name(&b.filename)))
                    .collect(),
                unpinned_outputs: Default::default(),
                inputs: files
                    .iter()
                    .map(|f| Input {
                        uri: f.url.clone(),
                        digest: f.digests(),
                        path: format!("{DSC_DIR}/{}", f.name),
                    })
                    .collect(),
                build_deps,
                build_user: user,
            },
            third_party_import: Some(Import {
                ecosystem: "debian".to_owned(),
                index: req.mirror.clone(),
                digest_sources: sources,
                notes,
            }),
        },
    };
    Entry::new(EntryKind::Release(manifest.clone()))
        .context("the imported release manifest breaks a format rule")?;
    Ok(Imported {
        manifest,
        release,
        build_root_from: from,
    })
}

/// Root for `binary-targets` (dpkg's default when the field is absent, which buildds meet
/// with fakeroot) and for a list of keywords; the unprivileged builder for `no`.
fn build_user(r3: Option<&str>, notes: &mut Vec<String>) -> BuildUser {
    let (user, why) = match r3.map(str::trim) {
        Some("no") => (BuildUser::Builder, "Rules-Requires-Root: no"),
        Some(_) => (BuildUser::Root, "Rules-Requires-Root asks for root"),
        None => (
            BuildUser::Root,
            "no Rules-Requires-Root field (dpkg's default binary-targets, which buildds meet with fakeroot)",
        ),
    };
    notes.push(format!(
        "build user {}: {why}",
        match user {
            BuildUser::Builder => "builder (uid 1000)",
            BuildUser::Root => "root (uid 0 in the sandbox's user namespace)",
        }
    ));
    user
}

/// The `.deb`s the suite holds of exactly this source version for `req.arch` (and `all`).
fn pick_binaries<'a>(
    archive: &'a Archive,
    req: &Request,
    packages_url: &str,
) -> anyhow::Result<Vec<&'a Binary>> {
    let found: Vec<&Binary> = archive
        .by_name
        .values()
        .flatten()
        .filter(|b| b.source.0 == req.source && b.source.1 == req.version)
        .collect();
    if found.is_empty() {
        return refuse(format!(
            "{packages_url} lists no binary package built from {} {} for {} or all: there is nothing published to compare a rebuild with",
            req.source, req.version, req.arch
        ));
    }
    if let Some(b) = binnmu(&found, &req.version) {
        return refuse(format!(
            "the archive's {} is a binNMU ({} {} of source {} {}): the buildd rebuilt it with a \
             changelog entry that only its .buildinfo records (Binary-Only-Changes), and reprove \
             does not rebuild binNMUs yet; nothing is imported",
            b.filename.rsplit('/').next().unwrap_or(&b.filename),
            b.name,
            b.version,
            req.source,
            req.version
        ));
    }
    Ok(found)
}

/// The first binary whose version is not its source's: a binary-only rebuild by the archive
/// (`2.2.5-3+b1` of source `2.2.5-3`), whose bytes come from a changelog entry the source
/// does not have.
fn binnmu<'a>(found: &[&'a Binary], source_version: &str) -> Option<&'a Binary> {
    found.iter().copied().find(|b| b.version != source_version)
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// Downloads `url` to `dest` and checks it has `want`, which `listed_in` gave.
fn download_checked(
    url: &str,
    want: [u8; 32],
    dest: &Path,
    timeout: Duration,
    listed_in: &str,
) -> anyhow::Result<crate::hash::FileDigests> {
    let name = file_name(url);
    let got = fetch::fetch(&name, url, fetch::Origin::Operator, dest, timeout)
        .map_err(|u| anyhow!("cannot download {name}: {}", u.reason))?;
    if got.sha256 != want {
        return refuse(format!(
            "{name} from {url} has sha256 {}, but {listed_in} says {}: the mirror and its signed metadata disagree, nothing is imported",
            got.sha256_hex(),
            hex::encode(want)
        ));
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// figlet 2.2.5-3 in bookworm: its amd64 binary is `2.2.5-3+b1`, a binNMU, which an import
    /// refuses; binaries at the source's own version are not.
    #[test]
    fn a_binnmu_is_found() {
        let text = "Package: figlet\nVersion: 2.2.5-3+b1\nSource: figlet (2.2.5-3)\nArchitecture: amd64\nFilename: pool/main/f/figlet/figlet_2.2.5-3+b1_amd64.deb\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n\n\
Package: tree\nVersion: 2.1.0-1\nArchitecture: amd64\nFilename: pool/main/t/tree/tree_2.1.0-1_amd64.deb\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\n";
        let archive = Archive::new(deb822::stanzas(text), "amd64");
        let of = |source: &str| -> Vec<&Binary> {
            archive
                .by_name
                .values()
                .flatten()
                .filter(|b| b.source.0 == source)
                .collect()
        };
        let figlet = of("figlet");
        assert_eq!(figlet[0].source.1, "2.2.5-3");
        assert_eq!(
            binnmu(&figlet, "2.2.5-3").map(|b| b.version.as_str()),
            Some("2.2.5-3+b1")
        );
        assert!(binnmu(&of("tree"), "2.1.0-1").is_none());
    }
}
