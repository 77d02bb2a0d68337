//! Times in the database are milliseconds since the Unix epoch (UTC); people
//! see RFC 3339.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// Now, in database time.
pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// A database time as RFC 3339 (UTC).
pub(crate) fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// An RFC 3339 time (as `users.json` stored them) in database time.
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A lifetime as people write it: a number and a unit, `s`, `m`, `h`, `d` or
/// `w` (`90d`, `12h`). Used for token expiry, so it is never zero.
pub fn parse_lifetime(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "{text:?} is not a lifetime: expected a number and a unit (s, m, h, d or w), e.g. 90d"
            ));
        }
    };
    let secs = number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(unit_secs))
        // Beyond ~100 years is a typo, and would overflow the database's times.
        .filter(|secs| *secs <= 100 * 366 * 86_400)
        .ok_or_else(|| format!("{text:?}: the number must be between 1 and about 100 years"))?;
    Ok(std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(
            parse_lifetime("90d"),
            Ok(std::time::Duration::from_secs(90 * 86_400))
        );
        assert_eq!(
            parse_lifetime(" 2h "),
            Ok(std::time::Duration::from_secs(7200))
        );
        assert_eq!(
            parse_lifetime("1w"),
            Ok(std::time::Duration::from_secs(604_800))
        );
        for bad in [
            "",
            "d",
            "0d",
            "10",
            "5y",
            "-1d",
            "1.5h",
            "99999999999999999999d",
            "40000d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip() {
        let ms = 1_764_921_600_123;
        assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
