//! `reprove import pypi NAME==VERSION`: a release manifest for a pure-Python wheel on a PyPI
//! simple index (PEP 503 HTML or PEP 691 JSON), inferred from the published files themselves.
//!
//! Facts, each checked: the index's sha256 of the sdist and the wheel (the downloaded bytes
//! must have it), the backend named by the wheel's `*.dist-info/WHEEL` `Generator:` line (its
//! exact version's wheel and sha256 from the same index). Choices, each written into the
//! manifest's `third_party_import.notes`: SOURCE_DATE_EPOCH (unset when the zip entries carry
//! a backend's default date, else the wheel's one timestamp), the publisher's time zone, build
//! clock and umask (when the zip dates and modes show them), and the versions of the backend's
//! own requires and of the sdist's other `build-system.requires` (the newest final release on
//! the index that satisfies the requirement and was uploaded no later than the wheel). What
//! cannot be inferred is a refusal ([`Refusal`]), never a guess.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use reprove_verifier::predicates::{
    Artifact, BuildDep, DepKind, Digests, Entry, EntryKind, Environment, Import, Recipe,
    ReleaseManifest, ReleasePredicate, Source,
};
use serde::Deserialize;

pub use super::Refusal;
use super::pep508::{self, Release, TARGET_PYTHON};
use super::{agent, refuse};
use crate::hash::FileDigests;
use crate::rebuild::fetch;

/// Where the built wheel lands in the build tree.
pub const OUT_DIR: &str = "reprove-dist";

/// The environment variable that carries the publisher's umask (octal) to [`BUILD_SCRIPT`]
/// when the wheel's modes show one other than 022.
pub const UMASK_VAR: &str = "REPROVE_WHEEL_UMASK";

/// The environment variable that carries the publisher's build clock (seconds since the
/// epoch) to [`BUILD_SCRIPT`] when the wheel's own dates show it.
pub const CLOCK_VAR: &str = "REPROVE_WHEEL_CLOCK";

/// The build command's program (run as `python3 -S`, so that only the standard library and
/// the pinned packages on `PYTHONPATH` are importable, never the host's dist-packages): PEP 517
/// `build_wheel` of the backend the sdist's `pyproject.toml` names (setuptools' legacy backend
/// without one), with `backend-path`, after `site.addsitedir` of each `PYTHONPATH` entry (so
/// `.pth` files of the pinned packages take effect). Run with the unpacked sdist as the working
/// directory. Before the build:
/// - file modes are set as unpacking under the publisher's umask leaves them: 0755 if
///   executable, else 0644 — or 0777/0666 less [`UMASK_VAR`] when it is set, which also
///   becomes the process umask;
/// - with [`CLOCK_VAR`] set, the build's clock stands at that time: `time.time()` returns it,
///   and `os.stat`, `os.lstat` and `os.fstat` date every file written since the script started
///   at it (atime, mtime, ctime), as a machine whose clock read that time would have.
pub const BUILD_SCRIPT: &str = r#"import importlib, os, site, sys, time, tomllib
for p in filter(None, os.environ.get("PYTHONPATH", "").split(":")):
    site.addsitedir(p)
umask = os.environ.get("REPROVE_WHEEL_UMASK")
if umask is not None:
    umask = int(umask, 8)
    os.umask(umask)
for root, dirs, files in os.walk("."):
    for n in files:
        p = os.path.join(root, n)
        if not os.path.islink(p):
            x = os.stat(p).st_mode & 0o111
            os.chmod(p, (0o755 if x else 0o644) if umask is None else (0o777 if x else 0o666) & ~umask)
clock = os.environ.get("REPROVE_WHEEL_CLOCK")
if clock is not None:
    clock, start = int(clock), int(time.time())
    def dated(real):
        def stat(*args, **kwargs):
            st = real(*args, **kwargs)
            if st.st_mtime < start:
                return st
            seq, rest = st.__reduce__()[1]
            seq = list(seq)
            seq[7:10] = [clock] * 3
            for f in ("st_atime", "st_mtime", "st_ctime"):
                rest[f] = float(clock)
                rest[f + "_ns"] = clock * 10**9
            return os.stat_result(seq, rest)
        return stat
    os.stat, os.lstat, os.fstat = dated(os.stat), dated(os.lstat), dated(os.fstat)
    time.time = lambda: float(clock)
    time.time_ns = lambda: clock * 10**9
try:
    with open("pyproject.toml", "rb") as f:
        bs = tomllib.load(f).get("build-system", {})
except FileNotFoundError:
    bs = {}
backend = bs.get("build-backend", "setuptools.build_meta:__legacy__")
sys.path[:0] = [os.path.abspath(p) for p in bs.get("backend-path", [])]
mod, _, obj = backend.partition(":")
b = importlib.import_module(mod)
for a in filter(None, obj.split(".")):
    b = getattr(b, a)
out = os.path.abspath(sys.argv[1])
os.makedirs(out, exist_ok=True)
print("built", b.build_wheel(out))
"#;

/// Zip dates build backends write when SOURCE_DATE_EPOCH is unset: the zip epoch, poetry-core
/// and pdm-backend's (and flit_core's, for generated files) 2016-01-01, hatchling's 2020-02-02.
const BACKEND_DEFAULT_DATES: [(u16, u8, u8, &str); 3] = [
    (1980, 1, 1, "the zip format's earliest date"),
    (
        2016,
        1,
        1,
        "the default of flit_core, poetry-core and pdm-backend",
    ),
    (2020, 2, 2, "hatchling's default"),
];

/// A zip entry's date: year, month, day, hour, minute, second (no time zone).
type ZipDate = (u16, u8, u8, u8, u8, u8);

/// Seconds since the epoch of a zip date read as UTC.
fn zip_secs((y, m, d, hh, mm, ss): ZipDate) -> i64 {
    days_from_civil(i64::from(y), u32::from(m), u32::from(d)) * 86400
        + i64::from(hh) * 3600
        + i64::from(mm) * 60
        + i64::from(ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What to import.
#[derive(Debug, Clone)]
pub struct Request {
    /// The simple index's base URL (`https://pypi.org/simple`).
    pub index: String,
    /// The project name as given.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The longest one download may take.
    pub timeout: Duration,
}

/// Parses `NAME==VERSION`.
pub fn parse_spec(spec: &str) -> anyhow::Result<(String, String)> {
    super::split_spec(
        spec,
        "==",
        "NAME==VERSION (an exact version, e.g. tomli==2.2.1)",
    )
}

/// A project name normalised as PEP 503 says (`[-_.]+` → `-`, lowercase).
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if "-_.".contains(c) {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// One file on a project's index page.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// Its file name.
    pub filename: String,
    /// Its absolute URL (fragment removed).
    pub url: String,
    /// The index's sha256 of it, when given.
    pub sha256: Option<[u8; 32]>,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub yanked: Option<String>,
    /// The PEP 700 upload time, RFC 3339, when given.
    pub upload_time: Option<String>,
}

/// A project's index page, read.
#[derive(Debug, Clone)]
pub struct Page {
    /// The page's URL.
    pub url: String,
    /// Its files.
    pub files: Vec<IndexFile>,
}

/// The import's result: the manifest and what the importer decided, for the report.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The release manifest (not yet signed).
    pub manifest: ReleaseManifest,
    /// The published wheel's file name.
    pub wheel: String,
    /// The pinned backend, `name==version`.
    pub backend: String,
}

/// Imports one release: reads the index, downloads and checks the sdist and the wheel,
/// infers the recipe, pins the build dependencies. Downloads go to `scratch`.
pub fn import(req: &Request, scratch: &Path) -> anyhow::Result<Imported> {
    let agent = agent(req.timeout);
    let name = normalize(&req.name);
    let page = read_page(&agent, &req.index, &name)?;
    let (sdist, wheel) = pick_files(&page, &name, &req.version)?;
    for f in [&sdist, &wheel] {
        if let Some(reason) = &f.yanked {
            let why = if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            };
            return refuse(format!(
                "{}=={} is yanked on {}{why}: {} is withdrawn by its publisher; reprove does not import yanked releases",
                name, req.version, page.url, f.filename
            ));
        }
    }
    let sdist_path = scratch.join("sdist.tar.gz");
    let sdist_d = download_checked(&sdist, &page, &sdist_path, req.timeout)?;
    let wheel_path = scratch.join("published.whl");
    let wheel_d = download_checked(&wheel, &page, &wheel_path, req.timeout)?;
    let facts = read_wheel(&wheel_path, &wheel.filename)?;
    let mut notes = Vec::new();
    let sde = infer_sde(&facts.timestamps, &mut notes);
    let backend = backend_of(&facts.generator, &wheel.filename)?;
    let build_system = read_build_system(&sdist_path)?;
    let (tz, clock) = match sde {
        None => {
            let tz = infer_tz(&facts.entries, &build_system.files, &mut notes);
            let offset = tz.as_ref().map_or(0, |(_, off)| *off);
            let clock = infer_clock(&facts.entries, &build_system.files, offset, &mut notes);
            (tz.map(|(tz, _)| tz), clock)
        }
        Some(_) => (None, None),
    };
    let umask = infer_umask(&facts.entries, &mut notes);
    let mut resolver = Resolver {
        agent: &agent,
        index: &req.index,
        scratch,
        timeout: req.timeout,
        not_after: wheel.upload_time.clone(),
        pages: BTreeMap::new(),
        deps: Vec::new(),
        sources: BTreeMap::new(),
        notes: Vec::new(),
        seen: BTreeSet::new(),
    };
    resolver.pin_exact(
        &backend.package,
        &backend.version,
        &format!(
            "{} {} pinned from the wheel's Generator line {:?}",
            backend.package, backend.version, facts.generator
        ),
    )?;
    if let Some(extra) = &backend.with_setuptools {
        // From 70.1 on, setuptools has its own bdist_wheel, which names itself in Generator.
        let req = pep508::requirement("setuptools<70.1").map_err(Refusal)?;
        resolver.pin_newest(&req, extra, 0)?;
    }
    if backend.package == "setuptools"
        && let Some((bound, why)) = old_wheel_package(&facts)
    {
        // setuptools' bdist_wheel imports the `wheel` package ahead of its own vendored copy
        // when one is installed: the wheel shows whether the publisher had an old one.
        let req = pep508::requirement(&format!("wheel{bound}")).map_err(Refusal)?;
        resolver.pin_newest(&req, &why, 0)?;
    }
    for r in &build_system.requires {
        let parsed = pep508::requirement(r)
            .map_err(|e| Refusal(format!("the sdist's build-system.requires: {e}")))?;
        if !parsed.applies || resolver.seen.contains(&normalize(&parsed.name)) {
            continue;
        }
        // `wheel` is setuptools' old companion: what the Generator line names decides.
        if normalize(&parsed.name) == "wheel" && backend.package != "wheel" {
            continue;
        }
        let why = format!("the sdist's build-system.requires names {r:?}");
        resolver.pin_newest(&parsed, &why, 0)?;
    }
    notes.append(&mut resolver.notes);
    notes.push(format!(
        "built by PEP 517 build_wheel of {:?} with Python {TARGET_PYTHON} (the rebuilder's /usr), offline, umask {:03o}",
        build_system
            .backend
            .as_deref()
            .unwrap_or("setuptools.build_meta:__legacy__ (the sdist has no build-backend)"),
        umask.unwrap_or(0o022)
    ));
    let mut sources = resolver.sources;
    sources.insert(wheel.filename.clone(), page.url.clone());
    sources.insert(sdist.filename.clone(), page.url.clone());
    let digests = |d: &FileDigests| Digests {
        sha256: d.sha256,
        blake3: Some(d.blake3),
    };
    let manifest = ReleaseManifest {
        subjects: vec![Artifact {
            name: wheel.filename.clone(),
            digest: digests(&wheel_d),
        }],
        predicate: ReleasePredicate {
            project: name.clone(),
            version: req.version.clone(),
            artifacts: BTreeMap::from([(wheel.filename.clone(), wheel.url.clone())]),
            source: Source::Archive {
                uri: sdist.url.clone(),
                digest: digests(&sdist_d),
            },
            recipe: Recipe {
                command: vec![
                    "python3".to_owned(),
                    // No site: the host's dist-packages (Debian's own wheel, setuptools…) must
                    // not stand in for the pinned packages; PYTHONPATH still counts.
                    "-S".to_owned(),
                    "-c".to_owned(),
                    BUILD_SCRIPT.to_owned(),
                    OUT_DIR.to_owned(),
                ],
                environment: Environment::Host {},
                source_date_epoch: sde,
                env: BTreeMap::from_iter(
                    [("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned())]
                        .into_iter()
                        .chain(tz.map(|tz| ("TZ".to_owned(), tz)))
                        .chain(umask.map(|u| (UMASK_VAR.to_owned(), format!("{u:03o}"))))
                        .chain(clock.map(|t| (CLOCK_VAR.to_owned(), t.to_string()))),
                ),
                outputs: BTreeMap::from([(
                    format!("{OUT_DIR}/{}", wheel.filename),
                    wheel.filename.clone(),
                )]),
                inputs: Vec::new(),
                build_deps: resolver.deps,
                unpinned_outputs: Default::default(),
                build_user: Default::default(),
            },
            third_party_import: Some(Import {
                ecosystem: "pypi".to_owned(),
                index: req.index.clone(),
                digest_sources: sources,
                notes,
            }),
        },
    };
    Entry::new(EntryKind::Release(manifest.clone()))
        .context("the imported release manifest breaks a format rule")?;
    Ok(Imported {
        manifest,
        wheel: wheel.filename,
        backend: format!("{}=={}", backend.package, backend.version),
    })
}

/// Reads `<index>/<name>/`, as PEP 691 JSON when the server offers it, else PEP 503 HTML.
pub fn read_page(agent: &ureq::Agent, index: &str, name: &str) -> anyhow::Result<Page> {
    let url = format!("{}/{name}/", index.trim_end_matches('/'));
    let mut resp = agent
        .get(&url)
        .header(
            "Accept",
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1",
        )
        .call()
        .with_context(|| format!("cannot read the index page {url}"))?;
    let status = resp.status().as_u16();
    if status == 404 {
        return refuse(format!(
            "the index has no project {name:?} ({url}: HTTP 404)"
        ));
    }
    if status != 200 {
        bail!("the index page {url} answered HTTP {status}");
    }
    let json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .with_context(|| format!("cannot read the index page {url}"))?;
    let files = if json {
        parse_json(&body, &url)?
    } else {
        parse_html(&body, &url)
    };
    Ok(Page { url, files })
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
}

fn parse_json(body: &str, page: &str) -> anyhow::Result<Vec<IndexFile>> {
    let parsed: JsonPage = serde_json::from_str(body)
        .with_context(|| format!("{page} is not a PEP 691 JSON project page"))?;
    Ok(parsed
        .files
        .into_iter()
        .map(|f| IndexFile {
            sha256: f.hashes.get("sha256").and_then(|h| parse_hex(h)),
            yanked: match f.yanked {
                serde_json::Value::Bool(true) => Some(String::new()),
                serde_json::Value::String(s) => Some(s),
                _ => None,
            },
            url: join_url(page, &f.url),
            filename: f.filename,
            upload_time: f.upload_time,
        })
        .collect())
}

/// PEP 503: `<a href="URL#sha256=HEX" data-yanked="reason">FILENAME</a>`.
fn parse_html(body: &str, page: &str) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<a ") {
        rest = &rest[start + 3..];
        let Some(close) = rest.find('>') else { break };
        let attrs = &rest[..close];
        let Some(end) = rest.find("</a>") else { break };
        let text = unescape(rest[close + 1..end].trim());
        rest = &rest[end..];
        let Some(href) = attr(attrs, "href") else {
            continue;
        };
        let (href, fragment) = href.split_once('#').unwrap_or((&href, ""));
        let sha256 = fragment.strip_prefix("sha256=").and_then(parse_hex);
        files.push(IndexFile {
            filename: text,
            url: join_url(page, href),
            sha256,
            yanked: attr(attrs, "data-yanked"),
            upload_time: None,
        });
    }
    files
}

fn attr(attrs: &str, name: &str) -> Option<String> {
    let mut at = 0;
    while let Some(i) = attrs[at..].find(name) {
        let i = at + i;
        let before_ok = i == 0 || attrs.as_bytes()[i - 1].is_ascii_whitespace();
        let after = &attrs[i + name.len()..];
        at = i + name.len();
        if !before_ok {
            continue;
        }
        let after = after.trim_start();
        let Some(v) = after.strip_prefix('=') else {
            if after.is_empty() || after.starts_with(char::is_whitespace) || after.starts_with('/')
            {
                return Some(String::new());
            }
            continue;
        };
        let v = v.trim_start();
        let q = v.chars().next()?;
        if q == '"' || q == '\'' {
            let v = &v[1..];
            return v.find(q).map(|e| unescape(&v[..e]));
        }
        let e = v.find(char::is_whitespace).unwrap_or(v.len());
        return Some(unescape(&v[..e]));
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn parse_hex(h: &str) -> Option<[u8; 32]> {
    reprove_verifier::statement::parse_hex32(&h.to_ascii_lowercase())
}

/// Resolves a link on `page` (absolute, host-absolute or relative).
fn join_url(page: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_owned();
    }
    let scheme_end = page.find("://").map_or(0, |i| i + 3);
    let host_end = page[scheme_end..]
        .find('/')
        .map_or(page.len(), |i| scheme_end + i);
    if href.starts_with("//") {
        return format!("{}{}", &page[..scheme_end - 2], href);
    }
    if href.starts_with('/') {
        return format!("{}{href}", &page[..host_end]);
    }
    let mut dir: Vec<&str> = page[host_end..].split('/').collect();
    dir.pop();
    for part in href.split('/') {
        match part {
            "." => {}
            ".." => {
                if dir.len() > 1 {
                    dir.pop();
                }
            }
            p => dir.push(p),
        }
    }
    format!("{}{}", &page[..host_end], dir.join("/"))
}

/// The wheel name's fields: (distribution, version, python tag, abi tag, platform tag).
fn wheel_tags(filename: &str) -> Option<(&str, &str, &str, &str, &str)> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    match parts.as_slice() {
        [d, v, py, abi, plat] | [d, v, _, py, abi, plat] => Some((d, v, py, abi, plat)),
        _ => None,
    }
}

fn sdist_version<'a>(filename: &'a str, name: &str) -> Option<&'a str> {
    let stem = filename.strip_suffix(".tar.gz")?;
    // The name part may itself contain '-': try every split.
    stem.match_indices('-')
        .map(|(i, _)| (&stem[..i], &stem[i + 1..]))
        .find(|(n, _)| normalize(n) == name)
        .map(|(_, v)| v)
}

/// The sdist and the pure-Python wheel of `version`.
fn pick_files(page: &Page, name: &str, version: &str) -> anyhow::Result<(IndexFile, IndexFile)> {
    let sdists: Vec<&IndexFile> = page
        .files
        .iter()
        .filter(|f| sdist_version(&f.filename, name) == Some(version))
        .collect();
    let wheels: Vec<&IndexFile> = page
        .files
        .iter()
        .filter(|f| {
            wheel_tags(&f.filename)
                .is_some_and(|(d, v, _, _, _)| normalize(d) == name && v == version)
        })
        .collect();
    if sdists.is_empty() && wheels.is_empty() {
        return refuse(format!(
            "the index has no files for {name}=={version} ({}): no such version",
            page.url
        ));
    }
    let Some(sdist) = sdists.first() else {
        return refuse(format!(
            "{name}=={version} has no sdist (.tar.gz) on {}: there is no source to rebuild from",
            page.url
        ));
    };
    let pure: Vec<&&IndexFile> = wheels
        .iter()
        .filter(|f| {
            wheel_tags(&f.filename).is_some_and(|(_, _, py, abi, plat)| {
                abi == "none" && plat == "any" && py.split('.').any(|t| t.starts_with("py3"))
            })
        })
        .collect();
    let Some(wheel) = pure.first() else {
        return refuse(format!(
            "{name}=={version} has no pure-Python wheel (py3-none-any) on {}: only pure-Python wheels are imported",
            page.url
        ));
    };
    if pure.len() > 1 {
        return refuse(format!(
            "{name}=={version} has {} pure-Python wheels on {}; reprove imports one",
            pure.len(),
            page.url
        ));
    }
    Ok(((*sdist).clone(), (**wheel).clone()))
}

/// Downloads `f` and checks it against the index's sha256; a refusal when they differ.
fn download_checked(
    f: &IndexFile,
    page: &Page,
    dest: &Path,
    timeout: Duration,
) -> anyhow::Result<FileDigests> {
    let Some(want) = f.sha256 else {
        return refuse(format!(
            "the index ({}) gives no sha256 for {}: nothing to check the download against",
            page.url, f.filename
        ));
    };
    let got = fetch::fetch(&f.filename, &f.url, fetch::Origin::Operator, dest, timeout)
        .map_err(|u| anyhow::anyhow!("cannot download {}: {}", f.filename, u.reason))?;
    if got.sha256 != want {
        return refuse(format!(
            "{} from {} has sha256 {}, but the index {} says {}: the index and the file disagree, nothing is imported",
            f.filename,
            f.url,
            got.sha256_hex(),
            page.url,
            hex::encode(want)
        ));
    }
    Ok(got)
}

/// What the published wheel says about its own build.
#[derive(Debug)]
struct WheelFacts {
    generator: String,
    /// Distinct zip entry times, (y, m, d, H, M, S).
    timestamps: BTreeSet<ZipDate>,
    /// Each member's name, time and Unix mode (when the zip records one).
    entries: Vec<WheelEntry>,
    /// The first `Requires-Dist` header of `METADATA` in the old `name (specifiers)` form.
    parenthesized: Option<String>,
}

/// The upper bound on the version of the `wheel` package that wrote a `setuptools (X)` wheel
/// (X ≥ 70.1, whose bdist_wheel uses an installed `wheel` ahead of its vendored, newer copy),
/// with the reason, when the wheel shows an old one: `RECORD`'s zip mode 0664 without a file
/// type (written by `wheel` up to 0.38.4; 0.40.0 added `S_IFREG`, there is no 0.39), or
/// `Requires-Dist` specifiers in parentheses (up to 0.41.0).
fn old_wheel_package(facts: &WheelFacts) -> Option<(&'static str, String)> {
    let record = facts
        .entries
        .iter()
        .find(|e| is_dist_info_file(&e.name, "RECORD"));
    if let Some(r) = record.filter(|r| r.mode == Some(0o664)) {
        return Some((
            "<0.40",
            format!(
                "the wheel's {} has zip mode 0664 without a file type, as the `wheel` package wrote it before 0.40, which setuptools' bdist_wheel uses instead of its own copy when it is installed: wheel<0.40",
                r.name
            ),
        ));
    }
    facts.parenthesized.as_ref().map(|line| {
        (
            "<0.41.1",
            format!(
                "the wheel's METADATA has {line:?}, the form of the `wheel` package before 0.41.1, which setuptools' bdist_wheel uses instead of its own copy when it is installed: wheel<0.41.1"
            ),
        )
    })
}

/// Whether a wheel member is `file` in the wheel's own (top-level) `*.dist-info/`.
fn is_dist_info_file(name: &str, file: &str) -> bool {
    name.strip_suffix(file)
        .and_then(|d| d.strip_suffix(".dist-info/"))
        .is_some_and(|d| !d.contains('/'))
}

/// Whether a METADATA line is a `Requires-Dist` whose version specifiers are in parentheses
/// (`Requires-Dist: botocore (<2.0a.0,>=1.37.4)`), as the `wheel` package wrote them up to
/// 0.41.0 (0.41.1 dropped them; setuptools' own copy never wrote them).
fn is_parenthesized_requirement(line: &str) -> bool {
    let Some(req) = line.strip_prefix("Requires-Dist:") else {
        return false;
    };
    let req = req.split(';').next().unwrap_or(req).trim_end();
    req.ends_with(')') && req.contains(" (")
}

/// One member of the published wheel.
#[derive(Debug, Clone, PartialEq)]
struct WheelEntry {
    name: String,
    date: ZipDate,
    mode: Option<u32>,
    /// Uncompressed size in bytes.
    size: u64,
}

fn read_wheel(path: &Path, filename: &str) -> anyhow::Result<WheelFacts> {
    let file = std::fs::File::open(path)?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| Refusal(format!("{filename} is not a zip archive: {e}")))?;
    let mut timestamps = BTreeSet::new();
    let mut entries = Vec::new();
    let mut wheel_meta = None;
    let mut parenthesized = None;
    for i in 0..zip.len() {
        let mut m = zip
            .by_index(i)
            .map_err(|e| Refusal(format!("{filename}: member {i}: {e}")))?;
        let name = m.name().map(|n| n.into_owned()).unwrap_or_default();
        if let Some(t) = m.last_modified() {
            let t = (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            );
            timestamps.insert(t);
            entries.push(WheelEntry {
                name: name.clone(),
                date: t,
                mode: m.unix_mode(),
                size: m.size(),
            });
        }
        let mut read_text = |cap: u64| {
            let mut text = String::new();
            (&mut m)
                .take(cap)
                .read_to_string(&mut text)
                .map_err(|e| Refusal(format!("{filename}: {name}: {e}")))
                .map(|_| text)
        };
        if is_dist_info_file(&name, "METADATA") {
            parenthesized = read_text(4 << 20)?
                .lines()
                .take_while(|l| !l.is_empty())
                .find(|l| is_parenthesized_requirement(l))
                .map(str::to_owned);
        }
        if is_dist_info_file(&name, "WHEEL") {
            let text = read_text(64 << 10)?;
            wheel_meta = Some((name, text));
        }
    }
    let Some((meta_name, text)) = wheel_meta else {
        return refuse(format!("{filename} has no *.dist-info/WHEEL file"));
    };
    let generator = text
        .lines()
        .find_map(|l| l.strip_prefix("Generator:"))
        .map(|g| g.trim().to_owned());
    let Some(generator) = generator.filter(|g| !g.is_empty()) else {
        return refuse(format!(
            "{filename}: {meta_name} has no Generator: line, so the build backend and its version cannot be known; nothing is imported"
        ));
    };
    let purelib = text
        .lines()
        .find_map(|l| l.strip_prefix("Root-Is-Purelib:"))
        .map(str::trim);
    if purelib != Some("true") {
        return refuse(format!(
            "{filename}: {meta_name} does not say Root-Is-Purelib: true; only pure-Python wheels are imported"
        ));
    }
    Ok(WheelFacts {
        generator,
        timestamps,
        entries,
        parenthesized,
    })
}

/// SOURCE_DATE_EPOCH from the wheel's zip dates, with the reason in `notes`.
fn infer_sde(timestamps: &BTreeSet<ZipDate>, notes: &mut Vec<String>) -> Option<u64> {
    let default = timestamps.iter().find_map(|&(y, m, d, hh, mm, ss)| {
        BACKEND_DEFAULT_DATES
            .iter()
            .find(|(dy, dm, dd, _)| (y, m, d, hh, mm, ss) == (*dy, *dm, *dd, 0, 0, 0))
    });
    if let Some((y, m, d, what)) = default {
        notes.push(format!(
            "SOURCE_DATE_EPOCH unset: zip entries of the wheel are dated {y:04}-{m:02}-{d:02} 00:00:00, {what}, which a backend writes only when SOURCE_DATE_EPOCH is unset"
        ));
        return None;
    }
    let all: Vec<_> = timestamps.iter().copied().collect();
    match all.as_slice() {
        [(y, m, d, hh, mm, ss)] => {
            let (y, m, d, hh, mm, ss) = (*y, *m, *d, *hh, *mm, *ss);
            let t = zip_secs((y, m, d, hh, mm, ss));
            notes.push(format!(
                "SOURCE_DATE_EPOCH={t}: every zip entry of the wheel is dated {y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} (read as UTC)"
            ));
            u64::try_from(t).ok()
        }
        many => {
            notes.push(format!(
                "SOURCE_DATE_EPOCH unset: the wheel's zip entries carry {} different dates and none is a backend default, so it was built without SOURCE_DATE_EPOCH, probably with the publisher's clock in some entries",
                many.len()
            ));
            None
        }
    }
}

/// The backend package to pin, from the Generator line.
#[derive(Debug)]
struct Backend {
    package: String,
    version: String,
    /// `bdist_wheel (X)` names the `wheel` package; setuptools must be pinned too, by date.
    with_setuptools: Option<String>,
}

fn backend_of(generator: &str, filename: &str) -> anyhow::Result<Backend> {
    let words: Vec<&str> = generator.split_whitespace().collect();
    let (tool, version) = match words.as_slice() {
        [tool, version, ..] => (*tool, version.trim_matches(|c| c == '(' || c == ')')),
        _ => {
            return refuse(format!(
                "{filename}: Generator: {generator:?} does not name a backend and a version"
            ));
        }
    };
    if Release::parse(version).is_none() {
        return refuse(format!(
            "{filename}: Generator: {generator:?}: {version:?} is not an exact release version"
        ));
    }
    let package = match tool {
        "flit" | "flit_core" => "flit_core",
        "hatchling" | "hatch" => "hatchling",
        "poetry-core" | "poetry" => "poetry-core",
        "pdm-backend" | "pdm-pep517" | "pdm" => tool,
        "setuptools" => "setuptools",
        "bdist_wheel" => "wheel",
        _ => {
            return refuse(format!(
                "{filename}: Generator: {generator:?}: {tool:?} is not a pure-Python build backend reprove knows how to pin"
            ));
        }
    };
    let package = if package == "pdm" {
        "pdm-backend"
    } else {
        package
    };
    Ok(Backend {
        package: package.to_owned(),
        version: version.to_owned(),
        with_setuptools: (package == "wheel").then(|| {
            format!(
                "the Generator line {generator:?} names the wheel package's bdist_wheel, which setuptools used before 70.1 (later ones write their own name): setuptools<70.1"
            )
        }),
    })
}

/// The sdist's `[build-system]`, and its files' modification times.
#[derive(Debug, Default)]
struct BuildSystem {
    requires: Vec<String>,
    backend: Option<String>,
    /// The sdist's regular files.
    files: SdistFiles,
}

/// Path below the sdist's top directory → (mtime in whole seconds, the PAX record's when
/// given; size in bytes).
type SdistFiles = BTreeMap<String, (i64, u64)>;

/// The time zone the publisher's build ran in, when the wheel's dates are its files' mtimes
/// (SOURCE_DATE_EPOCH unset) shifted by one fixed offset: a backend that dates entries by
/// `time.localtime(mtime)` (flit_core, setuptools) writes local time. Returns the POSIX `TZ`
/// and the offset east of UTC in seconds; `None` when no file pairs up, the offset is zero,
/// or the offsets disagree.
fn infer_tz(
    entries: &[WheelEntry],
    files: &SdistFiles,
    notes: &mut Vec<String>,
) -> Option<(String, i64)> {
    let mut offsets = BTreeSet::new();
    let mut paired = 0;
    for e in entries {
        let (Some(src), false) = (same_path_copy(files, e), is_backend_default(e.date)) else {
            continue;
        };
        // Zip dates have 2-second steps; an offset is a whole number of quarter hours.
        let raw = zip_secs(e.date) - src;
        let off = (raw as f64 / 900.0).round() as i64 * 900;
        if (raw - off).abs() > 2 {
            return None;
        }
        offsets.insert(off);
        paired += 1;
    }
    let [off] = offsets.iter().copied().collect::<Vec<_>>()[..] else {
        return None;
    };
    if off == 0 || off.abs() > 14 * 3600 {
        return None;
    }
    // POSIX TZ: the offset is written west-positive.
    let west = -off;
    let tz = if west % 3600 == 0 {
        format!(
            "Etc/GMT{}{}",
            if west >= 0 { "+" } else { "-" },
            west.abs() / 3600
        )
    } else {
        let (h, m) = (west.abs() / 3600, west.abs() % 3600 / 60);
        let sign = if west >= 0 { "+" } else { "-" };
        format!(
            "<{}{h:02}{m:02}>{sign}{h}:{m:02}",
            if west >= 0 { "-" } else { "+" }
        )
    };
    notes.push(format!(
        "TZ={tz}: the {paired} wheel entries that are also sdist files are dated their sdist mtime {}{}:{:02} — local time of a build {} UTC",
        if off >= 0 { "+" } else { "-" },
        off.abs() / 3600,
        off.abs() % 3600 / 60,
        if off >= 0 { "east of" } else { "west of" }
    ));
    Some((tz, off))
}

fn is_backend_default(date: ZipDate) -> bool {
    BACKEND_DEFAULT_DATES
        .iter()
        .any(|(y, m, d, _)| date == (*y, *m, *d, 0, 0, 0))
}

/// The sdist mtime of the file a wheel member is a copy of: the same size, at the same path
/// or below `src/`.
fn same_path_copy(files: &SdistFiles, e: &WheelEntry) -> Option<i64> {
    files
        .get(&e.name)
        .or_else(|| files.get(&format!("src/{}", e.name)))
        .filter(|(_, size)| *size == e.size)
        .map(|(mtime, _)| *mtime)
}

/// Whether a wheel member is a copy of an sdist file that kept its mtime (shifted by `offset`,
/// within a zip date's 2 seconds): one of the same size at the same path, or with the same file
/// name anywhere (backends copy license files into `dist-info/`).
fn is_dated_copy(files: &SdistFiles, e: &WheelEntry, offset: i64) -> bool {
    let matches = |mtime: i64| (zip_secs(e.date) - offset - mtime).abs() <= 2;
    if same_path_copy(files, e).is_some_and(matches) {
        return true;
    }
    let base = e.name.rsplit('/').next().unwrap_or(&e.name);
    files.iter().any(|(path, (mtime, size))| {
        path.rsplit('/').next() == Some(base) && *size == e.size && matches(*mtime)
    })
}

/// The publisher's clock during its build (seconds since the epoch), when the wheel was built
/// without SOURCE_DATE_EPOCH and every entry the build wrote itself — not a copy of an sdist
/// file of the same size dated its mtime (shifted by `offset`, the build's time zone east of
/// UTC), nor dated a backend's default — carries one and the same date: a backend dates such files by their mtime,
/// which is the wall clock when the build wrote them. A build whose clock stands at that time
/// writes the same dates. `None` (with the reason in `notes` when there were such entries) when
/// they carry several dates: the publisher's build took longer than one 2-second zip step, and
/// no fixed clock reproduces it.
fn infer_clock(
    entries: &[WheelEntry],
    files: &SdistFiles,
    offset: i64,
    notes: &mut Vec<String>,
) -> Option<i64> {
    let written: Vec<&WheelEntry> = entries
        .iter()
        .filter(|e| !is_backend_default(e.date))
        .filter(|e| !is_dated_copy(files, e, offset))
        .collect();
    let dates: BTreeSet<ZipDate> = written.iter().map(|e| e.date).collect();
    let first = written.first()?;
    let (y, m, d, hh, mm, ss) = first.date;
    if dates.len() > 1 {
        notes.push(format!(
            "clock not fixed: the {} wheel entries the publisher's build wrote itself ({}, …) carry {} different dates, so its build spanned more than one 2-second zip step and no fixed clock reproduces them",
            written.len(),
            first.name,
            dates.len()
        ));
        return None;
    }
    let t = zip_secs(first.date) - offset;
    notes.push(format!(
        "{CLOCK_VAR}={t}: the {} wheel entries the publisher's build wrote itself ({}, …) are all dated {y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}, the wall clock of that build; the rebuild's clock stands at that time and the files it writes are dated by it",
        written.len(),
        first.name
    ));
    Some(t)
}

/// The umask of the publisher's build, when the wheel's members record Unix modes that all
/// follow one umask other than the default 022 (files 0666, executables 0777, less the umask;
/// `RECORD`, which backends write with a fixed mode, does not count). `None` for 022, for
/// modes that disagree, and for a wheel without modes.
fn infer_umask(entries: &[WheelEntry], notes: &mut Vec<String>) -> Option<u32> {
    let mut masks = BTreeSet::new();
    let mut counted = 0;
    for e in entries {
        let Some(mode) = e.mode.filter(|m| m & 0o777 != 0) else {
            continue;
        };
        if e.name.ends_with(".dist-info/RECORD") || e.name.ends_with('/') {
            continue;
        }
        let perm = mode & 0o777;
        let full = if perm & 0o111 != 0 { 0o777 } else { 0o666 };
        masks.insert(full & !perm);
        counted += 1;
    }
    let [mask] = masks.into_iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    // The owner always reads and writes its own files; anything else is not a umask.
    if mask == 0o022 || mask & 0o700 != 0 {
        return None;
    }
    notes.push(format!(
        "{UMASK_VAR}={mask:03o}: the modes of all {counted} wheel members but RECORD are 0666 (0777 for executables) less {mask:03o}, so the publisher built under umask {mask:03o}"
    ));
    Some(mask)
}

fn read_build_system(sdist: &Path) -> anyhow::Result<BuildSystem> {
    let file = std::fs::File::open(sdist)?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = ar
        .entries()
        .map_err(|e| Refusal(format!("the sdist is not a tar.gz: {e}")))?;
    let mut found = BuildSystem::default();
    let mut files = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| Refusal(format!("the sdist is not a tar.gz: {e}")))?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let parts: Vec<&str> = path.trim_start_matches("./").split('/').collect();
        if entry.header().entry_type().is_file() && parts.len() >= 2 {
            let mut mtime = entry
                .header()
                .mtime()
                .ok()
                .and_then(|t| i64::try_from(t).ok());
            if let Ok(Some(exts)) = entry.pax_extensions() {
                for ext in exts.flatten() {
                    if ext.key() == Ok("mtime")
                        && let Ok(v) = ext.value()
                        && let Ok(secs) = v.split('.').next().unwrap_or(v).parse()
                    {
                        mtime = Some(secs);
                    }
                }
            }
            if let Some(t) = mtime {
                files.insert(
                    parts[1..].join("/"),
                    (t, entry.header().size().unwrap_or(0)),
                );
            }
        }
        if parts.len() == 2 && parts[1] == "pyproject.toml" {
            let mut text = String::new();
            (&mut entry).take(1 << 20).read_to_string(&mut text)?;
            let doc: toml::Table = toml::from_str(&text)
                .map_err(|e| Refusal(format!("the sdist's pyproject.toml is not TOML: {e}")))?;
            let Some(bs) = doc.get("build-system").and_then(|v| v.as_table()) else {
                continue;
            };
            found = BuildSystem {
                files: BTreeMap::new(),
                requires: bs
                    .get("requires")
                    .and_then(|v| v.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                backend: bs
                    .get("build-backend")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            };
        }
    }
    found.files = files;
    Ok(found)
}

/// Pins build dependencies from the index, wheels downloaded and checked.
struct Resolver<'a> {
    agent: &'a ureq::Agent,
    index: &'a str,
    scratch: &'a Path,
    timeout: Duration,
    /// The published wheel's upload time: nothing newer is chosen.
    not_after: Option<String>,
    pages: BTreeMap<String, Page>,
    deps: Vec<BuildDep>,
    sources: BTreeMap<String, String>,
    notes: Vec<String>,
    seen: BTreeSet<String>,
}

impl Resolver<'_> {
    fn page(&mut self, name: &str) -> anyhow::Result<Page> {
        if let Some(p) = self.pages.get(name) {
            return Ok(p.clone());
        }
        let p = read_page(self.agent, self.index, name)?;
        self.pages.insert(name.to_owned(), p.clone());
        Ok(p)
    }

    /// The pure wheel of `name==version`, pinned, then its own requires.
    fn pin_exact(&mut self, name: &str, version: &str, why: &str) -> anyhow::Result<()> {
        let norm = normalize(name);
        let page = self.page(&norm)?;
        let wheel = page
            .files
            .iter()
            .find(|f| {
                f.yanked.is_none()
                    && wheel_tags(&f.filename).is_some_and(|(d, v, py, abi, plat)| {
                        normalize(d) == norm
                            && v == version
                            && abi == "none"
                            && plat == "any"
                            && py.split('.').any(|t| t.starts_with("py3"))
                    })
            })
            .cloned();
        let Some(wheel) = wheel else {
            return refuse(format!(
                "build dependency {name}=={version}: the index ({}) has no pure-Python wheel of it",
                page.url
            ));
        };
        self.add(&norm, version, &wheel, &page, why, 0)
    }

    /// The newest final release satisfying `req` with a pure wheel, uploaded no later than
    /// the published wheel.
    fn pin_newest(
        &mut self,
        req: &pep508::Requirement,
        why: &str,
        depth: usize,
    ) -> anyhow::Result<()> {
        let norm = normalize(&req.name);
        if self.seen.contains(&norm) {
            return Ok(());
        }
        let page = self.page(&norm)?;
        let mut best: Option<(Release, String, IndexFile)> = None;
        for f in &page.files {
            let Some((d, v, py, abi, plat)) = wheel_tags(&f.filename) else {
                continue;
            };
            let pure =
                abi == "none" && plat == "any" && py.split('.').any(|t| t.starts_with("py3"));
            if normalize(d) != norm || !pure || f.yanked.is_some() {
                continue;
            }
            if let (Some(limit), Some(at)) = (&self.not_after, &f.upload_time)
                && at > limit
            {
                continue;
            }
            let Some(rel) = Release::parse(v) else {
                continue;
            };
            if !pep508::satisfies(&rel, &req.specifiers)
                .map_err(|e| Refusal(format!("{}: {e}", req.name)))?
            {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _, _)| rel > *b) {
                best = Some((rel, v.to_owned(), f.clone()));
            }
        }
        let Some((_, version, wheel)) = best else {
            return refuse(format!(
                "build dependency {}: the index ({}) has no pure-Python wheel that satisfies {:?}{}",
                req.name,
                page.url,
                req.specifiers,
                self.not_after
                    .as_ref()
                    .map(|t| format!(" uploaded before the wheel ({t})"))
                    .unwrap_or_default()
            ));
        };
        let when = if self.not_after.is_some() {
            "the newest final release satisfying it at the wheel's upload time"
        } else {
            "the newest final release satisfying it (the index gives no upload times)"
        };
        let why = format!("{norm} {version}: {why}; {when}");
        self.add(&norm, &version, &wheel, &page, &why, depth)
    }

    fn add(
        &mut self,
        norm: &str,
        version: &str,
        wheel: &IndexFile,
        page: &Page,
        why: &str,
        depth: usize,
    ) -> anyhow::Result<()> {
        if depth > 4 || self.deps.len() >= 32 {
            return refuse(format!(
                "build dependency {norm}: the backend's requires go deeper than reprove pins"
            ));
        }
        self.seen.insert(norm.to_owned());
        let dest: PathBuf = self.scratch.join(format!("dep-{}.whl", self.deps.len()));
        let d = download_checked(wheel, page, &dest, self.timeout)?;
        self.deps.push(BuildDep {
            kind: DepKind::PypiWheel,
            name: norm.to_owned(),
            version: version.to_owned(),
            uri: wheel.url.clone(),
            digest: Digests {
                sha256: d.sha256,
                blake3: Some(d.blake3),
            },
        });
        self.sources
            .insert(wheel.filename.clone(), page.url.clone());
        self.notes.push(why.to_owned());
        for r in requires_dist(&dest, &wheel.filename)? {
            let parsed = pep508::requirement(&r)
                .map_err(|e| Refusal(format!("{} Requires-Dist: {e}", wheel.filename)))?;
            if !parsed.applies {
                continue;
            }
            let why = format!("required by {norm} {version} ({r:?})");
            self.pin_newest(&parsed, &why, depth + 1)?;
        }
        Ok(())
    }
}

/// The `Requires-Dist:` lines of a wheel's METADATA.
fn requires_dist(wheel: &Path, filename: &str) -> anyhow::Result<Vec<String>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel)?)
        .map_err(|e| Refusal(format!("{filename} is not a zip archive: {e}")))?;
    for i in 0..zip.len() {
        let mut m = zip.by_index(i)?;
        let name = m.name().map(|n| n.into_owned()).unwrap_or_default();
        if name
            .strip_suffix(".dist-info/METADATA")
            .is_some_and(|d| !d.contains('/'))
        {
            let mut text = String::new();
            (&mut m).take(4 << 20).read_to_string(&mut text)?;
            let headers = text.split("\n\n").next().unwrap_or_default();
            return Ok(headers
                .lines()
                .filter_map(|l| l.strip_prefix("Requires-Dist:"))
                .map(|r| r.trim().to_owned())
                .collect());
        }
    }
    refuse(format!("{filename} has no *.dist-info/METADATA"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_and_urls_join() {
        assert_eq!(normalize("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a__-.b"), "a-b");
        let page = "https://pypi.org/simple/tomli/";
        assert_eq!(
            join_url(page, "../../packages/x.whl"),
            "https://pypi.org/packages/x.whl"
        );
        assert_eq!(join_url(page, "/f/x.whl"), "https://pypi.org/f/x.whl");
        assert_eq!(
            join_url(page, "x.whl"),
            "https://pypi.org/simple/tomli/x.whl"
        );
        assert_eq!(join_url(page, "https://h/x"), "https://h/x");
    }

    #[test]
    fn html_pages_give_files_hashes_and_yanks() {
        let html = r#"<html><body>
<a href="../../files/tomli-2.2.1.tar.gz#sha256=ABAB">tomli-2.2.1.tar.gz</a>
<a href="https://f.example/tomli-2.2.1-py3-none-any.whl#sha256=00000000000000000000000000000000000000000000000000000000000000ff" data-yanked="broken &amp; bad">tomli-2.2.1-py3-none-any.whl</a>
</body></html>"#;
        let files = parse_html(html, "http://127.0.0.1:1/simple/tomli/");
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].url, "http://127.0.0.1:1/files/tomli-2.2.1.tar.gz");
        assert_eq!(files[0].sha256, None, "not 64 hex");
        assert_eq!(files[0].yanked, None);
        assert_eq!(files[1].sha256.unwrap()[31], 0xff);
        assert_eq!(files[1].yanked.as_deref(), Some("broken & bad"));
    }

    #[test]
    fn file_names_parse() {
        assert_eq!(
            wheel_tags("tomli-2.2.1-py3-none-any.whl"),
            Some(("tomli", "2.2.1", "py3", "none", "any"))
        );
        assert_eq!(
            sdist_version("typing_extensions-4.15.0.tar.gz", "typing-extensions"),
            Some("4.15.0")
        );
        assert_eq!(sdist_version("tomli-w-1.0.tar.gz", "tomli-w"), Some("1.0"));
        assert_eq!(sdist_version("tomli-w-1.0.tar.gz", "tomli"), Some("w-1.0"));
    }

    #[test]
    fn source_date_epoch_follows_the_zip_dates() {
        let mut notes = Vec::new();
        let one = BTreeSet::from([(2024, 11, 27, 22, 12, 16)]);
        assert_eq!(infer_sde(&one, &mut notes), Some(1_732_745_536));
        let default = BTreeSet::from([(2016, 1, 1, 0, 0, 0), (2024, 11, 27, 22, 12, 16)]);
        assert_eq!(infer_sde(&default, &mut notes), None);
        assert!(notes[1].contains("2016-01-01"), "{notes:?}");
        let many = BTreeSet::from([(2024, 12, 4, 17, 35, 6), (2024, 12, 4, 17, 35, 24)]);
        assert_eq!(infer_sde(&many, &mut notes), None);
        assert!(notes[2].contains("2 different dates"), "{notes:?}");
    }

    fn entry(name: &str, date: ZipDate, mode: Option<u32>) -> WheelEntry {
        WheelEntry {
            name: name.to_owned(),
            date,
            mode,
            size: 0,
        }
    }

    #[test]
    fn a_fixed_offset_between_sdist_mtimes_and_zip_dates_is_the_build_time_zone() {
        let mut notes = Vec::new();
        let mtimes = BTreeMap::from([
            (
                "pkg/a.py".to_owned(),
                (zip_secs((2021, 11, 4, 16, 55, 45)), 0),
            ),
            (
                "src/pkg/b.py".to_owned(),
                (zip_secs((2026, 10, 14, 18, 49, 58)), 0),
            ),
        ]);
        let entries = vec![
            entry("pkg/a.py", (2021, 11, 4, 11, 55, 44), None),
            entry("pkg/b.py", (2026, 10, 14, 13, 49, 58), None),
            entry("pkg-1.dist-info/WHEEL", (2016, 1, 1, 0, 0, 0), None),
        ];
        assert_eq!(
            infer_tz(&entries, &mtimes, &mut notes),
            Some(("Etc/GMT+5".to_owned(), -5 * 3600))
        );
        assert!(notes[0].contains("-5:00"), "{notes:?}");
        let same = vec![entry("pkg/a.py", (2021, 11, 4, 16, 55, 44), None)];
        assert_eq!(infer_tz(&same, &mtimes, &mut notes), None);
        let india = vec![entry("pkg/a.py", (2021, 11, 4, 22, 25, 44), None)];
        assert_eq!(
            infer_tz(&india, &mtimes, &mut notes),
            Some(("<+0530>-5:30".to_owned(), 19_800))
        );
    }

    #[test]
    fn the_publishers_clock_is_read_from_the_entries_its_build_wrote() {
        let mtimes = BTreeMap::from([
            ("six.py".to_owned(), (zip_secs((2024, 12, 4, 17, 34, 8)), 0)),
            (
                "pkg/_version.py".to_owned(),
                (zip_secs((2024, 1, 1, 0, 0, 0)), 0),
            ),
        ]);
        // six 1.17.0's shape: one sdist file, and dist-info files dated the build's wall clock.
        let mut entries = vec![
            entry("six.py", (2024, 12, 4, 17, 34, 8), Some(0o100644)),
            entry(
                "six-1.17.0.dist-info/METADATA",
                (2024, 12, 4, 17, 35, 24),
                None,
            ),
            entry(
                "six-1.17.0.dist-info/RECORD",
                (2024, 12, 4, 17, 35, 24),
                None,
            ),
            entry("six-1.17.0.dist-info/WHEEL", (2016, 1, 1, 0, 0, 0), None),
        ];
        let mut notes = Vec::new();
        let t = zip_secs((2024, 12, 4, 17, 35, 24));
        assert_eq!(infer_clock(&entries, &mtimes, 0, &mut notes), Some(t));
        assert!(
            notes[0].starts_with(&format!("{CLOCK_VAR}={t}: the 2 wheel entries")),
            "{notes:?}"
        );
        // The same dates written in UTC−5: the clock is the same instant.
        let shifted = [
            entry("six.py", (2024, 12, 4, 12, 34, 8), None),
            entry(
                "six-1.17.0.dist-info/METADATA",
                (2024, 12, 4, 12, 35, 24),
                None,
            ),
            entry("six-1.17.0.dist-info/WHEEL", (2016, 1, 1, 0, 0, 0), None),
        ];
        assert_eq!(
            infer_clock(&shifted, &mtimes, -5 * 3600, &mut notes),
            Some(t)
        );
        // An sdist file the build rewrote counts as written by the build.
        entries.push(entry("pkg/_version.py", (2024, 12, 4, 17, 35, 24), None));
        assert_eq!(infer_clock(&entries, &mtimes, 0, &mut notes), Some(t));
        // A build that spanned two zip steps: no fixed clock, and the note says why.
        entries.push(entry(
            "six-1.17.0.dist-info/LICENSE",
            (2024, 12, 4, 17, 35, 22),
            None,
        ));
        assert_eq!(infer_clock(&entries, &mtimes, 0, &mut notes), None);
        assert!(
            notes.last().unwrap().contains("2 different dates"),
            "{notes:?}"
        );
        // Nothing written by the build (all copies of sdist files, or backend defaults): none.
        let n = notes.len();
        assert_eq!(infer_clock(&entries[..1], &mtimes, 0, &mut notes), None);
        assert_eq!(infer_clock(&entries[3..4], &mtimes, 0, &mut notes), None);
        assert_eq!(notes.len(), n);
    }

    #[test]
    fn parenthesized_requirements_are_the_old_wheel_packages() {
        assert!(is_parenthesized_requirement(
            "Requires-Dist: botocore (<2.0a.0,>=1.37.4)"
        ));
        assert!(is_parenthesized_requirement(
            "Requires-Dist: botocore[crt] (<2.0a.0,>=1.37.4) ; extra == 'crt'"
        ));
        assert!(!is_parenthesized_requirement(
            "Requires-Dist: botocore <2.0a.0,>=1.37.4"
        ));
        assert!(!is_parenthesized_requirement(
            "Requires-Dist: pywin32 ; sys_platform == 'win32' and (python_version < '3.8')"
        ));
        assert!(!is_parenthesized_requirement("Summary: a (parenthesized)"));
        let d = (2026, 10, 19, 18, 12, 12);
        let mut facts = WheelFacts {
            generator: "setuptools (75.1.0)".to_owned(),
            timestamps: BTreeSet::new(),
            entries: vec![entry(
                "s3transfer-0.19.3.dist-info/RECORD",
                d,
                Some(0o100664),
            )],
            parenthesized: None,
        };
        assert_eq!(old_wheel_package(&facts), None);
        facts.parenthesized = Some("Requires-Dist: botocore (<2.0a.0,>=1.37.4)".to_owned());
        assert_eq!(old_wheel_package(&facts).unwrap().0, "<0.41.1");
        facts.entries[0].mode = Some(0o664);
        let (bound, why) = old_wheel_package(&facts).unwrap();
        assert_eq!(bound, "<0.40");
        assert!(why.contains("RECORD has zip mode 0664"), "{why}");
        // Only the top-level dist-info's RECORD counts.
        facts.entries[0].name = "pkg/data/x.dist-info/RECORD".to_owned();
        assert_eq!(old_wheel_package(&facts).unwrap().0, "<0.41.1");
    }

    #[test]
    fn copies_are_told_from_rewrites_by_their_size() {
        // exceptiongroup 1.3.2's shape: the checkout is dated :51, the sdist build wrote a
        // 528-byte _version.py at :54, the wheel build a 520-byte one in the same second; the
        // license is copied into dist-info with its checkout mtime.
        let at = |s: u8| zip_secs((2026, 11, 19, 22, 9, s));
        let files = BTreeMap::from([
            ("LICENSE".to_owned(), (at(51), 3704)),
            ("src/exceptiongroup/_version.py".to_owned(), (at(54), 528)),
            ("src/exceptiongroup/_catch.py".to_owned(), (at(51), 4787)),
        ]);
        let sized = |name: &str, s: u8, size: u64| WheelEntry {
            size,
            ..entry(name, (2026, 11, 19, 22, 9, s), None)
        };
        let entries = [
            sized("exceptiongroup/_catch.py", 50, 4787),
            sized("exceptiongroup/_version.py", 54, 520),
            sized("exceptiongroup-1.3.2.dist-info/licenses/LICENSE", 50, 3704),
            entry(
                "exceptiongroup-1.3.2.dist-info/METADATA",
                (2016, 1, 1, 0, 0, 0),
                None,
            ),
        ];
        let mut notes = Vec::new();
        assert_eq!(infer_clock(&entries, &files, 0, &mut notes), Some(at(54)));
        assert!(
            notes[0].contains(
                "the 1 wheel entries the publisher's build wrote itself (exceptiongroup/_version.py"
            ),
            "{notes:?}"
        );
        // Had the license another size, it would be the build's too, dated :50: two dates.
        let mut other = entries.to_vec();
        other[2].size = 11;
        assert_eq!(infer_clock(&other, &files, 0, &mut notes), None);
        // The time zone pairs only copies: the rewritten _version.py does not spoil it.
        let east = [
            sized("exceptiongroup/_catch.py", 50, 4787),
            sized("exceptiongroup/_version.py", 59, 520),
        ];
        let files_west: SdistFiles = files
            .iter()
            .map(|(p, (t, s))| (p.clone(), (t - 3600, *s)))
            .collect();
        assert_eq!(
            infer_tz(&east, &files_west, &mut notes).map(|(_, off)| off),
            Some(3600)
        );
    }

    #[test]
    fn the_publishers_umask_is_read_from_the_modes() {
        let mut notes = Vec::new();
        let d = (2024, 2, 25, 23, 17, 32);
        let mut entries = vec![
            entry("sniffio/__init__.py", d, Some(0o100666)),
            entry("sniffio-1.3.1.dist-info/METADATA", d, Some(0o100666)),
            entry("sniffio-1.3.1.dist-info/RECORD", d, Some(0o100664)),
        ];
        assert_eq!(infer_umask(&entries, &mut notes), Some(0));
        assert!(
            notes[0].starts_with(&format!("{UMASK_VAR}=000")),
            "{notes:?}"
        );
        entries.push(entry("bin/tool", d, Some(0o100777)));
        entries.push(entry("sniffio/", d, Some(0o40755)));
        assert_eq!(infer_umask(&entries, &mut notes), Some(0));
        // Modes that follow no single umask, the default umask, and no modes at all: none.
        entries.push(entry("sniffio/py.typed", d, Some(0o100644)));
        assert_eq!(infer_umask(&entries, &mut notes), None);
        let default = [
            entry("a.py", d, Some(0o100644)),
            entry("b", d, Some(0o100755)),
        ];
        assert_eq!(infer_umask(&default, &mut notes), None);
        assert_eq!(infer_umask(&[entry("a.py", d, None)], &mut notes), None);
        assert_eq!(notes.len(), 2, "{notes:?}");
        // 0o002 and 0o077 are umasks; one that takes the owner's own write bit is not.
        assert_eq!(
            infer_umask(&[entry("a.py", d, Some(0o100664))], &mut notes),
            Some(0o002)
        );
        assert_eq!(
            infer_umask(&[entry("a.py", d, Some(0o100600))], &mut notes),
            Some(0o066)
        );
        assert_eq!(
            infer_umask(&[entry("a.py", d, Some(0o100444))], &mut notes),
            None
        );
    }

    #[test]
    fn generators_name_backends_or_are_refused() {
        let b = backend_of("flit 3.10.1", "x").unwrap();
        assert_eq!(
            (b.package.as_str(), b.version.as_str()),
            ("flit_core", "3.10.1")
        );
        let b = backend_of("bdist_wheel (0.45.1)", "x").unwrap();
        assert_eq!(b.package, "wheel");
        assert!(b.with_setuptools.is_some());
        assert_eq!(
            backend_of("setuptools (75.6.0)", "x").unwrap().package,
            "setuptools"
        );
        assert!(backend_of("maturin (1.8.1)", "x").is_err());
        assert!(backend_of("hatchling", "x").is_err());
    }
}
