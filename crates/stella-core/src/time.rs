//! UTC timestamps as RFC 3339 text (`2026-01-01T00:00:00Z`), from Unix seconds: the form every
//! timestamp in Stella's documents takes. Whole seconds, always `Z`; no time zones.
//!
//! Times written by others (an image config's `created`, which may carry an offset and
//! nanoseconds) are read by [`parse_rfc3339`] with `jiff`'s parser, never by cutting the text at
//! fixed byte positions: a hostile string with a multi-byte character there would otherwise
//! panic instead of being refused.

/// `unix_seconds` as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar, UTC).
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A time that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{text:?} is not an RFC 3339 date-time such as 2026-01-01T00:00:00Z")]
pub struct TimeError {
    /// The text as given.
    pub text: String,
    /// Why the parser refused it.
    #[source]
    pub source: jiff::Error,
}

/// The Unix seconds of the RFC 3339 `date-time` `text` (any offset, fractional seconds dropped),
/// e.g. `2024-01-02T03:04:05.123+01:00` → the instant `2024-01-02T02:04:05Z`.
///
/// # Errors
/// [`TimeError`] when `text` is not a date-time with an offset (or `Z`) in the years 0000–9999.
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|source| TimeError {
            text: text.to_owned(),
            source,
        })
}

/// Whether `text` is a timestamp in the form [`rfc3339_utc`] writes (fractional seconds allowed).
pub fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let fixed = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !fixed {
        return false;
    }
    let rest = &b[19..];
    match rest {
        [b'Z'] => true,
        [b'.', frac @ .., b'Z'] => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Year, month, day of the day `days` after 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // day is 1..=31 and month 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_798_761_599), "2026-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn recognises_its_own_form() {
        assert!(is_rfc3339_utc("2026-01-01T00:00:00Z"));
        assert!(is_rfc3339_utc("2026-01-01T00:00:00.123Z"));
        assert!(!is_rfc3339_utc("2026-01-01T00:00:00+01:00"));
        assert!(!is_rfc3339_utc("2026-01-01 00:00:00Z"));
        assert!(!is_rfc3339_utc("2026-01-01T00:00:00.Z"));
        assert!(!is_rfc3339_utc("yesterday"));
    }

    #[test]
    fn parses_offsets_and_fractions_to_utc_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            rfc3339_utc(parse_rfc3339("2024-01-02T03:04:05.123456789Z").unwrap()),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            rfc3339_utc(parse_rfc3339("2024-01-02T03:04:05.5+01:00").unwrap()),
            "2024-01-02T02:04:05Z"
        );
    }

    #[test]
    fn refuses_what_is_not_a_time_without_panicking() {
        // A multi-byte character where the seconds are: cutting the text at byte 19 panicked.
        for bad in [
            "2024-01-02T03:04:0\u{e9}Z",
            "2024-01-02T03:04:05",
            "2024-13-02T03:04:05Z",
            "yesterday",
            "",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}Z",
        ] {
            let err = parse_rfc3339(bad).unwrap_err();
            assert_eq!(err.text, bad);
            assert!(err.to_string().contains("RFC 3339"), "{err}");
        }
    }
}
