//! Human-friendly durations (`250ms`, `10s`, `2m`) and byte sizes (`256MiB`, `1G`).
//!
//! Both parse from strings in the manifest and print back in the same notation, so an error
//! message can quote the value the user wrote.

use std::{fmt, str::FromStr, time::Duration};

/// A duration written as `<number><unit>` with unit `ms`, `s`, `m` or `h` (fractions allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

/// A size in bytes written as `<number><unit>`: `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB`, `T`/`TiB`
/// (binary multiples; `KB`, `MB`, `GB` are decimal). A bare integer is a byte count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnitError(String);

impl HumanDuration {
    pub const fn from_millis(ms: u64) -> Self {
        HumanDuration(Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        HumanDuration(Duration::from_secs(s))
    }
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl FromStr for HumanDuration {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(|| {
            UnitError(format!("`{s}` has no unit; write e.g. `500ms`, `10s`, `2m` or `1h`"))
        })?;
        let (number, unit) = text.split_at(split);
        let number: f64 = number.trim().parse().map_err(|_| {
            UnitError(format!("`{s}` does not start with a number; write e.g. `10s`"))
        })?;
        if !number.is_finite() || number < 0.0 {
            return Err(UnitError(format!("`{s}` must be a non-negative duration")));
        }
        let scale = match unit.trim() {
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return Err(UnitError(format!(
                    "unknown duration unit `{other}` in `{s}`; use ms, s, m, h or d"
                )));
            }
        };
        let secs = number * scale;
        if secs > 1e12 {
            return Err(UnitError(format!("`{s}` is too long")));
        }
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 && self.0.as_micros() > 0 {
            write!(f, "{}us", self.0.as_micros())
        } else if ms.is_multiple_of(3_600_000) && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms.is_multiple_of(60_000) && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl ByteSize {
    pub const KIB: u64 = 1024;
    pub const MIB: u64 = 1024 * 1024;
    pub const GIB: u64 = 1024 * 1024 * 1024;

    pub const fn mib(n: u64) -> Self {
        ByteSize(n * Self::MIB)
    }
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number.trim().parse().map_err(|_| {
            UnitError(format!("`{s}` does not start with a number; write e.g. `256MiB` or `1GiB`"))
        })?;
        if !number.is_finite() || number < 0.0 {
            return Err(UnitError(format!("`{s}` must be a non-negative size")));
        }
        let scale: f64 = match unit.trim() {
            "" | "B" | "b" => 1.0,
            "K" | "k" | "KiB" | "Ki" => 1024.0,
            "M" | "MiB" | "Mi" => 1024.0 * 1024.0,
            "G" | "GiB" | "Gi" => 1024.0 * 1024.0 * 1024.0,
            "T" | "TiB" | "Ti" => 1024.0f64.powi(4),
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            other => {
                return Err(UnitError(format!(
                    "unknown size unit `{other}` in `{s}`; use B, KiB, MiB, GiB or TiB"
                )));
            }
        };
        let bytes = number * scale;
        if bytes > u64::MAX as f64 / 2.0 {
            return Err(UnitError(format!("`{s}` is too large")));
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, size) in
            [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        {
            if b >= size {
                return if b.is_multiple_of(size) {
                    write!(f, "{}{unit}", b / size)
                } else {
                    write!(f, "{:.1}{unit}", b as f64 / size as f64)
                };
            }
        }
        write!(f, "{b}B")
    }
}

struct UnitVisitor<T>(std::marker::PhantomData<T>, &'static str);

impl<T> serde::de::Visitor<'_> for UnitVisitor<T>
where
    T: FromStr<Err = UnitError> + FromIntegerUnit,
{
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|e: UnitError| E::custom(e.0))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        T::from_integer(v).map_err(|e| E::custom(e.0))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        T::from_integer(v.min(i64::MAX as u64) as i64).map_err(|e| E::custom(e.0))
    }
}

/// How a bare integer is read: bytes for sizes, an error for durations (a unit is required,
/// because "timeout = 30" is ambiguous).
trait FromIntegerUnit: Sized {
    fn from_integer(v: i64) -> Result<Self, UnitError>;
}

impl FromIntegerUnit for ByteSize {
    fn from_integer(v: i64) -> Result<Self, UnitError> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| UnitError(format!("{v} must be a non-negative size")))
    }
}

impl FromIntegerUnit for HumanDuration {
    fn from_integer(v: i64) -> Result<Self, UnitError> {
        Err(UnitError(format!(
            "`{v}` has no unit; write it as a string such as \"{v}s\" or \"{v}ms\""
        )))
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(std::marker::PhantomData, "a duration such as \"10s\""))
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnitVisitor(std::marker::PhantomData, "a size such as \"256MiB\""))
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for (text, ms) in
            [("250ms", 250), ("10s", 10_000), ("1.5s", 1500), ("2m", 120_000), ("1h", 3_600_000)]
        {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.0.as_millis(), ms, "{text}");
        }
        assert_eq!(HumanDuration::from_millis(1500).to_string(), "1500ms");
        assert_eq!(HumanDuration::from_secs(120).to_string(), "2m");
        assert!("10".parse::<HumanDuration>().unwrap_err().0.contains("no unit"));
        assert!(
            "10 parsecs".parse::<HumanDuration>().unwrap_err().0.contains("unknown duration unit")
        );
        assert!("-1s".parse::<HumanDuration>().is_err());
    }

    #[test]
    fn sizes_round_trip() {
        for (text, bytes) in [
            ("256MiB", 256 << 20),
            ("1G", 1 << 30),
            ("1GB", 1_000_000_000),
            ("512", 512),
            ("1.5KiB", 1536),
        ] {
            let b: ByteSize = text.parse().unwrap();
            assert_eq!(b.0, bytes, "{text}");
        }
        assert_eq!(ByteSize::mib(256).to_string(), "256MiB");
        assert_eq!(ByteSize(1536).to_string(), "1.5KiB");
        assert!("12 bananas".parse::<ByteSize>().is_err());
    }
}
