//! Importers: release manifests derived from an ecosystem's own metadata and logged under the
//! importer's key, as third-party imports (`third_party_import` in the manifest says so and
//! names where every digest came from). `pypi` (pure-Python wheels) and `crates` (binary
//! crates, whose outputs no publisher pinned) are the ecosystems so far; Debian source
//! packages are to follow (issue #16), each a module beside them.

use std::time::Duration;

use crate::rebuild::fetch;

pub mod crates;
pub mod debian;
pub mod pep508;
pub mod pypi;

/// A clear refusal: the import cannot be done honestly (exit 2, nothing logged).
#[derive(Debug)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse<T>(msg: impl Into<String>) -> anyhow::Result<T> {
    Err(Refusal(msg.into()).into())
}

/// The HTTP agent of an import: the fetch stage's TLS roots, status codes as answers.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(fetch::tls_config())
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("reprove/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// `NAME<sep>VERSION`, both non-empty and trimmed; `form` says what was expected.
fn split_spec(spec: &str, sep: &str, form: &str) -> anyhow::Result<(String, String)> {
    match spec.split_once(sep) {
        Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => {
            Ok((n.trim().to_owned(), v.trim().to_owned()))
        }
        _ => anyhow::bail!("{spec:?} is not {form}"),
    }
}
