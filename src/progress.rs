//! What long-running commands show on stderr: progress bars (drawn only when stderr is a
//! terminal) and structured logs; neither uses colour when `NO_COLOR` is set.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting to `len` (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    styled(len, what, "{pos}/{len} ({per_sec}, {eta})")
}

/// A bar counting `len` bytes, in units people read: `1.0 GiB/2.0 GiB (1.4 GiB/s, 1s)`.
pub fn bytes_bar(len: u64, what: &str) -> ProgressBar {
    styled(
        len,
        what,
        "{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
    )
}

/// Lines about long work as it goes, on stderr (`rebuild --manifest --variations`: each
/// build as it starts and ends): shown only when stderr is a terminal and quiet was not asked
/// for (`--quiet`, or `--json`), like the bars.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    shown: bool,
}

impl Live {
    pub fn new(quiet: bool) -> Live {
        Live {
            shown: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn line(&self, line: &str) {
        if self.shown {
            eprintln!("{line}");
        }
    }
}

fn styled(len: u64, what: &str, counts: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let template = template(counts, no_color);
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// The bar's template: the message, the bar (coloured unless `no_color`), then `counts`.
fn template(counts: &str, no_color: bool) -> String {
    let bar = if no_color {
        "[{bar:40}]"
    } else {
        "[{bar:40.cyan/blue}]"
    };
    format!("{{msg}} {bar} {counts}")
}

/// Structured `tracing` logs on stderr for the long-running commands (the ledger server, the
/// rebuilder node), filtered by `RUST_LOG` (default `info`), without colour when stderr is not
/// a terminal or `NO_COLOR` is set.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bar_template_parses() {
        for counts in [
            "{pos}/{len} ({per_sec}, {eta})",
            "{binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        ] {
            for no_color in [true, false] {
                let t = template(counts, no_color);
                assert!(ProgressStyle::with_template(&t).is_ok(), "{t}");
                assert_eq!(t.contains("cyan"), !no_color);
            }
        }
    }
}
