//! Arguments of the rebuilder node (`reprove rebuilder run`).

use clap::Args;

#[derive(Debug, Args)]
pub struct RebuilderRun {}
