//! The one duration syntax of every flag that takes a time: a number with a unit — `500ms`,
//! `90s`, `15m`, `1h`, `2d` — or a bare number, which is seconds (fractions allowed: `0.5`), as
//! these flags took before. Parsing only: no I/O.

use std::time::Duration;

/// What every duration flag says about its syntax, for error messages.
const SYNTAX: &str = "a duration such as 500ms, 90s, 15m, 1h or 2d (a bare number is seconds)";

/// Parses a duration whose bare numbers are seconds (`value_parser` of duration flags).
pub fn duration(s: &str) -> Result<Duration, String> {
    parse(s, 1.0)
}

/// Parses a duration whose bare numbers are milliseconds: only `ledger serve --batch-max-age`,
/// which always took milliseconds (`50` stays 50 ms; `50ms` and `0.05s` say the same).
pub fn duration_ms(s: &str) -> Result<Duration, String> {
    parse(s, 0.001)
}

fn parse(s: &str, bare_unit_secs: f64) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit {
        "" => bare_unit_secs,
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("{s:?} is not {SYNTAX}")),
    };
    let n: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0 && !number.starts_with('.'))
        .ok_or_else(|| format!("{s:?} is not {SYNTAX}"))?;
    Duration::try_from_secs_f64(n * scale).map_err(|_| format!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_syntax_for_every_duration() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("90", secs(90)),
            ("90s", secs(90)),
            ("2m", secs(120)),
            ("1h", secs(3600)),
            ("2d", secs(172_800)),
            ("1.5m", secs(90)),
            ("0.2", Duration::from_millis(200)),
            ("500ms", Duration::from_millis(500)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(duration(text), Ok(want), "{text}");
        }
        assert_eq!(duration_ms("50"), Ok(Duration::from_millis(50)));
        assert_eq!(duration_ms("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(duration_ms("1s"), Ok(secs(1)));
        for bad in [
            "",
            "s",
            "5y",
            "-1",
            "1..5s",
            ".5s",
            "1e3",
            "1 h",
            "99999999999999999999d",
        ] {
            let err = duration(bad).unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
    }
}
