"""``python -m lmalign ARGS`` run inside the test process: the same parser, code and messages as the command,
without the second or so a new interpreter costs to start and import numpy, scipy and pyarrow.

The command's own process (``__main__``, exit codes as the shell sees them, signals, resource limits) is tested
by one subprocess test per verb; every other command-line test goes through :func:`lmalign_in_process`.
"""

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def _environment(cwd: Path | str | None, env: dict[str, str] | None, stdin: str | None) -> Iterator[None]:
    """The working folder, environment variables and standard input of the command, restored afterwards."""
    previous_cwd, previous_env, previous_stdin = Path.cwd(), dict(os.environ), sys.stdin
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        sys.stdin = io.TextIOWrapper(io.BytesIO((stdin or "").encode("utf-8")), encoding="utf-8")
        yield
    finally:
        os.chdir(previous_cwd)
        os.environ.clear()
        os.environ.update(previous_env)
        sys.stdin = previous_stdin


def lmalign_in_process(
    args: Sequence[object],
    *,
    cwd: Path | str | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run :func:`lmalign.cli.main` on ``args`` with standard input ``input`` (empty if None), in ``cwd`` and
    with the environment ``env`` (the test's own if None); returns what :func:`subprocess.run` would, with the
    exit code and both streams as text. An exception the command does not handle propagates, so a test sees its
    traceback instead of a wrong exit code."""
    from lmalign.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with _environment(cwd, env, input), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse: --help (0) and usage errors (2)
            if isinstance(exit.code, str):
                print(exit.code, file=sys.stderr)
                code = 1
            else:
                code = exit.code or 0
    return subprocess.CompletedProcess(["python", "-m", "lmalign", *argv], code, out.getvalue(), err.getvalue())
