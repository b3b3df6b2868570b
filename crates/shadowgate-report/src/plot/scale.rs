//! Mapping data to pixels, and choosing round tick values that people can read.

/// A linear or logarithmic mapping from a data interval onto a pixel interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scale {
    kind: ScaleKind,
    /// The data interval, in log10 units for a logarithmic scale.
    domain: (f64, f64),
    range: (f64, f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScaleKind {
    Linear,
    Log,
}

impl Scale {
    /// A linear scale; an empty domain is widened so that it maps somewhere sensible.
    pub(crate) fn linear(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { kind: ScaleKind::Linear, domain: widened(domain), range }
    }

    /// A logarithmic scale over a domain of positive values.
    pub(crate) fn log(domain: (f64, f64), range: (f64, f64)) -> Scale {
        let low = domain.0.max(f64::MIN_POSITIVE).log10();
        let high = domain.1.max(f64::MIN_POSITIVE).log10();
        Scale { kind: ScaleKind::Log, domain: widened((low, high)), range }
    }

    /// The pixel position of `value`; values outside the domain map outside the range, and
    /// non-positive values on a log scale map to its start.
    pub(crate) fn map(&self, value: f64) -> f64 {
        let value = match self.kind {
            ScaleKind::Linear => value,
            ScaleKind::Log if value > 0.0 => value.log10(),
            ScaleKind::Log => self.domain.0,
        };
        let fraction = (value - self.domain.0) / (self.domain.1 - self.domain.0);
        self.range.0 + fraction * (self.range.1 - self.range.0)
    }

    /// The pixel position of `value`, held inside the range.
    pub(crate) fn map_clamped(&self, value: f64) -> f64 {
        let (low, high) = if self.range.0 <= self.range.1 {
            (self.range.0, self.range.1)
        } else {
            (self.range.1, self.range.0)
        };
        self.map(value).clamp(low, high)
    }
}

fn widened(domain: (f64, f64)) -> (f64, f64) {
    let (low, high) = domain;
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    if high > low {
        (low, high)
    } else if low == 0.0 {
        (0.0, 1.0)
    } else {
        (low - low.abs() * 0.5, low + low.abs() * 0.5)
    }
}

/// Round ticks from 0 up to at least `max`: at most `target` intervals at a step of 1, 2,
/// 2.5 or 5 times a power of ten. The last tick is the top of the axis.
pub(crate) fn ticks_from_zero(max: f64, target: usize) -> Ticks {
    let max = if max.is_finite() && max > 0.0 { max } else { 1.0 };
    let step = round_step(max / target.max(1) as f64, &[1.0, 2.0, 2.5, 5.0, 10.0]);
    ticks_with_step(max, step)
}

/// Round ticks for a time axis in seconds: steps of 1, 2, 5, 10, 15 or 30 seconds, whole
/// minutes (1, 2, 5, 10, 15, 30) or whole hours.
pub(crate) fn time_ticks(max_seconds: f64, target: usize) -> Ticks {
    let max = if max_seconds.is_finite() && max_seconds > 0.0 { max_seconds } else { 1.0 };
    let raw = max / target.max(1) as f64;
    const STEPS: [f64; 14] =
        [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0];
    let step = match STEPS.iter().find(|step| **step >= raw) {
        Some(step) => *step,
        None => round_step(raw / 3600.0, &[1.0, 2.0, 5.0, 10.0]) * 3600.0,
    };
    let step = if max < 1.0 { round_step(raw, &[1.0, 2.0, 5.0, 10.0]) } else { step };
    ticks_with_step(max, step)
}

/// Ticks at every power of ten between `low` and `high` (positive), with 2× and 5× added when
/// the range spans fewer than three decades.
pub(crate) fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low > 0.0 && high > low && high.is_finite()) {
        return Vec::new();
    }
    let first = low.log10().floor() as i32;
    let last = high.log10().ceil() as i32;
    let multipliers: &[f64] = if last - first < 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut res = Vec::new();
    for exponent in first..=last {
        for multiplier in multipliers {
            let value = multiplier * 10f64.powi(exponent);
            // A relative tolerance keeps ticks that equal a bound up to rounding.
            if value >= low * (1.0 - 1e-9) && value <= high * (1.0 + 1e-9) {
                res.push(value);
            }
        }
    }
    res
}

/// Tick values and how many decimals their labels need.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ticks {
    pub values: Vec<f64>,
    pub decimals: usize,
}

impl Ticks {
    /// The top of the axis: the last tick.
    pub(crate) fn top(&self) -> f64 {
        self.values.last().copied().unwrap_or(1.0)
    }

    /// A tick value with the decimals its step needs: 0.5, 1.0 → "0.5", "1.0".
    pub(crate) fn label(&self, value: f64) -> String {
        format!("{value:.prec$}", prec = self.decimals)
    }
}

fn ticks_with_step(max: f64, step: f64) -> Ticks {
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    // The fewest decimals that write the step exactly: 0.25 needs two, 20 needs none.
    let decimals = (0..12)
        .find(|decimals| {
            let scaled = step * 10f64.powi(*decimals);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(12) as usize;
    let values = (0..=count).map(|idx| idx as f64 * step).collect();
    Ticks { values, decimals }
}

/// The smallest `multiplier × 10^k` at or above `raw`.
fn round_step(raw: f64, multipliers: &[f64]) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let normalized = raw / magnitude;
    let multiplier =
        multipliers.iter().copied().find(|it| *it >= normalized - 1e-9).unwrap_or(10.0);
    multiplier * magnitude
}

#[cfg(test)]
mod tests;
