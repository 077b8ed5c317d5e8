"""Timing ratios of the exact token-model law and best-of-N at length 1e4 with ten token values.

Run: ``.venv/bin/python benchmarks/bench_exact.py`` (or ``make bench``). Prints, in one run:

* exact ``RewardLaw.from_tokens`` + ``best_of_n`` (``log N = length * delta``) against a plain float FFT of the
  same law, as a time ratio, with the plain FFT's relative error over the levels measured against the exact law
  (the FFT is fast but only resolves levels down to about 1e-16 of the peak);
* exact best-of-N against Monte Carlo best-of-N at equal accuracy on the mean reward. Monte Carlo is run at a
  feasible ``N`` (it cannot draw ``N = e^{length delta}`` samples at all), sampling each total exactly through
  its multinomial token counts; the number of draws needed to bring its standard error down to the exact
  method's error on the mean, and the time that would take, are *extrapolated* from a feasible run;
* ``scaling()``: lengths 1e3 to 1e6, interleaved, ``from_tokens`` and the whole pipeline (:func:`pipeline`:
  law -> best-of-N -> the KL-constrained tilt at the same KL -> KL) against one float FFT power, and the exact
  alternatives of python-flint (``fmpz_poly`` and ``arb_poly`` powers, each skipped where its predicted time
  exceeds ``BUDGET_S``), with the certified bound and the measured error against exact references.

Times are medians over repeats; absolute numbers depend on the machine (and on its load), the ratios are the
point. No test asserts a time.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.fft as sfft

from lmalign import RewardLaw, kl_constrained
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
    """Median time of each function, the functions called in turn within each repeat, the order rotated from
    one repeat to the next (after one untimed call of the fast ones, for caches)."""
    times: dict = {k: [] for k in fns}
    for k in ("exact", "fft", "pipeline"):
        if k in fns:
            fns[k]()
    names = list(fns)
    for rep in range(repeats):
        for k in names[rep % len(names) :] + names[: rep % len(names)]:  # rotated: no one always follows another
            fn = fns[k]
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def pipeline(p: np.ndarray, r: np.ndarray, n: int) -> tuple[float, float, float]:
    """The whole exact pipeline at length ``n``: the law of the total reward, best-of-``e^{n DELTA}``, its KL,
    the KL-constrained optimum at that KL (the tilt), and the tilt's KL and both means."""
    law = RewardLaw.from_tokens(p, r, n)
    bon = best_of_n(law, log_n=n * DELTA)
    sol = kl_constrained(law, bon.kl(law))
    return sol.law.kl(law), bon.mean(), sol.mean


WEIGHTS = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41]  # p = WEIGHTS / 1024: exact doubles, exact rationals
BUDGET_S = 20.0  # an exact alternative is skipped at a length where its predicted time per call exceeds this
SCALING_LENGTHS = (1_000, 10_000, 100_000, 1_000_000)


def fmpz_logs(n: int) -> np.ndarray:
    """Exact ``log P(S_n = K)`` for every ``K``: integer coefficients ``c`` of ``(sum w_k x^k)^n``
    (python-flint), ``log P = log(top) + m log 2`` with ``top`` the leading 64 bits of ``c`` and the integer
    ``m = shift - 10 n`` (``1024 = 2^10``), ``m log 2`` in extended precision: error about 1e-14."""
    import flint

    tops, shifts = [], []
    for c in (flint.fmpz_poly(WEIGHTS) ** n).coeffs():
        c = int(c)
        shift = max(c.bit_length() - 64, 0)
        tops.append(float(c >> shift))
        shifts.append(shift - 10 * n)
    ln2 = np.log(np.longdouble(2))
    return (np.log(np.array(tops)) + np.array(shifts, dtype=np.longdouble) * ln2).astype(float)


def saddle_logs(n: int, levels: list[int]) -> np.ndarray:
    """``log P(S_n = K)`` at the given levels from the ball-arithmetic saddle-point reference of the tests
    (``tests/arb_reference.py``: python-flint ``acb.dft`` circular power of the tilted law, aliasing bounded by
    Chernoff in arb, 128 bits). Returns the midpoints (radii below 1e-20)."""
    import flint

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from arb_reference import log_prob

    flint.ctx.prec = 128
    out = []
    for level in levels:
        ref = log_prob(WEIGHTS, n, level)
        assert ref.rad() < 1e-20
        out.append(float(ref.mid()))
    return np.array(out)


def scaling() -> None:
    """from_tokens and the whole pipeline against one float FFT power (interleaved, the three in turn; the
    ratios are pipeline / FFT and from_tokens / FFT) and python-flint's exact alternatives (the
    integer power ``fmpz_poly ** n`` and the ball power ``arb_poly ** n`` at the precision that resolves the
    smallest level; interleaved with from_tokens in a second loop), on p = WEIGHTS / 1024, r = 0..9; each
    alternative skipped where its predicted time (from the previous length, growing like n^2) exceeds
    BUDGET_S. Accuracy: the largest certified bound, the largest error against the exact integer law (all
    levels) or the arb saddle-point reference (sampled levels)."""
    import flint

    p = np.array(WEIGHTS) / 1024
    r = np.arange(10.0)
    print(
        f"scaling (p = {WEIGHTS}/1024, r = 0..9), interleaved medians; exact alternatives skipped above a "
        f"predicted {BUDGET_S:g} s:"
    )
    last: dict[str, tuple[int, float]] = {}
    for n in SCALING_LENGTHS:
        law = RewardLaw.from_tokens(p, r, n)
        prec = 64 + math.ceil(-law.logprobs.min() / math.log(2)) + 2 * math.ceil(math.log2(n))

        def arb_power(n=n, prec=prec):
            flint.ctx.prec = prec
            return flint.arb_poly([flint.arb(w) / 1024 for w in WEIGHTS]) ** n

        exact = lambda n=n: RewardLaw.from_tokens(p, r, n)  # noqa: E731
        alts = {"fmpz": lambda n=n: flint.fmpz_poly(WEIGHTS) ** n, "arb": arb_power}
        skipped = {}
        for name in ("fmpz", "arb"):
            if name in last:
                n0, t0 = last[name]
                predicted = t0 * (n / n0) ** 2
                if predicted > BUDGET_S:
                    skipped[name] = predicted
                    del alts[name]
        # the target ratio from its own interleaved pair: a flint power of length 1e4 allocates about half a
        # gigabyte, and whatever runs right after it pays for that, so the alternatives are timed apart
        t = interleaved(
            {"exact": exact, "fft": lambda n=n: plain_fft_law(p, n), "pipeline": lambda n=n: pipeline(p, r, n)},
            7 if n <= 10_000 else 3,
        )
        if alts:
            t_alt = interleaved({"exact": exact, **alts}, 3)
            flint.ctx.prec = 53
            for name in alts:
                last[name] = (n, t_alt[name])
                t[name] = t_alt[name] * t["exact"] / t_alt["exact"]  # ratio to exact as measured alongside
        if "fmpz" in t:
            ref, where = fmpz_logs(n), "all levels vs exact integers"
            err = float(np.max(np.abs(law.logprobs - ref)))
        else:
            levels = sorted(
                {
                    0,
                    1,
                    7,
                    n,
                    2 * n,
                    3 * n,
                    7 * n // 2,
                    4 * n,
                    9 * n // 2,
                    5 * n,
                    6 * n,
                    8 * n,
                    9 * n - 7,
                    9 * n - 1,
                    9 * n,
                }
            )
            ref, where = saddle_logs(n, levels), f"{len(levels)} levels vs arb saddle point"
            err = float(np.max(np.abs(law.logprobs[levels] - ref)))
        fft = plain_fft_law(p, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            fft_ok = int(np.sum(np.abs(np.log(np.where(fft > 0, fft, np.nan)) - law.logprobs) < 1e-10))
        alt = "".join(f", {k} {last[k][1]:.3g} s ({t[k] / t['exact']:.3g}x exact)" for k in ("fmpz", "arb") if k in t)
        alt += "".join(f", {k} skipped (predicted {v:.0f} s)" for k, v in skipped.items())
        print(
            f"  n={n:>9,}: exact {t['exact']:.4f} s, float FFT {t['fft']:.4f} s, ratio "
            f"{t['exact'] / t['fft']:.2f}; pipeline {t['pipeline']:.4f} s, ratio {t['pipeline'] / t['fft']:.2f}{alt}"
        )
        print(
            f"      certified max |log error| {law.log_error.max():.2e}; max |error| {err:.1e} ({where}); "
            f"float FFT right to 1e-10 on {fft_ok:,} of {len(law):,} levels"
        )


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

    print(
        f"length {LENGTH}, {TOKENS} token values (Dirichlet(1) probabilities, seed {SEED}), "
        f"{len(law)} levels; medians of {REPEATS} repeats"
    )
    print(f"exact from_tokens                   : {t_law:8.4f} s")
    print(f"exact from_tokens + best_of_n       : {t_exact:8.4f} s   (log N = {log_n:g}, N = e^{log_n:g})")
    print(
        f"plain float FFT of the same law     : {t_fft:8.4f} s   ratio exact law / plain FFT = "
        f"{t_law / t_fft:.1f}, exact law + best-of-N / plain FFT = {t_exact / t_fft:.1f}"
    )
    print(
        f"  plain FFT vs exact: {n_bad} of {len(law)} levels off by more than 1e-10 relative "
        f"(zero or negative, or wrong); correct only down to probability e^{smallest_ok:.0f}"
    )
    print(
        f"  worst relative error over the {n_normal} levels whose exact probability is a normal double: "
        f"{worst_normal:.1e}; smallest exact level e^{law.logprobs.min():.0f}"
    )
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
    print(
        f"best-of-{MC_N} at length {LENGTH}: exact from_tokens + best_of_n {t_exact_mc_problem:.4f} s "
        f"(mean {exact_bon.mean():.4f}); Monte Carlo {MC_DRAWS} draws {t_mc:.4f} s (mean {sample.mean():.4f}, "
        f"standard error {se:.2e}, {abs(sample.mean() - exact_bon.mean()) / se:.1f} standard errors off)"
    )
    print(
        f"  EXTRAPOLATED: Monte Carlo at equal accuracy (standard error {target:.1e} on the mean, "
        f"{target / law.mean():.0e} relative) needs "
        f"~{draws_needed:.1e} draws, ~{t_mc_equal:.1e} s; ratio Monte Carlo / exact = "
        f"{t_mc_equal / t_exact_mc_problem:.1e}"
    )
    print(f"  (at N = e^{log_n:g} Monte Carlo cannot run at all; the exact method takes {t_exact:.4f} s)")


if __name__ == "__main__":
    main()
    scaling()
