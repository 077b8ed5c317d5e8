"""Run one chapter: jupytext conversion and papermill execution; on a failing cell, say which one, exit 1.

Usage: ``python -m lmalign.book.run_chapter SOURCE.md CONVERTED.ipynb EXECUTED.ipynb PARAMETERS_JSON``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def describe_failure(err) -> str:
    """Cell number, first lines of the cell's source and the exception of a ``PapermillExecutionError``."""
    lines = (err.source or "").splitlines()
    head = "\n    ".join(lines[:3]) + ("\n    ..." if len(lines) > 3 else "")
    return (f"cell {err.exec_count} (notebook cell index {err.cell_index}) failed with {err.ename}: "
            f"{err.evalue}\n    {head}")


def main(argv: list[str]) -> int:
    import jupytext
    import papermill as pm

    source, converted, executed, params = argv
    jupytext.write(jupytext.read(source), converted)
    try:
        pm.execute_notebook(converted, executed, parameters=json.loads(params), kernel_name="python3",
                            cwd=str(Path(source).parent), progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as err:
        print(describe_failure(err))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
