"""Reading reward samples from the files people have: CSV, TSV, JSON Lines, Parquet, one number per line.

The files are parsed with pyarrow (a declared dependency): its multithreaded C++ readers handle RFC 4180 CSV
(quoted fields with commas, quotes and newlines, as pandas and the ``csv`` module write them) with no field-size
limit, JSON Lines and Parquet, and read a million rows in a fraction of a second; pandas would add a second large
dependency on top of the same work. When pyarrow rejects a file, or a reward is missing, not a number, NaN or
infinite, the file is read again with the ``csv`` or ``json`` module only to name the first bad line, so every
problem is one :class:`RewardFileError` naming the file and the line (or row, for Parquet).

Blank lines and lines starting with ``#`` are skipped in text formats. ``-`` reads standard input.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMATS = ("csv", "tsv", "jsonl", "parquet")
MAX_TEXT_BYTES = 2 << 30  # text files are decoded in memory: above 2 GiB, ask for Parquet
_SUFFIX = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMMENT = re.compile(rb"(?m)^[ \t]*#[^\r\n]*")
_COMMENT_TEXT = re.compile(r"(?m)^[ \t]*#[^\r\n]*")
_PROMPT_LIKE = re.compile(
    r"(?i)^(prompt|question|query|instruction|task|conversation|context|input|sample|group)"
    r"[ _.-]?(id|idx|index|key|hash|no|num|number)?$|^(pid|qid|uid|group)$"
)


class RewardFileError(ValueError):
    r"""A reward file that cannot be read as rewards; the message names the file, line and problem.

    A subclass of ``ValueError``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "r.csv").write_text("reward\n1.5\nhigh\n")
    ...     try:
    ...         read_samples(Path(folder) / "r.csv")
    ...     except RewardFileError as exc:
    ...         message = str(exc)
    >>> message.split(", ", 1)[1]
    "line 3: column 'reward' 'high' is not a number"
    """


@dataclass(frozen=True)
class RewardSamples:
    r"""Rewards read from a file: ``rewards`` (finite floats), ``groups`` (an integer code per sample, ``0 ..
    n_groups - 1``, or ``None`` without a group column), ``columns`` (all column names of the file, nested ones
    by dotted path), the ``column`` and ``group`` read, ``dropped`` (rows left out by ``drop_missing``) and
    ``ids`` (the prompt id of each code, as text) and ``sha256`` (of the bytes read).

    Attributes
    ----------
    rewards : numpy.ndarray
        The rewards, finite floats, in file order.
    groups : numpy.ndarray or None
        The prompt code of each reward, ``0 .. n_groups - 1`` in order of first appearance; ``None`` without a
        group column.
    n_groups : int
        The number of prompts (1 without a group column).
    columns : tuple of str
        Every column of the file (nested ones by dotted path).
    column : str or None
        The reward column read (``None`` for one number per line).
    group : str or None
        The prompt-id column read.
    source : str
        The file, as messages name it.
    dropped : int
        Rows left out for a missing reward (``drop_missing``).
    ids : numpy.ndarray or None
        The prompt id of each code, as text.
    sha256 : str or None
        The SHA-256 of the bytes read.

    Examples
    --------
    >>> samples = RewardSamples(rewards=np.array([0.0, 1.0, 2.0]), groups=np.array([0, 0, 1]), n_groups=2,
    ...                         columns=("prompt", "reward"), column="reward", group="prompt", source="r.csv",
    ...                         ids=np.array(["a", "b"], dtype=object))
    >>> from lmalign.frontier.core import frontier
    >>> frontier(samples, n=[2]).bon_mean.tolist()  # (3/4 + 2) / 2
    [1.375]
    """

    rewards: np.ndarray
    groups: np.ndarray | None
    n_groups: int
    columns: tuple[str, ...]
    column: str | None
    group: str | None
    source: str
    dropped: int = 0
    ids: np.ndarray | None = None
    sha256: str | None = None

    def prompt_like_columns(self) -> list[str]:
        r"""Columns whose name looks like a prompt id (``prompt_id``, ``question``, ``qid``...), other than the
        reward column.

        Returns
        -------
        list of str
            The file's columns, in order, whose name looks like a prompt id.

        Examples
        --------
        >>> samples = RewardSamples(rewards=np.array([1.0]), groups=None, n_groups=1, columns=("qid", "reward", "text"),
        ...                         column="reward", group=None, source="r.csv")
        >>> samples.prompt_like_columns()
        ['qid']
        """
        return [c for c in self.columns if c != self.column and _PROMPT_LIKE.match(c.strip())]


# -- raw bytes ------------------------------------------------------------------------------------------------------
def _load_bytes(path: str | Path) -> tuple[str, bytes | None, Path | None]:
    """``(name, data, file)``: the bytes of standard input (``-``), or the checked path of a file (its bytes are
    read by the format reader, so Parquet is never read whole)."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        if len(data) > MAX_TEXT_BYTES:
            raise RewardFileError(
                f"<stdin>: more than {MAX_TEXT_BYTES >> 30} GiB on standard input; give a Parquet file instead"
            )
        return "<stdin>", data, None
    p = Path(path)
    shown = display_name(p)
    try:
        p.stat()
    except FileNotFoundError:
        raise RewardFileError(f"{shown}: no such file") from None
    except OSError as exc:
        raise RewardFileError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if not p.is_file():
        raise RewardFileError(f"{shown}: not a file")
    return shown, None, p


def display_name(path: str | Path) -> str:
    r"""A file name as it goes into a one-line message: as it is, or quoted with escapes (as ``repr`` writes
    it) when it holds a newline or another unprintable character.

    Parameters
    ----------
    path : str or os.PathLike
        The file name.

    Returns
    -------
    str
        The name, or its ``repr`` when it is not printable.

    Examples
    --------
    >>> display_name("rewards.csv")
    'rewards.csv'
    >>> print(display_name("a\nb.csv"))
    'a\nb.csv'
    """
    text = str(path)
    return text if text.isprintable() else repr(text)


def _lines(data: bytes) -> bytes:
    """Text with line feeds: a file whose lines end in a carriage return only (old Mac style) gets ``\\n``."""
    return data.replace(b"\r", b"\n") if b"\r" in data and b"\n" not in data else data


def _read_text_bytes(name: str, p: Path) -> bytes:
    size = p.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise RewardFileError(
            f"{name}: {size / 2**30:.1f} GiB is more than the {MAX_TEXT_BYTES >> 30} GiB read "
            "for text formats; give a Parquet file instead"
        )
    try:
        with p.open("rb") as fh:
            return fh.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise RewardFileError(f"{name}: cannot read ({exc.strerror or exc})") from None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(name: str, data: bytes) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped); binary data and UTF-16 are errors naming the line."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise RewardFileError(f"{name}: UTF-16 text (byte-order mark); save the file as UTF-8")
    nul = data.find(b"\0")
    if nul >= 0:
        raise RewardFileError(
            f"{name}, line {_line_of(data, nul)}: binary data (a NUL byte), not UTF-8 text; "
            "UTF-16 text and sparse or damaged files look like this"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RewardFileError(
            f"{name}, line {_line_of(data, exc.start)}: not UTF-8 text (byte "
            f"0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def detect_format(name: str, data: bytes | None, file: Path | None) -> str:
    r"""The format from the suffix, else from the content: Parquet magic, ``{`` (JSON Lines), a tab in the first
    line (TSV), otherwise CSV (which covers one reward per line).

    Parameters
    ----------
    name : str
        The file as messages name it.
    data : bytes or None
        The bytes already read (standard input), or ``None`` to read the start of ``file``.
    file : pathlib.Path or None
        The file, whose suffix decides when it is a known one.

    Returns
    -------
    str
        One of ``FORMATS``: ``"csv"``, ``"tsv"``, ``"jsonl"`` or ``"parquet"``.

    Raises
    ------
    RewardFileError
        If the file has to be read and cannot be.

    Examples
    --------
    >>> from pathlib import Path
    >>> detect_format("x", None, Path("scores.PQ"))  # by the suffix; the file is not opened
    'parquet'
    >>> [detect_format("<stdin>", data, None) for data in (b'# scores\n{"r": 1}\n', b"id\tr\n", b"0.5\n")]
    ['jsonl', 'tsv', 'csv']
    """
    fmt = _SUFFIX.get(file.suffix.lower()) if file is not None else None
    if fmt is not None:
        return fmt
    if data is None and file is not None:
        try:
            with file.open("rb") as fh:
                data = fh.read(1 << 16)
        except OSError as exc:
            raise RewardFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    assert data is not None
    if data[:4] == b"PAR1":
        return "parquet"
    body = _COMMENT.sub(b"", data[: 1 << 16]).lstrip()
    if body[:1] == b"{":
        return "jsonl"
    first = body.split(b"\n", 1)[0]
    return "tsv" if b"\t" in first else "csv"


# -- numbers ----------------------------------------------------------------------------------------------------------
def _number(text, name: str, where: str, what: str) -> float:
    if isinstance(text, bool):
        raise RewardFileError(f"{name}, {where}: {what} {text!r} is not a number")
    if isinstance(text, (int, float)):
        value = float(text)
        cell = repr(text)
    else:
        cell = "" if text is None else str(text).strip()
        if not cell:
            raise RewardFileError(f"{name}, {where}: empty {what}")
        try:
            value = float(cell)
        except ValueError:
            shown = cell if len(cell) <= 40 else cell[:37] + "..."
            raise RewardFileError(f"{name}, {where}: {what} {shown!r} is not a number") from None
    if math.isnan(value):
        raise RewardFileError(f"{name}, {where}: {what} is NaN (not a number); remove or fix that sample")
    if math.isinf(value):
        raise RewardFileError(f"{name}, {where}: {what} {cell!r} is infinite; rewards must be finite")
    return value


def _looks_numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_names(name: str, names: list[str], column: str | None, group: str | None) -> str:
    seen = set()
    for n in names:
        if n in seen:
            raise RewardFileError(f"{name}: column {n!r} appears twice in the header")
        seen.add(n)
    if column is None:
        if len(names) > 1:
            raise RewardFileError(
                f"{name}: several columns ({', '.join(names)}); choose one with --column NAME (column=... in Python)"
            )
        column = names[0]
    for what, col in (("column", column), ("group column", group)):
        if col is not None and col not in names:
            raise RewardFileError(f"{name}: no {what} {col!r}; the header has {', '.join(map(repr, names))}")
    if group is not None and group == column:
        raise RewardFileError(f"{name}: --group {group!r} is the reward column itself")
    return column


def _codes(values) -> tuple[np.ndarray, int, np.ndarray]:
    """Integer codes ``0 .. G-1`` of group values (a pyarrow array or chunked array), in order of appearance,
    ``G`` and the ids."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    enc = pc.dictionary_encode(arr)  # integer ids are encoded as integers, then only the distinct ones as text
    ids = np.asarray(_id_text(enc.dictionary).to_pylist(), dtype=object)
    return np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64), len(enc.dictionary), ids


def _release_arrow_memory() -> None:
    """Hand pyarrow's freed buffers back to the system (its allocator keeps them otherwise, on top of what numpy
    allocates next), when pyarrow is loaded."""
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        pa.default_memory_pool().release_unused()


def _id_text(values):
    """Prompt ids as pyarrow strings: integers in decimal (distinct integers are distinct texts)."""
    import pyarrow as pa

    return values.cast(pa.string()) if pa.types.is_integer(values.type) else values


def _samples(name: str, rewards: np.ndarray, gvals, columns, column, group, dropped: int) -> RewardSamples:
    codes, n_groups, ids = _codes(gvals) if gvals is not None else (None, 1, None)
    return RewardSamples(
        rewards=rewards,
        groups=codes,
        n_groups=n_groups,
        columns=tuple(columns),
        column=column,
        group=group,
        source=name,
        dropped=dropped,
        ids=ids,
    )


def _drop_missing(name: str, values, gvals, drop: bool):
    """With ``drop``: the reward column without its missing entries (null or NaN) and the group column without
    the same rows, and how many were left out; otherwise the columns as they are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if not drop or not (pa.types.is_null(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return values, gvals, 0
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_floating(kind):
        missing |= np.asarray(pc.is_nan(values).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    dropped = int(missing.sum())
    if not dropped:
        return values, gvals, 0
    if dropped == missing.size:
        raise RewardFileError(f"{name}: every reward is missing ({dropped:,} rows)")
    keep = pa.array(~missing)
    values = values.filter(keep).cast(pa.float64())
    return values, (gvals.filter(keep) if gvals is not None else None), dropped


def _flatten(table):
    """Nested objects (struct columns) as columns named by dotted path, ``meta.scores.rm``."""
    import pyarrow as pa

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def _no_struct_group(name: str, table, group: str | None) -> None:
    import pyarrow as pa

    if group is not None and group in table.column_names:
        kind = table.schema.field(group).type
        if pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind):
            what = "an object (struct)" if pa.types.is_struct(kind) else "a list"
            raise RewardFileError(
                f"{name}: group column {group!r} is {what}; prompt ids must be strings or "
                "integers (name a nested field by its dotted path, e.g. meta.id)"
            )


def _float_column(values) -> np.ndarray | None:
    """The column as float64 if pyarrow typed it as a number with no nulls, else ``None`` (a slow pass then
    names the bad line)."""
    import pyarrow as pa

    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)) or values.null_count:
        return None
    out = np.asarray(values.to_numpy(), dtype=float)
    return out if np.isfinite(out).all() else None


# -- CSV and TSV ------------------------------------------------------------------------------------------------------
def _records(text: str, delimiter: str):
    """``(first_line, last_line, fields)`` for every record of ``text`` (comment and blank lines skipped). The
    ``csv`` module's field-size limit is lifted while reading."""
    old = csv.field_size_limit(sys.maxsize)
    try:
        body = _COMMENT_TEXT.sub("", text) if "#" in text else text
        reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
        last = 0
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            yield start, last, fields
    finally:
        csv.field_size_limit(old)


def _locate_csv_error(
    name: str, text: str, delimiter: str, header: list[str] | None, index: int, gindex: int | None, fallback: str
) -> RewardFileError:
    """The first bad record, read with the ``csv`` module, as an error naming its line."""
    width = len(header) if header is not None else 1
    what = f"column {header[index]!r}" if header is not None else "reward"
    records = _records(text, delimiter)
    try:
        if header is not None:
            next(records)
        for lineno, _, fields in records:
            where = f"line {lineno}"
            if header is None and len(fields) > 1:
                return RewardFileError(f"{name}, {where}: {len(fields)} fields where one reward was expected")
            if index >= len(fields):
                return RewardFileError(f"{name}, {where}: the row has {len(fields)} fields, no {what}")
            if len(fields) != width:
                return RewardFileError(f"{name}, {where}: {len(fields)} fields, the header has {width}")
            try:
                _number(fields[index], name, where, what)
            except RewardFileError as exc:
                return exc
            if gindex is not None and header is not None and not fields[gindex].strip():
                return RewardFileError(f"{name}, {where}: empty group column {header[gindex]!r}")
    except csv.Error as exc:
        return RewardFileError(f"{name}: {exc}")
    return RewardFileError(f"{name}: {fallback}")


def _after_line(data: bytes, line: int) -> int:
    """Byte offset just after the ``line``-th newline of ``data`` (``len(data)`` if there are fewer)."""
    pos = 0
    for _ in range(line):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            return len(data)
        pos = nxt + 1
    return pos


def _read_delimited(
    name: str, data: bytes, delimiter: str, column: str | None, group: str | None, drop_missing: bool = False
) -> RewardSamples:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    text = _decode(name, data)
    try:
        first = next(_records(text, delimiter), None)
    except csv.Error as exc:
        raise RewardFileError(f"{name}: {exc}") from None
    if first is None:
        raise RewardFileError(f"{name}: the file has no rewards (it is empty or only blank/comment lines)")
    first_no, header_end, header = first
    is_header = column is not None or group is not None or not _looks_numeric(header[0])
    if not is_header and len(header) > 1:
        raise RewardFileError(
            f"{name}, line {first_no}: {len(header)} fields but no header row; give one "
            "reward per line, or a file with a header and --column NAME"
        )
    body = data[3:] if data[:3] == b"\xef\xbb\xbf" else data
    body = _COMMENT.sub(b"", body) if b"#" in body else body
    names = [h.strip() for h in header] if is_header else ["reward"]
    if is_header:
        column = _check_names(name, names, column, group)
        body = body[_after_line(body, header_end) :]
        if not body.strip():
            raise RewardFileError(f"{name}: the file has a header but no rewards")
    index = names.index(column) if is_header else 0
    gindex = names.index(group) if group is not None else None
    keys = [f"c{i}" for i in range(len(names))]
    wanted = [keys[index]] + ([keys[gindex]] if gindex is not None else [])
    read = pacsv.ReadOptions(column_names=keys, block_size=1 << 24)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    types = {keys[index]: pa.float64()}
    if gindex is not None:
        types[keys[gindex]] = pa.string()  # prompt ids are text as written: "007" and "7" are two prompts
    convert = pacsv.ConvertOptions(
        include_columns=wanted, column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
    )

    def locate(fallback: str) -> RewardFileError:
        return _locate_csv_error(name, text, delimiter, header if is_header else None, index, gindex, fallback)

    try:
        table = _pyarrow_csv(body, read, parse, convert)
    except pa.ArrowInvalid as exc:
        raise locate(str(exc).splitlines()[0]) from None
    if table.num_rows == 0:
        raise RewardFileError(f"{name}: the file has a header but no rewards")
    values, gvals, dropped = _drop_missing(
        name, table.column(keys[index]), table.column(keys[gindex]) if gindex is not None else None, drop_missing
    )
    rewards = _float_column(values)
    if rewards is None or (gvals is not None and _has_empty(gvals)):
        raise locate("a reward cell could not be read")
    return _samples(name, rewards, gvals, names if is_header else (), column if is_header else None, group, dropped)


def _pyarrow_csv(body: bytes, read, parse, convert):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(pa.BufferReader(body), read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc) and "block size" not in str(exc):
            raise
    read.block_size = max(len(body) + 1, 1 << 24)  # a record longer than a block: read in one block
    return pacsv.read_csv(pa.BufferReader(body), read_options=read, parse_options=parse, convert_options=convert)


def _has_empty(values) -> bool:
    import pyarrow as pa
    import pyarrow.compute as pc

    if values.null_count:
        return True
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return bool(pc.any(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)).as_py())
    return False


# -- JSON Lines and Parquet -------------------------------------------------------------------------------------------
def _read_jsonl(
    name: str, data: bytes, column: str | None, group: str | None, drop_missing: bool = False
) -> RewardSamples:
    import pyarrow as pa
    import pyarrow.json as pajson

    text = _decode(name, data)
    body = _COMMENT.sub(b"", data) if b"#" in data else data
    if body[:3] == b"\xef\xbb\xbf":
        body = body[3:]
    try:
        table = pajson.read_json(pa.BufferReader(body), read_options=pajson.ReadOptions(block_size=1 << 24))
    except pa.ArrowInvalid as exc:
        raise _locate_json_error(name, text, column, group, str(exc).splitlines()[0]) from None
    if not table.column_names:
        raise RewardFileError(f"{name}: the file has no rewards (no JSON objects)")
    _no_struct_group(name, table, group)
    table = _flatten(table)
    names = list(table.column_names)
    column = _check_names(name, names, column, group)
    gvals = table.column(group) if group is not None else None
    if group is not None and gvals is not None and not _is_text(gvals.type) and not gvals.null_count:
        # pyarrow has typed the ids as numbers ("1e3" and 1000 would be one prompt): read them as written
        gvals = _json_group_text(name, body, group)
    values, gvals, dropped = _drop_missing(name, table.column(column), gvals, drop_missing)
    rewards = _float_column(values)
    if rewards is None or (gvals is not None and gvals.null_count):
        raise _locate_json_error(name, text, column, group, "a reward could not be read")
    return _samples(name, rewards, gvals, names, column, group, dropped)


def _dig(obj, path: str):
    """``obj[path]``, or for a dotted path the nested value (``None`` if absent)."""
    if not isinstance(obj, dict):
        return None
    if path in obj:
        return obj[path]
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


class _RawNumber(str):
    """A JSON number kept as the text written in the file."""


def _is_text(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _json_id(value, name: str, where: str, group: str) -> str:
    """A prompt id from a parsed JSON value: a string, or a number as written; anything else is an error."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    if value is None:
        raise RewardFileError(f"{name}, {where}: empty group key {group!r} (null)")
    what = {bool: "a boolean", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
    raise RewardFileError(f"{name}, {where}: group key {group!r} is {what}; prompt ids must be strings or numbers")


def _json_group_text(name: str, body: bytes, group: str):
    """The group field of every JSON Lines record as text: strings as they are, bare numbers as written (so
    ``007``... cannot occur, but ``1.0``, ``1e3`` and 21-digit integers stay distinct from ``1`` and ``1000``).
    One record per non-blank line, as pyarrow read them. A column mixing strings and numbers is refused."""
    import pyarrow as pa

    out: list[str] = []
    kinds: set[bool] = set()
    for lineno, line in enumerate(body.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line, parse_int=_RawNumber, parse_float=_RawNumber)
        value = _json_id(_dig(obj, group), name, f"line {lineno}", group)
        kinds.add(isinstance(value, _RawNumber))
        if len(kinds) > 1:
            raise RewardFileError(
                f"{name}, line {lineno}: group key {group!r} mixes strings and numbers; write "
                "every prompt id the same way (as strings)"
            )
        out.append(str(value))
    return pa.array(out, type=pa.string())


def _locate_json_error(name: str, text: str, column: str | None, group: str | None, fallback: str):
    kinds: set[bool] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            return RewardFileError(f"{name}, {where}: not JSON ({exc.msg})")
        if not isinstance(obj, dict):
            return RewardFileError(f"{name}, {where}: a JSON {type(obj).__name__}, not an object")
        if column is not None:
            value = _dig(obj, column)
            if value is None and column not in obj:
                return RewardFileError(f"{name}, {where}: no key {column!r}")
            try:
                _number(value, name, where, f"column {column!r}")
            except RewardFileError as exc:
                return exc
        if group is not None and _dig(obj, group) is None:
            return RewardFileError(f"{name}, {where}: no group key {group!r}")
        if group is not None:
            try:
                _json_id(_dig(obj, group), name, where, group)
            except RewardFileError as exc:
                return exc
            kinds.add(isinstance(_dig(obj, group), str))
            if len(kinds) > 1:
                return RewardFileError(
                    f"{name}, {where}: group key {group!r} mixes strings and numbers; write "
                    "every prompt id the same way (as strings)"
                )
    return RewardFileError(f"{name}: {fallback}")


def _read_parquet(
    name: str, data: bytes | None, file: Path | None, column: str | None, group: str | None, drop_missing: bool = False
) -> RewardSamples:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pa.BufferReader(data) if data is not None else str(file)
    try:
        pf = pq.ParquetFile(source)
        schema = pf.schema_arrow
        if not schema.names:
            raise RewardFileError(f"{name}: the Parquet file has no columns")
        _no_struct_group(name, schema.empty_table(), group)
        names = list(_flatten(schema.empty_table()).column_names)
        column = _check_names(name, names, column, group)
        tops = list(dict.fromkeys(c if c in schema.names else c.split(".")[0] for c in (column, group) if c))
        table = _flatten(pf.read(columns=tops))
    except RewardFileError:
        raise
    except (pa.ArrowException, OSError) as exc:
        raise RewardFileError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    values, graw, dropped = _drop_missing(
        name, table.column(column), table.column(group) if group is not None else None, drop_missing
    )
    rewards = _float_column(values)
    if rewards is None:
        py = values.to_pylist()
        for i, v in enumerate(py):
            _number(v if not isinstance(v, str) else v, name, f"row {i + 1}", f"column {column!r}")
        raise RewardFileError(f"{name}: column {column!r} has type {values.type}, not a number")
    gvals = _parquet_ids(name, graw, group) if group is not None else None
    if gvals is not None and gvals.null_count:
        row = next(i for i, v in enumerate(gvals.to_pylist()) if v is None)
        raise RewardFileError(f"{name}, row {row + 1}: empty group column {group!r}")
    if rewards.size == 0:
        raise RewardFileError(f"{name}: the file has no rewards")
    del table, values, graw  # only the rewards and the ids stay
    return _samples(name, rewards, gvals, names, column, group, dropped)


def _parquet_ids(name: str, values, group: str):
    """Prompt ids of a Parquet column, checked: strings, or integers (read as text in decimal, exact as written, by
    :func:`_id_text` once per distinct id); dictionary-encoded columns of those decoded. Floating-point ids are
    refused (``1.0`` and ``1`` would be one prompt, and long ids have already lost digits), as are lists, structs,
    booleans and binary data."""
    import pyarrow as pa

    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.cast(kind.value_type)
        kind = kind.value_type
    if _is_text(kind) or pa.types.is_integer(kind):
        return values  # integers stay integers: they are made text once per distinct id (:func:`_id_text`)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        why = "floating-point numbers: 1.0 and 1 would be one prompt, and long ids lose digits"
    else:
        why = f"of type {kind}"
    raise RewardFileError(f"{name}: group column {group!r} is {why}; prompt ids must be strings or integers")


# -- entry points -----------------------------------------------------------------------------------------------------
def read_samples(
    path: str | Path,
    column: str | None = None,
    group: str | None = None,
    fmt: str | None = None,
    drop_missing: bool = False,
) -> RewardSamples:
    r"""Rewards (and prompt groups) from a file: CSV, TSV, JSON Lines, Parquet, or one number per line.

    ``fmt`` is one of ``FORMATS`` or ``None`` (from the suffix, else from the content). ``column`` names the
    reward column (needed when there are several); ``group`` the column of prompt ids, read as text (``007`` and
    ``7`` are two prompts). In JSON Lines and Parquet a nested field is named by its dotted path
    (``meta.scores.rm``). ``drop_missing`` leaves out rows whose reward is missing (empty, null or NaN) and counts
    them in ``dropped``; text that is not a number stays an error. ``path = "-"`` reads standard input. Raises
    :class:`RewardFileError` naming the file and line for every problem.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or ``"-"`` for standard input.
    column : str, optional
        The reward column.
    group : str, optional
        The prompt-id column.
    fmt : str, optional
        The format, one of ``FORMATS``; by default from the suffix, else from the content.
    drop_missing : bool, optional
        Leave out (and count) rows whose reward is missing.

    Returns
    -------
    RewardSamples
        The rewards, prompt codes and ids, the columns, the rows dropped and the bytes' SHA-256.

    Raises
    ------
    RewardFileError
        For an unknown ``fmt`` and every problem of the file (missing, unreadable, not the format, no such column, a
        reward that is missing, not a number or not finite, a bad prompt id), naming the file and line.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "rewards.csv"
    ...     _ = path.write_text("prompt,reward\n7,0.0\n7,1.0\n007,2.0\n")
    ...     samples = read_samples(path, column="reward", group="prompt")
    >>> samples.rewards.tolist(), samples.groups.tolist(), samples.ids.tolist()
    ([0.0, 1.0, 2.0], [0, 0, 1], ['7', '007'])
    """
    if fmt is not None and fmt not in FORMATS:
        raise RewardFileError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    name, data, file = _load_bytes(path)
    samples = _read(name, data, file, fmt, column, group, drop_missing)
    _release_arrow_memory()  # the reader's columns are gone by now
    # hashed once the file has been read: a file refused (too large for text, not the format) is not read through
    return dataclasses.replace(samples, sha256=_sha256(name, data, file))


def _sha256(name: str, data: bytes | None, file: Path | None) -> str:
    h = hashlib.sha256()
    if data is not None:
        h.update(data)
        return h.hexdigest()
    assert file is not None
    try:
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    except OSError as exc:
        raise RewardFileError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


def _read(
    name: str,
    data: bytes | None,
    file: Path | None,
    fmt: str | None,
    column: str | None,
    group: str | None,
    drop_missing: bool,
) -> RewardSamples:
    fmt = fmt or detect_format(name, data, file)
    if fmt == "parquet":
        return _read_parquet(name, data, file, column, group, drop_missing)
    if data is None:
        assert file is not None
        data = _read_text_bytes(name, file)
    data = _lines(data)
    if fmt == "jsonl":
        return _read_jsonl(name, data, column, group, drop_missing)
    return _read_delimited(name, data, "\t" if fmt == "tsv" else ",", column, group, drop_missing)


def read_points(path: str | Path) -> list[dict]:
    r"""Measured points of real runs to overlay on the frontier: a CSV or JSON Lines file (by suffix, else by
    content) with columns ``kl`` (nats, :math:`\ge 0`), ``reward`` and an optional ``label``. Returns
    ``[{"kl", "reward", "label"}]``; every problem is one :class:`RewardFileError` naming the file and line.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or ``"-"`` for standard input.

    Returns
    -------
    list of dict
        One ``{"kl": float, "reward": float, "label": str}`` per point, in file order (label ``""`` when absent).

    Raises
    ------
    RewardFileError
        If the file is missing, empty, not CSV or JSON Lines, lacks ``kl`` or ``reward``, or has a row with a
        wrong number of fields, a value that is not a finite number or a negative ``kl``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "runs.csv"
    ...     _ = path.write_text("kl,reward,label\n0.5,1.25,PPO\n2,1.5,\n")
    ...     read_points(path)
    [{'kl': 0.5, 'reward': 1.25, 'label': 'PPO'}, {'kl': 2.0, 'reward': 1.5, 'label': ''}]
    """
    name, data, file = _load_bytes(path)
    if data is None:
        assert file is not None
        data = _read_text_bytes(name, file)
    data = _lines(data)
    fmt = detect_format(name, data, file)
    text = _decode(name, data)
    rows: list[tuple[int, dict]] = []
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RewardFileError(f"{name}, line {lineno}: not JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise RewardFileError(f"{name}, line {lineno}: a JSON {type(obj).__name__}, not an object")
            rows.append((lineno, obj))
    elif fmt in ("csv", "tsv"):
        records = _records(text, "\t" if fmt == "tsv" else ",")
        first = next(records, None)
        if first is None:
            raise RewardFileError(f"{name}: no points (the file is empty)")
        header = [h.strip() for h in first[2]]
        for lineno, _, fields in records:
            if len(fields) != len(header):
                raise RewardFileError(f"{name}, line {lineno}: {len(fields)} fields, the header has {len(header)}")
            rows.append((lineno, dict(zip(header, fields, strict=True))))
    else:
        raise RewardFileError(f"{name}: points must be CSV or JSON Lines (columns kl, reward, label)")
    if not rows:
        raise RewardFileError(f"{name}: no points")
    out = []
    for lineno, row in rows:
        where = f"line {lineno}"
        for key in ("kl", "reward"):
            if key not in row:
                raise RewardFileError(f"{name}, {where}: no {key!r} column (points need kl, reward, label)")
        kl = _number(row["kl"], name, where, "kl")
        if kl < 0:
            raise RewardFileError(f"{name}, {where}: kl {kl!r} is negative; a relative entropy is >= 0")
        label = row.get("label")
        out.append(
            {
                "kl": kl,
                "reward": _number(row["reward"], name, where, "reward"),
                "label": "" if label is None else str(label).strip(),
            }
        )
    return out


def read_rewards(path: str | Path, column: str | None = None, progress: bool | None = None) -> np.ndarray:
    r"""The rewards of :func:`read_samples` as a float array (``progress`` is accepted for compatibility; the
    readers are fast enough to need no progress bar).

    Parameters
    ----------
    path : str or os.PathLike
        The file, or ``"-"`` for standard input.
    column : str, optional
        The reward column.
    progress : bool, optional
        Ignored.

    Returns
    -------
    numpy.ndarray
        The rewards, finite floats, in file order.

    Raises
    ------
    RewardFileError
        For every problem of the file, as :func:`read_samples`.

    Examples
    --------
    One number per line, comments and blank lines skipped:

    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "rewards.txt"
    ...     _ = path.write_text("# scores\n0.5\n\n-1e3\n")
    ...     read_rewards(path).tolist()
    [0.5, -1000.0]
    """
    return read_samples(path, column=column).rewards
