r"""Best-of-N and the KL-constrained frontier for reward samples, per prompt or pooled.

``python -m lmalign frontier REWARDS.csv --column reward --group prompt_id`` reads samples
:math:`r_{g,1}, \dots, r_{g,m_g}` of responses to prompts :math:`g = 1, \dots, G` and, exactly on the empirical
law :math:`p_g` of each prompt, computes for each :math:`N`:

- best-of-:math:`N` (ties at random): mass :math:`F_g(v)^N - F_{g,-}(v)^N` on each level (:math:`F_g` the
  distribution function of :math:`p_g`, :math:`F_{g,-}` its left limit), its relative entropy
  :math:`D(\mathrm{BoN}_g\Vert p_g)` (beside :math:`\log N - (N-1)/N`), its expected reward and its win rate
  :math:`P(X > Y) + P(X = Y)/2` against a fresh :math:`Y \sim p_g`; each reported number is the average over
  prompts;
- the KL-regularized optimum at the same average relative entropy: :math:`q_g(v) \propto p_g(v) e^{\lambda v}`
  with **one** :math:`\lambda` for all prompts, the policy of KL-regularized RL with :math:`\beta = 1/\lambda`,
  which maximizes the average reward :math:`\frac1G \sum_g E_{q_g} r` subject to
  :math:`\frac1G \sum_g D(q_g\Vert p_g) \le \delta` (Lagrange: the multiplier of the average budget is shared);
- on :math:`m_g` samples the empirical law is all there is: best-of-:math:`N` of it is best-of-:math:`N` *with
  replacement* from the samples. For :math:`N \le m_g` the order-statistics estimator (as for pass@k)

  .. math::

      \sum_{i \ge N} \frac{\binom{i-1}{N-1}}{\binom{m_g}{N}}\, r_{(i)},

  with :math:`r_{(1)} \le \dots \le r_{(m_g)}` the sorted samples, is unbiased for the expected best of :math:`N`
  fresh draws; bootstrap intervals over prompts and the share of the optimum's gain carried by its top ten
  samples say how far the numbers can be trusted.

Without groups every sample is pooled into one law (one prompt). :func:`frontier` is the computation;
``read_rewards`` and ``read_samples`` the reader (:mod:`lmalign.frontier.files`); :func:`lmalign.frontier.cli.main`
the command.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from lmalign import _validate
from lmalign._logspace import xexp_minus_expm1
from lmalign.best_of_n import bon_kl_bound
from lmalign.frontier.columns import group_codes, is_table, reward_vector, table_columns
from lmalign.frontier.files import RewardSamples
from lmalign.frontier.levels import LevelBuffers, SharedPrompts
from lmalign.frontier.prompts import PromptTable
from lmalign.frontier.prompts import build as prompt_table
from lmalign.frontier.stream import RewardSummary, sort_pairs
from lmalign.law import RewardLaw

__all__ = ["Frontier", "default_ns", "example_file", "example_rewards", "frontier", "write_example", "MAX_N"]

PROGRESS_MIN_SAMPLES = 200_000  # inputs at least this large show progress bars (on stderr) by default
PLOT_POINTS = 40  # best-of-N points (log-spaced N) in the plot, and points of the optimum's curves
PLOT_POINTS_LARGE = 16  # points of the curves above LARGE_LEVELS distinct (prompt, reward) values (and the rows)
LARGE_LEVELS = 200_000
MAX_N = 1_000_000  # beyond this, best-of-N of samples says nothing about a model, and --all would not end
TOP_SAMPLES = 10  # the optimum's gain carried by this many samples is reported (heavy tails)
MAX_EXAMPLE_SAMPLES = 10**7  # example_rewards: responses at most (80 MB of rewards)
_KL_FLOOR = -800.0  # log-ratios below this contribute g(d) = 1 exactly


def _progress(total: int | None, show: bool, desc: str, unit: str):
    from tqdm import tqdm  # plain text on stderr (tqdm.auto warns inside Jupyter without ipywidgets)

    return tqdm(total=total, disable=not show, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr)


def example_file() -> Path:
    """The example reward file shipped with the package, ``lmalign/data/example_rewards.csv``.

    Returns
    -------
    pathlib.Path
        The file's path in the installed package: a CSV of :func:`example_rewards` with header
        ``prompt_id,reward``.

    Examples
    --------
    >>> path = example_file()
    >>> path.name, path.read_text().splitlines()[0]
    ('example_rewards.csv', 'prompt_id,reward')
    """
    from importlib import resources

    return Path(str(resources.files("lmalign") / "data" / "example_rewards.csv"))


def example_rewards(prompts: int = 400, per_prompt: int = 5, seed: int = 20240402) -> tuple[np.ndarray, np.ndarray]:
    r"""The synthetic example of :func:`example_file`: ``per_prompt`` responses to each of ``prompts``
    prompts, reward = prompt offset :math:`\mathcal N(0, 1)` + response quality :math:`\mathrm{Gumbel}(0, 0.5)`,
    rounded to 0.01 (so some rewards tie, as scores of a real reward model often do). Returns
    ``(prompt_id, reward)``. At most ``MAX_EXAMPLE_SAMPLES`` responses in all; ``seed`` a non-negative integer.

    Parameters
    ----------
    prompts : int, optional
        The number of prompts, at least 1.
    per_prompt : int, optional
        The responses to each prompt, at least 1.
    seed : int, optional
        The seed of numpy's default generator.

    Returns
    -------
    prompt_id : numpy.ndarray
        ``0, ..., prompts - 1``, each repeated ``per_prompt`` times.
    reward : numpy.ndarray
        The rewards, multiples of 0.01.

    Raises
    ------
    ValueError
        If ``prompts`` or ``per_prompt`` is not a positive integer, their product exceeds ``MAX_EXAMPLE_SAMPLES``,
        or ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> prompt_id, reward = example_rewards(prompts=3, per_prompt=2)
    >>> prompt_id.tolist()
    [0, 0, 1, 1, 2, 2]
    >>> bool(np.all(np.round(reward, 2) == reward))  # rounded to 0.01
    True
    """
    prompts = _validate.positive_int(prompts, "prompts")
    per_prompt = _validate.positive_int(per_prompt, "per_prompt")
    if prompts * per_prompt > MAX_EXAMPLE_SAMPLES:
        raise ValueError(f"prompts * per_prompt = {prompts * per_prompt:,} responses: at most {MAX_EXAMPLE_SAMPLES:,}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng(seed)
    offset = rng.normal(0.0, 1.0, size=prompts)
    prompt_id = np.repeat(np.arange(prompts), per_prompt)
    reward = np.round(offset[prompt_id] + rng.gumbel(0.0, 0.5, size=prompt_id.size), 2)
    return prompt_id, reward + 0.0  # + 0.0 turns -0.0 into 0.0


def write_example(path: str | Path) -> Path:
    """Write :func:`example_rewards` as a CSV with the header ``prompt_id,reward``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (replaced if it exists).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    The file is the one shipped with the package:

    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     text = write_example(Path(folder) / "rewards.csv").read_text()
    >>> text == example_file().read_text(), len(text.splitlines())
    (True, 2001)
    """
    path = Path(path)
    prompt_id, reward = example_rewards()
    body = "".join(f"{i},{r:.2f}\n" for i, r in zip(prompt_id.tolist(), reward.tolist(), strict=True))
    path.write_text("prompt_id,reward\n" + body, encoding="utf-8")
    return path


# -- the empirical laws, one per prompt -----------------------------------------------------------------------------
def _power_of_two_scale(values: np.ndarray) -> float:
    r"""The power of two :math:`2^e` with :math:`\max |v| / 2^e` in :math:`[0.5, 1)` (at most :math:`2^{1023}`; 1 for
    all zeros): rewards divided by it are exact and spreads of them cannot overflow."""
    big = float(max(values.max(), -values.min()))
    return math.ldexp(1.0, min(math.frexp(big)[1], 1023)) if big > 0 else 1.0


class _Levels(LevelBuffers):
    r"""The distinct rewards of every prompt, sorted by prompt then reward, as flat arrays (``gid`` the prompt of
    each level). Rewards are scaled by a power of two so that every value and spread is finite.

    Levels of samples are *counted*: a level holds :math:`c` samples above :math:`a` others of its prompt of
    :math:`m`, so best-of-N's mass on it, :math:`((a + c)/m)^N - (a/m)^N`, and every per-level term of best-of-N
    depend on :math:`(a, c, m)` only. Those terms are computed once per distinct triple (one entry per rank :math:`a`
    of each prompt size for the levels of one sample, one per level otherwise) and gathered: no logarithm or
    exponential per level and :math:`N`. Work buffers of one float per level serve the tilts' evaluations."""

    # samples of each level and of each prompt: None for the levels of a law (probabilities, no counts)
    count: np.ndarray | None
    sizes: np.ndarray | None
    below: np.ndarray | None  # samples below each level in its prompt (integers), for counted levels
    labels: np.ndarray  # the prompt ids, set by the constructors from samples and from summaries (not from a law)

    def __init__(
        self,
        values: np.ndarray,
        gid: np.ndarray,
        weight: np.ndarray,
        logp: np.ndarray | None,
        n_groups: int,
        scale: float,
        counted: bool,
    ):
        self.G = n_groups
        L = values.size
        self.size = L
        gid = gid.astype(np.intp, copy=False)  # gathers by 32-bit indices convert them first: 6 times slower
        self.gid, self.scale = gid, scale
        if counted:
            sizes = np.bincount(gid, weight, n_groups)
            m = np.take(sizes, gid, mode="clip")  # the samples of each level's prompt
            self.p = weight / m
        else:
            assert logp is not None  # a law's levels come with their log-probabilities
            self.p = np.exp(logp)
        # a law keeps its log-probabilities (some may be tiny); counted levels recompute them when needed
        self._logp = None if counted else logp
        del logp
        self.start = np.searchsorted(gid, np.arange(n_groups))
        self.top_idx = np.r_[self.start[1:], L] - 1
        self.top = values[self.top_idx]
        self.spread = float(np.max(self.top - values[self.start]))
        self.x = np.take(self.top, gid, mode="clip")
        np.subtract(values, self.x, out=self.x)  # reward below the prompt's top, scaled units
        self.ref_x = self.per_group(self.p * self.x)  # E_p r - top, per prompt
        self.log_p_top = np.log(self.p[self.top_idx])
        self.log_cdf: np.ndarray | None = None
        self.log1m_ratio: np.ndarray | None = None
        if counted:
            whole = weight.astype(np.int64)
            below = np.cumsum(whole)
            below -= whole
            del whole
            below -= np.take(below[self.start], gid, mode="clip")  # samples below each level in its prompt
            self.mid = 0.5 * weight
            self.mid += below
            self.mid /= m  # calibrated reward P(R < v) + P(R = v)/2
            del m
            self.count, self.sizes, self.below = weight, sizes, below
            self._bon_table()
            if self._entry is not None:
                self.below = None  # the entries hold what best-of-N and the unbiased estimate need
        else:
            total = np.bincount(gid, weight, n_groups)
            cum = np.cumsum(weight)
            before = cum[self.start] - weight[self.start]
            cum_in = cum - before[gid]
            rev = np.cumsum(weight[::-1])[::-1]  # sum of weights from each level to the end of the array
            after = rev - weight - (rev[self.top_idx] - weight[self.top_idx])[gid]  # weight strictly above, in-group
            after = np.maximum(after, 0.0)
            m = total[gid]
            self.log_cdf = np.log1p(-after / m)  # log F, exact near F = 1
            with np.errstate(divide="ignore"):
                self.log1m_ratio = np.log1p(-np.minimum(weight / cum_in, 1.0))  # log(F_-/F), -inf at each bottom
            self.mid = (cum_in - weight / 2) / m  # calibrated reward P(R < v) + P(R = v)/2
            self.count = self.sizes = self.below = None
        self.logp_min = float(self.logp.min()) if self._logp is not None and L else 0.0
        self._init_buffers()

    def _bon_table(self) -> None:
        r"""The distinct :math:`(a, c, m)` of the counted levels and each level's entry (``self._entry``; ``None`` when
        every level is its own entry). Levels of one sample (:math:`c = 1`) share the entry :math:`(a, 1, m)` of their
        rank and prompt size; when the prompt sizes would need more entries than half the levels, no sharing."""
        assert self.count is not None and self.sizes is not None and self.below is not None
        sizes = np.rint(self.sizes).astype(np.int64)
        kinds = np.unique(sizes)
        single = self.count == 1.0
        per_rank = int(kinds.sum())
        if per_rank > self.size // 2 or not single.any():
            self._entry = None
            return
        offset = np.r_[0, np.cumsum(kinds)[:-1]]
        base = offset[np.searchsorted(kinds, sizes)]
        multi = np.flatnonzero(~single)
        entry = base[self.gid] + self.below
        entry[multi] = per_rank + np.arange(multi.size)
        self._entry = entry
        rank_m = np.repeat(kinds, kinds).astype(float)
        rank_a = (np.arange(per_rank) - np.repeat(offset, kinds)).astype(float)
        self._entry_acm = (
            np.r_[rank_a, self.below[multi].astype(float)],
            np.r_[np.ones(per_rank), self.count[multi]],
            np.r_[rank_m, self.sizes[self.gid[multi]]],
        )

    @classmethod
    def from_samples(cls, rewards, groups=None, coded: bool = False) -> _Levels:
        """Levels of reward samples; ``groups`` a prompt id per sample (or, with ``coded``, a :class:`_Coded`)."""
        y = reward_vector(rewards, "rewards")
        if groups is None:
            codes = np.zeros(y.size, dtype=np.int64)
            n_groups = 1
            labels = None
        elif coded:
            codes, n_groups, labels = np.asarray(groups.codes), groups.count, groups.labels
        else:
            codes, n_groups, labels = group_codes(groups, y.size)
        scale = _power_of_two_scale(y)
        y = y / scale
        order = sort_pairs(codes, y, unit=True)
        ys, cs = y[order], codes[order]
        del order, y
        new = np.empty(ys.size, dtype=bool)
        new[0] = True
        new[1:] = (ys[1:] != ys[:-1]) | (cs[1:] != cs[:-1])
        idx = np.flatnonzero(new)
        del new
        count = np.empty(idx.size)
        np.subtract(idx[1:], idx[:-1], out=count[:-1])
        count[-1] = ys.size - idx[-1]
        gid = cs[idx]
        values = ys[idx]
        del ys, cs, idx
        out = cls(values, gid, count, None, n_groups, scale, True)
        out.labels = labels if labels is not None else np.arange(n_groups)
        return out

    @classmethod
    def from_summary(cls, summary: RewardSummary) -> _Levels:
        """Levels of per-prompt summaries (distinct rewards sorted within each prompt, with their counts)."""
        values = reward_vector(summary.values, "rewards")
        count = np.asarray(summary.counts, dtype=float)
        gid = np.asarray(summary.gid)
        scale = _power_of_two_scale(values)
        out = cls(values / scale, gid, count, None, summary.n_groups, scale, True)
        out.labels = summary.ids if summary.ids is not None else np.arange(summary.n_groups)
        return out

    @classmethod
    def from_law(cls, law: RewardLaw) -> _Levels:
        """The law's levels as one prompt; levels whose probability underflows to 0 (below 1e-323) are left out:
        the cumulative weights need them positive, and they move no reported number."""
        keep = law.probs > 0
        values, logp = law.values[keep], np.asarray(law.logprobs)[keep]
        scale = _power_of_two_scale(values)
        gid = np.zeros(values.size, dtype=np.int64)
        return cls(values / scale, gid, np.exp(logp), logp, 1, scale, False)

    # -- best-of-N ------------------------------------------------------------------------------------------------
    def _bon_entries(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""For each distinct :math:`(a, c, m)`: best-of-N's mass :math:`M = F^N - F_-^N` (:math:`F = (a + c)/m`,
        :math:`F_- = a/m`) from :math:`\log M = N \log F + \log(1 - (F_-/F)^N)`, its term :math:`M \log(M/p)` of
        :math:`D(\mathrm{BoN}\Vert p)` (:math:`p = c/m`; 0 where :math:`M` underflows) and its term
        :math:`M (a + c/2)/m` of the win rate."""
        if self._entry is None:
            assert self.below is not None and self.count is not None and self.sizes is not None
            a, c, m = self.below.astype(float), self.count, self.sizes[self.gid]
        else:
            a, c, m = self._entry_acm
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            logm = n * np.log1p(-(m - a - c) / m) + np.log(-np.expm1(n * np.log1p(-c / (a + c))))
            mass = np.exp(logm)
            kl = np.where(mass > 0, mass * (logm - np.log(c / m)), 0.0)
        return mass, kl, mass * ((a + 0.5 * c) / m)

    def _gather(self, table: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self._entry is None:
            return table
        return np.take(table, self._entry, out=out, mode="clip")  # entries valid by construction

    def bon_mass(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        r"""Best-of-N's mass on every level, :math:`F^N - F_-^N` (written in ``out``, one float per level, when
        given)."""
        out = np.empty(self.size) if out is None else out
        if n == 1:
            np.copyto(out, self.p)
            return out
        if self.count is not None:
            mass = self._bon_entries(n)[0]
            if self._entry is None:
                np.copyto(out, mass)
                return out
            return self._gather(mass, out)
        assert self.log_cdf is not None and self.log1m_ratio is not None  # the levels of a law
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.exp(n * self.log_cdf + np.log(-np.expm1(n * self.log1m_ratio)), out=out)

    def best_of_n(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Per prompt: :math:`D(\mathrm{BoN}\Vert p) = \sum M \log(M/p)`, :math:`E_{\mathrm{BoN}} r - \mathrm{top}`
        (scaled units) and the win rate against :math:`p`. For a law (no counts)
        :math:`D = \sum p\, g(\log(M/p))`, :math:`g(d) = d e^d - e^d + 1`, per level."""
        if n == 1:
            return np.zeros(self.G), self.ref_x.copy(), self.per_group(self.p * self.mid)
        if self.count is not None:
            mass, kl, win = self._bon_entries(n)
            buf = self.work()[1]
            self.work_tag = None
            kl_g = self.per_group(self._gather(kl, buf))
            win_g = self.per_group(self._gather(win, buf))
            mean_g = self.per_group(np.multiply(self._gather(mass, buf), self.x, out=buf))
            return kl_g, mean_g, win_g
        assert self.log_cdf is not None and self.log1m_ratio is not None  # the levels of a law
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            logm = n * self.log_cdf + np.log(-np.expm1(n * self.log1m_ratio))
        mass = np.exp(logm)
        kl = self.per_group(self.p * _g(np.maximum(logm - self.logp, _KL_FLOOR), mass / self.p))
        return kl, self.per_group(mass * self.x), self.per_group(mass * self.mid)

    def unbiased_best(self, n: int) -> np.ndarray:
        r"""Per prompt: :math:`\sum_{i \ge N} \binom{i-1}{N-1} \binom{m}{N}^{-1} r_{(i)}`, unbiased for the expected
        best of :math:`N` fresh draws (``nan`` where :math:`m < N`), as :math:`E - \mathrm{top}` in scaled units.

        Summed over levels: the :math:`c` tied samples of a level above :math:`a` samples of its prompt carry
        :math:`\sum_{i=a+1}^{a+c} \binom{i-1}{N-1} \binom{m}{N}^{-1} = T(a+c) - T(a)` with
        :math:`T(k) = \binom{k}{N} \binom{m}{N}^{-1}` (hockey stick), :math:`= T(a+1) N/(a+1)` when :math:`c = 1`.
        :math:`T` is tabulated once per distinct prompt size from :math:`T(k-1)/T(k) = (k-N)/k`, summed as logarithms
        from :math:`T(m) = 1` down, so no :math:`\binom{m}{N}` overflows."""
        est = np.full(self.G, np.nan)
        if self.count is None:
            return est
        assert self.sizes is not None  # counted levels have the sizes of their prompts
        ok = self.sizes >= n
        if not ok.any():
            return est
        kinds = np.unique(np.rint(self.sizes).astype(np.int64))
        offset = np.r_[0, np.cumsum(kinds + 1)[:-1]]
        flat = np.zeros(int(np.sum(kinds + 1)))
        for i, m in enumerate(kinds.tolist()):
            if m >= n:
                k = np.arange(m, n, -1, dtype=float)  # k = m, m-1, ..., n+1
                table = flat[offset[i] : offset[i] + m + 1]
                table[m] = 1.0
                table[n:m] = np.exp(np.cumsum(np.log1p(-n / k)))[::-1]  # T(k-1) = T(k) (k-N)/k
        # the weight of each distinct (a, c, m), then gathered per level
        if self._entry is None:
            assert self.below is not None  # kept when the levels have no shared entries
            a, c, m = self.below, self.count.astype(np.int64), np.rint(self.sizes[self.gid]).astype(np.int64)
        else:
            a, c, m = (np.rint(v).astype(np.int64) for v in self._entry_acm)
        base = offset[np.searchsorted(kinds, m)] + a
        upper = flat[base + c]
        w = np.where(c == 1, upper * n / (a + 1.0), upper - flat[base])
        buf = self.work()[1]
        self.work_tag = None
        est[ok] = self.per_group(np.multiply(self._gather(w, buf), self.x, out=buf))[ok]
        return est


@dataclass(frozen=True)
class _TiltPoint:
    t: float
    kl: np.ndarray  # per prompt
    mean_x: np.ndarray  # E_q r - top, scaled units, per prompt
    win: np.ndarray
    slope: float  # d(average KL)/dt
    q: np.ndarray | None = field(default=None, repr=False)

    @property
    def avg_kl(self) -> float:
        return float(np.mean(self.kl))


class _Tilt:
    r""":math:`q_g(v) \propto p_g(v) e^{t s(v)}` with one :math:`t \ge 0` for all prompts, for a score :math:`s`
    increasing in the reward with :math:`s = 0` at each prompt's top (the reward rescaled to :math:`[-1, 0]`, or the
    calibrated reward), so :math:`Z_g = E_p e^{t s} \ge p_g(\mathrm{top})` needs no shift of exponents. For
    :math:`t |s - E_p s| \le 1`, with :math:`c = s - E_p s`, :math:`e = \operatorname{expm1}(t c)`,
    :math:`S = E_p e` and :math:`A = E_p[c e] \ge 0` (a sum of non-negative terms):
    :math:`D(q\Vert p) = t A/(1 + S) - \log(1 + S)`; otherwise :math:`D = t E_q s - \log Z`. One evaluation is one
    pass over the levels (an exponential and four per-prompt sums: :math:`Z`, :math:`E_q s`, :math:`E_q s^2` and the
    win rate); ``mean_x`` (the reward, for the reward tilt) is :math:`\mathrm{span}\, E_q s`."""

    def __init__(self, lv: _Levels, score: np.ndarray, reward_span: float | None):
        self.lv, self.s, self.span = lv, score, reward_span
        buf, tmp = lv.work()
        lv.work_tag = None
        self.ref_s = lv.per_group(np.multiply(lv.p, score, out=buf))  # E_p s per prompt
        self.ref_win = lv.per_group(np.multiply(lv.p, lv.mid, out=buf))
        np.take(self.ref_s, lv.gid, out=tmp, mode="clip")
        np.subtract(score, tmp, out=tmp)  # c = s - E_p s
        self.cmax = float(max(tmp.max(), -tmp.min())) if tmp.size else 0.0
        np.multiply(tmp, lv.p, out=buf)
        self.var_p = lv.dot(0, tmp)  # E_p c^2
        self.var0 = float(np.mean(self.var_p))
        self.dmax = -lv.log_p_top
        self.smin = float(score.min()) if score.size else 0.0
        self.dmax_avg = float(np.mean(self.dmax))

    @property
    def c(self) -> np.ndarray:
        r""":math:`s - E_p s` per level."""
        return self.s - self.ref_s[self.lv.gid]

    def at(self, t: float, keep: bool = False) -> _TiltPoint:
        lv = self.lv
        if t == math.inf:
            q = None
            if keep:
                q = np.zeros_like(lv.p)
                q[lv.top_idx] = 1.0
            return _TiltPoint(t, self.dmax.copy(), lv.x[lv.top_idx].copy(), lv.mid[lv.top_idx].copy(), 0.0, q)
        if t == 0.0:
            mean_x = self.ref_s * self.span if self.span is not None else np.full(lv.G, np.nan)
            return _TiltPoint(0.0, np.zeros(lv.G), mean_x, self.ref_win.copy(), 0.0, lv.p.copy() if keep else None)
        buf, tmp = lv.work()
        small = t * self.cmax <= 1.0
        with np.errstate(under="ignore"):
            if small:
                np.take(self.ref_s, lv.gid, out=tmp, mode="clip")
                np.subtract(self.s, tmp, out=tmp)  # c
                np.multiply(tmp, t, out=buf)
                np.expm1(buf, out=buf)
                buf *= lv.p  # p e
                big_s = lv.per_group(buf)
                one_s = 1.0 + big_s
                big_a = lv.dot(0, tmp)  # E_p[c e]
                win = (self.ref_win + lv.dot(0, lv.mid)) / one_s
                np.multiply(tmp, buf, out=tmp)  # p e c
                ec2 = (self.var_p + lv.dot(1, self.s) - self.ref_s * big_a) / one_s  # E_q c^2
                ec = big_a / one_s
                kl = t * ec - np.log1p(big_s)
                ms = self.ref_s + ec
                var = ec2 - ec * ec
                norm = one_s
            else:
                np.multiply(self.s, t, out=buf)
                if lv._logp is not None:
                    buf += lv._logp
                    lv.exp_in_place(buf, t * self.smin + lv.logp_min)  # p e^{t s} <= p
                else:
                    lv.exp_in_place(buf, t * self.smin)
                    buf *= lv.p
                z = lv.per_group(buf)
                if not np.all(z > 1e-290):  # Z_g >= p_g(top): only a law with a top below 1e-290 gets here
                    return self._at_shifted(t, keep)
                win = lv.dot(0, lv.mid) / z
                np.multiply(buf, self.s, out=tmp)
                ms = lv.per_group(tmp) / z
                var = lv.dot(1, self.s) / z - ms * ms
                kl = t * ms - np.log(z)
                norm = z
        lv.work_tag = (id(self), t, small, norm)
        kl = np.maximum(kl, 0.0)
        var = np.maximum(var, 0.0)
        mean_x = ms * self.span if self.span is not None else np.full(lv.G, np.nan)
        return _TiltPoint(t, kl, mean_x, win, t * float(np.mean(var)), self.masses(t) if keep else None)

    def masses(self, t: float, in_place: bool = False) -> np.ndarray:
        """The tilt's masses at ``t``, from the work buffer when it holds the evaluation at ``t``; with
        ``in_place``, written over that buffer (which then holds no evaluation)."""
        lv = self.lv
        tag = lv.work_tag
        if tag is None or tag[0] != id(self) or tag[1] != t:
            q = self.at(t, keep=True).q
            assert q is not None
            return q
        buf, tmp = lv.work()
        _, _, small, norm = tag
        out = buf if in_place else np.empty(lv.size)
        if in_place:
            lv.work_tag = None
        np.take(norm, lv.gid, out=tmp, mode="clip")
        if small:
            np.add(lv.p, buf, out=out)
            return np.divide(out, tmp, out=out)
        return np.divide(buf, tmp, out=out)

    def _at_shifted(self, t: float, keep: bool) -> _TiltPoint:
        """:meth:`at` with exponents shifted to each prompt's largest (tops of probability below 1e-290)."""
        lv = self.lv
        lv.work_tag = None
        a = self.s * t
        a += lv.logp
        mx = lv.group_max(a)
        a -= mx[lv.gid]
        q = np.exp(a, out=a)
        z = lv.per_group(q)
        q /= z[lv.gid]
        ms = lv.per_group(q * self.s)
        kl = np.maximum(t * ms - (mx + np.log(z)), 0.0)
        var = np.maximum(lv.per_group(q * self.s * self.s) - ms * ms, 0.0)
        mean_x = ms * self.span if self.span is not None else np.full(lv.G, np.nan)
        return _TiltPoint(t, kl, mean_x, lv.per_group(q * lv.mid), t * float(np.mean(var)), q if keep else None)

    def _search(self, target: float, lo: _TiltPoint, tol: float) -> tuple[_TiltPoint, _TiltPoint | None]:
        r"""A bracket ``(lo, hi)`` of ``target`` from ``lo`` upwards (or a point within ``tol max(1, target)`` of it as
        ``hi``). Each step extrapolates linearly in :math:`\log t` the logarithm of the KL, or near the largest KL
        :math:`d_{\max}` of its deficit :math:`d_{\max} - \mathrm{KL}` (slopes from :math:`\mathrm{KL}' = t
        \operatorname{Var}_q(s)`), by a factor between 1.5 and 1000 (at most 1100 steps); ``hi = None`` when :math:`t`
        passes 1e300."""
        t = max(1.5 * lo.t, math.sqrt(2.0 * target / self.var0) if self.var0 > 0 else 1.0)
        for _ in range(1100):
            point = self.at(t)
            if point.avg_kl >= target or abs(point.avg_kl - target) <= tol * max(1.0, target):
                return lo, point
            lo = point
            grow = 2.0
            kl, deficit = point.avg_kl, self.dmax_avg - point.avg_kl
            if kl > 0 and deficit > 0 and point.slope > 0:
                if kl <= deficit:
                    log_grow = math.log(target / kl) * kl / (point.t * point.slope)
                else:
                    log_grow = math.log(deficit / (self.dmax_avg - target)) * deficit / (point.t * point.slope)
                grow = math.exp(min(max(log_grow, math.log(1.5)), math.log(1e3)))
            t *= grow
            if t > 1e300:
                break
        return lo, None

    def solve(
        self,
        target: float,
        lo: _TiltPoint | None = None,
        hi: _TiltPoint | None = None,
        keep: bool = False,
        tol: float = 1e-13,
    ) -> _TiltPoint:
        r"""The point with average KL ``target`` (within ``tol max(1, target)``): a bracket ``lo``, ``hi`` (searched
        for when not given), a first :math:`t` from the cubic through both ends in :math:`(\log t, \log \mathrm{KL})`
        with their slopes, then Newton steps on :math:`d\mathrm{KL}/dt = t \operatorname{Var}_q(s)` kept inside the
        bracket, else its geometric mean (at most 200 steps). A target within rounding of the largest average KL,
        :math:`\operatorname{mean}_g(-\log p_g(\mathrm{top}))`, gives :math:`t = \infty`. With ``keep`` the point
        carries the tilt's masses."""
        if target <= 0.0 or self.cmax == 0.0:
            return self.at(0.0, keep)
        if target >= self.dmax_avg * (1 - 1e-13):
            return self.at(math.inf, keep)
        lo = self.at(0.0) if lo is None or lo.avg_kl > target or not math.isfinite(lo.t) else lo
        if hi is not None and not (math.isfinite(hi.t) and hi.avg_kl >= target and hi.t > lo.t):
            hi = None
        if hi is None:
            lo, hi = self._search(target, lo, tol)
            if hi is None:  # numerically at the top of every prompt: the conditioned law
                return self.at(math.inf, keep)

        def close(p: _TiltPoint) -> bool:
            return abs(p.avg_kl - target) <= tol * max(1.0, target)

        best = lo if abs(lo.avg_kl - target) <= abs(hi.avg_kl - target) else hi
        t = _cubic_guess(lo, hi, target)
        for _ in range(200):
            if close(best) or hi.t - lo.t <= 4e-16 * hi.t:
                break
            point = self.at(t)
            if point.avg_kl < target:
                lo = point
            else:
                hi = point
            best = point
            step = self._newton(point, target)
            t = step if lo.t < step < hi.t else (math.sqrt(lo.t * hi.t) if lo.t > 0 else hi.t / 2)
        if keep:
            best = (
                replace(best, q=self.masses(best.t, in_place=True)) if math.isfinite(best.t) else self.at(best.t, True)
            )
        return best

    def _newton(self, point: _TiltPoint, target: float) -> float:
        r"""The next :math:`t`: a Newton step on :math:`\log \mathrm{KL}` against :math:`\log t`
        (:math:`\mathrm{KL} \approx t^2 \operatorname{Var}/2` for small :math:`t`), or near the largest KL on
        :math:`\log(d_{\max} - \mathrm{KL})` against :math:`t` (each prompt's deficit falls like
        :math:`e^{-t\,\mathrm{gap}}`); slopes from :math:`\mathrm{KL}' = t \operatorname{Var}_q(s)`; ``nan`` without a
        slope."""
        kl, t, slope = point.avg_kl, point.t, point.slope
        deficit, goal = self.dmax_avg - kl, self.dmax_avg - target
        if not (slope > 0 and kl > 0 and deficit > 0 and goal > 0):
            return t - (kl - target) / slope if slope > 0 else math.nan
        if kl <= deficit:
            return t * math.exp(min(math.log(target / kl) * kl / (t * slope), 700.0))
        return t + math.log(deficit / goal) * deficit / slope

    def curve(self, top_kl: float, points: int = 40) -> list[_TiltPoint]:
        r""":math:`t = 0`, ``points`` log-spaced :math:`t` from average KL about :math:`10^{-4}` to about
        1.2 times ``top_kl`` (or near the largest KL), and :math:`t = \infty`."""
        if self.cmax == 0.0:
            return [self.at(0.0)]
        t_lo = math.sqrt(2e-4 / self.var0) if self.var0 > 0 else 1e-3
        end = self.solve(min(1.2 * top_kl + 1e-9, self.dmax_avg * (1 - 1e-6)), tol=1e-3)
        t_hi = end.t if math.isfinite(end.t) else 1e3 / self.cmax
        if not t_hi > t_lo:
            return [self.at(0.0), end, self.at(math.inf)]
        grid = np.geomspace(t_lo, t_hi, points)
        if not math.isfinite(end.t):
            return [self.at(0.0)] + [self.at(float(t)) for t in grid] + [end]
        return [self.at(0.0)] + [self.at(float(t)) for t in grid[:-1]] + [end, self.at(math.inf)]


def _cubic_guess(lo: _TiltPoint, hi: _TiltPoint, target: float) -> float:
    r"""Where the cubic through :math:`(\log t, \log \mathrm{KL})` at ``lo`` and ``hi`` (with slopes
    :math:`t\,\mathrm{KL}'/\mathrm{KL}`) meets :math:`\log` ``target`` (bisection on the cubic); the bracket's
    geometric mean (or half ``hi``) when an end has :math:`\mathrm{KL} = 0`."""
    if not (lo.t > 0 and lo.avg_kl > 0 and lo.slope > 0 and hi.slope > 0):
        return math.sqrt(lo.t * hi.t) if lo.t > 0 else hi.t / 2
    u0, u1 = math.log(lo.t), math.log(hi.t)
    y0, y1, y = math.log(lo.avg_kl), math.log(hi.avg_kl), math.log(target)
    h = u1 - u0
    d0, d1 = lo.t * lo.slope / lo.avg_kl * h, hi.t * hi.slope / hi.avg_kl * h

    def cubic(s: float) -> float:
        return (
            (2 * s**3 - 3 * s**2 + 1) * y0
            + (s**3 - 2 * s**2 + s) * d0
            + (-2 * s**3 + 3 * s**2) * y1
            + (s**3 - s**2) * d1
        )

    a, b = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (a + b)
        if cubic(mid) < y:
            a = mid
        else:
            b = mid
    return math.exp(u0 + 0.5 * (a + b) * h)


def _at_many(tilt: _Tilt, ts: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""Per-prompt :math:`(\mathrm{KL}, E_q s, \operatorname{Var}_q s, \mathrm{win})` of the tilt at each finite
    :math:`t` of ``ts`` (arrays ``len(ts) x G``), by the formulas of :meth:`_Tilt.at`: the ``expm1`` form for
    :math:`t |s - E_p s| \le 1`, shifted exponents otherwise."""
    lv = tilt.lv
    T, G = ts.size, lv.G
    kl = np.empty((T, G))
    q = np.empty((T, lv.size))
    small = ts * tilt.cmax <= 1.0
    if small.any():
        t = ts[small][:, None]
        c = tilt.c
        e = np.expm1(t * c)
        big_s = np.add.reduceat(lv.p * e, lv.start, axis=1)
        kl[small] = t * np.add.reduceat(lv.p * c * e, lv.start, axis=1) / (1.0 + big_s) - np.log1p(big_s)
        q[small] = lv.p * (1.0 + e) / (1.0 + big_s)[:, lv.gid]
    if (~small).any():
        t = ts[~small][:, None]
        a = t * tilt.s + lv.logp
        mx = np.maximum.reduceat(a, lv.start, axis=1)
        qq = np.exp(a - mx[:, lv.gid])
        z = np.add.reduceat(qq, lv.start, axis=1)
        qq /= z[:, lv.gid]
        ms = np.add.reduceat(qq * tilt.s, lv.start, axis=1)
        kl[~small] = t * ms - (mx + np.log(z))
        q[~small] = qq
    ms = np.add.reduceat(q * tilt.s, lv.start, axis=1)
    var = np.maximum(np.add.reduceat(q * tilt.s * tilt.s, lv.start, axis=1) - ms * ms, 0.0)
    return np.maximum(kl, 0.0), ms, var, np.add.reduceat(q * lv.mid, lv.start, axis=1)


def _solve_weighted(
    tilt: _Tilt, w: np.ndarray, target: np.ndarray, grid_t: np.ndarray, grid_kl: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""For each line :math:`j` (prompt weights ``w[j]``, summing to 1), the tilt :math:`t_j` with
    :math:`\sum_g w_{jg} \mathrm{KL}_g(t_j) = \mathrm{target}_j`, and there
    :math:`\sum_g w_{jg} (E_q r - \mathrm{top}_g)` and the weighted win rate.

    Vectorised over the lines: a bracket from the increasing weighted KL on the grid ``grid_t`` (``grid_kl[j]``),
    then Newton steps on :math:`\frac{d}{dt} \sum_g w_g \mathrm{KL}_g = t \sum_g w_g \operatorname{Var}_g(s)` kept
    inside the bracket (else the bracket's geometric mean), until the weighted KL is within
    :math:`10^{-13} \max(1, \mathrm{target})` of the target or the bracket is a few ulps wide (at most 200 steps). A
    target within rounding of the largest weighted KL, :math:`\sum_g w_g (-\log p_g(\mathrm{top}))`, gives
    :math:`t = \infty` (each prompt's top)."""
    lv = tilt.lv
    P = target.size
    span = tilt.span if tilt.span is not None else 1.0
    top_x, top_win = lv.x[lv.top_idx], lv.mid[lv.top_idx]
    mean_x = np.empty(P)
    win = np.empty(P)
    dmax = w @ tilt.dmax
    inf = (target >= dmax * (1 - 1e-13)) | (tilt.cmax == 0.0) | (target <= 0.0)
    at_top = inf & (target > 0.0) & (tilt.cmax > 0.0)
    mean_x[at_top], win[at_top] = w[at_top] @ top_x, w[at_top] @ top_win
    flat = inf & ~at_top
    mean_x[flat], win[flat] = w[flat] @ lv.ref_x, w[flat] @ lv.per_group(lv.p * lv.mid)
    todo = np.flatnonzero(~inf)
    if todo.size == 0:
        return mean_x, win
    finite = np.isfinite(grid_t)
    gt, gk = grid_t[finite], grid_kl[todo][:, finite]
    j = np.array([np.searchsorted(gk[i], target[todo[i]], side="right") for i in range(todo.size)])
    lo = gt[np.maximum(j - 1, 0)]
    hi = np.where(j < gt.size, gt[np.minimum(j, gt.size - 1)], np.inf)
    t = np.where(np.isfinite(hi), 0.5 * (lo + hi), 2.0 * np.maximum(lo, 1.0 / max(tilt.cmax, 1e-300)))
    tw = w[todo]
    tgt = target[todo]
    active = np.ones(todo.size, dtype=bool)
    ms_out = np.zeros(todo.size)
    win_out = np.zeros(todo.size)
    for _ in range(200):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        kl, ms, var, wn = _at_many(tilt, t[idx])
        ww = tw[idx]
        f = np.sum(ww * kl, axis=1) - tgt[idx]
        ms_out[idx], win_out[idx] = np.sum(ww * ms, axis=1), np.sum(ww * wn, axis=1)
        done = (np.abs(f) <= 1e-13 * np.maximum(1.0, tgt[idx])) | (
            np.isfinite(hi[idx]) & (hi[idx] - lo[idx] <= 4e-16 * hi[idx])
        )
        below = f < 0
        lo[idx] = np.where(below, t[idx], lo[idx])
        hi[idx] = np.where(below, hi[idx], t[idx])
        slope = t[idx] * np.sum(ww * var, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = t[idx] - f / slope
        ok = np.isfinite(step) & (step > lo[idx]) & (step < hi[idx])
        fallback = np.where(
            np.isfinite(hi[idx]), np.where(lo[idx] > 0, np.sqrt(lo[idx]) * np.sqrt(hi[idx]), hi[idx] / 2), 2.0 * t[idx]
        )
        t[idx] = np.where(ok, step, fallback)
        active[idx[done]] = False
    mean_x[todo] = ms_out * span
    win[todo] = win_out
    return mean_x, win


def _g(d: np.ndarray, ed: np.ndarray) -> np.ndarray:
    r""":math:`g(d) = d e^d - (e^d - 1) \ge 0` given ``ed`` :math:`= e^d`; a series for :math:`|d| < 10^{-3}`."""
    out = d * ed - np.expm1(d)
    small = np.flatnonzero(np.abs(d) < 1e-3)
    if small.size:
        out[small] = xexp_minus_expm1(d[small])
    return out


def tail_samples(samples: int) -> int:
    """How many samples the tail share counts: 1% of them, at least ``TOP_SAMPLES``."""
    return max(TOP_SAMPLES, samples // 100)


def _tilt_weights(lv: _Levels, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`~lmalign.frontier.prompts.tilt_weights` (per prompt ESS and largest weight of a sample) in the second
    work buffer: :math:`1/\mathrm{ESS} = \sum_v q(v)\, (q(v)/c(v))`."""
    assert lv.count is not None  # counted levels
    per = lv.work()[1]
    np.divide(q, lv.count, out=per)
    return 1.0 / lv.dot(1, q), np.maximum.reduceat(per, lv.start)


def _largest(per: np.ndarray, k: int, work: np.ndarray) -> np.ndarray:
    """Indices of the ``k`` largest entries of ``per`` and of any tied with the ``k``-th (unordered). A threshold
    from a strided subsample (its quantile a little below the ``k``-th largest's expected place) picks candidates in
    one pass; if fewer than ``k`` pass it, a partition of a copy (in ``work``) gives the exact threshold."""
    L = per.size
    if k >= L:
        return np.arange(L)
    if L > 64 * k and L > 1 << 16:
        sample = per[:: max(1, L // (1 << 16))]
        j = int(sample.size * (1.0 - 2.0 * k / L)) - 8  # about twice k candidates expected
        if j > 0:
            guess = np.partition(sample, j)[j]
            cand = np.flatnonzero(per >= guess)
            if cand.size >= k:
                vals = per[cand]
                kth = np.partition(vals, vals.size - k)[vals.size - k]
                return cand[vals >= kth]
    np.copyto(work, per)
    work.partition(L - k)
    return np.flatnonzero(per >= work[L - k])


def _top_shares(lv: _Levels, q: np.ndarray, tops: tuple[int, ...], overwrite: bool = False) -> list[float | None]:
    r"""For each ``top`` in ``tops``: the share of the average gain :math:`\frac1G \sum_g (E_{q_g} - E_{p_g}) r` of a
    policy :math:`q` (masses on the levels) carried by its ``top`` samples of largest contribution
    :math:`(q - p)(v - E_p r)` (per sample of a tied level); ``None`` when there is no gain. One partial sort serves
    every ``top``. With ``overwrite``, ``q`` is used as work space."""
    per = np.subtract(q, lv.p, out=q if overwrite else None)
    d = lv.work()[1]
    np.take(lv.ref_x, lv.gid, out=d, mode="clip")
    np.subtract(lv.x, d, out=d)
    per *= d  # (q - p)(v - E_p r)
    gain = float(np.sum(per))
    if not gain > 0:
        return [None] * len(tops)
    count = lv.count if lv.count is not None else np.ones_like(lv.p)
    if lv.count is not None:
        per /= count  # contribution per sample
    k = min(max(tops), per.size)
    idx = _largest(per, k, d)
    idx = idx[np.argsort(-per[idx], kind="stable")]
    take = np.cumsum(count[idx])  # samples in the first j levels
    acc = np.cumsum(per[idx] * count[idx])
    out: list[float | None] = []
    for top in tops:
        j = int(np.searchsorted(take, top))  # the level that holds the top-th sample
        if j >= idx.size:
            share = acc[-1]
        else:
            share = (acc[j - 1] if j else 0.0) + per[idx[j]] * (top - (take[j - 1] if j else 0.0))
        out.append(min(float(share) / gain, 1.0))
    return out


def _win_tilt(lv: _Levels, share: bool = True) -> _Tilt:
    """The tilt of the calibrated reward (0 at each prompt's top); for counted levels with ``share``, prompts of
    distinct samples are evaluated once per size (:class:`~lmalign.frontier.levels.SharedPrompts`)."""
    if share and lv.count is not None and lv.sizes is not None:
        shared = SharedPrompts(lv.start, lv.size, lv.count, lv.sizes, lv.mid, lv.p)
        return _Tilt(shared, shared.score, None)  # type: ignore[arg-type]  # the interface of _Levels a tilt uses
    score = np.take(lv.mid[lv.top_idx], lv.gid, mode="clip")
    np.subtract(lv.mid, score, out=score)
    return _Tilt(lv, score, None)


# -- the frontier -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frontier:
    r"""Exact best-of-N points and the KL-regularized optimum of empirical reward laws, averaged over prompts.

    ``n``: the N of the table rows; ``bon_*``: best-of-N relative entropy, expected reward, win rate; ``bound``:
    :math:`\log N - (N-1)/N`; ``opt_*``: the optimum at the average KL ``bon_kl`` (``opt_lam`` its multiplier, one
    for all prompts); ``bon_mean_unbiased``: the order-statistics estimate (``nan`` when ``N`` exceeds a prompt's
    samples); ``opt_top_share``: share of the optimum's gain carried by its ten top samples; ``ci``: bootstrap
    percentile intervals over prompts (``name -> rows x 2``, also ``bon_gain`` and ``opt_gain``, the rewards
    above the reference's; the optimum of each resample solved again for its own multiplier) or ``None``.
    ``opt_beta`` :math:`= 1/\lambda` (reward units); ``bon_unbiased_prompts``: the prompts with at least ``N``
    samples, over which ``bon_mean_unbiased`` is averaged; ``opt_tail_share`` and ``bon_tail_share``: share of the
    gain carried by the top 1% of samples (at least ten); ``opt_concentrated``: prompts whose optimum puts more
    than half its weight on one sample; ``prompts``: the per-prompt table (:mod:`lmalign.frontier.prompts`) or
    ``None`` without groups. ``curve_*``: best-of-N at log-spaced
    ``N``; ``tilt_*``: the optimum's curve; ``winfront_*``: the win-rate frontier (tilt of the calibrated reward).

    Every ``bon_*`` and ``opt_*`` number is :math:`\frac1G \sum_g` of the prompt's own; arrays without a prefix
    below have one entry per row (per ``N`` of ``n``).

    Attributes
    ----------
    samples : int
        The reward samples read (for a law, its levels).
    levels : int
        The distinct (prompt, reward) pairs.
    reference_mean : float
        :math:`\frac1G \sum_g E_{p_g} r`.
    n : numpy.ndarray
        The :math:`N` of the rows.
    bound : numpy.ndarray
        :math:`\log N - (N-1)/N`, the bound on best-of-:math:`N`'s relative entropy.
    bon_kl : numpy.ndarray
        Best-of-:math:`N`'s :math:`\frac1G \sum_g D(\mathrm{BoN}_g\Vert p_g)`.
    bon_mean : numpy.ndarray
        Best-of-:math:`N`'s expected reward.
    bon_win : numpy.ndarray
        Best-of-:math:`N`'s win rate against a fresh sample of the prompt.
    opt_lam : numpy.ndarray
        The common multiplier :math:`\lambda` of the optimum :math:`q_g \propto p_g e^{\lambda r}` at average
        relative entropy ``bon_kl``.
    opt_mean : numpy.ndarray
        The optimum's expected reward.
    opt_win : numpy.ndarray
        The optimum's win rate.
    curve_n : numpy.ndarray
        The log-spaced :math:`N` of the best-of-:math:`N` curve (and every row's).
    curve_kl : numpy.ndarray
        Best-of-:math:`N`'s relative entropy at ``curve_n``.
    curve_mean : numpy.ndarray
        Best-of-:math:`N`'s expected reward at ``curve_n``.
    curve_win : numpy.ndarray
        Best-of-:math:`N`'s win rate at ``curve_n``.
    tilt_kl : numpy.ndarray
        The average relative entropy of points of the optimum's curve.
    tilt_mean : numpy.ndarray
        The optimum's expected reward at ``tilt_kl``.
    tilt_win : numpy.ndarray
        The optimum's win rate at ``tilt_kl``.
    groups : int
        The number of prompts :math:`G`.
    per_prompt : bool
        Whether the samples were grouped by prompt.
    min_samples : int
        The fewest samples of a prompt (0 for a law).
    bon_mean_unbiased : numpy.ndarray
        The order-statistics estimate of the expected best of :math:`N` fresh draws, averaged over the prompts with
        at least :math:`N` samples (``nan`` when there is none).
    opt_top_share : numpy.ndarray
        Share of the optimum's gain carried by its ten top samples.
    winfront_kl : numpy.ndarray
        The average relative entropy of points of the win-rate frontier.
    winfront_win : numpy.ndarray
        The largest win rate at ``winfront_kl``.
    ci : dict or None
        Bootstrap percentile intervals, ``name -> rows x 2``.
    bootstrap : int
        The bootstrap resamples (0: none).
    confidence : float
        The intervals' level.
    opt_beta : numpy.ndarray
        :math:`1/\lambda` (``inf`` at :math:`\lambda = 0`).
    bon_unbiased_prompts : numpy.ndarray
        The prompts with at least :math:`N` samples.
    opt_concentrated : numpy.ndarray
        The prompts whose optimum puts more than half its weight on one sample.
    opt_tail_share : numpy.ndarray
        Share of the optimum's gain carried by the top 1% of samples (at least ten).
    bon_tail_share : numpy.ndarray
        Share of best-of-:math:`N`'s gain carried by the top 1% of samples (at least ten).
    prompts : PromptTable or None
        The per-prompt table, or ``None`` without groups.

    Examples
    --------
    Two prompts with two samples each, rewards 0 and 1 for ``a``, 0 and 2 for ``b``. Best-of-2 puts mass
    :math:`1 - (1/2)^2 = 3/4` on each prompt's top, so its expected reward is :math:`(3/4 + 3/2)/2`, its relative
    entropy :math:`\frac34\log\frac32 + \frac14\log\frac12` and its win rate :math:`3/8 + 1/4`:

    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"])
    >>> f.groups, f.samples, f.reference_mean, f.bon_mean.tolist(), f.bon_win.tolist()
    (2, 4, 0.75, [0.75, 1.125], [0.5, 0.625])
    >>> round(float(f.bon_kl[1]), 12), round(float(0.75 * np.log(1.5) + 0.25 * np.log(0.5)), 12)
    (0.130812035941, 0.130812035941)
    """

    samples: int
    levels: int
    reference_mean: float
    n: np.ndarray
    bound: np.ndarray
    bon_kl: np.ndarray
    bon_mean: np.ndarray
    bon_win: np.ndarray
    opt_lam: np.ndarray
    opt_mean: np.ndarray
    opt_win: np.ndarray
    curve_n: np.ndarray
    curve_kl: np.ndarray
    curve_mean: np.ndarray
    curve_win: np.ndarray
    tilt_kl: np.ndarray
    tilt_mean: np.ndarray
    tilt_win: np.ndarray
    groups: int = 1
    per_prompt: bool = False
    min_samples: int = 0
    bon_mean_unbiased: np.ndarray = field(default_factory=lambda: np.zeros(0))
    opt_top_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    winfront_kl: np.ndarray = field(default_factory=lambda: np.zeros(0))
    winfront_win: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ci: dict | None = None
    bootstrap: int = 0
    confidence: float = 0.95
    opt_beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bon_unbiased_prompts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    opt_concentrated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    opt_tail_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bon_tail_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prompts: PromptTable | None = field(default=None, repr=False, compare=False)

    def rows(self) -> list[dict]:
        r"""The table as a list of dicts (one per N); ``inf`` and ``nan`` become ``None``.

        Returns
        -------
        list of dict
            Per row: ``n``, the per-row numbers (``bound``, ``bon_*``, ``opt_*``, shares) as floats or ``None``,
            the counts as integers, and ``ci`` (``name -> [lo, hi]``) with a bootstrap.

        Examples
        --------
        At :math:`N = 1` the optimum is the reference itself, :math:`\lambda = 0`, an infinite :math:`\beta`:

        >>> row = frontier([0.0, 1.0, 0.0, 2.0], n=[1], groups=["a", "a", "b", "b"]).rows()[0]
        >>> row["n"], row["bon_kl"], row["opt_lam"], row["opt_beta"], row["bon_unbiased_prompts"]
        (1, 0.0, 0.0, None, 2)
        """
        keys = (
            "bound",
            "bon_kl",
            "bon_mean",
            "bon_win",
            "opt_lam",
            "opt_beta",
            "opt_mean",
            "opt_win",
            "bon_mean_unbiased",
            "opt_top_share",
            "opt_tail_share",
            "bon_tail_share",
        )
        counts = ("bon_unbiased_prompts", "opt_concentrated")
        out = []
        for i, n in enumerate(self.n):
            row: dict[str, object] = {
                "n": int(n),
                **{k: _finite(getattr(self, k)[i]) for k in keys},
                **{k: int(getattr(self, k)[i]) for k in counts},
            }
            if self.ci is not None:
                row["ci"] = {k: [_finite(v[i, 0]), _finite(v[i, 1])] for k, v in self.ci.items()}
            out.append(row)
        return out

    def to_pandas(self):
        """The table as a pandas DataFrame, one row per N (needs pandas; ``inf``/``nan`` become missing);
        interval bounds are columns ``ci_<name>_lo`` and ``ci_<name>_hi``.

        Returns
        -------
        pandas.DataFrame
            The rows of :meth:`rows`, ``n`` as integers and every other column as floats.

        Raises
        ------
        ImportError
            If pandas is not installed.

        Examples
        --------
        >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"]).to_pandas()
        >>> table["n"].tolist(), table["bon_mean_unbiased"].tolist()
        ([1, 2], [0.75, 1.5])
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Frontier.to_pandas needs pandas (pip install pandas); Frontier.rows() gives the same "
                "table as a list of dicts"
            ) from None
        flat = []
        for row in self.rows():
            ci = row.pop("ci", None) or {}
            for k, (lo, hi) in ci.items():
                row[f"ci_{k}_lo"], row[f"ci_{k}_hi"] = lo, hi
            flat.append(row)
        frame = pd.DataFrame(flat, dtype=float)
        frame["n"] = frame["n"].astype("int64")
        return frame

    def to_dict(self) -> dict:
        """Everything as JSON-ready Python objects (finite floats or ``None``).

        Returns
        -------
        dict
            ``samples``, ``levels``, ``groups``, ``per_prompt``, ``min_samples_per_group``, ``reference_mean``,
            ``bootstrap``, ``confidence`` (``None`` without a bootstrap), ``rows`` (:meth:`rows`) and the curves
            ``curve``, ``tilt`` and ``win_frontier``.

        Examples
        --------
        >>> import json
        >>> d = frontier([0.0, 1.0, 0.0, 2.0], n=[2], groups=["a", "a", "b", "b"]).to_dict()
        >>> d["groups"], d["min_samples_per_group"], d["confidence"], d["rows"][0]["bon_mean"]
        (2, 2, None, 1.125)
        >>> json.loads(json.dumps(d)) == d
        True
        """

        def arr(a):
            return [_finite(v) for v in np.asarray(a, dtype=float)]

        return {
            "samples": self.samples,
            "levels": self.levels,
            "groups": self.groups,
            "per_prompt": self.per_prompt,
            "min_samples_per_group": self.min_samples,
            "reference_mean": _finite(self.reference_mean),
            "bootstrap": self.bootstrap,
            "confidence": self.confidence if self.bootstrap else None,
            "rows": self.rows(),
            "curve": {
                "n": [int(v) for v in self.curve_n],
                "kl": arr(self.curve_kl),
                "mean": arr(self.curve_mean),
                "win": arr(self.curve_win),
            },
            "tilt": {"kl": arr(self.tilt_kl), "mean": arr(self.tilt_mean), "win": arr(self.tilt_win)},
            "win_frontier": {"kl": arr(self.winfront_kl), "win": arr(self.winfront_win)},
        }


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def default_ns(max_n: int) -> list[int]:
    """``1, 2, 4, ..., max_n`` (``max_n`` included when it is not a power of two).

    Parameters
    ----------
    max_n : int
        The largest :math:`N`, at least 1.

    Returns
    -------
    list of int
        The powers of two up to ``max_n``, then ``max_n``.

    Raises
    ------
    ValueError
        If ``max_n`` is not a positive integer.

    Examples
    --------
    >>> default_ns(8), default_ns(12)
    ([1, 2, 4, 8], [1, 2, 4, 8, 12])
    """
    max_n = _validate.positive_int(max_n, "max_n")
    out = [2**j for j in range(max_n.bit_length())]
    return out if out[-1] == max_n else out + [max_n]


def _check_n(k, name: str) -> int:
    k = _validate.positive_int(k, name)
    if k > MAX_N:
        raise ValueError(
            f"{name} = {k} is too large: N is at most {MAX_N:,} (best-of-N of samples at larger N "
            "only repeats their largest value)"
        )
    return k


def frontier(
    rewards,
    max_n: int = 1024,
    n=None,
    progress: bool | None = None,
    groups=None,
    bootstrap: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    *,
    reward: str | None = None,
    group: str | None = None,
) -> Frontier:
    r"""Exact best-of-N (``N`` in ``n``, default ``1, 2, 4, ..., max_n``, plus log-spaced ``N`` for the curve) and
    the KL-regularized optimum at the same average relative entropy.

    ``rewards``: finite numbers (or a :class:`~lmalign.law.RewardLaw`); ``groups``: a prompt id per reward,
    or ``None`` to pool
    every sample into one law. Per prompt :math:`g`, best-of-N of :math:`p_g`; every reported number is
    :math:`\frac1G \sum_g` of the per-prompt one; the optimum is :math:`q_g \propto p_g e^{\lambda r}` with one
    :math:`\lambda`. ``bootstrap = B > 0`` resamples prompts ``B`` times (``numpy`` generator seeded by ``seed``)
    for percentile intervals at level ``confidence``; it needs ``groups``.

    On prompt :math:`g` with distribution function :math:`F_g`, best-of-:math:`N` has expected reward

    .. math::

        E_{\mathrm{BoN}_g} r = \sum_v v \left(F_g(v)^N - F_{g,-}(v)^N\right),

    and for :math:`N \le m_g` the unbiased estimate of the best of :math:`N` fresh draws is
    :math:`\sum_{i \ge N} \binom{i-1}{N-1} \binom{m_g}{N}^{-1} r_{(i)}`. The common multiplier solves

    .. math::

        \frac1G \sum_g D(q_g\Vert p_g) = \frac1G \sum_g D(\mathrm{BoN}_g\Vert p_g).

    ``rewards`` may also be :class:`~lmalign.frontier.files.RewardSamples` (a file read by ``read_samples``, its
    prompt groups included), a :class:`~lmalign.frontier.stream.RewardSummary` (a streamed Parquet dataset), or a
    table, a pandas or polars DataFrame or a pyarrow Table, with ``reward`` the name of
    its reward column and ``group`` the name of its prompt-id column (ids compared as text: strings or integers).
    Every problem with the input is a ``ValueError`` naming the argument (or column) and the first bad entry.

    Parameters
    ----------
    rewards : array_like, ~lmalign.law.RewardLaw, ~lmalign.frontier.files.RewardSamples, RewardSummary or table
        The reward samples (or a law, a file's samples, a streamed summary, a DataFrame or Table).
    max_n : int, optional
        The largest :math:`N` of the default rows and of the curve, at most ``MAX_N``.
    n : sequence of int, optional
        The :math:`N` of the rows (each at most ``MAX_N``), instead of :func:`default_ns` of ``max_n``.
    progress : bool, optional
        Show progress bars on stderr; by default when there are at least 200,000 samples.
    groups : array_like, optional
        A prompt id (string or integer) per reward.
    bootstrap : int, optional
        Resamples of the prompts for intervals (0: none).
    seed : int, optional
        The bootstrap generator's seed, a non-negative integer.
    confidence : float, optional
        The intervals' level, in (0, 1).
    reward, group : str, optional
        The reward and prompt-id columns of a table (keyword only).

    Returns
    -------
    Frontier
        The table, the curves and, with groups, the per-prompt table.

    Raises
    ------
    ValueError
        For bad rewards or ids, a table without ``reward``, ``groups`` together with a table, a law,
        :class:`~lmalign.frontier.files.RewardSamples` or a summary, ``reward``/``group`` without a table, an
        :math:`N` that is not a positive integer or exceeds ``MAX_N``, an empty ``n``, a bad ``bootstrap``,
        ``seed`` or ``confidence``, or a bootstrap without groups.

    Examples
    --------
    Two prompts with two samples each, rewards 0 and 1 for ``a``, 0 and 2 for ``b``: the unbiased estimate at
    :math:`N = m_g = 2` is each prompt's largest sample, and the optimum's multiplier gives tilts
    :math:`q_a(1) = 1/(1 + e^{-\lambda})`, :math:`q_b(2) = 1/(1 + e^{-2\lambda})` of average relative entropy that of
    best-of-2:

    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[2], groups=["a", "a", "b", "b"])
    >>> f.bon_mean.tolist(), f.bon_mean_unbiased.tolist()
    ([1.125], [1.5])
    >>> lam = float(f.opt_lam[0])
    >>> qa, qb = 1 / (1 + np.exp(-lam)), 1 / (1 + np.exp(-2 * lam))
    >>> def kl(q):  # a two-point law against (1/2, 1/2)
    ...     return q * np.log(2 * q) + (1 - q) * np.log(2 * (1 - q))
    >>> round(float((kl(qa) + kl(qb)) / 2), 12), round(float(f.bon_kl[0]), 12)
    (0.130812035941, 0.130812035941)
    >>> round(float((qa + 2 * qb) / 2), 10), round(float(f.opt_mean[0]), 10)
    (1.1420395009, 1.1420395009)

    A table names its columns:

    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["a", "a", "b", "b"], "score": [0.0, 1.0, 0.0, 2.0]})
    >>> frontier(df, n=[2], reward="score", group="prompt").bon_mean.tolist()
    [1.125]
    """
    if is_table(rewards):
        if reward is None:
            raise ValueError("a table needs reward='COLUMN' (and group='COLUMN' for per-prompt numbers)")
        if groups is not None:
            raise ValueError("with a table, name the prompt-id column with group='COLUMN', not groups=")
        values, codes, n_groups, ids = table_columns(rewards, reward, group)
        return frontier(
            values,
            max_n=max_n,
            n=n,
            progress=progress,
            groups=_Coded(codes, n_groups, ids) if codes is not None else None,
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
        )
    if isinstance(rewards, RewardSamples):
        if groups is not None:
            raise ValueError("RewardSamples hold their prompt groups already; do not pass groups")
        if rewards.groups is not None:
            groups = _Coded(rewards.groups, rewards.n_groups, rewards.ids)
        rewards = rewards.rewards
    if reward is not None or group is not None:
        raise ValueError(
            "reward= and group= name columns of a table (pandas, polars, pyarrow); for arrays pass rewards and groups="
        )
    max_n = _check_n(max_n, "max_n")
    if n is not None and (isinstance(n, (str, bytes)) or np.ndim(n) != 1):
        raise ValueError(f"n must be a list of integers N >= 1, got {n!r:.60}")
    table_n = sorted({_check_n(k, "n") for k in (default_ns(max_n) if n is None else n)})
    if not table_n:
        raise ValueError("n is empty")
    bootstrap = _validate.positive_int(bootstrap, "bootstrap") if bootstrap else 0
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r:.40}")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r:.40}")
    confidence = float(confidence)
    if isinstance(rewards, RewardLaw):
        if groups is not None:
            raise ValueError("groups need reward samples, not a RewardLaw")
        lv = _Levels.from_law(rewards)
        samples = int(lv.size)
    elif isinstance(rewards, RewardSummary):
        if groups is not None:
            raise ValueError("a RewardSummary holds its prompts already; do not pass groups")
        lv = _Levels.from_summary(rewards)
        samples = rewards.samples
        groups = rewards.group
    elif isinstance(groups, _Coded):
        lv = _Levels.from_samples(rewards, groups, coded=True)
        assert lv.sizes is not None  # the levels of samples are counted
        samples = int(round(float(lv.sizes.sum())))
    else:
        lv = _Levels.from_samples(rewards, groups)
        assert lv.sizes is not None  # the levels of samples are counted
        samples = int(round(float(lv.sizes.sum())))
    if bootstrap and groups is None:
        raise ValueError("bootstrap resamples prompts: give groups (--group COLUMN)")
    top_n = max(table_n[-1], max_n)
    points = PLOT_POINTS if lv.size <= LARGE_LEVELS else PLOT_POINTS_LARGE
    curve_n = sorted(
        set(np.unique(np.round(np.logspace(0, math.log10(top_n), points)).astype(int)).tolist()) | set(table_n)
    )
    show = samples >= PROGRESS_MIN_SAMPLES if progress is None else bool(progress)
    scale = lv.scale
    bon: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    with _progress(len(curve_n), show, "best-of-N", "N") as bar:
        for k in curve_n:
            bon[k] = lv.best_of_n(k)
            bar.update(1)
    avg_kl = {k: float(np.mean(v[0])) for k, v in bon.items()}
    span = lv.spread
    wf = _win_tilt(lv).curve(max(avg_kl.values()), points)  # before the reward's tilt: memory
    tilt = _Tilt(lv, lv.x / span if span > 0 else np.zeros_like(lv.x), span)
    opt: list[_TiltPoint] = []
    tail = tail_samples(samples)
    shares, weights = [], []  # per row: (top-10 share, tail share); per-prompt (ESS, largest weight)
    with _progress(len(table_n), show, "KL-constrained frontier", "N") as bar:
        # the rows are points of the curve too: a large input's curve has half the points of its own
        grid = tilt.curve(max(avg_kl.values()), points if points == PLOT_POINTS else points // 2)
        known = sorted((p for p in grid if math.isfinite(p.t)), key=lambda p: p.t)
        for k in table_n:  # each row solved inside the bracket of the points known around its KL
            below = [p for p in known if p.avg_kl <= avg_kl[k]]
            above = [p for p in known if p.avg_kl >= avg_kl[k]]
            point = tilt.solve(avg_kl[k], below[-1] if below else None, above[0] if above else None, keep=True)
            assert point.q is not None  # kept by keep=True
            if lv.count is not None:
                weights.append(_tilt_weights(lv, point.q))
            shares.append(_top_shares(lv, point.q, (TOP_SAMPLES, tail), overwrite=True))
            point = replace(point, q=None)  # the masses of every row would hold rows x levels floats
            opt.append(point)
            if math.isfinite(point.t) and point.t > 0:
                known = sorted(known + [point], key=lambda p: p.t)
            bar.update(1)
    top = lv.top

    def in_reward_units(mean_x: np.ndarray) -> float:  # average over prompts of top_g + E(r - top_g), in reward units
        return float(np.mean(top) + np.mean(mean_x)) * scale

    unb_g = {k: lv.unbiased_best(k) for k in table_n}
    unbiased, unb_count = [], []
    for k in table_n:  # averaged over the prompts with at least N samples
        ok = lv.sizes >= k if lv.sizes is not None else np.zeros(lv.G, dtype=bool)
        unb_count.append(int(np.sum(ok)))
        unbiased.append(float(np.mean(top[ok]) + np.mean(unb_g[k][ok])) * scale if ok.any() else math.nan)
    lam = [p.t / span / scale if span > 0 else 0.0 for p in opt]  # t = inf: inf, not inf / inf
    beta = [1.0 / v if v > 0 else math.inf for v in lam]
    prompts = None
    if lv.sizes is not None:
        prompts = prompt_table(
            lv.labels,
            lv.sizes,
            table_n,
            scale,
            bon,
            {k: np.where(np.isnan(u), np.nan, (lv.top + u) * scale) for k, u in unb_g.items()},
            lv.ref_x,
            opt,
            lam,
            weights,
        )
    conc = [prompts.concentrated(i) if prompts is not None else 0 for i in range(len(table_n))]

    def share(v: float | None, empty: float) -> float:
        return empty if v is None else v

    ci = _bootstrap(lv, tilt, table_n, bon, opt, grid, bootstrap, seed, confidence) if bootstrap else None

    def bon_mass(n: int) -> np.ndarray:  # in the first work buffer: the tilts' evaluations are done
        lv.work_tag = None
        return lv.bon_mass(n, out=lv.work()[0])

    on_curve = sorted({p.t: p for p in grid + opt}.values(), key=lambda p: p.t)  # the rows are points of the curve
    col = np.asarray
    return Frontier(
        samples=samples,
        levels=int(lv.size),
        reference_mean=in_reward_units(lv.ref_x),
        n=col(table_n),
        bound=col([bon_kl_bound(n=k) for k in table_n]),
        bon_kl=col([avg_kl[k] for k in table_n]),
        bon_mean=col([in_reward_units(bon[k][1]) for k in table_n]),
        bon_win=col([float(np.mean(bon[k][2])) for k in table_n]),
        opt_lam=col(lam, dtype=float),
        opt_mean=col([in_reward_units(p.mean_x) for p in opt]),
        opt_win=col([float(np.mean(p.win)) for p in opt]),
        curve_n=col(curve_n),
        curve_kl=col([avg_kl[k] for k in curve_n]),
        curve_mean=col([in_reward_units(bon[k][1]) for k in curve_n]),
        curve_win=col([float(np.mean(bon[k][2])) for k in curve_n]),
        tilt_kl=col([g.avg_kl for g in on_curve]),
        tilt_mean=col([in_reward_units(g.mean_x) for g in on_curve]),
        tilt_win=col([float(np.mean(g.win)) for g in on_curve]),
        groups=lv.G,
        per_prompt=groups is not None,
        min_samples=int(lv.sizes.min()) if lv.sizes is not None else 0,
        bon_mean_unbiased=col(unbiased, dtype=float),
        opt_top_share=col([share(v[0], math.nan) for v in shares]),
        winfront_kl=col([g.avg_kl for g in wf]),
        winfront_win=col([float(np.mean(g.win)) for g in wf]),
        ci=ci,
        bootstrap=bootstrap,
        confidence=confidence,
        opt_beta=col(beta, dtype=float),
        bon_unbiased_prompts=col(unb_count, dtype=np.int64),
        opt_concentrated=col(conc, dtype=np.int64),
        opt_tail_share=col([share(v[1], 0.0) for v in shares]),
        bon_tail_share=col([share(_top_shares(lv, bon_mass(k), (tail,), overwrite=True)[0], 0.0) for k in table_n]),
        prompts=prompts,
    )


@dataclass(frozen=True)
class _Coded:
    """Prompt codes ``0 .. count-1`` already checked (from a table or a file)."""

    codes: np.ndarray
    count: int
    labels: np.ndarray | None = None


def _bootstrap(
    lv: _Levels,
    tilt: _Tilt,
    table_n: list[int],
    bon: dict,
    opt: list[_TiltPoint],
    grid: list[_TiltPoint],
    reps: int,
    seed: int,
    confidence: float,
) -> dict[str, np.ndarray]:
    r"""Percentile intervals over ``reps`` resamples of the prompts (with replacement: multinomial counts over the
    prompts, in the order of their ids). Best-of-N and the unbiased estimate are averages of per-prompt numbers,
    reweighted exactly (the unbiased one over the resampled prompts with at least N samples); the optimum of each
    resample is solved again, its own :math:`\lambda` for its own average KL (:func:`_solve_weighted`), to the
    solver's tolerance of :math:`10^{-13}` in the average KL."""
    rng = np.random.default_rng(seed)
    G, scale = lv.G, lv.scale
    points = sorted({p.t: p for p in list(grid) + list(opt)}.items())
    pts = [p for _, p in points]
    grid_t = np.array([p.t for p in pts])
    kl_m = np.stack([p.kl for p in pts], axis=1)  # G x T, increasing along T
    bon_kl = np.stack([bon[k][0] for k in table_n], axis=1)  # G x R
    bon_mx = np.stack([bon[k][1] for k in table_n], axis=1)
    bon_win = np.stack([bon[k][2] for k in table_n], axis=1)
    unb = np.stack([lv.unbiased_best(k) for k in table_n], axis=1)  # nan where a prompt has fewer than N
    has = ~np.isnan(unb)
    unb = np.where(has, unb + lv.top[:, None], 0.0)
    top = lv.top
    R = len(table_n)
    out: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("bon_kl", "bon_mean", "bon_win", "opt_mean", "opt_win", "bon_mean_unbiased", "bon_gain", "opt_gain")
    }
    chunk = max(1, min(reps, 2_000_000 // max(G, 1), 4_000_000 // max(R * lv.size, 1)))
    done = 0
    while done < reps:
        b = min(chunk, reps - done)
        w = rng.multinomial(G, np.full(G, 1.0 / G), size=b) / G  # b x G prompt weights
        base = w @ top
        out["bon_kl"].append(w @ bon_kl)
        out["bon_mean"].append((base[:, None] + w @ bon_mx) * scale)
        out["bon_win"].append(w @ bon_win)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["bon_mean_unbiased"].append((w @ unb) / (w @ has) * scale)
        target = w @ bon_kl  # b x R
        wp = np.repeat(w, R, axis=0)  # one (resample, row) pair per line
        om, ow = _solve_weighted(tilt, wp, target.ravel(), grid_t, wp @ kl_m)
        om, ow = om.reshape(b, R), ow.reshape(b, R)
        out["opt_mean"].append((base[:, None] + om) * scale)
        ref = (w @ lv.ref_x)[:, None]
        out["bon_gain"].append((w @ bon_mx - ref) * scale)  # E_BoN r - E_p r, averaged over the resampled prompts
        out["opt_gain"].append((om - ref) * scale)
        out["opt_win"].append(ow)
        done += b
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    res = {}
    for k, parts in out.items():
        vals = np.concatenate(parts, axis=0)
        defined = ~np.isnan(vals).any(axis=0)
        res[k] = np.full((len(table_n), 2), np.nan)
        if defined.any():
            res[k][defined] = np.percentile(vals[:, defined], q, axis=0).T
    return res
