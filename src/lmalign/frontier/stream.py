r"""Streaming a partitioned Parquet dataset (a directory or a glob of files) into per-prompt summaries.

The frontier needs, per prompt, only its distinct rewards and how many samples have each (the empirical law),
so a dataset larger than memory is read in record batches (``pyarrow.dataset``) and each batch is reduced at once
to ``(prompt, reward, count)`` triples. Rows of one prompt may sit in any file and any batch: they are brought
together by merging the triples, sorted by (prompt, reward) with equal pairs summed, whenever the pending
triples exceed the summary so far (and at the end; the merge of sorted runs is a stable sort, about linear).
Memory is therefore bounded by the summaries (the number of distinct (prompt, reward) pairs, 24 bytes each plus
sorting space) and one batch, not by the rows.

Prompt ids follow the file rules (:mod:`lmalign.frontier.files`): text as written, strings or integers; rewards
finite numbers (``drop_missing`` leaves out and counts null and NaN ones).

Beyond one machine the same split runs on a cluster engine (Dask, Spark or Ray). The map is the summary: group
the rows by prompt (a shuffle on the prompt id: ``groupBy(prompt)`` in Spark, ``groupby`` in Dask, a hash
partition in Ray), and per prompt sort its rewards and count equal ones; the summaries stay where the shuffle put
them. The reduce is the shared multiplier: every evaluation of the average relative entropy at a trial
:math:`\lambda` needs per prompt only :math:`\log Z_g(\lambda)`, the tilted mean and variance of the reward
(:math:`D(q_g\Vert p_g) = \lambda E_{q_g} r - \log Z_g(\lambda)` and
:math:`\frac{d}{d\lambda} D(q_g\Vert p_g) = \lambda \operatorname{Var}_{q_g} r`), which each partition computes for
its prompts and the driver sums: one aggregation of three numbers per prompt (or their sums per partition) for each
Newton step, a handful per :math:`N`. Best-of-:math:`N` needs no multiplier and is one map-and-sum per :math:`N`.
"""

from __future__ import annotations

import glob
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmalign.frontier.files import _PROMPT_LIKE, RewardFileError, _id_text, _parquet_ids, display_name

BATCH_ROWS = 1 << 20


@dataclass(frozen=True)
class RewardSummary:
    r"""Per-prompt empirical laws: ``values`` (distinct rewards, sorted within each prompt), ``gid`` (the prompt
    code of each, sorted), ``counts`` (samples with that reward), ``n_groups`` and ``ids`` (the prompt id of each
    code), with the ``column``, ``group``, ``columns`` of the dataset, ``dropped`` rows, ``files`` read and a
    ``sha256`` over their bytes in order.

    Prompt :math:`g`'s empirical law puts mass :math:`c_g(v)/m_g` on each of its rewards :math:`v`, with
    :math:`m_g = \sum_v c_g(v)` its samples.

    Attributes
    ----------
    values : numpy.ndarray
        The distinct rewards of each prompt, sorted within the prompt.
    gid : numpy.ndarray
        The prompt code ``0 .. n_groups - 1`` of each value, sorted.
    counts : numpy.ndarray
        The samples :math:`c_g(v)` with that reward.
    n_groups : int
        The number of prompts.
    ids : numpy.ndarray or None
        The prompt id (text) of each code; ``None`` without a group column.
    column : str
        The reward column.
    group : str or None
        The prompt-id column, or ``None`` (all samples pooled).
    columns : tuple of str
        Every column of the dataset.
    source : str
        The directory or glob read.
    files : tuple of str
        The files read, in order.
    dropped : int
        Rows left out for a missing reward (``drop_missing``).
    sha256 : str or None
        The SHA-256 of the files' bytes, in order.
    samples : int
        The rows summarised, :math:`\sum_g m_g` (a property).

    Examples
    --------
    Two prompts: ``a`` with rewards 0, 1, 1 and ``b`` with reward 2 twice:

    >>> summary = RewardSummary(values=np.array([0.0, 1.0, 2.0]), gid=np.array([0, 0, 1]),
    ...                         counts=np.array([1, 2, 2]), n_groups=2, ids=np.array(["a", "b"], dtype=object),
    ...                         column="reward", group="prompt", columns=("prompt", "reward", "prompt_text"),
    ...                         source="data/", files=())
    >>> summary.samples
    5
    >>> from lmalign.frontier.core import frontier
    >>> frontier(summary, n=[2]).bon_mean.round(12).tolist()  # (8/9 + 2) / 2
    [1.444444444444]
    """

    values: np.ndarray
    gid: np.ndarray
    counts: np.ndarray
    n_groups: int
    ids: np.ndarray | None
    column: str
    group: str | None
    columns: tuple[str, ...]
    source: str
    files: tuple[str, ...]
    dropped: int = 0
    sha256: str | None = None

    @property
    def samples(self) -> int:
        return int(self.counts.sum())

    def prompt_like_columns(self) -> list[str]:
        """Columns whose name looks like a prompt id, other than the reward column.

        Returns
        -------
        list of str
            The dataset's columns, in order, whose name matches the prompt-id pattern of
            :mod:`lmalign.frontier.files`.

        Examples
        --------
        >>> summary = RewardSummary(values=np.array([1.0]), gid=np.array([0]), counts=np.array([1]), n_groups=1,
        ...                         ids=None, column="reward", group=None, columns=("prompt_id", "reward", "text"),
        ...                         source="data/", files=())
        >>> summary.prompt_like_columns()
        ['prompt_id']
        """
        return [c for c in self.columns if c != self.column and _PROMPT_LIKE.match(c.strip())]


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` names a directory or a glob pattern (``*``, ``?``, ``[``) rather than one file.

    Parameters
    ----------
    path : str or os.PathLike
        A file name, a directory, a glob pattern or ``-`` (standard input).

    Returns
    -------
    bool
        ``True`` for an existing directory or a name with a glob character; ``False`` for ``-`` and other names.

    Examples
    --------
    >>> import tempfile
    >>> is_dataset("shards/*.parquet"), is_dataset("rewards.csv"), is_dataset("-")
    (True, False, False)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     is_dataset(folder)
    True
    """
    text = str(path)
    return text != "-" and (Path(text).is_dir() or any(ch in text for ch in "*?["))


def dataset_files(path: str | Path) -> list[str]:
    """The Parquet files of a directory (recursively, partitioned layouts included) or a glob, sorted.

    Parameters
    ----------
    path : str or os.PathLike
        A directory (its files ending in ``.parquet`` or ``.pq``, any case, at any depth) or a glob pattern
        (``**`` recursive; every matching file).

    Returns
    -------
    list of str
        The files, sorted.

    Raises
    ------
    ~lmalign.frontier.files.RewardFileError
        If there is no such file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for part in ("day=2/b.parquet", "day=1/a.PQ", "day=1/notes.txt"):
    ...         (Path(folder) / part).parent.mkdir(exist_ok=True)
    ...         (Path(folder) / part).touch()
    ...     [Path(f).relative_to(folder).as_posix() for f in dataset_files(folder)]
    ['day=1/a.PQ', 'day=2/b.parquet']
    """
    text = str(path)
    if Path(text).is_dir():
        files = sorted(str(p) for p in Path(text).rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".pq"))
    else:
        files = sorted(p for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if not files:
        raise RewardFileError(f"{display_name(text)}: no Parquet files (a directory or a glob of .parquet files)")
    return files


def sort_pairs(gid: np.ndarray, val: np.ndarray, runs: bool = False, unit: bool = False) -> np.ndarray:
    r"""The order that sorts the pairs ``(gid, val)`` by ``gid`` then ``val`` (``gid`` non-negative integers below
    :math:`2^{52}`, ``val`` finite).

    One float sort of the key

    .. math::

        k = 4g + \left(\frac{v}{2^e} + 2\right),

    with :math:`2^e` the power of two that brings every :math:`|v|` below 1 (exact): rounding is monotone, so the
    key orders the pairs except within runs of equal keys, where two rewards too close to tell apart at the key's
    precision could be swapped. Such a run is looked for, and if one holds two different rewards the pairs are
    sorted exactly: an unstable sort of ``val``, then stable passes over 16-bit digits of ``gid`` (numpy's radix
    sort).

    Parameters
    ----------
    gid : numpy.ndarray
        The prompt codes :math:`g`, non-negative integers below :math:`2^{52}`.
    val : numpy.ndarray
        The rewards :math:`v`, finite floats, as many as ``gid``.
    runs : bool, optional
        The input is a few sorted runs (a stable sort merges them in about linear time).
    unit : bool, optional
        Every :math:`|v| < 1` already (no scaling).

    Returns
    -------
    numpy.ndarray
        The permutation (``intp``) that sorts the pairs by prompt, then reward.

    Examples
    --------
    >>> gid, val = np.array([1, 0, 1, 0]), np.array([0.5, 2.0, -1.0, -3.0])
    >>> order = sort_pairs(gid, val)
    >>> gid[order].tolist(), val[order].tolist()
    ([0, 0, 1, 1], [-3.0, 2.0, -1.0, 0.5])

    Rewards :math:`2^{-52}` apart share a key; the exact pass still orders them:

    >>> val = np.array([1.0 + 2.0**-52, 1.0, 0.0])
    >>> sort_pairs(np.array([0, 0, 0]), val).tolist()
    [2, 1, 0]
    """
    if val.size == 0:
        return np.zeros(0, dtype=np.intp)
    key = gid * 4.0
    if unit:
        key += val
    else:
        big = float(max(val.max(), -val.min()))
        key += val / (math.ldexp(1.0, min(math.frexp(big)[1], 1023)) if big > 0 else 1.0)
    key += 2.0
    order = np.argsort(key, kind="stable" if runs else None)
    key.sort()  # the keys in that order, in place
    tie = key[1:] == key[:-1]
    del key
    if not tie.any():
        return order
    v = val[order]
    clash = bool(np.any(tie & (v[1:] != v[:-1])))
    del v, tie
    if not clash:
        return order
    order = np.argsort(val)
    top = int(gid.max())
    shift = 0
    while True:
        digit = ((gid[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def _merge(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triples ``(gid, value, count)`` sorted by (prompt, reward) with equal pairs summed."""
    gid = np.concatenate([p[0] for p in parts])
    val = np.concatenate([p[1] for p in parts])
    cnt = np.concatenate([p[2] for p in parts])
    order = sort_pairs(gid, val, runs=len(parts) > 1)
    gid, val, cnt = gid[order], val[order], cnt[order]
    new = np.empty(gid.size, dtype=bool)
    new[:1] = True
    new[1:] = (gid[1:] != gid[:-1]) | (val[1:] != val[:-1])
    idx = np.flatnonzero(new)
    return gid[idx], val[idx], np.add.reduceat(cnt, idx) if idx.size else cnt[:0]


def read_summary(
    path: str | Path, column: str, group: str | None = None, drop_missing: bool = False, batch_rows: int = BATCH_ROWS
) -> RewardSummary:
    """Stream the Parquet files of a directory or glob into per-prompt summaries (see the module docstring).
    Every problem is a :class:`~lmalign.frontier.files.RewardFileError` naming the file.

    Parameters
    ----------
    path : str or os.PathLike
        A directory or a glob of Parquet files (:func:`dataset_files`).
    column : str
        The reward column (integers or floats).
    group : str or None, optional
        The prompt-id column (strings or integers), or ``None`` to pool every row into one law.
    drop_missing : bool, optional
        Leave out rows with a null or NaN reward (and count them) instead of refusing them.
    batch_rows : int, optional
        The rows of one record batch read at a time.

    Returns
    -------
    RewardSummary
        Each prompt's distinct rewards and their counts; prompt codes in order of the ids' first appearance.

    Raises
    ------
    ~lmalign.frontier.files.RewardFileError
        If there are no files, they are not a readable Parquet dataset, a named column is absent, the reward
        column is not numbers, a reward is missing (without ``drop_missing``) or infinite, a prompt id is missing
        or of another type, or no reward is left.

    Examples
    --------
    Two files, prompts ``a`` (rewards 0 and 1) and ``b`` (2 twice) spread over both:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     pq.write_table(pa.table({"prompt": ["a", "b"], "reward": [1.0, 2.0]}), Path(folder) / "0.parquet")
    ...     pq.write_table(pa.table({"prompt": ["b", "a"], "reward": [2.0, 0.0]}), Path(folder) / "1.parquet")
    ...     summary = read_summary(folder, "reward", group="prompt")
    >>> summary.ids.tolist(), summary.gid.tolist(), summary.values.tolist(), summary.counts.tolist()
    (['a', 'b'], [0, 0, 1], [0.0, 1.0, 2.0], [1, 1, 2])
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    name = display_name(path)
    files = dataset_files(path)
    try:
        data = ds.dataset(files, format="parquet")
    except (pa.ArrowException, OSError) as exc:
        raise RewardFileError(f"{name}: not a readable Parquet dataset ({str(exc).splitlines()[0]})") from None
    names = list(data.schema.names)
    for what, col in (("column", column), ("group column", group)):
        if col is not None and col not in names:
            raise RewardFileError(f"{name}: no {what} {col!r}; the files have {', '.join(map(repr, names))}")
    codes: dict[str, int] = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending = held = dropped = 0
    try:
        batches = data.to_batches(columns=[column] + ([group] if group else []), batch_size=batch_rows)
        for batch in batches:
            values = batch.column(0)
            kind = values.type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise RewardFileError(f"{name}: column {column!r} has type {kind}, not a number")
            missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            if pa.types.is_floating(kind):
                missing |= np.asarray(pc.is_nan(values).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            if missing.any() and not drop_missing:
                raise RewardFileError(
                    f"{name}: column {column!r} has a missing reward (null or NaN); pass "
                    "--drop-missing to leave such rows out"
                )
            keep = ~missing
            dropped += int(missing.sum())
            r = np.asarray(values.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)[keep]
            if not np.isfinite(r).all():
                raise RewardFileError(f"{name}: column {column!r} has an infinite reward; rewards must be finite")
            if group is not None:
                ids = _parquet_ids(name, batch.column(1), group)
                if ids.null_count:
                    raise RewardFileError(f"{name}: empty group column {group!r}")
                enc = pc.dictionary_encode(ids)
                text = _id_text(enc.dictionary).to_pylist()
                local = np.array([codes.setdefault(v, len(codes)) for v in text], dtype=np.int64)
                g = local[np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)][keep]
            else:
                g = np.zeros(r.size, dtype=np.int64)
            if r.size:
                parts.append(_merge([(g, r, np.ones(r.size, dtype=np.int64))]))
                pending += parts[-1][0].size
            if pending > max(held, batch_rows):
                parts = [_merge(parts)]
                held, pending = parts[0][0].size, 0
    except (pa.ArrowException, OSError) as exc:
        raise RewardFileError(f"{name}: cannot read the dataset ({str(exc).splitlines()[0]})") from None
    if not parts:
        raise RewardFileError(f"{name}: the dataset has no rewards")
    gid, val, cnt = _merge(parts)
    del parts
    pa.default_memory_pool().release_unused()  # the batches' buffers go back to the system
    ids = None
    if group is not None:  # codes in order of first appearance, then only the prompts with a reward left
        ids = np.empty(len(codes), dtype=object)
        for text, code in codes.items():
            ids[code] = text
        present = np.unique(gid)
        gid = np.searchsorted(present, gid)
        ids = ids[present]
    n_groups = int(gid[-1]) + 1
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    return RewardSummary(
        values=val,
        gid=gid,
        counts=cnt,
        n_groups=n_groups,
        ids=ids,
        column=column,
        group=group,
        columns=tuple(names),
        source=str(path),
        files=tuple(files),
        dropped=dropped,
        sha256=digest.hexdigest(),
    )
