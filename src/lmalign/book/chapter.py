"""The run context of one executed chapter: its parameters, claim checks and figures.

Every chapter starts, right after its ``parameters`` cell, with::

    from lmalign.book.chapter import Chapter
    ch = Chapter("01_optimal_policy", parameters=dict(seed=seed, vocab=vocab))

which refuses a value outside the range written beside the parameter (:mod:`lmalign.book.parameters`), then
records checks with ``ch.claim("C1", error, detail=...)`` and figures with
``ch.figure(fig, "frontier", caption="...")``. Outputs go to ``<outputs>/<chapter>/`` (see ``lmalign.book.paths``).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from lmalign.book import claims, figures, parameters, paths
from lmalign.plotstyle import use_style

_CURRENT: Chapter | None = None
_EPS = sys.float_info.epsilon


class Chapter:
    def __init__(self, name: str, parameters: dict | None = None, output_dir: Path | None = None):
        global _CURRENT
        if not isinstance(name, str) or not re.fullmatch(r"\d\d_[A-Za-z0-9_]+", name):
            raise ValueError(f"name must be a chapter stem like '01_optimal_policy', got {name!r}")
        if parameters is not None and not isinstance(parameters, dict):
            raise ValueError(f"parameters must be a dict, got {type(parameters).__name__}")
        self.name = name
        self.parameters = dict(parameters or {})
        validate_ranges(name, self.parameters)
        self.output_dir = Path(output_dir) if output_dir else paths.chapter_output_dir(name)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.claims = claims.ClaimRecorder(name, self.output_dir)
        self._inputs: dict[str, str] | None = None
        use_style()
        _CURRENT = self

    def claim(
        self, claim_id: str, error: float, *, detail: str = "", tolerance: float | None = None, bound: str = ""
    ) -> claims.Check:
        """Record a check of a registered claim; raises ``ClaimFailed`` if ``error`` exceeds its tolerance.

        The tolerance is the registry's constant, or ``tolerance``: the value at this run's parameters of the
        error bound ``bound`` (a formula, e.g. ``"(log n)^2/(lambda^2 n^2)"``; by default the registry's
        ``bound`` of the claim, which then requires ``tolerance``). The margin ``tolerance / error`` is
        recorded with the check."""
        return self.claims.record(claim_id, error, detail=detail, tolerance=tolerance, bound=bound)

    def ablation(
        self, claim_id: str, error: float, *, detail: str = "", tolerance: float | None = None, bound: str = ""
    ) -> claims.Check:
        """Record the error of a claim's check with the certified term removed; raises ``ClaimFailed``
        unless it exceeds the tolerance (else the check could not tell the term is there); ``tolerance`` and
        ``bound`` as in :meth:`claim`, and they should be those of the check it ablates."""
        return self.claims.record(claim_id, error, detail=detail, ablation=True, tolerance=tolerance, bound=bound)

    def check_exercises(
        self,
        stated: Mapping[str, Mapping[str, str]],
        routes: Mapping[str, Mapping[str, tuple]],
        *,
        bound: tuple[str, str] = (
            "half a unit of the last stated decimal",
            "64 eps (1 + |x|) for the library",
        ),
        library_tol: float | Mapping[str, float] = 64 * _EPS,
        route: str = "the exact route",
        stated_route: str | None = None,
    ) -> None:
        r"""Check the numbers an exercise's solution states, and the library's, against an exact route.

        For each exercise ``E`` two claims ``E`` are recorded. The first, with the bound ``bound[0]``, is that
        each number :math:`s` the solution states, with :math:`d` decimals, is the exact value :math:`x` rounded:

        .. math:: \max_{\text{names}} |s - x| \le \max_{\text{names}} \tfrac12 \, 10^{-d}.

        The second, with the bound ``bound[1]``, is that the library's value :math:`\hat x` agrees with it to
        rounding, relative to :math:`1 + |x|`:

        .. math:: \max_{\text{names}} \frac{|x - \hat x|}{1 + |x|} \le \tau,

        or, when the routes give each value its own absolute bound :math:`b`,
        :math:`\max_{\text{names}} |x - \hat x| \le \min_{\text{names}} b`.

        Parameters
        ----------
        stated : mapping
            ``{E: {name: "0.6614", ...}}``: the numbers as the solution prints them.
        routes : mapping
            ``{E: {name: (exact, library)}}`` or ``{E: {name: (exact, library, b)}}``: ``exact`` a
            high-precision value (a sympy expression, evaluated to 30 digits, an mpmath number or a float),
            ``library`` the library's float, ``b`` an absolute error bound of the library at this run's
            parameters (every value of an exercise has one, or none has).
        bound : tuple of str
            The bounds' formulas recorded with the two claims.
        library_tol : float or mapping
            :math:`\tau`, one number or ``{E: tau}`` (64 eps by default).
        route : str
            How the claims' details name the exact route.
        stated_route : str, optional
            How the first claim's detail names it (by default ``route``).

        Raises
        ------
        ClaimFailed
            On the first claim that fails, after it is recorded.
        """
        stated_route = route if stated_route is None else stated_route
        for ex_id, values in stated.items():
            half_unit = max(0.5 * 10.0 ** -len(s.split(".")[1]) for s in values.values())
            entries = {k: routes[ex_id][k] for k in values}
            exact = {k: _high_precision_float(e[0]) for k, e in entries.items()}
            stated_err = max(abs(float(s) - exact[k]) for k, s in values.items())
            self.claim(
                ex_id,
                stated_err,
                tolerance=half_unit,
                bound=bound[0],
                detail=f"stated {dict(values)} vs {stated_route}",
            )
            own = [len(e) == 3 for e in entries.values()]
            if any(own) and not all(own):
                raise ValueError(f"exercise {ex_id}: give every value its own library bound, or none")
            if all(own):
                library_err = max(abs(exact[k] - float(e[1])) for k, e in entries.items())
                tolerance = min(float(e[2]) for e in entries.values())
                detail = f"the library vs {route}"
            else:
                library_err = max(abs(exact[k] - float(e[1])) / (1 + abs(exact[k])) for k, e in entries.items())
                tolerance = library_tol[ex_id] if isinstance(library_tol, Mapping) else library_tol
                detail = f"the library vs {route}, relative to 1 + |x|"
            self.claim(ex_id, library_err, tolerance=tolerance, bound=bound[1], detail=detail)

    def input_hashes(self) -> dict[str, str]:
        """SHA-256 of what the chapter's results depend on: its source, the library (with the data it ships),
        each file of the repository's ``data/``. Outside a clone (a downloaded notebook) only the installed
        library: the working folder's files are not the chapter's inputs."""
        if self._inputs is None:
            root = paths.find_repo()
            out = {}
            source = root / "notebooks" / f"{self.name}.md" if root else None
            if root is not None and source is not None and source.is_file():
                out[f"notebooks/{source.name}"] = _sha256(source.read_bytes())
            lib = hashlib.sha256()
            package = Path(__file__).parents[1]
            for f in paths.source_files(package):
                lib.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes())
            out["src/lmalign"] = lib.hexdigest()
            data = root / "data" if root else None
            if data is not None and data.is_dir():
                for f in sorted(p for p in data.rglob("*") if p.is_file()):
                    out[f"data/{f.relative_to(data).as_posix()}"] = _sha256(f.read_bytes())
            self._inputs = out
        return self._inputs

    def figure(self, fig, name: str, caption: str, alt: str | None = None) -> None:
        """Save ``fig`` as ``figures/<name>.svg`` with a provenance sidecar ``figures/<name>.json`` (chapter,
        cell, caption, parameters, commit, package versions, input hashes) and display it with its caption.

        ``caption`` is MyST Markdown (math in ``$...$``); ``alt`` is the plain-text description a screen reader
        gives (by default the caption without its markup). In a notebook the figure shows as an SVG followed by
        its caption; the book renders it as a numbered figure with the label ``fig-<name>``, so the text refers
        to it with ``{numref}`fig-<name>```. Returns ``None``: the figure is already shown."""
        from IPython.display import SVG, Markdown, display

        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")
        if not isinstance(caption, str) or not caption.strip():
            raise ValueError("caption must be a non-empty string")
        caption = " ".join(caption.split())
        alt = " ".join((alt if alt is not None else plain_text(caption)).split())
        if not alt:
            raise ValueError("alt must be a non-empty description of the figure")
        provenance = {
            "chapter": self.name,
            "cell": _execution_count(),
            "figure": name,
            "caption": caption,
            "alt": alt,
            "parameters": {k: _jsonable(v) for k, v in sorted(self.parameters.items())},
            "commit": git_commit(),
            "versions": package_versions(),
            "inputs": self.input_hashes(),
        }
        path = figures.save_figure(fig, self.output_dir / "figures" / f"{name}.svg", provenance)
        meta = {figures.FIGURE_KEY: {"name": name, "caption": caption, "alt": alt}}
        display(SVG(data=path.read_text(encoding="utf-8")), metadata=meta)
        display(Markdown(f"**Figure {name}.** {caption}"), metadata=meta)


def _high_precision_float(value) -> float:
    """``value`` as a float; a sympy expression is first evaluated to 30 significant digits."""
    evalf = getattr(value, "evalf", None)
    return float(evalf(30) if callable(evalf) else value)


def validate_ranges(name: str, values: dict) -> None:
    """Refuse, with a one-line :class:`lmalign.book.parameters.ParameterError` naming the parameter and its
    range, a value outside the range written beside it in the chapter's ``parameters`` cell (the chapter's
    source in the repository; a notebook run outside a clone has none to check against)."""
    root = paths.find_repo()
    source = root / "notebooks" / f"{name}.md" if root else None
    if source is None or not source.is_file():
        return
    specs = {n: spec for n, (_, spec) in parameters.read(source).items()}
    parameters.validate({n: v for n, v in values.items() if n in specs}, specs)


def plain_text(markdown: str) -> str:
    """A plain-text rendering of a short MyST caption for alt text: math delimiters, TeX commands, emphasis and
    link targets dropped (``$\\lambda_\\delta$`` becomes ``lambda_delta``)."""
    text = re.sub(r"\[(.*?)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)
    text = re.sub(r"[$*`{}]", "", text)
    return " ".join(text.split())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _execution_count() -> int | None:
    """The execution count of the running notebook cell, if inside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def git(root: Path, *args: str) -> str:
    """The output of ``git ARGS`` in ``root``, or ``""`` outside a git checkout or on failure."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_commit() -> str:
    """The repository's current commit, or ``"unknown"`` outside a git checkout of it (a downloaded notebook
    run in a folder of another git repository does not take that repository's commit)."""
    root = paths.find_repo()
    return (git(root, "rev-parse", "HEAD") if root else "") or "unknown"


def package_versions(
    packages: tuple[str, ...] = ("lmalign", "numpy", "scipy", "sympy", "matplotlib"),
) -> dict[str, str]:
    """``{package: installed version}``, ``"unknown"`` for one that is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in packages:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _jsonable(v):
    try:
        json.dumps(v)
        return v
    except TypeError:
        return repr(v)


def current() -> Chapter:
    if _CURRENT is None:
        raise RuntimeError("no chapter is running: create lmalign.book.chapter.Chapter(name, parameters) first")
    return _CURRENT
