"""Times SciPy's Mann-Whitney U test on the sizes of benches/judge.rs, as a reference.

Run with `python3 benches/scipy_reference.py` (needs `pip install scipy numpy`). The data
follow the bench's latency model (a log-normal body with a 3 % heavy tail); SciPy computes U
and the asymptotic p-value with tie and continuity corrections, the same statistic as the
judge's rank-sum test, but no confidence interval.
"""

import time

import numpy as np
import scipy
from scipy import stats


def latencies(rng, count, scale):
    tail = rng.random(count) < 0.03
    median = np.where(tail, 0.150, 0.020)
    sigma = np.where(tail, 0.8, 0.5)
    return scale * np.exp(np.log(median) + sigma * rng.standard_normal(count))


def fastest_millis(repetitions, work):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[0], times[len(times) // 2]


def main():
    rng = np.random.default_rng(42)
    baseline = latencies(rng, 100_000, 1.0)
    candidate = latencies(rng, 100_000, 1.05)
    fastest, median = fastest_millis(21, lambda: stats.mannwhitneyu(
        candidate, baseline, use_continuity=True, alternative="two-sided", method="asymptotic"))
    print(f"SciPy {scipy.__version__} mannwhitneyu, 2 x 100000 samples: "
          f"{fastest:.2f} ms (median {median:.2f} ms)")


if __name__ == "__main__":
    main()
