"""Ranges of a chapter's parameters: one grammar, written beside each parameter, read without running the cell.

Every assignment of a chapter's ``parameters`` cell carries its range as a trailing comment, optionally followed
by ``;`` and free text for the reader::

    seed = 20240401               # int in [0, 2**32); seed of the random models
    budget_fractions = [0.1, 0.3] # list of float in (0, 1), len in [1, 4]; delta as fractions of D_max
    model_p = [0.5, 0.3, 0.2]     # probability vector, positive, len in [2, 6]
    model_r = [0.0, 1.0, 2.0]     # list of float in [0, 4], step 0.5, len = model_p, nonconstant
    chain = [[.5, .5], [1, 0]]    # stochastic matrix, primitive, size in [2, 4]
    quick = False                 # bool, sweep in {True}

(for a value spread over several lines, the comment goes on its last line). The grammar::

    SPEC       = BASE ("," CONSTRAINT)*
    BASE       = "bool" | SCALAR | "list of " SCALAR | "probability vector" | "stochastic matrix"
    SCALAR     = ("int" | "float" | "str") [" in " DOMAIN]
    DOMAIN     = ["log"] ("[" | "(") NUMBER ", " NUMBER ("]" | ")")   closed or open ends; "log": log-uniform
               | "{" LITERAL ", " ... "}"                              a finite set
    CONSTRAINT = "len in " DOMAIN | "len = " NAME | "size in " DOMAIN  (a list's or a matrix's length)
               | "step " NUMBER                                        values are lo + k * step
               | "increasing" | "distinct" | "nonconstant" | "positive" | "primitive"
               | "sweep in " DOMAIN | "sweep len in " DOMAIN          where the sweep draws (inside the range)

``NUMBER`` is a number, ``inf``, or arithmetic of them (``2**32``, ``-1e3``). ``len = NAME`` ties a list's length to
another parameter's (lists of equal length); a list without ``len`` may have any length, and the sweep draws 1 to
4 elements for it. A ``probability vector`` has entries ``>= 0`` (``> 0`` with
``positive``) that sum to 1 within ``1e-9``; a ``stochastic matrix`` is square with such rows, and ``primitive``
asks that some power be positive (Wielandt: the power ``k^2 - 2k + 2`` for ``k`` states), and ``sweep in`` bounds the
nonzero entries that the sweep draws for it (zeros stay allowed). ``sweep in`` narrows the
domain that ``python -m lmalign sweep`` draws from (small sizes where the claims' bounds account for the size);
the range itself is what a run accepts.

:func:`read` parses a chapter's cell (no execution: :mod:`ast` and :mod:`tokenize`); :func:`validate` refuses a
value outside its range with one line naming the parameter and the range; :func:`draw` draws every parameter
reproducibly from a :class:`random.Random`. Standard library only.
"""

from __future__ import annotations

import ast
import io
import math
import operator
import random
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path


class ParameterError(ValueError):
    """A parameter the chapter does not have, a value of the wrong type or outside its range, or a bad range."""


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    lo_closed: bool = True
    hi_closed: bool = True
    log: bool = False

    def contains(self, x: float) -> bool:
        if math.isnan(x):
            return False
        above = x >= self.lo if self.lo_closed else x > self.lo
        below = x <= self.hi if self.hi_closed else x < self.hi
        return above and below


@dataclass(frozen=True)
class Choice:
    values: tuple

    def contains(self, x) -> bool:
        return any(x == v and (type(x) is type(v) or (_is_number(x) and _is_number(v))) for v in self.values)


Domain = Interval | Choice


@dataclass(frozen=True)
class Spec:
    """A parsed range: ``kind`` is ``bool``, ``int``, ``float``, ``str``, ``list``, ``probability vector`` or
    ``stochastic matrix``; ``element`` the scalar type of a list; ``text`` the comment as written."""

    text: str
    kind: str
    element: str | None = None
    domain: Domain | None = None
    length: Interval | None = None
    same_length: str | None = None
    step: float | None = None
    flags: frozenset = field(default_factory=frozenset)
    sweep: Domain | None = None
    sweep_length: Interval | None = None


DEFAULT_DRAW_LENGTH = Interval(1, 4)  # lengths the sweep draws for a list with no 'len in' (any length is valid)
FLAGS = {"increasing", "distinct", "nonconstant", "positive", "primitive"}
_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _number(text: str) -> float:
    """``2**32``, ``-1e3``, ``inf``: numbers and + - * / ** of them, nothing else."""

    def ev(node):
        if isinstance(node, ast.Constant) and _is_number(node.value):
            return node.value
        if isinstance(node, ast.Name) and node.id == "inf":
            return math.inf
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 1024:
                raise ValueError("exponent too large")
            return _OPS[type(node.op)](left, right)
        raise ValueError(f"not a number: {text!r}")

    if len(text) > 100:
        raise ValueError("number too long")
    return ev(ast.parse(text.strip(), mode="eval").body)


def parse_domain(text: str) -> Domain:
    """``[0, 1)``, ``log[1, 1e4]`` or ``{1, 2, 4}``."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        values = ast.literal_eval("[" + text[1:-1] + "]")
        if not values:
            raise ValueError("an empty set")
        return Choice(tuple(values))
    m = re.fullmatch(r"(log)?\s*([\[(])(.+),(.+)([\])])", text)
    if not m:
        raise ValueError(f"not an interval or a set: {text!r}")
    lo, hi = _number(m.group(3)), _number(m.group(4))
    if not lo <= hi:
        raise ValueError(f"empty interval {text!r}")
    if m.group(1) and not lo > 0:
        raise ValueError(f"a log interval needs a positive lower end: {text!r}")
    return Interval(lo, hi, m.group(2) == "[", m.group(5) == "]", bool(m.group(1)))


def _split(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += c in "[({"
        depth -= c in "])}"
        if c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_spec(text: str) -> Spec:
    """A :class:`Spec` from the grammar of the module docstring; a ``ValueError`` saying what is wrong."""
    spec_text = text.split(";", 1)[0].strip()
    base, *constraints = _split(spec_text)
    kw: dict = {"text": spec_text}
    m = re.fullmatch(r"(list of )?(int|float|str)(?: in (.+))?", base)
    if base == "bool":
        kw["kind"] = "bool"
    elif base in ("probability vector", "stochastic matrix"):
        kw["kind"], kw["element"] = base, "float"
    elif m:
        kw["kind"] = "list" if m.group(1) else m.group(2)
        kw["element"] = m.group(2)
        kw["domain"] = parse_domain(m.group(3)) if m.group(3) else None
    else:
        raise ValueError(f"unknown type {base!r}")
    flags = set()
    for c in constraints:
        if c in FLAGS:
            flags.add(c)
        elif c.startswith(("len in ", "size in ")):
            kw["length"] = parse_domain(c.split(" in ", 1)[1])
        elif m2 := re.fullmatch(r"len = ([A-Za-z_]\w*)", c):
            kw["same_length"] = m2.group(1)
        elif c.startswith("step "):
            kw["step"] = _number(c[5:])
            if not kw["step"] > 0:
                raise ValueError("step must be positive")
        elif c.startswith("sweep len in "):
            kw["sweep_length"] = parse_domain(c[len("sweep len in ") :])
        elif c.startswith("sweep in "):
            kw["sweep"] = parse_domain(c[len("sweep in ") :])
        else:
            raise ValueError(f"unknown constraint {c!r}")
    kw["flags"] = frozenset(flags)
    return Spec(**kw)


def cell_source(source: Path) -> str:
    """The code of the cell tagged ``parameters`` of a MyST chapter."""
    text = Path(source).read_text(encoding="utf-8")
    start = text.find(":tags: [parameters]")
    if start < 0:
        raise ParameterError(f"{Path(source).name} has no cell tagged parameters")
    return text[start:].split("\n", 1)[1].split("```", 1)[0]


def read(source: Path) -> dict[str, tuple[object, Spec | None]]:
    """``{name: (default, spec)}`` for every assignment of the chapter's ``parameters`` cell, ``spec`` ``None``
    where the line has no range. A malformed range is a ``ParameterError`` naming the parameter."""
    body = cell_source(source)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string[1:].strip()
    out: dict[str, tuple[object, Spec | None]] = {}
    for node in ast.parse(body).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            assert node.end_lineno is not None  # ast.parse gives every statement its position
            comment = comments.get(node.end_lineno)
            spec = None
            if comment and re.match(r"(bool|int|float|str|list of|probability vector|stochastic matrix)\b", comment):
                try:
                    spec = parse_spec(comment)
                except (ValueError, SyntaxError) as err:
                    raise ParameterError(
                        f"{Path(source).name}: the range of {name!r} ({comment!r}) is not valid: {err}"
                    ) from None
            try:
                out[name] = (ast.literal_eval(node.value), spec)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise ParameterError(
                    f"{Path(source).name}: the default of {name!r} is not a literal (write the "
                    "value itself, so that it can be read without running the cell)"
                ) from None
    return out


def _scalar_problem(x, element: str, spec: Spec, domain: Domain | None) -> str:
    if element == "int" and not (isinstance(x, int) and not isinstance(x, bool)):
        return "not an int"
    if element == "float" and not _is_number(x):
        return "not a number"
    if element == "str" and not isinstance(x, str):
        return "not a string"
    if element == "float" and math.isnan(x):
        return "NaN"
    if domain is not None and not domain.contains(x):
        return f"{x!r} is outside"
    if spec.step is not None and isinstance(domain, Interval):
        k = (x - domain.lo) / spec.step
        if abs(k - round(k)) > 1e-9 * max(1.0, abs(k)):
            return f"{x!r} is not on the step {spec.step:g}"
    return ""


def _primitive(rows: list[list[float]]) -> bool:
    """Some power of the matrix is positive: the pattern's power ``k^2 - 2k + 2`` (Wielandt's bound)."""
    k = len(rows)
    pattern = [[v > 0 for v in row] for row in rows]
    power = [row[:] for row in pattern]
    for _ in range(k * k - 2 * k + 1):
        power = [[any(power[i][m] and pattern[m][j] for m in range(k)) for j in range(k)] for i in range(k)]
    return all(all(row) for row in power)


def problem(value, spec: Spec, values: dict | None = None) -> str:
    """Why ``value`` is outside ``spec`` (``values``: the other parameters, for ``len = NAME``), or ``""``."""
    if spec.kind == "bool":
        if not isinstance(value, bool):
            return "not a bool"
        return "" if spec.domain is None or spec.domain.contains(value) else f"{value!r} is outside"
    if spec.kind in ("int", "float", "str"):
        return _scalar_problem(value, spec.kind, spec, spec.domain)
    if not isinstance(value, (list, tuple)):
        return "not a list"
    if spec.kind == "stochastic matrix":
        if not all(isinstance(row, (list, tuple)) and len(row) == len(value) for row in value) or not value:
            return "not a square matrix"
        for row in value:
            why = _probability_problem(row, spec)
            if why:
                return f"a row {why}"
        if "primitive" in spec.flags and not _primitive([list(map(float, r)) for r in value]):
            return "not primitive (no power of it is positive)"
        return "" if spec.length is None or spec.length.contains(len(value)) else f"{len(value)} states is outside"
    if spec.length is not None and not spec.length.contains(len(value)):
        return f"length {len(value)} is outside"
    if spec.same_length is not None and values is not None and spec.same_length in values:
        other = values[spec.same_length]
        if not isinstance(other, (list, tuple)) or len(other) != len(value):
            return f"length {len(value)} differs from that of {spec.same_length}"
    if spec.kind == "probability vector":
        return _probability_problem(value, spec)
    for x in value:
        why = _scalar_problem(x, spec.element or "float", spec, spec.domain)
        if why:
            return f"an element {why}"
    if "increasing" in spec.flags and any(not a < b for a, b in zip(value, value[1:], strict=False)):
        return "not strictly increasing"
    if "distinct" in spec.flags and len(set(value)) != len(value):
        return "has repeated elements"
    if "nonconstant" in spec.flags and len(set(value)) < 2:
        return "is constant"
    return ""


def _probability_problem(value, spec: Spec) -> str:
    if not value or not all(_is_number(x) and math.isfinite(x) for x in value):
        return "has an entry that is not a finite number"
    if any(x < 0 for x in value) or ("positive" in spec.flags and any(x <= 0 for x in value)):
        return "has an entry " + ("<= 0" if "positive" in spec.flags else "< 0")
    if abs(math.fsum(value) - 1.0) > 1e-9:
        return f"sums to {math.fsum(value)!r}, not 1"
    return ""


def validate(values: dict, specs: dict[str, Spec | None]) -> None:
    """Raise a one-line ``ParameterError`` naming the first parameter of ``values`` outside its range (names
    without a range are not checked here)."""
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            continue
        why = problem(value, spec, values)
        if why:
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ParameterError(f"parameter {name!r} = {shown} is outside its range: {spec.text} ({why})")


# ---- drawing -----------------------------------------------------------------------------------------------


def _draw_interval(d: Interval, element: str, rng: random.Random, step: float | None) -> float:
    if element == "int":
        lo = math.ceil(d.lo) if d.lo_closed or d.lo != math.ceil(d.lo) else int(d.lo) + 1
        hi = math.floor(d.hi) if d.hi_closed or d.hi != math.floor(d.hi) else int(d.hi) - 1
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ParameterError(f"cannot draw an int from {d}")
        if step is not None:  # values lo + k * step of the range's own lower end, as validated
            first = math.ceil((lo - d.lo) / step - 1e-9)
            last = math.floor((hi - d.lo) / step + 1e-9)
            if first > last:
                raise ParameterError(f"cannot draw an int on the step {step:g} from {d}")
            return int(round(d.lo + step * rng.randint(first, last)))
        if d.log:
            return min(hi, max(lo, round(math.exp(rng.uniform(math.log(lo), math.log(hi))))))
        return rng.randint(lo, hi)
    if not (math.isfinite(d.lo) and math.isfinite(d.hi)):
        raise ParameterError(f"cannot draw from an unbounded interval {d}; give the range a 'sweep in' domain")
    for _ in range(1000):
        if step is not None:
            x = d.lo + step * rng.randint(0, int(math.floor((d.hi - d.lo) / step + 1e-9)))
            x = round(x, 12)
        elif d.log:
            x = math.exp(rng.uniform(math.log(d.lo), math.log(d.hi)))
        else:
            x = rng.uniform(d.lo, d.hi)
        if d.contains(x):
            return x
    raise ParameterError(f"cannot draw from {d}")


def _draw_scalar(spec: Spec, element: str, rng: random.Random):
    domain = spec.sweep or spec.domain
    if domain is None:
        raise ParameterError(f"cannot draw from {spec.text!r}: it has no interval or set")
    if isinstance(domain, Choice):
        return rng.choice(domain.values)
    return _draw_interval(domain, element, rng, spec.step)


def _dirichlet(k: int, rng: random.Random, positive: bool) -> list[float]:
    alpha = rng.choice([0.3, 1.0, 3.0])
    g = [rng.gammavariate(alpha, 1.0) for _ in range(k)]
    if positive or not any(x > 0 for x in g):
        g = [x + 1e-3 * sum(g) / k + 1e-300 for x in g]
    total = math.fsum(g)
    return [x / total for x in g]


def _draw_length(spec: Spec, rng: random.Random, drawn: dict) -> int:
    if spec.same_length is not None:
        return len(drawn[spec.same_length])
    domain = spec.sweep_length or spec.length or DEFAULT_DRAW_LENGTH
    return int(_draw_interval(domain, "int", rng, None))


def draw_one(spec: Spec, rng: random.Random, drawn: dict):
    """One value inside ``spec`` (``drawn``: the parameters drawn before, for ``len = NAME``)."""
    if spec.kind == "bool":
        return rng.choice(spec.sweep.values if isinstance(spec.sweep, Choice) else (False, True))
    if spec.kind in ("int", "float", "str"):
        return _draw_scalar(spec, spec.kind, rng)
    k = _draw_length(spec, rng, drawn)
    if spec.kind == "probability vector":
        return _dirichlet(k, rng, "positive" in spec.flags)
    if spec.kind == "stochastic matrix":
        for _ in range(1000):
            rows = []
            for _ in range(k):
                row = _dirichlet(k, rng, True)
                zeros = [j for j in range(k) if rng.random() < 0.3]
                row = [0.0 if j in zeros else x for j, x in enumerate(row)]
                total = math.fsum(row) or 1.0
                rows.append([x / total for x in row] if any(row) else _dirichlet(k, rng, True))
            if isinstance(spec.sweep, Interval) and not all(spec.sweep.contains(x) for row in rows for x in row if x):
                continue  # 'sweep in' bounds the nonzero entries the sweep draws
            if "primitive" not in spec.flags or _primitive(rows):
                return rows
        raise ParameterError(f"cannot draw a primitive matrix for {spec.text!r}")
    for _ in range(1000):
        value = [_draw_scalar(spec, spec.element or "float", rng) for _ in range(k)]
        if "increasing" in spec.flags:
            value.sort()
        if not problem(value, spec, None):
            return value
    raise ParameterError(f"cannot draw a list for {spec.text!r}")


def draw(specs: dict[str, Spec | None], rng: random.Random) -> dict:
    """Every parameter drawn inside its range (the ``sweep in`` domain where given), those of ``len = NAME``
    after ``NAME``; the draw is then validated, so a value outside is an error of the drawer, never a run."""
    missing = [name for name, spec in specs.items() if spec is None]
    if missing:
        raise ParameterError(f"parameters without a range cannot be drawn: {', '.join(missing)}")
    drawn: dict = {}
    pending = {name: spec for name, spec in specs.items() if spec is not None}  # all of them, after the check
    while pending:
        ready = [n for n, s in pending.items() if s.same_length is None or s.same_length in drawn]
        if not ready:
            raise ParameterError(f"'len = NAME' refers to no drawable parameter: {', '.join(pending)}")
        for name in ready:
            drawn[name] = draw_one(pending.pop(name), rng, drawn)
    ordered = {name: drawn[name] for name in specs}
    validate(ordered, specs)
    return ordered
