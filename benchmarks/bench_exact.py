"""Timing ratios of the exact token-model law and best-of-N at length 1e4 with ten token values.

Run: ``.venv/bin/python benchmarks/bench_exact.py`` (or ``make bench``). Prints, in one run:

* exact ``RewardLaw.from_tokens`` + ``best_of_n`` (``log N = length * delta``) against a plain float FFT of the
  same law, as a time ratio, with the plain FFT's relative error over the levels measured against the exact law
  (the FFT is fast but only resolves levels down to about 1e-16 of the peak);
* exact best-of-N against Monte Carlo best-of-N at equal accuracy on the mean reward. Monte Carlo is run at a
  feasible ``N`` (it cannot draw ``N = e^{length delta}`` samples at all), sampling each total exactly through
  its multinomial token counts; the number of draws needed to bring its standard error down to the exact
  method's error on the mean, and the time that would take, are *extrapolated* from a feasible run.

Times are medians over repeats; absolute numbers depend on the machine (and on its load), the ratios are the
point. No test asserts a time.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import scipy.fft as sfft

from lmalign import RewardLaw
from lmalign.best_of_n import best_of_n

LENGTH = 10_000
TOKENS = 10
DELTA = 0.5  # log N = LENGTH * DELTA for the exact best-of-N
MC_N = 16  # best-of-N size Monte Carlo can actually sample
MC_DRAWS = 2000  # feasible number of Monte Carlo best-of-N draws
REPEATS = 5
SEED = 0


def median_time(fn, repeats: int = REPEATS) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain_fft_law(p: np.ndarray, n: int) -> np.ndarray:
    """Float FFT power of the token law on 0..k-1 (no tilting): probabilities of the totals 0..n (k-1)."""
    size = n * (p.size - 1) + 1
    m = sfft.next_fast_len(size, real=True)
    return sfft.irfft(sfft.rfft(p, m) ** n, m)[:size]


def fft_errors(approx: np.ndarray, exact_log: np.ndarray) -> tuple[float, float, int, int]:
    """Plain FFT against the exact law: worst relative error over the levels whose exact probability is a
    normal double, the smallest exact probability (as a log) it still gets to 1e-10, and the number of levels
    it gets wrong by more than 1e-10 relative (or returns as zero or negative)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.abs(np.expm1(np.log(approx) - exact_log))
    rel[~(approx > 0)] = 1.0  # a zero or negative probability: the level is lost entirely
    normal = exact_log > math.log(np.finfo(float).tiny)
    good = rel < 1e-10
    return float(rel[normal].max()), float(exact_log[good].min()), int((~good).sum()), int(normal.sum())


def interleaved(fns: dict, repeats: int) -> dict:
    """Median time of each function, the functions called in turn within each repeat."""
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def scaling() -> None:
    """from_tokens against the float FFT power (and python-flint's exact integer and arb ball powers where they
    fit) on p = WEIGHTS / 1024 (exact doubles), r = 0..9, lengths 1e3 to 1e6, interleaved."""
    import flint

    weights = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41]
    p = np.array(weights) / 1024
    r = np.arange(10.0)
    print("scaling (p = [205,154,123,102,102,92,82,72,51,41]/1024, r = 0..9), interleaved medians:")
    for n in (1_000, 10_000, 100_000, 1_000_000):
        fns = {"exact": lambda n=n: RewardLaw.from_tokens(p, r, n), "fft": lambda n=n: plain_fft_law(p, n)}
        if n <= 10_000:
            fns["fmpz"] = lambda n=n: flint.fmpz_poly(weights) ** n
        if n <= 1_000:
            def arb_power(n=n):
                flint.ctx.prec = 128
                return flint.arb_poly([flint.arb(w) / 1024 for w in weights]) ** n
            fns["arb"] = arb_power
        t = interleaved(fns, 5 if n <= 100_000 else 1)
        law = RewardLaw.from_tokens(p, r, n)
        extra = "".join(f", {k} {t[k]:.4f} s ({t[k] / t['exact']:.2g}x exact)" for k in ("fmpz", "arb") if k in t)
        print(f"  n={n:>9,}: exact {t['exact']:.4f} s, float FFT {t['fft']:.4f} s, ratio {t['exact'] / t['fft']:.2f}"
              f"{extra}; certified max |log error| {law.log_error.max():.2e}")


def main() -> None:
    rng = np.random.default_rng(SEED)
    p = rng.dirichlet(np.ones(TOKENS))
    r = np.arange(float(TOKENS))
    log_n = LENGTH * DELTA

    def exact() -> RewardLaw:
        return best_of_n(RewardLaw.from_tokens(p, r, LENGTH), log_n=log_n)

    t_law = median_time(lambda: RewardLaw.from_tokens(p, r, LENGTH))
    t_exact = median_time(exact)
    t_fft = median_time(lambda: plain_fft_law(p, LENGTH))
    law = RewardLaw.from_tokens(p, r, LENGTH)
    worst_normal, smallest_ok, n_bad, n_normal = fft_errors(plain_fft_law(p, LENGTH), law.logprobs)
    mean_err = abs(law.mean() - LENGTH * float(np.dot(p, r))) / (LENGTH * float(np.dot(p, r)))

    print(f"length {LENGTH}, {TOKENS} token values (Dirichlet(1) probabilities, seed {SEED}), "
          f"{len(law)} levels; medians of {REPEATS} repeats")
    print(f"exact from_tokens                   : {t_law:8.4f} s")
    print(f"exact from_tokens + best_of_n       : {t_exact:8.4f} s   (log N = {log_n:g}, N = e^{log_n:g})")
    print(f"plain float FFT of the same law     : {t_fft:8.4f} s   ratio exact law / plain FFT = "
          f"{t_law / t_fft:.1f}, exact law + best-of-N / plain FFT = {t_exact / t_fft:.1f}")
    print(f"  plain FFT vs exact: {n_bad} of {len(law)} levels off by more than 1e-10 relative "
          f"(zero or negative, or wrong); correct only down to probability e^{smallest_ok:.0f}")
    print(f"  worst relative error over the {n_normal} levels whose exact probability is a normal double: "
          f"{worst_normal:.1e}; smallest exact level e^{law.logprobs.min():.0f}")
    print(f"  exact law's mean vs length x token mean: relative error {mean_err:.1e}")

    # Monte Carlo best-of-N at a feasible N, against the exact law of the same best-of-N
    # the exact method's accuracy on the mean reward: its measured error, but no finer than 1e-12 relative
    # (in Monte Carlo's favour: the per-level accuracy is about 1e-11)
    target = max(mean_err, 1e-12) * law.mean()
    t_exact_mc_problem = median_time(lambda: best_of_n(RewardLaw.from_tokens(p, r, LENGTH), n=MC_N))
    exact_bon = best_of_n(law, n=MC_N)

    def monte_carlo() -> np.ndarray:
        totals = rng.multinomial(LENGTH, p, size=(MC_DRAWS, MC_N)) @ r  # each total sampled exactly
        return totals.max(axis=1)

    t_mc = median_time(monte_carlo, repeats=3)
    sample = monte_carlo()
    sd = float(sample.std(ddof=1))
    se = sd / math.sqrt(MC_DRAWS)
    draws_needed = (sd / target) ** 2
    t_mc_equal = t_mc * draws_needed / MC_DRAWS
    print(f"best-of-{MC_N} at length {LENGTH}: exact from_tokens + best_of_n {t_exact_mc_problem:.4f} s "
          f"(mean {exact_bon.mean():.4f}); Monte Carlo {MC_DRAWS} draws {t_mc:.4f} s (mean {sample.mean():.4f}, "
          f"standard error {se:.2e}, {abs(sample.mean() - exact_bon.mean()) / se:.1f} standard errors off)")
    print(f"  EXTRAPOLATED: Monte Carlo at equal accuracy (standard error {target:.1e} on the mean, "
          f"{target / law.mean():.0e} relative) needs "
          f"~{draws_needed:.1e} draws, ~{t_mc_equal:.1e} s; ratio Monte Carlo / exact = "
          f"{t_mc_equal / t_exact_mc_problem:.1e}")
    print(f"  (at N = e^{log_n:g} Monte Carlo cannot run at all; the exact method takes {t_exact:.4f} s)")


if __name__ == "__main__":
    main()
    scaling()
