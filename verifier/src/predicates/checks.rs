//! Value rules shared by the predicates: identifiers, URIs, free text, paths, RFC 3339 times.

use super::{MAX_IDENT_BYTES, MAX_TEXT_BYTES, MAX_URI_BYTES, PredicateError, TextProblem};

pub(super) fn invalid(field: &'static str, value: &str, problem: TextProblem) -> PredicateError {
    PredicateError::InvalidText {
        field,
        value: value.to_owned(),
        problem,
    }
}

/// Non-empty, bounded, no whitespace, no control characters.
pub(super) fn check_word(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), PredicateError> {
    if value.is_empty() {
        return Err(invalid(field, value, TextProblem::Empty));
    }
    if value.len() > max {
        return Err(invalid(
            field,
            value,
            TextProblem::TooLong {
                len: value.len(),
                max,
            },
        ));
    }
    if let Some(ch) = value.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            field,
            value,
            TextProblem::ForbiddenCharacter { ch },
        ));
    }
    Ok(())
}

pub(super) fn check_ident(field: &'static str, value: &str) -> Result<(), PredicateError> {
    check_word(field, value, MAX_IDENT_BYTES)
}

pub(super) fn check_uri(field: &'static str, value: &str) -> Result<(), PredicateError> {
    check_word(field, value, MAX_URI_BYTES)
}

/// Free text: non-empty, bounded, no control characters other than newline and tab.
pub(super) fn check_text(field: &'static str, value: &str) -> Result<(), PredicateError> {
    if value.is_empty() {
        return Err(invalid(field, value, TextProblem::Empty));
    }
    if value.len() > MAX_TEXT_BYTES {
        return Err(invalid(
            field,
            value,
            TextProblem::TooLong {
                len: value.len(),
                max: MAX_TEXT_BYTES,
            },
        ));
    }
    if let Some(ch) = value
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(invalid(
            field,
            value,
            TextProblem::ForbiddenCharacter { ch },
        ));
    }
    Ok(())
}

pub(super) fn check_no_nul(field: &'static str, value: &str) -> Result<(), PredicateError> {
    if value.contains('\0') {
        return Err(invalid(
            field,
            value,
            TextProblem::ForbiddenCharacter { ch: '\0' },
        ));
    }
    Ok(())
}

/// A relative `/`-separated path with no empty, `.` or `..` component, no backslash and no
/// control character, at most [`MAX_URI_BYTES`].
pub(super) fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_URI_BYTES
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// RFC 3339 `date-time` with uppercase `T` and `Z`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`,
/// fields in range (leap seconds and February 29 allowed where RFC 3339 allows them).
pub(super) fn check_timestamp(field: &'static str, value: &str) -> Result<(), PredicateError> {
    if is_rfc3339(value) {
        Ok(())
    } else {
        Err(PredicateError::InvalidTimestamp {
            field,
            value: value.to_owned(),
        })
    }
}

pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        b.get(from..from + len)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0, 4),
        num(5, 2),
        num(8, 2),
        num(11, 2),
        num(14, 2),
        num(17, 2),
    ) else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i - start > 9 {
            return false;
        }
    }
    match &b[i..] {
        b"Z" => true,
        [b'+' | b'-', ..] if b.len() == i + 6 => {
            let (h, colon, m) = (num(i + 1, 2), at(i + 3, b':'), num(i + 4, 2));
            colon && h.is_some_and(|h| h <= 23) && m.is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}
