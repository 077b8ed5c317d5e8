"""The package layout: the library never imports the book machinery, ``import lmalign`` stays light, and the
modules import each other without cycles (one documented exception)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "lmalign"
HEAVY = (
    "IPython",
    "jupyter_client",
    "ipykernel",
    "nbformat",
    "nbclient",
    "papermill",
    "jupytext",
    "sphinx",
    "myst_nb",
    "jupyter_book",
    "yaml",
)
# RewardLaw.from_tokens and RewardLaw.rate are conveniences of the public API (DESIGN.md) implemented on top
# of the law; they import their implementation when called. The one deliberate exception to "no cycles".
DOCUMENTED = {("lmalign.law", "lmalign.memoryless"), ("lmalign.law", "lmalign.ldp")}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every ``lmalign`` module ``path`` imports, at any depth of the file (function-level imports too).
    ``from lmalign import law`` imports the module ``lmalign.law``; ``from lmalign import RewardLaw`` the
    package face ``lmalign``."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("lmalign")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lmalign"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in modules else node.module)
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports(path, set(modules)) if m in modules and m != name} for name, path in modules.items()
    }


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_library_never_imports_the_book():
    g = graph()
    offenders = {
        m: sorted(t for t in deps if t.startswith("lmalign.book"))
        for m, deps in g.items()
        if not m.startswith("lmalign.book") and m != "lmalign.cli"
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_no_import_cycles_besides_the_documented_facades():
    g = graph()
    for a, b in DOCUMENTED:
        assert b in g[a], f"the documented exception {a} -> {b} no longer exists: drop it from DOCUMENTED"
        g[a] = g[a] - {b}
    assert cycles(g) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_import_lmalign_loads_no_notebook_or_document_machinery():
    library = sorted(m for m in graph() if not m.startswith("lmalign.book") and m != "lmalign.__main__")
    code = (
        "import importlib, json, sys\n"
        f"for m in {library!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(proc.stdout) == []


def test_import_lmalign_alone_loads_no_plotting():
    code = "import json, sys, lmalign; print(json.dumps(sorted(m for m in sys.modules if 'matplotlib' in m)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(proc.stdout) == []
