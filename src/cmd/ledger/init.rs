//! `reprove ledger init`: create a log, explicitly, once.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use reprove_ledger::Ledger;
use reprove_verifier::note::is_valid_key_name;
use serde::Serialize;

use super::{KEY_FILE, PUB_FILE, read_signer};
use crate::Outcome;
use crate::cli::LedgerInit;
use crate::cmd::key::{fresh_signer, write_new};
use crate::report::Log;

/// Creates the log: checks the origin and key, lets the core refuse anything but a new or
/// empty directory, then writes the key files.
pub fn run(args: &LedgerInit) -> anyhow::Result<Outcome> {
    check_origin(&args.origin)?;
    let (signer, generated) = match &args.key {
        Some(path) => {
            let signer = read_signer(path)?;
            if signer.name() != args.origin {
                bail!(
                    "the key in {} is named {:?}, but a log key's name must be its origin {:?}",
                    path.display(),
                    signer.name(),
                    args.origin
                );
            }
            (signer, false)
        }
        None => (fresh_signer(&args.origin)?, true),
    };
    let existed = args.data.exists();
    let head = Ledger::init(&args.data, &signer)
        .with_context(|| format!("creating a log in {}", args.data.display()))?;
    let vkey = signer.verifier().to_string();
    let key_file = args.data.join(KEY_FILE);
    let pub_file = args.data.join(PUB_FILE);
    let written = (|| {
        write_new(&pub_file, format!("{vkey}\n").as_bytes(), 0o644)?;
        if generated {
            write_new(
                &key_file,
                format!("{}\n", signer.to_private_key_string()).as_bytes(),
                0o600,
            )?;
        }
        anyhow::Ok(())
    })();
    if let Err(e) = written {
        // A log whose key is lost is useless: take back the directory we created.
        if !existed {
            let _ = std::fs::remove_dir_all(&args.data);
        }
        return Err(e.context("writing the log's key files"));
    }

    let report = Created {
        log: Log::new(&args.origin, head.size(), &head.root()),
        key: vkey,
        data: &args.data,
        private_key_file: generated.then_some(key_file),
        public_key_file: pub_file,
        checkpoint: String::from_utf8_lossy(head.note()).into_owned(),
    };
    crate::report::print(&report, args.json)?;
    if !args.json {
        match &report.private_key_file {
            Some(key_file) => eprintln!(
                "created log {} in {}; its private key is {} (mode 0600): keep it secret and \
                 back it up",
                args.origin,
                args.data.display(),
                key_file.display()
            ),
            None => eprintln!("created log {} in {}", args.origin, args.data.display()),
        }
    }
    Ok(Outcome::Ok)
}

/// What `ledger init` prints: the log's vkey (for people), with where its files are and its
/// first checkpoint (JSON).
#[derive(Debug, Serialize)]
struct Created<'a> {
    log: Log,
    key: String,
    data: &'a Path,
    /// The private key file, when init generated the key (`null` when it was given).
    private_key_file: Option<PathBuf>,
    public_key_file: PathBuf,
    /// The signed checkpoint of the empty tree.
    checkpoint: String,
}

impl fmt::Display for Created<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.key)
    }
}

/// An origin is a key name (no whitespace, no `+`) and a schema-less URL.
fn check_origin(origin: &str) -> anyhow::Result<()> {
    if !is_valid_key_name(origin) {
        bail!(
            "invalid origin {origin:?}: it must be non-empty, printable, and contain no \
             whitespace or '+' (e.g. log.example.org/reprove)"
        );
    }
    if origin.contains("://") {
        bail!(
            "invalid origin {origin:?}: an origin is a schema-less URL (e.g. \
             log.example.org/reprove, without https://)"
        );
    }
    Ok(())
}
