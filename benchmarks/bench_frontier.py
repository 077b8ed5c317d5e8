"""Timing of ``python -m lmalign frontier`` on a million reward samples, as ratios to simple baselines.

Run: ``.venv/bin/python benchmarks/bench_frontier.py``. One million Gumbel(0, 1) rewards (fixed seed, ten
significant digits, almost all distinct) are written to a temporary file; the script times, as medians over
repeats:

* reading the file (``read_rewards``) against ``numpy.loadtxt`` of the same file;
* the exact frontier (``frontier``: best-of-N at 41 values of N from 1 to 1024, the tilt curve and the optimum
  at the KL of each table row) against one ``numpy.sort`` of the samples;
* the end-to-end command (read, compute, plot) in a subprocess.

Absolute times depend on the machine and its load; the ratios are the point. No test asserts a time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_exact import median_time  # the benchmarks' folder is on sys.path when a script there is run

from lmalign.frontier import frontier, read_rewards

SAMPLES = 1_000_000
REPEATS = 3
SEED = 0


def main() -> None:
    rewards = np.random.default_rng(SEED).gumbel(size=SAMPLES)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rewards.txt"
        np.savetxt(path, rewards, fmt="%.10g")
        t_read = median_time(lambda: read_rewards(path, progress=False), repeats=REPEATS)
        t_loadtxt = median_time(lambda: np.loadtxt(path), repeats=1)
        data = read_rewards(path, progress=False)
        t_frontier = median_time(lambda: frontier(data, progress=False), repeats=REPEATS)
        t_sort = median_time(lambda: np.sort(data), repeats=REPEATS)
        command = [sys.executable, "-m", "lmalign", "frontier", str(path), "--quiet", "--out", str(Path(tmp) / "f.svg")]
        t_command = median_time(lambda: subprocess.run(command, check=True, capture_output=True), repeats=1)
    fr = frontier(data, progress=False)
    print(f"{SAMPLES} samples, {fr.levels} distinct values")
    print(f"read_rewards      {t_read:7.2f} s   ({t_read / t_loadtxt:.2f} x numpy.loadtxt, {t_loadtxt:.2f} s)")
    print(f"frontier          {t_frontier:7.2f} s   ({t_frontier / t_sort:.0f} x one numpy.sort, {t_sort:.3f} s)")
    print(f"whole command     {t_command:7.2f} s   (read, compute, SVG plot, interpreter start)")


if __name__ == "__main__":
    main()
