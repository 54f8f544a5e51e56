//! `reprove import crate NAME@VERSION`: a release manifest for the binaries of a crate on a
//! crates.io-style sparse registry, built from the published `.crate` itself.
//!
//! Facts, each checked: the `.crate`'s sha256 (the index's `cksum` for the version; the
//! download must have it), the Cargo.lock inside it (required: it is what pins the
//! dependencies), each registry package of that Cargo.lock (its `checksum`, which the download
//! and the index's `cksum` for that version must both equal), the binary targets of the
//! crate's Cargo.toml. One choice, written into the manifest's `third_party_import.notes`: the
//! compiler, `rustc -V` of the importer's own toolchain (a registry records none); the build
//! command refuses to run under any other (a `build-failed`, never other bytes). There is no
//! published binary: the release names its binaries as *unpinned outputs*, without digests,
//! and rebuilders must agree with each other. What cannot be done honestly is a [`Refusal`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use reprove_verifier::predicates::{
    Artifact, Digests, Entry, EntryKind, Environment, Import, Input, Recipe, ReleaseManifest,
    ReleasePredicate, Source,
};
use serde::Deserialize;

pub use super::Refusal;
use super::{agent, refuse};
use crate::hash::FileDigests;
use crate::rebuild::fetch;

/// Where the vendored dependency `.crate` files are placed in the build tree.
pub const VENDOR_INPUTS: &str = "reprove-crates";

/// The registries whose packages a Cargo.lock may name (crates.io, by its git and sparse
/// names): the dependencies are fetched from the registry the import reads.
const CRATES_IO_SOURCES: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// The build, run by `sh -c` in the unpacked `.crate` with the expected `rustc -V` as `$0`:
/// check the compiler, unpack each vendored `.crate` as a directory source with its
/// checksum (cargo checks it against the Cargo.lock), then build every binary, offline, with
/// the Cargo.lock as it is, and the build directory remapped out of the binaries.
pub const BUILD_SCRIPT: &str = r#"set -eu
have=$(rustc -V)
if [ "$have" != "$0" ]; then
  echo "reprove: this release is built with $0; this rebuilder has $have" >&2
  exit 1
fi
vendor="$PWD/.reprove-vendor"
mkdir -p "$vendor"
for c in reprove-crates/*.crate; do
  [ -e "$c" ] || continue
  tar -xzf "$c" -C "$vendor"
  d="$vendor/$(basename "$c" .crate)"
  printf '{"files":{},"package":"%s"}' "$(sha256sum "$c" | cut -d' ' -f1)" > "$d/.cargo-checksum.json"
done
export CARGO_HOME="$HOME/.cargo" CARGO_INCREMENTAL=0
export RUSTFLAGS="--remap-path-prefix=$PWD=/reprove/src --remap-path-prefix=$vendor=/reprove/vendor"
exec cargo build --release --bins --frozen --offline \
  --config 'source.crates-io.replace-with="reprove-vendored"' \
  --config "source.reprove-vendored.directory=\"$vendor\""
"#;

/// What to import.
#[derive(Debug, Clone)]
pub struct Request {
    /// The sparse index's base URL (`https://index.crates.io`).
    pub registry: String,
    /// The crate name as given.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The longest one download may take.
    pub timeout: Duration,
}

/// The import's result: the manifest and the compiler it pins, for the report.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The release manifest (not yet signed).
    pub manifest: ReleaseManifest,
    /// `rustc -V` of the pinned compiler.
    pub rustc: String,
}

/// Parses `NAME@VERSION`.
pub fn parse_spec(spec: &str) -> anyhow::Result<(String, String)> {
    super::split_spec(
        spec,
        "@",
        "NAME@VERSION (an exact version, e.g. fortune@0.2.0)",
    )
}

/// `name@version` of a vendored input's path (`reprove-crates/<name>-<version>.crate`).
pub fn input_label(path: &str) -> String {
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".crate");
    // A crate version starts with a digit after the last '-' that is followed by one.
    match stem
        .match_indices('-')
        .map(|(i, _)| i)
        .find(|&i| stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
    {
        Some(i) => format!("{}@{}", &stem[..i], &stem[i + 1..]),
        None => stem.to_owned(),
    }
}

/// The sparse index's path of a crate name (lowercased): `1/a`, `2/ab`, `3/a/abc`,
/// `ab/cd/abcd…`.
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// One line of a sparse index file: one published version.
#[derive(Debug, Clone, Deserialize)]
pub struct IndexVersion {
    /// The crate's name as published.
    pub name: String,
    /// The version.
    pub vers: String,
    /// The sha256 of the `.crate`, hex.
    pub cksum: String,
    /// Whether the publisher yanked it.
    #[serde(default)]
    pub yanked: bool,
}

/// `config.json` of a sparse registry.
#[derive(Debug, Deserialize)]
struct RegistryConfig {
    dl: String,
}

/// A registry: its index, where its downloads are, what was read.
struct Registry<'a> {
    agent: ureq::Agent,
    index: &'a str,
    dl: String,
    timeout: Duration,
}

impl Registry<'_> {
    fn open(req: &Request) -> anyhow::Result<Registry<'_>> {
        let agent = agent(req.timeout);
        let url = format!("{}/config.json", req.registry);
        let (status, body) = get(&agent, &url)?;
        if status != 200 {
            return refuse(format!(
                "{} is not a sparse registry: {url} answered HTTP {status}",
                req.registry
            ));
        }
        let config: RegistryConfig = serde_json::from_str(&body)
            .map_err(|e| Refusal(format!("{url} is not a registry config.json: {e}")))?;
        Ok(Registry {
            agent,
            index: &req.registry,
            dl: config.dl.trim_end_matches('/').to_owned(),
            timeout: req.timeout,
        })
    }

    /// The index file's URL for `name`.
    fn index_url(&self, name: &str) -> String {
        format!("{}/{}", self.index, index_path(name))
    }

    /// `name`'s published `version`, as the index lists it.
    fn version(&self, name: &str, version: &str) -> anyhow::Result<IndexVersion> {
        let url = self.index_url(name);
        let (status, body) = get(&self.agent, &url)?;
        if status == 404 || status == 410 {
            return refuse(format!(
                "the registry has no crate {name:?} ({url}: HTTP {status})"
            ));
        }
        if status != 200 {
            bail!("the index file {url} answered HTTP {status}");
        }
        let mut found = None;
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: IndexVersion = serde_json::from_str(line)
                .map_err(|e| Refusal(format!("{url} is not a sparse index file: {e}")))?;
            if v.vers == version && v.name.eq_ignore_ascii_case(name) {
                found = Some(v);
            }
        }
        match found {
            Some(v) => Ok(v),
            None => refuse(format!(
                "the registry lists no version {version} of {name} ({url}): no such version"
            )),
        }
    }

    /// The download URL of `name`-`version`: the config's `dl` with its markers filled in,
    /// or `/{crate}/{version}/download` appended when it has none (as cargo does).
    fn download_url(&self, name: &str, version: &str, cksum: &str) -> String {
        let markers = [
            "{crate}",
            "{version}",
            "{prefix}",
            "{lowerprefix}",
            "{sha256-checksum}",
        ];
        if !markers.iter().any(|m| self.dl.contains(m)) {
            return format!("{}/{name}/{version}/download", self.dl);
        }
        let prefix = index_path(name);
        let prefix = prefix.rsplit_once('/').map_or("", |(p, _)| p);
        self.dl
            .replace("{crate}", name)
            .replace("{version}", version)
            .replace("{prefix}", prefix)
            .replace("{lowerprefix}", &prefix.to_ascii_lowercase())
            .replace("{sha256-checksum}", cksum)
    }

    /// Downloads `name`-`version` to `dest`; its sha256 must be `want` (hex), which `what`
    /// (the document that gave it) says.
    fn download_checked(
        &self,
        name: &str,
        version: &str,
        want: &str,
        what: &str,
        dest: &Path,
    ) -> anyhow::Result<(String, FileDigests)> {
        let url = self.download_url(name, version, want);
        let file = format!("{name}-{version}.crate");
        let got = fetch::fetch(&file, &url, fetch::Origin::Operator, dest, self.timeout)
            .map_err(|u| anyhow::anyhow!("cannot download {file}: {}", u.reason))?;
        if got.sha256_hex() != want.to_ascii_lowercase() {
            return refuse(format!(
                "{file} from {url} has sha256 {}, but {what} says {want}: the registry and the file disagree, nothing is imported",
                got.sha256_hex()
            ));
        }
        Ok((url, got))
    }
}

fn get(agent: &ureq::Agent, url: &str) -> anyhow::Result<(u16, String)> {
    let mut resp = agent
        .get(url)
        .call()
        .with_context(|| format!("cannot read {url}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .with_context(|| format!("cannot read {url}"))?;
    Ok((status, body))
}

/// What the `.crate` holds that the import needs.
#[derive(Debug, Default)]
struct CrateFacts {
    cargo_toml: Option<String>,
    cargo_lock: Option<String>,
    /// Paths inside the crate's top directory.
    files: BTreeSet<String>,
}

fn read_crate(path: &Path, file: &str) -> anyhow::Result<CrateFacts> {
    let bad = |e: std::io::Error| Refusal(format!("{file} is not a tar.gz: {e}"));
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(path)?));
    let mut facts = CrateFacts::default();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let p = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let Some((_, rel)) = p.split_once('/') else {
            continue;
        };
        let rel = rel.to_owned();
        let text = match rel.as_str() {
            "Cargo.toml" | "Cargo.lock" => {
                let mut t = String::new();
                (&mut entry)
                    .take(16 << 20)
                    .read_to_string(&mut t)
                    .map_err(bad)?;
                Some(t)
            }
            _ => None,
        };
        match rel.as_str() {
            "Cargo.toml" => facts.cargo_toml = text,
            "Cargo.lock" => facts.cargo_lock = text,
            _ => {}
        }
        facts.files.insert(rel);
    }
    Ok(facts)
}

/// The binary targets of a crate: `[[bin]]` names, then (unless `autobins = false`)
/// `src/main.rs` as the package's name and each `src/bin/<name>.rs` or
/// `src/bin/<name>/main.rs`.
fn binaries(manifest: &toml::Table, files: &BTreeSet<String>) -> Vec<String> {
    let package = manifest.get("package").and_then(|p| p.as_table());
    let pkg_name = package
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    let mut bins: BTreeSet<String> = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect();
    let autobins = package
        .and_then(|p| p.get("autobins"))
        .and_then(|a| a.as_bool())
        .unwrap_or(true);
    if autobins {
        if files.contains("src/main.rs") && !pkg_name.is_empty() {
            bins.insert(pkg_name.to_owned());
        }
        for f in files {
            let Some(rest) = f.strip_prefix("src/bin/") else {
                continue;
            };
            let name = match rest.split_once('/') {
                Some((dir, "main.rs")) => dir,
                None => rest.strip_suffix(".rs").unwrap_or_default(),
                Some(_) => "",
            };
            if !name.is_empty() {
                bins.insert(name.to_owned());
            }
        }
    }
    bins.into_iter().collect()
}

/// One package of a Cargo.lock that comes from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    /// Its name.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// The sha256 of its `.crate`, hex.
    pub checksum: String,
}

/// The registry packages of a Cargo.lock (the crate itself, with no `source`, left out);
/// anything else a lock can name (git, a path, another registry, a package without
/// checksum) is a refusal: the build could not be offline and pinned.
pub fn locked_packages(lock: &str, own: &str) -> anyhow::Result<Vec<Locked>> {
    let doc: toml::Table =
        toml::from_str(lock).map_err(|e| Refusal(format!("the Cargo.lock is not TOML: {e}")))?;
    let mut out = Vec::new();
    let packages = doc.get("package").and_then(|p| p.as_array());
    for p in packages.into_iter().flatten() {
        let field = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            return refuse("the Cargo.lock has a package without name or version");
        };
        let Some(source) = field("source") else {
            if name == own {
                continue;
            }
            return refuse(format!(
                "the Cargo.lock names {name} {version} without a source (a path dependency): it cannot be fetched by digest"
            ));
        };
        if !CRATES_IO_SOURCES.contains(&source.as_str()) {
            return refuse(format!(
                "the Cargo.lock takes {name} {version} from {source}: only crates.io packages are pinned by checksum"
            ));
        }
        let Some(checksum) = field("checksum").filter(|c| is_hex64(c)) else {
            return refuse(format!(
                "the Cargo.lock gives no checksum for {name} {version}: nothing to pin it by"
            ));
        };
        out.push(Locked {
            name,
            version,
            checksum,
        });
    }
    Ok(out)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `rustc -V` and `rustc -vV`'s host triple of the importer's toolchain (the one its
/// rebuilder would mount).
fn host_rustc() -> anyhow::Result<(String, String)> {
    let dir = crate::rebuild::build::detect_rust().ok_or_else(|| {
        Refusal("no rust toolchain here (`rustc --print sysroot`): the import pins the importer's rustc, and there is none".to_owned())
    })?;
    let out = Command::new(dir.join("bin/rustc"))
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let version = text.lines().next().unwrap_or_default().trim().to_owned();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    if !out.status.success() || !version.starts_with("rustc ") || host.is_empty() {
        bail!("rustc -vV of {} gave no version and host", dir.display());
    }
    Ok((version, host))
}

/// Imports one release: reads the index, downloads and checks the `.crate`, reads its
/// Cargo.toml and Cargo.lock, pins and checks every dependency, and writes the recipe.
/// Downloads go to `scratch`.
pub fn import(req: &Request, scratch: &Path) -> anyhow::Result<Imported> {
    let reg = Registry::open(req)?;
    let v = reg.version(&req.name, &req.version)?;
    let name = v.name.clone();
    let file = format!("{name}-{}.crate", v.vers);
    if v.yanked {
        return refuse(format!(
            "{name}@{} is yanked on {}: it is withdrawn by its publisher; reprove does not import yanked releases",
            v.vers,
            reg.index_url(&name)
        ));
    }
    if !is_hex64(&v.cksum) {
        return refuse(format!("the index gives no sha256 for {file}"));
    }
    let crate_path = scratch.join(&file);
    let what = format!("the index {}", reg.index_url(&name));
    let (crate_url, crate_d) =
        reg.download_checked(&name, &v.vers, &v.cksum, &what, &crate_path)?;
    let facts = read_crate(&crate_path, &file)?;
    let manifest: toml::Table = toml::from_str(facts.cargo_toml.as_deref().unwrap_or_default())
        .map_err(|e| Refusal(format!("{file}'s Cargo.toml is not TOML: {e}")))?;
    let bins = binaries(&manifest, &facts.files);
    if bins.is_empty() {
        return refuse(format!(
            "{file} has no binary target (a library crate): there is nothing to build into a binary"
        ));
    }
    let Some(lock) = &facts.cargo_lock else {
        return refuse(format!(
            "{file} has no Cargo.lock: its dependencies are not pinned by the publisher, and reprove does not guess them"
        ));
    };
    let locked = locked_packages(lock, &name)?;
    let mut sources = BTreeMap::from([(file.clone(), reg.index_url(&name))]);
    let inputs = pin_dependencies(&reg, &locked, scratch, &file, &mut sources)?;
    let (rustc, host) = host_rustc()?;
    let manifest = release(
        req,
        &name,
        &v.vers,
        &bins,
        (&crate_url, &crate_d),
        &rustc,
        &host,
    )
    .with_inputs(inputs, sources, locked.len(), &file);
    Entry::new(EntryKind::Release(manifest.clone()))
        .context("the imported release manifest breaks a format rule")?;
    Ok(Imported { manifest, rustc })
}

/// Every registry package of the Cargo.lock, downloaded and checked against the lock's
/// checksum and the index's `cksum`, as an input of the build tree.
fn pin_dependencies(
    reg: &Registry<'_>,
    locked: &[Locked],
    scratch: &Path,
    file: &str,
    sources: &mut BTreeMap<String, String>,
) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for (i, dep) in locked.iter().enumerate() {
        let listed = reg.version(&dep.name, &dep.version).map_err(|e| {
            Refusal(format!(
                "{file}'s Cargo.lock pins {} {}: {e}",
                dep.name, dep.version
            ))
        })?;
        if !listed.cksum.eq_ignore_ascii_case(&dep.checksum) {
            return refuse(format!(
                "{file}'s Cargo.lock gives {} {} the checksum {}, the index {} gives {}: they disagree, nothing is imported",
                dep.name,
                dep.version,
                dep.checksum,
                reg.index_url(&dep.name),
                listed.cksum
            ));
        }
        let dest = scratch.join(format!("dep-{i}.crate"));
        let what = format!("{file}'s Cargo.lock");
        let (url, d) =
            reg.download_checked(&dep.name, &dep.version, &dep.checksum, &what, &dest)?;
        let dep_file = format!("{}-{}.crate", dep.name, dep.version);
        // The Cargo.lock pinned it; the index file agreed (both checked above).
        sources.insert(dep_file.clone(), reg.index_url(&dep.name));
        inputs.push(Input {
            uri: url,
            digest: Digests {
                sha256: d.sha256,
                blake3: Some(d.blake3),
            },
            path: format!("{VENDOR_INPUTS}/{dep_file}"),
        });
    }
    Ok(inputs)
}

/// The release manifest of a crate without its inputs: the `.crate` as source and as the
/// one subject, each binary an unpinned output.
fn release(
    req: &Request,
    name: &str,
    version: &str,
    bins: &[String],
    (crate_url, crate_d): (&str, &FileDigests),
    rustc: &str,
    host: &str,
) -> ReleaseManifest {
    let digest = Digests {
        sha256: crate_d.sha256,
        blake3: Some(crate_d.blake3),
    };
    let file = format!("{name}-{version}.crate");
    let notes = vec![
        format!(
            "{rustc} ({host}) pinned: the importer's toolchain, as the registry records no compiler; the build refuses to run under another (build-failed)"
        ),
        format!(
            "binaries {} built by `cargo build --release --bins --frozen --offline` with every Cargo.lock package vendored from its pinned .crate; no published binary exists, so rebuilders must agree with each other",
            bins.join(", ")
        ),
    ];
    ReleaseManifest {
        subjects: vec![Artifact {
            name: file.clone(),
            digest,
        }],
        predicate: ReleasePredicate {
            project: name.to_owned(),
            version: version.to_owned(),
            artifacts: BTreeMap::new(),
            source: Source::Archive {
                uri: crate_url.to_owned(),
                digest,
            },
            recipe: Recipe {
                command: vec![
                    "sh".to_owned(),
                    "-c".to_owned(),
                    BUILD_SCRIPT.to_owned(),
                    rustc.to_owned(),
                ],
                environment: Environment::Host {},
                source_date_epoch: None,
                env: BTreeMap::from([("LC_ALL".to_owned(), "C".to_owned())]),
                outputs: BTreeMap::new(),
                unpinned_outputs: bins
                    .iter()
                    .map(|b| (format!("target/release/{b}"), b.clone()))
                    .collect(),
                inputs: Vec::new(),
                build_deps: Vec::new(),
                build_user: Default::default(),
            },
            third_party_import: Some(Import {
                ecosystem: "crates".to_owned(),
                index: req.registry.clone(),
                digest_sources: BTreeMap::new(),
                notes,
            }),
        },
    }
}

/// Adds the vendored inputs and where every digest came from.
trait WithInputs {
    fn with_inputs(
        self,
        inputs: Vec<Input>,
        sources: BTreeMap<String, String>,
        deps: usize,
        file: &str,
    ) -> Self;
}

impl WithInputs for ReleaseManifest {
    fn with_inputs(
        mut self,
        inputs: Vec<Input>,
        sources: BTreeMap<String, String>,
        deps: usize,
        file: &str,
    ) -> Self {
        let p = &mut self.predicate;
        p.recipe.inputs = inputs;
        if let Some(i) = p.third_party_import.as_mut() {
            i.digest_sources = sources;
            i.notes.push(format!(
                "{deps} registry package(s) of {file}'s Cargo.lock pinned by its checksum, each equal to the index's cksum and to the downloaded bytes"
            ));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_name_length() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Fortune"), "fo/rt/fortune");
        assert_eq!(
            input_label("reprove-crates/cfg-if-1.0.0.crate"),
            "cfg-if@1.0.0"
        );
        assert_eq!(parse_spec("fortune@0.2.0").unwrap().1, "0.2.0");
        assert!(parse_spec("fortune==0.2.0").is_err());
    }

    #[test]
    fn lockfiles_pin_registry_packages_and_refuse_the_rest() {
        let sum = "ab".repeat(32);
        let lock = format!(
            "version = 3\n\n[[package]]\nname = \"me\"\nversion = \"1.0.0\"\ndependencies = [\"cfg-if\"]\n\n\
             [[package]]\nname = \"cfg-if\"\nversion = \"1.0.0\"\nsource = \"{}\"\nchecksum = \"{sum}\"\n",
            CRATES_IO_SOURCES[0]
        );
        let got = locked_packages(&lock, "me").unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].checksum, sum);
        let git = lock.replace(CRATES_IO_SOURCES[0], "git+https://example.org/x#abc");
        assert!(locked_packages(&git, "me").is_err());
        let path = lock.replace("name = \"me\"", "name = \"other\"");
        assert!(locked_packages(&path, "me").is_err());
        let bare = lock.replace(&format!("checksum = \"{sum}\"\n"), "");
        assert!(locked_packages(&bare, "me").is_err());
    }

    #[test]
    fn binaries_come_from_bin_sections_and_the_usual_paths() {
        let files: BTreeSet<String> = ["src/main.rs", "src/bin/two.rs", "src/bin/three/main.rs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m: toml::Table = toml::from_str("[package]\nname = \"one\"\n").unwrap();
        assert_eq!(binaries(&m, &files), ["one", "three", "two"]);
        let m: toml::Table =
            toml::from_str("[package]\nname = \"one\"\nautobins = false\n[[bin]]\nname = \"x\"\n")
                .unwrap();
        assert_eq!(binaries(&m, &files), ["x"]);
        let lib = BTreeSet::from(["src/lib.rs".to_owned()]);
        let m: toml::Table = toml::from_str("[package]\nname = \"one\"\n").unwrap();
        assert!(binaries(&m, &lib).is_empty());
    }
}
