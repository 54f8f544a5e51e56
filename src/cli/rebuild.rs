//! Arguments of the publisher and rebuilder commands.

use clap::Args;

#[derive(Debug, Args)]
pub struct ReleasePublish {}

#[derive(Debug, Args)]
pub struct Rebuild {}

#[derive(Debug, Args)]
pub struct BenchHash {}

#[derive(Debug, Args)]
pub struct BenchSandbox {}
