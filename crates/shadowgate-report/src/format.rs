//! Number, unit and date formatting shared by every rendering, so that a value reads the same
//! in the terminal, the JUnit messages and the HTML page.

use shadowgate_judge::source::Unit;

/// `value` rounded to `digits` significant digits, in positional notation and without
/// trailing zeros: 0.4204 → "0.42" with three digits, 50 → "50". Integer digits are never
/// rounded away: 1234 with two digits is "1234", not "1200".
pub(crate) fn significant(value: f64, digits: u32) -> String {
    if !value.is_finite() {
        return if value.is_nan() { "n/a".to_string() } else { format!("{value}") };
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let decimals = |number: f64| {
        let magnitude = number.abs().log10().floor() as i32;
        usize::try_from(digits as i32 - 1 - magnitude).unwrap_or(0)
    };
    let first = decimals(value);
    let rounded = format!("{value:.first$}").parse::<f64>().unwrap_or(value);
    // Rounding can carry into a new digit (9.96 → 10.0), which needs one decimal fewer.
    let settled = decimals(rounded);
    let text = format!("{rounded:.settled$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text.as_str()
    };
    if text == "-0" { "0".to_string() } else { text.to_string() }
}

/// An integer with thousands separators: 1234567 → "1,234,567".
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    let first_group = digits.len() % 3;
    for (idx, digit) in digits.char_indices() {
        if idx > 0 && idx % 3 == first_group {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A latency in milliseconds: "0.42 ms", "12.3 ms", "250 ms", "1.25 s".
pub(crate) fn milliseconds(ms: f64) -> String {
    if ms.abs() >= 1000.0 {
        format!("{} s", significant(ms / 1000.0, 3))
    } else {
        format!("{} ms", significant(ms, 3))
    }
}

/// A size in bytes with a binary prefix: "512 MiB", "1.5 GiB".
pub(crate) fn bytes(value: f64) -> String {
    const PREFIXES: [(f64, &str); 4] = [
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "TiB"),
        (1024.0 * 1024.0 * 1024.0, "GiB"),
        (1024.0 * 1024.0, "MiB"),
        (1024.0, "KiB"),
    ];
    for (size, name) in PREFIXES {
        if value.abs() >= size {
            return format!("{} {name}", significant(value / size, 3));
        }
    }
    format!("{} B", significant(value, 3))
}

/// A CPU amount: "0.52 cores", "1 core".
pub(crate) fn cores(value: f64) -> String {
    let text = significant(value, 3);
    if text == "1" { "1 core".to_string() } else { format!("{text} cores") }
}

/// A value of a judge metric in its unit.
pub(crate) fn quantity(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds if value != 0.0 && value.abs() < 1e-3 => {
            format!("{} µs", significant(value * 1e6, 3))
        }
        Unit::Seconds => milliseconds(value * 1e3),
        Unit::Cores => cores(value),
        Unit::Bytes => bytes(value),
        Unit::Unspecified => significant(value, 4),
    }
}

/// A signed value of a judge metric in its unit: "+4.2 ms", "-12 MiB".
pub(crate) fn signed_quantity(value: f64, unit: Unit) -> String {
    let sign = if value < 0.0 { "-" } else { "+" };
    format!("{sign}{}", quantity(value.abs(), unit))
}

/// A fraction as a signed percentage: 0.096 → "+9.6%", -0.31 → "-31%".
pub(crate) fn signed_percent(fraction: f64) -> String {
    let sign = if fraction < 0.0 { "-" } else { "+" };
    format!("{sign}{}", percent(fraction.abs()))
}

/// A non-negative fraction as a percentage with two significant digits: 0.0042 → "0.42%".
pub(crate) fn percent(fraction: f64) -> String {
    format!("{}%", significant(fraction * 100.0, 2))
}

/// A percentage that is already in percent: 10 → "10%", 2.5 → "2.5%".
pub(crate) fn percent_number(percent: f64) -> String {
    format!("{}%", significant(percent, 3))
}

/// A p-value: "0.0039", or "< 0.0001" below that.
pub(crate) fn p_value(p: f64) -> String {
    if p < 1e-4 { "< 0.0001".to_string() } else { significant(p, 2) }
}

/// A p-value in a sentence: "p = 0.0039" or "p < 0.0001".
pub(crate) fn p_clause(p: f64) -> String {
    if p < 1e-4 { "p < 0.0001".to_string() } else { format!("p = {}", significant(p, 2)) }
}

/// A ratio: 2.1 → "2.1×".
pub(crate) fn ratio(value: f64) -> String {
    format!("{}×", significant(value, 2))
}

/// A score out of 100 with at most one decimal: "87.5", "100".
pub(crate) fn score(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_string)
}

/// A confidence level as a percentage: 0.99 → "99%".
pub(crate) fn confidence(level: f64) -> String {
    format!("{}%", significant(level * 100.0, 4))
}

/// A duration: "850 ms", "42.5 s", "3 min 05 s", "1 h 02 min".
pub(crate) fn duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{} s", significant(ms as f64 / 1000.0, 3)),
        60_000..3_600_000 => format!("{} min {:02} s", seconds / 60, seconds % 60),
        _ => format!("{} h {:02} min", seconds / 3600, seconds / 60 % 60),
    }
}

/// A Unix time in milliseconds as a UTC date and time: "2026-11-23 19:26:13 UTC".
pub(crate) fn utc_datetime(unix_ms: u64) -> String {
    let (date, time) = utc_parts(unix_ms);
    format!("{date} {time} UTC")
}

/// A Unix time in milliseconds in the ISO 8601 form JUnit uses: "2026-11-23T19:26:13".
pub(crate) fn iso_datetime(unix_ms: u64) -> String {
    let (date, time) = utc_parts(unix_ms);
    format!("{date}T{time}")
}

fn utc_parts(unix_ms: u64) -> (String, String) {
    let seconds = unix_ms / 1000;
    let days = seconds / 86_400;
    let second_of_day = seconds % 86_400;
    let (year, month, day) = civil_date(days);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!(
            "{:02}:{:02}:{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        ),
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01, by the era arithmetic of
/// Howard Hinnant's `civil_from_days` (eras of 400 years start on March 1).
fn civil_date(days_since_epoch: u64) -> (u64, u64, u64) {
    let shifted = days_since_epoch + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
