//! Git signature times (`<seconds since epoch> <±HHMM>`) as RFC 3339 date-times.
//!
//! Git stores an instant and the author's UTC offset separately and does not validate the offset,
//! so real histories hold offsets RFC 3339 cannot write (psf/requests has `+051800`). Those are
//! converted to the same instant in UTC (`Z`) and flagged as inexact, so that the caller keeps the
//! raw header text beside it.

/// A git time converted to RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitTime {
    /// The RFC 3339 text: in the git offset when it can be written, else in UTC.
    pub rfc3339: String,
    /// Whether `rfc3339` says everything the git text said (instant and offset).
    pub exact: bool,
}

/// Converts the time part of a git `author`/`committer` header, e.g. `1313584730 +0530`.
///
/// Never fails: an unparseable instant becomes the Unix epoch (as `git log` shows it) and is
/// reported as inexact.
pub(crate) fn convert(raw: &str) -> GitTime {
    let mut parts = raw.split_ascii_whitespace();
    let seconds = parts.next().and_then(|s| s.parse::<i64>().ok());
    let offset = parts.next().and_then(parse_offset);
    let trailing = parts.next().is_some();
    let Some(seconds) = seconds else {
        return GitTime { rfc3339: "1970-01-01T00:00:00Z".into(), exact: false };
    };
    if let (Some(offset_minutes), false) = (offset, trailing) {
        if let Some(local) = seconds.checked_add(i64::from(offset_minutes) * 60).and_then(format_civil) {
            let sign = if raw_offset_is_negative(raw) { '-' } else { '+' };
            let abs = offset_minutes.unsigned_abs();
            return GitTime { rfc3339: format!("{local}{sign}{:02}:{:02}", abs / 60, abs % 60), exact: true };
        }
    }
    match format_civil(seconds) {
        Some(utc) => GitTime { rfc3339: format!("{utc}Z"), exact: false },
        None => GitTime { rfc3339: "1970-01-01T00:00:00Z".into(), exact: false },
    }
}

/// Whether the offset field starts with `-` (kept so that git's `-0000` stays `-00:00`).
fn raw_offset_is_negative(raw: &str) -> bool {
    raw.split_ascii_whitespace().nth(1).is_some_and(|o| o.starts_with('-'))
}

/// Parses `±HHMM` with HH ≤ 23 and MM ≤ 59 (what RFC 3339 can write) into signed minutes.
fn parse_offset(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    let [sign @ (b'+' | b'-'), h1, h2, m1, m2] = bytes else { return None };
    if ![h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) {
        return None;
    }
    let hours = i32::from(h1 - b'0') * 10 + i32::from(h2 - b'0');
    let minutes = i32::from(m1 - b'0') * 10 + i32::from(m2 - b'0');
    if hours > 23 || minutes > 59 {
        return None;
    }
    let total = hours * 60 + minutes;
    Some(if *sign == b'-' { -total } else { total })
}

/// Formats seconds since the epoch (already shifted to local time) as `YYYY-MM-DDTHH:MM:SS`,
/// or `None` outside the years 0000–9999 that RFC 3339 can write.
fn format_civil(seconds: i64) -> Option<String> {
    let days = seconds.div_euclid(86_400);
    let secs_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    Some(format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}"))
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::validate_rfc3339;

    #[test]
    fn ordinary_offsets_are_kept() {
        assert_eq!(convert("1313584730 +0530"), GitTime { rfc3339: "2011-08-17T18:08:50+05:30".into(), exact: true });
        assert_eq!(convert("0 +0000").rfc3339, "1970-01-01T00:00:00+00:00");
        assert_eq!(convert("0 -0000").rfc3339, "1970-01-01T00:00:00-00:00");
        assert_eq!(convert("951782400 -0800").rfc3339, "2000-02-28T16:00:00-08:00");
        assert_eq!(convert("951782400 +0000").rfc3339, "2000-02-29T00:00:00+00:00");
        assert_eq!(convert("951868800 +0000").rfc3339, "2000-03-01T00:00:00+00:00");
        assert_eq!(convert("-86400 +0100").rfc3339, "1969-12-31T01:00:00+01:00");
    }

    #[test]
    fn odd_offsets_fall_back_to_utc() {
        let t = convert("1313584730 +051800");
        assert_eq!(t, GitTime { rfc3339: "2011-08-17T12:38:50Z".into(), exact: false });
        assert!(!convert("1313584730 +2400").exact);
        assert!(!convert("1313584730 +0560").exact);
        assert!(!convert("1313584730").exact);
        assert_eq!(convert("garbage +0000"), GitTime { rfc3339: "1970-01-01T00:00:00Z".into(), exact: false });
        assert_eq!(convert("99999999999999 +0000").rfc3339, "1970-01-01T00:00:00Z");
        assert_eq!(convert("9223372036854775807 +2359").rfc3339, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn every_output_is_valid_rfc3339() {
        for seconds in [-62_167_219_200i64, -1, 0, 1, 68_169_600, 951_868_799, 1_700_000_000, 253_402_300_799] {
            for offset in ["+0000", "-0000", "+2359", "-2359", "+0545", "+051800", "x"] {
                let t = convert(&format!("{seconds} {offset}"));
                validate_rfc3339(&t.rfc3339).unwrap_or_else(|e| panic!("{seconds} {offset}: {e}"));
            }
        }
    }
}
