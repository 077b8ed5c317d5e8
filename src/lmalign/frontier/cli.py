"""The ``frontier`` command: a table (or JSON) on standard output, warnings on standard error, a plot file.

Every problem is one line ``error: ...`` on standard error naming the file (and line or option) with exit code 2.
The table is printed before the plot is written; the plot is written atomically (a failed write leaves the
previous file as it was). With ``--json`` no plot is written unless ``--out`` asks for one.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from lmalign._atomic import atomic_write_bytes
from lmalign.frontier.core import MAX_N, Frontier, _Coded, frontier, tail_samples
from lmalign.frontier.files import FORMATS, RewardFileError, RewardSamples, display_name, read_points, read_samples
from lmalign.frontier.prompts import table_format
from lmalign.frontier.stream import RewardSummary, dataset_files, is_dataset, read_summary

PLOT_FORMATS = ("svg", "png", "pdf")
HEAVY_SHARE = 0.5  # warn when the optimum's top ten samples carry more than this share of its gain
TAIL_SHARE = 1 / 3  # ... or when its top 1% of samples carry more than this share
TAIL_RATIO = 2.0  # ... and more than this many times best-of-N's share at the same KL
SCHEMA_VERSION = 2  # of the --json output (chapter 14 documents it)


def table(fr: Frontier) -> str:
    r"""The frontier as an aligned text table (KL in nats).

    A header of ``#`` lines says what was read and what the columns mean; then one line per row of the table
    (per :math:`N`), with bootstrap intervals when the frontier has them.

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.

    Returns
    -------
    str
        The table, lines ending in a newline.

    Examples
    --------
    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"])
    >>> print(table(f).splitlines()[0])
    # 4 reward samples in 2 prompts (at least 2 per prompt), 4 distinct (prompt, reward) values; average reward 0.75
    """
    if fr.per_prompt:
        head = (
            f"# {fr.samples} reward samples in {fr.groups} prompts (at least {fr.min_samples} per prompt), "
            f"{fr.levels} distinct (prompt, reward) values; average reward {fr.reference_mean:.6g}\n"
            "# per-prompt best-of-N (ties at random) and the KL-regularized optimum at the same average KL, "
            "every number averaged over prompts;\n"
            "# the optimum tilts every prompt by exp(lambda r) with one lambda: KL-regularized RL with "
            "beta = 1/lambda, the largest average reward\n# within the average KL budget; win rates are "
            "against a fresh sample of the same prompt\n"
        )
    else:
        head = (
            f"# {fr.samples} reward samples, {fr.levels} distinct values, mean {fr.reference_mean:.6g}; "
            "pooled into one law\n"
            "# best-of-N (ties at random) vs the KL-constrained optimum at the same KL; win rate vs a sample "
            "of p\n"
        )
    head += (
        "# E_unb: unbiased order-statistics estimate of the expected best of N fresh draws, averaged over the "
        "prompts with at least N samples (their number: #unb);\n"
        "# beta = 1/lambda is in reward units: rescaling the rewards by c rescales beta by c, so compare it "
        "with an RL beta only on the same reward scale; top10: share of the optimum's gain from its 10 top "
        "samples\n"
    )
    ci = fr.ci
    cols = (
        f"{'N':>7} {'logN-(N-1)/N':>13} {'KL(BoN||p)':>11} {'E_BoN[r]':>11} {'E_unb':>11} {'#unb':>7} "
        f"{'win_BoN':>8} {'lambda':>10} {'beta':>10} {'E_opt[r]':>11} {'win_opt':>8} {'top10':>6}"
    )
    if ci is not None:
        pct = f"{100 * fr.confidence:g}%"
        cols += f"  {'E_BoN ' + pct + ' CI':>23}  {'E_opt ' + pct + ' CI':>23}"
    lines = [cols]
    for i, row in enumerate(fr.rows()):
        lines.append(
            f"{row['n']:>7d} {row['bound']:>13.6f} {row['bon_kl']:>11.6f} {_g(row['bon_mean'])} "
            f"{_g(row['bon_mean_unbiased'])} {row['bon_unbiased_prompts']:>7d} {row['bon_win']:>8.4f} "
            f"{_lam(row['opt_lam'])} {_beta(fr.opt_beta[i])} {_g(row['opt_mean'])} {row['opt_win']:>8.4f} "
            f"{_share(row['opt_top_share'])}"
        )
        if ci is not None:
            lines[-1] += f"  {_interval(ci['bon_mean'][i])}  {_interval(ci['opt_mean'][i])}"
    return head + "\n".join(lines)


def _g(v) -> str:
    return f"{'-':>11}" if v is None else f"{v:>11.6g}"


def _lam(v) -> str:
    return f"{'inf':>10}" if v is None else f"{v:>10.4g}"


def _beta(v) -> str:
    return f"{'inf':>10}" if math.isinf(v) else f"{v:>10.4g}"


def _share(v) -> str:
    return f"{'-':>6}" if v is None else f"{v:>6.3f}"


def _interval(pair) -> str:
    lo, hi = pair
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return f"{'-':>23}"
    return f"{f'[{lo:.5g}, {hi:.5g}]':>23}"


def warnings_for(fr: Frontier, samples_info) -> list[str]:
    r"""Warnings about what the numbers mean: pooled prompts, N beyond the samples, heavy tails.

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.
    samples_info : ~lmalign.frontier.files.RewardSamples, ~lmalign.frontier.stream.RewardSummary or None
        What was read (its columns name a prompt-like column the rewards were pooled over), or ``None``.

    Returns
    -------
    list of str
        One sentence per warning: every sample pooled although a column looks like a prompt id; :math:`N` beyond a
        prompt's samples (best-of-:math:`N` of the empirical law, not of the model); the optimum's gain resting on its
        ten top samples (share above ``HEAVY_SHARE``) or on its top 1% (above ``TAIL_SHARE`` and ``TAIL_RATIO``
        times best-of-:math:`N`'s).

    Examples
    --------
    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 4], groups=["a", "a", "b", "b"])
    >>> [w[:48] for w in warnings_for(f, None)]
    ['N up to 4 but some prompt has only 2 samples: ro']
    """
    out = []
    if samples_info is not None and not fr.per_prompt:
        like = samples_info.prompt_like_columns()
        if like:
            out.append(
                f"column {like[0]!r} looks like a prompt id, but every sample is pooled into one law; "
                f"best-of-N is done per prompt: pass --group {like[0]} for per-prompt numbers"
            )
    per = fr.min_samples if fr.per_prompt else fr.samples
    if per and int(fr.n[-1]) > per:
        what = "some prompt" if fr.per_prompt else "the file"
        out.append(
            f"N up to {int(fr.n[-1])} but {what} has only {per} samples: rows with N > {per} are best-of-N "
            "drawn with replacement from the samples (their empirical law), not an estimate of best-of-N "
            f"of the model; E_unb averages only the prompts with at least N samples (column #unb)"
        )
    heavy = [int(k) for k, s in zip(fr.n, fr.opt_top_share, strict=True) if np.isfinite(s) and s > HEAVY_SHARE]
    if heavy and fr.samples > 10 * 10:
        out.append(
            f"from N = {heavy[0]} the optimum's gain rests on its 10 top samples (share > {HEAVY_SHARE}): "
            "a heavy upper tail, for which the population tilt may not exist; E_opt describes these samples"
        )
    else:
        tail = tail_samples(fr.samples)
        rows = [
            i
            for i, (o, b) in enumerate(zip(fr.opt_tail_share, fr.bon_tail_share, strict=True))
            if o > TAIL_SHARE and o > TAIL_RATIO * b
        ]
        if rows:
            i = rows[0]
            conc = (
                (
                    f"; in {int(fr.opt_concentrated[i])} of {fr.groups} prompts one response carries more than "
                    "half of the optimum's weight (see --per-prompt)"
                )
                if fr.per_prompt
                else ""
            )
            out.append(
                f"from N = {int(fr.n[i])} the optimum's gain rests on few samples: its top {tail} samples "
                f"carry {fr.opt_tail_share[i]:.0%} of it, against {fr.bon_tail_share[i]:.0%} for best-of-N "
                f"at the same KL{conc}; a heavy upper tail, for which the population tilt may not exist: "
                "E_opt describes these samples"
            )
    return out


def to_json(fr: Frontier, samples, args: argparse.Namespace, notes: list[str]) -> dict:
    r"""The ``--json`` document: ``schema_version``, ``provenance`` (input, its sha256, the columns, every
    option, the warnings, the package version) and :meth:`lmalign.frontier.core.Frontier.to_dict`.

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.
    samples : ~lmalign.frontier.files.RewardSamples or ~lmalign.frontier.stream.RewardSummary
        What was read: its ``source``, ``sha256``, ``column``, ``group`` and ``dropped`` rows.
    args : argparse.Namespace
        The command's options (:func:`parser`); all but the input and its columns go into ``provenance``.
    notes : list of str
        The warnings printed.

    Returns
    -------
    dict
        JSON-ready: ``schema_version`` (``SCHEMA_VERSION``), ``provenance`` and the keys of
        :meth:`~lmalign.frontier.core.Frontier.to_dict`.

    Examples
    --------
    >>> from lmalign.frontier.files import RewardSamples
    >>> samples = RewardSamples(rewards=np.array([0.0, 1.0, 0.0, 2.0]), groups=np.array([0, 0, 1, 1]), n_groups=2,
    ...                         columns=("prompt", "reward"), column="reward", group="prompt", source="<stdin>")
    >>> args = parser().parse_args(["-", "--column", "reward", "--group", "prompt"])
    >>> doc = to_json(frontier(samples, n=[2]), samples, args, [])
    >>> doc["schema_version"], doc["provenance"]["input"], doc["provenance"]["options"]["max_n"], doc["groups"]
    (2, '<stdin>', 1024, 2)
    """
    from lmalign import __version__

    source = samples.source
    options = {k: v for k, v in sorted(vars(args).items()) if k not in ("rewards", "column", "group", "json")}
    provenance = {
        "input": source if source == "<stdin>" else str(Path(source).resolve()),
        "sha256": samples.sha256,
        "column": samples.column,
        "group": samples.group,
        "dropped_rows": samples.dropped,
        "options": options,
        "warnings": notes,
        "package": "lmalign",
        "version": __version__,
    }
    return {"schema_version": SCHEMA_VERSION, "provenance": provenance, **fr.to_dict()}


def draw(fr: Frontier, points: list[dict] | None = None):
    r"""The frontier figure: expected reward and win rate against the relative entropy (averaged over prompts);
    best-of-N at its exact KL (table rows labelled with their N), the same rows placed at the usual formula
    :math:`\log N - (N-1)/N`, the optimum's curve, in the win panel the win-rate frontier of chapter 8 (the tilt of
    the calibrated reward), and ``points`` (measured runs: ``kl``, ``reward``, ``label``) on the reward panel.

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.
    points : list of dict, optional
        Measured runs (:func:`~lmalign.frontier.files.read_points`).

    Returns
    -------
    matplotlib.figure.Figure
        Two stacked panels, reward and win rate against KL, their legends and labels at the tick-label size
        (the caller closes it).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = draw(frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"]))
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    from lmalign.plotstyle import use_style

    use_style()
    fig, axes = plt.subplots(2, 1, figsize=(7.2, 7.6))  # stacked: a page or a laptop screen wide
    # legend, N labels and title at the tick-label size, readable where the figure is shown at page width
    tick = FontProperties(size=plt.rcParams["xtick.labelsize"]).get_size_in_points()
    right = max(float(np.max(fr.curve_kl)), float(np.max(fr.bound)))
    if points:
        right = max(right, max(p["kl"] for p in points))
    table_kl = np.interp(fr.n, fr.curve_n, fr.curve_kl)
    for ax, bon, rows, tilt, label in (
        (axes[0], fr.curve_mean, fr.bon_mean, fr.tilt_mean, "expected reward"),
        (axes[1], fr.curve_win, fr.bon_win, fr.tilt_win, "win rate against p"),
    ):
        ax.plot(fr.tilt_kl, tilt, "k-", lw=1.6, label="optimum: tilt e^(lambda r), KL-regularized RL")
        if ax is axes[1] and fr.winfront_kl.size:
            ax.plot(
                fr.winfront_kl,
                fr.winfront_win,
                "--",
                color="C2",
                lw=1.5,
                label="win-rate optimum (tilt of the calibrated reward)",
            )
        ax.plot(fr.curve_kl, bon, "o", ms=3, color="C0", label="best-of-N at its exact KL")
        ax.plot(fr.bound, rows, "x", ms=5, mew=1.2, color="C3", label="best-of-N at the formula log N - (N-1)/N")
        last = -math.inf
        for k, x, y in zip(fr.n, table_kl, rows, strict=True):
            if x - last < 0.05 * right:  # rows that crowd together (N beyond the samples) keep the first label
                continue
            last = x
            ax.annotate(f"N={int(k)}", (x, y), xytext=(3, -9), textcoords="offset points", fontsize=tick, color="C0")
        ax.set_xlabel("KL from the reference (nats)" + (", average over prompts" if fr.per_prompt else ""))
        ax.set_ylabel(label)
        ax.set_xlim(left=0, right=right * 1.08 + 1e-9)
    if points:
        for i, pt in enumerate(points):
            axes[0].plot(
                pt["kl"],
                pt["reward"],
                marker="D",
                ms=6,
                ls="none",
                color=f"C{4 + i % 6}",
                markeredgecolor="black",
                label=pt["label"] or f"run {i + 1}",
            )
    axes[0].legend(loc="lower right", fontsize=tick, framealpha=0.95)
    axes[1].legend(loc="lower right", fontsize=tick, framealpha=0.95)
    what = f"{fr.groups} prompts, per-prompt" if fr.per_prompt else "pooled"
    axes[0].set_title(f"{fr.samples} samples ({what}), N up to {int(fr.curve_n[-1])}", fontsize=tick)
    fig.tight_layout()
    return fig


def plot_bytes(fr: Frontier, fmt: str, points: list[dict] | None = None) -> bytes:
    r""":func:`draw`'s figure as SVG, PNG or PDF bytes (fixed metadata).

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.
    fmt : str
        One of ``PLOT_FORMATS``: ``"svg"``, ``"png"`` or ``"pdf"``.
    points : list of dict, optional
        Measured runs to overlay.

    Returns
    -------
    bytes
        The file's content; the same frontier gives the same bytes.

    Examples
    --------
    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"])
    >>> png = plot_bytes(f, "png")
    >>> png[:4], plot_bytes(f, "svg") == plot_bytes(f, "svg")
    (b'\x89PNG', True)
    """
    import matplotlib.pyplot as plt

    from lmalign.plotstyle import svg_bytes

    fig = draw(fr, points)
    try:
        if fmt == "svg":
            return svg_bytes(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata={"CreationDate": None} if fmt == "pdf" else None)
        return buf.getvalue()
    finally:
        plt.close(fig)


def plot(fr: Frontier, path: str | Path, points: list[dict] | None = None) -> Path:
    r"""Write :func:`draw`'s figure to ``path`` atomically: SVG, PNG or PDF by its suffix.

    Parameters
    ----------
    fr : ~lmalign.frontier.core.Frontier
        The result of :func:`~lmalign.frontier.core.frontier`.
    path : str or os.PathLike
        The file to write, ending in ``.svg``, ``.png`` or ``.pdf``.
    points : list of dict, optional
        Measured runs to overlay.

    Returns
    -------
    pathlib.Path
        ``path``, with the permissions of a new file under the process's umask.

    Raises
    ------
    ValueError
        If the suffix is not a plot format.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> f = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = plot(f, Path(folder) / "frontier.pdf")
    ...     print(written.name, written.read_bytes()[:5])
    frontier.pdf b'%PDF-'
    """
    path = Path(path)
    atomic_write_bytes(path, plot_bytes(fr, _plot_format(path), points))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # the temporary file was private; give the plot the usual permissions
    return path


def _plot_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"--out {path}: must end in .svg, .png or .pdf, got {path.name!r}")
    return fmt


def _check_out(path: Path) -> None:
    """Refuse an ``--out`` that cannot be a plot file before any work is done."""
    _plot_format(path)
    if path.is_dir():
        raise ValueError(f"--out {path}: is a directory; give a file name ending in .svg, .png or .pdf")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--out {path}: {parent} is not a directory")


def parser() -> argparse.ArgumentParser:
    r"""The options of ``python -m lmalign frontier``.

    Returns
    -------
    argparse.ArgumentParser
        The input file (or directory, glob, ``-``) and the options ``--column``, ``--group``, ``--format``,
        ``--max-n``, ``--n``, ``--all``, ``--bootstrap``, ``--confidence``, ``--seed``, ``--out``, ``--no-plot``,
        ``--points``, ``--per-prompt``, ``--drop-missing``, ``--json`` and ``--quiet``.

    Examples
    --------
    >>> args = parser().parse_args(["rewards.csv", "--group", "prompt_id", "--n", "1", "16"])
    >>> args.rewards, args.group, args.n, args.max_n
    ('rewards.csv', 'prompt_id', [1, 16], 1024)
    """
    p = argparse.ArgumentParser(
        prog="python -m lmalign frontier",
        description="Exact best-of-N and the KL-regularized frontier for reward samples, per prompt with --group: "
        "a table on stdout and a plot file. Every problem is one line on stderr and exit code 2.",
    )
    p.add_argument(
        "rewards",
        help="reward file: CSV, TSV, JSON Lines, Parquet, or one number per line; - for stdin; "
        "or a directory or glob of Parquet files, streamed",
    )
    p.add_argument("--column", help="column holding the rewards (needed when there are several)")
    p.add_argument(
        "--group",
        metavar="COLUMN",
        help="column of prompt ids: best-of-N per prompt, averaged over prompts (without it, every "
        "sample is pooled into one law)",
    )
    p.add_argument("--format", choices=FORMATS, help="file format (default: from the suffix, else the content)")
    p.add_argument("--max-n", type=int, default=1024, help=f"largest N (default 1024, at most {MAX_N:,})")
    rows = p.add_mutually_exclusive_group()
    rows.add_argument("--n", type=int, nargs="+", metavar="N", help="N of the table rows (default 1, 2, 4, ..., MAX_N)")
    rows.add_argument("--all", action="store_true", help="a table row for every N from 1 to MAX_N (MAX_N <= 4096)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="B",
        help="B bootstrap resamples of the prompts for percentile intervals (needs --group)",
    )
    p.add_argument("--confidence", type=float, default=0.95, help="level of the bootstrap intervals (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    p.add_argument("--out", help="plot file, .svg, .png or .pdf (default frontier.svg; none with --json unless given)")
    p.add_argument("--no-plot", action="store_true", help="do not write a plot")
    p.add_argument(
        "--points",
        metavar="RUNS",
        help="overlay measured runs on the plot: CSV or JSON Lines with columns kl, reward, label",
    )
    p.add_argument(
        "--per-prompt",
        metavar="FILE",
        help="write one row per (prompt, N) to FILE (.csv, .parquet or .jsonl; needs --group)",
    )
    p.add_argument(
        "--drop-missing",
        action="store_true",
        help="leave out rows whose reward is missing (empty, null, NaN) and report how many",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help=f"print JSON (schema version {SCHEMA_VERSION}, with provenance) instead of the table",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars and no warnings")
    return p


def _error(message: str) -> None:
    """One line on standard error, whatever the message holds (a file name with a newline, say)."""
    print("error: " + message.replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    r"""``python -m lmalign frontier``: the table on stdout, warnings and errors on stderr (exit 2 on bad input),
    then the plot.

    Parameters
    ----------
    argv : list of str, optional
        The arguments; by default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0, or 2 after one line ``error: ...`` on standard error.

    Examples
    --------
    >>> import contextlib, io, json, tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "rewards.csv"
    ...     _ = path.write_text("prompt,reward\na,0\na,1\nb,0\nb,2\n")
    ...     out = io.StringIO()
    ...     with contextlib.redirect_stdout(out):
    ...         code = main([str(path), "--column", "reward", "--group", "prompt", "--n", "2", "--json", "--quiet"])
    >>> code, json.loads(out.getvalue())["rows"][0]["bon_mean"]
    (0, 1.125)
    >>> main(["no-such-file.csv", "--no-plot"])  # error: no-such-file.csv: no such file
    2
    """
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    progress = False if args.quiet else None
    name = "<stdin>" if args.rewards == "-" else display_name(args.rewards)
    try:
        out = None
        if not args.no_plot and (args.out is not None or not args.json):
            out = Path(args.out or "frontier.svg")
            _check_out(out)
        if not 1 <= args.max_n <= MAX_N:
            raise ValueError(f"--max-n {args.max_n}: must be between 1 and {MAX_N:,}")
        if args.all and args.max_n > 4096:
            raise ValueError(
                f"--all --max-n {args.max_n}: a row for every N is limited to MAX_N <= 4096; use --n for chosen rows"
            )
        if args.bootstrap < 0 or args.bootstrap > 100_000:
            raise ValueError(f"--bootstrap {args.bootstrap}: must be between 0 and 100,000")
        if args.bootstrap and args.group is None:
            raise ValueError("--bootstrap resamples prompts: give --group COLUMN")
        if not 0 < args.confidence < 1:
            raise ValueError(f"--confidence {args.confidence}: must be between 0 and 1")
        if args.per_prompt is not None:
            if args.group is None:
                raise ValueError("--per-prompt writes one row per prompt: give --group COLUMN")
            table_format(args.per_prompt)
        points = read_points(args.points) if args.points is not None else None
        samples: RewardSummary | RewardSamples
        data: RewardSummary | np.ndarray
        if is_dataset(args.rewards):  # a directory or glob of Parquet files, streamed into per-prompt summaries
            dataset_files(args.rewards)  # a folder without Parquet files is named as such first
            if args.column is None:
                raise ValueError(f"{name}: a dataset needs --column NAME")
            samples = read_summary(args.rewards, column=args.column, group=args.group, drop_missing=args.drop_missing)
            data, groups = samples, None
        else:
            samples = read_samples(
                args.rewards, column=args.column, group=args.group, fmt=args.format, drop_missing=args.drop_missing
            )
            data = samples.rewards
            groups = _Coded(samples.groups, samples.n_groups, samples.ids) if samples.groups is not None else None
        table_n = list(range(1, args.max_n + 1)) if args.all else args.n
        try:
            fr = frontier(
                data,
                max_n=args.max_n,
                n=table_n,
                progress=progress,
                groups=groups,
                bootstrap=args.bootstrap,
                seed=args.seed,
                confidence=args.confidence,
            )
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    except RewardFileError as exc:
        _error(str(exc))
        return 2
    except ValueError as exc:  # bad options: one line, no traceback
        _error(str(exc))
        return 2
    except OSError as exc:  # a read that fails half-way (a device, a vanished network file)
        _error(f"{name}: cannot read ({exc.strerror or exc})")
        return 2
    except MemoryError:
        _error(f"{name}: not enough memory for this file")
        return 2
    notes = warnings_for(fr, samples)
    if samples.dropped:
        notes.insert(0, f"--drop-missing: left out {samples.dropped:,} rows with a missing reward")
    if not args.quiet:
        for w in notes:
            print(f"warning: {w}", file=sys.stderr)
    text = json.dumps(to_json(fr, samples, args, notes), indent=1, allow_nan=False) if args.json else table(fr)
    try:
        print(text, flush=True)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the reader went away; nothing more to print
        return 0
    if args.per_prompt is not None and fr.prompts is not None:
        try:
            fr.prompts.write(args.per_prompt)
        except OSError as exc:
            _error(f"--per-prompt {display_name(args.per_prompt)}: cannot write ({exc.strerror or exc})")
            return 2
        print(f"per-prompt table written to {args.per_prompt}", file=sys.stderr)
    if out is not None:
        try:
            written = plot(fr, out, points)
        except OSError as exc:
            _error(
                f"--out {display_name(out)}: cannot write the plot ({exc.strerror or exc}); the table above is complete"
            )
            return 2
        print(f"plot written to {written}", file=sys.stderr)
    return 0
