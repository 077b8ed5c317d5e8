r"""The frontier prompt by prompt: one row per (prompt, N), to join back to the prompts' metadata.

Columns (rewards in reward units, KL in nats):

- ``prompt``: the prompt id as text; ``samples``: its number of samples :math:`m_g`; ``n``: the table's :math:`N`;
- ``bon_kl``, ``bon_gain``, ``bon_win``: best-of-N of the prompt's samples, :math:`D(\mathrm{BoN}_g\Vert p_g)`,
  :math:`E_{\mathrm{BoN}_g} r - E_{p_g} r` and the win rate against a fresh sample of the prompt;
- ``bon_mean_unbiased``: the order-statistics estimate of the expected best of :math:`N` fresh draws (empty when
  :math:`N > m_g`);
- ``opt_lam`` and ``opt_beta`` :math:`= 1/\lambda`: the common multiplier :math:`\lambda` of the row (the same for
  every prompt); ``opt_kl``, ``opt_gain``: the prompt's :math:`D(q_g\Vert p_g)` and :math:`E_{q_g} r - E_{p_g} r`
  at that multiplier;
- ``opt_ess`` :math:`= 1 / \sum_i w_i^2` over the prompt's samples :math:`i` (tilt weights :math:`w_i`, summing to
  1): the tilt's effective sample size, between 1 and :math:`m_g`; ``opt_max_weight`` :math:`= \max_i w_i`. A
  prompt whose ``opt_max_weight`` exceeds 1/2 has an optimum that mostly repeats one response.

Missing numbers (``bon_mean_unbiased`` where :math:`N > m_g`; ``opt_beta`` where ``opt_lam = 0``, an infinite
beta) are empty cells in CSV and nulls in Parquet and JSON Lines.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from lmalign._atomic import atomic_write_bytes

COLUMNS = (
    "prompt",
    "samples",
    "n",
    "bon_kl",
    "bon_gain",
    "bon_win",
    "bon_mean_unbiased",
    "opt_lam",
    "opt_beta",
    "opt_kl",
    "opt_gain",
    "opt_ess",
    "opt_max_weight",
)
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CONCENTRATED = 0.5  # a prompt's optimum is concentrated when one sample carries more than this weight


def table_format(path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from a file name's suffix; anything else is a ``ValueError``.

    Parameters
    ----------
    path : str or os.PathLike
        The file name; its suffix (any case) is ``.csv``, ``.parquet``, ``.pq``, ``.jsonl`` or ``.ndjson``.

    Returns
    -------
    str
        ``"csv"``, ``"parquet"`` or ``"jsonl"``.

    Raises
    ------
    ValueError
        If the suffix is none of those.

    Examples
    --------
    >>> table_format("per_prompt.PQ"), table_format("rows.ndjson")
    ('parquet', 'jsonl')
    >>> table_format("rows.txt")
    Traceback (most recent call last):
    ...
    ValueError: --per-prompt rows.txt: must end in .csv, .parquet or .jsonl, got 'rows.txt'
    """
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"--per-prompt {path}: must end in .csv, .parquet or .jsonl, got {Path(path).name!r}")
    return fmt


def _nullable(values: np.ndarray):
    r"""A pyarrow array with NaN and infinities as nulls (an infinite beta is :math:`\lambda = 0`: no tilt)."""
    import pyarrow as pa

    if values.dtype.kind == "f":
        return pa.array(values, mask=~np.isfinite(values))
    return pa.array(values)


def tilt_weights(q: np.ndarray, count: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Per prompt, ``(ESS, largest weight)`` of the per-sample weights :math:`q(v)/c(v)` of a tilt :math:`q` over
    levels with :math:`c(v)` samples each.

    .. math::

        \mathrm{ESS} = \frac{1}{\sum_v c(v)\,(q(v)/c(v))^2} = \frac{1}{\sum_v q(v)^2/c(v)}, \qquad
        w_{\max} = \max_v \frac{q(v)}{c(v)}.

    Parameters
    ----------
    q : numpy.ndarray
        The tilt's mass on each level, the levels of each prompt contiguous; each prompt's masses sum to 1.
    count : numpy.ndarray
        The samples :math:`c(v) \ge 1` at each level.
    start : numpy.ndarray
        The index of each prompt's first level (increasing, starting at 0).

    Returns
    -------
    ess : numpy.ndarray
        Per prompt, the effective sample size, between 1 and the prompt's number of samples.
    largest : numpy.ndarray
        Per prompt, the largest weight of one sample.

    Examples
    --------
    Prompt 1 has two single-sample levels with masses 1/4 and 3/4 (ESS :math:`1/(1/16 + 9/16) = 1.6`); prompt 2
    one level of two samples (each of weight 1/2, ESS 2):

    >>> ess, largest = tilt_weights(np.array([0.25, 0.75, 1.0]), np.array([1, 1, 2]), np.array([0, 2]))
    >>> ess.round(12).tolist(), largest.tolist()
    ([1.6, 2.0], [0.75, 0.5])
    """
    per = q / count
    ess = 1.0 / np.add.reduceat(q * per, start)
    return ess, np.maximum.reduceat(per, start)


class PromptTable:
    """Per-prompt numbers of a :class:`~lmalign.frontier.core.Frontier`, as columns of length ``G x rows``
    (``columns[name]`` for ``name`` in ``COLUMNS``; prompts vary slowest). ``bon_mean_unbiased`` is NaN where a
    prompt has fewer than ``N`` samples.

    Parameters
    ----------
    columns : dict
        ``name -> numpy.ndarray`` of length ``G x rows`` for every name of ``COLUMNS`` (the module docstring says
        what each holds).
    rows : int
        The rows of the frontier's table (its values of ``N``).

    Examples
    --------
    Two prompts with two samples each, rewards 0 and 1 for ``a``, 0 and 2 for ``b``; best-of-2 of a prompt with
    two equally likely levels puts mass 3/4 on the top, so its expected gain over a sample is 1/4 of the spread:

    >>> from lmalign.frontier.core import frontier
    >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"]).prompts
    >>> len(table), table.rows
    (4, 2)
    >>> table.columns["prompt"].tolist(), table.columns["n"].tolist()
    (['a', 'a', 'b', 'b'], [1, 2, 1, 2])
    >>> table.columns["bon_gain"].round(12).tolist()
    [0.0, 0.25, 0.0, 0.5]
    """

    def __init__(self, columns: dict, rows: int):
        self.columns, self.rows = columns, rows

    def __repr__(self) -> str:
        return f"PromptTable({len(self)} rows: {', '.join(COLUMNS)})"

    def __len__(self) -> int:
        return len(self.columns["n"])

    def to_pandas(self):
        """The table as a pandas DataFrame (needs pandas).

        Returns
        -------
        pandas.DataFrame
            One row per (prompt, N), the columns of ``COLUMNS`` in that order.

        Examples
        --------
        >>> from lmalign.frontier.core import frontier
        >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[2], groups=["a", "a", "b", "b"]).prompts
        >>> table.to_pandas()[["prompt", "n", "bon_mean_unbiased"]].values.tolist()
        [['a', 2, 1.0], ['b', 2, 2.0]]
        """
        import pandas as pd

        return pd.DataFrame({k: self.columns[k] for k in COLUMNS})

    def to_arrow(self):
        """The table as a pyarrow Table (needs pyarrow).

        Returns
        -------
        pyarrow.Table
            One row per (prompt, N), the columns of ``COLUMNS`` in that order.

        Examples
        --------
        >>> from lmalign.frontier.core import frontier
        >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[2], groups=["a", "a", "b", "b"]).prompts
        >>> table.to_arrow().column("samples").to_pylist()
        [2, 2]
        """
        import pyarrow as pa

        return pa.table({k: pa.array(self.columns[k]) for k in COLUMNS})

    def write(self, path) -> Path:
        """Write the table to ``path`` atomically: CSV, Parquet or JSON Lines by its suffix (missing numbers are
        empty cells, nulls).

        CSV and Parquet need pyarrow; JSON Lines does not. The file gets the permissions of a new file under the
        process's umask.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write, its suffix one :func:`table_format` accepts.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        ValueError
            If the suffix is not one of :func:`table_format`.

        Examples
        --------
        >>> import json, tempfile
        >>> from pathlib import Path
        >>> from lmalign.frontier.core import frontier
        >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 4], groups=["a", "a", "b", "b"]).prompts
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     lines = table.write(Path(folder) / "prompts.jsonl").read_text().splitlines()
        >>> row = json.loads(lines[1])  # prompt a at N = 4: more draws than samples
        >>> row["n"], row["bon_mean_unbiased"]
        (4, None)
        """
        import io
        import json

        path = Path(path)
        fmt = table_format(path)
        if fmt == "jsonl":
            cols = [(k, self.columns[k].tolist()) for k in COLUMNS]
            lines = []
            for i in range(len(self)):
                row = {
                    k: (v[i] if not (isinstance(v[i], float) and not math.isfinite(v[i])) else None) for k, v in cols
                }
                lines.append(json.dumps(row, allow_nan=False))
            data = ("\n".join(lines) + "\n").encode("utf-8")
        else:
            import pyarrow as pa

            table = pa.table({k: _nullable(self.columns[k]) for k in COLUMNS})
            buf = io.BytesIO()
            if fmt == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(table, buf)
            else:
                import pyarrow.csv as pacsv

                pacsv.write_csv(table, buf)
            data = buf.getvalue()
        atomic_write_bytes(path, data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)
        return path

    def concentrated(self, row: int) -> int:
        """At table row ``row``: how many prompts have an optimum with one sample of weight above
        ``CONCENTRATED``.

        Parameters
        ----------
        row : int
            The row of the frontier's table (the index of its ``N``).

        Returns
        -------
        int
            The number of prompts whose ``opt_max_weight`` at that row exceeds ``CONCENTRATED`` (1/2).

        Examples
        --------
        At :math:`N = 1` the optimum is the reference (weights 1/2); at :math:`N = 2` each prompt's top sample
        carries more than half:

        >>> from lmalign.frontier.core import frontier
        >>> table = frontier([0.0, 1.0, 0.0, 2.0], n=[1, 2], groups=["a", "a", "b", "b"]).prompts
        >>> table.concentrated(0), table.concentrated(1)
        (0, 2)
        """
        return int(np.sum(self.columns["opt_max_weight"][row :: self.rows] > CONCENTRATED))


def build(
    labels,
    sizes: np.ndarray,
    table_n: list[int],
    scale: float,
    bon: dict,
    unbiased: dict,
    ref_x: np.ndarray,
    opt: list,
    lam: list[float],
    weights: list,
) -> PromptTable:
    r"""Assemble the table: ``bon[N] = (kl, E - top, win)`` and ``unbiased[N]`` per prompt (scaled units,
    relative to each prompt's top), ``opt`` the tilt points of the rows, ``weights`` per row the prompts'
    ``(ESS, largest weight)`` (:func:`tilt_weights`).

    Gains are :math:`(x - x_{\mathrm{ref}})\,s` with :math:`x` a mean relative to the prompt's top in scaled units,
    :math:`x_{\mathrm{ref}}` the reference's and :math:`s` the scale; ``opt_beta`` is :math:`1/\lambda`, infinite
    at :math:`\lambda = 0`.

    Parameters
    ----------
    labels : sequence
        The ``G`` prompt ids (written as text).
    sizes : numpy.ndarray
        The samples of each prompt.
    table_n : list of int
        The ``N`` of the rows.
    scale : float
        The factor from scaled units to reward units.
    bon : dict
        ``N -> (kl, mean - top, win)``, arrays of one entry per prompt.
    unbiased : dict
        ``N ->`` the order-statistics estimate per prompt, in reward units (NaN where ``N`` exceeds the samples).
    ref_x : numpy.ndarray
        The reference mean of each prompt minus its top, scaled units.
    opt : list
        Per row, the optimum's point: per-prompt arrays ``kl`` and ``mean_x`` (mean minus top, scaled units).
    lam : list of float
        Per row, the common multiplier :math:`\lambda` in reward units.
    weights : list
        Per row, the prompts' ``(ESS, largest weight)``.

    Returns
    -------
    PromptTable
        ``G x len(table_n)`` rows, prompts varying slowest.

    Examples
    --------
    One prompt with rewards 0 and 1 (top 1, reference mean 1/2) at :math:`N = 2`:

    >>> from types import SimpleNamespace
    >>> one = np.array
    >>> point = SimpleNamespace(kl=one([0.13]), mean_x=one([-0.33]))
    >>> table = build(["a"], one([2]), [2], 1.0, {2: (one([0.13]), one([-0.25]), one([0.625]))}, {2: one([1.0])},
    ...               one([-0.5]), [point], [0.5], [(one([1.8]), one([0.67]))])
    >>> table.columns["bon_gain"].tolist(), table.columns["opt_gain"].round(12).tolist()
    ([0.25], [0.17])
    >>> table.columns["opt_beta"].tolist()
    [2.0]
    """
    G, R = len(sizes), len(table_n)
    cols: dict = {k: [] for k in COLUMNS}
    for i, k in enumerate(table_n):
        kl, mx, win = bon[k]
        point = opt[i]
        ess, wmax = weights[i]
        beta = 1.0 / lam[i] if lam[i] > 0 else math.inf
        cols["bon_kl"].append(kl)
        cols["bon_gain"].append((mx - ref_x) * scale)
        cols["bon_win"].append(win)
        cols["bon_mean_unbiased"].append(unbiased[k])
        cols["opt_lam"].append(np.full(G, lam[i]))
        cols["opt_beta"].append(np.full(G, beta))
        cols["opt_kl"].append(point.kl)
        cols["opt_gain"].append((point.mean_x - ref_x) * scale)
        cols["opt_ess"].append(ess)
        cols["opt_max_weight"].append(wmax)
        cols["n"].append(np.full(G, k, dtype=np.int64))
    out = {k: np.stack(v, axis=1).reshape(G * R) for k, v in cols.items() if v}
    out["prompt"] = np.repeat(np.asarray([str(x) for x in labels], dtype=object), R)
    out["samples"] = np.repeat(sizes.astype(np.int64), R)
    return PromptTable(out, R)
