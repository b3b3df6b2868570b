//! Order statistics of the n·m pairwise differences of two samples, without materialising them.
//!
//! With both samples ascending, the differences `candidate[i] − baseline[m − 1 − j]` form a
//! matrix whose rows and columns both ascend (floating-point subtraction is monotone in each
//! argument, so this holds for the rounded values too). Selection in such a matrix follows
//! Johnson and Mizoguchi (1978) and Monahan (1984): keep, per row, the window of columns that
//! may still hold the answer; pick as pivot the weighted median of the windows' middle
//! elements; count the elements below and up to the pivot in one staircase walk; and shrink
//! every window to the side that holds the answer. Each round removes at least a quarter of
//! the remaining elements, and each round costs O(n + m), so a selection costs
//! O((n + m) log(n·m)). Once few elements remain they are gathered and selected directly.

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
    /// `inclusive`), written to `per_row`; returns their total. The boundary column never
    /// grows from one row to the next, which makes this a single O(n + m) walk.
    fn count_below(&self, pivot: f64, inclusive: bool, per_row: &mut [usize]) -> u64 {
        let mut boundary = self.columns();
        let mut total = 0u64;
        for (row, slot) in per_row.iter_mut().enumerate() {
            while boundary > 0 {
                let value = self.value(row, boundary - 1);
                let below = if inclusive { value <= pivot } else { value < pivot };
                if below {
                    break;
                }
                boundary -= 1;
            }
            *slot = boundary;
            total += boundary as u64;
        }
        total
    }

    /// The `k`-th smallest difference, counting from 1. `k` must lie in 1..=len().
    pub(super) fn kth_smallest(&self, k: u64) -> f64 {
        debug_assert!(k >= 1 && k <= self.len(), "rank {k} outside 1..={}", self.len());
        let rows = self.rows();
        let mut window_start = vec![0usize; rows];
        let mut window_end = vec![self.columns(); rows];
        let mut below_pivot = vec![0usize; rows];
        let mut up_to_pivot = vec![0usize; rows];
        let mut middles: Vec<(f64, u64)> = Vec::with_capacity(rows);
        let gather_limit = (self.rows() + self.columns()) as u64;
        loop {
            let remaining: u64 =
                window_start.iter().zip(&window_end).map(|(start, end)| (end - start) as u64).sum();
            if remaining <= gather_limit {
                let before: u64 = window_start.iter().map(|&start| start as u64).sum();
                let mut gathered = Vec::with_capacity(remaining as usize);
                for (row, (&start, &end)) in window_start.iter().zip(&window_end).enumerate() {
                    gathered.extend((start..end).map(|column| self.value(row, column)));
                }
                let index = (k - before - 1) as usize;
                let (_, selected, _) = gathered.select_nth_unstable_by(index, f64::total_cmp);
                return *selected;
            }
            middles.clear();
            for (row, (&start, &end)) in window_start.iter().zip(&window_end).enumerate() {
                if end > start {
                    middles.push((self.value(row, start + (end - start) / 2), (end - start) as u64));
                }
            }
            let pivot = weighted_median(&mut middles, remaining);
            let below = self.count_below(pivot, false, &mut below_pivot);
            let up_to = self.count_below(pivot, true, &mut up_to_pivot);
            if below < k && k <= up_to {
                return pivot;
            }
            if k <= below {
                // The answer is below the pivot: drop everything from the pivot up.
                for (end, &limit) in window_end.iter_mut().zip(&below_pivot) {
                    *end = (*end).min(limit);
                }
            } else {
                // The answer is above the pivot: drop everything up to the pivot.
                for (start, &limit) in window_start.iter_mut().zip(&up_to_pivot) {
                    *start = (*start).max(limit);
                }
            }
            for (start, end) in window_start.iter_mut().zip(&window_end) {
                *start = (*start).min(*end);
            }
        }
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
