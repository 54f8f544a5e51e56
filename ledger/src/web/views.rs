//! Page views: each page's content as one value, serialised for the JSON twin and rendered
//! for the HTML body ([`View`]), so the two cannot show different facts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reprove_verifier::merkle::verify_inclusion;
use serde::Serialize;

use super::html::{Html, html};
use super::model::{AttestationView, Decoded, SignerView, Site};
use super::render;
use super::stats::{AGREEMENT_WINDOW, RebuilderView};
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
    summary_row: Html,
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
    pub(crate) fn read(site: &Site, d: &Decoded, summary_row: Html) -> Result<Self, WebError> {
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
            summary_row,
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
            self.summary_row,
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
