//! `reprove completions SHELL` and `reprove man`: generated from the same clap definitions as
//! the parser, so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::Outcome;
use crate::cli::{Cli, Completions};

/// Prints shell completions for the requested shell.
pub fn completions(args: &Completions) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "reprove", &mut out);
    out.flush()?;
    Ok(Outcome::Ok)
}

/// Prints the man page of `reprove` — with EXIT STATUS, ENVIRONMENT, FILES and EXAMPLES —
/// and, after it, one page per subcommand at every depth (`reprove-ledger-serve`, …).
pub fn man() -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    out.write_all(&man_page()?)?;
    out.flush()?;
    Ok(Outcome::Ok)
}

/// The whole man page, as roff.
fn man_page() -> std::io::Result<Vec<u8>> {
    let command = Cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    out.extend_from_slice(MAN_SECTIONS.as_bytes());
    subcommand_pages(&command, "reprove", &mut out)?;
    Ok(out)
}

/// One page per visible subcommand of `cmd`, depth first, named `<prefix>-<name>`.
fn subcommand_pages(cmd: &clap::Command, prefix: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(out)?;
        subcommand_pages(sub, &name, out)?;
    }
    Ok(())
}

/// The top page's sections clap does not write.
const MAN_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
ok: trusted, reproduced, clean.
.TP
\fB1\fR
the command worked and the answer is no: not trusted, unknown to the log, not reproducible,
problems found.
.TP
\fB2\fR
error: bad input, an unreachable log, a log that contradicts itself. With \fB\-\-json\fR the
error is also one JSON line on stdout: {"error": ..., "causes": [...]}.
.SH ENVIRONMENT
.TP
\fBREPROVE_LEDGER\fR, \fBREPROVE_LOG_KEY\fR, \fBREPROVE_POLICY\fR
what \fB\-\-ledger\fR, \fB\-\-log\-key\fR and \fB\-\-policy\fR default to. A flag wins over
the variable, the variable over the config file.
.TP
\fBREPROVE_CONFIG\fR
the config file to read (keys \fBledger\fR, \fBlog_key\fR, \fBpolicy\fR).
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_STATE_HOME\fR, \fBXDG_CACHE_HOME\fR, \fBHOME\fR
where the config file, the last verified checkpoint of each log and the tile cache are kept.
.TP
\fBNO_COLOR\fR
no colour in progress bars and logs.
.TP
\fBRUST_LOG\fR
the log filter of \fBledger serve\fR and \fBrebuilder run\fR (default \fBinfo\fR).
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/reprove/config.toml\fR (else \fI~/.config/reprove/config.toml\fR)
defaults for the ledger, the log key and the policy.
.TP
\fI$XDG_STATE_HOME/reprove/\fR (else \fI~/.local/state/reprove/\fR)
the last checkpoint verified of each log: a later one must extend it.
.TP
\fI$XDG_CACHE_HOME/reprove/tiles/\fR (else \fI~/.cache/reprove/tiles/\fR)
full tiles and entry bundles, re\-proven on every use.
.TP
\fIpolicy.toml\fR
a consumer policy (\fBreprove policy init\fR writes one).
.TP
\fIreprove.toml\fR
a publisher manifest (\fBreprove init\fR writes one).
.SH EXAMPLES
.nf
reprove init && reprove rebuild \-\-manifest reprove.toml \-\-out dist
reprove release publish reprove.toml \-\-key publisher.key \-\-ledger https://log.example.org
reprove rebuilder run \-\-ledger https://log.example.org \-\-key rebuilder.key
reprove verify hello\-1.2.0.tar.gz \-\-policy policy.toml
reprove log show hello@1.2.0 \-\-policy policy.toml
.fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and every argument explains itself in `--help` (and so in the man page
    /// and completions generated from the same definitions).
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() && !path.is_empty() {
                missing.push(format!("command `{path}`"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("`{path}` argument `{id}`"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, format!("{path} {}", sub.get_name()).trim(), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
        Cli::command().debug_assert();
    }

    /// Every command that runs (a leaf) ends its `--help` with examples, and has a page in the
    /// man page; the top page has the sections people look for.
    #[test]
    fn every_command_has_examples_and_a_man_page() {
        fn leaves(cmd: &clap::Command, path: &str, out: &mut Vec<(String, bool)>) {
            let subs: Vec<_> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
            if subs.is_empty() {
                let examples = cmd
                    .get_after_help()
                    .is_some_and(|h| h.to_string().starts_with("Examples:"));
                out.push((path.to_owned(), examples));
            }
            for sub in subs {
                leaves(sub, &format!("{path}-{}", sub.get_name()), out);
            }
        }
        let mut all = Vec::new();
        leaves(&Cli::command(), "reprove", &mut all);
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        let missing: Vec<&String> = all
            .iter()
            .filter(|(p, examples)| {
                !examples && !p.starts_with("reprove-bench") && p != "reprove-man"
            })
            .map(|(p, _)| p)
            .collect();
        assert!(missing.is_empty(), "no examples in --help: {missing:?}");
        for (page, _) in &all {
            assert!(man.contains(&format!(".TH {page} ")), "no man page {page}");
        }
        for section in [
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
            "REPROVE_LOG_KEY",
        ] {
            assert!(man.contains(section), "{section}");
        }
    }

    #[test]
    fn completions_and_man_page_name_every_top_level_command() {
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "reprove",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
        for sub in Cli::command().get_subcommands() {
            assert!(
                bash.contains(sub.get_name()),
                "{} not in completions",
                sub.get_name()
            );
            assert!(
                man.contains(sub.get_name()),
                "{} not in the man page",
                sub.get_name()
            );
        }
    }

    /// Every file or directory a module map (`//!` docs) or ARCHITECTURE.md names exists: a
    /// map that names files that are gone misleads the next reader.
    #[test]
    fn every_file_a_module_map_names_exists() {
        use std::path::{Path, PathBuf};
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    sources(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        /// The backticked names in `text` that look like files or directories of ours.
        fn named(text: &str) -> Vec<String> {
            text.split('`')
                .skip(1)
                .step_by(2)
                .filter(|t| {
                    !t.contains(' ')
                        && !t.contains('<')
                        && !t.contains('*')
                        && !t.starts_with('/')
                        && !t.starts_with("$")
                        && !t.contains(':')
                        && (t.ends_with(".rs")
                            || (t.ends_with('/')
                                && [
                                    "src/",
                                    "ledger/",
                                    "verifier/",
                                    "tests/",
                                    "fixtures/",
                                    "docs/",
                                    "scripts/",
                                ]
                                .iter()
                                .any(|top| t.starts_with(top))))
                })
                .map(str::to_owned)
                .collect()
        }
        let mut files = Vec::new();
        for krate in ["src", "ledger/src", "verifier/src"] {
            sources(&root.join(krate), &mut files);
        }
        let mut missing = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let docs: String = text
                .lines()
                .filter(|l| l.trim_start().starts_with("//!"))
                .collect::<Vec<_>>()
                .join("\n");
            let dir = file.parent().unwrap();
            // A module's own directory: `foo.rs` maps `foo/…`.
            let own = file.with_extension("");
            let krate = file
                .ancestors()
                .find(|a| a.ends_with("src"))
                .unwrap_or(root);
            for name in named(&docs) {
                let found = [dir, own.as_path(), krate, root]
                    .iter()
                    .any(|base| base.join(&name).exists());
                if !found {
                    missing.push(format!(
                        "{}: `{name}`",
                        file.strip_prefix(root).unwrap().display()
                    ));
                }
            }
        }
        let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
        for name in named(&arch).into_iter().filter(|n| n.contains('/')) {
            let found = [
                "",
                "src",
                "ledger",
                "ledger/src",
                "verifier",
                "verifier/src",
            ]
            .iter()
            .any(|base| root.join(base).join(&name).exists());
            if !found {
                missing.push(format!("ARCHITECTURE.md: `{name}`"));
            }
        }
        assert!(missing.is_empty(), "named but not there: {missing:#?}");
    }
}
