"""CPU time and memory of the frontier at scale: 1e7 rows in 1e5 prompts by default (budget: 20 s of CPU, 1.5 GB).

Run: ``.venv/bin/python benchmarks/bench_frontier.py [--rows 1e7] [--prompts 1e5] [--files 10]``. The rows
(prompt id an integer, reward = prompt offset ``N(0, 1)`` + ``Gumbel(0, 0.5)`` rounded to 1e-6, so almost every
reward is distinct) are written as one Parquet file and as ``--files`` Parquet files of a partitioned dataset.
Each measurement runs in a fresh interpreter and reports its own CPU time (user + system) and peak resident
memory; ``bytes per row`` is the peak above an interpreter that only imports the library and pyarrow, divided by
the rows. Measured:

* ``file``: ``read_samples`` of the single file, then ``frontier`` with the prompt groups (the default table,
  N up to 1024, with the curves of the plot and the per-prompt table);
* ``stream``: the dataset directory streamed into per-prompt summaries (``read_summary``), then ``frontier``.

CPU time is what the budget counts: wall time on a shared machine depends on the other jobs. No test asserts a
time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
mode, path = sys.argv[1], sys.argv[2]
import pyarrow, pyarrow.parquet  # noqa: F401  (counted in the baseline too)
import lmalign.frontier as f
from lmalign.frontier.stream import read_summary
t0 = time.process_time()
if mode == "file":
    s = f.read_samples(path, column="reward", group="prompt_id")
    t1 = time.process_time()
    fr = f.frontier(s.rewards, groups=s.groups, progress=False)
elif mode == "stream":
    s = read_summary(path, "reward", "prompt_id")
    t1 = time.process_time()
    fr = f.frontier(s, progress=False)
else:
    t1 = t0
t2 = time.process_time()
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"read": t1 - t0, "frontier": t2 - t1, "cpu": u.ru_utime + u.ru_stime,
                  "peak": u.ru_maxrss * 1024}))
"""


def write(folder: Path, rows: int, prompts: int, files: int) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    offset = rng.normal(size=prompts)
    single, shards = folder / "rows.parquet", folder / "dataset"
    shards.mkdir()
    writer = pq.ParquetWriter(single, pa.schema([("prompt_id", pa.int64()), ("reward", pa.float64())]))
    per_file = -(-rows // files)
    for k in range(files):  # each file holds a slice of every prompt's rows
        n = min(per_file, rows - k * per_file)
        pid = rng.integers(0, prompts, size=n)
        reward = np.round(offset[pid] + rng.gumbel(0.0, 0.5, size=n), 6)
        table = pa.table({"prompt_id": pid, "reward": reward})
        writer.write_table(table, row_group_size=1 << 20)
        (shards / f"part={k}").mkdir()
        pq.write_table(table, shards / f"part={k}" / "rows.parquet", row_group_size=1 << 20)
    writer.close()
    return single, shards


def run(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--prompts", type=float, default=1e5)
    ap.add_argument("--files", type=int, default=10)
    args = ap.parse_args()
    rows, prompts = int(args.rows), int(args.prompts)
    with tempfile.TemporaryDirectory() as tmp:
        single, shards = write(Path(tmp), rows, prompts, args.files)
        base = run("baseline", single)
        print(f"{rows:,} rows in {prompts:,} prompts; interpreter + imports: {base['peak'] / 2**20:.0f} MiB")
        print(f"{'mode':<8} {'read CPU':>9} {'frontier CPU':>13} {'total CPU':>10} {'peak':>9} {'bytes/row':>10}")
        for mode, path in (("file", single), ("stream", shards)):
            m = run(mode, path)
            print(
                f"{mode:<8} {m['read']:>8.1f}s {m['frontier']:>12.1f}s {m['cpu']:>9.1f}s "
                f"{m['peak'] / 2**30:>7.2f}GB {(m['peak'] - base['peak']) / rows:>10.0f}"
            )


if __name__ == "__main__":
    main()
