//! Arguments of the consumer commands: verify, gate, bundle, key revoke.

use clap::Args;

#[derive(Debug, Args)]
pub struct Verify {}

#[derive(Debug, Args)]
pub struct Gate {}

#[derive(Debug, Args)]
pub struct Bundle {}

#[derive(Debug, Args)]
pub struct KeyRevoke {}
