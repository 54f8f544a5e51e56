//! The signed archive metadata: a suite's `InRelease`, checked with `gpgv` against Debian's
//! archive keyring, and the index files it lists (`Sources.xz`, `Packages.xz`), each checked
//! against the sha256 and size the signed text gives before it is read.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, anyhow};

use super::deb822::{self, Stanza};
use super::refuse;
use crate::rebuild::fetch;

/// The keyring `gpgv` checks `InRelease` with, from the `debian-archive-keyring` package.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A suite's `Release` data, read from the signed part of its `InRelease` only.
#[derive(Debug, Clone)]
pub struct Release {
    /// The `InRelease` URL.
    pub url: String,
    /// The mirror's base URL (no trailing `/`).
    pub mirror: String,
    /// Its `Date:` field.
    pub date: String,
    /// Its `Suite:` / `Codename:` / `Version:` fields (empty when absent).
    pub suite: String,
    /// The codename.
    pub codename: String,
    /// The point release.
    pub version: String,
    /// The fingerprint of each primary key that made a good signature, with when it signed.
    pub signers: Vec<String>,
    /// `SHA256:` entries: path under `dists/<suite>/` → (sha256, size).
    pub sha256: BTreeMap<String, ([u8; 32], u64)>,
}

/// Fetches `dists/<suite>/InRelease` and checks its signature with `keyring`.
pub fn read_release(
    mirror: &str,
    suite: &str,
    keyring: &Path,
    scratch: &Path,
    timeout: Duration,
) -> anyhow::Result<Release> {
    let url = format!("{mirror}/dists/{suite}/InRelease");
    let signed = scratch.join("InRelease");
    fetch::fetch("InRelease", &url, fetch::Origin::Operator, &signed, timeout)
        .map_err(|u| anyhow!("cannot read the suite {suite:?} of {mirror}: {}", u.reason))?;
    let (text, signers) = gpgv(&signed, keyring, &url)?;
    let Some(fields) = deb822::stanzas(&text).into_iter().next() else {
        return refuse(format!("{url}: the signed text holds no Release fields"));
    };
    let field = |n: &str| fields.get(n).unwrap_or_default().to_owned();
    let mut sha256 = BTreeMap::new();
    for line in deb822::field_lines(fields.get("SHA256").unwrap_or_default()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [hex, size, path] = parts[..]
            && let (Some(d), Ok(n)) = (parse_sha256(hex), size.parse())
        {
            sha256.insert(path.to_owned(), (d, n));
        }
    }
    Ok(Release {
        url,
        mirror: mirror.to_owned(),
        date: field("Date"),
        suite: field("Suite"),
        codename: field("Codename"),
        version: field("Version"),
        signers,
        sha256,
    })
}

/// Runs `gpgv` on a clearsigned file: the signed text (only what the signature covers) and
/// the primary-key fingerprints of the good signatures. A bad or unknown signature is a refusal.
fn gpgv(signed: &Path, keyring: &Path, url: &str) -> anyhow::Result<(String, Vec<String>)> {
    let out_file = signed.with_extension("verified");
    let out = Command::new("gpgv")
        .arg("--status-fd=1")
        .arg("--keyring")
        .arg(keyring)
        .arg("--output")
        .arg(&out_file)
        .arg(signed)
        .stdin(Stdio::null())
        .output()
        .context("cannot run gpgv (Debian's package gpgv) to check InRelease")?;
    let status = String::from_utf8_lossy(&out.stdout);
    let signers: Vec<String> = status
        .lines()
        .filter_map(|l| l.strip_prefix("[GNUPG:] VALIDSIG "))
        .map(|rest| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let primary = f.get(9).or(f.first()).copied().unwrap_or_default();
            format!("{primary} (signed {})", f.get(1).copied().unwrap_or("?"))
        })
        .collect();
    if !out.status.success() || signers.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.contains("BAD") || l.contains("Can't check") || l.contains("no valid"))
            .collect::<Vec<_>>()
            .join("; ");
        return refuse(format!(
            "{url}: the OpenPGP signature does not verify with the keyring {}{}: nothing from this mirror is trusted",
            keyring.display(),
            if why.is_empty() {
                String::new()
            } else {
                format!(" (gpgv: {why})")
            }
        ));
    }
    let text = std::fs::read_to_string(&out_file).context("gpgv's output is not UTF-8")?;
    Ok((text, signers))
}

/// Fetches one index file the signed `Release` lists (`main/source/Sources.xz`), checks its
/// sha256 and size, and returns its stanzas.
pub fn read_index(
    release: &Release,
    suite: &str,
    path: &str,
    scratch: &Path,
    timeout: Duration,
) -> anyhow::Result<(String, Vec<Stanza>)> {
    let url = format!("{}/dists/{suite}/{path}", release.mirror);
    let Some((want, size)) = release.sha256.get(path) else {
        return refuse(format!(
            "{}: the signed Release lists no {path}",
            release.url
        ));
    };
    let file = scratch.join(path.replace('/', "_"));
    let got = fetch::fetch(path, &url, fetch::Origin::Operator, &file, timeout)
        .map_err(|u| anyhow!("cannot read {url}: {}", u.reason))?;
    if got.sha256 != *want || got.size != *size {
        return refuse(format!(
            "{url} has sha256 {} ({} bytes), but the signed InRelease says {} ({size} bytes): the mirror and its signed metadata disagree, nothing is imported",
            got.sha256_hex(),
            got.size,
            hex::encode(want)
        ));
    }
    let text = xz_text(&file).with_context(|| format!("{url} does not decompress"))?;
    Ok((url, deb822::stanzas(&text)))
}

/// The text of an xz-compressed file, by the host's `xz` (xz-utils).
pub fn xz_text(file: &Path) -> anyhow::Result<String> {
    let mut child = Command::new("xz")
        .args(["-dc", "--"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run xz (Debian's package xz-utils)")?;
    let mut text = String::new();
    child
        .stdout
        .take()
        .context("no xz output")?
        .take(1 << 30)
        .read_to_string(&mut text)?;
    if !child.wait()?.success() {
        anyhow::bail!("xz could not decompress it");
    }
    Ok(text)
}

/// 64 hex digits as 32 bytes.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).ok()?;
    Some(out)
}
