//! Charts as inline SVG, drawn on the server from the values the JSON twin carries: no
//! JavaScript and nothing to fetch. Every chart starts with a `<title>` (its accessible name)
//! and every bar segment has its own, and the page next to it says the same numbers as a
//! table or a sentence. Coordinates are integers; labels are escaped text like everything
//! else ([`html!`]).

use super::html::{Html, html};

/// Width of every chart's view box (it scales to the page).
const WIDTH: usize = 720;

/// Longest label drawn (in characters) before it is cut with an ellipsis.
const LABEL_CHARS: usize = 26;

/// One part of a bar: its value, its fill class (`f-ok`, `f-bad`, `f-other`, `f-wait`,
/// `f-none`) and what it counts.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) value: usize,
    pub(crate) class: &'static str,
    pub(crate) what: &'static str,
}

/// One bar: its label and its segments, stacked.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) segments: Vec<Segment>,
    /// Drawn after the bar (rows only), e.g. "97% (33 of 34)".
    pub(crate) note: String,
}

impl Bar {
    fn total(&self) -> usize {
        self.segments.iter().map(|s| s.value).sum()
    }
}

/// Vertical columns, one per bar, in the order given, each a stack of its segments.
pub(crate) fn columns(title: &str, bars: &[Bar]) -> Html {
    const TOP: usize = 16;
    const BOTTOM: usize = 170;
    const LEFT: usize = 44;
    let max = bars.iter().map(Bar::total).max().unwrap_or(0).max(1);
    let slot = (WIDTH - LEFT) / bars.len().max(1);
    let width = (slot * 7 / 10).max(1);
    let mut out = html!(
        "<svg class=\"chart\" viewBox=\"0 0 {} 200\" role=\"img\"><title>{}</title>\
<text x=\"0\" y=\"{}\">{}</text><text x=\"0\" y=\"{}\">0</text>\
<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke-width=\"1\"/>",
        WIDTH,
        title,
        TOP + 4,
        max,
        BOTTOM,
        LEFT,
        BOTTOM,
        WIDTH,
        BOTTOM
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + i * slot + (slot - width) / 2;
        let mut y = BOTTOM;
        for s in bar.segments.iter().filter(|s| s.value > 0) {
            let h = (s.value * (BOTTOM - TOP) / max).max(1);
            y -= h;
            out.push(html!(
                "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} {}</title></rect>",
                s.class,
                x,
                y,
                width,
                h,
                bar.label,
                s.value,
                s.what
            ));
        }
        out.push(html!(
            "<text x=\"{}\" y=\"190\" text-anchor=\"middle\">{}</text>",
            x + width / 2,
            short(&bar.label)
        ));
    }
    out.push(html!("</svg>"));
    out
}

/// Horizontal bars, one row each: label, the stacked bar scaled to `full` (each bar's own
/// total when `None`), then its note.
pub(crate) fn rows(title: &str, bars: &[Bar], full: Option<usize>) -> Html {
    const ROW: usize = 26;
    const BAR_X: usize = 200;
    const BAR_W: usize = 360;
    let height = bars.len().max(1) * ROW + 4;
    let mut out = html!(
        "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\"><title>{}</title>",
        WIDTH,
        height,
        title
    );
    for (i, bar) in bars.iter().enumerate() {
        let top = i * ROW + 4;
        let scale = full.unwrap_or_else(|| bar.total()).max(1);
        out.push(html!(
            "<text x=\"0\" y=\"{}\">{}</text>",
            top + 15,
            short(&bar.label)
        ));
        let mut x = BAR_X;
        for s in bar.segments.iter().filter(|s| s.value > 0) {
            let w = (s.value * BAR_W / scale).max(1);
            out.push(html!(
                "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\"><title>{}: {} {}</title></rect>",
                s.class,
                x,
                top + 2,
                w,
                bar.label,
                s.value,
                s.what
            ));
            x += w;
        }
        out.push(html!(
            "<text x=\"{}\" y=\"{}\">{}</text>",
            BAR_X + BAR_W + 10,
            top + 15,
            bar.note
        ));
    }
    out.push(html!("</svg>"));
    out
}

/// A label cut to [`LABEL_CHARS`] characters.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, ok: usize, bad: usize) -> Bar {
        Bar {
            label: label.to_owned(),
            segments: vec![
                Segment {
                    value: ok,
                    class: "f-ok",
                    what: "reproduced",
                },
                Segment {
                    value: bad,
                    class: "f-bad",
                    what: "mismatch",
                },
            ],
            note: "<note>".to_owned(),
        }
    }

    #[test]
    fn charts_are_svg_with_titles_and_escaped_labels() {
        let bars = [bar("<script>", 3, 1), bar("b", 0, 0)];
        for svg in [
            columns("per <day>", &bars).into_string(),
            rows("rate", &bars, Some(100)).into_string(),
        ] {
            assert!(svg.starts_with("<svg class=\"chart\""), "{svg}");
            assert!(svg.ends_with("</svg>"), "{svg}");
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;: 3 reproduced"), "{svg}");
            // Empty segments draw nothing.
            assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        }
        assert!(columns("t", &[]).into_string().contains("<title>t</title>"));
        assert_eq!(short(&"x".repeat(40)).chars().count(), LABEL_CHARS);
    }
}
