//! RFC 3339 timestamps, validated but never re-formatted: the exact string is what gets hashed.

/// Why a string is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an RFC 3339 date-time (e.g. 2026-01-01T12:00:00+02:00)")]
pub struct TimestampError(pub String);

/// Checks `text` against RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
///
/// `T` and `Z` must be uppercase, so that one instant written one way has one spelling in ids.
/// Leap seconds (`:60`) are accepted, as the RFC allows.
pub fn validate_rfc3339(text: &str) -> Result<(), TimestampError> {
    let err = || TimestampError(text.to_string());
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let (year, month, day) = (digits(0..4).ok_or_else(err)?, digits(5..7).ok_or_else(err)?, digits(8..10).ok_or_else(err)?);
    let (hour, minute, second) = (digits(11..13).ok_or_else(err)?, digits(14..16).ok_or_else(err)?, digits(17..19).ok_or_else(err)?);
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return Err(err());
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err(err());
        }
        rest = &frac[n..];
    }
    match rest {
        b"Z" => Ok(()),
        [sign, h1, h2, b':', m1, m2] if (*sign == b'+' || *sign == b'-') => {
            let all_digits = [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit());
            let hours = u32::from(h1.wrapping_sub(b'0')) * 10 + u32::from(h2.wrapping_sub(b'0'));
            let minutes = u32::from(m1.wrapping_sub(b'0')) * 10 + u32::from(m2.wrapping_sub(b'0'));
            if all_digits && hours <= 23 && minutes <= 59 {
                Ok(())
            } else {
                Err(err())
            }
        }
        _ => Err(err()),
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_forms() {
        for ok in ["2026-01-01T00:00:00Z", "2024-02-29T23:59:60.123+05:30", "1999-12-31T10:00:00-08:00"] {
            validate_rfc3339(ok).unwrap();
        }
    }

    #[test]
    fn rejects_near_misses() {
        for bad in [
            "2026-01-01 00:00:00Z",
            "2026-01-01t00:00:00z",
            "2023-02-29T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+0530",
            "2026-01-01T00:00:00.Z",
            "2026-13-01T00:00:00Z",
            "+05:18:00",
            "",
        ] {
            assert!(validate_rfc3339(bad).is_err(), "{bad:?} accepted");
        }
    }
}

/// Seconds and nanoseconds since the Unix epoch of a valid RFC 3339 string (offset applied), for
/// ordering commits by time. `None` if the string is not valid RFC 3339.
pub fn rfc3339_to_unix(text: &str) -> Option<(i64, u32)> {
    validate_rfc3339(text).ok()?;
    let num = |r: std::ops::Range<usize>| text.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &text[19..];
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            (&f[..n], &f[n..])
        }
        None => ("", rest),
    };
    let nanos = frac.bytes().chain(std::iter::repeat(b'0')).take(9).fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
    let offset = match zone {
        "Z" => 0,
        z => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (z[1..3].parse::<i64>().ok()? * 3600 + z[4..6].parse::<i64>().ok()? * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    Some((secs, nanos))
}

/// Formats seconds since the epoch as RFC 3339 in UTC, e.g. `2026-11-25T07:00:00Z`.
pub fn unix_to_rfc3339_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod unix_tests {
    use super::*;

    #[test]
    fn converts_both_ways() {
        assert_eq!(rfc3339_to_unix("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(rfc3339_to_unix("2026-11-25T09:00:00.5+02:00"), Some((1_795_590_000, 500_000_000)));
        assert_eq!(unix_to_rfc3339_utc(1_795_590_000), "2026-11-25T07:00:00Z");
        for secs in [-86_401, 0, 951_782_400, 4_102_444_799] {
            assert_eq!(rfc3339_to_unix(&unix_to_rfc3339_utc(secs)), Some((secs, 0)));
        }
    }
}
