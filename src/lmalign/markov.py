r"""Sources with memory: a Markov reference model with an additive reward.

The response :math:`y = (y_1, \dots, y_n)` is a path of a Markov chain on :math:`k` states (the tokens):
:math:`y_1 \sim \mu`, :math:`y_{i+1} \sim P(y_i, \cdot)`, and the reward is additive,
:math:`R(y) = \sum_i r(y_i)`. As in the memoryless case, every policy of the book reweights :math:`p` by a function
of :math:`R`, so all of them are computed on the law of :math:`R`.

- :func:`markov_law` / :func:`markov_laws`: the exact law of :math:`R` by dynamic programming over
  (state, reward level), in log space: :math:`f_1(s, r(s)) = \mu(s)`,
  :math:`f_{t+1}(s', v + r(s')) = \sum_s f_t(s, v) P(s, s')`.
- :func:`doob_chain`: the tilted path law :math:`p(y) e^{\lambda R(y)} / Z_n(\lambda)` as a (time-inhomogeneous)
  Markov chain, by the backward recursion :math:`h_n = 1`,
  :math:`h_t(s) = \sum_{s'} P(s, s') e^{\lambda r(s')} h_{t+1}(s')` (Doob's h-transform); :func:`stationary_doob`
  is its limit away from the end of the path, built from the Perron vectors of the tilted matrix
  :math:`P_\lambda(s, s') = P(s, s') e^{\lambda r(s')}`.
- :func:`log_spectral_radius`: :math:`\Lambda(t) = \log\rho(P_t) = \lim_n \frac{1}{n}\log E e^{t R_n}`, the
  scaled CGF of the Gartner-Ellis theorem, with its derivatives :func:`scaled_cgf_mean` and
  :func:`scaled_cgf_variance`, and the rate function :func:`markov_rate`.
- :func:`reward_lattice` / :func:`hidden_period`: the lattice of the additive reward in the sense of Kontoyiannis
  and Meyn (the largest :math:`h` with :math:`r(s') + g(s') - g(s) \in a + h\mathbb{Z}` on every transition),
  decided from the cycles of the transition graph; a primitive chain can hide a period in its states (the totals
  split into cosets by the last state), and the second-order expansions :func:`markov_log_tail` (Bahadur-Rao
  type) and :func:`markov_bon_expansion` (best-of-N) sum over those cosets (:func:`lattice_classes`).

The exact finite-length functions (:func:`markov_law`, :func:`doob_chain`) accept any chain. The limit functions
(everything built on :func:`perron`) need a *primitive* chain, irreducible and aperiodic: for a periodic chain
:math:`\log E e^{t R_n} - n\Lambda(t)` oscillates with the parity of :math:`n` and never converges, and the
transitions of the Doob chain do not settle, so they raise a ``ValueError`` (see :func:`period`).
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
    r"""Markov reference model: initial law :math:`\mu`, transition matrix :math:`P` (rows sum to 1), token
    reward :math:`r`.

    ``MarkovSource(initial, transition, reward)``: a path :math:`y = (y_1, \dots, y_n)` has probability
    :math:`p(y) = \mu(y_1)\prod_{i<n} P(y_i, y_{i+1})` and reward :math:`R(y) = \sum_i r(y_i)`. Rows are validated
    like probability vectors and renormalised in log space; zero transitions are allowed.

    Attributes
    ----------
    initial : numpy.ndarray
        The initial law :math:`\mu` of :math:`y_1`, shape ``(k,)`` (read-only, renormalised).
    transition : numpy.ndarray
        The transition matrix :math:`P(s, s')`, shape ``(k, k)`` (read-only, rows renormalised).
    reward : numpy.ndarray
        The token rewards :math:`r(s)`, shape ``(k,)`` (read-only).

    Raises
    ------
    ValueError
        If ``initial`` or a row of ``transition`` is not a probability vector (negative, NaN, or not summing to 1
        within tolerance; the message names the row), ``transition`` is not ``k x k`` for the ``k`` states of
        ``initial``, or ``reward`` is not a finite real vector of length ``k``.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> src.states, src.transition.round(12).tolist()
    (2, [[0.9, 0.1], [0.2, 0.8]])
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
        r"""The i.i.d. source as a Markov chain: every row of :math:`P` (and :math:`\mu`) equals the token law
        :math:`p`.

        Then :math:`p(y) = \prod_i p(y_i)` and every limit quantity of this module reduces to its memoryless
        counterpart, e.g. :math:`\Lambda(t) = \log\sum_s p(s) e^{t r(s)}`.

        Parameters
        ----------
        p : array_like
            The token law, a probability vector of length :math:`k`.
        r : array_like
            The token rewards, a real vector of length :math:`k`.

        Returns
        -------
        MarkovSource
            The source with :math:`\mu = p` and :math:`P(s, \cdot) = p` for every state :math:`s`.

        Raises
        ------
        ValueError
            If ``p`` is not a probability vector or ``r`` not a finite real vector of the same length.

        Examples
        --------
        >>> MarkovSource.memoryless([0.25, 0.75], [0.0, 1.0]).transition.tolist()
        [[0.25, 0.75], [0.25, 0.75]]
        """
        p = _validate.prob_vector(p, "p")
        return cls(p, np.tile(p, (p.size, 1)), r)

    @property
    def states(self) -> int:
        """Number :math:`k` of states (tokens)."""
        return self.initial.size

    @property
    def log_initial(self) -> np.ndarray:
        r""":math:`\log\mu`, normalised in log space (``-inf`` for a zero entry)."""
        return self._log_initial

    @property
    def log_transition(self) -> np.ndarray:
        r""":math:`\log P`, each row normalised in log space (``-inf`` for a zero transition)."""
        return self._log_transition

    def stationary(self) -> np.ndarray:
        r"""Stationary law :math:`\pi = \pi P` (the left Perron vector of :math:`P`), normalised to sum to 1.

        The chain must be irreducible (it may be periodic).

        Returns
        -------
        numpy.ndarray
            :math:`\pi`, shape ``(k,)``, positive, summing to 1.

        Raises
        ------
        ValueError
            If the chain is not irreducible, or has more than ``MAX_STATES`` states.

        Examples
        --------
        A two-state chain with :math:`P(0, 1) = a`, :math:`P(1, 0) = b` has :math:`\pi = (b, a) / (a + b)`:

        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> src.stationary().round(12).tolist()
        [0.666666666667, 0.333333333333]
        """
        return _perron(self, 0.0).stationary

    def path_logprob(self, paths) -> np.ndarray:
        r""":math:`\log p(y) = \log\mu(y_1) + \sum_{i<n}\log P(y_i, y_{i+1})` for each row :math:`y` of ``paths``.

        Parameters
        ----------
        paths : array_like of int
            States ``0..k-1``, shape ``(m, n)`` (or ``(n,)`` for one path).

        Returns
        -------
        numpy.ndarray
            The ``m`` log-probabilities (``-inf`` for a path through a zero transition).

        Raises
        ------
        ValueError
            If ``paths`` is not a non-empty one- or two-dimensional integer array of states ``0..k-1``.

        Examples
        --------
        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> lp = src.path_logprob([[0, 0, 1]])  # mu(0) P(0, 0) P(0, 1)
        >>> round(float(lp[0]), 12), round(float(np.log(0.5 * 0.9 * 0.1)), 12)
        (-3.101092789212, -3.101092789212)
        """
        y = _paths(paths, self.states)
        out = self._log_initial[y[:, 0]]
        if y.shape[1] > 1:
            out = out + self._log_transition[y[:, :-1], y[:, 1:]].sum(axis=1)
        return out

    def path_reward(self, paths) -> np.ndarray:
        r""":math:`R(y) = \sum_i r(y_i)` for each row :math:`y` of ``paths``.

        Parameters
        ----------
        paths : array_like of int
            States ``0..k-1``, shape ``(m, n)`` (or ``(n,)`` for one path).

        Returns
        -------
        numpy.ndarray
            The ``m`` total rewards.

        Raises
        ------
        ValueError
            If ``paths`` is not a non-empty one- or two-dimensional integer array of states ``0..k-1``.

        Examples
        --------
        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> src.path_reward([[0, 0, 1], [1, 1, 1]]).tolist()
        [1.0, 3.0]
        """
        return self.reward[_paths(paths, self.states)].sum(axis=1)

    def sample(
        self, length: int, size: int, rng: np.random.Generator | int | np.random.SeedSequence | None
    ) -> np.ndarray:
        r"""``size`` paths of ``length`` states drawn from the source (an integer array ``(size, length)``).

        ``rng`` is a ``Generator`` (its stream continues) or anything ``numpy.random.default_rng`` takes as a
        seed (``None``, an integer, a ``SeedSequence``). Refused with a ``ValueError`` (before allocating) beyond
        ``MAX_PATH_LENGTH`` steps or ``MAX_CHAIN_CELLS`` entries of
        :math:`3\,\mathrm{size}\,(\mathrm{length} + k)` (the paths, a copy and their uniforms).

        Parameters
        ----------
        length : int
            Number :math:`n \ge 1` of states in each path.
        size : int
            Number of paths, at least 1.
        rng : numpy.random.Generator, int, numpy.random.SeedSequence or None
            The random stream, or a seed for a new one.

        Returns
        -------
        numpy.ndarray
            Integer array of shape ``(size, length)``, row :math:`i` a path :math:`y \sim p`.

        Raises
        ------
        ValueError
            If ``length`` or ``size`` is not a positive integer, ``rng`` is not a generator or seed, ``length``
            exceeds ``MAX_PATH_LENGTH`` or the arrays would exceed ``MAX_CHAIN_CELLS`` entries (the message names
            ``length`` or ``size``).

        Examples
        --------
        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> y = src.sample(5, 3, rng=0)
        >>> y.shape, bool(np.isin(y, [0, 1]).all())
        ((3, 5), True)
        """
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
    """``(u0, h, k)`` with :math:`r(s) = u_0 + h k(s)`, :math:`k(s)` non-negative integers; a ``ValueError`` if
    the token rewards are not on a lattice (the dynamic program needs one)."""
    values, index = np.unique(source.reward, return_inverse=True)
    lat = lattice_steps(values)
    if lat is None:
        raise ValueError(
            "reward: the token rewards must lie on a lattice u0 + h k (k integers) for the exact law of a Markov source"
        )
    u0, h, k = lat
    return u0, h, k[index]


def markov_laws(source: MarkovSource, lengths) -> dict[int, RewardLaw]:
    r"""Exact laws of :math:`R_n = \sum_{i\le n} r(y_i)` for every :math:`n` in ``lengths``, from one dynamic
    program.

    Over (state, reward level) in log space, with the token rewards on the lattice :math:`r(s) = u_0 + h k(s)`:

    .. math::

        f_{t+1}(s', v + k(s')) = \operatorname{logsumexp}_s \bigl[f_t(s, v) + \log P(s, s')\bigr],
        \qquad f_1(s, k(s)) = \log\mu(s).

    Cost :math:`k^2 K n^2 / 2` for :math:`k` states, rewards on :math:`K + 1` lattice levels and longest length
    :math:`n`; every level is a log-probability accurate to about :math:`n` roundings (no subtraction anywhere). A
    ``ValueError`` naming ``lengths`` (before allocating) when the cost exceeds ``MAX_DP_CELLS`` or an array
    ``MAX_CHAIN_CELLS``.

    Parameters
    ----------
    source : MarkovSource
        The reference chain; its token rewards must lie on a lattice :math:`u_0 + h\mathbb{Z}`.
    lengths : int or sequence of int
        The path lengths :math:`n \ge 1` wanted (repeats are merged).

    Returns
    -------
    dict
        The law (a :class:`~lmalign.law.RewardLaw`) of :math:`R_n` keyed by each distinct :math:`n`.

    Raises
    ------
    ValueError
        If ``source`` is not a :class:`MarkovSource`; ``lengths`` is empty or holds a non-positive or
        non-integer entry; the token rewards are not on a lattice; the total reward overflows a float; or the
        work or memory limits above are exceeded (the message names ``lengths``).

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> laws = markov_laws(src, [1, 3])
    >>> sorted(laws), laws[3].probs.round(12).tolist()
    ([1, 3], [0.405, 0.145, 0.13, 0.32])
    >>> round(0.5 * 0.9 * 0.9, 12), round(0.5 * 0.8 * 0.8, 12)  # P(R_3 = 0), P(R_3 = 3) by hand
    (0.405, 0.32)
    """
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
    r"""Exact law of :math:`R = \sum_{i\le n} r(y_i)`, :math:`n` = ``length``, for the Markov source.

    One length of :func:`markov_laws` (same cost, accuracy and limits).

    Parameters
    ----------
    source : MarkovSource
        The reference chain; its token rewards must lie on a lattice.
    length : int
        The path length :math:`n \ge 1`.

    Returns
    -------
    RewardLaw
        The law of :math:`R_n` under :math:`p`.

    Raises
    ------
    ValueError
        If ``length`` is not a positive integer, or for any reason :func:`markov_laws` gives.

    Examples
    --------
    Two steps: :math:`P(R = 0) = \mu(0) P(0, 0)`, :math:`P(R = 2) = \mu(1) P(1, 1)`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> law = markov_law(src, 2)
    >>> law.values.tolist(), law.probs.round(12).tolist()
    ([0.0, 1.0, 2.0], [0.45, 0.15, 0.4])
    """
    n = _validate.positive_int(length, "length")
    return markov_laws(source, [n])[n]


# -- Perron-Frobenius quantities of the tilted matrix ---------------------------------------------------------------
@dataclass(frozen=True)
class Perron:
    r"""Perron root and vectors of :math:`P_t(s, s') = P(s, s') e^{t r(s')}`.

    ``log_rho`` is :math:`\Lambda(t) = \log\rho`; ``left`` :math:`u` and ``right`` :math:`v` are positive with
    :math:`u \cdot v = 1` and :math:`\sum_s v(s) = 1`; ``stationary`` is :math:`u v` (entrywise), the stationary
    law of the Doob chain :math:`Q(s, s') = P_t(s, s') v(s') / (\rho\, v(s))`.

    Attributes
    ----------
    t : float
        The tilt :math:`t`.
    log_rho : float
        :math:`\Lambda(t) = \log\rho(P_t)`.
    left : numpy.ndarray
        The left Perron vector :math:`u` (:math:`u P_t = \rho u`), scaled so that :math:`u \cdot v = 1`.
    right : numpy.ndarray
        The right Perron vector :math:`v` (:math:`P_t v = \rho v`), summing to 1.
    doob : numpy.ndarray
        The stationary Doob chain :math:`Q`, a stochastic matrix.
    stationary : numpy.ndarray
        :math:`\pi_t = u v`, the stationary law of :math:`Q`.

    Examples
    --------
    At :math:`t = 0` the Doob chain is the source and :math:`\pi_0` its stationary law:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> pf = perron(src, 0.0)
    >>> round(pf.log_rho, 12) + 0.0, pf.doob.round(12).tolist(), pf.stationary.round(12).tolist()
    (0.0, [[0.9, 0.1], [0.2, 0.8]], [0.666666666667, 0.333333333333])
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
    r"""Period of an irreducible chain: the gcd of the lengths of its cycles (1 for an aperiodic chain).

    Computed from breadth-first levels :math:`d` from state 0: the period is the gcd of :math:`d(s) + 1 - d(s')`
    over the transitions :math:`P(s, s') > 0`. A ``ValueError`` if the chain is not irreducible.

    Parameters
    ----------
    source : MarkovSource
        The chain.

    Returns
    -------
    int
        The period :math:`d \ge 1`.

    Raises
    ------
    ValueError
        If ``source`` is not a :class:`MarkovSource`, the chain is not irreducible, or it has more than
        ``MAX_STATES`` states.

    Examples
    --------
    >>> period(MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0]))
    1
    >>> period(MarkovSource([0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]], [0.0, 1.0]))  # the flip chain
    2
    """
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
    r"""Perron root and vectors of the tilted matrix :math:`P_t(s, s') = P(s, s') e^{t r(s')}`.

    Computed on :math:`P(s, s') e^{t (r(s') - c)}` (entries at most 1, with :math:`c` the largest or smallest
    reward by the sign of :math:`t`) so no exponential overflows; :math:`\log\rho` gets :math:`t c` back. The
    chain must be primitive, irreducible and aperiodic (a ``ValueError`` otherwise): every limit function of
    this module goes through here.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    t : float
        The tilt :math:`t`.

    Returns
    -------
    Perron
        :math:`\Lambda(t)`, the Perron vectors, the Doob chain and its stationary law.

    Raises
    ------
    ValueError
        If ``source`` is not a :class:`MarkovSource`, the chain is not irreducible or is periodic, it has more
        than ``MAX_STATES`` states, ``t`` is not a finite real, or the tilt is too extreme for positive Perron
        vectors in double precision (the message names ``t``).

    Examples
    --------
    For two states the Perron root is the larger root of the characteristic polynomial
    :math:`\rho^2 - \operatorname{tr}(P_t)\rho + \det P_t`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> e = np.e
    >>> tr, det = 0.9 + 0.8 * e, (0.9 * 0.8 - 0.1 * 0.2) * e
    >>> round(perron(src, 1.0).log_rho, 12), round(float(np.log((tr + np.sqrt(tr**2 - 4 * det)) / 2)), 12)
    (0.795676089048, 0.795676089048)
    """
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
    r"""The scaled CGF :math:`\Lambda(t) = \log\rho(P_t) = \lim_n \frac{1}{n}\log E e^{t R_n}` of the source.

    :math:`P_t(s, s') = P(s, s') e^{t r(s')}`, :math:`\rho` its Perron root (:func:`perron`). Scalar or array
    ``t``.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    t : float or array_like
        The tilt(s) :math:`t`.

    Returns
    -------
    float or numpy.ndarray
        :math:`\Lambda(t)`, a float for a scalar ``t``, else an array of the shape of ``t``.

    Raises
    ------
    ValueError
        As :func:`perron`, for any entry of ``t``.

    Examples
    --------
    An i.i.d. source gives the memoryless CGF :math:`\Lambda(t) = \log E_p e^{t r} = \log((1 + e^t)/2)` for a
    fair coin reward:

    >>> iid = MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0])
    >>> round(log_spectral_radius(iid, 1.0), 12), round(float(np.log((1 + np.e) / 2)), 12)
    (0.620114506958, 0.620114506958)
    >>> log_spectral_radius(iid, [0.0, 1.0]).round(6).tolist()
    [0.0, 0.620115]
    """
    tt = _validate.real_array(t, "t")
    out = np.array([perron(source, float(x)).log_rho for x in tt.ravel()]).reshape(tt.shape)
    return float(out) if out.ndim == 0 else out


def _asymptotic_variance(Q: np.ndarray, pi: np.ndarray, r: np.ndarray) -> float:
    r""":math:`\sigma^2 = \lim_n \mathrm{Var}(R_n)/n` of :math:`r` along a stationary chain :math:`Q`:
    :math:`\sum_s \pi(s)\bar r(s) \bigl((2Z - I)\bar r\bigr)(s)` with :math:`\bar r = r - \pi r` and the
    fundamental matrix :math:`Z = (I - Q + \mathbf{1}\pi)^{-1}`."""
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
    r""":math:`\Lambda'(t) = \sum_s \pi_t(s) r(s)`: the reward rate of the Doob chain :math:`Q_t`.

    :math:`\pi_t = u v` is the stationary law of :math:`Q_t` (:class:`Perron`).

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    t : float
        The tilt :math:`t`.

    Returns
    -------
    float
        :math:`\Lambda'(t)`; at :math:`t = 0` the stationary mean reward :math:`\pi r`.

    Raises
    ------
    ValueError
        As :func:`perron`.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> round(scaled_cgf_mean(src, 0.0), 12)  # pi(1) = 0.1 / (0.1 + 0.2)
    0.333333333333
    """
    pf = perron(source, t)
    return float(np.dot(pf.stationary, source.reward))


def scaled_cgf_variance(source: MarkovSource, t: float) -> float:
    r""":math:`\Lambda''(t)`: the asymptotic variance of :math:`R` along the stationary Doob chain :math:`Q_t`.

    Autocorrelations included; for an i.i.d. source it is the tilted token variance. Computed as
    :math:`\sum_s \pi_t(s)\bar r(s)((2Z - I)\bar r)(s)`, :math:`\bar r = r - \pi_t r`,
    :math:`Z = (I - Q_t + \mathbf{1}\pi_t)^{-1}`, on the rewards scaled by a power of two into :math:`[-1, 1]`
    (exact), so rewards near 1e300 do not overflow; a ``ValueError`` when the variance itself exceeds the float
    range.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    t : float
        The tilt :math:`t`.

    Returns
    -------
    float
        :math:`\Lambda''(t) \ge 0`.

    Raises
    ------
    ValueError
        As :func:`perron`, or when the variance exceeds the float range.

    Examples
    --------
    For two states with :math:`P(0, 1) = a`, :math:`P(1, 0) = b` and :math:`r = (0, 1)`,
    :math:`\Lambda''(0) = \pi(0)\pi(1)(1 + \lambda_2)/(1 - \lambda_2)` with :math:`\lambda_2 = 1 - a - b`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> round(scaled_cgf_variance(src, 0.0), 12), round((2 / 9) * 1.7 / 0.3, 12)
    (1.259259259259, 1.259259259259)
    >>> scaled_cgf_variance(MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0]), 0.0)  # i.i.d.: p (1 - p)
    0.25
    """
    pf = perron(source, t)
    return _asymptotic_variance(pf.doob, pf.stationary, source.reward)


def doob_kl_rate(source: MarkovSource, lam: float) -> float:
    r"""Per-token relative entropy of the stationary Doob chain to the source.

    .. math::

        \sum_s \pi(s) \sum_{s'} Q(s, s') \log\frac{Q(s, s')}{P(s, s')} = \lambda\Lambda'(\lambda) - \Lambda(\lambda),

    computed from the left-hand side, each row :math:`D(Q(s, \cdot)\Vert P(s, \cdot))` a sum of non-negative
    terms (``lmalign._logspace.kl_logs``): :math:`\ge 0`, relative accuracy about 1e-13 times the conditioning of
    the Perron vectors.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    lam : float
        The tilt :math:`\lambda`.

    Returns
    -------
    float
        The relative entropy rate, :math:`\ge 0`.

    Raises
    ------
    ValueError
        If ``lam`` is not a finite real, or as :func:`perron`.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> right = scaled_cgf_mean(src, 1.0) - log_spectral_radius(src, 1.0)
    >>> round(doob_kl_rate(src, 1.0), 12), round(right, 12)
    (0.173885050839, 0.173885050839)
    """
    lam = _validate.real_scalar(lam, "lam")
    pf = perron(source, lam)
    with np.errstate(divide="ignore"):
        log_q = np.log(pf.doob)
    rows = [kl_logs(log_q[s], source.log_transition[s]) for s in range(source.states)]
    return float(np.dot(pf.stationary, rows))


def markov_rate(source: MarkovSource, x) -> float:
    r"""Rate function :math:`I(x) = \sup_t [t x - \Lambda(t)] = \theta x - \Lambda(\theta)` with
    :math:`\Lambda'(\theta) = x`.

    For :math:`x` strictly inside the range of :math:`\Lambda'`; :math:`\Lambda(0)` is 0 so :math:`I` vanishes at
    the mean rate. Computed as the Doob chain's relative entropy rate plus :math:`\theta (x - \Lambda'(\theta))`
    (the root's residual), so :math:`I \ge 0` keeps its relative precision near the mean rate (about 1e-12).

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    x : float
        The reward rate :math:`x`.

    Returns
    -------
    float
        :math:`I(x) \ge 0`.

    Raises
    ------
    ValueError
        If ``x`` is not a finite real or is outside the range of :math:`\Lambda'` reachable in double precision
        (:func:`theta_of_rate`), or as :func:`perron`.

    Examples
    --------
    An i.i.d. fair coin gives the Bernoulli rate
    :math:`I(x) = x\log(x/p) + (1 - x)\log((1 - x)/(1 - p))`:

    >>> iid = MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0])
    >>> round(markov_rate(iid, 0.75), 12), round(float(0.75 * np.log(1.5) + 0.25 * np.log(0.5)), 12)
    (0.130812035941, 0.130812035941)
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> markov_rate(src, scaled_cgf_mean(src, 0.0))  # the mean rate, 1/3
    0.0
    """
    _check_source(source)
    x = _validate.real_scalar(x, "x")
    theta = theta_of_rate(source, x)
    if theta == 0.0:
        return 0.0
    # theta x - Lambda(theta) = D(Doob chain || source) per token + theta (x - Lambda'(theta)): the first term a
    # sum of non-negative terms, the second the root-finding residual; no cancellation near the mean rate
    return max(doob_kl_rate(source, theta) + theta * (x - scaled_cgf_mean(source, theta)), 0.0)


def theta_of_rate(source: MarkovSource, x: float) -> float:
    r"""The tilt :math:`\theta` with :math:`\Lambda'(\theta) = x`.

    :math:`\Lambda'` increases strictly for a non-constant reward. Bracketed by doubling from :math:`\pm 1` up to
    :math:`|t| = 600 / (r_{\max} - r_{\min})` and refined by Brent's method.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    x : float
        The reward rate :math:`x`.

    Returns
    -------
    float
        :math:`\theta` (0 at the mean rate :math:`\Lambda'(0)`, negative below it).

    Raises
    ------
    ValueError
        If ``x`` is not a finite real, or lies outside the range of :math:`\Lambda'` reachable in double
        precision (the message names ``x``), or as :func:`perron`.

    Examples
    --------
    An i.i.d. fair coin has :math:`\Lambda'(\theta) = e^\theta / (1 + e^\theta)`, so
    :math:`\theta = \log(x / (1 - x))`:

    >>> iid = MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0])
    >>> round(theta_of_rate(iid, 0.75), 12), round(float(np.log(3)), 12)
    (1.098612288668, 1.098612288668)
    """
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
    r"""The path law :math:`p(y) e^{\lambda R(y)} / Z_n(\lambda)` as a Markov chain.

    ``initial`` is the law of :math:`y_1` and ``transitions[t]`` the matrix from :math:`y_{t+1}` to
    :math:`y_{t+2}` (``length - 1`` matrices); ``log_partition`` is
    :math:`\log Z_n(\lambda) = \log E_p e^{\lambda R}`.

    Attributes
    ----------
    lam : float
        The tilt :math:`\lambda`.
    initial : numpy.ndarray
        The law :math:`q(y_1)`, shape ``(k,)``.
    transitions : numpy.ndarray
        The matrices :math:`Q_t`, shape ``(length - 1, k, k)``, each row a probability vector.
    log_partition : float
        :math:`\log Z_n(\lambda)` (``+-inf`` beyond the float range).

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> chain = doob_chain(src, 1.0, 3)
    >>> chain.transitions.shape, round(chain.log_partition, 12)
    ((2, 2, 2), 2.102559741558)
    """

    lam: float
    initial: np.ndarray
    transitions: np.ndarray
    log_partition: float

    def path_logprob(self, paths) -> np.ndarray:
        r""":math:`\log q(y) = \log q(y_1) + \sum_t \log Q_t(y_t, y_{t+1})` under the chain for each row of
        ``paths``.

        Parameters
        ----------
        paths : array_like of int
            States ``0..k-1``, shape ``(m, length)`` (or ``(length,)`` for one path).

        Returns
        -------
        numpy.ndarray
            The ``m`` log-probabilities; they equal :math:`\log p(y) + \lambda R(y) - \log Z_n(\lambda)`.

        Raises
        ------
        ValueError
            If ``paths`` is not a non-empty integer array of states ``0..k-1`` with rows of the chain's length.

        Examples
        --------
        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> chain = doob_chain(src, 1.0, 3)
        >>> y = [[0, 0, 1]]
        >>> by_hand = src.path_logprob(y) + 1.0 * src.path_reward(y) - chain.log_partition
        >>> round(float(chain.path_logprob(y)[0]), 12), round(float(by_hand[0]), 12)
        (-4.20365253077, -4.20365253077)
        """
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
        in :meth:`MarkovSource.sample`.

        Parameters
        ----------
        size : int
            Number of paths, at least 1.
        rng : numpy.random.Generator, int, numpy.random.SeedSequence or None
            The random stream, or a seed for a new one.

        Returns
        -------
        numpy.ndarray
            Integer array of shape ``(size, length)``.

        Raises
        ------
        ValueError
            If ``size`` is not a positive integer, ``rng`` is not a generator or seed, or the arrays would exceed
            ``MAX_CHAIN_CELLS`` entries (the message names ``size``).

        Examples
        --------
        >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
        >>> doob_chain(src, 1.0, 4).sample(3, rng=0).shape
        (3, 4)
        """
        rng = _validate.generator(rng, "rng")
        size = _validate.positive_int(size, "size")
        length = self.transitions.shape[0] + 1
        _check_work("size", 3.0 * size * (length + self.initial.size), f"{size} paths of length {length}")
        return _sample_chain(self.initial, list(self.transitions), size, rng)


def doob_chain(source: MarkovSource, lam: float, length: int) -> DoobChain:
    r"""Doob transform of the source at tilt :math:`\lambda` for paths of :math:`n` = ``length`` states.

    In log space:

    .. math::

        \log h_n = 0, \qquad
        \log h_t(s) = \operatorname{logsumexp}_{s'} \bigl[\log P(s, s') + \lambda r(s') + \log h_{t+1}(s')\bigr],

        Q_t(s, s') = P(s, s') e^{\lambda r(s')} h_{t+1}(s') / h_t(s), \qquad
        q(y_1) = \mu(y_1) e^{\lambda r(y_1)} h_1(y_1) / Z_n.

    A ``ValueError`` naming ``length`` (before allocating) beyond ``MAX_PATH_LENGTH`` or ``MAX_CHAIN_CELLS``
    entries of transition matrices. Computed with :math:`\lambda (r - c)`, :math:`c` the reward that maximises
    :math:`\lambda r`, so a huge ``lam`` gives the chain conditioned on the top (bottom) reward; ``log_partition``
    is ``+-inf`` when :math:`\log Z_n` is beyond the float range, and a ``ValueError`` names ``lam`` when path
    weights differ by more than that range (their ratio is not representable).

    Parameters
    ----------
    source : MarkovSource
        The reference chain (any chain: no primitivity needed).
    lam : float
        The tilt :math:`\lambda`.
    length : int
        The path length :math:`n \ge 1`.

    Returns
    -------
    DoobChain
        The tilted path law as a time-inhomogeneous chain, with :math:`\log Z_n(\lambda)`.

    Raises
    ------
    ValueError
        If ``source`` is not a :class:`MarkovSource`, ``lam`` is not a finite real, ``length`` is not a positive
        integer or exceeds the limits above, or the path weights differ by more than the float range.

    Examples
    --------
    :math:`\log Z_n(\lambda)` is the CGF of the exact law of :math:`R_n`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> chain = doob_chain(src, 1.0, 3)
    >>> round(chain.log_partition, 12), round(float(markov_law(src, 3).cgf(1.0)), 12)
    (2.102559741558, 2.102559741558)
    """
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
    r"""The homogeneous Doob chain :math:`Q(s, s') = P(s, s') e^{\lambda r(s')} v(s') / (\rho\, v(s))`.

    :math:`v` is the right Perron vector of :math:`P_\lambda` (:func:`perron`): the limit of :func:`doob_chain`'s
    transitions far from the end of the path.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    lam : float
        The tilt :math:`\lambda`.

    Returns
    -------
    numpy.ndarray
        The stochastic matrix :math:`Q`, shape ``(k, k)``.

    Raises
    ------
    ValueError
        If ``lam`` is not a finite real, or as :func:`perron`.

    Examples
    --------
    The first transitions of a long Doob chain:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> Q = stationary_doob(src, 1.0)
    >>> Q.round(9).tolist()
    [[0.406148426, 0.593851574], [0.018643657, 0.981356343]]
    >>> bool(np.allclose(doob_chain(src, 1.0, 60).transitions[0], Q, atol=1e-12))
    True
    """
    lam = _validate.real_scalar(lam, "lam")
    return perron(source, lam).doob


def asymptotic_partition(source: MarkovSource, lam: float) -> float:
    r""":math:`\log c` in :math:`Z_n(\lambda) = E e^{\lambda R_n} = c\,\rho^n (1 + O(|\rho_2/\rho|^n))`.

    :math:`c = (\mu_\lambda \cdot v)(u \cdot \mathbf{1}) / \rho` with
    :math:`\mu_\lambda(s) = \mu(s) e^{\lambda r(s)}` and :math:`u \cdot v = 1` (:class:`Perron`).

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    lam : float
        The tilt :math:`\lambda`.

    Returns
    -------
    float
        :math:`\log c(\lambda)`.

    Raises
    ------
    ValueError
        If ``lam`` is not a finite real, or as :func:`perron`.

    Examples
    --------
    An i.i.d. source has :math:`Z_n = (E e^{\lambda r})^n` exactly, so :math:`c = 1`; otherwise
    :math:`\log Z_n - n\Lambda` tends to :math:`\log c`:

    >>> iid = MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0])
    >>> abs(asymptotic_partition(iid, 1.0)) < 1e-12
    True
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> finite = doob_chain(src, 1.0, 60).log_partition - 60 * log_spectral_radius(src, 1.0)
    >>> round(asymptotic_partition(src, 1.0), 12), round(finite, 12)
    (-0.305007954901, -0.305007954901)
    """
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
    r"""The lattice of the additive reward :math:`R_n = r(y_1) + \dots + r(y_n)` of a primitive chain.

    ``span`` is the largest :math:`h` for which there are a constant :math:`a` (``offset``) and a function
    :math:`g` on the states (``potential``) with :math:`r(s') + g(s') - g(s) \in a + h\mathbb{Z}` for every
    transition :math:`P(s, s') > 0` (the lattice condition of Kontoyiannis and Meyn); ``span = 0.0`` when no such
    :math:`h` exists (a non-lattice reward) and ``inf`` when :math:`r(s') + g(s') - g(s) = a` exactly (a constant
    plus a coboundary: :math:`R_n` has bounded fluctuations). Given the first and last states, :math:`R_n` lies in
    the coset :math:`(n - 1) a + r(y_1) + g(y_1) - g(y_n) + h\mathbb{Z}`. ``hidden_period`` is the number of
    distinct values of :math:`g` modulo :math:`h`: 1 when :math:`g` can be taken constant (every token reward in
    :math:`a + h\mathbb{Z}`, and the totals of length :math:`n` on one coset of :math:`h\mathbb{Z}`),
    :math:`m > 1` when the totals split into :math:`m` cosets by the last state (a period hidden in the state,
    invisible in the span of the totals), 0 for a non-lattice or degenerate reward.

    Attributes
    ----------
    span : float
        The span :math:`h` (0.0 for a non-lattice reward, ``inf`` for a degenerate one).
    offset : float
        The constant :math:`a`.
    potential : numpy.ndarray
        The function :math:`g` on the states (modulo :math:`h` for a lattice reward).
    hidden_period : int
        The number of distinct values of :math:`g` modulo :math:`h` (0 for a non-lattice or degenerate reward).
    tolerance : float
        The absolute tolerance within which a defect counts as on the lattice.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> lat = reward_lattice(src)
    >>> lat.span, lat.hidden_period
    (1.0, 1)
    """

    span: float
    offset: float
    potential: np.ndarray
    hidden_period: int
    tolerance: float


def _cycle_data(source: MarkovSource) -> tuple[np.ndarray, np.ndarray, list[tuple[int, float]]]:
    r"""Breadth-first depths :math:`d` and tree reward sums :math:`\phi` from state 0, and for every transition
    :math:`s \to s'` the pair :math:`(d(s) + 1 - d(s'), \phi(s) + r(s') - \phi(s'))`: the (length, reward) group of
    the closed walks is generated by these pairs (a closed walk's pair is the sum of its edges' pairs, the tree
    terms telescoping)."""
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
    r"""Largest :math:`h` with every value within ``tol`` of :math:`h\mathbb{Z}` (Euclid's algorithm on the
    magnitudes); 0.0 when there is none with ratios at most ``MAX_LATTICE_RATIO``, ``inf`` when every value is
    within ``tol`` of 0."""
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
    r"""The lattice of the additive reward, decided exactly from the cycle structure of the transition graph.

    Every closed walk of :math:`m` steps with reward sum :math:`\varrho` gives
    :math:`\varrho - m a \in h\mathbb{Z}`; the group of the pairs :math:`(m, \varrho)` is generated by the
    transitions' pairs of a breadth-first tree. Euclid's algorithm on the lengths (small integers, so no growth
    of rounding) brings it to :math:`(1, a)` (the chain is aperiodic) and pairs :math:`(0, \delta)`; the span is
    the gcd of the defects :math:`\delta`. For float rewards a defect within
    :math:`\mathrm{tolerance} = \mathrm{rtol}\cdot k \cdot \max|r|` of a multiple of the span counts as on it,
    and defects more than ``MAX_LATTICE_RATIO`` spans apart count as incommensurable. The potential is
    :math:`g(s) = d(s) a - \phi(s)` modulo the span (depth and tree reward sum from state 0). The chain must be
    primitive (a ``ValueError`` otherwise).

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    rtol : float, optional
        Relative tolerance of the defects, positive (default ``LATTICE_RTOL``).

    Returns
    -------
    RewardLattice
        Span, offset, potential, hidden period and the absolute tolerance used.

    Raises
    ------
    ValueError
        If the chain is not primitive (or as :func:`period`), or ``rtol`` is not positive.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> reward_lattice(src).span
    1.0
    >>> three = MarkovSource.memoryless([0.2, 0.3, 0.5], [0.0, 1.0, np.sqrt(2)])
    >>> reward_lattice(three).span  # 1 and sqrt(2) are incommensurable
    0.0
    """
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
    r""":math:`m` for a lattice reward whose totals split into :math:`m` cosets of the span by the last state.

    1: none, the condition under which the Bahadur-Rao type expansion holds with the span of the totals; a
    ``ValueError`` for a non-lattice or degenerate reward. See :func:`reward_lattice`.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.

    Returns
    -------
    int
        :math:`m \ge 1`.

    Raises
    ------
    ValueError
        If the reward is non-lattice or a constant plus a coboundary, or as :func:`reward_lattice`.

    Examples
    --------
    The cycle :math:`0 \to 1 \to 2 \to 0` with a loop at 0 and :math:`r = (0, 1/2, 1/2)`: every closed walk has an
    integer reward, but a path ending in state 1 has a total in :math:`1/2 + \mathbb{Z}`:

    >>> src = MarkovSource([1 / 3] * 3, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], [0.0, 0.5, 0.5])
    >>> reward_lattice(src).span, hidden_period(src)
    (1.0, 2)
    """
    lat = reward_lattice(source)
    if lat.hidden_period == 0:
        kind = "non-lattice" if lat.span == 0.0 else "a constant plus a coboundary (bounded fluctuations)"
        raise ValueError(f"source: the additive reward is {kind}; it has no lattice span")
    return lat.hidden_period


@dataclass(frozen=True)
class LatticeClasses:
    r"""The cosets :math:`o_j + h\mathbb{Z}` of the total :math:`R_n` at tilt :math:`t` and their weights
    :math:`w_j`.

    :math:`E[e^{t R_n}; R_n \in o_j + h\mathbb{Z}] = w_j \rho^n (1 + O(|\rho_2/\rho|^n))`, so
    :math:`\sum_j w_j = c(t)` of :func:`asymptotic_partition`; ``log_weights`` are :math:`\log w_j`.

    Attributes
    ----------
    span : float
        The span :math:`h` of :func:`reward_lattice`.
    offsets : numpy.ndarray
        One point :math:`o_j` of each coset.
    log_weights : numpy.ndarray
        :math:`\log w_j`, one per coset.

    Examples
    --------
    >>> src = MarkovSource([1 / 3] * 3, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], [0.0, 0.5, 0.5])
    >>> cl = lattice_classes(src, 0.0, 10)
    >>> cl.offsets.tolist(), round(float(np.exp(cl.log_weights).sum()), 12)  # c(0) = 1
    ([0.0, 0.5], 1.0)
    """

    span: float
    offsets: np.ndarray
    log_weights: np.ndarray


def lattice_classes(source: MarkovSource, t: float, n: int) -> LatticeClasses:
    r"""Cosets of the totals of length :math:`n` and their asymptotic weights at tilt :math:`t`.

    With the first state :math:`s` and the last :math:`s'`,
    :math:`E[e^{t R_n}; y_1 = s, y_n = s'] = \mu_t(s) (P_t^{n-1})(s, s')`, and
    :math:`P_t^{n-1} = \rho^{n-1} (v u^T + O(|\rho_2/\rho|^{n-1}))`, so the pair has weight
    :math:`\mu_t(s) v(s) u(s') / \rho` and lies in the coset :math:`(n - 1) a + r(s) + g(s) - g(s') + h\mathbb{Z}`
    of :func:`reward_lattice`; pairs on one coset are merged. A ``ValueError`` for a non-lattice or degenerate
    reward.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain with a lattice reward.
    t : float
        The tilt :math:`t`.
    n : int
        The path length :math:`n \ge 1`.

    Returns
    -------
    LatticeClasses
        The cosets and their weights :math:`w_j`, :math:`\sum_j w_j = c(t)`.

    Raises
    ------
    ValueError
        If the reward is non-lattice or degenerate, ``n`` is not a positive integer, or as :func:`perron`.

    Examples
    --------
    Without a hidden period there is one coset, of weight :math:`c(t)`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> cl = lattice_classes(src, 1.0, 10)
    >>> len(cl.offsets), round(float(cl.log_weights[0]), 12), round(asymptotic_partition(src, 1.0), 12)
    (1, -0.305007954901, -0.305007954901)
    """
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
    r""":math:`\lambda_\delta > 0` with :math:`\lambda\Lambda'(\lambda) - \Lambda(\lambda) = \delta`.

    The left-hand side is :func:`doob_kl_rate`, increasing in :math:`\lambda`; the root is bracketed by doubling
    from 1 (so the tilts searched are those the budget needs) and refined by Brent's method. A ``ValueError``
    naming ``delta`` when it is not below the rates reachable before the tilt :math:`600 / (r_{\max} - r_{\min})`,
    beyond which the Perron vectors lose every digit in double precision.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain.
    delta : float
        The per-token KL budget :math:`\delta > 0`.

    Returns
    -------
    float
        :math:`\lambda_\delta > 0`.

    Raises
    ------
    ValueError
        If the chain is not primitive, ``delta`` is not positive, or it is not below the reachable rates (the
        message names ``delta``).

    Examples
    --------
    An i.i.d. source gives the multiplier of the memoryless tilt (:func:`lmalign.tilting.solve_lambda`):

    >>> from lmalign.law import RewardLaw
    >>> from lmalign.tilting import solve_lambda
    >>> iid = MarkovSource.memoryless([0.5, 0.5], [0.0, 1.0])
    >>> round(kl_rate_multiplier(iid, 0.1), 9), round(solve_lambda(RewardLaw([0.0, 1.0], [0.5, 0.5]), 0.1), 9)
    (0.943443118, 0.943443118)
    """
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
    r"""Bahadur-Rao type prediction of :math:`\log P(R_n \ge s)` for :math:`s / n` above the mean rate.

    With :math:`\theta` the root of :math:`\Lambda'(\theta) = s / n` and :math:`\sigma^2 = \Lambda''(\theta)`:

    .. math::

        n\Lambda(\theta) - \theta s + \log\sum_j w_j e^{-\theta (s_j - s)}
        - \log\frac{\sigma\sqrt{2\pi n}\,(1 - e^{-\theta h})}{h}

    with the cosets :math:`j` of :func:`lattice_classes` (span :math:`h`, weights :math:`w_j`) and :math:`s_j`
    the first point of coset :math:`j` at or above :math:`s`. Without a hidden period (one coset, :math:`s` on it)
    this is
    :math:`\log c(\theta) + n\Lambda(\theta) - \theta s - \log(\sigma\sqrt{2\pi n}(1 - e^{-\theta h}) / h)`;
    for a non-lattice reward the last term is :math:`\log(\theta\sigma\sqrt{2\pi n})` and the sum is
    :math:`c(\theta)`. The neglected term is :math:`O(1/n)`. A ``ValueError`` for a degenerate reward (bounded
    fluctuations).

    Parameters
    ----------
    source : MarkovSource
        A primitive chain with a non-degenerate reward.
    n : int
        The path length :math:`n \ge 1`.
    s : float
        The level :math:`s`, with :math:`s / n` above the mean rate :math:`\Lambda'(0)`.

    Returns
    -------
    float
        The predicted :math:`\log P(R_n \ge s)`.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, ``s`` is not a finite real, :math:`s / n` is not above the mean rate
        or outside the reachable rates (:func:`theta_of_rate`), the reward is degenerate, or as :func:`perron`.

    Examples
    --------
    The error against the exact tail of :func:`markov_law` shrinks as :math:`n` grows, roughly like
    :math:`1/n`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> for n in (50, 200, 800):
    ...     law = markov_law(src, n)
    ...     exact = float(np.log(law.probs[law.values >= 0.6 * n - 1e-9].sum()))
    ...     print(n, round(markov_log_tail(src, n, 0.6 * n) - exact, 3))
    50 0.202
    200 0.07
    800 0.02
    """
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
    r"""Second-order prediction for best-of-:math:`e^{n\delta}` on a Markov source.

    ``mean`` of the selected reward, ``kl_tilt`` :math:`= D(\mathrm{BoN}\Vert\phi_\lambda)`, ``kl_ref``
    :math:`= D(\mathrm{BoN}\Vert p)`, with ``lam``, ``x_star``, ``sigma``, ``log_c`` and the mean ``u_bar`` and
    entropy ``entropy`` of the discretised Gumbel law (see :func:`markov_bon_expansion`).

    Attributes
    ----------
    lam : float
        :math:`\lambda_\delta` (:func:`kl_rate_multiplier`).
    x_star : float
        :math:`x^* = \Lambda'(\lambda_\delta)`.
    sigma : float
        :math:`\sigma = \sqrt{\Lambda''(\lambda_\delta)}`.
    log_c : float
        :math:`\log c = \log\sum_j w_j`.
    u_bar : float
        :math:`\bar u = \sum_s G(s)(s - n x^*)`, the mean offset of the selected total.
    entropy : float
        :math:`H`, the entropy of the discretised Gumbel law :math:`G`.
    mean : float
        :math:`n x^* + \bar u`, the expected selected reward.
    kl_tilt : float
        :math:`D(\mathrm{BoN}\Vert\phi_\lambda)`.
    kl_ref : float
        :math:`D(\mathrm{BoN}\Vert p)`.

    Examples
    --------
    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> bon = markov_bon_expansion(src, 0.1, 50)
    >>> round(bon.mean, 6), round(bon.kl_ref, 6)
    (39.75192, 3.983459)
    """

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
    r"""Second-order expansion of best-of-:math:`N`, :math:`N = e^{n\delta}`, on the cosets of the totals.

    With :math:`\lambda = \lambda_\delta` (:func:`kl_rate_multiplier`), :math:`x^* = \Lambda'(\lambda)`,
    :math:`\sigma^2 = \Lambda''(\lambda)` and the cosets :math:`j` of :func:`lattice_classes` at :math:`\lambda`
    (span :math:`h`, weights :math:`w_j`, :math:`c = \sum_j w_j`): near :math:`n x^*` the reference puts
    :math:`P(R = s) \sim w_j e^{-n\delta - \lambda u} h / (\sigma\sqrt{2\pi n})` on a point :math:`s = n x^* + u`
    of coset :math:`j`, so

    .. math::

        N P(R \ge s) \sim T(s) = \sum_j \frac{w_j e^{-\lambda (s_j - n x^*)} h}
        {\sigma\sqrt{2\pi n}\,(1 - e^{-\lambda h})}

    (:math:`s_j` the first point of coset :math:`j` at or above :math:`s`), and best-of-:math:`N` puts
    :math:`G(s) = e^{-T(s^+)} - e^{-T(s)}` on :math:`s` (:math:`s^+` the next point of any coset). Then

    .. math::

        \mathrm{mean} &= n x^* + \bar u, \qquad \bar u = \sum_s G(s) (s - n x^*),

        \mathrm{kl\_tilt} &= \log\frac{\sigma\sqrt{2\pi n}}{h} - H - \sum_s G(s) \log\frac{w_{j(s)}}{c},

        \mathrm{kl\_ref} &= n\delta + \lambda\bar u - \log c + \mathrm{kl\_tilt},

    with :math:`H` the entropy of :math:`G`. With one coset this is the lattice Gumbel law of
    :func:`lmalign.best_of_n.lattice_gumbel` with :math:`\mathrm{log\_shift} = \log c`. Neglected terms are
    :math:`O((\log n)^2 / n)` in total. A ``ValueError`` for a non-lattice or degenerate reward.

    Parameters
    ----------
    source : MarkovSource
        A primitive chain with a lattice, non-degenerate reward.
    delta : float
        The per-token budget :math:`\delta > 0`, :math:`N = e^{n\delta}`.
    n : int
        The path length :math:`n \ge 1`.

    Returns
    -------
    BestOfNExpansion
        The predicted mean, KL divergences and the quantities they are built from.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, the reward is non-lattice or degenerate, or as
        :func:`kl_rate_multiplier`.

    Examples
    --------
    The selected total sits near :math:`n x^*`, a little below; :math:`D(\mathrm{BoN}\Vert p)` is near
    :math:`n\delta`:

    >>> src = MarkovSource([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], [0.0, 1.0])
    >>> bon = markov_bon_expansion(src, 0.1, 50)
    >>> round(50 * bon.x_star, 6), round(bon.mean, 6), round(bon.kl_ref, 6)
    (42.625669, 39.75192, 3.983459)
    """
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
