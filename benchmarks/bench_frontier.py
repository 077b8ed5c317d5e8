"""CPU time and memory of the frontier at scale: 1e7 rows in 1e5 prompts by default (budget: 20 s of CPU, 1.5 GB).

Run: ``.venv/bin/python benchmarks/bench_frontier.py [--rows 1e7] [--prompts 1e5] [--files 10] [--decimals 6]
[--stream-only] [--bootstrap B] [--dir FOLDER]``. The rows (prompt id an integer, reward = prompt offset ``N(0, 1)``
+ ``Gumbel(0, 0.5)`` rounded to ``--decimals``, so at 6 almost every reward is distinct) are written as one
Parquet file and as ``--files`` Parquet files of a partitioned dataset (only the dataset with ``--stream-only``),
in a temporary folder deleted after. Each measurement runs in a fresh interpreter and reports its own CPU time
(user + system) and peak resident memory; ``bytes per row`` is the peak above an interpreter that only imports the
library and pyarrow, divided by the rows; ``levels`` the distinct (prompt, reward) pairs. Measured:

* ``file``: ``read_samples`` of the single file, then ``frontier`` of it (the default table, N up to 1024, with the
  curves of the plot and the per-prompt table; the rows stay in memory, as in a user's session);
* ``stream``: the dataset directory streamed into per-prompt summaries (``read_summary``), then ``frontier``.

CPU time is what the budget counts: wall time on a shared machine depends on the other jobs, and even CPU time
moves by up to a third between runs when the two cores are shared (cache contention). No test asserts a time.

Measured on a quiet 2-core machine (AMD EPYC): three runs of the benchmark at 1e7 rows, one at 1e6 (``before``:
the 1e6 and 1e7 rows before the frontier's scale work, on an earlier, loaded 2-core machine):

=====================  ===========  ===============  =============  =============  ===============  ==========
case                   read CPU     frontier CPU     total CPU      of it system   peak             bytes/row
=====================  ===========  ===============  =============  =============  ===============  ==========
1e6 rows, before       0.7 s        7.7 s            9.3 s                         0.42 GB          242
1e6 rows, file         0.3 s        0.8 s            1.8 s          0.5 s          0.28 GB          122
1e6 rows, stream       0.6 s        0.7 s            2.1 s          0.3 s          0.30 GB          141
1e7 rows, before       (about 110 s of CPU and 2.2 GB in all)
1e7 rows, file         0.7-2.3 s    10.9-11.1 s      12.5-14.3 s    2.1-3.5 s      1.36-1.37 GB     122
1e7 rows, stream       7.2-8.4 s    6.8-7.6 s        14.7-16.9 s    2.1-3.2 s      1.40 GB          126
=====================  ===========  ===============  =============  =============  ===============  ==========

The total counts user and system time of the whole interpreter, its start and imports included. Both budgets hold
in every run. On the earlier machine (AVX2, no AVX-512) the system time moved from run to run: the file case took
20.3 to 24.8 s in the benchmark's runs, 6.9 and 10.6 s of it system time in the two that recorded it, and 15.3 to
17.9 s in eight of twelve runs of the same measurement repeated at once (system time 1.9 to 4.0 s); its user time
was 12.4 to 15.1 s in every run. The system time goes to page faults, the kernel supplying the fresh pages that new
arrays touch.

Where the file case's user time went on the earlier machine (about 14 s): some 70 tilt evaluations, about 6 s (one
exponential and a few per-prompt sums over every level each: 8 points of the optimum's curve and its end, 3 to 4 per
table row); the win-rate curve's 21 evaluations cost almost nothing, since every prompt of distinct samples and the
same size has the same tilt of the calibrated reward, evaluated once per size
(``lmalign.frontier.levels.SharedPrompts``); the sort of the (prompt, reward) pairs and the levels, about 2.2 s; the
shares of the top samples, 1.5 s; best-of-N at 20 values of N, 1.1 s. Exponentials whose argument is below -746
underflow to 0 through a slow path of the C library (several times a normal argument); they are set to 0 without it.

**1e8 rows** (``--rows 1e8 --prompts 1e5 --files 100 --decimals 2 --stream-only``: 1,000 samples per prompt, rewards
to two decimals, 25,565,384 distinct (prompt, reward) pairs), streamed: read 88 s, frontier 120 s, 208 s of CPU in
all, peak 4.5 GB (45 bytes per row, 175 per level), on the earlier machine under load (18 minutes of wall time).
Memory follows the summaries, not the rows: with distinct rewards 1e8 rows would be 1e8 levels, about 130 bytes
each.

**Bootstrap.** Each resample solves the multiplier again at every table row over every level (exact intervals),
about 60 evaluations: at 1e6 rows on the earlier machine ``--bootstrap 10`` adds 48 s of CPU (4.8 s a resample,
against 1.9 s for the whole frontier) and 0.45 GB. It dominates at any size, which is why its default is 0; at 1e7
rows a resample would take about a minute and several GB.
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
mode, path, boot = sys.argv[1], sys.argv[2], int(sys.argv[3])
import pyarrow, pyarrow.parquet  # noqa: F401  (counted in the baseline too)
import lmalign.frontier as f
from lmalign.frontier.stream import read_summary
t0 = time.process_time()
if mode == "file":
    s = f.read_samples(path, column="reward", group="prompt_id")
    t1 = time.process_time()
    fr = f.frontier(s, progress=False, bootstrap=boot)
elif mode == "stream":
    s = read_summary(path, "reward", "prompt_id")
    t1 = time.process_time()
    fr = f.frontier(s, progress=False, bootstrap=boot)
else:
    t1 = t0
    fr = None
t2 = time.process_time()
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"read": t1 - t0, "frontier": t2 - t1, "cpu": u.ru_utime + u.ru_stime, "sys": u.ru_stime,
                  "peak": u.ru_maxrss * 1024, "levels": fr.levels if fr is not None else 0}))
"""


def write(
    folder: Path, rows: int, prompts: int, files: int, decimals: int = 6, single_file: bool = True
) -> tuple[Path | None, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    offset = rng.normal(size=prompts)
    single, shards = folder / "rows.parquet", folder / "dataset"
    shards.mkdir()
    schema = pa.schema([("prompt_id", pa.int64()), ("reward", pa.float64())])
    writer = pq.ParquetWriter(single, schema) if single_file else None
    per_file = -(-rows // files)
    for k in range(files):  # each file holds a slice of every prompt's rows
        n = min(per_file, rows - k * per_file)
        pid = rng.integers(0, prompts, size=n)
        reward = np.round(offset[pid] + rng.gumbel(0.0, 0.5, size=n), decimals)
        table = pa.table({"prompt_id": pid, "reward": reward})
        if writer is not None:
            writer.write_table(table, row_group_size=1 << 20)
        (shards / f"part={k}").mkdir()
        pq.write_table(table, shards / f"part={k}" / "rows.parquet", row_group_size=1 << 20)
    if writer is None:
        return None, shards
    writer.close()
    return single, shards


def run(mode: str, path: Path, bootstrap: int = 0) -> dict:
    cmd = [sys.executable, "-c", CHILD, mode, str(path), str(bootstrap)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e7)
    ap.add_argument("--prompts", type=float, default=1e5)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--decimals", type=int, default=6, help="rewards rounded to this many decimals (default 6)")
    ap.add_argument("--stream-only", action="store_true", help="write and measure only the partitioned dataset")
    ap.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples (default 0)")
    ap.add_argument(
        "--dir",
        help="folder for the data, created if missing (default: the system's temporary folder); the data are "
        "deleted after",
    )
    args = ap.parse_args()
    rows, prompts = int(args.rows), int(args.prompts)
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        single, shards = write(Path(tmp), rows, prompts, args.files, args.decimals, not args.stream_only)
        base = run("baseline", shards)
        print(f"{rows:,} rows in {prompts:,} prompts; interpreter + imports: {base['peak'] / 2**20:.0f} MiB")
        print(
            f"{'mode':<8} {'read CPU':>9} {'frontier CPU':>13} {'total CPU':>10} {'of it system':>13} {'peak':>9} "
            f"{'bytes/row':>10} {'levels':>12}"
        )
        modes = [("file", single), ("stream", shards)] if single is not None else [("stream", shards)]
        for mode, path in modes:
            m = run(mode, path, args.bootstrap)
            print(
                f"{mode:<8} {m['read']:>8.1f}s {m['frontier']:>12.1f}s {m['cpu']:>9.1f}s {m['sys']:>12.1f}s "
                f"{m['peak'] / 2**30:>7.2f}GB {(m['peak'] - base['peak']) / rows:>10.0f} {m['levels']:>12,}"
            )


if __name__ == "__main__":
    main()
