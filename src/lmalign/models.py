"""Token models the chapters share: random token laws and rewards for the checks, and simple reward laws.

Every random model is drawn from a ``numpy.random.Generator`` passed in, so a chapter's seed fixes all of them.
The ``rng`` argument may also be a seed (anything ``numpy.random.default_rng`` accepts).
"""

from __future__ import annotations

import math

import numpy as np

from lmalign import _validate
from lmalign.law import RewardLaw

CONCENTRATIONS = (0.3, 1.0, 5.0)  # Dirichlet concentrations: skewed, flat-ish and nearly uniform token laws
REWARD_KINDS = ("mixed", "lattice", "continuous")
MAX_LEVELS = 10**7  # tokens or levels of a model: beyond this a law no longer fits comfortably in memory


def _size(k, name: str, least: int) -> int:
    """An integer in ``[least, MAX_LEVELS]``."""
    k = _validate.positive_int(k, name)
    if k < least:
        raise ValueError(f"{name} must be >= {least}, got {k}")
    if k > MAX_LEVELS:
        raise ValueError(f"{name} = {k} is too large (at most {MAX_LEVELS:,})")
    return k


def random_token_model(
    k: int,
    rng: np.random.Generator | int | None,
    *,
    reward: str = "mixed",
    uniform_mix: float = 0.0,
    floor: float = 1e-12,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A random token law :math:`p` on :math:`k` tokens and a non-constant token reward :math:`r`.

    :math:`p \sim \mathrm{Dirichlet}(\alpha)` with :math:`\alpha` drawn from ``CONCENTRATIONS``, floored at
    ``floor`` and mixed with the uniform law: :math:`p \leftarrow (1 - m)\, p + m / k`, :math:`m` =
    ``uniform_mix``, renormalised. ``reward`` is ``"continuous"`` (standard normal), ``"lattice"`` (integers in
    ``[-1, k // 2 + 1)``, so ties are likely) or ``"mixed"`` (integers in ``[0, max(2, k // 2))`` with probability
    0.4, else normal).

    Parameters
    ----------
    k : int
        The number of tokens, :math:`2 \le k \le` ``MAX_LEVELS``.
    rng : numpy.random.Generator or int or None
        The generator, or a seed for ``numpy.random.default_rng``.
    reward : {"mixed", "lattice", "continuous"}
        The kind of reward.
    uniform_mix : float
        The weight :math:`m \in [0, 1]` of the uniform law.
    floor : float
        The least probability before mixing, in :math:`[0, 1)`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(p, r)``.

    Raises
    ------
    ValueError
        If ``k`` is not an integer in ``[2, MAX_LEVELS]``, ``rng`` is not a generator or seed, ``floor`` is not
        in :math:`[0, 1)`, ``reward`` is not one of ``REWARD_KINDS``, or ``uniform_mix`` is not in :math:`[0, 1]`.

    Examples
    --------
    >>> p, r = random_token_model(5, 0, reward="lattice")
    >>> p.shape, round(float(p.sum()), 12), bool(np.all(r == np.round(r))), len(set(r.tolist())) > 1
    ((5,), 1.0, True, True)
    """
    k = _size(k, "k (a reward needs two tokens to vary)", 2)
    rng = _validate.generator(rng, "rng")
    floor = _validate.nonneg_finite(floor, "floor")
    if floor >= 1.0:
        raise ValueError(f"floor must be < 1, got {floor!r}")
    if reward not in REWARD_KINDS:
        raise ValueError(f"reward must be one of {', '.join(REWARD_KINDS)}, got {reward!r}")
    uniform_mix = _validate.real_scalar(uniform_mix, "uniform_mix")
    if not 0.0 <= uniform_mix <= 1.0:
        raise ValueError(f"uniform_mix must lie in [0, 1], got {uniform_mix!r}")
    p = rng.dirichlet(np.full(k, rng.choice(CONCENTRATIONS)))
    p = np.maximum(p, floor)
    p = (1.0 - uniform_mix) * p / p.sum() + uniform_mix / k
    p /= p.sum()
    for _ in range(1000):  # a non-constant reward; with k >= 2 each draw succeeds with probability >= 1/2
        if reward == "continuous" or (reward == "mixed" and rng.random() >= 0.4):
            r = rng.normal(size=k)
        elif reward == "mixed":
            r = rng.integers(0, max(2, k // 2), size=k).astype(float)
        else:
            r = rng.integers(-1, max(2, k // 2) + 1, size=k).astype(float)
        if np.unique(r).size > 1:
            return p, r
    raise RuntimeError("no non-constant reward in 1000 draws")  # probability below 2^-1000


def random_law(k: int, rng: np.random.Generator | int | None, *, scale: float = 1.0, floor: float = 1e-12) -> RewardLaw:
    r"""A random law on :math:`k` distinct levels.

    The values are ``scale`` times sorted standard normal draws, with the probabilities of
    :func:`random_token_model` (flat, skewed, or with a few tiny levels).

    Parameters
    ----------
    k : int
        The number of levels, :math:`2 \le k \le` ``MAX_LEVELS``.
    rng : numpy.random.Generator or int or None
        The generator, or a seed for ``numpy.random.default_rng``.
    scale : float
        The factor on the values (finite).
    floor : float
        The least probability, in :math:`[0, 1)`.

    Returns
    -------
    RewardLaw

    Raises
    ------
    ValueError
        If ``k`` is not an integer in ``[2, MAX_LEVELS]``, ``rng`` is not a generator or seed, ``scale`` is not a
        finite real, or ``floor`` is not in :math:`[0, 1)`.

    Examples
    --------
    >>> law = random_law(6, 1, scale=10.0)
    >>> len(law), bool(np.all(np.diff(law.values) > 0))
    (6, True)
    """
    k = _size(k, "k", 2)
    rng = _validate.generator(rng, "rng")
    scale = _validate.real_scalar(scale, "scale")
    p, _ = random_token_model(k, rng, reward="continuous", floor=floor)
    return RewardLaw(np.sort(scale * rng.normal(size=k)), p)


def uniform_law(levels: int) -> RewardLaw:
    r"""The uniform law on the rewards :math:`0, 1, \dots, L - 1`, :math:`L` = ``levels``.

    Parameters
    ----------
    levels : int
        :math:`L`, with :math:`1 \le L \le` ``MAX_LEVELS``.

    Returns
    -------
    RewardLaw

    Raises
    ------
    ValueError
        If ``levels`` is not an integer in ``[1, MAX_LEVELS]``.

    Examples
    --------
    >>> law = uniform_law(4)
    >>> law.values.tolist(), law.probs.round(12).tolist(), law.mean()
    ([0.0, 1.0, 2.0, 3.0], [0.25, 0.25, 0.25, 0.25], 1.5)
    """
    levels = _size(levels, "levels", 1)
    return RewardLaw.from_logprobs(np.arange(levels, dtype=float), np.full(levels, -math.log(levels)))


# The book's two running examples. A chapter's parameters cell restates them as literals (papermill and the range
# grammar read literals), and a test keeps every such default equal to these.
THREE_LETTER_P = (0.5, 0.3, 0.2)  # a three-letter token law with closed forms in sympy
THREE_LETTER_R = (0.0, 1.0, 2.0)
TEN_TOKEN_P = (0.22, 0.18, 0.15, 0.12, 0.1, 0.08, 0.06, 0.04, 0.03, 0.02)  # the ten-token model of chapter 3
TEN_TOKEN_R = (0.0, 0.5, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.5)  # its rewards, on the lattice of step 0.5


def three_letter_law() -> RewardLaw:
    """The reward law of one token of the three-letter model: :math:`p = (0.5, 0.3, 0.2)` on
    :math:`r = (0, 1, 2)`.

    Returns
    -------
    RewardLaw
        The law with values ``THREE_LETTER_R`` and probabilities ``THREE_LETTER_P``.

    Examples
    --------
    >>> round(three_letter_law().mean(), 12)
    0.7
    """
    return RewardLaw(list(THREE_LETTER_R), list(THREE_LETTER_P))


def ten_token_law() -> RewardLaw:
    """The reward law of one token of the ten-token model: the probabilities ``TEN_TOKEN_P`` on the rewards
    ``TEN_TOKEN_R`` (two tokens share the reward 0.5, so the law has nine levels on the lattice
    :math:`0.5\\,\\mathbb{Z}`).

    Returns
    -------
    RewardLaw
        Nine levels :math:`0, 0.5, \\dots, 3.5, 4.5` with :math:`P(0.5) = 0.18 + 0.15`.

    Examples
    --------
    >>> law = ten_token_law()
    >>> len(law), round(law.mean(), 10)
    (9, 1.06)
    """
    return RewardLaw(list(TEN_TOKEN_R), list(TEN_TOKEN_P))
