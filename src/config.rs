//! The settings behind the command line: the ledger's URL, the log's key and the consumer
//! policy, which nearly every command needs and nobody wants to retype.
//!
//! Each comes, first match wins, from its flag (`--ledger`, `--log-key`/`--log-key-file`,
//! `--policy`), from the environment (`REPROVE_LEDGER`, `REPROVE_LOG_KEY`, `REPROVE_POLICY`;
//! clap reads those, see `src/cli/`), from the config file (keys `ledger`, `log_key`,
//! `policy`), or from the built-in default. The config file is `$REPROVE_CONFIG`, else
//! `$XDG_CONFIG_HOME/reprove/config.toml`, else `~/.config/reprove/config.toml`; a missing file
//! is no file, a malformed one an error that names it. [`resolve`] runs once, before the
//! command, and fills in only what is still unset: the clap types stay free of I/O.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::ArgMatches;
use clap::parser::ValueSource;
use reprove_verifier::note::NoteVerifier;
use serde::Deserialize;

use crate::cli::{
    Cli, Command, ConsumerArgs, KeyCommand, LedgerCommand, LogCommand, LogKeyArgs, PolicyCommand,
    RebuilderCommand, ReleaseCommand,
};

/// The environment variable naming the config file.
pub const ENV_CONFIG: &str = "REPROVE_CONFIG";
/// The environment variable of `--ledger`.
pub const ENV_LEDGER: &str = "REPROVE_LEDGER";
/// The environment variable of `--log-key`.
pub const ENV_LOG_KEY: &str = "REPROVE_LOG_KEY";
/// The environment variable of `--policy`.
pub const ENV_POLICY: &str = "REPROVE_POLICY";

/// The config file, as written. Unknown keys are refused: a typo must not silently fall back
/// to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The ledger's URL (`--ledger`).
    pub ledger: Option<String>,
    /// The log's verifier key, a vkey (`--log-key`).
    pub log_key: Option<String>,
    /// The consumer policy (`--policy`); a relative path is relative to the config file.
    pub policy: Option<PathBuf>,
}

/// Where the config file is looked for: `$REPROVE_CONFIG`, else
/// `$XDG_CONFIG_HOME/reprove/config.toml`, else `~/.config/reprove/config.toml`.
pub fn path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(ENV_CONFIG) {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Some(dir.join("reprove/config.toml"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".config/reprove/config.toml"))
}

/// Reads the config file at `path`: none when there is no file there, an error naming the file
/// when it cannot be read or is not a valid config.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var_os(ENV_CONFIG).is_some() {
                eprintln!(
                    "warning: {ENV_CONFIG} names {}, which does not exist: no config file used",
                    path.display()
                );
            }
            return Ok(Config::default());
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the config file {}", path.display()));
        }
    };
    let mut config: Config = toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))?;
    if let Some(k) = &config.log_key {
        NoteVerifier::parse(k.trim()).with_context(|| {
            format!(
                "the config file {}: log_key {k:?} is not a verifier key (vkey)",
                path.display()
            )
        })?;
    }
    if let Some(p) = &mut config.policy
        && p.is_relative()
    {
        *p = path.parent().unwrap_or(Path::new(".")).join(&*p);
    }
    Ok(config)
}

/// Fills in, from the config file, the ledger, log key and policy that neither a flag nor the
/// environment gave; `matches` tells which values came from the environment.
pub fn resolve(cli: &mut Cli, matches: &ArgMatches) -> anyhow::Result<()> {
    let leaf = leaf(matches);
    let from_env = |id: &str| {
        leaf.ids().any(|i| i.as_str() == id)
            && leaf.value_source(id) == Some(ValueSource::EnvVariable)
    };
    let (ledger_from_env, log_key_from_env) = (from_env("ledger"), from_env("log_key"));
    let Some(slots) = slots(&mut cli.command) else {
        return Ok(());
    };
    let config = match path() {
        Some(p) => load(&p)?,
        None => Config::default(),
    };
    if let Some(flag) = slots.ledger_on_command_line {
        *flag = slots.ledger.is_some() && !ledger_from_env;
    }
    if slots.ledger.is_none() {
        *slots.ledger = config.ledger.clone();
    }
    if let Some(keys) = slots.log_key {
        // A --log-key-file flag beats REPROVE_LOG_KEY (clap cannot tell them apart itself).
        if log_key_from_env && keys.log_key_file.is_some() {
            keys.log_key = None;
        }
        if keys.log_key.is_none() && keys.log_key_file.is_none() {
            keys.log_key = config.log_key.clone();
        }
    }
    if let Some(policy) = slots.policy
        && policy.is_none()
    {
        *policy = config.policy.clone();
    }
    Ok(())
}

/// The error for a setting that nothing gave: what to give, and the three places to give it.
pub fn missing(what: &str, flag: &str, env: &str, key: &str) -> anyhow::Error {
    let file = display_path();
    anyhow::anyhow!("{what} is needed: give {flag}, set {env}, or set `{key}` in {file}")
}

/// The config file's path, for messages.
pub fn display_path() -> String {
    path().map_or_else(
        || "~/.config/reprove/config.toml".to_owned(),
        |p| p.display().to_string(),
    )
}

/// The ledger URL a command needs: `given`, or the error saying where to give it.
pub fn ledger(given: &Option<String>) -> anyhow::Result<&str> {
    given
        .as_deref()
        .ok_or_else(|| missing("the ledger's URL", "--ledger URL", ENV_LEDGER, "ledger"))
}

/// The consumer policy's path: `--policy`, or the error saying where to give it.
pub fn policy(args: &ConsumerArgs) -> anyhow::Result<&Path> {
    args.policy.as_deref().ok_or_else(|| {
        missing(
            "the consumer policy",
            "--policy POLICY.toml",
            ENV_POLICY,
            "policy",
        )
    })
}

/// The settings of the command being run, where it has them.
struct Slots<'a> {
    ledger: &'a mut Option<String>,
    ledger_on_command_line: Option<&'a mut bool>,
    log_key: Option<&'a mut LogKeyArgs>,
    policy: Option<&'a mut Option<PathBuf>>,
}

fn with_key<'a>(ledger: &'a mut Option<String>, keys: &'a mut LogKeyArgs) -> Slots<'a> {
    Slots {
        ledger,
        ledger_on_command_line: None,
        log_key: Some(keys),
        policy: None,
    }
}

fn consumer(c: &mut ConsumerArgs) -> Slots<'_> {
    Slots {
        ledger: &mut c.ledger,
        ledger_on_command_line: Some(&mut c.ledger_on_command_line),
        log_key: None,
        policy: Some(&mut c.policy),
    }
}

fn publisher(p: &mut crate::cli::PublisherArgs) -> Slots<'_> {
    Slots {
        ledger: &mut p.ledger,
        ledger_on_command_line: None,
        log_key: None,
        policy: None,
    }
}

fn slots(command: &mut Command) -> Option<Slots<'_>> {
    Some(match command {
        Command::Verify(a) => consumer(&mut a.consumer),
        Command::Gate(a) => consumer(&mut a.consumer),
        Command::Bundle(a) => consumer(&mut a.consumer),
        Command::Log(LogCommand::Show(a)) => consumer(&mut a.consumer),
        Command::Log(LogCommand::Tail(a)) => consumer(&mut a.consumer),
        Command::Release(ReleaseCommand::Publish(a)) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Release(ReleaseCommand::Installer(a)) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Release(ReleaseCommand::Plan(a)) => publisher(&mut a.publisher),
        Command::Release(ReleaseCommand::Upload(a)) => publisher(&mut a.publisher),
        Command::Release(ReleaseCommand::Withdraw(a)) => publisher(&mut a.publisher),
        Command::Release(ReleaseCommand::Yank(a)) => publisher(&mut a.publisher),
        Command::Release(ReleaseCommand::Announce(a)) => consumer(&mut a.consumer),
        Command::Latest(a) => consumer(&mut a.consumer),
        Command::Import(crate::cli::ImportCommand::Pypi(a)) => {
            with_key(&mut a.to.ledger, &mut a.to.log_key)
        }
        Command::Import(crate::cli::ImportCommand::Crate(a)) => {
            with_key(&mut a.to.ledger, &mut a.to.log_key)
        }
        Command::Rebuild(a) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Rebuilder(RebuilderCommand::Run(a)) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Key(KeyCommand::Revoke(a)) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Ledger(LedgerCommand::Audit(a)) => with_key(&mut a.ledger, &mut a.log_key),
        Command::Policy(PolicyCommand::Init(a)) => with_key(&mut a.ledger, &mut a.log_key),
        _ => return None,
    })
}

/// The matches of the subcommand actually run.
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        assert!(load(&file).unwrap().ledger.is_none(), "missing is empty");
        let vkey = reprove_verifier::note::NoteSigner::from_seed("l.example/x", &[1; 32])
            .unwrap()
            .verifier()
            .to_string();
        std::fs::write(
            &file,
            format!("ledger = \"http://127.0.0.1:1\"\nlog_key = \"{vkey}\"\npolicy = \"p.toml\"\n"),
        )
        .unwrap();
        let c = load(&file).unwrap();
        assert_eq!(c.ledger.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(c.policy.unwrap(), dir.path().join("p.toml"));
        for (bad, want) in [
            ("ledger = ", "not valid"),
            ("legder = \"x\"", "unknown field"),
            ("ledger = 5", "invalid type"),
            ("log_key = \"nonsense\"", "not a verifier key"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = format!("{:#}", load(&file).unwrap_err());
            assert!(err.contains(want), "{bad}: {err}");
            assert!(err.contains(&file.display().to_string()), "{err}");
        }
    }
}
