"""Timing ratios of the exact methods at length 1e4 with ten token values (run: make bench).

Prints, in one run:
* exact ``RewardLaw.from_tokens`` + ``best_of_n`` (log N = n delta) against a plain float FFT of the same law
  (which is fast but loses every level below about 1e-16 of the peak: its worst relative error is shown);
* exact best-of-N against Monte Carlo best-of-N at equal accuracy on the mean reward. Monte Carlo cannot sample
  N = e^{n delta}; it is timed at a feasible N with a feasible number of draws, and the time to reach the exact
  method's accuracy is extrapolated from its standard error (clearly marked as an extrapolation).
Medians over repeats; ratios are what matters, not absolute times.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import scipy.fft as sfft

from lmalign import RewardLaw, best_of_n

LENGTH = 10_000
DELTA = 0.5
REPEATS = 5


def median_time(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain_fft_law(p: np.ndarray, n: int) -> np.ndarray:
    size = n * (p.size - 1) + 1
    m = sfft.next_fast_len(size, real=True)
    return sfft.irfft(sfft.rfft(p, m) ** n, m)[:size]


def main() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10))
    r = np.arange(10.0)

    def exact() -> RewardLaw:
        law = RewardLaw.from_tokens(p, r, LENGTH)
        return best_of_n(law, log_n=LENGTH * DELTA)

    t_exact = median_time(exact)
    t_fft = median_time(lambda: plain_fft_law(p, LENGTH))
    law = RewardLaw.from_tokens(p, r, LENGTH)
    approx = plain_fft_law(p, LENGTH)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(approx / np.exp(law.logprobs) - 1)
    rel_worst = float(np.nanmax(np.where(np.isfinite(rel), rel, np.inf)))
    bad_levels = int(np.sum(~(rel < 1e-10)))
    print(f"length {LENGTH}, ten token values, delta {DELTA} (N = e^{LENGTH * DELTA:.0f}); medians of {REPEATS}")
    print(f"exact from_tokens + best_of_n : {t_exact:8.3f} s")
    print(f"plain float FFT of the law    : {t_fft:8.3f} s   ratio exact/FFT = {t_exact / t_fft:.1f}")
    print(f"  plain FFT worst relative error over the {len(law)} levels: {rel_worst:.1e} "
          f"({bad_levels} levels off by more than 1e-10; smallest exact level e^{law.logprobs.min():.0f})")

    # Monte Carlo best-of-N at a feasible N on a short length, compared with the exact law of the same problem
    n_tokens, n_best, draws = 50, 64, 2000
    small = RewardLaw.from_tokens(p, r, n_tokens)
    exact_small = best_of_n(small, n=n_best)
    t_exact_small = median_time(lambda: best_of_n(RewardLaw.from_tokens(p, r, n_tokens), n=n_best))

    def monte_carlo() -> np.ndarray:
        totals = rng.choice(r, size=(draws, n_best, n_tokens), p=p).sum(axis=2)
        return totals.max(axis=1)

    t_mc = median_time(monte_carlo, repeats=3)
    sample = monte_carlo()
    se = float(sample.std(ddof=1) / math.sqrt(draws))
    target = 1e-10 * abs(exact_small.mean())  # the exact method's accuracy on the mean, relative 1e-10
    draws_needed = (se * math.sqrt(draws) / target) ** 2
    t_mc_equal = t_mc * draws_needed / draws
    print(f"best-of-{n_best} at length {n_tokens}: exact {t_exact_small:.4f} s; Monte Carlo {draws} draws "
          f"{t_mc:.3f} s (standard error of the mean {se:.2e})")
    print(f"  Monte Carlo at equal accuracy (1e-10 relative on the mean) needs ~{draws_needed:.1e} draws: "
          f"~{t_mc_equal:.1e} s (extrapolated), ratio Monte Carlo/exact = {t_mc_equal / t_exact_small:.1e}")
    print(f"  (and Monte Carlo cannot draw N = e^{LENGTH * DELTA:.0f} samples at all)")


if __name__ == "__main__":
    main()
