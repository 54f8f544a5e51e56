//! Arguments of the web page benchmark.

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchWeb {}
