//! Durations as policies and commands write them: `90s`, `5m`, `2h`, `1d`, several of
//! them in a row (`1h30m`), or bare seconds (`300`). The `within` option of a gate and the
//! command line's `--wait`, `--lease` and `--timeout` read them the same way.

use std::time::Duration;

/// A duration that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not of the form `<number><unit>...`.
    #[error("`{0}` is not a duration (try `30s`, `5m`, `2h`, `1d`)")]
    NotADuration(String),
    /// A fraction, such as `1.5h`.
    #[error("`{0}`: use a whole number (`90s` for a minute and a half)")]
    Fraction(String),
    /// More seconds than can be counted.
    #[error("`{0}` is too long")]
    TooLong(String),
}

/// Reads a duration: `<number><unit>` groups with units `s`, `m`, `h`, `d`, or a bare
/// number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    seconds(text).map(Duration::from_secs)
}

/// The same, in whole seconds.
pub fn seconds(text: &str) -> Result<u64, DurationError> {
    let t = text.trim();
    let not = || DurationError::NotADuration(text.to_string());
    if t.is_empty() {
        return Err(not());
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return t
            .parse()
            .map_err(|_| DurationError::TooLong(text.to_string()));
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in t.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = num.unwrap_or(0);
            num = Some(
                n.checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or_else(|| DurationError::TooLong(text.to_string()))?,
            );
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            '.' | ',' if num.is_some() => return Err(DurationError::Fraction(text.to_string())),
            _ => return Err(not()),
        };
        let n = num.take().ok_or_else(not)?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| DurationError::TooLong(text.to_string()))?;
    }
    if num.is_some() {
        // A number after the last unit (`1h30`) says no unit: refused, not guessed.
        return Err(not());
    }
    Ok(total)
}

/// Whole seconds as a policy writes them: `2d`, `4h`, `1h30m`, `90` as `1m30s`.
pub(crate) fn text(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)] {
        if rest >= size {
            out.push_str(&(rest / size).to_string());
            out.push(unit);
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_groups_and_bare_seconds() {
        assert_eq!(seconds("90s"), Ok(90));
        assert_eq!(seconds("5m"), Ok(300));
        assert_eq!(seconds("2h"), Ok(7200));
        assert_eq!(seconds("1d"), Ok(86_400));
        assert_eq!(seconds("1h30m"), Ok(5400));
        assert_eq!(seconds(" 300 "), Ok(300));
        assert_eq!(seconds("0s"), Ok(0));
    }

    #[test]
    fn seconds_are_written_back_as_a_policy_writes_them() {
        for (secs, written) in [(0, "0s"), (90, "1m30s"), (14_400, "4h"), (172_800, "2d")] {
            assert_eq!(text(secs), written);
            assert_eq!(seconds(written), Ok(secs));
        }
        assert_eq!(text(93_784), "1d2h3m4s");
    }

    #[test]
    fn what_is_not_a_duration_says_why() {
        assert!(matches!(seconds("1.5h"), Err(DurationError::Fraction(_))));
        for bad in ["", "h", "5x", "1h30", "-5s", "5 m"] {
            assert!(
                matches!(seconds(bad), Err(DurationError::NotADuration(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            seconds("99999999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            seconds("300000000000000d"),
            Err(DurationError::TooLong(_))
        ));
    }
}
