//! Diff reports: why a rebuilt artifact differs from the published one.
//!
//! The built-in report looks inside gzip, tar and zip containers (nested: a `.tar.gz`, a zip
//! in a tar) and names, per member, what differs: only on one side, size, mode, owner, mtime,
//! link target, or content with the first differing offset and the bytes around it. Plain
//! files get sizes and the first differing offset. Everything is bounded: members read up to
//! [`MAX_MEMBER`], nesting up to [`MAX_DEPTH`], the report cut at the caller's limit.
//! When `diffoscope` is on PATH it runs too, in a sandbox of its own (it parses hostile files
//! with dozens of external tools), under `timeout` and with its output capped, and its text is
//! appended after a `== diffoscope` line. Neither part names a path on the node: artifacts are
//! called by their names (diffoscope sees them as `/in/published/NAME` and `/in/rebuilt/NAME`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use super::hostfs::BuildUser;
use super::sandbox::Limits;

/// The most bytes of one archive member (or decompressed stream) compared.
pub const MAX_MEMBER: u64 = 256 << 20;

/// How deep containers are opened.
pub const MAX_DEPTH: usize = 4;

/// One artifact to explain.
#[derive(Debug, Clone)]
pub struct Differing<'a> {
    /// The artifact name.
    pub name: &'a str,
    /// The published bytes, when they could be fetched.
    pub published: Option<&'a Path>,
    /// The rebuilt file, or `None` when the build did not produce it.
    pub rebuilt: Option<&'a Path>,
    /// The published sha256, hex.
    pub published_sha256: String,
    /// The rebuilt sha256, hex, when rebuilt.
    pub rebuilt_sha256: Option<String>,
}

/// The text report for every differing artifact, at most `limits.diff_bytes` long, with
/// diffoscope's output appended when it is installed (each run limited to `limits.diff_time`,
/// in a sandbox, as `user`, its inputs staged under `scratch`).
pub fn report(
    items: &[Differing<'_>],
    limits: &Limits,
    scratch: &Path,
    user: Option<BuildUser>,
) -> Vec<u8> {
    let max_bytes = limits.diff_bytes;
    let mut out = String::new();
    let _ = writeln!(out, "reprove diff report (built-in)");
    for item in items {
        let _ = writeln!(out, "\n== artifact {}", item.name);
        let _ = writeln!(out, "published sha256 {}", item.published_sha256);
        match (&item.rebuilt, &item.rebuilt_sha256) {
            (Some(_), Some(d)) => {
                let _ = writeln!(out, "rebuilt   sha256 {d}");
            }
            _ => {
                let _ = writeln!(out, "rebuilt: the build did not produce this output");
            }
        }
        let (Some(published), Some(rebuilt)) = (item.published, item.rebuilt) else {
            if item.published.is_none() {
                let _ = writeln!(
                    out,
                    "the published bytes are not available (no URL in the release), so only the digests are compared"
                );
            }
            continue;
        };
        match (read_capped(published), read_capped(rebuilt)) {
            (Ok(a), Ok(b)) => compare_blobs(&mut out, item.name, &a, &b, 0),
            (Err(e), _) | (_, Err(e)) => {
                let _ = writeln!(out, "cannot read: {e}");
            }
        }
        if out.len() > max_bytes {
            break;
        }
    }
    if let Some(text) = diffoscope(items, limits, scratch, user) {
        let _ = writeln!(out, "\n== diffoscope\n{text}");
    }
    // The likely causes first, where a person (and scripts/real-world.sh) reads first.
    let causes = likely_causes(&out);
    if !causes.is_empty() {
        let head = "reprove diff report (built-in)\n";
        let mut summary = String::from("likely causes:\n");
        for c in causes {
            let _ = writeln!(summary, "- {c}");
        }
        out.insert_str(head.len(), &summary);
    }
    let mut bytes = out.into_bytes();
    if bytes.len() > max_bytes {
        bytes.truncate(max_bytes);
        bytes.extend_from_slice(b"\n[reprove: diff report truncated]\n");
    }
    bytes
}

/// The common causes of a difference that the report's text shows, each named in a sentence:
/// ELF build IDs, an embedded year that is not the published one, member order, timestamps,
/// compression, a build path. Matched on the built-in report's and diffoscope's own words.
pub fn likely_causes(report: &str) -> Vec<String> {
    let mut causes = Vec::new();
    if report.contains("NT_GNU_BUILD_ID") || report.contains("Build ID:") {
        causes.push("build-id: the ELF build IDs differ; the linker hashes the whole binary, debug information included, so with the same source another compiler, linker or library version than the published build used (a toolchain that has moved since) or another build path recorded in the debug information (Debian's buildds name theirs in the .buildinfo's Build-Path) went into it".to_owned());
    }
    let (old, new) = changed_years(report);
    if let Some((a, b)) = old.iter().next().zip(new.iter().next()) {
        causes.push(format!(
            "embedded year: the published bytes say {a} where the rebuilt say {b} (a date taken from the build's clock rather than SOURCE_DATE_EPOCH)"
        ));
    }
    if report.contains("Ordering differences only") || report.contains("member order differs") {
        causes.push("file order: the same members in another order (directory read order reaching an archive)".to_owned());
    }
    if report.contains(": mtime ") || report.contains("modification time") {
        causes.push(
            "timestamps: file modification times differ (not clamped to SOURCE_DATE_EPOCH)"
                .to_owned(),
        );
    }
    if report.contains("decompress to the same bytes") {
        causes.push("compression: the compressed streams differ but hold the same bytes (compression level, tool version or header)".to_owned());
    }
    if report.contains("/build/") && report.contains("reprove-src") {
        causes.push("build path: a path of the build tree is embedded".to_owned());
    }
    causes
}

/// Years (1990–2099) on diffoscope's removed lines that are not on its added lines, and the
/// other way round: a date that moved between the builds.
fn changed_years(report: &str) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let (mut minus, mut plus) = (BTreeSet::new(), BTreeSet::new());
    for line in report.lines() {
        let body = line.trim_start_matches(['│', '├', '┄', ' ']);
        let side = if body.starts_with('-') && !body.starts_with("---") {
            &mut minus
        } else if body.starts_with('+') && !body.starts_with("+++") {
            &mut plus
        } else {
            continue;
        };
        // Hex dumps and digests are full of digit runs that are not years.
        if body.contains("0x") || body.contains("sha256") || body.contains("Build ID") {
            continue;
        }
        let bytes = body.as_bytes();
        for i in 0..bytes.len().saturating_sub(3) {
            let run = &bytes[i..i + 4];
            let edge = |j: usize| bytes.get(j).is_none_or(|c| !c.is_ascii_digit());
            if run.iter().all(u8::is_ascii_digit) && (i == 0 || edge(i - 1)) && edge(i + 4) {
                let y: u32 = std::str::from_utf8(run)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                if (1990..2100).contains(&y) {
                    side.insert(y);
                }
            }
        }
    }
    let old: BTreeSet<u32> = minus.difference(&plus).copied().collect();
    let new: BTreeSet<u32> = plus.difference(&minus).copied().collect();
    (old, new)
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_MEMBER)
        .read_to_end(&mut v)?;
    Ok(v)
}

/// Compares two byte strings that stand for `label`, opening containers.
fn compare_blobs(out: &mut String, label: &str, a: &[u8], b: &[u8], depth: usize) {
    if a == b {
        return;
    }
    if depth < MAX_DEPTH {
        if is_gzip(a) && is_gzip(b) {
            gzip_headers(out, label, a, b);
            match (gunzip(a), gunzip(b)) {
                (Ok(x), Ok(y)) => {
                    if x == y {
                        let _ = writeln!(
                            out,
                            "{label}: the compressed streams differ but decompress to the same bytes (compression level or gzip header)"
                        );
                    } else {
                        compare_blobs(out, &format!("{label} (decompressed)"), &x, &y, depth + 1);
                    }
                    return;
                }
                _ => {
                    let _ = writeln!(out, "{label}: cannot decompress one side");
                }
            }
        } else if is_tar(a) && is_tar(b) {
            if let (Ok(x), Ok(y)) = (tar_members(a), tar_members(b)) {
                compare_members(out, label, &x, &y, depth);
                return;
            }
        } else if is_zip(a)
            && is_zip(b)
            && let (Ok(x), Ok(y)) = (zip_members(a), zip_members(b))
        {
            compare_members(out, label, &x, &y, depth);
            return;
        }
    }
    plain(out, label, a, b);
}

/// One archive member: its metadata as text, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    meta: BTreeMap<&'static str, String>,
    data: Vec<u8>,
}

fn compare_members(
    out: &mut String,
    label: &str,
    a: &BTreeMap<String, Member>,
    b: &BTreeMap<String, Member>,
    depth: usize,
) {
    let mut any = false;
    for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        let path = format!("{label}/{name}");
        match (a.get(name), b.get(name)) {
            (Some(_), None) => {
                let _ = writeln!(out, "{path}: only in the published artifact");
                any = true;
            }
            (None, Some(_)) => {
                let _ = writeln!(out, "{path}: only in the rebuilt artifact");
                any = true;
            }
            (Some(x), Some(y)) if x != y => {
                any = true;
                for (key, va) in &x.meta {
                    let vb = y.meta.get(key).map(String::as_str).unwrap_or("-");
                    if va != vb {
                        let _ =
                            writeln!(out, "{path}: {key} differs: published {va}, rebuilt {vb}");
                    }
                }
                if x.data != y.data {
                    let _ = writeln!(out, "{path}: content differs");
                    compare_blobs(out, &path, &x.data, &y.data, depth + 1);
                }
            }
            _ => {}
        }
    }
    if !any {
        let _ = writeln!(
            out,
            "{label}: every member is equal; the container itself differs (member order or archive headers)"
        );
    }
}

fn plain(out: &mut String, label: &str, a: &[u8], b: &[u8]) {
    let _ = writeln!(
        out,
        "{label}: sizes published {} bytes, rebuilt {} bytes",
        a.len(),
        b.len()
    );
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(at) => {
            let from = at.saturating_sub(8);
            let ctx = |v: &[u8]| hex::encode(&v[from..(at + 24).min(v.len())]);
            let _ = writeln!(out, "{label}: first difference at offset {at} (0x{at:x})");
            let _ = writeln!(out, "  published @{from}: {}", ctx(a));
            let _ = writeln!(out, "  rebuilt   @{from}: {}", ctx(b));
        }
        None => {
            let _ = writeln!(
                out,
                "{label}: one is a prefix of the other; they differ from offset {}",
                a.len().min(b.len())
            );
        }
    }
}

fn is_gzip(v: &[u8]) -> bool {
    v.starts_with(&[0x1f, 0x8b])
}

fn is_tar(v: &[u8]) -> bool {
    v.len() >= 512 && &v[257..262] == b"ustar"
}

fn is_zip(v: &[u8]) -> bool {
    v.starts_with(b"PK\x03\x04") || v.starts_with(b"PK\x05\x06")
}

fn gunzip(v: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(v)
        .take(MAX_MEMBER)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Names the gzip header fields (RFC 1952) that differ: mtime, original name, OS byte.
fn gzip_headers(out: &mut String, label: &str, a: &[u8], b: &[u8]) {
    if a.len() < 10 || b.len() < 10 {
        return;
    }
    let mtime = |v: &[u8]| u32::from_le_bytes([v[4], v[5], v[6], v[7]]);
    if mtime(a) != mtime(b) {
        let _ = writeln!(
            out,
            "{label}: gzip header mtime differs: published {}, rebuilt {}",
            mtime(a),
            mtime(b)
        );
    }
    if a[3] != b[3] {
        let _ = writeln!(
            out,
            "{label}: gzip header flags differ (a file name stored in one?): published {:#04x}, rebuilt {:#04x}",
            a[3], b[3]
        );
    }
    if a[9] != b[9] {
        let _ = writeln!(
            out,
            "{label}: gzip header OS byte differs: published {}, rebuilt {}",
            a[9], b[9]
        );
    }
}

fn tar_members(v: &[u8]) -> std::io::Result<BTreeMap<String, Member>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(Cursor::new(v));
    for e in ar.entries()? {
        let mut e = e?;
        let name = e.path()?.to_string_lossy().into_owned();
        let h = e.header();
        let mut meta = BTreeMap::new();
        meta.insert("type", format!("{:?}", h.entry_type()));
        meta.insert("mode", format!("{:o}", h.mode().unwrap_or(0)));
        meta.insert(
            "uid/gid",
            format!("{}/{}", h.uid().unwrap_or(0), h.gid().unwrap_or(0)),
        );
        meta.insert(
            "owner",
            format!(
                "{}/{}",
                h.username().ok().flatten().unwrap_or(""),
                h.groupname().ok().flatten().unwrap_or("")
            ),
        );
        meta.insert("mtime", h.mtime().unwrap_or(0).to_string());
        meta.insert("size", h.size().unwrap_or(0).to_string());
        if let Ok(Some(link)) = e.link_name() {
            meta.insert("link", link.to_string_lossy().into_owned());
        }
        let mut data = Vec::new();
        (&mut e).take(MAX_MEMBER).read_to_end(&mut data)?;
        out.insert(name, Member { meta, data });
    }
    Ok(out)
}

fn zip_members(v: &[u8]) -> zip::result::ZipResult<BTreeMap<String, Member>> {
    let mut out = BTreeMap::new();
    let mut ar = zip::ZipArchive::new(Cursor::new(v))?;
    for i in 0..ar.len() {
        let mut f = ar.by_index(i)?;
        let mut meta = BTreeMap::new();
        meta.insert("mode", format!("{:o}", f.unix_mode().unwrap_or(0)));
        meta.insert(
            "mtime",
            f.last_modified()
                .map(|t| format!("{t:?}"))
                .unwrap_or_default(),
        );
        meta.insert("size", f.size().to_string());
        meta.insert("compression", format!("{:?}", f.compression()));
        let name = f.name()?.into_owned();
        let mut data = Vec::new();
        (&mut f).take(MAX_MEMBER).read_to_end(&mut data)?;
        out.insert(name, Member { meta, data });
    }
    Ok(out)
}

/// Whether diffoscope is installed.
pub fn diffoscope_installed() -> bool {
    Command::new("diffoscope")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// diffoscope's text output for each item with both sides, when diffoscope is installed. Each
/// pair is staged (hard links, or copies) in a fresh directory under `scratch` that the
/// sandbox sees read-only at `/in`.
fn diffoscope(
    items: &[Differing<'_>],
    limits: &Limits,
    scratch: &Path,
    user: Option<BuildUser>,
) -> Option<String> {
    if !diffoscope_installed() {
        return None;
    }
    let max_bytes = limits.diff_bytes;
    let mut text = String::new();
    for item in items {
        let (Some(a), Some(b)) = (item.published, item.rebuilt) else {
            continue;
        };
        let name = super::build::safe_name(item.name);
        let dir = scratch.join("diffoscope");
        let staged = stage(&dir, &name, a, b, user);
        let (body, timed_out) = match staged.and_then(|()| {
            super::sandbox::run_tool(
                &[
                    "diffoscope",
                    "--text",
                    "-",
                    "--max-report-size",
                    &max_bytes.to_string(),
                    &format!("published/{name}"),
                    &format!("rebuilt/{name}"),
                ],
                &dir,
                user,
                limits,
                limits.diff_time,
                max_bytes,
            )
        }) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(
                    text,
                    "-- {}\n[diffoscope could not run: {}]",
                    item.name,
                    e.kind()
                );
                continue;
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        let _ = writeln!(text, "-- {}\n{}", item.name, String::from_utf8_lossy(&body));
        if timed_out {
            let _ = writeln!(
                text,
                "[diffoscope stopped after {} s]",
                limits.diff_time.as_secs()
            );
        }
    }
    Some(text)
}

/// `dir/published/NAME` and `dir/rebuilt/NAME`, readable by `user`.
fn stage(
    dir: &Path,
    name: &str,
    a: &Path,
    b: &Path,
    user: Option<BuildUser>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::remove_dir_all(dir);
    for (side, from) in [("published", a), ("rebuilt", b)] {
        let to = dir.join(side).join(name);
        std::fs::create_dir_all(dir.join(side))?;
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to)?;
        }
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))?;
    }
    super::hostfs::private_dir(dir, user.is_some())?;
    if user.is_some() {
        // Others may pass through to the files (0644), not list the directory: the build
        // user reaches them by name.
        for side in ["published", "rebuilt"] {
            std::fs::set_permissions(dir.join(side), std::fs::Permissions::from_mode(0o711))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8], u64)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mtime) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(*mtime);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(v: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(v).unwrap();
        e.finish().unwrap()
    }

    fn check(a: &[u8], b: &[u8]) -> String {
        let mut out = String::new();
        compare_blobs(&mut out, "x.tar.gz", a, b, 0);
        out
    }

    #[test]
    fn names_the_differing_member_inside_a_tar_gz() {
        let a = gz(&tar_of(&[
            ("p/README", b"same", 1),
            ("p/bin/hello", b"good code", 1),
        ]));
        let b = gz(&tar_of(&[
            ("p/README", b"same", 1),
            ("p/bin/hello", b"evil code", 1),
            ("p/extra", b"", 1),
        ]));
        let r = check(&a, &b);
        assert!(
            r.contains("x.tar.gz (decompressed)/p/bin/hello: content differs"),
            "{r}"
        );
        assert!(r.contains("first difference at offset 0"), "{r}");
        assert!(r.contains("p/extra: only in the rebuilt artifact"), "{r}");
        assert!(!r.contains("p/README"), "{r}");
    }

    #[test]
    fn names_metadata_differences_and_plain_offsets() {
        let a = tar_of(&[("f", b"abc", 1)]);
        let b = tar_of(&[("f", b"abc", 2)]);
        let r = check(&a, &b);
        assert!(
            r.contains("f: mtime differs: published 1, rebuilt 2"),
            "{r}"
        );
        let r = check(b"hello world", b"hello there");
        assert!(r.contains("first difference at offset 6"), "{r}");
        assert!(
            r.contains("sizes published 11 bytes, rebuilt 11 bytes"),
            "{r}"
        );
    }

    #[test]
    fn the_report_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, vec![1u8; 5000]).unwrap();
        std::fs::write(&b, vec![2u8; 5000]).unwrap();
        let item = Differing {
            name: "blob",
            published: Some(&a),
            rebuilt: Some(&b),
            published_sha256: "aa".into(),
            rebuilt_sha256: Some("bb".into()),
        };
        let limits = Limits {
            diff_bytes: 120,
            diff_time: std::time::Duration::from_secs(1),
            ..Limits::default()
        };
        let r = report(std::slice::from_ref(&item), &limits, dir.path(), None);
        assert!(r.len() < 200, "{}", r.len());
        assert!(String::from_utf8_lossy(&r).contains("truncated"));
    }

    #[test]
    fn common_causes_are_named_from_the_report_text() {
        let report = "\
│ │ │ │ -  GNU  0x00000014\tNT_GNU_BUILD_ID (unique build ID bitstring)\t    Build ID: 58ca
│ │ │ │ +  GNU  0x00000014\tNT_GNU_BUILD_ID (unique build ID bitstring)\t    Build ID: 4b8f
│ │ -Copyright (C) 1996-2022 Free Software Foundation; built 2022-12-29
│ │ +Copyright (C) 1996-2026 Free Software Foundation; built 2026-12-02
│ ┄ Ordering differences only
pkg/f: mtime differs: published 1, rebuilt 2
";
        let causes = likely_causes(report);
        assert_eq!(causes.len(), 4, "{causes:?}");
        assert!(causes[0].starts_with("build-id"));
        assert!(
            causes[1].contains("say 2022 where the rebuilt say 2026"),
            "{causes:?}"
        );
        assert!(causes[2].starts_with("file order"));
        assert!(causes[3].starts_with("timestamps"));
        assert!(likely_causes("│ -0x00000000 2022 2023\n│ +0x00000000 2024\n").is_empty());
    }
}
