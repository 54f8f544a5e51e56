//! Strict parsing of what arrives in a URL or a header: one spelling per number, no unknown
//! or repeated query parameters.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use reprove_verifier::blob::{BlobSignature, HEADER};

use super::error::{ApiError, Reject};

/// A decimal `u64` with no sign, no leading zeros (except `0` itself) and no overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// A query parameter or path segment that does not parse: the message of a 400, which the
/// API ([`ApiError`]) and the pages (`WebError`) each turn into their own answer.
#[derive(Debug)]
pub(crate) struct BadParam(pub(crate) String);

impl From<BadParam> for ApiError {
    fn from(e: BadParam) -> ApiError {
        ApiError::bad_request(e.0)
    }
}

/// `what` as a strict decimal `u64`, or a 400 naming it.
pub(crate) fn number(what: &str, s: &str) -> Result<u64, BadParam> {
    parse_u64(s).ok_or_else(|| {
        BadParam(format!(
            "{what} {:?} is not a decimal number without sign or leading zeros that fits 64 bits",
            clip(s)
        ))
    })
}

/// How a query's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    /// As they are: every value the API accepts is a number or a plain word, so an escaped
    /// one is refused by its own parser.
    Raw,
    /// Percent-decoded, `+` a space, as an HTML form sends them (the pages' search box).
    Form,
}

/// A query string as `(name, value)` pairs, each name one of the allowed ones and given at
/// most once.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(
        raw: Option<&str>,
        allowed: &[&str],
        values: Values,
    ) -> Result<Query, BadParam> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = match values {
                Values::Raw => (name.to_owned(), value.to_owned()),
                Values::Form => (form_decode(name)?, form_decode(value)?),
            };
            if !allowed.contains(&name.as_str()) {
                return Err(BadParam(format!(
                    "unknown query parameter {:?}; allowed here: {}",
                    clip(&name),
                    allowed.join(", ")
                )));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(BadParam(format!("query parameter {name} is given twice")));
            }
            out.push((name, value));
        }
        Ok(Query(out))
    }

    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` as a strict decimal, if given.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, BadParam> {
        self.get(name).map(|v| number(name, v)).transpose()
    }
}

/// Percent-decoding as forms encode (`+` is a space); the result must be UTF-8.
fn form_decode(s: &str) -> Result<String, BadParam> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| BadParam("bad percent-encoding in the query".to_owned()))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadParam("the query is not UTF-8".to_owned()))
}

/// The path parameters, or a 400 when they are not valid UTF-8 once percent-decoded.
pub(super) fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted
        .map(|Path(t)| t)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
}

/// Whether the request's `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*` with a
/// non-zero q-value; an explicit `gzip;q=0` refuses it even if `*` allows everything).
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut star = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0_f32;
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
    }
    gzip.or(star).is_some_and(|q| q > 0.0)
}

/// Whether the request has one `Content-Type`, `application/json` (any parameters, any case).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether the request body is encoded (compressed): anything but absent or `identity`.
pub(super) fn is_encoded(headers: &HeaderMap) -> bool {
    headers.get_all(CONTENT_ENCODING).iter().any(|v| {
        v.to_str()
            .map_or(true, |v| !v.trim().eq_ignore_ascii_case("identity"))
    })
}

/// The `Reprove-Signature: <vkey> <base64 sig>` header of a signed request (400 when absent
/// or malformed; `what` names the request).
pub(super) fn signature(headers: &HeaderMap, what: &str) -> Result<BlobSignature, ApiError> {
    let value = headers.get(HEADER).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{what} needs a Reprove-Signature header: \"<vkey> <base64 Ed25519 signature>\""
        ))
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request("the Reprove-Signature header is not ASCII"))?;
    BlobSignature::parse(text).map_err(|e| ApiError::bad_request(format!("Reprove-Signature: {e}")))
}

/// The size of an upload whose signature covers it, from its headers alone: 411 without a
/// `Content-Length`, 415 with a `Content-Encoding`, 413 over `cap` (`what` names the file).
pub(super) fn upload_size(headers: &HeaderMap, what: &str, cap: u64) -> Result<u64, ApiError> {
    let size = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_u64)
        .ok_or_else(|| {
            ApiError::refuse(
                StatusCode::LENGTH_REQUIRED,
                Reject::Invalid,
                format!(
                    "uploading {what} needs a Content-Length header (the signature covers the size)"
                ),
            )
        })?;
    if is_encoded(headers) {
        return Err(ApiError::refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Reject::MediaType,
            format!("Content-Encoding is not supported: send {what}'s bytes as they are"),
        ));
    }
    if size > cap {
        return Err(ApiError::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            Reject::TooLarge,
            format!("{what} is {size} bytes, larger than the log's limit of {cap} bytes"),
        ));
    }
    Ok(size)
}

/// A SHA-256 digest given as 64 hex digits (either case), as paths name artifacts.
pub(crate) fn sha256_hex(s: &str) -> Option<[u8; 32]> {
    (s.len() == 64)
        .then(|| reprove_verifier::statement::parse_hex32(&s.to_ascii_lowercase()))
        .flatten()
}

/// The text of a key named in a path by its vkey, as it is or hex-encoded: a vkey always
/// holds a `+`, hex never does, so the two cannot be confused.
pub(crate) fn vkey_text(given: &str) -> String {
    let is_hex = !given.is_empty() && given.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex {
        hex::decode(given)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    } else {
        given.to_owned()
    }
}

/// At most 100 characters of untrusted input, to quote in an error message.
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn numbers_have_one_spelling() {
        for (s, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("00", None),
            ("07", None),
            ("+7", None),
            ("-1", None),
            ("", None),
            (" 7", None),
            ("7 ", None),
            ("1e3", None),
            ("0x10", None),
            ("%37", None),
        ] {
            assert_eq!(parse_u64(s), want, "{s:?}");
        }
    }

    #[test]
    fn queries_refuse_unknown_and_repeated_names() {
        for values in [Values::Raw, Values::Form] {
            let query = |raw: Option<&str>, allowed: &[&str]| Query::parse(raw, allowed, values);
            let q = query(Some("after=3&limit=10"), &["after", "limit"]).unwrap();
            assert_eq!(q.get("after"), Some("3"));
            assert_eq!(q.number("limit").unwrap(), Some(10));
            assert!(query(Some("after=3&after=4"), &["after"]).is_err());
            assert!(query(Some("before=3"), &["after"]).is_err());
            assert_eq!(query(None, &["after"]).unwrap().get("after"), None);
            assert_eq!(
                query(Some("after"), &["after"]).unwrap().get("after"),
                Some("")
            );
            assert!(
                query(Some("after=01"), &["after"])
                    .unwrap()
                    .number("after")
                    .is_err()
            );
        }
    }

    #[test]
    fn form_values_are_decoded_and_raw_ones_are_not() {
        let form = Query::parse(
            Some("q=hello+1.0%2Fx&format=json"),
            &["q", "format"],
            Values::Form,
        )
        .unwrap();
        assert_eq!(form.get("q"), Some("hello 1.0/x"));
        assert_eq!(form.get("format"), Some("json"));
        for bad in ["q=%zz", "q=%ff", "q=%4"] {
            assert!(
                Query::parse(Some(bad), &["q"], Values::Form).is_err(),
                "{bad}"
            );
        }
        let raw = Query::parse(Some("after=%37"), &["after"], Values::Raw).unwrap();
        assert_eq!(raw.get("after"), Some("%37"));
        assert!(raw.number("after").is_err());
    }

    #[test]
    fn gzip_is_accepted_as_http_says() {
        let accepts = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(accepts("gzip"));
        assert!(accepts("br, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(accepts("x-gzip"));
        assert!(!accepts("identity"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("*, gzip;q=0"));
        assert!(!accepts("br;q=1, *;q=0"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        assert_eq!(clip("abc"), "abc");
        assert_eq!(clip(&"é".repeat(150)).chars().count(), 100);
    }
}
