//! Timestamps as files write them: Unix numbers of any common unit, or RFC 3339 text.
//!
//! A number's unit follows from its magnitude, which is unambiguous for dates between 1973 and
//! 5138: below 10^11 it counts seconds (fractions allowed), below 10^14 milliseconds, below
//! 10^17 microseconds, and nanoseconds above. Text is RFC 3339 (`2024-05-01T12:00:00.250Z`,
//! `2024-05-01T14:00:00+02:00`), also with a space instead of `T` and, as in many CSV exports,
//! without an offset, which then means UTC. A date alone means its midnight, UTC.

/// Milliseconds since the Unix epoch for a number in seconds, milliseconds, microseconds or
/// nanoseconds.
pub fn from_unix_number(number: f64) -> Result<i64, String> {
    if !number.is_finite() {
        return Err(format!("{number} is not a time"));
    }
    let magnitude = number.abs();
    let ms = if magnitude < 1e11 {
        number * 1e3
    } else if magnitude < 1e14 {
        number
    } else if magnitude < 1e17 {
        number / 1e3
    } else {
        number / 1e6
    };
    Ok(ms.round() as i64)
}

/// Milliseconds since the Unix epoch for a timestamp written as text: a Unix number or RFC 3339.
pub fn parse(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("expected a timestamp, found nothing".to_string());
    }
    let looks_numeric =
        text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    let looks_like_date = text.len() >= 10 && text.as_bytes().get(4) == Some(&b'-');
    if looks_numeric && !looks_like_date {
        let number: f64 = text.parse().map_err(|_| format!("`{text}` is not a number"))?;
        return from_unix_number(number);
    }
    parse_rfc3339(text)
}

fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = |what: &str| {
        format!(
            "`{text}` is not a timestamp: {what}; write Unix seconds or milliseconds, or RFC 3339 like 2024-05-01T12:00:00Z"
        )
    };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>, what: &str| -> Result<i64, String> {
        let field = bytes.get(range).ok_or_else(|| bad(&format!("the {what} is missing")))?;
        if !field.iter().all(u8::is_ascii_digit) {
            return Err(bad(&format!("the {what} is not a number")));
        }
        Ok(field.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
    };
    let year = digits(0..4, "year")?;
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err(bad("expected YYYY-MM-DD"));
    }
    let month = digits(5..7, "month")?;
    let day = digits(8..10, "day")?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("the date does not exist"));
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if bytes.len() == 10 {
        return Ok(ms);
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(bad("expected `T` or a space between the date and the time"));
    }
    let hour = digits(11..13, "hour")?;
    let minute = digits(14..16, "minute")?;
    let second = digits(17..19, "second")?;
    if bytes.get(13) != Some(&b':') || bytes.get(16) != Some(&b':') {
        return Err(bad("expected HH:MM:SS"));
    }
    // A leap second (:60) is read as the last millisecond of its minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("the time of day does not exist"));
    }
    ms += ((hour * 60 + minute) * 60 + second.min(59)) * 1000 + if second == 60 { 999 } else { 0 };
    let mut pos = 19;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        let mut fraction_ms = 0i64;
        while let Some(b) = bytes.get(pos).filter(|b| b.is_ascii_digit()) {
            if pos - start < 3 {
                fraction_ms = fraction_ms * 10 + i64::from(b - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return Err(bad("expected digits after the decimal point"));
        }
        for _ in (pos - start)..3 {
            fraction_ms *= 10;
        }
        ms += fraction_ms;
    }
    match bytes.get(pos) {
        None => Ok(ms),
        Some(b'Z' | b'z') if pos + 1 == bytes.len() => Ok(ms),
        Some(&sign @ (b'+' | b'-')) if pos + 6 == bytes.len() => {
            let offset_hours = digits(pos + 1..pos + 3, "offset hours")?;
            let offset_minutes = digits(pos + 4..pos + 6, "offset minutes")?;
            if bytes[pos + 3] != b':' || offset_hours > 23 || offset_minutes > 59 {
                return Err(bad("expected an offset like +02:00"));
            }
            let offset_ms = (offset_hours * 60 + offset_minutes) * 60_000;
            Ok(if sign == b'+' { ms - offset_ms } else { ms + offset_ms })
        }
        Some(_) => {
            Err(bad("unexpected text after the time; expected `Z` or an offset like +02:00"))
        }
    }
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count years from March, so that the leap day falls at the end of the year.
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_by_magnitude() {
        assert_eq!(parse("1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(parse("1700000000.25").unwrap(), 1_700_000_000_250);
        assert_eq!(parse("1700000000123").unwrap(), 1_700_000_000_123);
        assert_eq!(parse("1700000000123456").unwrap(), 1_700_000_000_123);
        assert_eq!(parse("1700000000123456789").unwrap(), 1_700_000_000_123);
        assert_eq!(parse("0").unwrap(), 0);
        assert_eq!(parse("-86400").unwrap(), -86_400_000);
        assert!(from_unix_number(f64::NAN).is_err());
    }

    #[test]
    fn rfc3339_with_offsets_fractions_and_common_variants() {
        assert_eq!(parse("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000_000);
        assert_eq!(parse("2023-11-14T22:13:20.5Z").unwrap(), 1_700_000_000_500);
        assert_eq!(parse("2023-11-14T22:13:20.123456789Z").unwrap(), 1_700_000_000_123);
        assert_eq!(parse("2023-11-15T00:13:20+02:00").unwrap(), 1_700_000_000_000);
        assert_eq!(parse("2023-11-14T17:13:20-05:00").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse("2023-11-14 22:13:20").unwrap(),
            1_700_000_000_000,
            "NAB-style, read as UTC"
        );
        assert_eq!(parse("2024-02-29").unwrap(), 1_709_164_800_000);
        assert_eq!(parse("1969-12-31T23:59:59Z").unwrap(), -1000);
        assert_eq!(parse("2016-12-31T23:59:60Z").unwrap(), 1_483_228_799_999);
    }

    #[test]
    fn impossible_or_garbled_times_are_refused_with_the_accepted_forms() {
        for text in [
            "2023-02-29T00:00:00Z",
            "2023-13-01",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13",
            "2023-11-14X22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0200",
            "2023-11-14T22:13:20Zjunk",
            "yesterday",
            "",
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains("timestamp"), "{text}: {error}");
        }
    }
}
