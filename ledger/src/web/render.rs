//! The page layout and the small pieces every page uses: digests, keys, status labels,
//! tables, pagination. Every value goes through [`Html`]; nothing here writes a `String`
//! into the page directly.

use super::html::{Html, html, is_web_url, segment};
use super::model::{
    ArtifactView, AttestationView, ReleaseView, RevocationView, SignerView, Status,
};

/// One inline style sheet: system fonts, readable on a phone, dark mode, no JavaScript.
const STYLE: &str = r#"
:root{color-scheme:light dark;--fg:#1d2126;--muted:#5b6570;--bg:#fff;--card:#f5f7f9;--line:#d9dee3;
--ok:#0b6b2e;--okbg:#dff3e5;--bad:#9b1c1c;--badbg:#fbe3e3;--wait:#6b5200;--waitbg:#fbf1cf;--link:#0b57b5}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ec;--muted:#9aa5b1;--bg:#121417;--card:#1b1f24;
--line:#2d333a;--ok:#7ee2a0;--okbg:#123322;--bad:#ff9d9d;--badbg:#3a1616;--wait:#f3d37a;--waitbg:#332a0c;--link:#8ab8ff}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{border-bottom:1px solid var(--line);padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header .brand{font-weight:700;font-size:1.1rem;color:var(--fg)}
nav a{margin-right:.9rem}
main{max-width:72rem;margin:0 auto;padding:1rem}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
h1{font-size:1.5rem;margin:.4rem 0 1rem}h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
code,pre,.d{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.86rem}
.d{word-break:break-all;user-select:all}
pre{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.7rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
.wrap{overflow-x:auto}
dl{display:grid;grid-template-columns:minmax(7rem,max-content) 1fr;gap:.3rem 1rem;margin:0 0 1rem}
dt{color:var(--muted)}dd{margin:0;min-width:0}
.s{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.82rem;font-weight:600;border:1px solid currentColor;white-space:nowrap}
.ok{color:var(--ok);background:var(--okbg)}.bad{color:var(--bad);background:var(--badbg)}.wait{color:var(--wait);background:var(--waitbg)}
.muted{color:var(--muted)}.note{color:var(--muted);font-size:.9rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}
form.search{display:flex;gap:.4rem;flex:1;min-width:min(14rem,100%);max-width:32rem}
form.search input{flex:1;min-width:0;padding:.4rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg);font:inherit}
form.search button{padding:.4rem .8rem;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);font:inherit}
.pager{margin:1rem 0}
footer{max-width:72rem;margin:2rem auto;padding:0 1rem;color:var(--muted);font-size:.85rem}
td,dd{overflow-wrap:anywhere}
p.verdict{font-size:1.1rem;font-weight:600;margin:.2rem 0 1rem;padding:.6rem .9rem;border-left:5px solid currentColor;border-radius:4px}
.chart{display:block;width:100%;max-width:46rem;height:auto;margin:.4rem 0 .6rem}
.chart text{fill:var(--fg);font:11px system-ui,sans-serif}.chart .axis{stroke:var(--line)}
.chart .f-ok{fill:var(--ok)}.chart .f-bad{fill:var(--bad)}.chart .f-wait{fill:var(--wait)}.chart .f-other{fill:var(--muted)}
.chart .f-none{fill:var(--line)}
@media (max-width:40rem){th,td{padding:.35rem .3rem}dl{grid-template-columns:1fr}dt{margin-top:.4rem}}
"#;

/// A whole page: head, header with navigation and search, `body`, footer.
pub(crate) fn page(title: &str, origin: &str, body: Html) -> Html {
    html!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{} · {}</title><style>{}</style>\
<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Mismatches\" href=\"/feed/mismatches.atom\">\
<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Revocations\" href=\"/feed/revocations.atom\">\
<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Announced releases\" href=\"/feed/announcements.atom\">\
</head><body><header><a class=\"brand\" href=\"/\">reprove</a>\
<nav><a href=\"/releases\">Releases</a><a href=\"/rebuilders\">Rebuilders</a><a href=\"/revocations\">Revocations</a></nav>\
<form class=\"search\" action=\"/search\" method=\"get\" role=\"search\">\
<input name=\"q\" aria-label=\"Search\" placeholder=\"sha256, release name, key ID or log index\">\
<button type=\"submit\">Search</button></form></header><main>{}</main>\
<footer>Log {} · every page is also JSON (<code>?format=json</code>) · \
<a href=\"/feed/mismatches.atom\">mismatch feed</a> · <a href=\"/feed/revocations.atom\">revocation feed</a> · <a href=\"/feed/announcements.atom\">announcement feed</a></footer>\
</body></html>\n",
        title,
        origin,
        Html::trusted(STYLE),
        body,
        origin
    )
}

/// A digest in monospace, selectable in one click.
pub(crate) fn digest(hex: &str) -> Html {
    html!("<code class=\"d\">{}</code>", hex)
}

/// A digest linking to its artifact page.
pub(crate) fn artifact_link(hex: &str) -> Html {
    html!(
        "<a href=\"/artifact/sha256/{}\"><code class=\"d\">{}</code></a>",
        segment(hex),
        hex
    )
}

/// A status label: text first, color only as a second cue.
pub(crate) fn status(s: &Status) -> Html {
    let class = match s.state {
        "reproduced" => Html::trusted("ok"),
        "disputed" => Html::trusted("bad"),
        _ => Html::trusted("wait"),
    };
    html!("<span class=\"s {}\">{}</span>", class, s.label)
}

/// A release's verdict: its status in one sentence, colored as its label.
pub(crate) fn verdict(s: &Status) -> Html {
    let class = match s.state {
        "reproduced" => Html::trusted("ok"),
        "disputed" => Html::trusted("bad"),
        _ => Html::trusted("wait"),
    };
    html!("<p class=\"verdict {}\">{}</p>", class, s.verdict)
}

/// A rebuild result label.
pub(crate) fn result(r: &str) -> Html {
    let (class, mark) = match r {
        "reproduced" => (Html::trusted("ok"), Html::trusted("✓ ")),
        "mismatch" => (Html::trusted("bad"), Html::trusted("✗ ")),
        _ => (Html::trusted("wait"), Html::trusted("! ")),
    };
    html!("<span class=\"s {}\">{}{}</span>", class, mark, r)
}

/// A signer: name and key ID, linking to its key page (any key that signed an entry has one).
pub(crate) fn signer(s: &SignerView) -> Html {
    html!(
        "<a href=\"/key/{}\" title=\"{}\">{}</a> <code class=\"d\">{}</code>",
        segment(&s.key_id),
        s.vkey,
        s.name,
        s.key_id
    )
}

/// Several signers, or a warning when none verified.
pub(crate) fn signers(list: &[SignerView]) -> Html {
    if list.is_empty() {
        return html!("<span class=\"s bad\">no valid signature</span>");
    }
    let mut out = Html::default();
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(html!("<br>"));
        }
        out.push(signer(s));
    }
    out
}

/// A link to a log entry.
pub(crate) fn entry_link(index: u64) -> Html {
    html!("<a href=\"/entry/{}\">#{}</a>", index, index)
}

/// A link to a release page.
pub(crate) fn release_link(project: &str, version: &str) -> Html {
    html!(
        "<a href=\"/release/{}/{}\">{} {}</a>",
        segment(project),
        segment(version),
        project,
        version
    )
}

/// A link to a blob page (build log, diff report).
pub(crate) fn blob_link(label: &'static str, hex: &str) -> Html {
    html!(
        "<a href=\"/blob/sha256/{}\">{}</a>",
        segment(hex),
        Html::trusted(label)
    )
}

/// A URL from an entry: a link only when it is http(s), else plain text.
pub(crate) fn url(u: &str) -> Html {
    if is_web_url(u) {
        html!("<a href=\"{}\" rel=\"nofollow noopener\">{}</a>", u, u)
    } else {
        html!("<code class=\"d\">{}</code>", u)
    }
}

/// "Newer" / "older" links for a list walked newest first: `next` is the cursor.
pub(crate) fn pager(base: &str, next: Option<u64>, extra: &str) -> Html {
    match next {
        Some(n) => html!(
            "<p class=\"pager\"><a href=\"{}?after={}{}\">Older →</a></p>",
            base,
            n,
            extra
        ),
        None => Html::default(),
    }
}

/// A release's artifacts as a table.
pub(crate) fn artifacts(list: &[ArtifactView]) -> Html {
    let rows: Html = list
        .iter()
        .map(|a| {
            let link = a.url.as_deref().map(url).unwrap_or_default();
            let blake3 = match &a.blake3 {
                Some(b) => html!("<br><span class=\"muted\">blake3</span> {}", digest(b)),
                None => Html::default(),
            };
            html!(
                "<tr><td>{}</td><td><span class=\"muted\">sha256</span> {}{}</td><td>{}</td></tr>",
                a.name,
                artifact_link(&a.sha256),
                blake3,
                link
            )
        })
        .collect();
    html!(
        "<div class=\"wrap\"><table><thead><tr><th>Artifact</th><th>Digest</th><th>URL</th></tr></thead><tbody>{}</tbody></table></div>",
        rows
    )
}

/// One row per rebuild attestation.
pub(crate) fn attestations(list: &[AttestationView], show_release: bool) -> Html {
    if list.is_empty() {
        return html!("<p class=\"muted\">No rebuild attestations yet.</p>");
    }
    let rows: Html = list
        .iter()
        .map(|a| {
            let rebuilt: Html = a
                .rebuilt
                .iter()
                .map(|r| html!("<div>{}: {}</div>", r.name, digest(&r.sha256)))
                .collect();
            let mut links = Html::default();
            if let Some(l) = &a.build_log {
                links.push(blob_link("build log", l));
            }
            if let Some(d) = &a.diff_report {
                if a.build_log.is_some() {
                    links.push(html!(" · "));
                }
                links.push(blob_link("diff report", d));
            }
            let revoked = if a.revoked_signers.is_empty() {
                Html::default()
            } else {
                html!("<br><span class=\"s bad\">signer revoked</span>")
            };
            let release = if show_release {
                html!("<td>{}</td>", release_link(&a.project, &a.version))
            } else {
                Html::default()
            };
            let detail = match &a.detail {
                Some(d) => html!("<div class=\"note\">{}</div>", d),
                None => Html::default(),
            };
            html!(
                "<tr><td>{}</td>{}<td>{}{}</td><td>{}{}</td><td>{}</td><td><span class=\"muted\">{}</span></td><td>{}</td></tr>{}",
                entry_link(a.index),
                release,
                signers(&a.signers),
                revoked,
                result(a.result),
                detail,
                rebuilt,
                a.finished_on,
                links,
                excerpt(a, if show_release { 7u8 } else { 6 })
            )
        })
        .collect();
    let release_head = if show_release {
        html!("<th>Release</th>")
    } else {
        Html::default()
    };
    html!(
        "<div class=\"wrap\"><table><thead><tr><th>Entry</th>{}<th>Rebuilder</th><th>Result</th><th>Rebuilt digest</th><th>Finished</th><th>Logs</th></tr></thead><tbody>{}</tbody></table></div>",
        release_head,
        rows
    )
}

/// A mismatch's diff excerpt as a table row spanning `columns`, when the page read one.
fn excerpt(a: &AttestationView, columns: u8) -> Html {
    let (Some(x), Some(d)) = (&a.diff_excerpt, &a.diff_report) else {
        return Html::default();
    };
    let more = if x.truncated {
        html!("<span class=\"muted\">… </span>")
    } else {
        Html::default()
    };
    html!(
        "<tr class=\"excerpt\"><td colspan=\"{}\"><div class=\"muted\">Diff report of #{}, \
the start:</div><pre>{}</pre>{}{}</td></tr>",
        columns,
        a.index,
        x.text,
        more,
        blob_link("the whole diff report", d)
    )
}

/// Releases as a table, one row each with its status.
pub(crate) fn releases(list: &[ReleaseView]) -> Html {
    if list.is_empty() {
        return html!("<p class=\"muted\">No releases yet.</p>");
    }
    let rows: Html = list
        .iter()
        .map(|r| {
            let stage = match r.stage {
                Some("announced") => html!("<br><span class=\"s ok\">announced</span>"),
                Some("yanked") => html!("<br><span class=\"s bad\">yanked</span>"),
                Some(s) => html!("<br><span class=\"s wait\">{}</span>", s),
                None => Html::default(),
            };
            html!(
                "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                release_link(&r.project, &r.version),
                stage,
                status(&r.status),
                r.artifacts.len(),
                entry_link(r.index)
            )
        })
        .collect();
    html!(
        "<div class=\"wrap\"><table><thead><tr><th>Release</th><th>Status</th><th>Artifacts</th><th>Entry</th></tr></thead><tbody>{}</tbody></table></div>",
        rows
    )
}

/// Revocation notices as a table.
pub(crate) fn revocations(list: &[RevocationView]) -> Html {
    if list.is_empty() {
        return html!("<p class=\"muted\">No revocation notices.</p>");
    }
    let rows: Html = list
        .iter()
        .map(|n| {
            let signed = if n.self_signed {
                html!("<span class=\"s bad\">self-signed: effective</span>")
            } else {
                html!("<span class=\"s wait\">policy decides</span>")
            };
            html!(
                "<tr><td>{}</td><td><a href=\"/key/{}\">{}</a><br><code class=\"d\">{}</code></td><td>{}</td><td>{}<br>{}</td><td>{}</td></tr>",
                entry_link(n.index),
                segment(&n.revoked_key_id),
                n.revoked_key_id,
                n.revoked_key,
                n.reason,
                signed,
                signers(&n.signers),
                n.effect
            )
        })
        .collect();
    html!(
        "<div class=\"wrap\"><table><thead><tr><th>Entry</th><th>Revoked key</th><th>Reason</th><th>Signed by</th><th>Effect</th></tr></thead><tbody>{}</tbody></table></div>",
        rows
    )
}

/// The paragraph every release page carries: how its status is computed.
pub(crate) fn status_rule() -> Html {
    html!(
        "<p class=\"note\">Status as the default policy judges it, knowing no operators: \
<b>reproduced by k</b> counts the distinct keys whose rebuild attestation says <code>reproduced</code> \
with comparison <code>bit-identical</code> for exactly this release's artifact digests (keys revoked by \
their own notice before the attestation do not count); <b>disputed</b> when any attestation says \
<code>mismatch</code>; <b>pending</b> when no key reproduced it; <b>incomplete</b> when the release has more \
attestations than a page weighs. Only attestations bound to this very entry count (its index, its \
sha256 and blake3, its artifacts' digests). The page vets no publisher and no rebuilder: your own policy \
(<code>reprove verify</code>, <code>[[publisher]]</code> and <code>[[operator]]</code>) decides whom you trust.</p>"
    )
}
