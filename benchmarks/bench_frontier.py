"""Timing of ``python -m lmalign frontier`` on a million rewards in 10,000 prompts, as ratios to reading the file.

Run: ``.venv/bin/python benchmarks/bench_frontier.py``. A CSV ``prompt_id,response,reward`` with 10,000 prompts of
100 responses each (prompt offset ``N(0, 1)`` plus a ``Gumbel(0, 0.5)`` response quality, six decimals; a short
quoted response text with a comma) is written to a temporary folder. The script then times, interleaved round by
round so that the load of a shared machine falls on every quantity alike, and reports medians:

* reading the file (``read_samples`` with ``column`` and ``group``), the unit of every ratio;
* ``numpy.loadtxt`` of the same rows (a baseline a user would reach for; it cannot read the quoted text column,
  so it reads a copy without it);
* the per-prompt frontier (``frontier`` with ``groups``: best-of-N at 41 values of N up to 1024, the optimum with
  its shared multiplier at the 11 table rows, the unbiased estimates, the tilt and win-rate curves of the plot);
* the same with ``--bootstrap 200``;
* the pooled frontier (no groups) of the same million rewards;
* the whole command (read, compute, table, SVG plot, interpreter start) in a subprocess.

Absolute times depend on the machine and its load; the ratios are the point. No test asserts a time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lmalign.frontier import frontier, read_samples

PROMPTS = 10_000
PER_PROMPT = 100
ROUNDS = 3
SEED = 0


def write_files(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(SEED)
    pid = np.repeat(np.arange(PROMPTS), PER_PROMPT)
    reward = rng.normal(size=PROMPTS)[pid] + rng.gumbel(0.0, 0.5, size=pid.size)
    full, plain = folder / "rewards.csv", folder / "plain.csv"
    lines = [f'{i},"resp, {j % 7}",{r:.6f}\n' for j, (i, r) in enumerate(zip(pid.tolist(), reward.tolist(),
                                                                                strict=True))]
    full.write_text("prompt_id,response,reward\n" + "".join(lines))
    plain.write_text("prompt_id,reward\n" + "".join(f"{i},{r:.6f}\n" for i, r in zip(pid.tolist(), reward.tolist(),
                                                                                     strict=True)))
    return full, plain


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        full, plain = write_files(Path(tmp))
        data = read_samples(full, column="reward", group="prompt_id")
        command = [sys.executable, "-m", "lmalign", "frontier", str(full), "--column", "reward", "--group",
                   "prompt_id", "--quiet", "--out", str(Path(tmp) / "f.svg")]
        tasks = {
            "read_samples (CSV, 3 columns)": lambda: read_samples(full, column="reward", group="prompt_id"),
            "numpy.loadtxt (2 columns)": lambda: np.loadtxt(plain, delimiter=",", skiprows=1),
            "frontier per prompt": lambda: frontier(data.rewards, groups=data.groups, progress=False),
            "frontier per prompt, bootstrap 200": lambda: frontier(data.rewards, groups=data.groups, progress=False,
                                                                   bootstrap=200),
            "frontier pooled": lambda: frontier(data.rewards, progress=False),
            "whole command (subprocess)": lambda: subprocess.run(command, check=True, capture_output=True),
        }
        times: dict[str, list[float]] = {k: [] for k in tasks}
        for _ in range(ROUNDS):  # interleaved: every task once per round
            for name, fn in tasks.items():
                times[name].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    unit = med["read_samples (CSV, 3 columns)"]
    print(f"{PROMPTS * PER_PROMPT:,} rewards in {PROMPTS:,} prompts ({PER_PROMPT} each), medians of {ROUNDS} "
          "interleaved rounds")
    for name, t in med.items():
        print(f"{name:<38} {t:7.2f} s   {t / unit:6.1f} x reading the file")


if __name__ == "__main__":
    main()
