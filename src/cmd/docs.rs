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

/// Prints the man page of `reprove` and, after it, one section per subcommand.
pub fn man() -> anyhow::Result<Outcome> {
    let command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command.clone()).render(&mut out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("reprove-{}", sub.get_name());
        let sub = sub.clone().name(name);
        clap_mangen::Man::new(sub).render(&mut out)?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

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
        let mut man = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut man)
            .unwrap();
        let man = String::from_utf8(man).unwrap();
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
