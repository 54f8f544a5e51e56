//! Reading keys from the command line and from files: the one place the binary turns a
//! `PRIVATE+KEY+…` file into a signer and a `--log-key`/`--log-key-file` pair into the log's
//! verifier key, so every command says the same thing about a bad key.

use std::path::Path;

use anyhow::Context;
use reprove_verifier::note::{KeyType, NoteSigner, NoteVerifier};

use crate::cli::LogKeyArgs;

/// The private key in the file at `path` (a `PRIVATE+KEY+…` line, as `reprove key generate`
/// and `reprove ledger init` write it).
pub fn read_signer(path: &Path) -> anyhow::Result<NoteSigner> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the private key {}", path.display()))?;
    NoteSigner::from_private_key(text.trim())
        .with_context(|| format!("{} is not a private key (PRIVATE+KEY+…)", path.display()))
}

/// The log's verifier key from `--log-key VKEY` or `--log-key-file FILE` (clap keeps the two
/// apart); `None` when neither is given.
pub fn log_key(vkey: Option<&str>, file: Option<&Path>) -> anyhow::Result<Option<NoteVerifier>> {
    if let Some(k) = vkey {
        return NoteVerifier::parse(k.trim()).map(Some).with_context(|| {
            format!("--log-key (or REPROVE_LOG_KEY) {k:?} is not a verifier key (vkey)")
        });
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--log-key-file: cannot read {}", path.display()))?;
    NoteVerifier::parse(text.trim()).map(Some).with_context(|| {
        format!(
            "--log-key-file: {} does not hold a verifier key",
            path.display()
        )
    })
}

/// [`log_key`], required.
pub fn require_log_key(vkey: Option<&str>, file: Option<&Path>) -> anyhow::Result<NoteVerifier> {
    log_key(vkey, file)?.ok_or_else(|| {
        crate::config::missing(
            "the log's verifier key (to verify what the log says)",
            "--log-key VKEY or --log-key-file FILE",
            crate::config::ENV_LOG_KEY,
            "log_key",
        )
    })
}

impl LogKeyArgs {
    /// The log's verifier key these arguments give, if any. Both flags at once is an error
    /// (`crate::config::resolve` has already dropped a `REPROVE_LOG_KEY` that a
    /// `--log-key-file` flag beats).
    pub fn get(&self) -> anyhow::Result<Option<NoteVerifier>> {
        if self.log_key.is_some() && self.log_key_file.is_some() {
            anyhow::bail!("give --log-key or --log-key-file, not both");
        }
        log_key(self.log_key.as_deref(), self.log_key_file.as_deref())
    }

    /// The log's verifier key these arguments give, required ([`require_log_key`]).
    pub fn require(&self) -> anyhow::Result<NoteVerifier> {
        if self.log_key.is_some() && self.log_key_file.is_some() {
            anyhow::bail!("give --log-key or --log-key-file, not both");
        }
        require_log_key(self.log_key.as_deref(), self.log_key_file.as_deref())
    }
}

/// An Ed25519 signing key given as a vkey, or as a file holding one (a `.pub` file, or a
/// private key file, whose public half is taken). `flag` names the argument in errors.
pub fn read_vkey(flag: &str, given: &str) -> anyhow::Result<NoteVerifier> {
    let text = if given.contains('+') && !Path::new(given).exists() {
        given.to_string()
    } else {
        std::fs::read_to_string(given)
            .with_context(|| format!("{flag}: {given:?} is neither a vkey nor a readable file"))?
    };
    let text = text.trim();
    let key = if text.starts_with("PRIVATE+KEY+") {
        NoteSigner::from_private_key(text)
            .with_context(|| format!("{flag}: not a valid private key"))?
            .verifier()
    } else {
        NoteVerifier::parse(text).with_context(|| format!("{flag}: not a valid vkey"))?
    };
    if key.key_type() != KeyType::Ed25519 {
        anyhow::bail!("{flag}: {key} is not an Ed25519 signing key");
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_flags_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("k.example", &[5; 32]).unwrap();
        let vkey = signer.verifier().to_string();
        let pub_file = dir.path().join("k.pub");
        std::fs::write(&pub_file, format!("{vkey}\n")).unwrap();
        assert_eq!(log_key(Some(&vkey), None).unwrap(), Some(signer.verifier()));
        assert_eq!(
            log_key(None, Some(&pub_file)).unwrap(),
            Some(signer.verifier())
        );
        assert_eq!(log_key(None, None).unwrap(), None);
        assert!(require_log_key(None, None).is_err());
        assert!(log_key(Some("nonsense"), None).is_err());
        assert!(log_key(None, Some(&dir.path().join("missing"))).is_err());
        assert!(read_signer(&pub_file).is_err());
        assert_eq!(read_vkey("--key", &vkey).unwrap(), signer.verifier());
        assert_eq!(
            read_vkey("--key", pub_file.to_str().unwrap()).unwrap(),
            signer.verifier()
        );
    }
}
