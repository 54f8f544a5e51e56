//! `reprove init`: a commented publisher manifest for the project in a directory, so a
//! newcomer starts from a file that builds rather than from a blank page.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::cli::Init;

/// The manifest's file name, as the examples and `fixtures/` spell it.
pub const MANIFEST: &str = "reprove.toml";

/// Runs the command.
pub fn run(args: &Init) -> anyhow::Result<Outcome> {
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("--dir {}: no such directory", args.dir.display()))?;
    if !dir.is_dir() {
        anyhow::bail!("--dir {} is not a directory", args.dir.display());
    }
    let project = match &args.project {
        Some(p) => p.clone(),
        None => dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("the directory has no usable name: give --project NAME")?
            .to_owned(),
    };
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let recipe = Recipe::guess(&dir, &project);
    let text = manifest_text(&project, epoch, &recipe);
    let path = dir.join(MANIFEST);
    write_new(&path, text.as_bytes())?;
    let report = Initialized {
        manifest: path,
        project,
        build: recipe.command.iter().map(|s| s.to_string()).collect(),
    };
    crate::report::print(&report, args.json)?;
    if !args.json {
        eprintln!(
            "next: check the recipe in {MANIFEST}, then `reprove rebuild --manifest {MANIFEST} \
             --out dist` builds it in the sandbox rebuilders use"
        );
    }
    Ok(Outcome::Ok)
}

/// Writes `bytes` to a new file at `path`; an existing file is left as it is, and is an error.
pub fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists; it is left as it is (move it away to write a new one)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What `init` prints: the manifest it wrote.
#[derive(Debug, Serialize)]
struct Initialized {
    manifest: PathBuf,
    project: String,
    /// The guessed build command.
    build: Vec<String>,
}

impl fmt::Display for Initialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wrote {}", self.manifest.display())
    }
}

/// A guess at how the project builds, from the files in its directory.
struct Recipe {
    command: &'static [&'static str],
    /// Output path in the build tree → artifact name.
    output: (String, String),
    why: &'static str,
}

impl Recipe {
    fn guess(dir: &Path, project: &str) -> Recipe {
        if dir.join("Cargo.toml").is_file() {
            Recipe {
                command: &["cargo", "build", "--release", "--locked", "--offline"],
                output: (
                    format!("target/release/{project}"),
                    format!("{project}-linux-x86_64"),
                ),
                why: "a Cargo.toml is here. The sandbox has no network: vendor the \
                      dependencies (`cargo vendor`) into the source",
            }
        } else if dir.join("Makefile").is_file() {
            Recipe {
                command: &["make"],
                output: (format!("out/{project}"), project.to_owned()),
                why: "a Makefile is here",
            }
        } else {
            Recipe {
                command: &["./build.sh"],
                output: (format!("out/{project}"), project.to_owned()),
                why: "nothing recognised: write the command that builds the project",
            }
        }
    }
}

/// A TOML string literal (also for the commented policy `reprove policy init` writes).
pub(super) fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn manifest_text(project: &str, epoch: u64, r: &Recipe) -> String {
    let command: Vec<String> = r.command.iter().map(|c| quoted(c)).collect();
    let (output, artifact) = (&r.output.0, &r.output.1);
    format!(
        "# A publisher manifest, written by `reprove init`: what a human knows about a release.
# `reprove rebuild --manifest {MANIFEST} --out dist` builds it in the sandbox rebuilders use;
# `reprove release publish {MANIFEST} --key K --ledger URL` logs it (docs/formats.md, section 2;
# a fully commented example: fixtures/hello-c/reprove.toml). Relative paths are relative to
# this file.

project = {project}
version = \"0.1.0\"

[source]
# This directory (without .git and the work and output directories), packed reproducibly by
# `reprove rebuild --manifest`. To publish, name an archive instead: path = \"….tar.gz\" with
# url = \"https://…\" where rebuilders fetch it (or git = \"https://…\" with commit = \"<hex>\").
path = \".\"

[recipe]
# The build command, an argument vector without a shell; guessed because {why}. It runs in the
# source tree, in a bubblewrap sandbox without network.
command = [{command}]
# \"host\": the rebuilder's /usr, read-only; or [recipe.toolchain.rootfs] with path/url, sha256.
toolchain = \"host\"
# SOURCE_DATE_EPOCH of every build: fixed when this file was written. Change it on purpose only.
source_date_epoch = {epoch}

# Extra fixed environment variables (PATH, HOME, TZ, LANG and SOURCE_DATE_EPOCH are set).
[recipe.env]

# Output path in the build tree → the artifact it must equal, bit for bit.
[recipe.outputs]
{output} = {artifact}

# The published artifacts, needed to publish: the file to hash and where it is published.
# [[artifact]]
# name = {artifact}
# path = {dist}
# url = \"https://example.org/download/{artifact_plain}\"
",
        project = quoted(project),
        command = command.join(", "),
        why = r.why,
        output = quoted(output),
        artifact = quoted(artifact),
        dist = quoted(&format!("dist/{artifact}")),
        artifact_plain = artifact,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `init` writes is a manifest `rebuild --manifest` reads.
    #[test]
    fn the_manifest_written_parses() {
        let dir = tempfile::tempdir().unwrap();
        for marker in [None, Some("Makefile"), Some("Cargo.toml")] {
            if let Some(m) = marker {
                std::fs::write(dir.path().join(m), "").unwrap();
            }
            let r = Recipe::guess(dir.path(), "my \"tool\"");
            let path = dir.path().join(format!("m-{marker:?}.toml"));
            std::fs::write(&path, manifest_text("my \"tool\"", 1_700_000_000, &r)).unwrap();
            let loaded = crate::rebuild::manifest::load(&path).unwrap();
            assert_eq!(loaded.spec.project, "my \"tool\"");
            assert_eq!(loaded.spec.source.path.as_deref(), Some("."));
            assert_eq!(
                loaded.spec.recipe.source_date_epoch.value(),
                Some(1_700_000_000)
            );
            assert_eq!(loaded.spec.recipe.command[0], r.command[0]);
        }
        assert!(write_new(&dir.path().join("Makefile"), b"x").is_err());
        assert_eq!(std::fs::read(dir.path().join("Makefile")).unwrap(), b"");
    }
}
