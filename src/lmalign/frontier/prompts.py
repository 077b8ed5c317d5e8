"""The frontier prompt by prompt: one row per (prompt, N), to join back to the prompts' metadata.

Columns (rewards in reward units, KL in nats):

- ``prompt``: the prompt id as text; ``samples``: its number of samples ``m_g``; ``n``: the table's ``N``;
- ``bon_kl``, ``bon_gain``, ``bon_win``: best-of-N of the prompt's samples, ``D(BoN_g||p_g)``,
  ``E_BoN r - E_p r`` and the win rate against a fresh sample of the prompt;
- ``bon_mean_unbiased``: the order-statistics estimate of the expected best of ``N`` fresh draws (empty when
  ``N > m_g``);
- ``opt_lam`` and ``opt_beta = 1/opt_lam``: the common multiplier of the row (the same for every prompt);
  ``opt_kl``, ``opt_gain``: the prompt's ``D(q_g||p_g)`` and ``E_q r - E_p r`` at that multiplier;
- ``opt_ess = 1 / sum_i w_i^2`` over the prompt's samples ``i`` (tilt weights ``w_i``, summing to 1): the tilt's
  effective sample size, between 1 and ``m_g``; ``opt_max_weight = max_i w_i``. A prompt whose ``opt_max_weight``
  exceeds 1/2 has an optimum that mostly repeats one response.

Missing numbers (``bon_mean_unbiased`` where ``N > m_g``; ``opt_beta`` where ``opt_lam = 0``, an infinite
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
    """``csv``, ``parquet`` or ``jsonl`` from a file name's suffix; anything else is a ``ValueError``."""
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"--per-prompt {path}: must end in .csv, .parquet or .jsonl, got {Path(path).name!r}")
    return fmt


def _nullable(values: np.ndarray):
    """A pyarrow array with NaN and infinities as nulls (an infinite beta is lambda = 0: no tilt)."""
    import pyarrow as pa

    if values.dtype.kind == "f":
        return pa.array(values, mask=~np.isfinite(values))
    return pa.array(values)


def tilt_weights(q: np.ndarray, count: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt, ``(ESS, largest weight)`` of the per-sample weights ``q(v)/c(v)`` of a tilt ``q`` over levels
    with ``c(v)`` samples each: ``ESS = 1/sum_v c(v) (q(v)/c(v))^2 = 1/sum_v q(v)^2/c(v)``."""
    per = q / count
    ess = 1.0 / np.add.reduceat(q * per, start)
    return ess, np.maximum.reduceat(per, start)


class PromptTable:
    """Per-prompt numbers of a :class:`~lmalign.frontier.core.Frontier`, as columns of length ``G x rows``
    (``columns[name]`` for ``name`` in ``COLUMNS``; prompts vary slowest). ``bon_mean_unbiased`` is NaN where a
    prompt has fewer than ``N`` samples."""

    def __init__(self, columns: dict, rows: int):
        self.columns, self.rows = columns, rows

    def __repr__(self) -> str:
        return f"PromptTable({len(self)} rows: {', '.join(COLUMNS)})"

    def __len__(self) -> int:
        return len(self.columns["n"])

    def to_pandas(self):
        """The table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame({k: self.columns[k] for k in COLUMNS})

    def to_arrow(self):
        """The table as a pyarrow Table."""
        import pyarrow as pa

        return pa.table({k: pa.array(self.columns[k]) for k in COLUMNS})

    def write(self, path) -> Path:
        """Write the table to ``path`` atomically: CSV, Parquet or JSON Lines by its suffix (missing numbers are
        empty cells, nulls)."""
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
        ``CONCENTRATED``."""
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
    """Assemble the table: ``bon[N] = (kl, E - top, win)`` and ``unbiased[N]`` per prompt (scaled units,
    relative to each prompt's top), ``opt`` the tilt points of the rows, ``weights`` per row the prompts'
    ``(ESS, largest weight)`` (:func:`tilt_weights`)."""
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
