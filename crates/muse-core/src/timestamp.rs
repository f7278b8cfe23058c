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
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
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
        for bad in ["2026-01-01 00:00:00Z", "2026-01-01t00:00:00z", "2023-02-29T00:00:00Z", "2026-01-01T00:00:00",
                    "2026-01-01T00:00:00+0530", "2026-01-01T00:00:00.Z", "2026-13-01T00:00:00Z", "+05:18:00", ""] {
            assert!(validate_rfc3339(bad).is_err(), "{bad:?} accepted");
        }
    }
}
