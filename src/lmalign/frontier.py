"""Best-of-N and the KL-constrained frontier for your own reward samples.

``python -m lmalign frontier REWARDS.csv`` reads reward samples of a model (one number per line, or one column
of a CSV file with a header), forms their empirical law ``p`` and computes, exactly on that law:

- best-of-``N`` for ``N = 1 .. max_n`` (ties at random): mass ``F(v)^N - F_-(v)^N`` on each level ``v``, its
  relative entropy ``D(BoN||p)`` beside ``log N - (N-1)/N``, its expected reward and its win rate
  ``P(X > Y) + P(X = Y)/2`` against a fresh sample ``Y ~ p``;
- the KL-constrained optimum ``p_lam(v) ~ p(v) e^{lam v}`` at the same relative entropy as each best-of-``N``
  point (the best expected reward any policy can have there), and the whole tilt curve for the plot.

:func:`frontier` is the same computation as a function; :func:`read_rewards` the file reader.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmalign import _validate
from lmalign._logspace import kl_logs
from lmalign.best_of_n import BestOfNKernel, bon_kl_bound
from lmalign.law import RewardLaw
from lmalign.transforms import calibrated_reward

PROGRESS_MIN_SAMPLES = 200_000  # inputs at least this large show progress bars (on stderr) by default
PROGRESS_MIN_BYTES = 4_000_000
PLOT_POINTS = 40  # best-of-N points (log-spaced N) and tilt-curve points in the plot


class RewardFileError(ValueError):
    """A reward file that cannot be read as rewards; the message names the file, line and problem."""


# -- reading ------------------------------------------------------------------------------------------------------
def _progress(total: int, show: bool, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, desc=desc, unit=unit, unit_scale=True, leave=False,
                file=sys.stderr)


def _number(text: str, path: Path, lineno: int, where: str) -> float:
    cell = text.strip()
    if not cell:
        raise RewardFileError(f"{path}, line {lineno}: empty {where}")
    try:
        value = float(cell)
    except ValueError:
        raise RewardFileError(f"{path}, line {lineno}: {where} {cell!r} is not a number") from None
    if math.isnan(value):
        raise RewardFileError(f"{path}, line {lineno}: {where} is NaN (not a number); remove or fix that sample")
    if math.isinf(value):
        raise RewardFileError(f"{path}, line {lineno}: {where} {cell!r} is infinite; rewards must be finite")
    return value


def read_rewards(path: str | Path, column: str | None = None, progress: bool | None = None) -> np.ndarray:
    """Rewards from a text file: one number per line, or a CSV file with a header row, from which ``column``
    is read (a CSV with a single column needs no ``column``). Blank lines and lines starting with ``#`` are
    skipped. Raises :class:`RewardFileError` naming the line for a missing file, no rewards, a non-numeric or
    empty cell, a NaN or infinite reward, an unknown column, or several columns and no ``column``."""
    path = Path(path)
    if not path.is_file():
        raise RewardFileError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    size = path.stat().st_size
    show = size >= PROGRESS_MIN_BYTES if progress is None else bool(progress)
    out: list[float] = []
    with path.open("r", encoding="utf-8-sig", newline="") as fh, _progress(size, show, "reading", "B") as bar:
        lines = ((i, line) for i, line in enumerate(fh, start=1) if line.strip() and not line.lstrip().startswith("#"))
        first = next(lines, None)
        if first is None:
            raise RewardFileError(f"{path}: the file has no rewards (it is empty or only blank/comment lines)")
        first_no, first_line = first
        header = next(csv.reader([first_line]))
        is_header = not _looks_numeric(header[0]) or column is not None
        if not is_header and len(header) > 1:
            raise RewardFileError(f"{path}, line {first_no}: {len(header)} fields but no header row; give one "
                                  "reward per line, or a CSV with a header and --column NAME")
        index = 0
        if is_header:
            names = [h.strip() for h in header]
            if column is None:
                if len(names) > 1:
                    raise RewardFileError(f"{path}: several columns ({', '.join(names)}); choose one with "
                                          "--column NAME (column=... in Python)")
            elif column not in names:
                raise RewardFileError(f"{path}: no column {column!r}; the header has {', '.join(map(repr, names))}")
            else:
                index = names.index(column)
            where = f"column {names[index]!r}"
        else:
            out.append(_number(first_line, path, first_no, "reward"))
            where = "reward"
        done = 0
        for lineno, line in lines:
            if is_header or "," in line:
                fields = next(csv.reader([line]))
                if not is_header and len(fields) > 1:
                    raise RewardFileError(f"{path}, line {lineno}: {len(fields)} fields where one reward was expected")
                if index >= len(fields):
                    raise RewardFileError(f"{path}, line {lineno}: the row has {len(fields)} fields, no {where}")
                text = fields[index]
            else:
                text = line
            out.append(_number(text, path, lineno, where))
            done += len(line)
            if done > 1 << 20:
                bar.update(done)
                done = 0
    if not out:
        raise RewardFileError(f"{path}: the file has a header but no rewards")
    return np.asarray(out, dtype=float)


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def example_file() -> Path:
    """The example reward file shipped with the package, ``lmalign/data/example_rewards.csv``."""
    from importlib import resources

    return Path(str(resources.files("lmalign") / "data" / "example_rewards.csv"))


def example_rewards(prompts: int = 400, per_prompt: int = 5, seed: int = 20240402) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic example of :func:`example_file`: ``per_prompt`` responses to each of ``prompts``
    prompts, reward = prompt offset ``N(0, 1)`` + response quality ``Gumbel(0, 0.5)``, rounded to 0.01 (so some
    rewards tie, as scores of a real reward model often do). Returns ``(prompt_id, reward)``."""
    rng = np.random.default_rng(seed)
    offset = rng.normal(0.0, 1.0, size=prompts)
    prompt_id = np.repeat(np.arange(prompts), per_prompt)
    reward = np.round(offset[prompt_id] + rng.gumbel(0.0, 0.5, size=prompt_id.size), 2)
    return prompt_id, reward + 0.0  # + 0.0 turns -0.0 into 0.0


def write_example(path: str | Path) -> Path:
    """Write :func:`example_rewards` as a CSV with the header ``prompt_id,reward``."""
    path = Path(path)
    prompt_id, reward = example_rewards()
    body = "".join(f"{i},{r:.2f}\n" for i, r in zip(prompt_id.tolist(), reward.tolist(), strict=True))
    path.write_text("prompt_id,reward\n" + body, encoding="utf-8")
    return path


# -- the computation ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TiltPoint:
    lam: float
    kl: float
    mean: float
    var: float
    win: float


def _tilt_point(law: RewardLaw, mid_rank: np.ndarray, lam: float) -> TiltPoint:
    """KL (a sum of non-negative terms), mean, variance and win rate of ``p_lam`` on ``law``."""
    d = law.log_tilt_ratio(lam)
    lq = law.logprobs + d
    q = np.exp(lq)
    mean = float(np.dot(q, law.values))
    var = float(np.dot(q, (law.values - mean) ** 2))
    # sum q d has terms of size lam |v - mean| summing to about lam^2 var / 2: direct when that loses < 1e-13
    kl = float(np.dot(q, d)) if lam * lam * var > 1e-4 else kl_logs(lq, law.logprobs)
    return TiltPoint(lam=lam, kl=max(kl, 0.0), mean=mean, var=var, win=float(np.dot(q, mid_rank)))


def _bon_point(kernel: BestOfNKernel, mid_rank: np.ndarray, n: int) -> tuple[float, float, float]:
    """KL, mean and win rate of best-of-``n`` on ``kernel.law``. For ``n >= 2`` the KL is at least
    ``0.19`` nats for two levels or more, so ``sum m (log m - log p)`` has no harmful cancellation."""
    law = kernel.law
    lm = kernel.log_masses(math.log(n))
    m = np.exp(lm)
    pos = m > 0
    kl = float(np.dot(m[pos], lm[pos] - law.logprobs[pos]))
    return kl, float(np.dot(m, law.values)), float(np.dot(m, mid_rank))


def _solve_tilt(law: RewardLaw, mid_rank: np.ndarray, target: float, lo: TiltPoint, hi: TiltPoint) -> TiltPoint:
    """``p_lam`` with ``D(p_lam||p) = target``, from a bracket ``lo.kl <= target <= hi.kl``: Newton steps on
    ``dD/dlam = lam Var_lam``, falling back to bisection in ``log lam`` when a step leaves the bracket."""
    best = lo if abs(lo.kl - target) <= abs(hi.kl - target) else hi
    for _ in range(100):
        if abs(best.kl - target) <= 1e-13 * max(1.0, target) or hi.lam - lo.lam <= 4e-16 * hi.lam:
            break
        slope = best.lam * best.var
        step = best.lam - (best.kl - target) / slope if slope > 0 else math.nan
        if not (lo.lam < step < hi.lam):
            step = math.sqrt(lo.lam * hi.lam) if lo.lam > 0 else hi.lam / 2
        point = _tilt_point(law, mid_rank, step)
        if point.kl < target:
            lo = point
        else:
            hi = point
        best = point
    return best


@dataclass(frozen=True)
class Frontier:
    """Exact best-of-N points and the KL-constrained frontier of an empirical reward law.

    ``n``: the N of the table rows; ``bon_*``: best-of-N relative entropy, expected reward, win rate; ``bound``:
    ``log N - (N-1)/N``; ``opt_*``: the KL-constrained optimum at ``bon_kl`` (``opt_lam`` its multiplier).
    ``curve_*``: best-of-N at ``curve_n`` (log-spaced up to ``max_n``) and the tilt curve ``tilt_*`` for a plot.
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

    def rows(self) -> list[dict]:
        """The table as a list of dicts (one per N)."""
        keys = ("bound", "bon_kl", "bon_mean", "bon_win", "opt_lam", "opt_mean", "opt_win")
        return [{"n": int(n), **{k: float(getattr(self, k)[i]) for k in keys}} for i, n in enumerate(self.n)]

    def to_dict(self) -> dict:
        return {"samples": self.samples, "levels": self.levels, "reference_mean": self.reference_mean,
                "rows": self.rows(),
                "curve": {"n": self.curve_n.tolist(), "kl": self.curve_kl.tolist(),
                          "mean": self.curve_mean.tolist(), "win": self.curve_win.tolist()},
                "tilt": {"kl": self.tilt_kl.tolist(), "mean": self.tilt_mean.tolist(),
                         "win": self.tilt_win.tolist()}}


def default_ns(max_n: int) -> list[int]:
    """``1, 2, 4, ..., max_n`` (``max_n`` included when it is not a power of two)."""
    out = [2**j for j in range(int(math.log2(max_n)) + 1)]
    return out if out[-1] == max_n else out + [max_n]


def frontier(rewards, max_n: int = 1024, n=None, progress: bool | None = None) -> Frontier:
    """Exact best-of-N (``N`` in ``n``, default ``1, 2, 4, ..., max_n``, plus log-spaced ``N`` up to ``max_n`` for
    the curve) and the KL-constrained optimum at the same relative entropy, on the empirical law of ``rewards``
    (a sequence of finite numbers or a :class:`RewardLaw`)."""
    law = rewards if isinstance(rewards, RewardLaw) else RewardLaw.from_samples(rewards)
    samples = len(rewards) if not isinstance(rewards, RewardLaw) else len(law)
    max_n = _validate.positive_int(max_n, "max_n")
    table_n = sorted({_validate.positive_int(k, "n") for k in (default_ns(max_n) if n is None else n)})
    if not table_n:
        raise ValueError("n is empty")
    curve_n = sorted(set(np.unique(np.round(np.logspace(0, math.log10(max(table_n[-1], max_n)), PLOT_POINTS))
                                   .astype(int)).tolist()) | set(table_n))
    show = samples >= PROGRESS_MIN_SAMPLES if progress is None else bool(progress)
    mid_rank = calibrated_reward(law)
    kernel = BestOfNKernel(law) if len(law) > 1 else None
    bon = {}
    with _progress(len(curve_n), show, "best-of-N", "N") as bar:
        for k in curve_n:
            if k == 1 or kernel is None:
                bon[k] = (0.0, law.mean(), float(np.dot(law.probs, mid_rank)))
            else:
                bon[k] = _bon_point(kernel, mid_rank, k)
            bar.update(1)
    # the tilt family: a grid in log lam covering the best-of-N relative entropies, then exact roots per row
    top_kl = max(v[0] for v in bon.values())
    base = TiltPoint(lam=0.0, kl=0.0, mean=law.mean(), var=law.var(), win=float(np.dot(law.probs, mid_rank)))
    grid = [base]
    span = float(law.values[-1] - law.values[0]) or 1.0
    lam = 1e-2 / math.sqrt(base.var) if base.var > 0 else 1.0
    with _progress(None, show, "KL-constrained frontier", "tilts") as bar:
        while len(law) > 1:
            point = _tilt_point(law, mid_rank, lam)
            grid.append(point)
            bar.update(1)
            if point.kl >= 1.2 * top_kl + 1e-9 or lam > 1e6 / span or point.kl >= 0.999 * law.max_kl:
                break
            lam *= 1.15
        opt = []
        for k in table_n:
            target = bon[k][0]
            if target <= 0.0 or len(law) == 1:
                opt.append(base)
                continue
            i = next((j for j, g in enumerate(grid) if g.kl >= target), None)
            if i is None:  # beyond the grid (BoN within rounding of D_max): the optimum conditions on the top
                opt.append(TiltPoint(lam=math.inf, kl=law.max_kl, mean=float(law.values[-1]), var=0.0,
                                     win=float(mid_rank[-1])))
                continue
            opt.append(_solve_tilt(law, mid_rank, target, grid[i - 1], grid[i]))
            bar.update(1)
    col = np.asarray
    return Frontier(
        samples=samples, levels=len(law), reference_mean=law.mean(), n=col(table_n),
        bound=col([bon_kl_bound(n=k) for k in table_n]),
        bon_kl=col([bon[k][0] for k in table_n]), bon_mean=col([bon[k][1] for k in table_n]),
        bon_win=col([bon[k][2] for k in table_n]),
        opt_lam=col([o.lam for o in opt]), opt_mean=col([o.mean for o in opt]), opt_win=col([o.win for o in opt]),
        curve_n=col(curve_n), curve_kl=col([bon[k][0] for k in curve_n]),
        curve_mean=col([bon[k][1] for k in curve_n]), curve_win=col([bon[k][2] for k in curve_n]),
        tilt_kl=col([g.kl for g in grid]), tilt_mean=col([g.mean for g in grid]), tilt_win=col([g.win for g in grid]))


# -- output -------------------------------------------------------------------------------------------------------
def table(fr: Frontier) -> str:
    """The frontier as an aligned text table (KL in nats)."""
    head = (f"# {fr.samples} reward samples, {fr.levels} distinct values, mean {fr.reference_mean:.6g}\n"
            f"# best-of-N (ties at random) vs the KL-constrained optimum at the same KL; win rate vs a sample of p\n")
    cols = f"{'N':>6} {'logN-(N-1)/N':>13} {'KL(BoN||p)':>11} {'E_BoN[r]':>12} {'win_BoN':>8} " \
           f"{'lambda':>10} {'E_opt[r]':>12} {'win_opt':>8}"
    lines = [cols]
    for row in fr.rows():
        lines.append(f"{row['n']:>6d} {row['bound']:>13.6f} {row['bon_kl']:>11.6f} {row['bon_mean']:>12.6g} "
                     f"{row['bon_win']:>8.4f} {row['opt_lam']:>10.4g} {row['opt_mean']:>12.6g} {row['opt_win']:>8.4f}")
    return head + "\n".join(lines)


def draw(fr: Frontier):
    """The frontier figure: expected reward and win rate against the relative entropy, best-of-N points at their
    exact KL, the table rows placed at ``log N - (N-1)/N`` instead, and the KL-constrained optimum's curve."""
    import matplotlib.pyplot as plt

    from lmalign.plotstyle import use_style

    use_style()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, bon, rows, tilt, label in ((axes[0], fr.curve_mean, fr.bon_mean, fr.tilt_mean, "expected reward"),
                                       (axes[1], fr.curve_win, fr.bon_win, fr.tilt_win, "win rate against p")):
        ax.plot(fr.tilt_kl, tilt, "k-", lw=1.5, label="KL-constrained optimum")
        ax.plot(fr.curve_kl, bon, "o", ms=3, label="best-of-N (exact KL)")
        ax.plot(fr.bound, rows, "|", ms=10, color="C3", label="table rows placed at log N - (N-1)/N")
        ax.set_xlabel("KL from the reference (nats)")
        ax.set_ylabel(label)
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title(f"{fr.samples} samples, {fr.levels} distinct rewards, N up to {int(fr.curve_n[-1])}",
                      fontsize=9)
    fig.tight_layout()
    return fig


def plot(fr: Frontier, path: str | Path) -> Path:
    """Write :func:`draw`'s figure to ``path``: SVG, PNG or PDF by its suffix."""
    import matplotlib.pyplot as plt

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"out must end in .svg, .png or .pdf, got {path.name!r}")
    fig = draw(fr)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lmalign frontier",
        description="Exact best-of-N (N = 1..MAX_N) and the KL-constrained frontier for reward samples: a table "
                    "on stdout and a plot file.")
    p.add_argument("rewards", help="file of rewards: one number per line, or a CSV with a header row")
    p.add_argument("--column", help="CSV column holding the rewards (needed when there are several)")
    p.add_argument("--max-n", type=int, default=1024, help="largest N (default 1024)")
    rows = p.add_mutually_exclusive_group()
    rows.add_argument("--n", type=int, nargs="+", metavar="N", help="N of the table rows (default 1, 2, 4, ..., MAX_N)")
    rows.add_argument("--all", action="store_true", help="a table row for every N from 1 to MAX_N")
    p.add_argument("--out", default="frontier.svg", help="plot file, .svg, .png or .pdf (default frontier.svg)")
    p.add_argument("--no-plot", action="store_true", help="do not write a plot")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    progress = False if args.quiet else None
    try:
        rewards = read_rewards(args.rewards, column=args.column, progress=progress)
        table_n = list(range(1, args.max_n + 1)) if args.all and args.max_n >= 1 else args.n
        fr = frontier(rewards, max_n=args.max_n, n=table_n, progress=progress)
        out = None if args.no_plot else plot(fr, args.out)
    except ValueError as exc:  # RewardFileError and bad options: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(fr.to_dict(), indent=1) if args.json else table(fr))
    if out is not None:
        print(f"plot written to {out}", file=sys.stderr)
    return 0
