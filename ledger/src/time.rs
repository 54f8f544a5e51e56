//! RFC 3339 times as the entries carry them, to days and seconds since the Unix epoch (UTC).
//!
//! The log keeps no time of its own (checkpoints carry none); the only times the pages can
//! show are the ones signers put in their entries, and they are claims, shown as such.

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)`),
/// or `None` when it does not parse. Leap seconds count as the second before.
pub(crate) fn rfc3339_secs(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?.min(59));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = (num_in(rest, 1, 3)?, num_in(rest, 4, 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// The UTC day (days since 1970-01-01) of an RFC 3339 time, when it is on or after the epoch.
pub(crate) fn rfc3339_day(s: &str) -> Option<u32> {
    u32::try_from(rfc3339_secs(s)?.div_euclid(86_400)).ok()
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn day_string(day: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since the epoch.
pub(crate) fn secs_string(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

fn num_in(s: &str, from: usize, to: usize) -> Option<i64> {
    let part = s.get(from..to)?;
    if part.bytes().all(|c| c.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_convert_to_utc() {
        assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_secs("2025-11-21T05:36:41.5Z"), Some(1_763_703_401));
        assert_eq!(
            rfc3339_secs("2025-11-21T06:36:41+01:00"),
            Some(1_763_703_401)
        );
        assert_eq!(rfc3339_secs("2016-12-31T23:59:60Z"), Some(1_483_228_799));
        assert_eq!(rfc3339_day("2026-01-01T00:01:00Z"), Some(20_454));
        assert_eq!(rfc3339_day("2026-01-01T00:30:00+01:00"), Some(20_453));
        assert_eq!(rfc3339_day("1969-12-31T23:00:00Z"), None);
        assert_eq!(day_string(20_454), "2026-01-01");
        assert_eq!(secs_string(1_763_703_401), "2025-11-21T05:36:41Z");
        for bad in [
            "",
            "2025-11-21",
            "2025-11-21T05:36:41",
            "2025-13-21T05:36:41Z",
            "2025-11-21T05:36:41.Z",
            "2025-11-21T05:36:41+1:00",
            "2025-11-21T05:36:41+01:00x",
            "2025-11-21t05:36:41Z",
        ] {
            assert_eq!(rfc3339_secs(bad), None, "{bad}");
        }
    }
}
