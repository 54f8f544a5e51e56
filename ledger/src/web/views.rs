//! Page views: each page's content as one value, serialised for the JSON twin and rendered
//! for the HTML body ([`View`]), so the two cannot show different facts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_verifier::merkle::verify_inclusion;
use serde::Serialize;

use reprove_verifier::predicates::EntryKind;

use super::charts::{self, Bar, Segment};
use super::html::{Html, html, segment};
use super::model::{
    AttestationView, Decoded, ReleaseView, RevocationView, Revocations, SignerView, Site,
};
use super::render;
use super::stats::{AGREEMENT_WINDOW, COUNT_CAP, Count, DayCount, RebuilderView};
use super::{Page, WebError};

/// A page's content.
pub(crate) trait View: Serialize {
    /// The page's `<title>`.
    fn title(&self) -> String;
    /// The HTML body, rendered from the same fields the JSON twin serialises.
    fn body(&self) -> Html;
}

impl Page {
    /// The page showing `view`.
    pub(crate) fn of(view: &impl View) -> Page {
        Page {
            title: view.title(),
            json: serde_json::to_value(view).unwrap_or_default(),
            body: view.body(),
        }
    }
}

/// `/entry/<index>`: one entry, its signatures and its inclusion proof.
#[derive(Serialize)]
pub(crate) struct EntryPage {
    index: u64,
    kind: &'static str,
    size: usize,
    #[serde(serialize_with = "hex_digest")]
    leaf_hash: [u8; 32],
    #[serde(serialize_with = "hex_digest")]
    sha256: [u8; 32],
    signers: Vec<SignerView>,
    /// Whether the signatures verify, in words.
    signature_check: String,
    error: Option<String>,
    statement: serde_json::Value,
    inclusion: Inclusion,
    raw: String,
    /// The entry's one-line summary, as lists show it.
    #[serde(skip)]
    summary: EntrySummary,
}

/// An inclusion proof against the log's current checkpoint.
#[derive(Serialize)]
struct Inclusion {
    tree_size: u64,
    #[serde(serialize_with = "hex_digest")]
    root_hash: [u8; 32],
    /// The proof's hashes, base64.
    proof: Vec<String>,
    verifies: bool,
    /// The signed checkpoint's note text.
    checkpoint: String,
}

fn hex_digest<S: serde::Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(d))
}

impl EntryPage {
    /// The entry `d`, proven against the log's latest checkpoint.
    pub(crate) fn read(site: &Site, d: &Decoded) -> Result<Self, WebError> {
        let index = d.index;
        let proven = site.ledger.prove(index, None)?;
        let checkpoint = &proven.checkpoint;
        let verifies = verify_inclusion(
            &d.leaf_hash,
            index,
            checkpoint.size(),
            &proven.proof,
            &checkpoint.root(),
        )
        .is_ok();
        Ok(EntryPage {
            index,
            kind: d.kind(),
            size: d.bytes.len(),
            leaf_hash: d.leaf_hash,
            sha256: d.sha256(),
            signers: d.signers.iter().map(SignerView::of).collect(),
            signature_check: signature_check(d),
            error: d.entry.as_ref().err().cloned(),
            statement: match &d.entry {
                Ok(e) => serde_json::from_slice(&e.encode()).unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            },
            inclusion: Inclusion {
                tree_size: checkpoint.size(),
                root_hash: checkpoint.root(),
                proof: proven.proof.iter().map(|h| STANDARD.encode(h)).collect(),
                verifies,
                checkpoint: String::from_utf8_lossy(checkpoint.note()).into_owned(),
            },
            raw: format!("/entry/{index}?format=raw"),
            summary: EntrySummary::read(site, d)?,
        })
    }

    fn proof_html(&self) -> (Html, Html) {
        let lines = self
            .inclusion
            .proof
            .iter()
            .map(|p| html!("<div><code class=\"d\">{}</code></div>", p))
            .collect();
        let label = if self.inclusion.verifies {
            html!("<span class=\"s ok\">✓ verifies against the checkpoint</span>")
        } else {
            html!("<span class=\"s bad\">✗ does not verify</span>")
        };
        (label, lines)
    }
}

/// Whether an entry's signatures verify, in words.
fn signature_check(d: &Decoded) -> String {
    if d.signers.is_empty() {
        "no signature verifies under the key its keyid names".to_owned()
    } else if d.bad_signatures > 0 {
        format!(
            "{} signature(s) verify; {} do not",
            d.signers.len(),
            d.bad_signatures
        )
    } else {
        "every signature verifies under the key its keyid names".to_owned()
    }
}

impl View for EntryPage {
    fn title(&self) -> String {
        format!("Entry {}", self.index)
    }

    fn body(&self) -> Html {
        let (proof_label, proof_lines) = self.proof_html();
        let pretty = serde_json::to_string_pretty(&self.statement).unwrap_or_default();
        let index = self.index;
        html!(
            "<h1>Entry #{}</h1><div class=\"wrap\"><table><tbody>{}</tbody></table></div>\
<dl><dt>Kind</dt><dd>{}</dd><dt>Signed by</dt><dd>{}</dd><dt>Signatures</dt><dd>{}</dd>\
<dt>Leaf hash</dt><dd>{}</dd><dt>SHA-256 of the entry</dt><dd>{}</dd><dt>Size</dt><dd>{} bytes</dd>\
<dt>Raw envelope</dt><dd><a href=\"/entry/{}?format=raw\" download=\"entry-{}.json\">download</a> · \
<a href=\"/proof/{}\">tlog-proof</a></dd></dl>\
<h2>Inclusion proof</h2><p>{} Tree size {}, root {}</p>{}<pre>{}</pre>\
<h2>Statement</h2><pre>{}</pre>",
            index,
            self.summary.row(),
            self.kind,
            render::signers(&self.signers),
            Html::text(&self.signature_check),
            render::digest(&hex::encode(self.leaf_hash)),
            render::digest(&hex::encode(self.sha256)),
            self.size,
            index,
            index,
            index,
            proof_label,
            self.inclusion.tree_size,
            render::digest(&hex::encode(self.inclusion.root_hash)),
            proof_lines,
            self.inclusion.checkpoint,
            pretty
        )
    }
}

/// `/rebuilder/<key>`: one rebuilder's record in this log.
#[derive(Serialize)]
pub(crate) struct RebuilderPage {
    pub(crate) rebuilder: RebuilderView,
    pub(crate) latest_attestations: Vec<AttestationView>,
}

impl RebuilderPage {
    fn status_html(&self) -> (Html, Html, Html) {
        let view = &self.rebuilder;
        let results = view
            .recent_results
            .iter()
            .map(|(r, n)| html!("{} × {} ", render::result(r), *n))
            .collect();
        let agreement = match view.agreement_percent {
            Some(p) => html!(
                "<b>{}%</b> ({} of {} comparisons)",
                p,
                view.agreed,
                view.compared
            ),
            None => {
                html!("<span class=\"muted\">no other rebuilder attested the same releases</span>")
            }
        };
        let status = if view.revoked {
            html!("<span class=\"s bad\">revoked by its own notice</span>")
        } else if view.revocations.is_empty() {
            html!("<span class=\"s ok\">not revoked</span>")
        } else {
            html!("<span class=\"s wait\">notices by other keys (policy decides)</span>")
        };
        (results, agreement, status)
    }
}

impl View for RebuilderPage {
    fn title(&self) -> String {
        format!("Rebuilder {}", self.rebuilder.key.name)
    }

    fn body(&self) -> Html {
        let view = &self.rebuilder;
        let (results, agreement, status) = self.status_html();
        html!(
            "<h1>{}</h1><dl><dt>Key</dt><dd><code class=\"d\">{}</code></dd><dt>Key ID</dt><dd>{}</dd>\
<dt>Attestations</dt><dd>{}</dd><dt>Latest results</dt><dd>{}</dd><dt>Mismatches reported</dt><dd>{} (of the latest {})</dd>\
<dt>Agreement</dt><dd>{}</dd><dt>Revocation</dt><dd>{}</dd></dl>\
<p class=\"note\">Agreement: over this key's latest {} attestations, how often another key's \
<code>reproduced</code> or <code>mismatch</code> attestation of the same release says the same.</p>\
<h2>Revocation notices</h2>{}<h2>Latest attestations</h2>{}",
            self.title(),
            view.key.vkey,
            render::digest(&view.key.key_id),
            view.attestations.label(),
            results,
            view.mismatches_reported,
            AGREEMENT_WINDOW,
            agreement,
            status,
            AGREEMENT_WINDOW,
            render::revocations(&view.revocations),
            render::attestations(&self.latest_attestations, true)
        )
    }
}

/// Any entry in one line, for lists of mixed kinds.
#[derive(Serialize)]
pub(crate) struct EntrySummary {
    index: u64,
    kind: &'static str,
    signers: Vec<SignerView>,
    summary: What,
}

/// What an entry says, as its kind's view.
#[derive(Serialize)]
#[serde(untagged)]
enum What {
    Invalid {
        error: String,
    },
    Release {
        project: String,
        version: String,
    },
    Attestation(Box<AttestationView>),
    Revocation(Box<RevocationView>),
    Staged {
        step: &'static str,
        project: String,
        version: String,
        detail: String,
    },
    Nothing {},
}

impl EntrySummary {
    pub(crate) fn read(site: &Site, d: &Decoded) -> Result<Self, WebError> {
        let summary = match &d.entry {
            Err(error) => What::Invalid {
                error: error.clone(),
            },
            Ok(entry) => match entry.kind() {
                EntryKind::Release(r) => What::Release {
                    project: r.predicate.project.clone(),
                    version: r.predicate.version.clone(),
                },
                EntryKind::Rebuild(_) => site
                    .attestation(d, &mut Revocations::default())?
                    .map_or(What::Nothing {}, |a| What::Attestation(Box::new(a))),
                EntryKind::Revocation(_) => site
                    .revocation(d)
                    .map_or(What::Nothing {}, |n| What::Revocation(Box::new(n))),
                EntryKind::Announcement(a) => What::Staged {
                    step: "announcement",
                    project: a.predicate.release.name.clone(),
                    version: a.predicate.release.version.clone(),
                    detail: match &a.predicate.unverified {
                        Some(u) => format!("unverified: {}", u.reason),
                        None => format!(
                            "reproduced: attestations {}",
                            a.predicate
                                .attestations
                                .iter()
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                },
                EntryKind::Withdrawal(w) => What::Staged {
                    step: "withdrawal",
                    project: w.predicate.project.clone(),
                    version: w.predicate.version.clone(),
                    detail: w.predicate.reason.clone(),
                },
                EntryKind::Yank(y) => What::Staged {
                    step: "yank",
                    project: y.predicate.release.name.clone(),
                    version: y.predicate.release.version.clone(),
                    detail: y.predicate.reason.clone(),
                },
            },
        };
        Ok(EntrySummary {
            index: d.index,
            kind: d.kind(),
            signers: d.signers.iter().map(SignerView::of).collect(),
            summary,
        })
    }

    /// The table row.
    pub(crate) fn row(&self) -> Html {
        let what = match &self.summary {
            What::Invalid { error } => html!("<span class=\"s bad\">invalid</span> {}", error),
            What::Release { project, version } => {
                html!("release {}", render::release_link(project, version))
            }
            What::Attestation(a) => html!(
                "rebuild of {}: {}",
                render::release_link(&a.project, &a.version),
                render::result(a.result)
            ),
            What::Revocation(n) => html!(
                "revocation of <code class=\"d\">{}</code> ({})",
                n.revoked_key,
                n.reason
            ),
            What::Staged {
                step,
                project,
                version,
                detail,
            } => html!(
                "{} of {}: {}",
                *step,
                render::release_link(project, version),
                detail.as_str()
            ),
            What::Nothing {} => Html::default(),
        };
        html!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            render::entry_link(self.index),
            self.kind,
            what,
            render::signers(&self.signers)
        )
    }
}

/// `/`: the log at a glance.
#[derive(Serialize)]
pub(crate) struct HomePage {
    pub(crate) origin: String,
    pub(crate) log_key: String,
    pub(crate) tree_size: u64,
    #[serde(serialize_with = "hex_digest")]
    pub(crate) root_hash: [u8; 32],
    pub(crate) checkpoint: String,
    pub(crate) attestations_per_day: Vec<DayCount>,
    pub(crate) latest_releases: Vec<ReleaseView>,
    pub(crate) latest_mismatches: Vec<AttestationView>,
    pub(crate) latest_revocations: Vec<RevocationView>,
}

impl HomePage {
    /// Attestations per day, oldest left: reproductions, then mismatches, then every other
    /// result, stacked.
    fn per_day_chart(&self) -> Html {
        let bars: Vec<Bar> = self
            .attestations_per_day
            .iter()
            .rev()
            .map(|d| Bar {
                label: d.day.get(5..).unwrap_or(&d.day).to_owned(),
                segments: vec![
                    Segment {
                        value: d.reproduced.count,
                        class: "f-ok",
                        what: "reproduced",
                    },
                    Segment {
                        value: d.mismatches.count,
                        class: "f-bad",
                        what: "mismatch",
                    },
                    Segment {
                        value: d
                            .attestations
                            .count
                            .saturating_sub(d.reproduced.count + d.mismatches.count),
                        class: "f-other",
                        what: "other results",
                    },
                ],
                note: String::new(),
            })
            .collect();
        charts::columns(
            "Reproductions (green) and mismatches (red) per day (the table below has the numbers)",
            &bars,
        )
    }
}

impl View for HomePage {
    fn title(&self) -> String {
        "Log".into()
    }

    fn body(&self) -> Html {
        let day_rows: Html = self
            .attestations_per_day
            .iter()
            .map(|d| {
                html!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    d.day,
                    d.attestations.label(),
                    d.reproduced.label(),
                    d.mismatches.label()
                )
            })
            .collect();
        html!(
            "<h1>{}</h1>\
<div class=\"grid\"><div class=\"card\"><dl><dt>Tree size</dt><dd><b>{}</b> entries</dd>\
<dt>Root hash</dt><dd>{}</dd><dt>Log key</dt><dd><code class=\"d\">{}</code></dd></dl></div>\
<div class=\"card\"><b>Latest checkpoint</b><pre>{}</pre><a href=\"/checkpoint\">/checkpoint</a></div></div>\
<h2>Latest releases</h2>{}<p><a href=\"/releases\">All releases →</a></p>{}\
<h2>Latest mismatches</h2>{}\
<h2>Latest revocation notices</h2>{}<p><a href=\"/revocations\">All revocations →</a></p>\
<h2>Reproductions and mismatches per day</h2>{}<p class=\"note\">Green: rebuild \
attestations that report <code>reproduced</code>; red: <code>mismatch</code>; grey: every other \
result (a failed build, unavailable inputs). By the day each rebuilder says it finished \
(<code>finished_on</code>, UTC): the log itself records no time. Counts stop at {}.</p>\
<div class=\"wrap\"><table><thead><tr><th>Day</th><th>Attestations</th><th>Reproduced</th><th>Mismatches</th></tr></thead><tbody>{}</tbody></table></div>",
            self.origin,
            self.tree_size,
            render::digest(&hex::encode(self.root_hash)),
            self.log_key,
            self.checkpoint,
            render::releases(&self.latest_releases),
            render::status_rule(),
            render::attestations(&self.latest_mismatches, true),
            render::revocations(&self.latest_revocations),
            self.per_day_chart(),
            COUNT_CAP,
            day_rows
        )
    }
}

/// `/releases[?project=]`: releases, newest first.
#[derive(Serialize)]
pub(crate) struct ReleasesPage {
    pub(crate) project: Option<String>,
    pub(crate) releases: Vec<ReleaseView>,
    pub(crate) next: Option<u64>,
    /// The listed releases by status.
    pub(crate) statuses: Tally,
    /// Whether every release is listed (`?all=1`), staged versions not announced included.
    pub(crate) all: bool,
    /// How many releases of this page were left out: staged versions that are not announced
    /// (or were withdrawn, or whose manifest is not the project's).
    pub(crate) hidden: usize,
}

/// Releases by status, and the share reproduced.
#[derive(Serialize, Default)]
pub(crate) struct Tally {
    pub(crate) listed: usize,
    pub(crate) reproduced: usize,
    pub(crate) disputed: usize,
    pub(crate) pending: usize,
    pub(crate) incomplete: usize,
    /// `reproduced / listed` as a percentage, when any is listed.
    pub(crate) reproduced_percent: Option<u32>,
}

impl Tally {
    pub(crate) fn of(releases: &[ReleaseView]) -> Tally {
        let mut t = Tally {
            listed: releases.len(),
            ..Tally::default()
        };
        for r in releases {
            match r.status.state {
                "reproduced" => t.reproduced += 1,
                "disputed" => t.disputed += 1,
                "pending" => t.pending += 1,
                _ => t.incomplete += 1,
            }
        }
        t.reproduced_percent =
            (t.listed > 0).then(|| u32::try_from(t.reproduced * 100 / t.listed).unwrap_or(100));
        t
    }

    /// The reproduction rate as a sentence and a one-bar chart.
    fn html(&self, project: Option<&str>) -> Html {
        let Some(p) = self.reproduced_percent else {
            return Html::default();
        };
        let sentence = format!(
            "Of the {} releases listed here, {} ({p}%) are reproduced, {} disputed, {} pending{}.",
            self.listed,
            self.reproduced,
            self.disputed,
            self.pending,
            if self.incomplete > 0 {
                format!(", {} not judged here", self.incomplete)
            } else {
                String::new()
            }
        );
        let segment = |value, class, what| Segment { value, class, what };
        let bar = Bar {
            label: project.unwrap_or("all projects").to_owned(),
            segments: vec![
                segment(self.reproduced, "f-ok", "reproduced"),
                segment(self.disputed, "f-bad", "disputed"),
                segment(self.pending, "f-wait", "pending"),
                segment(self.incomplete, "f-other", "not judged here"),
            ],
            note: format!("{p}% reproduced"),
        };
        html!(
            "<h2>Reproduction rate</h2>{}<p>{}</p>",
            charts::rows(&sentence, &[bar], None),
            sentence
        )
    }
}

impl View for ReleasesPage {
    fn title(&self) -> String {
        match &self.project {
            Some(p) => format!("Releases of {p}"),
            None => "Releases".to_owned(),
        }
    }

    fn body(&self) -> Html {
        let mut extra = match &self.project {
            Some(p) => format!("&project={}", segment(p)),
            None => String::new(),
        };
        let shown = if self.all {
            extra.push_str("&all=1");
            html!(
                "<p class=\"note\">Every release, staged versions not announced included. \
<a href=\"/releases{}\">Hide those →</a></p>",
                self.project
                    .as_deref()
                    .map(|p| format!("?project={}", segment(p)))
                    .unwrap_or_default()
            )
        } else if self.hidden > 0 {
            html!(
                "<p class=\"note\">{} release(s) here are not listed: staged versions that \
their project has not announced (released and waiting for rebuilders, withdrawn, or logged by \
a key that does not speak for the project). The log keeps them: \
<a href=\"/releases?all=1{}\">list every release →</a></p>",
                self.hidden,
                self.project
                    .as_deref()
                    .map(|p| format!("&project={}", segment(p)))
                    .unwrap_or_default()
            )
        } else {
            Html::default()
        };
        html!(
            "<h1>{}</h1>{}{}{}{}{}",
            self.title(),
            self.statuses.html(self.project.as_deref()),
            shown,
            render::releases(&self.releases),
            render::pager("/releases", self.next, &extra),
            render::status_rule()
        )
    }
}

/// `/release/<name>/<version>`: every manifest logged under the name and version, each with
/// its rebuilds.
#[derive(Serialize)]
pub(crate) struct ReleasePage {
    #[serde(skip)]
    pub(crate) name: String,
    #[serde(skip)]
    pub(crate) version: String,
    pub(crate) releases: Vec<ReleaseWithRebuilds>,
    /// The version's staged release on this ledger (its set and what the log says of it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) staged: Option<StagedView>,
}

/// A version's staged release: its set, its files, and its state from the log.
#[derive(Serialize)]
pub(crate) struct StagedView {
    pub(crate) set_id: String,
    pub(crate) set_url: String,
    /// `open`, `released`, `announced`, `withdrawn` or `yanked`.
    pub(crate) state: &'static str,
    pub(crate) files: Vec<StagedFile>,
    pub(crate) version: Option<reprove_verifier::staging::VersionState>,
    pub(crate) withdrawn: Option<reprove_verifier::staging::TakenBack>,
    /// The project's latest version, when one is announced.
    pub(crate) latest: Option<String>,
}

/// One file of a set.
#[derive(Serialize)]
pub(crate) struct StagedFile {
    pub(crate) name: String,
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

impl StagedView {
    fn html(&self) -> Html {
        let mut rows = Html::default();
        for f in &self.files {
            rows.push(html!(
                "<tr><td><a href=\"{}{}\">{}</a></td><td><code class=\"d\">{}</code></td><td>{}</td></tr>",
                self.set_url.as_str(),
                segment(&f.name),
                f.name.as_str(),
                f.sha256.as_str(),
                f.size
            ));
        }
        let mut facts = html!(
            "<dt>Stage</dt><dd class=\"stage-{}\">{}</dd><dt>Set URL</dt><dd><code>{}</code> (fixed at plan time)</dd>",
            self.state,
            self.state,
            self.set_url.as_str()
        );
        if let Some(a) = self.version.as_ref().and_then(|v| v.announced.as_ref()) {
            let how = match &a.unverified {
                Some(reason) => format!("without reproduction: {reason}"),
                None => format!("after {} reproduction(s)", a.attestations.len()),
            };
            facts.push(html!(
                "<dt>Announced</dt><dd>at {} {}</dd>",
                render::entry_link(a.index),
                how.as_str()
            ));
        }
        for (what, taken) in [
            ("Withdrawn", self.withdrawn.as_ref()),
            (
                "Yanked",
                self.version.as_ref().and_then(|v| v.yanked.as_ref()),
            ),
        ] {
            if let Some(t) = taken {
                facts.push(html!(
                    "<dt>{}</dt><dd class=\"s bad\">at {}: {}</dd>",
                    what,
                    render::entry_link(t.index),
                    t.reason.as_str()
                ));
            }
        }
        facts.push(html!(
            "<dt>Latest</dt><dd>{}</dd>",
            self.latest.as_deref().unwrap_or("no version announced")
        ));
        html!(
            "<h2>Staged release</h2><div class=\"card\"><dl>{}</dl></div>\
<table><tr><th>File</th><th>sha256</th><th>Size</th></tr>{}</table>",
            facts,
            rows
        )
    }
}

/// One release manifest and the attestations bound to it.
#[derive(Serialize)]
pub(crate) struct ReleaseWithRebuilds {
    pub(crate) release: ReleaseView,
    pub(crate) attestations: Vec<AttestationView>,
    /// The command that checks the release under the reader's own policy.
    pub(crate) verify_command: String,
    /// This log's URL as the request reached it (`Host`), when the request said.
    pub(crate) ledger_url: Option<String>,
}

impl ReleaseWithRebuilds {
    fn html(&self) -> Html {
        let r = &self.release;
        let ledger_note = if self.ledger_url.is_none() {
            html!(" Replace <code>URL</code> with the address you reach this log at.")
        } else {
            html!(" The URL is the one your browser used to reach this page.")
        };
        html!(
            "{}<div class=\"card\"><dl><dt>Status</dt><dd>{}</dd><dt>Manifest</dt><dd>{}</dd>\
<dt>Published by</dt><dd>{}</dd></dl></div>\
<h2>Recipe</h2>{}<h2>Artifacts</h2>{}<h2>Rebuilds</h2>{}\
<h2>Check it yourself</h2><pre>{}</pre><p class=\"note\">Run in the directory holding the \
downloaded artifacts (or give <code>--digest sha256:HEX</code> instead of a file). \
<code>POLICY.toml</code> is your policy: it names this log's key and the publishers and rebuilders \
you trust; the log URL only says where to fetch from, the log's key is checked.{}</p>{}",
            render::verdict(&r.status),
            render::status(&r.status),
            render::entry_link(r.index),
            render::signers(&r.signers),
            super::answers::recipe_html(&r.source, &r.recipe),
            render::artifacts(&r.artifacts),
            render::attestations(&self.attestations, false),
            self.verify_command,
            ledger_note,
            render::status_rule()
        )
    }
}

impl View for ReleasePage {
    fn title(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    fn body(&self) -> Html {
        let mut body = html!("<h1>{}</h1>", self.title());
        if self.releases.len() > 1 {
            body.push(html!(
                "<p class=\"s wait\">This name and version were logged {} times: each manifest is shown.</p>",
                self.releases.len()
            ));
        }
        if let Some(staged) = &self.staged {
            body.push(staged.html());
        }
        for r in &self.releases {
            body.push(r.html());
        }
        body
    }
}

/// `/artifact/sha256/<hex>`: every entry naming a digest.
#[derive(Serialize)]
pub(crate) struct ArtifactPage {
    pub(crate) sha256: String,
    pub(crate) entries: Vec<EntrySummary>,
    pub(crate) next: Option<u64>,
}

impl View for ArtifactPage {
    fn title(&self) -> String {
        format!("Artifact {}", &self.sha256[..12])
    }

    fn body(&self) -> Html {
        let rows: Html = self.entries.iter().map(EntrySummary::row).collect();
        html!(
            "<h1>Artifact</h1><p><span class=\"muted\">sha256</span> {}</p>\
<p class=\"note\">Every entry that names this digest, newest first. Verify a file you hold with \
<code>reprove verify FILE</code>.</p>\
<div class=\"wrap\"><table><thead><tr><th>Entry</th><th>Kind</th><th>What</th><th>Signed by</th></tr></thead><tbody>{}</tbody></table></div>{}",
            render::digest(&self.sha256),
            rows,
            render::pager(&format!("/artifact/sha256/{}", self.sha256), self.next, "")
        )
    }
}

/// `/rebuilders`: every key that signed a rebuild attestation.
#[derive(Serialize)]
pub(crate) struct RebuildersPage {
    pub(crate) rebuilders: Vec<RebuilderRow>,
    pub(crate) next: Option<String>,
}

/// One rebuilder key in the list.
#[derive(Serialize)]
pub(crate) struct RebuilderRow {
    pub(crate) key: SignerView,
    pub(crate) attestations: Count,
    /// Revoked by a notice it signed itself.
    pub(crate) revoked: bool,
    /// Its agreement with other keys, as on its own page ([`RebuilderView`]).
    pub(crate) compared: usize,
    pub(crate) agreed: usize,
    pub(crate) agreement_percent: Option<u32>,
}

impl RebuildersPage {
    /// One bar per listed key: agreed and disagreed, as percentages of its comparisons.
    fn agreement_chart(&self) -> Html {
        let bars: Vec<Bar> = self
            .rebuilders
            .iter()
            .map(|r| {
                let (segments, note) = match r.agreement_percent {
                    Some(p) => (
                        vec![
                            Segment {
                                value: p as usize,
                                class: "f-ok",
                                what: "% agreed",
                            },
                            Segment {
                                value: 100 - p.min(100) as usize,
                                class: "f-bad",
                                what: "% disagreed",
                            },
                        ],
                        format!("{p}% ({} of {})", r.agreed, r.compared),
                    ),
                    None => (
                        vec![Segment {
                            value: 100,
                            class: "f-none",
                            what: "% not compared",
                        }],
                        "nothing to compare".to_owned(),
                    ),
                };
                Bar {
                    label: r.key.name.clone(),
                    segments,
                    note,
                }
            })
            .collect();
        charts::rows(
            "Agreement of each rebuilder key with the others (the table has the numbers)",
            &bars,
            Some(100),
        )
    }
}

impl View for RebuildersPage {
    fn title(&self) -> String {
        "Rebuilders".into()
    }

    fn body(&self) -> Html {
        let rows: Html = self
            .rebuilders
            .iter()
            .map(|r| {
                let agreement = match r.agreement_percent {
                    Some(p) => html!("{}% ({} of {})", p, r.agreed, r.compared),
                    None => html!("<span class=\"muted\">nothing to compare</span>"),
                };
                html!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    render::signer(&r.key),
                    r.attestations.label(),
                    agreement,
                    if r.revoked {
                        html!("<span class=\"s bad\">revoked</span>")
                    } else {
                        html!("<span class=\"s ok\">active</span>")
                    }
                )
            })
            .collect();
        let pager = match &self.next {
            Some(n) => html!(
                "<p class=\"pager\"><a href=\"/rebuilders?after={}\">More →</a></p>",
                segment(n)
            ),
            None => Html::default(),
        };
        html!(
            "<h1>Rebuilders</h1><p class=\"note\">Every key that signed a rebuild attestation in this log. \
Which of them you trust is your policy's decision.</p>\
<h2>Agreement</h2>{}<p class=\"note\">Over each key's latest {} attestations, how often another key's \
<code>reproduced</code> or <code>mismatch</code> attestation of the same release says the same \
(green agreed, red disagreed).</p>\
<div class=\"wrap\"><table><thead><tr><th>Key</th><th>Attestations</th><th>Agreement</th><th>Revocation</th></tr></thead><tbody>{}</tbody></table></div>{}",
            self.agreement_chart(),
            AGREEMENT_WINDOW,
            rows,
            pager
        )
    }
}

/// `/rebuilder/<key ID>` or `/key/<key ID>` when several keys share the ID.
#[derive(Serialize)]
pub(crate) struct KeyIdPage {
    pub(crate) key_id: String,
    pub(crate) keys: Vec<String>,
    /// Where each key's link goes: `/rebuilder` or `/key`.
    #[serde(skip)]
    pub(crate) base: &'static str,
}

/// `/key/<key>`: any key the log knows — one that signed an entry or that a notice revokes.
#[derive(Serialize)]
pub(crate) struct KeyPage {
    pub(crate) key: SignerView,
    pub(crate) entries_signed: Count,
    pub(crate) rebuild_attestations: Count,
    /// Revoked by a notice it signed itself.
    pub(crate) revoked: bool,
    pub(crate) revocations: Vec<RevocationView>,
    /// The entries it signed, newest first.
    pub(crate) entries: Vec<EntrySummary>,
    pub(crate) next: Option<u64>,
}

impl View for KeyPage {
    fn title(&self) -> String {
        format!("Key {}", self.key.name)
    }

    fn body(&self) -> Html {
        let rebuilder = if self.rebuild_attestations.count > 0 {
            html!(
                " · <a href=\"/rebuilder/{}\">its record as a rebuilder</a>",
                hex::encode(&self.key.vkey)
            )
        } else {
            Html::default()
        };
        let status = if self.revoked {
            html!("<span class=\"s bad\">revoked by its own notice</span>")
        } else if self.revocations.is_empty() {
            html!("<span class=\"s ok\">not revoked</span>")
        } else {
            html!("<span class=\"s wait\">notices by other keys (policy decides)</span>")
        };
        let rows: Html = self.entries.iter().map(EntrySummary::row).collect();
        html!(
            "<h1>{}</h1><dl><dt>Key</dt><dd><code class=\"d\">{}</code></dd><dt>Key ID</dt><dd>{}</dd>\
<dt>Entries signed</dt><dd>{} (rebuild attestations: {}{})</dd><dt>Revocation</dt><dd>{}</dd></dl>\
<p class=\"note\">What this log holds about the key. The log vets nobody: whether you trust the key is \
your policy's decision.</p><h2>Revocation notices</h2>{}<h2>Entries signed</h2>\
<div class=\"wrap\"><table><thead><tr><th>Entry</th><th>Kind</th><th>What</th><th>Signed by</th></tr></thead>\
<tbody>{}</tbody></table></div>{}",
            self.title(),
            self.key.vkey,
            render::digest(&self.key.key_id),
            self.entries_signed.label(),
            self.rebuild_attestations.label(),
            rebuilder,
            status,
            render::revocations(&self.revocations),
            rows,
            render::pager(
                &format!("/key/{}", hex::encode(&self.key.vkey)),
                self.next,
                ""
            )
        )
    }
}

impl View for KeyIdPage {
    fn title(&self) -> String {
        format!("Key ID {}", self.key_id)
    }

    fn body(&self) -> Html {
        let links: Html = self
            .keys
            .iter()
            .map(|k| {
                html!(
                    "<li><a href=\"{}/{}\"><code class=\"d\">{}</code></a></li>",
                    self.base,
                    hex::encode(k),
                    k
                )
            })
            .collect();
        html!(
            "<h1>Key ID {}</h1><p>Several keys share this 4-byte ID:</p><ul>{}</ul>",
            self.key_id,
            links
        )
    }
}

/// `/revocations`: every revocation notice with its effect.
#[derive(Serialize)]
pub(crate) struct RevocationsPage {
    pub(crate) revocations: Vec<RevocationView>,
    pub(crate) next: Option<u64>,
}

impl View for RevocationsPage {
    fn title(&self) -> String {
        "Revocations".into()
    }

    fn body(&self) -> Html {
        html!(
            "<h1>Revocation notices</h1><p class=\"note\">A notice signed by the revoked key itself \
takes effect for everyone from its effective index; a notice signed by another key counts only where \
a consumer's policy names that key as the operator's recovery key. Entries logged before the \
effective index stay valid: the log proves they came first.</p>{}{}",
            render::revocations(&self.revocations),
            render::pager("/revocations", self.next, "")
        )
    }
}

/// `/blob/sha256/<hex>`: a build log or diff report as escaped text.
#[derive(Serialize)]
pub(crate) struct BlobPage {
    pub(crate) sha256: String,
    pub(crate) size: usize,
    /// The first bytes, as text (invalid UTF-8 replaced).
    pub(crate) text: String,
    pub(crate) truncated: bool,
    pub(crate) download: String,
    /// How many bytes `text` shows at most.
    #[serde(skip)]
    pub(crate) shown_at_most: usize,
}

impl View for BlobPage {
    fn title(&self) -> String {
        format!("Blob {}", &self.sha256[..12])
    }

    fn body(&self) -> Html {
        let cut = if self.truncated {
            html!(
                "<p class=\"s wait\">Showing the first {} bytes.</p>",
                self.shown_at_most
            )
        } else {
            Html::default()
        };
        html!(
            "<h1>Blob</h1><dl><dt>sha256</dt><dd>{}</dd><dt>Size</dt><dd>{} bytes</dd>\
<dt>Download</dt><dd><a href=\"/blobs/sha256/{}\" download>raw bytes</a></dd></dl>{}<pre>{}</pre>",
            render::digest(&self.sha256),
            self.size,
            self.sha256,
            cut,
            self.text
        )
    }
}
