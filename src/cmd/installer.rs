//! `reprove release installer NAME@VERSION -o install.sh`: a POSIX shell installer with the
//! release's URLs, the SHA-256 of each artifact and the log's origin and key baked in, taken
//! from the release manifest proven in the log. It fails closed (see `cli::ReleaseInstaller`).

use std::fmt::Write as _;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::Outcome;
use crate::cli::ReleaseInstaller;
use crate::client::{ClientOptions, LogClient};
use crate::cmd::gate::split_release;

#[derive(Debug, Serialize)]
struct Written {
    release: String,
    out: String,
    release_index: u64,
    artifacts: Vec<Baked>,
}

/// One artifact the installer fetches and checks.
#[derive(Debug, Serialize)]
struct Baked {
    name: String,
    url: String,
    sha256: String,
}

/// Runs the command.
pub fn run(args: &ReleaseInstaller) -> anyhow::Result<Outcome> {
    let (name, version) = split_release(&args.release)?;
    let Some(log_key) = args.log_key.get()? else {
        bail!(
            "the installer bakes in the log's key, and the release must be proven under it: \
             give --log-key or --log-key-file"
        );
    };
    let ledger = crate::config::ledger(&args.ledger)?;
    let client =
        LogClient::new(ledger, ClientOptions::default()).context("--ledger is not a usable URL")?;
    let record = crate::rebuild::find_release(&client, &log_key, name, version, &[])?;
    let m = &record.manifest;
    let mut artifacts = Vec::new();
    for a in &m.subjects {
        let Some(url) = m.predicate.artifacts.get(&a.name) else {
            bail!(
                "the release names no download URL for {}: an installer needs one for every \
                 artifact (publish with --staged, or give each artifact a url)",
                a.name
            );
        };
        artifacts.push(Baked {
            name: a.name.clone(),
            url: url.clone(),
            sha256: hex::encode(a.digest.sha256),
        });
    }
    let script = script(name, version, ledger, &log_key.to_string(), &artifacts);
    crate::client::write_atomic(&args.out, script.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    set_executable(&args.out)?;
    let written = Written {
        release: args.release.clone(),
        out: args.out.display().to_string(),
        release_index: record.log_index,
        artifacts,
    };
    if args.json {
        println!("{}", crate::report::json(&written)?);
    } else {
        println!(
            "wrote {} for {} (release manifest at log index {}, {} artifact(s))",
            written.out,
            written.release,
            written.release_index,
            written.artifacts.len()
        );
    }
    Ok(Outcome::Ok)
}

fn set_executable(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

/// `s` as one single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The installer's text.
fn script(name: &str, version: &str, ledger: &str, log_key: &str, artifacts: &[Baked]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"#!/bin/sh
# Installer for {name} {version}, written by reprove {reprove}.
# Downloads each file from its release URL, checks its SHA-256 against the release manifest
# logged at {ledger}, and, when `reprove` is on the PATH, runs `reprove verify` on it.
# It fails closed: whatever it cannot check, it refuses. Files are put in $INSTALL_DIR
# (default ./{name}-{version}) only after every one of them passed.
set -eu
NAME={q_name}
VERSION={q_version}
LEDGER={q_ledger}
LOG_KEY={q_key}
INSTALL_DIR="${{INSTALL_DIR:-./$NAME-$VERSION}}"

fail() {{ echo "install $NAME $VERSION: $*" >&2; exit 1; }}

sha256_of() {{
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else return 1
  fi
}}

fetch() {{
  if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  else fail "neither curl nor wget is installed: cannot download"
  fi
}}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/.probe"
sha256_of "$tmp/.probe" >/dev/null 2>&1 ||
  fail "no sha256sum, shasum or openssl: cannot check the downloads, so nothing is installed"

check() {{
  fetch "$2" "$tmp/$1" || fail "could not download $1 from $2"
  got=$(sha256_of "$tmp/$1") || fail "could not hash $1"
  [ "$got" = "$3" ] ||
    fail "$1 has SHA-256 $got, the release says $3: the download is not this release, nothing is installed"
  if command -v reprove >/dev/null 2>&1; then
    REPROVE_LOG_KEY="$LOG_KEY" reprove verify "$tmp/$1" --release "$NAME@$VERSION" --ledger "$LEDGER" >&2 ||
      fail "reprove verify does not trust $1 (above): nothing is installed"
  fi
}}

"#,
        reprove = env!("CARGO_PKG_VERSION"),
        q_name = quote(name),
        q_version = quote(version),
        q_ledger = quote(ledger),
        q_key = quote(log_key),
    );
    for a in artifacts {
        let _ = writeln!(
            s,
            "check {} {} {}",
            quote(&a.name),
            quote(&a.url),
            quote(&a.sha256)
        );
    }
    let _ = writeln!(s, "\nmkdir -p \"$INSTALL_DIR\"");
    for a in artifacts {
        let _ = writeln!(s, "mv \"$tmp\"/{} \"$INSTALL_DIR\"/", quote(&a.name));
    }
    let _ = writeln!(s, "echo \"installed $NAME $VERSION in $INSTALL_DIR\"");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(quote("a'b"), r"'a'\''b'");
        let baked = Baked {
            name: "f'x".into(),
            url: "u".into(),
            sha256: "d".into(),
        };
        let s = script("p", "1", "http://l", "k", &[baked]);
        assert!(s.contains(r"check 'f'\''x' 'u' 'd'"));
    }
}
