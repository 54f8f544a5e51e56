//! `reprove key …`

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use reprove_verifier::note::{NoteSigner, is_valid_key_name};
use serde::Serialize;

use crate::Outcome;
use crate::cli::KeyGenerate;

/// `reprove key generate`: a fresh Ed25519 note key from the OS's random number generator.
pub fn generate(args: &KeyGenerate) -> anyhow::Result<Outcome> {
    if !is_valid_key_name(&args.name) {
        bail!(
            "invalid key name {:?}: it must be non-empty, printable, and contain no whitespace or '+'",
            args.name
        );
    }
    let stem = file_stem(&args.name);
    let key_path = args.out.join(format!("{stem}.key"));
    let pub_path = args.out.join(format!("{stem}.pub"));
    for p in [&key_path, &pub_path] {
        if p.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key",
                p.display()
            );
        }
    }
    let signer = fresh_signer(&args.name)?;
    let vkey = signer.verifier().to_string();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_new(
        &key_path,
        format!("{}\n", signer.to_private_key_string()).as_bytes(),
        0o600,
    )?;
    if let Err(e) = write_new(&pub_path, format!("{vkey}\n").as_bytes(), 0o644) {
        // Leave no half-made key pair behind.
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }

    let report = Generated {
        name: &args.name,
        key: vkey,
        key_id: format!("{:08x}", signer.key_id()),
        private_key_file: key_path,
        public_key_file: pub_path,
    };
    crate::report::print(&report, args.json)?;
    if !args.json {
        eprintln!(
            "wrote {} (private, mode 0600) and {}",
            report.private_key_file.display(),
            report.public_key_file.display()
        );
    }
    Ok(Outcome::Ok)
}

/// What `key generate` prints: the new key's vkey (for people), with its files (JSON).
#[derive(Debug, Serialize)]
struct Generated<'a> {
    name: &'a str,
    key: String,
    /// The key ID, as 8 lowercase hex digits.
    key_id: String,
    private_key_file: PathBuf,
    public_key_file: PathBuf,
}

impl fmt::Display for Generated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.key)
    }
}

/// A fresh Ed25519 note key named `name`, from the OS's random number generator.
pub fn fresh_signer(name: &str) -> anyhow::Result<NoteSigner> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("reading random bytes: {e}"))?;
    let signer = NoteSigner::from_seed(name, &seed)?;
    seed.fill(0);
    Ok(signer)
}

/// A file-name-safe form of a key name.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Creates `path` (which must not exist) with `mode`, writes `bytes` and syncs it.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", path.display()))?;
    Ok(path.to_path_buf())
}
