//! What a release page answers first: its status in one sentence (the verdict), how it was
//! built (the recipe), what a mismatching rebuild saw (a diff excerpt), and the command that
//! checks it under the reader's own policy.
//!
//! The verdict claims no more than the log proves: it counts keys, not operators (the log
//! knows no policy, so nothing here knows who holds a key or whether two keys are one
//! operator), and says two rebuilds made "identical bytes" only when their rebuilt sha256
//! digests are equal.

use std::collections::BTreeSet;

use reprove_verifier::predicates::{Environment, Recipe, Source};
use serde::Serialize;

use super::html::{Html, html};
use super::model::{AttestationView, ReleaseView, Site, Status};
use super::render;
use crate::blobs::BoundedBlob;
use crate::error::Error;

/// The most lines of a diff report shown inline.
pub(crate) const EXCERPT_LINES: usize = 40;

/// The most bytes of a diff report shown inline.
pub(crate) const EXCERPT_BYTES: usize = 4096;

/// Diff reports longer than this are linked, not excerpted: reading one means reading it
/// whole (a blob is checked against its digest before anything of it is shown).
pub(crate) const EXCERPT_BLOB_MAX: u64 = 1 << 20;

/// The most diff excerpts one page reads.
pub(crate) const MAX_EXCERPTS: usize = 8;

/// The start of a mismatch's diff report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DiffExcerpt {
    /// The first lines, as text (invalid UTF-8 replaced).
    pub(crate) text: String,
    /// Whether the report goes on past `text`.
    pub(crate) truncated: bool,
}

/// The status in one sentence, from the facts of the attestations it was judged on.
pub(crate) fn verdict(status: &Status, attestations: &[AttestationView]) -> String {
    match status.state {
        "reproduced" => reproduced(status),
        "disputed" => disputed(status, attestations),
        _ => pending(status, attestations),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn reproduced(status: &Status) -> String {
    let k = status.reproduced_by;
    let each = match k {
        1 => "it",
        2 => "both",
        _ => "each",
    };
    let mut s = format!(
        "reproduced by {}: {each} rebuilt exactly the published bytes of every artifact",
        plural(k, "rebuilder key", "distinct rebuilder keys")
    );
    if status.failures > 0 {
        s.push_str(&format!(
            "; {} a failed build or unavailable inputs",
            plural(
                status.failures,
                "other attestation reports",
                "other attestations report"
            )
        ));
    }
    s
}

/// The verdict of a release whose outputs no publisher pinned, when the `k` keys that count
/// all built the same bytes (`built`: name and sha256 of each).
pub(crate) fn agreed(k: usize, built: &[(String, String)], failures: usize) -> String {
    let bytes: Vec<String> = built
        .iter()
        .map(|(n, d)| format!("{n} sha256 {}…", &d[..d.len().min(16)]))
        .collect();
    let mut s = format!(
        "agreed by {}: no publisher fixed these bytes, and {} built exactly the same ones ({})",
        plural(k, "rebuilder key", "distinct rebuilder keys"),
        if k == 1 { "it" } else { "all" },
        bytes.join(", ")
    );
    if failures > 0 {
        s.push_str(&format!(
            "; {} a failed build or unavailable inputs",
            plural(
                failures,
                "other attestation reports",
                "other attestations report"
            )
        ));
    }
    s
}

/// The verdict of a release whose outputs no publisher pinned, when the keys that count built
/// different bytes (or one reported a mismatch): each group of identical builds and its keys.
pub(crate) fn disagree(groups: &[(Vec<(String, String)>, usize)]) -> String {
    let parts: Vec<String> = groups
        .iter()
        .map(|(built, k)| {
            let digests: Vec<String> = built
                .iter()
                .map(|(n, d)| format!("{n} sha256 {}…", &d[..d.len().min(16)]))
                .collect();
            format!("{} built {}", plural(*k, "key", "keys"), digests.join(", "))
        })
        .collect();
    format!(
        "disputed: the builds disagree on bytes no publisher fixed — {}",
        parts.join("; ")
    )
}

fn disputed(status: &Status, attestations: &[AttestationView]) -> String {
    let mismatches: Vec<&AttestationView> = attestations
        .iter()
        .filter(|a| a.result == "mismatch")
        .collect();
    let keys: BTreeSet<&str> = mismatches
        .iter()
        .flat_map(|a| a.signers.iter().map(|s| s.vkey.as_str()))
        .collect();
    // What each mismatch rebuilt, as (name, sha256) sets: "identical" only when all are known
    // and equal.
    let rebuilt: Vec<BTreeSet<(&str, &str)>> = mismatches
        .iter()
        .map(|a| {
            a.rebuilt
                .iter()
                .map(|r| (r.name.as_str(), r.sha256.as_str()))
                .collect()
        })
        .collect();
    let known = rebuilt.iter().all(|r| !r.is_empty());
    let same = known && rebuilt.windows(2).all(|w| w[0] == w[1]);
    let who = match keys.len() {
        0 => plural(mismatches.len(), "attestation", "attestations"),
        n => plural(n, "rebuilder key", "rebuilder keys"),
    };
    let what = if keys.len() > 1 && same {
        "rebuilt identical bytes that differ from the published artifacts"
    } else if keys.len() > 1 && known {
        "rebuilt bytes that differ from the published artifacts and from each other"
    } else {
        "rebuilt bytes that differ from the published artifacts"
    };
    let mut s = format!("disputed: {who} {what}");
    if status.reproduced_by > 0 {
        s.push_str(&format!(
            ", while {} the published bytes exactly",
            plural(status.reproduced_by, "key reproduced", "keys reproduced")
        ));
    }
    if mismatches.iter().any(|a| a.diff_report.is_some()) {
        s.push_str(" — see the diff");
    } else {
        s.push_str(" — no diff report is attached");
    }
    s
}

fn pending(status: &Status, attestations: &[AttestationView]) -> String {
    if attestations.is_empty() {
        return "pending: no rebuilder key has attested this release yet".to_owned();
    }
    let mut s = "pending: no rebuilder key has reproduced this release yet".to_owned();
    let mut why = Vec::new();
    if status.failures > 0 {
        why.push(format!(
            "{} a failed build or unavailable inputs",
            plural(
                status.failures,
                "attestation reports",
                "attestations report"
            )
        ));
    }
    let not_counted = attestations
        .iter()
        .filter(|a| a.result == "reproduced" && !a.counts)
        .count();
    if not_counted > 0 {
        why.push(format!(
            "{} (signer revoked, or not bit-identical for every artifact)",
            plural(
                not_counted,
                "attestation says reproduced but does not count",
                "attestations say reproduced but do not count"
            )
        ));
    }
    if !why.is_empty() {
        s.push_str(&format!(" ({})", why.join("; ")));
    }
    s
}

/// The start of the diff report `sha256`, if the log holds it and it is small enough to read.
pub(crate) fn diff_excerpt(site: &Site, sha256: &str) -> Result<Option<DiffExcerpt>, Error> {
    let Some(digest) = crate::http::params::sha256_hex(sha256) else {
        return Ok(None);
    };
    let BoundedBlob::Bytes(bytes) = site.ledger.blob_at_most(&digest, EXCERPT_BLOB_MAX)? else {
        return Ok(None);
    };
    let head = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<&str> = text.split_inclusive('\n').take(EXCERPT_LINES).collect();
    let shown: usize = lines.iter().map(|l| l.len()).sum();
    let truncated = bytes.len() > head.len() || shown < text.len();
    if truncated && let Some(last) = lines.last_mut() {
        *last = last.trim_end_matches('\n');
    }
    Ok(Some(DiffExcerpt {
        text: lines.concat(),
        truncated,
    }))
}

/// Fills in the diff excerpts of a release page's mismatches; `read` counts the excerpts the
/// page read so far, at most [`MAX_EXCERPTS`].
pub(crate) fn add_excerpts(
    site: &Site,
    attestations: &mut [AttestationView],
    read: &mut usize,
) -> Result<(), Error> {
    for a in attestations.iter_mut().filter(|a| a.result == "mismatch") {
        let Some(d) = &a.diff_report else { continue };
        if *read == MAX_EXCERPTS {
            break;
        }
        *read += 1;
        a.diff_excerpt = diff_excerpt(site, d)?;
    }
    Ok(())
}

/// `reprove verify` for the release's artifacts, as a shell command. `ledger` is this log's
/// URL as the request reached it, when the request says (see the module docs of `web`).
pub(crate) fn verify_command(release: &ReleaseView, ledger: Option<&str>) -> String {
    let mut words = vec!["reprove".to_owned(), "verify".to_owned()];
    words.extend(release.artifacts.iter().map(|a| shell_word(&a.name)));
    words.push("--release".to_owned());
    words.push(shell_word(&format!(
        "{}@{}",
        release.project, release.version
    )));
    words.push("--policy".to_owned());
    words.push("POLICY.toml".to_owned());
    words.push("--ledger".to_owned());
    words.push(ledger.map_or_else(|| "URL".to_owned(), shell_word));
    words.join(" ")
}

/// `s` as one POSIX shell word: as it is when it holds only safe characters, else in single
/// quotes.
pub(crate) fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'@' | b'+' | b'=' | b','
                )
        });
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The recipe as a definition list: source, command, toolchain, `SOURCE_DATE_EPOCH`, extra
/// environment, outputs.
pub(crate) fn recipe_html(source: &Source, recipe: &Recipe) -> Html {
    let source = match source {
        Source::Git { uri, commit } => html!(
            "git {} at commit {}",
            render::url(uri),
            render::digest(commit)
        ),
        Source::Archive { uri, digest } => html!(
            "archive {}, sha256 {}",
            render::url(uri),
            render::digest(&hex::encode(digest.sha256))
        ),
    };
    let command: Vec<String> = recipe.command.iter().map(|w| shell_word(w)).collect();
    let toolchain = match &recipe.environment {
        Environment::Host {} => html!(
            "<code>host</code> <span class=\"muted\">(the rebuilder's own <code>/usr</code>, \
             read-only: reproducible where the hosts' toolchains agree)</span>"
        ),
        Environment::Rootfs { uri, digest } => html!(
            "root filesystem, sha256 {}{}",
            render::digest(&hex::encode(digest.sha256)),
            match uri {
                Some(u) => html!(" from {}", render::url(u)),
                None => Html::default(),
            }
        ),
    };
    let env: Html = recipe
        .env
        .iter()
        .map(|(k, v)| {
            html!(
                "<div><code class=\"d\">{}={}</code></div>",
                k,
                shell_word(v)
            )
        })
        .collect();
    let outputs: Html = recipe
        .outputs
        .iter()
        .map(|(path, name)| html!("<div><code class=\"d\">{}</code> → {}</div>", path, name))
        .chain(recipe.unpinned_outputs.iter().map(|(path, name)| {
            html!(
                "<div><code class=\"d\">{}</code> → {} <em>(no published digest: rebuilders must agree)</em></div>",
                path,
                name
            )
        }))
        .collect();
    html!(
        "<dl><dt>Source</dt><dd>{}</dd><dt>Command</dt><dd><code class=\"d\">{}</code></dd>\
<dt>Toolchain</dt><dd>{}</dd><dt>SOURCE_DATE_EPOCH</dt><dd>{}</dd>{}<dt>Outputs</dt><dd>{}</dd></dl>",
        source,
        command.join(" "),
        toolchain,
        recipe
            .source_date_epoch
            .map_or_else(|| "unset".to_owned(), |t| t.to_string()),
        if recipe.env.is_empty() {
            Html::default()
        } else {
            html!("<dt>Environment</dt><dd>{}</dd>", env)
        },
        outputs
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("hello-1.0.tar.gz"), "hello-1.0.tar.gz");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_word(""), "''");
    }
}
