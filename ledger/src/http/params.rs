//! Strict parsing of what arrives in a URL or a header: one spelling per number, no unknown
//! or repeated query parameters.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE};

use super::error::ApiError;

/// A decimal `u64` with no sign, no leading zeros (except `0` itself) and no overflow.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// `what` as a strict decimal `u64`, or a 400 naming it.
pub(super) fn number(what: &str, s: &str) -> Result<u64, ApiError> {
    parse_u64(s).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{what} {:?} is not a decimal number without sign or leading zeros that fits 64 bits",
            clip(s)
        ))
    })
}

/// The query string as `(name, value)` pairs, each name one of `allowed` and at most once.
/// Values are taken as they are (no percent-decoding): every value we accept is a number or a
/// plain word, so an escaped one is refused by its own parser.
pub(super) fn query<'q>(
    raw: Option<&'q str>,
    allowed: &[&str],
) -> Result<Vec<(&'q str, &'q str)>, ApiError> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !allowed.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {:?}; this endpoint takes {}",
                clip(name),
                allowed.join(", ")
            )));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::bad_request(format!(
                "query parameter {name} is given twice"
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// The path parameters, or a 400 when they are not valid UTF-8 once percent-decoded.
pub(super) fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted
        .map(|Path(t)| t)
        .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
}

/// The value of `name` in parsed query pairs.
pub(super) fn get<'q>(pairs: &[(&'q str, &'q str)], name: &str) -> Option<&'q str> {
    pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
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

/// At most 100 characters of untrusted input, to quote in an error message.
/// A SHA-256 digest given as 64 hex digits (either case), as paths name artifacts.
pub(crate) fn sha256_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (s.len() == 64 && hex::decode_to_slice(s, &mut out).is_ok()).then_some(out)
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
        let q = query(Some("after=3&limit=10"), &["after", "limit"]).unwrap();
        assert_eq!(get(&q, "after"), Some("3"));
        assert_eq!(get(&q, "limit"), Some("10"));
        assert!(query(Some("after=3&after=4"), &["after"]).is_err());
        assert!(query(Some("before=3"), &["after"]).is_err());
        assert!(query(None, &["after"]).unwrap().is_empty());
        assert_eq!(
            get(&query(Some("after"), &["after"]).unwrap(), "after"),
            Some("")
        );
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
