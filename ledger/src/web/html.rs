//! The one way the pages write HTML: an [`Html`] value can only be made from escaped text,
//! from a string literal in the source (the [`html!`] template), or from other `Html`.
//!
//! Everything that comes from an entry is untrusted — a project name, a URL, a diff — so
//! unescaped output must be hard to write: there is no constructor from a runtime `String`.
//! Templates are `format!` literals whose every argument goes through [`Render`] (text is
//! escaped, `Html` is kept); a template that captures a variable by name (`{name}`), which
//! would bypass [`Render`], does not compile.

use std::fmt::{self, Write};

/// A fragment of HTML that is safe to send: built only from escaped text and literals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Html(String);

impl Html {
    /// Escaped text: `& < > " '` become entities, so the text is safe in element content and
    /// in quoted attribute values.
    pub(crate) fn text(s: &str) -> Html {
        let mut out = String::with_capacity(s.len());
        escape_into(&mut out, s);
        Html(out)
    }

    /// A fragment written in the source. Only `'static` strings: runtime text cannot get here.
    pub(crate) fn trusted(s: &'static str) -> Html {
        Html(s.to_owned())
    }

    /// Appends another fragment.
    pub(crate) fn push(&mut self, other: Html) {
        self.0.push_str(&other.0);
    }

    /// The HTML as a string, to send.
    pub(crate) fn into_string(self) -> String {
        self.0
    }

    /// Used by [`html!`]: formats a checked template whose arguments are [`Render`]ed.
    #[doc(hidden)]
    pub(crate) fn from_template(args: fmt::Arguments<'_>) -> Html {
        Html(fmt::format(args))
    }
}

impl FromIterator<Html> for Html {
    fn from_iter<I: IntoIterator<Item = Html>>(iter: I) -> Html {
        let mut out = Html::default();
        for h in iter {
            out.push(h);
        }
        out
    }
}

/// How a template argument is written: text escaped, numbers as they are, `Html` kept.
pub(crate) trait Render {
    /// Writes the value as safe HTML.
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl Render for Html {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.0)
    }
}

impl Render for str {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(self.len());
        escape_into(&mut s, self);
        out.write_str(&s)
    }
}

impl Render for String {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().render(out)
    }
}

macro_rules! render_numbers {
    ($($t:ty),*) => {$(
        impl Render for $t {
            fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(out, "{self}")
            }
        }
    )*};
}
render_numbers!(u8, u16, u32, u64, usize, i64);

impl<T: Render + ?Sized> Render for &T {
    fn render(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).render(out)
    }
}

/// A template argument, displayed through [`Render`].
#[doc(hidden)]
#[derive(Debug)]
pub(crate) struct Arg<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Render + ?Sized> fmt::Display for Arg<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f)
    }
}

/// Whether a template has only positional `{}` holes (and `{{`/`}}` escapes): a named hole
/// would format a captured variable with `Display`, unescaped.
#[doc(hidden)]
pub(crate) const fn only_positional_holes(template: &str) -> bool {
    let b = template.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if i + 1 < b.len() && b[i + 1] == b'{' {
                i += 2;
                continue;
            }
            if i + 1 < b.len() && b[i + 1] == b'}' {
                i += 2;
                continue;
            }
            return false;
        }
        i += 1;
    }
    true
}

/// `html!("<p>{}</p>", value)`: an [`Html`] from a literal template; each argument is
/// escaped unless it is already `Html`. Only `{}` holes are allowed.
macro_rules! html {
    ($template:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = assert!(
            $crate::web::html::only_positional_holes($template),
            "html! templates take only positional {{}} holes",
        );
        $crate::web::html::Html::from_template(format_args!(
            $template $(, $crate::web::html::Arg(&$arg))*
        ))
    }};
}
pub(crate) use html;

/// A path segment, percent-encoded (everything but unreserved characters), for a URL built
/// from untrusted names. The result is also safe in an attribute once escaped.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Whether a URL from an entry may become a link: only `http` and `https`. Anything else
/// (`javascript:`, `data:`, relative paths) is shown as text.
pub(crate) fn is_web_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_html_is_kept() {
        let evil = "<script>alert('x')</script>&\"";
        let inner = html!("<b>{}</b>", evil);
        assert_eq!(
            inner.clone().into_string(),
            "<b>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;</b>"
        );
        let outer = html!("<p title=\"{}\">{} {}</p>", evil.to_owned(), inner, 42u64);
        let s = outer.into_string();
        assert!(!s.contains("<script"), "{s}");
        assert!(s.contains("<b>&lt;script"), "{s}");
        assert!(s.ends_with(" 42</p>"), "{s}");
        assert_eq!(html!("{{}}").into_string(), "{}");
    }

    #[test]
    fn named_holes_are_refused() {
        assert!(only_positional_holes("a {} b {{ c }}"));
        assert!(!only_positional_holes("a {x} b"));
        assert!(!only_positional_holes("a {0} b"));
        assert!(!only_positional_holes("a {:?} b"));
    }

    #[test]
    fn segments_and_links_are_safe() {
        assert_eq!(segment("a b/c?d#e\"<"), "a%20b%2Fc%3Fd%23e%22%3C");
        assert_eq!(segment("hello-1.2_3~"), "hello-1.2_3~");
        assert!(is_web_url("https://example.org/x"));
        assert!(is_web_url("HTTP://example.org/x"));
        for bad in [
            "javascript:alert(1)",
            "data:text/html,x",
            "/etc/passwd",
            "ftp://x",
            "http:",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }
}
