//! `reprove key revoke`: append a signed revocation notice to the log.

use std::fmt;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context;
use reprove_verifier::checkpoint::WitnessPolicy;
use reprove_verifier::note::{NoteSigner, NoteVerifier};
use reprove_verifier::predicates::{Entry, EntryKind, RevocationNotice, RevocationReason};
use serde::Serialize;

use crate::Outcome;
use crate::cli::{KeyRevoke, RevokeReason};
use crate::client::{ClientOptions, LogClient};
use crate::keys::{read_signer, read_vkey};
use crate::sign::sign_statement;

/// Runs the command.
pub fn run(args: &KeyRevoke) -> anyhow::Result<Outcome> {
    let (signer, revoked) = signer_and_revoked(args)?;
    let replacement = args
        .replacement
        .as_deref()
        .map(|r| read_vkey("--replacement", r))
        .transpose()?;
    let notice = RevocationNotice {
        revoked_key: revoked.to_string(),
        reason: match args.reason {
            RevokeReason::Compromised => RevocationReason::Compromised,
            RevokeReason::Retired => RevocationReason::Retired,
            RevokeReason::Superseded => RevocationReason::Superseded,
        },
        effective_index: args.effective_index,
        replacement: replacement.map(|k| k.to_string()),
        comment: args.comment.clone(),
    };
    let entry =
        Entry::new(EntryKind::Revocation(notice)).context("the revocation notice is not valid")?;
    let log_key = args.log_key.get()?;
    let ledger = crate::config::ledger(&args.ledger)?;
    let envelope = sign_statement(&signer, &entry.encode())?.encode();
    if !args.yes && std::io::stdin().is_terminal() {
        confirm(&revoked, args.reason, ledger)?;
    }

    let client = LogClient::new(ledger, ClientOptions::default())?;
    let answer = client
        .submit(&envelope)
        .with_context(|| format!("appending the notice to the log at {ledger}"))?;
    let verified = match &log_key {
        Some(key) => {
            answer
                .proof
                .verify(&envelope, key, &WitnessPolicy::none())
                .map_err(|e| {
                    super::logged_but_not_proven("the revocation notice", answer.index, key, e)
                })?;
            true
        }
        None => false,
    };
    let report = Revoked {
        index: answer.index,
        duplicate: answer.duplicate,
        revoked_key: revoked.to_string(),
        signer: signer.verifier().to_string(),
        proof_verified: verified,
    };
    crate::report::print(&report, args.json)?;
    Ok(Outcome::Ok)
}

/// What `key revoke` prints: where the notice was logged, and by whom.
#[derive(Debug, Serialize)]
struct Revoked {
    index: u64,
    /// The log already held this very notice.
    duplicate: bool,
    revoked_key: String,
    signer: String,
    /// The log's answer was proven under the log key.
    proof_verified: bool,
}

impl fmt::Display for Revoked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "revocation notice for {} logged at index {}{} (signed by {}){}",
            self.revoked_key,
            self.index,
            if self.duplicate {
                " (already logged)"
            } else {
                ""
            },
            self.signer,
            if self.proof_verified {
                ", inclusion verified"
            } else {
                ""
            }
        )
    }
}

/// Asks on the terminal before a notice the log keeps forever is appended; anything but
/// `y`/`yes` stops, with nothing appended.
fn confirm(revoked: &NoteVerifier, reason: RevokeReason, ledger: &str) -> anyhow::Result<()> {
    let reason = match reason {
        RevokeReason::Compromised => "compromised",
        RevokeReason::Retired => "retired",
        RevokeReason::Superseded => "superseded",
    };
    eprint!(
        "Revoke {revoked} ({reason}) in the log at {ledger}?\n\
         The notice is permanent: it cannot be withdrawn. [y/N] "
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        return Ok(());
    }
    anyhow::bail!("not confirmed: nothing was appended to the log (--yes skips the question)")
}

/// Who signs the notice, and the key it revokes: the key itself (its private key file as
/// `--key`), or a recovery key (`--recovery-key`) for a key given as a vkey.
fn signer_and_revoked(args: &KeyRevoke) -> anyhow::Result<(NoteSigner, NoteVerifier)> {
    match &args.recovery_key {
        Some(path) => Ok((read_signer(path)?, read_vkey("--key", &args.key)?)),
        None => {
            let key = read_signer(Path::new(&args.key)).with_context(|| {
                "--key must be the revoked key's private key file (or pass --recovery-key to \
                 revoke a key you no longer hold, giving its vkey as --key)"
            })?;
            let vkey = key.verifier();
            Ok((key, vkey))
        }
    }
}
