"""Sources with memory: a Markov reference model with an additive reward.

The response ``y = (y_1, ..., y_n)`` is a path of a Markov chain on ``k`` states (the tokens): ``y_1 ~ mu``,
``y_{i+1} ~ P(y_i, .)``, and the reward is additive, ``R(y) = sum_i r(y_i)``. As in the memoryless case, every
policy of the book reweights ``p`` by a function of ``R``, so all of them are computed on the law of ``R``.

- :func:`markov_law` / :func:`markov_laws`: the exact law of ``R`` by dynamic programming over
  (state, reward level), in log space: ``f_1(s, r(s)) = mu(s)``,
  ``f_{t+1}(s', v + r(s')) = sum_s f_t(s, v) P(s, s')``.
- :func:`doob_chain`: the tilted path law ``p(y) e^{lam R(y)} / Z_n(lam)`` as a (time-inhomogeneous) Markov
  chain, by the backward recursion ``h_n = 1``, ``h_t(s) = sum_s' P(s, s') e^{lam r(s')} h_{t+1}(s')``
  (Doob's h-transform); :func:`stationary_doob` is its limit away from the end of the path, built from the
  Perron vectors of the tilted matrix ``P_lam(s, s') = P(s, s') e^{lam r(s')}``.
- :func:`log_spectral_radius`: ``Lambda(t) = log rho(P_t) = lim (1/n) log E e^{t R}``, the scaled CGF of the
  Gartner-Ellis theorem, with its derivatives :func:`scaled_cgf_mean` and :func:`scaled_cgf_variance`, and the
  rate function :func:`markov_rate`.

The exact finite-length functions (:func:`markov_law`, :func:`doob_chain`) accept any chain. The limit functions
(everything built on :func:`perron`) need a *primitive* chain, irreducible and aperiodic: for a periodic chain
``log E e^{t R_n} - n Lambda(t)`` oscillates with the parity of ``n`` and never converges, and the transitions of
the Doob chain do not settle, so they raise a ``ValueError`` (see :func:`period`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import logsumexp

from lmalign import _validate
from lmalign._logspace import kl_logs, shifted_tilt
from lmalign.law import RewardLaw
from lmalign.memoryless import lattice_steps

MAX_DP_CELLS = 2e9  # states^2 x levels x steps summed over the path: about a minute of work
MAX_CHAIN_CELLS = 2**24  # entries of any array built from the inputs (1.7e7 floats, 134 MB)
MAX_PATH_LENGTH = 10**5  # steps of a path walked one at a time in Python (about a second at 2 states)
MAX_STATES = 1000  # states of a chain for the O(k^3) Perron and connectivity computations


def _check_work(name: str, cells: float, what: str) -> None:
    """A ``ValueError`` naming ``name`` when an array of ``cells`` entries would exceed ``MAX_CHAIN_CELLS``."""
    if cells > MAX_CHAIN_CELLS:
        raise ValueError(
            f"{name}: {what} would hold {cells:.3g} entries, above the limit MAX_CHAIN_CELLS = "
            f"{MAX_CHAIN_CELLS} ({MAX_CHAIN_CELLS * 8 / 2**20:.0f} MiB)"
        )


def _check_length(length: int) -> None:
    if length > MAX_PATH_LENGTH:
        raise ValueError(
            f"length: {length} steps exceeds the limit MAX_PATH_LENGTH = {MAX_PATH_LENGTH} "
            "(the path is walked one step at a time)"
        )


@dataclass(frozen=True)
class MarkovSource:
    """Markov reference model: initial law ``mu``, transition matrix ``P`` (rows sum to 1), token reward ``r``.

    Rows are validated like probability vectors and renormalised in log space; zero transitions are allowed.
    """

    initial: np.ndarray
    transition: np.ndarray
    reward: np.ndarray
    # the normalised logs of initial and transition, computed once by __init__ (not parameters of the source)
    _log_initial: np.ndarray = field(init=False, repr=False, compare=False)
    _log_transition: np.ndarray = field(init=False, repr=False, compare=False)

    def __init__(self, initial, transition, reward):
        mu = _validate.prob_vector(initial, "initial")
        P = _validate.real_array(transition, "transition", allow_nan=True)  # NaN: named by its row below
        k = mu.size
        if P.shape != (k, k):
            raise ValueError(
                f"transition must be a {k} x {k} matrix (one row per state of initial), got shape {P.shape}"
            )
        for s in range(k):
            _validate.prob_vector(P[s], f"transition row {s}")
        r = _validate.real_vector(reward, "reward")
        _validate.same_length(mu, r, "initial", "reward")
        with np.errstate(divide="ignore"):
            log_mu = np.log(mu) - logsumexp(np.log(mu))
            log_P = np.log(P) - logsumexp(np.log(P), axis=1, keepdims=True)
        for name, value in (("initial", np.exp(log_mu)), ("transition", np.exp(log_P)), ("reward", r.copy())):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_log_initial", log_mu)
        object.__setattr__(self, "_log_transition", log_P)

    @classmethod
    def memoryless(cls, p, r) -> MarkovSource:
        """The i.i.d. source as a Markov chain: every row of ``P`` (and ``mu``) equals the token law ``p``."""
        p = _validate.prob_vector(p, "p")
        return cls(p, np.tile(p, (p.size, 1)), r)

    @property
    def states(self) -> int:
        return self.initial.size

    @property
    def log_initial(self) -> np.ndarray:
        return self._log_initial

    @property
    def log_transition(self) -> np.ndarray:
        return self._log_transition

    def stationary(self) -> np.ndarray:
        """Stationary law ``pi = pi P`` (the left Perron vector of ``P``), normalised to sum to 1; the chain
        must be irreducible (it may be periodic)."""
        return _perron(self, 0.0).stationary

    def path_logprob(self, paths) -> np.ndarray:
        """``log p(y)`` for each row of the integer array ``paths`` (shape ``(m, n)``)."""
        y = _paths(paths, self.states)
        out = self._log_initial[y[:, 0]]
        if y.shape[1] > 1:
            out = out + self._log_transition[y[:, :-1], y[:, 1:]].sum(axis=1)
        return out

    def path_reward(self, paths) -> np.ndarray:
        """``R(y) = sum_i r(y_i)`` for each row of ``paths``."""
        return self.reward[_paths(paths, self.states)].sum(axis=1)

    def sample(
        self, length: int, size: int, rng: np.random.Generator | int | np.random.SeedSequence | None
    ) -> np.ndarray:
        """``size`` paths of ``length`` states drawn from the source (an integer array ``(size, length)``).

        ``rng`` is a ``Generator`` (its stream continues) or anything ``numpy.random.default_rng`` takes as a
        seed (``None``, an integer, a ``SeedSequence``). Refused with a ``ValueError`` (before allocating) beyond
        ``MAX_PATH_LENGTH`` steps or ``MAX_CHAIN_CELLS`` entries of ``3 size (length + states)`` (the paths, a
        copy and their uniforms)."""
        rng = _validate.generator(rng, "rng")
        length = _validate.positive_int(length, "length")
        size = _validate.positive_int(size, "size")
        _check_length(length)
        _check_work("size", 3.0 * size * (length + self.states), f"{size} paths of length {length}")
        return _sample_chain(self.initial, [self.transition] * (length - 1), size, rng)


def _paths(paths, k: int) -> np.ndarray:
    y = np.asarray(paths)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2 or y.shape[1] == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"paths must be a non-empty 2-d integer array of states, got shape {y.shape} and dtype {y.dtype}"
        )
    if y.min() < 0 or y.max() >= k:
        raise ValueError(f"paths must hold states 0..{k - 1}")
    return y


def _sample_chain(initial: np.ndarray, transitions, size: int, rng: np.random.Generator) -> np.ndarray:
    """Paths of a (possibly time-inhomogeneous) chain by inverse-CDF sampling, one step for all paths at once."""
    out = np.empty((len(transitions) + 1, size), dtype=np.int64)  # one row per step: contiguous gathers
    out[0] = np.searchsorted(np.cumsum(initial), rng.random(size) * initial.sum(), side="right")
    uniforms = rng.random((len(transitions), size))  # the same stream as one draw of `size` per step
    cdfs: dict[int, np.ndarray] = {}  # a homogeneous chain repeats one matrix: its CDF is formed once
    for t, Q in enumerate(transitions):
        cdf = cdfs.get(id(Q))
        if cdf is None:
            cdf = cdfs[id(Q)] = np.cumsum(Q, axis=1)
            if len(cdfs) > 1:
                cdfs = {id(Q): cdf}
        rows = cdf[out[t]]
        out[t + 1] = (rows <= (uniforms[t] * rows[:, -1])[:, None]).sum(axis=1)
    return np.ascontiguousarray(np.minimum(out, initial.size - 1).T)


def _check_source(source) -> None:
    if not isinstance(source, MarkovSource):
        raise ValueError(f"source must be a MarkovSource, got {type(source).__name__}")


# -- the exact law of the total reward --------------------------------------------------------------------------
def _lattice(source: MarkovSource) -> tuple[float, float, np.ndarray]:
    """``(u0, h, k)`` with ``r(s) = u0 + h k(s)``, ``k`` non-negative integers; a ``ValueError`` if the token
    rewards are not on a lattice (the dynamic program needs one)."""
    values, index = np.unique(source.reward, return_inverse=True)
    lat = lattice_steps(values)
    if lat is None:
        raise ValueError(
            "reward: the token rewards must lie on a lattice u0 + h k (k integers) for the exact law of a Markov source"
        )
    u0, h, k = lat
    return u0, h, k[index]


def markov_laws(source: MarkovSource, lengths) -> dict[int, RewardLaw]:
    """Exact laws of ``R = sum_{i<=n} r(y_i)`` for every ``n`` in ``lengths``, from one dynamic program over
    (state, reward level) in log space, ``f_{t+1}(s', v + k(s')) = logsumexp_s [f_t(s, v) + log P(s, s')]``.

    Cost ``k^2 K n^2 / 2`` for ``k`` states, rewards on ``K + 1`` lattice levels and longest length ``n``; every
    level is a log-probability accurate to about ``n`` roundings (no subtraction anywhere). A ``ValueError``
    naming ``lengths`` (before allocating) when the cost exceeds ``MAX_DP_CELLS`` or an array
    ``MAX_CHAIN_CELLS``."""
    _check_source(source)
    if _validate.odd_input(lengths) is not None:
        raise ValueError(f"lengths must be positive integers, got {_validate.odd_input(lengths)}")
    given = lengths.size if isinstance(lengths, np.ndarray) else len(lengths) if hasattr(lengths, "__len__") else 1
    if given > MAX_CHAIN_CELLS:
        raise ValueError(f"lengths: {given} lengths, above the limit MAX_CHAIN_CELLS = {MAX_CHAIN_CELLS}")
    try:
        wanted = sorted({_validate.positive_int(n, "lengths") for n in np.atleast_1d(lengths).tolist()})
    except TypeError:
        raise ValueError("lengths must be positive integers") from None
    if not wanted:
        raise ValueError("lengths is empty")
    if wanted[-1] > MAX_PATH_LENGTH:  # the cost check below rejects these too, but its arithmetic would overflow
        big = wanted[-1] if wanted[-1] < 10**18 else f"about 2^{wanted[-1].bit_length() - 1}"
        raise ValueError(f"lengths: {big} steps exceeds the limit MAX_PATH_LENGTH = {MAX_PATH_LENGTH}")
    u0, h, k = _lattice(source)
    kmax, n_max, states = int(k.max()), wanted[-1], source.states
    with np.errstate(over="ignore"):
        ends = (n_max * u0, n_max * u0 + h * (kmax * n_max))
    if not all(math.isfinite(e) for e in ends):
        raise ValueError(
            f"lengths: the total reward over {n_max} tokens overflows a float "
            f"(token rewards up to {float(np.abs(source.reward).max()):.3g})"
        )
    work = states * states * max(kmax, 1) * n_max * n_max / 2
    if work > MAX_DP_CELLS:
        raise ValueError(
            f"lengths: the dynamic program would take about {work:.1e} cell updates "
            f"(limit {MAX_DP_CELLS:.0e}); use shorter lengths or fewer reward levels"
        )
    _check_work("lengths", float(states) * states * (kmax * n_max + 1), "the dynamic program's step")
    _check_work("lengths", float(sum(kmax * n + 1 for n in wanted)), "the laws returned")
    log_P = source.log_transition
    f = np.full((states, kmax * n_max + 1), -np.inf)
    f[np.arange(states), k] = source.log_initial
    out: dict[int, RewardLaw] = {}
    for n in range(1, n_max + 1):
        width = kmax * n + 1
        if n in wanted:
            level = logsumexp(f[:, :width], axis=0)
            keep = np.flatnonzero(level > -np.inf)
            logp = level[keep] - logsumexp(level[keep])
            out[n] = RewardLaw._trusted(n * u0 + h * keep, logp)
        if n == n_max:
            break
        moved = logsumexp(f[:, None, :width] + log_P[:, :, None], axis=0)  # (s', level) before its own reward
        f[:, : width + kmax] = -np.inf
        for s in range(states):
            f[s, k[s] : k[s] + width] = moved[s]
    return out


def markov_law(source: MarkovSource, length: int) -> RewardLaw:
    """Exact law of ``R = sum_{i<=length} r(y_i)`` for the Markov source (see :func:`markov_laws`)."""
    n = _validate.positive_int(length, "length")
    return markov_laws(source, [n])[n]


# -- Perron-Frobenius quantities of the tilted matrix ---------------------------------------------------------------
@dataclass(frozen=True)
class Perron:
    """Perron root and vectors of ``P_t(s, s') = P(s, s') e^{t r(s')}``.

    ``log_rho`` = ``Lambda(t)``; ``left`` u and ``right`` v positive with ``u . v = 1`` and ``sum(v) = 1``;
    ``stationary`` = ``u * v``, the stationary law of the Doob chain ``Q(s, s') = P_t(s, s') v(s') / (rho v(s))``.
    """

    t: float
    log_rho: float
    left: np.ndarray
    right: np.ndarray
    doob: np.ndarray
    stationary: np.ndarray


def _perron_vector(M: np.ndarray) -> tuple[float, np.ndarray]:
    """Eigenvalue of largest real part of a non-negative irreducible ``M`` and its positive eigenvector."""
    w, V = np.linalg.eig(M)
    i = int(np.argmax(w.real))
    v = np.abs(V[:, i].real)
    return float(w[i].real), v / v.sum()


def _irreducible(adjacency: np.ndarray) -> bool:
    """Whether the directed graph of ``adjacency`` is strongly connected (reachability by repeated squaring)."""
    reach = adjacency | np.eye(adjacency.shape[0], dtype=bool)
    for _ in range(max(1, int(np.ceil(np.log2(adjacency.shape[0]))))):
        reach = (reach.astype(float) @ reach.astype(float)) > 0  # path counts <= k, exact in floats
    return bool(reach.all())


def period(source: MarkovSource) -> int:
    """Period of an irreducible chain: the gcd of the lengths of its cycles (1 for an aperiodic chain).

    Computed from breadth-first levels ``d`` from state 0: the period is the gcd of ``d(s) + 1 - d(s')`` over
    the transitions ``P(s, s') > 0``. A ``ValueError`` if the chain is not irreducible."""
    _check_source(source)
    _check_states(source)
    adjacency = source.transition > 0
    if not _irreducible(adjacency):
        raise ValueError("source: the chain must be irreducible (every state reachable from every state)")
    level = np.full(source.states, -1)
    level[0], frontier = 0, [0]
    while frontier:
        nxt = []
        for s in frontier:
            for s2 in np.flatnonzero(adjacency[s]):
                if level[s2] < 0:
                    level[s2] = level[s] + 1
                    nxt.append(int(s2))
        frontier = nxt
    g = 0
    for s, s2 in zip(*np.nonzero(adjacency), strict=True):
        g = math.gcd(g, abs(int(level[s]) + 1 - int(level[s2])))
    return g


def _check_states(source: MarkovSource) -> None:
    if source.states > MAX_STATES:
        raise ValueError(
            f"source: {source.states} states, above the limit MAX_STATES = {MAX_STATES} of the "
            "O(states^3) Perron and connectivity computations"
        )


def _require_primitive(source: MarkovSource) -> None:
    """A ``ValueError`` unless the chain is irreducible and aperiodic (cached on the source)."""
    _check_source(source)
    if getattr(source, "_primitive", False):
        return
    d = period(source)
    if d > 1:
        raise ValueError(
            f"source: the chain is periodic (period {d}); the limit theorems behind this "
            "function (scaled CGF, its boundary constant, the stationary Doob chain, the rate "
            "function) need an irreducible aperiodic (primitive) chain"
        )
    object.__setattr__(source, "_primitive", True)


def perron(source: MarkovSource, t: float) -> Perron:
    """Perron root and vectors of the tilted matrix, computed on ``P e^{t (r - c)}`` (entries at most 1, with
    ``c`` the largest or smallest reward by the sign of ``t``) so no exponential overflows. The chain must be
    primitive, irreducible and aperiodic (a ``ValueError`` otherwise): every limit function of this module
    goes through here."""
    _require_primitive(source)
    return _perron(source, t)


def _perron(source: MarkovSource, t: float) -> Perron:
    """:func:`perron` for an irreducible chain, periodic or not (the stationary law needs no more)."""
    _check_source(source)
    _check_states(source)
    t = _validate.real_scalar(t, "t")
    c, shift = shifted_tilt(source.reward, t)
    M = source.transition * np.exp(shift)[None, :]
    if not _irreducible(source.transition > 0):
        raise ValueError(
            "source: the chain must be irreducible (every state reachable from every state) for "
            "its Perron root and vectors"
        )
    rho, v = _perron_vector(M)
    _, u = _perron_vector(M.T)
    if not (rho > 0 and np.all(v > 0) and np.all(u > 0)):
        raise ValueError(f"t = {t!r}: the tilt is too extreme for the Perron vectors in double precision")
    u = u / np.dot(u, v)
    Q = M * v[None, :] / (rho * v[:, None])
    Q = Q / Q.sum(axis=1, keepdims=True)
    return Perron(t=t, log_rho=math.log(rho) + t * c, left=u, right=v, doob=Q, stationary=u * v / np.dot(u, v))


def log_spectral_radius(source: MarkovSource, t):
    """``Lambda(t) = log rho(P_t)``, ``P_t(s, s') = P(s, s') e^{t r(s')}``: the scaled CGF
    ``lim (1/n) log E e^{t R}`` of an irreducible source. Scalar or array ``t``."""
    tt = _validate.real_array(t, "t")
    out = np.array([perron(source, float(x)).log_rho for x in tt.ravel()]).reshape(tt.shape)
    return float(out) if out.ndim == 0 else out


def _asymptotic_variance(Q: np.ndarray, pi: np.ndarray, r: np.ndarray) -> float:
    """``sigma^2 = lim Var(R_n)/n`` of ``r`` along a stationary chain ``Q``:
    ``pi(rb (2 Z - I) rb)`` with ``rb = r - pi r`` and the fundamental matrix ``Z = (I - Q + 1 pi)^{-1}``."""
    e = math.frexp(float(np.abs(r).max()) or 1.0)[1]  # r 2^-e in [-1, 1], exactly
    rs = np.ldexp(r, -e)
    rb = rs - np.dot(pi, rs)
    k = pi.size
    Z_rb = np.linalg.solve(np.eye(k) - Q + np.outer(np.ones(k), pi), rb)
    unit = max(float(np.dot(pi * rb, 2 * Z_rb - rb)), 0.0)  # a variance: negative only by rounding
    try:
        out = math.ldexp(unit, 2 * e)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise ValueError(f"source: the asymptotic variance ({unit:.3g} x 2^{2 * e}) exceeds the float range")
    return out


def scaled_cgf_mean(source: MarkovSource, t: float) -> float:
    """``Lambda'(t) = sum_s pi_t(s) r(s)``: the reward rate of the Doob chain ``Q_t`` (``pi_t = u v``)."""
    pf = perron(source, t)
    return float(np.dot(pf.stationary, source.reward))


def scaled_cgf_variance(source: MarkovSource, t: float) -> float:
    """``Lambda''(t)``: the asymptotic variance of ``R`` along the stationary Doob chain ``Q_t``
    (autocorrelations included; for an i.i.d. source it is the tilted token variance). Computed on the rewards
    scaled by a power of two into ``[-1, 1]`` (exact), so rewards near 1e300 do not overflow; a ``ValueError``
    when the variance itself exceeds the float range."""
    pf = perron(source, t)
    return _asymptotic_variance(pf.doob, pf.stationary, source.reward)


def doob_kl_rate(source: MarkovSource, lam: float) -> float:
    """Per-token relative entropy of the stationary Doob chain to the source,
    ``sum_s pi(s) sum_s' Q(s, s') log(Q(s, s') / P(s, s')) = lam Lambda'(lam) - Lambda(lam)``, computed from
    the left-hand side, each row ``D(Q(s, .) || P(s, .))`` a sum of non-negative terms
    (``lmalign._logspace.kl_logs``): ``>= 0``, relative accuracy about 1e-13 times the conditioning of
    the Perron vectors."""
    lam = _validate.real_scalar(lam, "lam")
    pf = perron(source, lam)
    with np.errstate(divide="ignore"):
        log_q = np.log(pf.doob)
    rows = [kl_logs(log_q[s], source.log_transition[s]) for s in range(source.states)]
    return float(np.dot(pf.stationary, rows))


def markov_rate(source: MarkovSource, x) -> float:
    """Rate function ``I(x) = sup_t [t x - Lambda(t)] = theta x - Lambda(theta)`` with ``Lambda'(theta) = x``,
    for ``x`` strictly inside the range of ``Lambda'``; ``Lambda(0)`` is 0 so ``I`` vanishes at the mean rate.
    Computed as the Doob chain's relative entropy rate plus ``theta (x - Lambda'(theta))`` (the root's
    residual), so ``I >= 0`` keeps its relative precision near the mean rate (about 1e-12)."""
    _check_source(source)
    x = _validate.real_scalar(x, "x")
    theta = theta_of_rate(source, x)
    if theta == 0.0:
        return 0.0
    # theta x - Lambda(theta) = D(Doob chain || source) per token + theta (x - Lambda'(theta)): the first term a
    # sum of non-negative terms, the second the root-finding residual; no cancellation near the mean rate
    return max(doob_kl_rate(source, theta) + theta * (x - scaled_cgf_mean(source, theta)), 0.0)


def theta_of_rate(source: MarkovSource, x: float) -> float:
    """The tilt ``theta`` with ``Lambda'(theta) = x`` (``Lambda'`` increases strictly for a non-constant reward)."""
    _check_source(source)
    x = _validate.real_scalar(x, "x")
    mean0 = scaled_cgf_mean(source, 0.0)
    if x == mean0:
        return 0.0
    step = 1.0 if x > mean0 else -1.0
    lo, hi = 0.0, step
    limit = 600.0 / float(np.ptp(source.reward) or 1.0)  # beyond, e^{t (r - c)} underflows
    while (scaled_cgf_mean(source, hi) - x) * step <= 0:
        if abs(hi) >= limit:
            break
        lo, hi = hi, step * min(abs(hi) * 2, limit)
    if (scaled_cgf_mean(source, hi) - x) * step <= 0:
        raise ValueError(f"x = {x!r} is outside the range of reward rates Lambda'(t) of the source")
    a, b = sorted((lo, hi))
    return float(optimize.brentq(lambda s: scaled_cgf_mean(source, s) - x, a, b, xtol=1e-15, rtol=1e-15, maxiter=500))


# -- the tilted path law as a Markov chain (Doob transform) ---------------------------------------------------------
@dataclass(frozen=True)
class DoobChain:
    """The path law ``p(y) e^{lam R(y)} / Z_n(lam)`` as a Markov chain: ``initial`` law of ``y_1`` and
    ``transitions[t]`` from ``y_{t+1}`` to ``y_{t+2}`` (``length - 1`` matrices); ``log_partition`` =
    ``log Z_n(lam) = log E_p e^{lam R}``."""

    lam: float
    initial: np.ndarray
    transitions: np.ndarray
    log_partition: float

    def path_logprob(self, paths) -> np.ndarray:
        """``log q(y)`` under the chain for each row of ``paths``."""
        y = _paths(paths, self.initial.size)
        if y.shape[1] != self.transitions.shape[0] + 1:
            raise ValueError(f"paths must have length {self.transitions.shape[0] + 1}, got {y.shape[1]}")
        with np.errstate(divide="ignore"):
            out = np.log(self.initial[y[:, 0]])
            for t in range(y.shape[1] - 1):
                out = out + np.log(self.transitions[t, y[:, t], y[:, t + 1]])
        return out

    def sample(self, size: int, rng: np.random.Generator | int | np.random.SeedSequence | None) -> np.ndarray:
        """``size`` paths drawn from the chain (a ``ValueError`` beyond ``MAX_CHAIN_CELLS`` entries); ``rng`` as
        in :meth:`MarkovSource.sample`."""
        rng = _validate.generator(rng, "rng")
        size = _validate.positive_int(size, "size")
        length = self.transitions.shape[0] + 1
        _check_work("size", 3.0 * size * (length + self.initial.size), f"{size} paths of length {length}")
        return _sample_chain(self.initial, list(self.transitions), size, rng)


def doob_chain(source: MarkovSource, lam: float, length: int) -> DoobChain:
    """Doob transform of the source at tilt ``lam`` for paths of ``length`` states, in log space:
    ``log h_n = 0``, ``log h_t(s) = logsumexp_s' [log P(s, s') + lam r(s') + log h_{t+1}(s')]``;
    ``Q_t(s, s') = P(s, s') e^{lam r(s')} h_{t+1}(s') / h_t(s)``, ``q(y_1) = mu e^{lam r} h_1 / Z_n``.
    A ``ValueError`` naming ``length`` (before allocating) beyond ``MAX_PATH_LENGTH`` or ``MAX_CHAIN_CELLS``
    entries of transition matrices. Computed with ``lam (r - c)``, ``c`` the reward that maximises ``lam r``, so
    a huge ``lam`` gives the chain conditioned on the top (bottom) reward; ``log_partition`` is ``+-inf`` when
    ``log Z_n`` is beyond the float range, and a ``ValueError`` names ``lam`` when path weights differ by more
    than that range (their ratio is not representable)."""
    _check_source(source)
    lam = _validate.real_scalar(lam, "lam")
    n = _validate.positive_int(length, "length")
    _check_length(n)
    _check_work("length", float(n - 1) * source.states**2, f"{n - 1} transition matrices")
    c, shift = shifted_tilt(source.reward, lam)
    step = source.log_transition + shift[None, :]  # log P_lam(s, s') - lam c, at most 0
    log_h = np.zeros(source.states)  # log h_t - lam c (n - t) - (the shifts taken out), max 0
    parts = [n * (lam * c)] if lam * c else []  # log Z_n = n lam c + the shifts + log sum of the first weights
    transitions = np.empty((n - 1, source.states, source.states))
    for t in range(n - 2, -1, -1):
        joint = step + log_h[None, :]
        top = joint.max(axis=1, keepdims=True)
        if not np.isfinite(top).all():
            raise ValueError(
                f"lam={lam!r}: the tilted path weights from state {int(np.argmin(top))} differ from "
                "the others by more than the float range (lam times the reward range times the "
                "length is too large)"
            )
        weights = np.exp(joint - top)
        total = weights.sum(axis=1, keepdims=True)
        transitions[t] = weights / total
        log_h = (np.log(total) + top)[:, 0]
        norm = float(log_h.max())  # h_t is defined up to a constant: keep its largest log at 0
        log_h -= norm
        parts.append(norm)
    first = source.log_initial + shift + log_h
    if not first.max() > -np.inf:
        raise ValueError(
            f"lam={lam!r}: every initial state's tilted path weight is below exp(-1.8e308) of the "
            "best path's (lam times the reward range times the length is too large)"
        )
    log_first = float(logsumexp(first))
    try:
        log_z = math.fsum([*parts, log_first])
    except OverflowError:  # log Z_n beyond the float range is +-inf; the chain itself is still exact
        log_z = sum(parts, log_first)
    return DoobChain(lam=lam, initial=np.exp(first - log_first), transitions=transitions, log_partition=log_z)


def stationary_doob(source: MarkovSource, lam: float) -> np.ndarray:
    """The homogeneous Doob chain ``Q(s, s') = P(s, s') e^{lam r(s')} v(s') / (rho v(s))`` (``v`` the right
    Perron vector): the limit of :func:`doob_chain`'s transitions far from the end of the path."""
    lam = _validate.real_scalar(lam, "lam")
    return perron(source, lam).doob


def asymptotic_partition(source: MarkovSource, lam: float) -> float:
    """``log c`` in ``Z_n(lam) = E e^{lam R_n} = c rho^n (1 + O(|rho_2/rho|^n))``:
    ``c = (mu_lam . v)(u . 1) / rho`` with ``mu_lam(s) = mu(s) e^{lam r(s)}`` and ``u . v = 1``."""
    lam = _validate.real_scalar(lam, "lam")
    pf = perron(source, lam)
    _, shift = shifted_tilt(source.reward, lam)  # mu_lam and rho both carry e^{lam c}: it cancels
    M = source.transition * np.exp(shift)[None, :]
    log_rho = math.log(float(pf.left @ M @ pf.right))  # rho of the shifted matrix (u . v = 1)
    return float(logsumexp(source.log_initial + shift, b=pf.right) + math.log(pf.left.sum()) - log_rho)
