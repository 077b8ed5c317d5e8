"""Rewards and prompt ids from in-memory columns: numpy arrays, and pandas, polars or pyarrow tables.

The rules are those of the files (:mod:`lmalign.frontier.files`): rewards are finite real numbers; prompt ids are
text, compared as written, so ids are strings or integers (an integer ``7`` is the text ``"7"``; a column that
mixes strings and numbers, floating-point ids, ``None``/missing ids, lists, dicts and booleans are refused with a
``ValueError`` naming the column and the first bad row). Nothing here imports pandas, polars or pyarrow at module
level: a table is recognised by its class and converted with the library it comes from.
"""

from __future__ import annotations

import numbers

import numpy as np

from lmalign import _validate


def reward_vector(x, name: str = "rewards") -> np.ndarray:
    """Finite real rewards as a float array; complex, masked, boolean and non-numeric input is a ``ValueError``
    (``numpy`` would silently drop an imaginary part or a mask).

    Parameters
    ----------
    x : array_like
        The rewards: a list, tuple or numpy array of real numbers (a masked array without a masked entry).
    name : str, optional
        What the error messages call the input.

    Returns
    -------
    numpy.ndarray
        The rewards as a one-dimensional float array.

    Raises
    ------
    ValueError
        If ``x`` is complex, boolean, text or records, has a masked entry, holds an entry that is not a real
        number, or holds a NaN or an infinity.

    Examples
    --------
    >>> reward_vector([1, 2.5, -3])
    array([ 1. ,  2.5, -3. ])
    >>> reward_vector([1.0, 2j])
    Traceback (most recent call last):
    ...
    ValueError: rewards is complex; rewards are real numbers
    """
    if isinstance(x, np.ma.MaskedArray):
        if np.ma.getmaskarray(x).any():
            row = int(np.flatnonzero(np.ma.getmaskarray(x).ravel())[0])
            raise ValueError(f"{name} is a masked array with a masked entry (index {row}); drop those samples")
        x = np.asarray(x.data)
    arr = np.asarray(x) if not isinstance(x, (list, tuple)) else np.asarray(x, dtype=object)
    if np.iscomplexobj(arr) or (arr.dtype == object and any(isinstance(v, complex) for v in arr.ravel()[: 10**6])):
        raise ValueError(f"{name} is complex; rewards are real numbers")
    if arr.dtype == bool:
        raise ValueError(f"{name} is boolean; rewards are real numbers")
    if arr.dtype.kind in "USV":
        raise ValueError(f"{name} holds {arr.dtype.kind == 'V' and 'records' or 'text'}, not numbers")
    if arr.dtype == object:
        for i, v in enumerate(arr.ravel()):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{name}[{i}] = {v!r:.40} is not a real number")
    # a list goes to the library's gate as it is: it checks the entries of a sequence one by one, where a numpy
    # object array (this one, made only to find complex entries) is refused outright
    return _validate.real_vector(list(x) if isinstance(x, (list, tuple)) else arr, name)


def group_codes(groups, size: int, name: str = "groups") -> tuple[np.ndarray, int, np.ndarray]:
    """Integer codes ``0 .. G-1`` (sorted by id), ``G`` and the ``G`` distinct ids, for one prompt id per reward.

    Strings, integers and (for numeric arrays only) floats are accepted as ids; an object array must hold only
    strings or only integers: ``None``, NaN, booleans, lists, dicts, and a mix of strings and numbers are errors.

    Parameters
    ----------
    groups : array_like
        One prompt id per reward.
    size : int
        The number of rewards, which ``groups`` must match.
    name : str, optional
        What the error messages call the input.

    Returns
    -------
    codes : numpy.ndarray
        The code of each reward's prompt, an ``int64`` array of length ``size`` with values in ``0 .. G-1``.
    G : int
        The number of distinct prompts.
    ids : numpy.ndarray
        The distinct ids, sorted; ``ids[codes]`` gives back the ids (integers of an object array as text).

    Raises
    ------
    ValueError
        If ``groups`` is a scalar or a string, does not have one entry per reward, holds a NaN, ``None``, a
        boolean, a complex number or an entry that is neither a string nor an integer, or mixes strings and
        integers.

    Examples
    --------
    >>> codes, G, ids = group_codes(["b", "a", "b", "a"], 4)
    >>> codes.tolist(), G, ids.tolist()
    ([1, 0, 1, 0], 2, ['a', 'b'])
    >>> group_codes(["a", 1], 2)
    Traceback (most recent call last):
    ...
    ValueError: groups mixes strings and integers (index 1 is 1); write every prompt id the same way
    """
    if isinstance(groups, (str, bytes)) or np.ndim(groups) == 0:
        raise ValueError(f"{name} must be one id per reward (an array of {size}), got {groups!r:.60}")
    g = np.asarray(groups) if not isinstance(groups, (list, tuple)) else _object_array(groups)
    if g.ndim != 1 or g.size != size:
        raise ValueError(f"{name} must have one entry per reward ({size}), got shape {g.shape}")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise ValueError(f"{name}[{int(np.flatnonzero(np.isnan(g))[0])}] is NaN: every sample needs a prompt id")
    if g.dtype.kind == "c":
        raise ValueError(f"{name} is complex; prompt ids are strings or integers")
    if g.dtype == object:
        g = _object_ids(g, name)
    elif g.dtype.kind not in "iufUSb" or g.dtype.kind == "b":
        raise ValueError(f"{name} has type {g.dtype}; prompt ids are strings or integers")
    uniq, codes = np.unique(g, return_inverse=True)
    return codes.astype(np.int64).ravel(), int(uniq.size), uniq


def _object_array(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _object_ids(g: np.ndarray, name: str) -> np.ndarray:
    """An object array of ids as a ``str`` array: all strings, or all integers (written in decimal)."""
    kind = None
    for i, v in enumerate(g):
        if isinstance(v, str):
            k = "string"
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            k = "integer"
        else:
            what = "missing (None)" if v is None else f"{type(v).__name__} {v!r:.40}"
            raise ValueError(f"{name}[{i}] is {what}; prompt ids are strings or integers")
        if kind is None:
            kind = k
        elif k != kind:
            raise ValueError(
                f"{name} mixes strings and integers (index {i} is {v!r:.40}); write every prompt id the same way"
            )
    return np.array([str(v) for v in g], dtype=str) if kind == "integer" else g.astype(str)


# -- tables ------------------------------------------------------------------------------------------------------------
def _kind(data) -> str:
    """``pandas``, ``polars`` or ``pyarrow`` for a table of that library (by its class's module), else ``""``."""
    module = type(data).__module__.split(".")[0]
    return module if module in ("pandas", "polars", "pyarrow") else ""


def is_table(data) -> bool:
    """Whether ``data`` is a pandas or polars DataFrame or a pyarrow Table or RecordBatch.

    Parameters
    ----------
    data : object
        Anything; a table is recognised by the module of its class, without importing a table library.

    Returns
    -------
    bool
        ``True`` for a table of pandas, polars or pyarrow (an object with ``columns``), else ``False``.

    Examples
    --------
    >>> is_table(np.zeros(3))
    False
    >>> import pandas as pd
    >>> is_table(pd.DataFrame({"reward": [1.0]}))
    True
    """
    return _kind(data) != "" and hasattr(data, "columns")


def table_columns(data, reward: str, group: str | None) -> tuple[np.ndarray, np.ndarray | None, int, np.ndarray | None]:
    """``(rewards, codes, G, ids)`` from columns ``reward`` and ``group`` of a pandas or polars DataFrame or a pyarrow
    Table: rewards as :func:`reward_vector`, ids as text (:func:`group_codes`, floating-point ids refused).

    Parameters
    ----------
    data : pandas.DataFrame, polars.DataFrame, pyarrow.Table or pyarrow.RecordBatch
        The table (see :func:`is_table`).
    reward : str
        The name of the reward column.
    group : str or None
        The name of the prompt-id column, or ``None`` for a single prompt.

    Returns
    -------
    rewards : numpy.ndarray
        The rewards, finite floats.
    codes : numpy.ndarray or None
        The prompt code of each reward (``int64``, ``0 .. G-1``); ``None`` when ``group`` is ``None``.
    G : int
        The number of distinct prompts (1 when ``group`` is ``None``).
    ids : numpy.ndarray or None
        The distinct prompt ids as text, in the order of the codes; ``None`` when ``group`` is ``None``.

    Raises
    ------
    ValueError
        If a named column is absent, ``reward`` is not a string, ``group`` is the reward column, the reward column
        is not real numbers or has a missing row, or the id column is floating-point, has a missing row or holds
        something other than strings or integers.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"reward": [0.5, 1.0, 2.0], "prompt": [7, 3, 7]})
    >>> rewards, codes, G, ids = table_columns(df, "reward", "prompt")
    >>> rewards.tolist(), codes.tolist(), G, ids.tolist()
    ([0.5, 1.0, 2.0], [1, 0, 1], 2, ['3', '7'])
    >>> table_columns(df, "score", None)
    Traceback (most recent call last):
    ...
    ValueError: no reward column 'score'; the table has 'reward', 'prompt'
    """
    kind = _kind(data)
    names = [str(c) for c in (data.column_names if kind == "pyarrow" else data.columns)]
    for what, col in (("reward column", reward), ("group column", group)):
        if col is not None and col not in names:
            raise ValueError(f"no {what} {col!r}; the table has {', '.join(map(repr, names[:20]))}")
    if not isinstance(reward, str):
        raise ValueError(f"reward must be a column name, got {reward!r}")
    if group is not None and group == reward:
        raise ValueError(f"group {group!r} is the reward column itself")
    if kind == "polars":
        data = data.select([reward] + ([group] if group else [])).to_arrow()
        kind = "pyarrow"
    if kind == "pyarrow":
        return _arrow_columns(data, reward, group)
    return _pandas_columns(data, reward, group)


def _arrow_columns(table, reward: str, group: str | None):
    import pyarrow as pa

    col = table.column(reward)
    kind = col.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise ValueError(f"reward column {reward!r} has type {kind}, not a real number")
    if col.null_count:
        row = next(i for i, v in enumerate(col.is_null().to_pylist()) if v)
        raise ValueError(f"reward column {reward!r}: row {row} is missing (null)")
    rewards = reward_vector(np.asarray(col.cast(pa.float64()).to_numpy(), dtype=float), f"reward column {reward!r}")
    if group is None:
        return rewards, None, 1, None
    ids = table.column(group)
    gkind = ids.type
    if pa.types.is_dictionary(gkind):
        ids, gkind = ids.cast(gkind.value_type), gkind.value_type
    if ids.null_count:
        row = next(i for i, v in enumerate(ids.is_null().to_pylist()) if v)
        raise ValueError(f"group column {group!r}: row {row} is missing (null); every sample needs a prompt id")
    if pa.types.is_integer(gkind):
        ids = ids.cast(pa.string())
    elif not (pa.types.is_string(gkind) or pa.types.is_large_string(gkind)):
        why = "floating-point (1.0 and 1 would be one prompt)" if pa.types.is_floating(gkind) else f"of type {gkind}"
        raise ValueError(f"group column {group!r} is {why}; prompt ids must be strings or integers")
    import pyarrow.compute as pc

    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    enc = pc.dictionary_encode(arr)
    return (
        rewards,
        np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64),
        len(enc.dictionary),
        np.asarray(enc.dictionary.to_pylist(), dtype=object),
    )


def _pandas_columns(df, reward: str, group: str | None):
    col = df[reward]
    if isinstance(col, type(df)):
        raise ValueError(f"reward column {reward!r} appears twice in the table")
    dtype = col.dtype
    if getattr(dtype, "kind", "O") == "c":
        raise ValueError(f"reward column {reward!r} is complex; rewards are real numbers")
    if getattr(dtype, "kind", "O") == "b" or str(dtype) == "boolean":
        raise ValueError(f"reward column {reward!r} is boolean; rewards are real numbers")
    missing = col.isna().to_numpy()
    if missing.any():
        raise ValueError(f"reward column {reward!r}: row {int(np.flatnonzero(missing)[0])} is missing (NaN/NA)")
    if getattr(dtype, "kind", "O") in "iuf":
        values = col.to_numpy(dtype=float)
    else:
        values = col.to_numpy(dtype=object)
    rewards = reward_vector(values, f"reward column {reward!r}")
    if group is None:
        return rewards, None, 1, None
    ids = df[group]
    gkind = getattr(ids.dtype, "kind", "O")
    if gkind == "f":
        raise ValueError(
            f"group column {group!r} is floating-point (1.0 and 1 would be one prompt); prompt ids "
            "must be strings or integers"
        )
    missing = ids.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"group column {group!r}: row {int(np.flatnonzero(missing)[0])} is missing; every sample needs a prompt id"
        )
    if gkind in "iu":  # integers: the partition of their decimal text is the partition of the integers
        uniq, codes = np.unique(ids.to_numpy(), return_inverse=True)
        return rewards, codes.astype(np.int64).ravel(), int(uniq.size), uniq.astype(str)
    values = ids.to_numpy(dtype=object)
    codes, n_groups, ids = group_codes(values, rewards.size, f"group column {group!r}")
    return rewards, codes, n_groups, ids
