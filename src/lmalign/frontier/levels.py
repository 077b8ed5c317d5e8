r"""Per-level work space of the frontier's tilts, and prompts that share one tilt by the calibrated reward.

A tilt :math:`q_g(v) \propto p_g(v) e^{t s(v)}` is evaluated in passes over flat arrays with one entry per level (a
distinct reward of a prompt). :class:`LevelBuffers` holds what every such evaluation reuses: two float buffers, the
exponential that skips underflowing arguments, the logarithms of the masses. :class:`SharedPrompts` lets prompts
whose tilt is the same be evaluated once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UNDERFLOW_EXPONENT", "LevelBuffers", "SharedPrompts"]

UNDERFLOW_EXPONENT = -746.0  # e^a rounds to 0 for every double a below this (e^-745.14 is half the least subnormal)


class LevelBuffers:
    """Work space of one float per level: two buffers (allocated once), and where an exponent underflows.

    A class of levels sets ``size``, ``p`` (the masses), ``_logp`` (their logarithms, or ``None`` to recompute
    them) and ``start`` (the first level of each prompt; levels of a prompt are contiguous), optionally ``expand``
    (see :class:`SharedPrompts`), and calls ``_init_buffers``. Sums per prompt (``per_group``, ``dot``,
    ``group_max``) run over the levels of each row in order and are copied to the prompts ``expand`` maps to it.

    Examples
    --------
    >>> class Levels(LevelBuffers):
    ...     def __init__(self, p, start):
    ...         self.p, self.size, self._logp, self.start = p, p.size, None, start
    ...         self._init_buffers()
    >>> lv = Levels(np.array([0.25, 0.75, 1.0]), np.array([0, 2]))  # two prompts, of two levels and of one
    >>> lv.per_group(lv.p).tolist(), lv.group_max(lv.p).tolist()
    ([1.0, 1.0], [0.75, 1.0])
    """

    size: int
    p: np.ndarray
    _logp: np.ndarray | None
    start: np.ndarray  # the first level of each row of sums (a prompt, or one that stands for others)
    expand: np.ndarray | None = None  # per prompt: its row, when rows stand for several prompts

    def _init_buffers(self) -> None:
        self._work: list[np.ndarray] = []
        self._dots: list = []
        self._low: tuple[np.ndarray, np.ndarray] | None = None  # where an exponent underflows, and not
        self.work_tag: tuple | None = None  # which evaluation the first work buffer holds (see _Tilt.at)

    @property
    def logp(self) -> np.ndarray:
        r""":math:`\log p` per level (recomputed for counted levels)."""
        return self._logp if self._logp is not None else np.log(self.p)

    def work(self) -> tuple[np.ndarray, np.ndarray]:
        """Two float buffers of one entry per level, allocated once.

        Returns
        -------
        tuple of numpy.ndarray
            The same two buffers at every call (their contents are the caller's).

        Examples
        --------
        >>> class Levels(LevelBuffers):
        ...     def __init__(self, size):
        ...         self.size = size
        ...         self._init_buffers()
        >>> a, b = Levels(4).work()
        >>> a.shape, a is b
        ((4,), False)
        """
        if not self._work:
            self._work = [np.empty(self.size), np.empty(self.size)]
        return self._work[0], self._work[1]

    def exp_in_place(self, a: np.ndarray, low: float) -> np.ndarray:
        r""":math:`e^a` over ``a`` (one float per level), where ``low`` bounds ``a`` from below.

        Where :math:`a < -746` the exponential underflows to 0, which the C library reaches by a slow path (several
        times the cost of a normal argument): when ``low`` allows such arguments, those entries are set to 0 and
        only the others exponentiated. The values are those of ``numpy.exp``.

        Parameters
        ----------
        a : numpy.ndarray
            The exponents, one per level; overwritten.
        low : float
            A lower bound of ``a`` (``-inf`` is allowed).

        Returns
        -------
        numpy.ndarray
            ``a``, holding :math:`e^a`.

        Examples
        --------
        >>> class Levels(LevelBuffers):
        ...     def __init__(self, size):
        ...         self.size = size
        ...         self._init_buffers()
        >>> Levels(3).exp_in_place(np.array([-800.0, -1.0, 0.0]), -800.0).round(6).tolist()
        [0.0, 0.367879, 1.0]
        """
        if low >= UNDERFLOW_EXPONENT:
            return np.exp(a, out=a)
        if self._low is None:
            self._low = (np.empty(self.size, dtype=bool), np.empty(self.size, dtype=bool))
        under, normal = self._low
        np.less(a, UNDERFLOW_EXPONENT, out=under)
        np.exp(a, out=a, where=np.logical_not(under, out=normal))
        np.copyto(a, 0.0, where=under)
        return a

    def _per_prompt(self, rows: np.ndarray) -> np.ndarray:
        return rows if self.expand is None else rows[self.expand]

    def per_group(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over each prompt's levels.

        Parameters
        ----------
        w : numpy.ndarray
            One value per level.

        Returns
        -------
        numpy.ndarray
            One sum per prompt.

        Examples
        --------
        Two prompts of one sample each: one row of sums stands for both.

        >>> shared = SharedPrompts(np.array([0, 1]), 2, np.ones(2), np.ones(2), np.full(2, 0.5), np.ones(2))
        >>> shared.size, shared.per_group(np.array([3.0])).tolist()
        (1, [3.0, 3.0])
        """
        return self._per_prompt(np.add.reduceat(w, self.start))

    def group_max(self, w: np.ndarray) -> np.ndarray:
        """Largest ``w`` over each prompt's levels.

        Parameters
        ----------
        w : numpy.ndarray
            One value per level.

        Returns
        -------
        numpy.ndarray
            One maximum per prompt.

        Examples
        --------
        >>> one = SharedPrompts(np.array([0]), 3, np.ones(3), np.array([3.0]), np.array([1, 3, 5]) / 6, np.ones(3) / 3)
        >>> one.group_max(np.array([1.0, -2.0, 0.5])).tolist()
        [1.0]
        """
        return self._per_prompt(np.maximum.reduceat(w, self.start))

    def dot(self, which: int, v: np.ndarray) -> np.ndarray:
        r"""Per prompt :math:`\sum_l w_l v_l` for :math:`w` the work buffer ``which``: one pass and no temporary,
        through a sparse matrix (one row per row of sums) whose data is the buffer.

        Parameters
        ----------
        which : int
            The work buffer, 0 or 1 (of :meth:`work`).
        v : numpy.ndarray
            One value per level.

        Returns
        -------
        numpy.ndarray
            One sum per prompt.

        Examples
        --------
        A prompt of two tied samples (one level of mass 1): the mean of its calibrated reward.

        >>> tied = SharedPrompts(np.array([0]), 1, np.array([2.0]), np.array([2.0]), np.array([0.5]), np.ones(1))
        >>> tied.work()[0][:] = tied.p
        >>> tied.dot(0, tied.mid).tolist()
        [0.5]
        """
        if not self._dots:
            import scipy.sparse as sp

            idx_t = np.int32 if self.size < 2**31 else np.int64
            indices = np.arange(self.size, dtype=idx_t)
            indptr = np.r_[self.start, self.size].astype(idx_t)
            shape = (self.start.size, self.size)
            self._dots = [sp.csr_array((w, indices, indptr), shape=shape, copy=False) for w in self.work()]
        return self._per_prompt(self._dots[which] @ v)


class SharedPrompts(LevelBuffers):
    r"""The counted levels of a set of prompts, with the prompts whose tilt by the calibrated reward is the same
    evaluated once.

    A prompt of :math:`m` samples, all distinct, has the levels :math:`a = 0, \dots, m-1`, each of mass
    :math:`1/m` and calibrated reward :math:`(a + \tfrac12)/m`; its score :math:`s = ` calibrated reward minus the
    top's, :math:`(a + 1 - m)/m`, depends on :math:`m` only, and so does its tilt. The first such prompt of each
    size stands for all of that size; every other prompt (one with a tied reward) stands for itself. Sums per prompt
    (``per_group``, ``dot``, ``group_max``) are taken over the levels of the prompts kept, in the same order as over
    all levels (so with the same values), and copied to every prompt they stand for: arrays per prompt have one entry
    for each of the ``G`` prompts, arrays per level one for each level kept.

    Parameters
    ----------
    start : numpy.ndarray
        Index of the first level of each prompt (levels of a prompt contiguous, sorted by reward).
    size : int
        The levels of all prompts.
    count : numpy.ndarray
        Samples of each level.
    sizes : numpy.ndarray
        Samples of each prompt.
    mid : numpy.ndarray
        The calibrated reward :math:`P(R < v) + P(R = v)/2` of each level.
    p : numpy.ndarray
        The mass of each level in its prompt.

    Examples
    --------
    Two prompts of two distinct samples and one of two tied samples: the second prompt is evaluated as the first.

    >>> shared = SharedPrompts(
    ...     start=np.array([0, 2, 4]), size=5, count=np.array([1.0, 1, 1, 1, 2]), sizes=np.array([2.0, 2, 2]),
    ...     mid=np.array([0.25, 0.75, 0.25, 0.75, 0.5]), p=np.array([0.5, 0.5, 0.5, 0.5, 1.0]))
    >>> shared.size, shared.score.tolist()
    (3, [-0.5, 0.0, 0.0])
    >>> shared.per_group(shared.p * shared.mid).tolist()  # the calibrated reward's mean, per prompt
    [0.5, 0.5, 0.5]
    """

    def __init__(
        self,
        start: np.ndarray,
        size: int,
        count: np.ndarray,
        sizes: np.ndarray,
        mid: np.ndarray,
        p: np.ndarray,
    ):
        G = start.size
        per_prompt = np.diff(np.r_[start, size])
        distinct = per_prompt == np.rint(sizes)  # every sample of the prompt is a level of its own
        idx = np.flatnonzero(distinct)
        kinds, first = np.unique(per_prompt[idx], return_index=True)
        stand = np.arange(G)  # per prompt: the prompt that stands for it
        stand[idx] = idx[first][np.searchsorted(kinds, per_prompt[idx])]
        keep = ~distinct
        keep[idx[first]] = True
        kept = np.flatnonzero(keep)
        row = np.zeros(G, dtype=np.intp)
        row[kept] = np.arange(kept.size)
        self.expand = row[stand]  # per prompt: the row of the prompt that stands for it
        sel = np.flatnonzero(np.repeat(keep, per_prompt))
        lengths = per_prompt[kept]
        self.G, self.size = G, int(sel.size)
        self.start = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.intp)
        top = self.start + lengths - 1
        self.p, self.mid = p[sel], mid[sel]
        self.count = count[sel]
        self.gid = np.repeat(kept, lengths)  # per level: its prompt (one that stands for others, or itself)
        self.top_idx = top[self.expand]
        self.log_p_top = np.log(self.p[self.top_idx])
        self.x = np.zeros(self.size)  # no reward: the tilt is of the calibrated reward only
        self._logp = None
        self.logp_min = 0.0
        self.score = self.mid - np.repeat(self.mid[top], lengths)
        self._init_buffers()
