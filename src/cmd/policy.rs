//! `reprove policy init`: a commented consumer policy that trusts one log, under the key its
//! checkpoint is verified with.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::Context as _;
use reprove_verifier::note::{Note, NoteVerifier};
use reprove_verifier::policy::Policy;
use serde::Serialize;

use super::init::quoted;
use crate::Outcome;
use crate::cli::PolicyInit;
use crate::client::{ClientOptions, LogClient};
use crate::keys::read_vkey;
use crate::report::Log;

/// Runs the command.
pub fn init(args: &PolicyInit) -> anyhow::Result<Outcome> {
    let url = crate::config::ledger(&args.ledger)?;
    let client =
        LogClient::new(url, ClientOptions::default()).context("--ledger is not a usable URL")?;
    let operators = operators(&args.operators)?;
    let log_key = match args.log_key.get()? {
        Some(k) => k,
        None => return Err(signed_by(&client)),
    };
    let checkpoint = client
        .checkpoint(&log_key)
        .with_context(|| format!("the log at {url} does not prove its key"))?;
    let origin = checkpoint.origin().to_owned();
    let default_threshold = operators.len().clamp(1, 2);
    let threshold = args.threshold.unwrap_or(default_threshold);
    let text = policy_text(url, &origin, &log_key, &operators, threshold);
    // Written only when it says what it should: a complete policy parses.
    if !operators.is_empty() {
        Policy::parse(text.as_bytes()).context("the policy these arguments make is not valid")?;
    }
    super::init::write_new(&args.out, text.as_bytes())?;
    let report = PolicyWritten {
        policy: args.out.display().to_string(),
        log: Log::new(&origin, checkpoint.size(), checkpoint.root()),
        log_key: log_key.to_string(),
        operators: operators.len(),
        threshold,
    };
    crate::report::print(&report, args.json)?;
    if operators.is_empty() {
        eprintln!(
            "next: add at least {threshold} [[operator]] (rebuilders you trust) to {} before \
             verifying with it; the file shows how",
            args.out.display()
        );
    }
    Ok(Outcome::Ok)
}

/// What `policy init` prints: the log it trusts, under which key.
#[derive(Debug, Serialize)]
struct PolicyWritten {
    policy: String,
    log: Log,
    log_key: String,
    operators: usize,
    threshold: usize,
}

impl fmt::Display for PolicyWritten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wrote {}", self.policy)?;
        writeln!(
            f,
            "log: {} ({} entries), checkpoint verified under",
            self.log.origin, self.log.tree_size
        )?;
        writeln!(f, "log key: {}", self.log_key)
    }
}

/// The error when no log key is given: who signs the log's checkpoint, and where the key
/// itself comes from.
fn signed_by(client: &LogClient) -> anyhow::Error {
    let signers = match client.get("checkpoint").map(|b| Note::parse(&b)) {
        Ok(Ok(note)) => {
            let origin = note.text().lines().next().unwrap_or("").to_owned();
            let names: Vec<String> = note
                .signatures()
                .iter()
                .map(|s| format!("{} (key ID {:08x})", s.name(), s.key_id()))
                .collect();
            format!(
                "the log's origin is {origin}; its checkpoint is signed by {}",
                names.join(", ")
            )
        }
        Ok(Err(e)) => format!("its checkpoint is not a signed note: {e}"),
        Err(e) => format!("its checkpoint could not be fetched: {e}"),
    };
    anyhow::anyhow!(
        "the log's verifier key is needed: {signers}, but a checkpoint does not carry the key \
         itself, and a key taken from the log would prove nothing. Get the vkey from the log's \
         operator (the ledger's log.pub) and give --log-key VKEY or --log-key-file FILE, set \
         {}, or set `log_key` in {}",
        crate::config::ENV_LOG_KEY,
        crate::config::display_path()
    )
}

/// `NAME=VKEY` arguments, grouped by name in order of first appearance.
fn operators(given: &[String]) -> anyhow::Result<Vec<(String, Vec<NoteVerifier>)>> {
    let mut order = Vec::new();
    let mut keys: BTreeMap<String, Vec<NoteVerifier>> = BTreeMap::new();
    for g in given {
        let (name, vkey) = g
            .split_once('=')
            .filter(|(n, _)| !n.trim().is_empty())
            .with_context(|| format!("--operator {g:?} is not NAME=VKEY"))?;
        let key = read_vkey("--operator", vkey.trim())?;
        let name = name.trim().to_owned();
        if !keys.contains_key(&name) {
            order.push(name.clone());
        }
        keys.entry(name).or_default().push(key);
    }
    Ok(order
        .into_iter()
        .map(|n| {
            let k = keys.remove(&n).unwrap_or_default();
            (n, k)
        })
        .collect())
}

fn policy_text(
    url: &str,
    origin: &str,
    log_key: &NoteVerifier,
    operators: &[(String, Vec<NoteVerifier>)],
    threshold: usize,
) -> String {
    let mut s = format!(
        "# A consumer policy, written by `reprove policy init`: what `reprove verify`, `gate` and
# `bundle` trust (the format in full: docs/formats.md; README, \"The policy file\").

# How many distinct operators must have reproduced an artifact's exact sha256.
threshold = {threshold}
# What a mismatch from a trusted operator does: \"fail\" or \"warn\".
on_mismatch = \"fail\"
# on_yanked = \"warn\"           # or \"fail\": what the publisher's yank of a release does
# on_unverified = \"fail\"       # or \"warn\": trust a release announced without reproduction
# require_sandbox = true         # attestations of unsandboxed builds do not count
# max_checkpoint_age = \"36h\"     # needs [witnesses]

# The one log this policy trusts; its checkpoint was verified under this key when written.
[log]
origin = {origin}
key = {key}
url = {url}

# [witnesses]                    # optional: k-of-n witness cosignatures on checkpoints
# quorum = 1
# keys = [\"witness.example.com+…\"]
",
        origin = quoted(origin),
        key = quoted(&log_key.to_string()),
        url = quoted(url),
    );
    s.push_str(
        "\n# Rebuilder operators: the keys of one operator count once, however many sign.\n",
    );
    for (name, keys) in operators {
        let keys: Vec<String> = keys.iter().map(|k| quoted(&k.to_string())).collect();
        s.push_str(&format!(
            "[[operator]]\nname = {}\nkeys = [{}]\n\n",
            quoted(name),
            keys.join(", ")
        ));
    }
    s.push_str(
        "# [[operator]]
# name = \"alpha\"
# keys = [\"rebuilder.alpha.example+…\"]
# recovery_key = \"recovery.alpha.example+…\"   # may revoke alpha's keys it no longer holds

# Who may publish which projects. Without any [[publisher]], any logged release that lists an
# artifact's bytes could make them trusted (verdicts warn: publisher_pinned: false).
# [[publisher]]
# name = \"hello team\"
# projects = [\"hello\", \"hello-*\"]
# keys = [\"publisher.example.org+…\"]
",
    );
    s
}
