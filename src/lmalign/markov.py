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
- :func:`reward_lattice` / :func:`hidden_period`: the lattice of the additive reward in the sense of Kontoyiannis
  and Meyn (the largest ``h`` with ``r(s') + g(s') - g(s)`` in ``a + h Z`` on every transition), decided from the
  cycles of the transition graph; a primitive chain can hide a period in its states (the totals split into
  cosets by the last state), and the second-order expansions :func:`markov_log_tail` (Bahadur-Rao type) and
  :func:`markov_bon_expansion` (best-of-N) sum over those cosets (:func:`lattice_classes`).

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
    try:
        while (scaled_cgf_mean(source, hi) - x) * step <= 0:
            if abs(hi) >= limit:
                break
            lo, hi = hi, step * min(abs(hi) * 2, limit)
        inside = (scaled_cgf_mean(source, hi) - x) * step > 0
    except ValueError:  # the Perron vectors of so extreme a tilt are lost in double precision
        inside = False
    if not inside:
        raise ValueError(
            f"x = {x!r} is outside the range of reward rates Lambda'(t) of the source reachable in double precision "
            f"(tilts up to {abs(hi):.3g})"
        )
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


# -- the lattice of the additive reward (the non-lattice condition of Kontoyiannis and Meyn) ------------------------
LATTICE_RTOL = 1e-9  # defects within LATTICE_RTOL * (states * max|r|) of a lattice point count as on it
MAX_LATTICE_RATIO = 10**6  # defects more than this many spans apart are treated as incommensurable (non-lattice)


@dataclass(frozen=True)
class RewardLattice:
    """The lattice of the additive reward ``R_n = r(y_1) + ... + r(y_n)`` of a primitive chain.

    ``span`` is the largest ``h`` for which there are a constant ``a`` (``offset``) and a function ``g`` on the
    states (``potential``) with ``r(s') + g(s') - g(s)`` in ``a + h Z`` for every transition ``P(s, s') > 0``
    (the lattice condition of Kontoyiannis and Meyn); ``span = 0.0`` when no such ``h`` exists (a non-lattice
    reward) and ``inf`` when ``r(s') + g(s') - g(s) = a`` exactly (a constant plus a coboundary: ``R_n`` has
    bounded fluctuations). Given the first and last states, ``R_n`` lies in the coset
    ``(n - 1) a + r(y_1) + g(y_1) - g(y_n) + span Z``. ``hidden_period`` is the number of distinct values of
    ``g`` modulo ``span``: 1 when ``g`` can be taken constant (every token reward in ``a + span Z``, and the
    totals of length ``n`` on one coset of ``span Z``), ``m > 1`` when the totals split into ``m`` cosets by
    the last state (a period hidden in the state, invisible in the span of the totals), 0 for a non-lattice or
    degenerate reward."""

    span: float
    offset: float
    potential: np.ndarray
    hidden_period: int
    tolerance: float


def _cycle_data(source: MarkovSource) -> tuple[np.ndarray, np.ndarray, list[tuple[int, float]]]:
    """Breadth-first depths ``d`` and tree reward sums ``phi`` from state 0, and for every transition ``s -> s'``
    the pair ``(d(s) + 1 - d(s'), phi(s) + r(s') - phi(s'))``: the (length, reward) group of the closed walks is
    generated by these pairs (a closed walk's pair is the sum of its edges' pairs, the tree terms telescoping)."""
    adjacency = source.transition > 0
    r = source.reward
    depth = np.full(source.states, -1)
    phi = np.zeros(source.states)
    depth[0], frontier = 0, [0]
    while frontier:
        nxt = []
        for s in frontier:
            for s2 in np.flatnonzero(adjacency[s]):
                if depth[s2] < 0:
                    depth[s2], phi[s2] = depth[s] + 1, phi[s] + r[s2]
                    nxt.append(int(s2))
        frontier = nxt
    pairs = [
        (int(depth[s]) + 1 - int(depth[s2]), float(phi[s] + r[s2] - phi[s2]))
        for s, s2 in zip(*np.nonzero(adjacency), strict=True)
    ]
    return depth, phi, pairs


def _real_gcd(values: list[float], tol: float) -> float:
    """Largest ``h`` with every value within ``tol`` of ``h Z`` (Euclid's algorithm on the magnitudes); 0.0 when
    there is none with ratios at most ``MAX_LATTICE_RATIO``, ``inf`` when every value is within ``tol`` of 0."""
    big = [abs(v) for v in values if abs(v) > tol]
    if not big:
        return math.inf
    g = big[0]
    for v in big[1:]:
        x, y = max(g, v), min(g, v)
        while y > tol:
            x, y = y, math.fmod(x, y)
            y = min(y, x - y)  # the nearer multiple: remainders shrink at least by half every two steps
        g = x
    top = max(big)
    if g <= tol or top / g > MAX_LATTICE_RATIO:
        return 0.0
    if any(abs(v / g - round(v / g)) * g > tol for v in big):
        return 0.0
    return g


def reward_lattice(source: MarkovSource, rtol: float = LATTICE_RTOL) -> RewardLattice:
    """The lattice of the additive reward, decided exactly from the cycle structure of the transition graph.

    Every closed walk of ``m`` steps with reward sum ``rho`` gives ``rho - m a`` in ``span Z``; the group of the
    pairs ``(m, rho)`` is generated by the transitions' pairs of a breadth-first tree.
    Euclid's algorithm on the lengths (small integers, so no growth of rounding) brings it to ``(1, a)`` (the
    chain is aperiodic) and pairs ``(0, delta)``; the span is the gcd of the defects ``delta``. For float rewards
    a defect within ``tolerance = rtol * states * max|r|`` of a multiple of the span counts as on it, and defects
    more than ``MAX_LATTICE_RATIO`` spans apart count as incommensurable. The potential is
    ``g(s) = d(s) a - phi(s)`` modulo the span (depth and tree reward sum from state 0). The chain must be
    primitive (a ``ValueError`` otherwise)."""
    _require_primitive(source)
    rtol = _validate.real_scalar(rtol, "rtol")
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    tol = rtol * source.states * max(float(np.abs(source.reward).max()), math.ldexp(1.0, -1022))
    depth, phi, pairs = _cycle_data(source)
    g_len, g_rew, defects = 0, 0.0, []
    for m, rho in pairs:
        while m != 0:  # Euclid on the lengths, the rewards carried along (a unimodular change of generators)
            q = g_len // m
            (g_len, g_rew), (m, rho) = (m, rho), (g_len - q * m, g_rew - q * rho)
        defects.append(rho)
    if g_len < 0:
        g_len, g_rew = -g_len, -g_rew
    assert g_len == 1  # aperiodic: the gcd of the cycle lengths is 1
    a = g_rew
    span = _real_gcd(defects, tol)
    if span == 0.0 or math.isinf(span):
        return RewardLattice(span=span, offset=a, potential=depth * a - phi, hidden_period=0, tolerance=tol)
    c = np.mod(depth * a - phi, span)
    c[span - c <= tol] = 0.0
    classes = _distinct(c, tol)
    return RewardLattice(span=span, offset=a, potential=c, hidden_period=len(classes), tolerance=tol)


def _distinct(x: np.ndarray, tol: float) -> list[float]:
    out: list[float] = []
    for v in np.sort(x):
        if not out or v - out[-1] > tol:
            out.append(float(v))
    return out


def hidden_period(source: MarkovSource) -> int:
    """``m`` for a lattice reward whose totals split into ``m`` cosets of the span by the last state (1: none,
    the condition under which the Bahadur-Rao type expansion holds with the span of the totals); a
    ``ValueError`` for a non-lattice or degenerate reward. See :func:`reward_lattice`."""
    lat = reward_lattice(source)
    if lat.hidden_period == 0:
        kind = "non-lattice" if lat.span == 0.0 else "a constant plus a coboundary (bounded fluctuations)"
        raise ValueError(f"source: the additive reward is {kind}; it has no lattice span")
    return lat.hidden_period


@dataclass(frozen=True)
class LatticeClasses:
    """The cosets ``o_j + span Z`` of the total ``R_n`` at tilt ``t`` and their weights ``w_j``:
    ``E[e^{t R_n}; R_n in coset j] = w_j rho^n (1 + O(|rho_2/rho|^n))``, so ``sum_j w_j = c(t)`` of
    :func:`asymptotic_partition`; ``log_weights`` are ``log w_j``."""

    span: float
    offsets: np.ndarray
    log_weights: np.ndarray


def lattice_classes(source: MarkovSource, t: float, n: int) -> LatticeClasses:
    """Cosets of the totals of length ``n`` and their asymptotic weights at tilt ``t``. With the first state
    ``s`` and the last ``s'``, ``E[e^{t R_n}; y_1 = s, y_n = s'] = mu_t(s) (P_t^{n-1})(s, s')``, and
    ``P_t^{n-1} = rho^{n-1} (v u^T + O(|rho_2/rho|^{n-1}))``, so the pair has weight
    ``mu_t(s) v(s) u(s') / rho`` and lies in the coset ``(n - 1) a + r(s) + g(s) - g(s') + span Z`` of
    :func:`reward_lattice`; pairs on one coset are merged. A ``ValueError`` for a non-lattice or degenerate
    reward."""
    lat = reward_lattice(source)
    n = _validate.positive_int(n, "n")
    if lat.hidden_period == 0:
        kind = "non-lattice" if lat.span == 0.0 else "a constant plus a coboundary (bounded fluctuations)"
        raise ValueError(f"source: the additive reward is {kind}; its totals have no lattice cosets")
    pf = perron(source, t)
    _, shift = shifted_tilt(source.reward, pf.t)
    M = source.transition * np.exp(shift)[None, :]
    log_rho = math.log(float(pf.left @ M @ pf.right))
    with np.errstate(divide="ignore"):
        first = source.log_initial + shift + np.log(pf.right)
        last = np.log(pf.left)
    key = np.mod(source.reward[:, None] + lat.potential[:, None] - lat.potential[None, :], lat.span)
    key[lat.span - key <= lat.tolerance] = 0.0
    log_w = first[:, None] + last[None, :] - log_rho
    reps = _distinct(key[np.isfinite(log_w)], lat.tolerance)
    weights = [float(logsumexp(log_w[np.abs(key - k) <= lat.tolerance])) for k in reps]
    base = (n - 1) * lat.offset
    return LatticeClasses(span=lat.span, offsets=base + np.array(reps), log_weights=np.array(weights))


# -- the second-order expansions (Bahadur-Rao type tail, best-of-N), on the cosets of the totals ------------------
def kl_rate_multiplier(source: MarkovSource, delta: float) -> float:
    """``lambda_delta > 0`` with ``lam Lambda'(lam) - Lambda(lam) = delta`` (:func:`doob_kl_rate`, increasing in
    ``lam``), bracketed by doubling from 1 (so the tilts searched are those the budget needs) and refined by
    Brent's method. A ``ValueError`` naming ``delta`` when it is not below the rates reachable before the tilt
    ``600 / (r_max - r_min)``, beyond which the Perron vectors lose every digit in double precision."""
    _require_primitive(source)
    delta = _validate.real_scalar(delta, "delta")
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta!r}")
    limit = 600.0 / float(np.ptp(source.reward) or 1.0)
    hi, best = 1.0, 0.0
    while True:
        try:
            reached = doob_kl_rate(source, hi)
        except ValueError:
            reached = -math.inf
        if reached >= delta:
            break
        if hi >= limit or reached == -math.inf:
            raise ValueError(
                f"delta = {delta!r}: above the relative entropy rates lam Lambda' - Lambda reachable by tilts up "
                f"to {hi:.3g} in double precision (largest {best:.6g})"
            )
        best, hi = max(best, reached), min(2 * hi, limit)
    return float(optimize.brentq(lambda lam: doob_kl_rate(source, lam) - delta, 0.0, hi, xtol=1e-15, rtol=1e-15))


def _class_points(classes: LatticeClasses, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The points of every coset in ``[lo, hi]``, sorted, with the index of their coset."""
    h = classes.span
    pts, idx = [], []
    for j, o in enumerate(classes.offsets):
        k = np.arange(math.ceil((lo - o) / h), math.floor((hi - o) / h) + 1)
        pts.append(o + h * k)
        idx.append(np.full(k.size, j))
    points, index = np.concatenate(pts), np.concatenate(idx)
    order = np.argsort(points, kind="stable")
    return points[order], index[order]


def markov_log_tail(source: MarkovSource, n: int, s: float) -> float:
    """Bahadur-Rao type prediction of ``log P(R_n >= s)`` for ``s / n`` above the mean rate, with ``theta`` the root
    of ``Lambda'(theta) = s / n`` and ``sigma^2 = Lambda''(theta)``:
    ``n Lambda(theta) - theta s + log sum_j w_j e^{-theta (s_j - s)} - log(sigma sqrt(2 pi n) (1 - e^{-theta h}) / h)``
    with the cosets ``j`` of :func:`lattice_classes` (span ``h``, weights ``w_j``) and ``s_j`` the first point of
    coset ``j`` at or above ``s``. Without a hidden period (one coset, ``s`` on it) this is
    ``log c(theta) + n Lambda(theta) - theta s - log(sigma sqrt(2 pi n)(1 - e^{-theta h}) / h)``; for a
    non-lattice reward the last term is ``log(theta sigma sqrt(2 pi n))`` and the sum is ``c(theta)``. The
    neglected term is ``O(1/n)``. A ``ValueError`` for a degenerate reward (bounded fluctuations)."""
    n = _validate.positive_int(n, "n")
    s = _validate.real_scalar(s, "s")
    theta = theta_of_rate(source, s / n)
    if not theta > 0:
        raise ValueError(f"s = {s!r}: the level s / n must lie above the mean reward rate")
    sigma = math.sqrt(scaled_cgf_variance(source, theta))
    base = n * log_spectral_radius(source, theta) - theta * s - 0.5 * math.log(2 * math.pi * n) - math.log(sigma)
    lat = reward_lattice(source)
    if lat.span == 0.0:
        return base + asymptotic_partition(source, theta) - math.log(theta)
    cl = lattice_classes(source, theta, n)
    h = cl.span
    first = cl.offsets + h * np.ceil((s - cl.offsets) / h - lat.tolerance / h)
    width = math.log(-math.expm1(-theta * h) / h)
    return base + float(logsumexp(cl.log_weights - theta * (first - s))) - width


@dataclass(frozen=True)
class BestOfNExpansion:
    """Second-order prediction for best-of-``e^{n delta}`` on a Markov source: ``mean`` of the selected reward,
    ``kl_tilt`` = ``D(BoN || phi_lam)``, ``kl_ref`` = ``D(BoN || p)``, with ``lam``, ``x_star``, ``sigma``,
    ``log_c`` and the mean ``u_bar`` and entropy ``entropy`` of the discretised Gumbel law."""

    lam: float
    x_star: float
    sigma: float
    log_c: float
    u_bar: float
    entropy: float
    mean: float
    kl_tilt: float
    kl_ref: float


def markov_bon_expansion(source: MarkovSource, delta: float, n: int) -> BestOfNExpansion:
    """Second-order expansion of best-of-``N``, ``N = e^{n delta}``, on the cosets of the totals.

    With ``lam = lambda_delta`` (:func:`kl_rate_multiplier`), ``x* = Lambda'(lam)``, ``sigma^2 = Lambda''(lam)``
    and the cosets ``j`` of :func:`lattice_classes` at ``lam`` (span ``h``, weights ``w_j``, ``c = sum_j w_j``):
    near ``n x*`` the reference puts ``P(R = s) ~ w_j e^{-n delta - lam u} h / (sigma sqrt(2 pi n))`` on a point
    ``s = n x* + u`` of coset ``j``, so ``N P(R >= s) ~ T(s) = sum_j w_j e^{-lam (s_j - n x*)} h /
    (sigma sqrt(2 pi n) (1 - e^{-lam h}))`` (``s_j`` the first point of coset ``j`` at or above ``s``), and
    best-of-``N`` puts ``G(s) = e^{-T(s^+)} - e^{-T(s)}`` on ``s`` (``s^+`` the next point of any coset). Then
    ``mean = n x* + u_bar`` (``u_bar = sum G(s) (s - n x*)``),
    ``kl_tilt = log(sigma sqrt(2 pi n) / h) - H - sum_s G(s) log(w_j(s) / c)`` (``H`` the entropy of ``G``) and
    ``kl_ref = n delta + lam u_bar - log c + kl_tilt``. With one coset this is the lattice Gumbel law of
    :func:`lmalign.best_of_n.lattice_gumbel` with ``log_shift = log c``. Neglected terms are
    ``O((log n)^2 / n)`` in total. A ``ValueError`` for a non-lattice or degenerate reward."""
    n = _validate.positive_int(n, "n")
    lam = kl_rate_multiplier(source, delta)
    x_star = scaled_cgf_mean(source, lam)
    sigma = math.sqrt(scaled_cgf_variance(source, lam))
    cl = lattice_classes(source, lam, n)
    h, log_c = cl.span, float(logsumexp(cl.log_weights))
    log_unit = math.log(h / (sigma * math.sqrt(2 * math.pi * n))) - math.log(-math.expm1(-lam * h))
    centre = n * x_star + (log_c + log_unit) / lam  # where T = 1
    reach = (60.0 + abs(math.log(len(cl.offsets)))) / lam + 3 * h
    points, index = _class_points(cl, centre - reach, centre + reach)
    first = cl.offsets[None, :] + h * np.ceil((points[:, None] - cl.offsets[None, :]) / h - 1e-9)
    log_t = logsumexp(cl.log_weights[None, :] - lam * (first - n * x_star), axis=1) + log_unit
    t_now = np.exp(log_t)
    t_next = np.append(t_now[1:], 0.0)
    g = np.exp(-t_next) * -np.expm1(t_next - t_now)  # e^{-T(s+)} - e^{-T(s)}
    keep = g > 0
    g, u, j = g[keep], points[keep] - n * x_star, index[keep]
    u_bar = float(np.dot(g, u))
    entropy = float(-np.dot(g, np.log(g)))
    class_term = float(np.dot(g, cl.log_weights[j] - log_c))
    kl_tilt = math.log(sigma * math.sqrt(2 * math.pi * n) / h) - entropy - class_term
    kl_ref = n * delta + lam * u_bar - log_c + kl_tilt
    return BestOfNExpansion(
        lam=lam,
        x_star=x_star,
        sigma=sigma,
        log_c=log_c,
        u_bar=u_bar,
        entropy=entropy,
        mean=n * x_star + u_bar,
        kl_tilt=kl_tilt,
        kl_ref=kl_ref,
    )
