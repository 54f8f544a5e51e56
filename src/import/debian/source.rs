//! The source package: its `Sources` stanza, its files (downloaded and checked), what its
//! `debian/` directory says (changelog date, build dependencies, Rules-Requires-Root), and a
//! `.buildinfo` given by the importer.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reprove_verifier::predicates::Digests;

use super::deb822::{self, Relation, Stanza};
use super::{Refusal, Request, refuse};
use crate::hash::FileDigests;

/// One file of the source package, downloaded and checked.
#[derive(Debug, Clone)]
pub struct SrcFile {
    /// Its file name.
    pub name: String,
    /// Its URL on the mirror.
    pub url: String,
    /// Its digests.
    pub got: FileDigests,
}

impl SrcFile {
    /// Its digests for a manifest.
    pub fn digests(&self) -> Digests {
        Digests {
            sha256: self.got.sha256,
            blake3: Some(self.got.blake3),
        }
    }
}

/// The `Sources` stanza of `name` at exactly `version`.
pub fn find(stanzas: &[Stanza], name: &str, version: &str, url: &str) -> anyhow::Result<Stanza> {
    let mut versions = Vec::new();
    for st in stanzas {
        if st.get("Package") == Some(name) {
            let v = st.get("Version").unwrap_or_default();
            if v == version {
                if let Some(f) = st.get("Format")
                    && !matches!(f.trim(), "3.0 (quilt)" | "3.0 (native)")
                {
                    return refuse(format!(
                        "{name} {version} is a format {} source package: reprove imports format \
                         3.0 (quilt) and 3.0 (native) packages only",
                        f.trim()
                    ));
                }
                return Ok(st.clone());
            }
            versions.push(v.to_owned());
        }
    }
    if versions.is_empty() {
        return refuse(format!("{url} has no source package {name:?}"));
    }
    refuse(format!(
        "{url} has no version {version} of the source package {name} (it has {})",
        versions.join(", ")
    ))
}

/// Downloads every file `Checksums-Sha256` names (the `.dsc` first) and checks each.
pub fn download(
    src: &Stanza,
    mirror: &str,
    scratch: &Path,
    timeout: Duration,
) -> anyhow::Result<Vec<SrcFile>> {
    let dir = src.get("Directory").unwrap_or_default();
    if dir.is_empty() || dir.split('/').any(|c| c.is_empty() || c == "..") {
        return refuse(format!(
            "the Sources stanza's Directory {dir:?} is not a pool path"
        ));
    }
    let mut files = Vec::new();
    for line in deb822::field_lines(src.get("Checksums-Sha256").unwrap_or_default()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [hex, _size, name] = parts[..] else {
            return refuse(format!(
                "Checksums-Sha256 line {line:?} is not `sha256 size name`"
            ));
        };
        let Some(want) = super::archive::parse_sha256(hex) else {
            return refuse(format!("Checksums-Sha256 line {line:?} has no sha256"));
        };
        if name.contains('/') || name.starts_with('.') {
            return refuse(format!("the source file name {name:?} is not a plain name"));
        }
        let url = format!("{mirror}/{dir}/{name}");
        let listed = format!(
            "the signed Sources stanza of {}",
            src.get("Package").unwrap_or("?")
        );
        let got = super::download_checked(
            &url,
            want,
            &scratch.join("src").join(name),
            timeout,
            &listed,
        )?;
        files.push(SrcFile {
            name: name.to_owned(),
            url,
            got,
        });
    }
    files.sort_by_key(|f| !f.name.ends_with(".dsc"));
    if !files.first().is_some_and(|f| f.name.ends_with(".dsc")) {
        return refuse("the Sources stanza names no .dsc");
    }
    Ok(files)
}

/// The upstream tarball (`.orig.tar.*`, or a native package's one `.tar.*`): the release's
/// `source`.
pub fn upstream_tarball(files: &[SrcFile]) -> anyhow::Result<&SrcFile> {
    files
        .iter()
        .find(|f| f.name.contains(".orig.tar."))
        .or_else(|| {
            files
                .iter()
                .find(|f| f.name.contains(".tar.") && !f.name.contains(".debian.tar."))
        })
        .filter(|f| !f.name.ends_with(".asc"))
        .ok_or_else(|| Refusal("the source package has no tarball (a format 1.0 .diff.gz package?): reprove imports format 3.0 packages".to_owned()).into())
}

/// What `debian/` says.
#[derive(Debug, Clone)]
pub struct DebianDir {
    /// The top changelog entry's date as written.
    pub changelog_date: String,
    /// It, as seconds since the epoch.
    pub changelog_time: u64,
    /// `Rules-Requires-Root` of `debian/control`'s source stanza.
    pub rules_requires_root: Option<String>,
    /// `Build-Depends`, `Build-Depends-Arch` and `Build-Depends-Indep` of the `.dsc`.
    pub build_depends: Vec<Vec<Relation>>,
}

/// Reads `debian/changelog` and `debian/control` from the `.debian.tar.*` (or a native
/// package's tarball) and the build dependencies from the `.dsc`.
pub fn read_debian_dir(
    src: &Stanza,
    files: &[SrcFile],
    scratch: &Path,
) -> anyhow::Result<DebianDir> {
    let tarball = files
        .iter()
        .find(|f| f.name.contains(".debian.tar."))
        .or_else(|| {
            files
                .iter()
                .find(|f| f.name.contains(".tar.") && !f.name.ends_with(".asc"))
        })
        .ok_or_else(|| Refusal("the source package has no debian tarball".to_owned()))?;
    let path = scratch.join("src").join(&tarball.name);
    let (changelog, control) =
        debian_files(&path).map_err(|e| Refusal(format!("{}: {e}", tarball.name)))?;
    let (Some(changelog), Some(control)) = (changelog, control) else {
        return refuse(format!(
            "{} has no debian/changelog or debian/control",
            tarball.name
        ));
    };
    let (version, date) = changelog_top(&changelog)
        .ok_or_else(|| Refusal("debian/changelog's top entry has no trailer line".to_owned()))?;
    let want = src.get("Version").unwrap_or_default();
    if version != want {
        return refuse(format!(
            "debian/changelog's top entry is version {version}, but the source package is {want}"
        ));
    }
    let changelog_time = rfc2822(&date).ok_or_else(|| {
        Refusal(format!(
            "debian/changelog's date {date:?} is not an RFC 2822 date"
        ))
    })?;
    let control = deb822::stanzas(&control)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut build_depends = Vec::new();
    for field in ["Build-Depends", "Build-Depends-Arch", "Build-Depends-Indep"] {
        let rels = deb822::relations(src.get(field).unwrap_or_default(), "amd64")
            .map_err(|e| Refusal(format!("the .dsc's {field}: {e}")))?;
        build_depends.extend(rels);
    }
    Ok(DebianDir {
        changelog_date: date,
        changelog_time,
        rules_requires_root: control.get("Rules-Requires-Root").map(str::to_owned),
        build_depends,
    })
}

/// The texts of `debian/changelog` and `debian/control` in a (compressed) tarball.
fn debian_files(path: &Path) -> Result<(Option<String>, Option<String>), String> {
    let reader = decompressed(path)?;
    let mut ar = tar::Archive::new(reader);
    let (mut changelog, mut control) = (None, None);
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let p = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = p.trim_start_matches("./").split('/').collect();
        let rel = match parts[..] {
            ["debian", f] | [_, "debian", f] => f.to_owned(),
            _ => continue,
        };
        let slot = match rel.as_str() {
            "changelog" => &mut changelog,
            "control" => &mut control,
            _ => continue,
        };
        let mut text = String::new();
        (&mut entry)
            .take(16 << 20)
            .read_to_string(&mut text)
            .map_err(|e| format!("{p}: {e}"))?;
        *slot = Some(text);
    }
    Ok((changelog, control))
}

/// A tarball's decompressed bytes: gzip by flate2, xz and bzip2 by the host's `xz` and `bzip2`.
fn decompressed(path: &Path) -> Result<Box<dyn Read>, String> {
    let name = path.to_string_lossy();
    if name.ends_with(".gz") {
        let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(f)));
    }
    for (suffix, tool) in [(".xz", "xz"), (".bz2", "bzip2")] {
        if name.ends_with(suffix) {
            let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
            let r = crate::rebuild::debroot::decompressor(tool, Stdio::from(f), None)?;
            return Ok(Box::new(r));
        }
    }
    Err("reprove reads .tar.gz, .tar.xz and .tar.bz2 source tarballs only".to_owned())
}

/// The top entry's version and date: `pkg (VERSION) dist; …` … ` -- Name <mail>  DATE`.
fn changelog_top(text: &str) -> Option<(String, String)> {
    let mut lines = text.lines();
    let head = lines.find(|l| !l.trim().is_empty())?;
    let version = head.split_once('(')?.1.split_once(')')?.0.trim().to_owned();
    let trailer = lines.find(|l| l.starts_with(" -- "))?;
    let date = trailer.split_once(">  ")?.1.trim().to_owned();
    Some((version, date))
}

/// `[Day,] DD Mon YYYY HH:MM:SS +ZZZZ` as seconds since the epoch.
fn rfc2822(date: &str) -> Option<u64> {
    let date = date.split_once(',').map_or(date, |(_, rest)| rest);
    let f: Vec<&str> = date.split_whitespace().collect();
    let [day, mon, year, hms, zone] = f[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|&x| x == mon)? as u32 + 1;
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [hh, mm, ss] = t[..] else { return None };
    let (sign, z) = zone.split_at(1);
    let z: i64 = z.parse().ok()?;
    let off = (z / 100 * 3600 + z % 100 * 60) * if sign == "-" { -1 } else { 1 };
    let days = super::super::pypi::days_from_civil(year.parse().ok()?, m, day.parse().ok()?);
    u64::try_from(days * 86400 + hh * 3600 + mm * 60 + ss - off).ok()
}

/// What a `.buildinfo` gives.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// `Installed-Build-Depends`.
    pub installed: String,
    /// `SOURCE_DATE_EPOCH` of its `Environment`.
    pub source_date_epoch: Option<u64>,
    /// The rest of its `Environment`, as recorded (`DEB_BUILD_OPTIONS`, `LANG`…).
    pub environment: BTreeMap<String, String>,
}

/// Reads a `.buildinfo` (clearsigned or not) and checks it is of this source, version and
/// architecture.
pub fn read_buildinfo(path: &Path, req: &Request) -> anyhow::Result<BuildInfo> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Refusal(format!(
            "cannot read the .buildinfo {}: {e}",
            path.display()
        ))
    })?;
    let st = deb822::stanzas(&text)
        .into_iter()
        .find(|s| s.get("Format").is_some() && s.get("Source").is_some())
        .ok_or_else(|| {
            Refusal(format!(
                "{} is not a .buildinfo (no Format and Source fields)",
                path.display()
            ))
        })?;
    let source = st.get("Source").unwrap_or_default();
    let source = source.split_whitespace().next().unwrap_or_default();
    let version = st.get("Version").unwrap_or_default();
    if source != req.source || version != req.version {
        return refuse(format!(
            "the .buildinfo is of {source} {version}, not of {} {}",
            req.source, req.version
        ));
    }
    if st.get("Build-Architecture").is_some_and(|a| a != req.arch) {
        return refuse(format!(
            "the .buildinfo records a build on {}, not {}",
            st.get("Build-Architecture").unwrap_or_default(),
            req.arch
        ));
    }
    let installed = st
        .get("Installed-Build-Depends")
        .ok_or_else(|| Refusal("the .buildinfo has no Installed-Build-Depends".to_owned()))?
        .to_owned();
    let mut environment = BTreeMap::new();
    let mut sde = None;
    for line in deb822::field_lines(st.get("Environment").unwrap_or_default()) {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"').to_owned();
        match k {
            "SOURCE_DATE_EPOCH" => sde = v.parse().ok(),
            // How many jobs the buildd ran is not part of the recipe.
            "DEB_BUILD_OPTIONS" => {
                let kept: Vec<&str> = v
                    .split_whitespace()
                    .filter(|o| !o.starts_with("parallel="))
                    .collect();
                if !kept.is_empty() {
                    environment.insert(k.to_owned(), kept.join(" "));
                }
            }
            _ => {
                environment.insert(k.to_owned(), v);
            }
        }
    }
    Ok(BuildInfo {
        installed,
        source_date_epoch: sde,
        environment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changelog_top_entry_gives_the_version_and_date() {
        let text = "tree (2.1.0-1) unstable; urgency=medium\n\n  * New upstream.\n\n -- Florian Ernst <florian@debian.org>  Sat, 14 Jan 2023 16:36:44 +0100\n\ntree (2.0) …\n";
        let (v, d) = changelog_top(text).unwrap();
        assert_eq!(v, "2.1.0-1");
        assert_eq!(rfc2822(&d), Some(1_673_710_604));
        assert_eq!(rfc2822("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(rfc2822("Thu, 01 Jan 1970 01:00:00 -0030"), Some(5400));
        assert_eq!(rfc2822("yesterday"), None);
    }

    /// dmitry 1.3a-1.2+deb12u1 in bookworm is a format 1.0 package (a .diff.gz): refused by
    /// name, not with a puzzle about its tarball; format 3.0 ones are found.
    #[test]
    fn only_format_3_sources_are_found() {
        let text = "Package: dmitry
Version: 1.3a-1.2+deb12u1
Format: 1.0

Package: tree
Version: 2.1.0-1
Format: 3.0 (quilt)
";
        let stanzas = deb822::stanzas(text);
        let err = find(&stanzas, "dmitry", "1.3a-1.2+deb12u1", "S")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a format 1.0 source package"), "{err}");
        assert!(find(&stanzas, "tree", "2.1.0-1", "S").is_ok());
        let err = find(&stanzas, "tree", "9", "S").unwrap_err().to_string();
        assert!(err.contains("it has 2.1.0-1"), "{err}");
    }
}
