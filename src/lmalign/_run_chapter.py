"""Run one chapter: jupytext conversion and papermill execution; on a failing cell, print which one and exit 1.

Usage: ``python -m lmalign._run_chapter SOURCE.md CONVERTED.ipynb EXECUTED.ipynb PARAMETERS_JSON``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    import jupytext
    import papermill as pm

    source, converted, executed, params = argv
    nb = jupytext.read(source)
    jupytext.write(nb, converted)
    try:
        pm.execute_notebook(converted, executed, parameters=json.loads(params), kernel_name="python3",
                            cwd=str(Path(source).parent), progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as err:
        ran = jupytext.read(executed) if Path(executed).exists() else nb
        cell = ran.cells[err.cell_index] if 0 <= err.cell_index < len(ran.cells) else None
        head = "\n    ".join(cell.source.splitlines()[:3]) if cell is not None else ""
        print(f"cell {err.exec_count} (notebook cell {err.cell_index}) failed with {err.ename}: {err.evalue}\n"
              f"    {head}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
