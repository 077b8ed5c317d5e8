r"""Memoryless token models with a linear reward: the exact law of the total reward :math:`\sum_i r(y_i)` (R3).

``law_of_sum(p, r, n)`` first merges tokens of equal reward and drops zero-probability tokens; sums of ``n``
rewards that would overflow float64 raise a ``ValueError`` naming ``r``. Then:

**Lattice rewards** (every distinct reward equals :math:`u_0 + b k`, :math:`k` a non-negative integer,
:math:`\gcd(k) = 1`,
with step ratios of denominator at most ``MAX_DENOMINATOR`` and up to a relative ``LATTICE_RTOL`` of the reward
range; rewards closer than that share a level) give the law of ``K = sum_i k(y_i)`` on ``0 .. n kmax``, the
certified convolution power of the token law on its lattice (:func:`lmalign.lattice_sum.certified_lattice_power`:
tilted windows, edge recurrence, float windows, direct convolution). Every level, however far in the tails, is a
log-probability with a certified bound on its error (``TokenSumLaw.log_error``) within ``max(1e-10, 4 ulp)`` of
the log; a level no method certifies raises ``ArithmeticError`` naming the length and the levels, rather than
return a less accurate value. More than ``MAX_LEVELS`` lattice levels are summed by type classes when there are
few (below), else a ``ValueError`` names ``length`` and the limit.

Measured (``benchmarks/bench_exact.py``, ``p = [205, 154, 123, 102, 102, 92, 82, 72, 51, 41] / 1024``, rewards
0..9): every level agrees with the exact integer law (python-flint) at lengths 1,500 and 10,000, and with an arb
saddle-point reference at sampled levels over both tails at length 10^5, within its certificate; the time is
about one to two float FFT powers of the same law from length 10^4 to 10^6.

**Other rewards**: multinomial type classes, every count vector ``c`` over the distinct rewards with
log-probability :math:`\log n! - \sum_j \log c_j! + \sum_j c_j \log p_j`; each class's total is
:math:`c \cdot r` (one float per count vector). Totals are sorted and consecutive totals closer than
``LATTICE_RTOL`` :math:`\cdot\, n \max(\mathrm{range}, |r_{\min}|)` (far above the rounding of :math:`c \cdot r`)
are merged into one level, valued at the lowest of them. A ``ValueError`` is raised when
:math:`\binom{n + k - 1}{k - 1}` exceeds ``MAX_TYPE_CLASSES``.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
from scipy.special import gammaln

from lmalign import _validate, lattice_sum
from lmalign._logspace import log_sum_exp, shifted_tilt
from lmalign.law import RewardLaw, merge_sorted_log

LATTICE_RTOL = 1e-12
MAX_DENOMINATOR = 1000
MAX_LATTICE_STEPS = 10**7  # a reward range of more lattice steps than this is treated as non-lattice
MAX_LEVELS = 20_000_000
MAX_TYPE_CLASSES = 2_000_000
# public names of the lattice power that lived here before it became a module of its own (lmalign.lattice_sum)
_MOVED = (
    "certified_lattice_power",
    "reachable_totals",
    "REL_TARGET",
    "DIRECT_MAX_LEVELS",
    "CLASS_COUNTS",
    "MAX_CLASSES",
    "CHERNOFF_SHIFTS",
    "DOMINANT_MAX_J",
    "DOMINANT_FIRST",
    "TINY",
    "DIRECT_FALLBACK_MAX_LEVELS",
    "U",
    "EDGE_VECTOR_TERMS",
)


def __getattr__(name: str):
    """The lattice-power names that moved to :mod:`lmalign.lattice_sum`, with a ``DeprecationWarning``."""
    if name in _MOVED:
        warnings.warn(
            f"lmalign.memoryless.{name} moved to lmalign.lattice_sum.{name}", DeprecationWarning, stacklevel=2
        )
        return getattr(lattice_sum, name)
    raise AttributeError(f"module 'lmalign.memoryless' has no attribute {name!r}")


def _token_law(p, r) -> tuple[np.ndarray, np.ndarray]:
    """Validated token law merged on equal rewards: distinct rewards (sorted) and their log-probabilities."""
    pv = _validate.prob_vector(p, "p")
    rv = _validate.real_vector(r, "r")
    _validate.same_length(pv, rv, "p", "r")
    pv = pv / math.fsum(pv.tolist())  # renormalised: an excess mass e would become (1 + e)^length in the sum
    with np.errstate(divide="ignore"):
        values, logp = merge_sorted_log(rv, np.log(pv))
    # and again in log space: masses below the rounding of 1 (1 + 1e-72) are kept by the exact log-sum, so the
    # logs sum to 1 and no level of the sum gets a log-probability above 0
    return values, np.minimum(logp - _validate._log_total(logp), 0.0)


def token_tilt(p, r, lam: float) -> np.ndarray:
    r"""Per-token tilt :math:`p_\lambda(x) = p(x) e^{\lambda r(x)} / \sum_y p(y) e^{\lambda r(y)}`.

    Parameters
    ----------
    p : array_like
        The token probabilities.
    r : array_like
        The reward of each token.
    lam : float
        The tilt :math:`\lambda` (finite).

    Returns
    -------
    numpy.ndarray
        :math:`p_\lambda` as a probability vector over the tokens.

    Raises
    ------
    ValueError
        If ``p`` is not a probability vector, ``r`` holds NaN or infinities, the lengths differ, or ``lam`` is not
        a finite real.

    Examples
    --------
    >>> token_tilt([0.5, 0.5], [0.0, 1.0], 1.0).round(12).tolist()  # 1/(1+e), e/(1+e)
    [0.26894142137, 0.73105857863]
    """
    pv = _validate.prob_vector(p, "p")
    rv = _validate.real_vector(r, "r")
    _validate.same_length(pv, rv, "p", "r")
    lam = _validate.real_scalar(lam, "lam")
    with np.errstate(divide="ignore"):
        lw = np.log(pv) + shifted_tilt(rv, lam)[1]  # every exponent <= 0, no spurious overflow
    return np.exp(lw - log_sum_exp(lw))


def lattice_steps(values: np.ndarray) -> tuple[float, float, np.ndarray] | None:
    r"""The lattice :math:`v = u_0 + b k` the values lie on, if any.

    :math:`k` non-negative integers with :math:`\gcd(k) = 1`, when the step ratios have denominators at most
    ``MAX_DENOMINATOR`` (and the fit is within ``LATTICE_RTOL`` of the range); else ``None``.

    Parameters
    ----------
    values : numpy.ndarray
        Distinct values, increasing.

    Returns
    -------
    tuple or None
        ``(u0, b, k)`` with ``k`` an integer array, or ``None``.

    Examples
    --------
    >>> u0, b, k = lattice_steps(np.array([0.0, 0.5, 1.5]))
    >>> u0, b, k.tolist()
    (0.0, 0.5, [0, 1, 3])
    >>> lattice_steps(np.array([0.0, 1.0, np.pi])) is None
    True
    """
    u0 = float(values[0])
    if values.size == 1:
        return u0, 1.0, np.zeros(1, dtype=np.int64)
    d = values - u0
    span = float(d[-1])
    if span <= MAX_DENOMINATOR and (d == np.round(d)).all():  # integer steps: the ratios d / span are exact
        k = d.astype(np.int64)
        k //= int(np.gcd.reduce(k))
        return u0, span / float(k[-1]), k
    ratios = [Fraction(float(x) / span).limit_denominator(MAX_DENOMINATOR) for x in d]
    lcm = 1
    for fr in ratios:
        lcm = lcm * fr.denominator // math.gcd(lcm, fr.denominator)
        if lcm > MAX_LATTICE_STEPS:  # steps too fine to be a useful lattice (and int64 would overflow)
            return None
    k = np.array([int(fr * lcm) for fr in ratios], dtype=np.int64)
    g = int(np.gcd.reduce(k))
    k //= g
    b = span / float(k[-1])
    if np.max(np.abs(u0 + b * k - values)) > LATTICE_RTOL * max(span, abs(u0)):
        return None
    return u0, b, k


class TokenSumLaw(RewardLaw):
    r"""Law of the total reward of ``length`` i.i.d. tokens.

    It remembers its token law (so a tilt can be solved per token: the tilt of the sum by :math:`\lambda` is the
    sum of tokens tilted by :math:`\lambda`) and, on lattices, the certified bound on the error of each
    log-probability (``log_error``).

    Parameters
    ----------
    values, probs : array_like
        As for :class:`~lmalign.law.RewardLaw`; the laws are made by :func:`law_of_sum`, which also records
        ``token_law``, ``length`` and ``log_error``.

    Examples
    --------
    >>> law = law_of_sum([0.5, 0.5], [0.0, 1.0], 2)
    >>> type(law).__name__, law.length, law.token_law.values.tolist(), bool(law.log_error.max() < 1e-10)
    ('TokenSumLaw', 2, [0.0, 1.0], True)
    """

    __slots__ = ("_token_law", "_length", "_log_error")
    _token_law: RewardLaw
    _length: int
    _log_error: np.ndarray | None

    @classmethod
    def _build(
        cls, values: np.ndarray, logprobs: np.ndarray, token_law: RewardLaw, length: int, log_error: np.ndarray | None
    ) -> TokenSumLaw:
        law = cls._trusted(values, np.minimum(logprobs, 0.0))  # a log-probability above 0 is rounding
        law._token_law, law._length = token_law, length
        if log_error is not None:
            log_error = np.ascontiguousarray(log_error, dtype=float)
            log_error.setflags(write=False)
        law._log_error = log_error
        return law

    @property
    def token_law(self) -> RewardLaw:
        """The law of one token's reward."""
        return self._token_law

    @property
    def length(self) -> int:
        """Number of tokens summed."""
        return self._length

    @property
    def log_error(self) -> np.ndarray | None:
        r"""Certified bound on :math:`|\mathrm{computed} - \mathrm{exact}|` of each log-probability (``None`` off
        lattices)."""
        return self._log_error


def _check_sums_fit(values: np.ndarray, n: int) -> None:
    """Raise a ``ValueError`` naming ``r`` if a sum of ``n`` rewards can overflow float64 (for ``n >= 2`` this
    also covers an overflowing reward range ``max r - min r``)."""
    top = max(abs(float(values[0])), abs(float(values[-1])))
    if not math.isfinite(float(n) * top):
        raise ValueError(
            f"r: sums of length={n} rewards overflow float64 (largest |r| is {top:.3g}); rescale the rewards"
        )


def _type_class_count(k: int, n: int) -> int:
    r"""Number :math:`\binom{n + k - 1}{k - 1}` of count vectors of ``n`` tokens over ``k`` values, capped just above
    ``MAX_TYPE_CLASSES`` (so that a huge ``n`` costs nothing)."""
    count = 1
    for i in range(1, k):  # C(n + i, i) = C(n + i - 1, i - 1) (n + i) / i, exact in integers
        count = count * (n + i) // i
        if count > MAX_TYPE_CLASSES:
            return MAX_TYPE_CLASSES + 1
    return count


def _type_class_law(values: np.ndarray, logp: np.ndarray, n: int) -> RewardLaw:
    """Exact law by enumerating count vectors (multinomial type classes)."""
    k = values.size
    count = _type_class_count(k, n)
    if count > MAX_TYPE_CLASSES:
        raise ValueError(
            f"length={n} with {k} non-lattice reward values needs more than {MAX_TYPE_CLASSES} type "
            "classes; round the rewards to a lattice or shorten the length"
        )
    counts = np.zeros((1, 0), dtype=np.int64)
    for j in range(k - 1):  # build all vectors of k-1 leading counts with sum <= n
        rem = n - counts.sum(axis=1)
        reps = rem + 1
        base = np.repeat(counts, reps, axis=0)
        nxt = np.concatenate([np.arange(r) for r in reps])
        counts = np.column_stack([base, nxt])
        del j
    counts = np.column_stack([counts, n - counts.sum(axis=1)])
    logpmf = gammaln(n + 1) - gammaln(counts + 1).sum(axis=1) + counts @ logp
    totals = counts @ values
    order = np.argsort(totals, kind="stable")
    totals, logpmf = totals[order], logpmf[order]
    tol = LATTICE_RTOL * max(float(values[-1] - values[0]), abs(float(values[0])), 1e-300) * n
    group = np.concatenate(([0], np.cumsum(np.diff(totals) > tol)))
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    merged = np.array([log_sum_exp(seg) for seg in np.split(logpmf, starts[1:])])
    return RewardLaw._trusted(totals[starts], merged)


def law_of_sum(p, r, length: int) -> RewardLaw:
    r"""Exact law of :math:`\sum_{i \le n} r(y_i)` with :math:`y_i` i.i.d. from the token law :math:`p`.

    Lattice rewards: certified tilted windows with edge and rare-token fallbacks (see the module docstring),
    every level a log-probability within its certified bound ``log_error``, at most ``max(1e-10, 4 ulp)``.
    Other rewards: multinomial type classes.

    Parameters
    ----------
    p : array_like
        The token probabilities.
    r : array_like
        The reward of each token.
    length : int
        The number :math:`n \ge 1` of tokens.

    Returns
    -------
    TokenSumLaw
        The law of the sum, with its token law, length and (on lattices) certificate.

    Raises
    ------
    ValueError
        If ``p`` or ``r`` are refused (see :func:`token_tilt`), ``length`` is not an integer :math:`\ge 1`, sums
        overflow float64 (naming ``r``), there would be more than ``MAX_TYPE_CLASSES`` type classes, or more than
        ``MAX_LEVELS`` lattice levels and type classes alike (naming ``length``).
    ArithmeticError
        If no method certifies a level (naming the length and the levels).

    Examples
    --------
    >>> law = law_of_sum([0.5, 0.5], [0.0, 1.0], 2)
    >>> law.values.tolist(), law.probs.round(12).tolist()
    ([0.0, 1.0, 2.0], [0.25, 0.5, 0.25])
    >>> law_of_sum([0.5, 0.25, 0.25], [0.0, 1.0, np.pi], 2).probs.round(12).tolist()  # type classes
    [0.25, 0.25, 0.0625, 0.25, 0.125, 0.0625]
    """
    values, logp = _token_law(p, r)
    n = _validate.positive_int(length, "length")
    _check_sums_fit(values, n)
    token = RewardLaw._trusted(values, logp)
    if values.size == 1:  # one reward value: the total is certain (its merged log-mass is 0 up to rounding)
        return TokenSumLaw._build(n * values, np.zeros(1), token, n, np.zeros(1))
    if n == 1:
        return TokenSumLaw._build(values, logp, token, n, np.zeros(values.size))
    lat = lattice_steps(values)
    if lat is not None:
        u0, b, k = lat
        levels = n * int(k[-1]) + 1
        if levels > MAX_LEVELS and _type_class_count(values.size, n) > MAX_TYPE_CLASSES:
            raise ValueError(
                f"length={n}: the law of the sum has {levels} lattice levels (limit {MAX_LEVELS}) and more than "
                f"{MAX_TYPE_CLASSES} type classes; use length <= {(MAX_LEVELS - 1) // int(k[-1])} with these "
                "rewards"
            )
        if levels <= MAX_LEVELS:
            logq = np.full(int(k[-1]) + 1, -np.inf)
            np.logaddexp.at(logq, k, logp)  # rewards within the lattice tolerance share a level
            # the token law in extended precision, so that its double rounding is not raised to the n-th power
            # (p and r were validated by _token_law above: plain conversions here)
            pv = np.asarray(p, dtype=float).reshape(-1)
            used = pv > 0  # zero-probability tokens were dropped from values
            q_ext = np.zeros(int(k[-1]) + 1, dtype=np.longdouble)
            np.add.at(
                q_ext,
                k[np.searchsorted(values, np.asarray(r, dtype=float).reshape(-1)[used])],
                pv[used].astype(np.longdouble),
            )
            q_ext /= q_ext.sum()
            logP, cert = lattice_sum.certified_lattice_power(logq, n, q_ext)
            if logP[0] > -np.inf and logP[-1] > -np.inf and bool(np.all(logq > -np.inf)):  # every level reached
                return TokenSumLaw._build(n * u0 + b * np.arange(logP.size), logP, token, n, cert)
            kk = np.flatnonzero(logP > -np.inf)
            return TokenSumLaw._build(n * u0 + b * kk, logP[kk], token, n, cert[kk])
    law = _type_class_law(values, logp, n)
    return TokenSumLaw._build(law.values, law.logprobs, token, n, None)
