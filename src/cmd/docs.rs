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
