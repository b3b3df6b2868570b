//! UTC timestamps as seconds since the Unix epoch: parsing the manifest's bounds and writing
//! generated values. Civil-date arithmetic on the proleptic Gregorian calendar.

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` (a space may replace the `T`).
/// Fractions of a second are dropped.
pub fn parse(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = s.get(from..from + len).ok_or("too short")?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            Ok(part.parse::<i64>().map_err(|e| e.to_string())?)
        } else {
            Err(format!("`{part}` is not a number"))
        }
    };
    let sep = |at: usize, want: &[u8]| -> Result<(), String> {
        match b.get(at) {
            Some(c) if want.contains(c) => Ok(()),
            _ => Err(format!(
                "expected {:?} at position {}",
                want.iter().map(|&c| c as char).collect::<String>(),
                at + 1
            )),
        }
    };
    let year = num(0, 4)?;
    sep(4, b"-")?;
    let month = num(5, 2)?;
    sep(7, b"-")?;
    let day = num(8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(format!("{year:04}-{month:02}-{day:02} is not a date"));
    }
    let date = days_from_civil(year, month, day) * 86_400;
    if b.len() == 10 {
        return Ok(date);
    }
    sep(10, b"T ")?;
    let (h, m, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    sep(13, b":")?;
    sep(16, b":")?;
    if h > 23 || m > 59 || sec > 60 {
        return Err(format!("{h:02}:{m:02}:{sec:02} is not a time of day"));
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err("a fraction of a second needs digits after the dot".into());
        }
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(&c @ (b'+' | b'-')) if b.len() == i + 6 => {
            sep(i + 3, b":")?;
            let off = num(i + 1, 2)? * 3600 + num(i + 4, 2)? * 60;
            if c == b'-' { -off } else { off }
        }
        _ => return Err("expected a time zone: `Z` or `+HH:MM`".into()),
    };
    Ok(date + h * 3600 + m * 60 + sec - offset)
}

/// Writes `YYYY-MM-DD HH:MM:SS` (UTC), the form PostgreSQL and SQLite both read.
pub fn format(secs: i64, out: &mut Vec<u8>) {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if y < 0 {
        out.push(b'-');
    }
    pad(out, y, 4);
    out.push(b'-');
    pad(out, m, 2);
    out.push(b'-');
    pad(out, d, 2);
    out.push(b' ');
    pad(out, tod / 3600, 2);
    out.push(b':');
    pad(out, tod / 60 % 60, 2);
    out.push(b':');
    pad(out, tod % 60, 2);
}

/// `|v|` in decimal, zero-padded to `width` digits.
fn pad(out: &mut Vec<u8>, v: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut v = v.unsigned_abs();
    let mut i = buf.len();
    while v > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len() - width);
    out.extend_from_slice(&buf[start..]);
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01. Eras of 400 years (146,097 days) starting on 1 March.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
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
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(secs: i64) -> String {
        let mut v = Vec::new();
        format(secs, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse("1970-01-01").unwrap(), 0);
        assert_eq!(parse("2000-01-01T00:00:00Z").unwrap(), 946_684_800);
        assert_eq!(parse("2026-12-07T02:35:10Z").unwrap(), 1_796_610_910);
        assert_eq!(parse("2026-12-07T04:35:10.25+02:00").unwrap(), 1_796_610_910);
        assert_eq!(parse("2024-02-29 00:00:00Z").unwrap(), 1_709_164_800);
        assert_eq!(fmt(1_796_610_910), "2026-12-07 02:35:10");
        assert_eq!(fmt(1_709_164_800), "2024-02-29 00:00:00");
        assert_eq!(fmt(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn round_trip_every_day_for_a_few_centuries() {
        for day in (-80_000..80_000).step_by(7) {
            let secs = day * 86_400 + 3_723;
            let s = fmt(secs).replace(' ', "T") + "Z";
            assert_eq!(parse(&s).unwrap(), secs, "{s}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-01-01T25:00:00Z",
            "2026-01-01T00:00:00",
            "yesterday",
            "2026-1-1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
