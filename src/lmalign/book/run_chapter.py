"""Run one chapter: jupytext conversion and papermill execution; on a failing cell, say which one, exit 1.

Usage: ``python -P path/to/run_chapter.py SOURCE.md CONVERTED.ipynb EXECUTED.ipynb PARAMETERS_JSON`` (or ``python
-m lmalign.book.run_chapter ...``). The module imports nothing of the package, so that run by its path it starts
without importing the library (numpy, scipy): a chapter's process imports only jupytext and papermill, and the
chapter's kernel imports what the chapter uses.

The executed notebook is made reproducible (:func:`tidy_notebook`): the same chapter run twice gives the same
bytes, with no timestamp, no path of the building machine and no random cell id.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import uuid
from pathlib import Path

PR_SET_PDEATHSIG = 1  # prctl(2)


def describe_failure(err) -> str:
    """Cell number, first lines of the cell's source and the exception of a ``PapermillExecutionError``."""
    lines = (err.source or "").splitlines()
    head = "\n    ".join(lines[:3]) + ("\n    ..." if len(lines) > 3 else "")
    return (
        f"cell {err.exec_count} (notebook cell index {err.cell_index}) failed with {err.ename}: "
        f"{err.evalue}\n    {head}"
    )


INJECTED = "injected-parameters"  # papermill's tag of the cell it adds after the parameters cell


def _merge_streams(outputs: list) -> list:
    """Consecutive stream outputs of the same name as one output (the kernel chunks a stream by timing)."""
    merged: list = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            output.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == output.get("name")
        ):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            merged.append(output)
    return merged


UUID4 = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b")


def _stable_uuids(outputs: list, name: str, seen: dict[str, str]) -> None:
    """Random (version 4) UUIDs in displayed data, such as the document and element ids of an embedded Bokeh
    plot, replaced in place by version-5 UUIDs of ``<name>-<k>`` (the k-th distinct one of the notebook), so
    references between a plot's ``div`` and its script still match. A version-5 UUID is left as it is."""

    def stable(match: re.Match) -> str:
        return seen.setdefault(match.group(), str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}-{len(seen)}")))

    for output in outputs:
        data = output.get("data", {})
        for mime, value in data.items():
            if isinstance(value, str):
                data[mime] = UUID4.sub(stable, value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                data[mime] = [UUID4.sub(stable, v) for v in value]


def tidy_notebook(nb, name: str):
    """Make an executed notebook reproducible, in place, and return it: cell ids ``<name>-<index>`` (counted
    without papermill's injected cell, whose id is ``<name>-injected``), consecutive streams merged, and no
    jupytext pairing metadata (an ``.ipynb`` that is not beside its ``.md`` breaks JupyterLab), no papermill
    paths or timestamps (its ``parameters`` are kept), no execution timestamps and no random UUIDs in displayed
    data (:func:`_stable_uuids`). Running it twice changes nothing."""
    nb.metadata.pop("jupytext", None)
    if "papermill" in nb.metadata:
        nb.metadata["papermill"] = {"parameters": nb.metadata["papermill"].get("parameters", {})}
    index, seen = 0, dict[str, str]()
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
        if INJECTED in cell.metadata.get("tags", []):
            cell.id = f"{name}-injected"
        else:
            cell.id = f"{name}-{index}"
            index += 1
        if cell.cell_type == "code":
            cell.outputs = _merge_streams(cell.outputs)
            _stable_uuids(cell.outputs, name, seen)
    return nb


def die_with_parent() -> None:
    """In a chapter process: ask Linux to send SIGKILL when the process that started it dies (a build killed
    with SIGKILL then leaves no runner behind; the kernel follows its runner). If that parent is already gone,
    exit at once. Elsewhere than Linux, nothing."""
    expected = os.environ.get("LMALIGN_PARENT_PID")
    if not sys.platform.startswith("linux") or not expected:
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != expected:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    die_with_parent()
    import jupytext
    import nbformat
    import papermill as pm

    source, converted, executed, params = argv
    name = Path(source).stem
    jupytext.write(tidy_notebook(jupytext.read(source), name), converted)
    try:
        pm.execute_notebook(
            converted,
            executed,
            parameters=json.loads(params),
            kernel_name="python3",
            cwd=str(Path(source).parent),
            progress_bar=False,
            log_output=False,
        )
    except pm.PapermillExecutionError as err:
        print(describe_failure(err))
        return 1
    nb = tidy_notebook(nbformat.read(executed, as_version=4), name)
    nbformat.validate(nb)
    nbformat.write(nb, executed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
