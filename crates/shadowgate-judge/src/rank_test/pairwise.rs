//! Order statistics of the n·m pairwise differences of two samples, without materialising them.
//!
//! With both samples ascending, the differences `candidate[i] − baseline[m − 1 − j]` form a
//! matrix whose rows and columns both ascend (floating-point subtraction is monotone in each
//! argument, so this holds for the rounded values too). The selection keeps, per row, the
//! window of columns that may still hold the answer (Johnson and Mizoguchi 1978; Monahan
//! 1984). Each round picks a pivot value, counts the elements below and up to it in one
//! O(n + m) staircase walk, and shrinks every window to the side that holds the answer; once
//! few elements remain they are gathered and selected directly.
//!
//! The pivots come from three sources, in this order:
//!
//! 1. two guesses bracketing the answer, read off a small grid subsample of the matrix;
//! 2. linear interpolation of the answer's rank between the bracket's end values, which
//!    converges in a few rounds because the distribution of differences is smooth at scale;
//! 3. whenever a round failed to halve the bracket (ties, odd shapes), the weighted median
//!    of the windows' middle elements, which always removes at least a quarter of it.
//!
//! The last rule bounds the cost at O((n + m) log(n·m)); on real data a selection takes
//! about ten walks.

/// Rows and columns of the grid subsample used for the first guesses.
const GUESS_GRID: usize = 64;

/// Matrices up to this size are gathered and selected at once.
const GATHER_MINIMUM: u64 = 1 << 12;

/// Half-width of the first guesses' bracket, in units of the standard error a random
/// subsample of the same size would have. The grid is stratified, which makes its error
/// several times smaller; a guess that misses costs one more round, never a wrong answer.
const GUESS_MARGIN: f64 = 0.25;

pub(super) struct PairwiseDifferences<'a> {
    /// Ascending; one row per value.
    candidate: &'a [f64],
    /// Ascending; walked from its end so that every row ascends.
    baseline: &'a [f64],
}

impl<'a> PairwiseDifferences<'a> {
    pub(super) fn new(candidate: &'a [f64], baseline: &'a [f64]) -> Self {
        PairwiseDifferences { candidate, baseline }
    }

    /// The number of differences, n·m.
    pub(super) fn len(&self) -> u64 {
        self.candidate.len() as u64 * self.baseline.len() as u64
    }

    fn rows(&self) -> usize {
        self.candidate.len()
    }

    fn columns(&self) -> usize {
        self.baseline.len()
    }

    fn value(&self, row: usize, column: usize) -> f64 {
        self.candidate[row] - self.baseline[self.baseline.len() - 1 - column]
    }

    /// For every row, the number of its elements below `pivot` (or at most `pivot` when
    /// `inclusive`), written to `per_row`; returns their total.
    ///
    /// Walking the original baseline order, the elements of row i that are below the pivot
    /// are those from some index t_i on, and t_i never decreases with i; one staircase walk of
    /// n + m steps finds them all. The walk advances either the row or the index on each step,
    /// chosen by a comparison rather than a branch, so that its speed does not depend on how
    /// predictable the data are.
    fn count_below(&self, pivot: f64, inclusive: bool, per_row: &mut [usize]) -> u64 {
        let (rows, columns) = (self.rows(), self.columns());
        let mut row = 0;
        let mut index = 0;
        let mut total = 0u64;
        while row < rows && index < columns {
            let value = self.candidate[row] - self.baseline[index];
            let below = if inclusive { value <= pivot } else { value < pivot };
            let width = columns - index;
            per_row[row] = width;
            total += if below { width as u64 } else { 0 };
            row += usize::from(below);
            index += usize::from(!below);
        }
        // Once the index passes the end, no element of the remaining rows is below.
        per_row[row..].fill(0);
        total
    }

    /// The smallest difference strictly above `value`, if any: per row, the first element
    /// past the staircase at `value`.
    pub(super) fn next_above(&self, value: f64) -> Option<f64> {
        let mut up_to = vec![0usize; self.rows()];
        self.count_below(value, true, &mut up_to);
        up_to
            .iter()
            .enumerate()
            .filter(|(_, column)| **column < self.columns())
            .map(|(row, column)| self.value(row, *column))
            .min_by(f64::total_cmp)
    }

    /// The number of differences at most `value`.
    pub(super) fn count_up_to(&self, value: f64) -> u64 {
        let mut scratch = vec![0usize; self.rows()];
        self.count_below(value, true, &mut scratch)
    }

    /// The `k`-th smallest difference, counting from 1. `k` must lie in 1..=len().
    pub(super) fn kth_smallest(&self, k: u64) -> f64 {
        debug_assert!(k >= 1 && k <= self.len(), "rank {k} outside 1..={}", self.len());
        // Gathering costs about as much as a few walks up to this many elements.
        let gather_limit = ((self.rows() + self.columns()) as u64).max(GATHER_MINIMUM);
        let mut bracket = Bracket::new(self);
        let mut probes = if self.len() > gather_limit { self.guesses(k) } else { Vec::new() };
        let mut round_start_remaining = u64::MAX;
        let mut last_round_was_median = false;
        loop {
            let remaining = bracket.remaining();
            if remaining <= gather_limit {
                return bracket.gather(self, k);
            }
            if let Some(pivot) = probes.pop() {
                if let Some(answer) = bracket.probe(self, k, pivot, false) {
                    return answer;
                }
                continue;
            }
            if remaining <= round_start_remaining / 2 || last_round_was_median {
                // Interpolate the answer's position and probe just below and just above it,
                // so that a good interpolation closes the bracket from both sides at once.
                let position = (k - bracket.before()) as f64 - 0.5;
                let half_width = (gather_limit / 4).min(remaining / 4) as f64;
                probes = vec![
                    bracket.interpolate(position + half_width, remaining),
                    bracket.interpolate(position - half_width, remaining),
                ];
                last_round_was_median = false;
            } else {
                let pivot = bracket.weighted_median(self, remaining);
                if let Some(answer) = bracket.probe(self, k, pivot, true) {
                    return answer;
                }
                last_round_was_median = true;
            }
            round_start_remaining = remaining;
        }
    }

    /// Two values that probably bracket the `k`-th smallest difference, read off a grid
    /// subsample, in the order they should be tried (last first).
    fn guesses(&self, k: u64) -> Vec<f64> {
        let pick = |len: usize| -> Vec<usize> {
            let count = len.min(GUESS_GRID);
            (0..count).map(|idx| (2 * idx + 1) * len / (2 * count)).collect()
        };
        let rows = pick(self.rows());
        let columns = pick(self.columns());
        let mut sample: Vec<f64> = rows
            .iter()
            .flat_map(|&row| columns.iter().map(move |&column| self.value(row, column)))
            .collect();
        let quantile = (k as f64 - 0.5) / self.len() as f64;
        // The rank of a subsample quantile in the whole matrix wanders by about
        // √(q(1 − q)(1/r + 1/c)) in relative terms.
        let spread =
            (quantile * (1.0 - quantile) * (1.0 / rows.len() as f64 + 1.0 / columns.len() as f64))
                .sqrt();
        let last = sample.len() - 1;
        let mut at = |fraction: f64| {
            let index = (fraction.clamp(0.0, 1.0) * last as f64).round() as usize;
            *sample.select_nth_unstable_by(index, f64::total_cmp).1
        };
        let low = at(quantile - GUESS_MARGIN * spread);
        let high = at(quantile + GUESS_MARGIN * spread);
        vec![high, low]
    }
}

/// Per row, the window of columns that may still hold the answer, and values that bound
/// the window elements from below and above.
struct Bracket {
    start: Vec<usize>,
    end: Vec<usize>,
    low_value: f64,
    high_value: f64,
    /// Scratch space for one walk's per-row counts.
    per_row: Vec<usize>,
    /// Scratch space for the weighted median.
    middles: Vec<(f64, u64)>,
}

impl Bracket {
    fn new(matrix: &PairwiseDifferences) -> Bracket {
        let (rows, columns) = (matrix.rows(), matrix.columns());
        Bracket {
            start: vec![0; rows],
            end: vec![columns; rows],
            low_value: matrix.value(0, 0),
            high_value: matrix.value(rows - 1, columns - 1),
            per_row: vec![0; rows],
            middles: Vec::with_capacity(rows),
        }
    }

    /// Elements left of the windows: all of them rank below the answer.
    fn before(&self) -> u64 {
        self.start.iter().map(|&start| start as u64).sum()
    }

    fn remaining(&self) -> u64 {
        self.start.iter().zip(&self.end).map(|(start, end)| (end - start) as u64).sum()
    }

    /// The value at `position` (0-based, fractional) among the `remaining` window elements,
    /// if they were spread evenly between the bounds.
    fn interpolate(&self, position: f64, remaining: u64) -> f64 {
        let fraction = (position / remaining as f64).clamp(0.0, 1.0);
        self.low_value + fraction * (self.high_value - self.low_value)
    }

    /// Narrows the windows around the `k`-th smallest element with `pivot`. With
    /// `check_equal`, also finds out whether the answer equals the pivot, which guarantees
    /// progress when many elements are tied; returns the answer when it does.
    fn probe(
        &mut self,
        matrix: &PairwiseDifferences,
        k: u64,
        pivot: f64,
        check_equal: bool,
    ) -> Option<f64> {
        if !(pivot >= self.low_value && pivot <= self.high_value) {
            return None;
        }
        let below = matrix.count_below(pivot, false, &mut self.per_row);
        if k <= below {
            // The answer is below the pivot: drop everything from the pivot up.
            for (end, &limit) in self.end.iter_mut().zip(&self.per_row) {
                *end = (*end).min(limit);
            }
            self.high_value = pivot;
        } else {
            if check_equal {
                let up_to = matrix.count_below(pivot, true, &mut self.per_row);
                if k <= up_to {
                    return Some(pivot);
                }
            }
            // The answer is at least the pivot (above it, after the check): drop what is below.
            for (start, &limit) in self.start.iter_mut().zip(&self.per_row) {
                *start = (*start).max(limit);
            }
            self.low_value = pivot;
        }
        for (start, end) in self.start.iter_mut().zip(&self.end) {
            *start = (*start).min(*end);
        }
        None
    }

    /// The weighted median of the windows' middle elements: at least a quarter of the window
    /// elements lie on each side of it.
    fn weighted_median(&mut self, matrix: &PairwiseDifferences, remaining: u64) -> f64 {
        self.middles.clear();
        for (row, (&start, &end)) in self.start.iter().zip(&self.end).enumerate() {
            if end > start {
                let middle = matrix.value(row, start + (end - start) / 2);
                self.middles.push((middle, (end - start) as u64));
            }
        }
        weighted_median(&mut self.middles, remaining)
    }

    /// The `k`-th smallest element, selected among the gathered window elements.
    fn gather(&self, matrix: &PairwiseDifferences, k: u64) -> f64 {
        let mut gathered = Vec::with_capacity(self.remaining() as usize);
        for (row, (&start, &end)) in self.start.iter().zip(&self.end).enumerate() {
            gathered.extend((start..end).map(|column| matrix.value(row, column)));
        }
        let index = (k - self.before() - 1) as usize;
        *gathered.select_nth_unstable_by(index, f64::total_cmp).1
    }
}

/// The value at which the cumulative weight of `items` (value, weight), taken in ascending
/// order of value, first reaches half of `total_weight`. Runs in expected linear time.
fn weighted_median(items: &mut [(f64, u64)], total_weight: u64) -> f64 {
    let mut needed = total_weight.div_ceil(2);
    let mut low = 0;
    let mut high = items.len();
    loop {
        let part = &mut items[low..high];
        if part.len() == 1 {
            return part[0].0;
        }
        let middle = part.len() / 2;
        part.select_nth_unstable_by(middle, |a, b| a.0.total_cmp(&b.0));
        let left_weight: u64 = part[..middle].iter().map(|item| item.1).sum();
        let through_middle = left_weight + part[middle].1;
        if left_weight >= needed {
            high = low + middle;
        } else if through_middle >= needed {
            return part[middle].0;
        } else {
            needed -= through_middle;
            low += middle + 1;
        }
    }
}
