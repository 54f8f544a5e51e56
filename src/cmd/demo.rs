//! `reprove demo`: the whole story on this machine (see `crate::demo`).

use crate::Outcome;
use crate::cli::Demo;
use crate::demo::{self, DemoOptions};

/// Runs the demo.
pub fn run(args: &Demo) -> anyhow::Result<Outcome> {
    demo::run(&DemoOptions {
        data: args.data.clone(),
        exit: args.exit,
    })
}
