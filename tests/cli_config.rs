//! Where `--ledger`, `--log-key` and `--policy` come from when they are not typed: the
//! environment (`REPROVE_LEDGER`, `REPROVE_LOG_KEY`, `REPROVE_POLICY`) and the config file
//! (`$REPROVE_CONFIG`, `$XDG_CONFIG_HOME/reprove/config.toml`, `~/.config/reprove/…`). A flag
//! beats the environment, which beats the config file. `reprove ledger audit` of a real
//! ledger on 127.0.0.1 shows which ledger and key were used: the right ones exit 0.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{ORIGIN, Server, init_log, signer, text};

/// A dead address: a ledger URL that must not be the one used.
const DEAD: &str = "http://127.0.0.1:9";

/// A ledger, its vkey and log.pub, and a home directory of the test's own.
struct Setup {
    dir: tempfile::TempDir,
    server: Server,
    vkey: String,
    pub_file: PathBuf,
    /// A valid vkey of another log: the wrong key.
    wrong: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("log");
        let vkey = init_log(&data);
        let server = Server::start(&data, &[]);
        let wrong = signer(ORIGIN, 77).verifier().to_string();
        Setup {
            pub_file: data.join("log.pub"),
            dir,
            server,
            vkey,
            wrong,
        }
    }

    fn home(&self) -> &Path {
        self.dir.path()
    }

    /// The default config file's path (under the test's XDG_CONFIG_HOME).
    fn config(&self) -> PathBuf {
        self.home().join("xdg-config/reprove/config.toml")
    }

    fn write_config(&self, text: &str) -> PathBuf {
        let path = self.config();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `reprove args` with only `env` of the reprove variables set, HOME and the XDG
    /// directories inside the test's directory.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = self.home();
        let mut c = Command::new(env!("CARGO_BIN_EXE_reprove"));
        c.args(args)
            .env("NO_COLOR", "1")
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("xdg-config"))
            .env("XDG_STATE_HOME", home.join("xdg-state"))
            .env("XDG_CACHE_HOME", home.join("xdg-cache"));
        for var in [
            "REPROVE_CONFIG",
            "REPROVE_LEDGER",
            "REPROVE_LOG_KEY",
            "REPROVE_POLICY",
        ] {
            c.env_remove(var);
        }
        c.envs(env.iter().copied());
        c.output().unwrap()
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn explain(o: &Output) -> String {
    format!(
        "exit {:?}\n{}{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

#[test]
fn environment_variables_are_used() {
    let s = Setup::new();
    let o = s.run(
        &["ledger", "audit"],
        &[
            ("REPROVE_LEDGER", &s.server.url),
            ("REPROVE_LOG_KEY", &s.vkey),
        ],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    // The wrong key from the environment is used too, and the audit fails: it was read.
    let o = s.run(
        &["ledger", "audit"],
        &[
            ("REPROVE_LEDGER", &s.server.url),
            ("REPROVE_LOG_KEY", &s.wrong),
        ],
    );
    assert_eq!(code(&o), 1, "{}", explain(&o));
}

#[test]
fn a_flag_beats_the_environment() {
    let s = Setup::new();
    let env = [
        ("REPROVE_LEDGER", DEAD),
        ("REPROVE_LOG_KEY", s.wrong.as_str()),
    ];
    for flags in [
        vec!["--ledger", &s.server.url, "--log-key", &s.vkey],
        // --log-key-file beats REPROVE_LOG_KEY (clap alone would call them in conflict).
        vec![
            "--ledger",
            &s.server.url,
            "--log-key-file",
            s.pub_file.to_str().unwrap(),
        ],
    ] {
        let mut args = vec!["ledger", "audit"];
        args.extend(&flags);
        let o = s.run(&args, &env);
        assert_eq!(code(&o), 0, "{flags:?}: {}", explain(&o));
    }
    // Both key flags on the command line is still an error.
    let o = s.run(
        &[
            "ledger",
            "audit",
            "--ledger",
            &s.server.url,
            "--log-key",
            &s.vkey,
            "--log-key-file",
            s.pub_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code(&o), 2, "{}", explain(&o));
    assert!(text(&o.stderr).contains("not both"), "{}", explain(&o));
}

#[test]
fn the_environment_beats_the_config_file() {
    let s = Setup::new();
    s.write_config(&format!("ledger = \"{DEAD}\"\nlog_key = \"{}\"\n", s.wrong));
    let o = s.run(
        &["ledger", "audit"],
        &[
            ("REPROVE_LEDGER", &s.server.url),
            ("REPROVE_LOG_KEY", &s.vkey),
        ],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
}

#[test]
fn the_config_file_is_used() {
    let s = Setup::new();
    let config = format!("ledger = \"{}\"\nlog_key = \"{}\"\n", s.server.url, s.vkey);
    s.write_config(&config);
    let o = s.run(&["ledger", "audit"], &[]);
    assert_eq!(code(&o), 0, "{}", explain(&o));

    // $REPROVE_CONFIG names another file, and a relative policy path is relative to it.
    let other = s.home().join("elsewhere/reprove.toml");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::write(
        other.with_file_name("policy.toml"),
        format!(
            "threshold = 1\n[log]\norigin = \"{ORIGIN}\"\nkey = \"{}\"\nurl = \"{}\"\n\
             [[operator]]\nname = \"a\"\nkeys = [\"{}\"]\n",
            s.vkey,
            s.server.url,
            signer("rebuilder.example", 3).verifier()
        ),
    )
    .unwrap();
    std::fs::write(&other, format!("{config}policy = \"policy.toml\"\n")).unwrap();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let verify = ["verify", "--digest", digest.as_str()];
    let o = s.run(&verify, &[("REPROVE_CONFIG", other.to_str().unwrap())]);
    // Judged (not trusted: nobody rebuilt it), so the policy was found.
    assert_eq!(code(&o), 1, "{}", explain(&o));
    // Without it, the error says where a policy can be given.
    let o = s.run(&verify, &[]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    let err = text(&o.stderr);
    assert!(
        err.contains("--policy") && err.contains("REPROVE_POLICY"),
        "{err}"
    );
}

#[test]
fn without_a_setting_the_error_names_every_place_to_give_it() {
    let s = Setup::new();
    let o = s.run(&["ledger", "audit", "--log-key", &s.vkey], &[]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    let err = text(&o.stderr);
    assert!(
        err.contains("--ledger") && err.contains("REPROVE_LEDGER"),
        "{err}"
    );
    assert!(err.contains(s.config().to_str().unwrap()), "{err}");
    let o = s.run(&["ledger", "audit", &s.server.url], &[]);
    assert_eq!(code(&o), 2, "{}", explain(&o));
    assert!(
        text(&o.stderr).contains("REPROVE_LOG_KEY"),
        "{}",
        explain(&o)
    );
}

#[test]
fn a_malformed_config_file_is_an_error_naming_it() {
    let s = Setup::new();
    for (bad, problem) in [
        ("ledger = \"http://x", "not valid"),
        ("ledger = \"http://x\"\nlegder = \"y\"\n", "unknown field"),
        ("log_key = 42\n", "invalid type"),
        ("log_key = \"not a key\"\n", "not a verifier key"),
    ] {
        let path = s.write_config(bad);
        let o = s.run(
            &["ledger", "audit", &s.server.url, "--log-key", &s.vkey],
            &[],
        );
        assert_eq!(code(&o), 2, "{bad}: {}", explain(&o));
        let err = text(&o.stderr);
        assert!(err.contains(path.to_str().unwrap()), "{bad}: {err}");
        assert!(err.contains(problem), "{bad}: {err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad, "untouched");
    }
    // A missing file is no file, even when named by $REPROVE_CONFIG (with a warning).
    std::fs::remove_file(s.config()).unwrap();
    let missing = s.home().join("no-such-config.toml");
    let o = s.run(
        &["ledger", "audit", &s.server.url, "--log-key", &s.vkey],
        &[("REPROVE_CONFIG", missing.to_str().unwrap())],
    );
    assert_eq!(code(&o), 0, "{}", explain(&o));
    assert!(
        text(&o.stderr).contains("does not exist"),
        "{}",
        explain(&o)
    );
}
