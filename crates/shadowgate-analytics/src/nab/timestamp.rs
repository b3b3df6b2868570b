//! NAB's timestamp text (`2014-07-01 00:00:00`, optionally with `.ffffff`) as Unix seconds.

/// Why a timestamp could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "bad timestamp `{text}`: expected `YYYY-MM-DD HH:MM:SS` with optional fractional seconds (UTC)"
)]
pub struct TimestampError {
    pub text: String,
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fraction]` (a `T` separator is accepted too) as seconds since
/// the Unix epoch, UTC. Fractional seconds are truncated.
pub fn parse_timestamp(text: &str) -> Result<i64, TimestampError> {
    let error = || TimestampError { text: text.to_string() };
    let trimmed = text.trim();
    let (date, time) = trimmed.split_once([' ', 'T']).ok_or_else(error)?;
    let mut date_parts = date.split('-');
    let year: i64 = parse_field(date_parts.next()).ok_or_else(error)?;
    let month: i64 = parse_field(date_parts.next()).ok_or_else(error)?;
    let day: i64 = parse_field(date_parts.next()).ok_or_else(error)?;
    let whole_seconds = time.split('.').next().unwrap_or(time);
    let mut time_parts = whole_seconds.split(':');
    let hour: i64 = parse_field(time_parts.next()).ok_or_else(error)?;
    let minute: i64 = parse_field(time_parts.next()).ok_or_else(error)?;
    let second: i64 = parse_field(time_parts.next()).ok_or_else(error)?;
    let in_range = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    if date_parts.next().is_some() || time_parts.next().is_some() || !in_range {
        return Err(error());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn parse_field(part: Option<&str>) -> Option<i64> {
    let part = part?;
    if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_convert_to_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_timestamp("2014-07-01 00:30:00"), Ok(1_404_174_600));
        assert_eq!(parse_timestamp("2014-04-10 07:15:00.000000"), Ok(1_397_114_100));
        assert_eq!(parse_timestamp("2000-03-01T00:00:00"), Ok(951_868_800));
    }

    #[test]
    fn malformed_timestamps_are_rejected() {
        for text in ["", "2014-07-01", "2014-13-01 00:00:00", "2014-07-01 25:00:00", "x-1-1 0:0:0"]
        {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
    }
}
