//! Arguments of the web page benchmark.

use std::time::Duration;

use clap::Args;

/// `reprove bench web`: a bounded load generator for the log's web pages.
#[derive(Debug, Args)]
pub struct BenchWeb {
    /// The log's URL (where `/` is its home page). Must be a loopback address unless
    /// --allow-remote. Not read from REPROVE_LEDGER: a load generator is aimed by hand.
    #[arg(long = "ledger", alias = "url", value_name = "URL")]
    pub url: String,
    /// Pages to load, as paths (repeatable). Default: `/`, the newest release's page and the
    /// page of the entry in the middle of the log, found from the home page's JSON.
    #[arg(long = "page", value_name = "PATH")]
    pub pages: Vec<String>,
    /// Concurrent clients, each with its own keep-alive connection.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub clients: usize,
    /// Requests per page, in all.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub requests: u64,
    /// Stop each page's run after this long even if requests are left.
    #[arg(long, alias = "seconds", value_name = "DURATION", default_value = "30s", value_parser = super::duration)]
    pub duration: Duration,
    /// Allow a non-loopback URL (you are about to load someone's server).
    #[arg(long)]
    pub allow_remote: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
