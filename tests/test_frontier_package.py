"""The frontier package: its public face, the deprecated module paths, and a core import without pyarrow or tqdm."""

import json
import subprocess
import sys
import warnings

import pytest

import lmalign.frontier as fr
from lmalign.frontier import cli, core, files

PUBLIC = {
    "Frontier": core,
    "default_ns": core,
    "example_file": core,
    "example_rewards": core,
    "frontier": core,
    "write_example": core,
    "MAX_N": core,
    "RewardFileError": files,
    "RewardSamples": files,
    "read_rewards": files,
    "read_samples": files,
}


def test_the_package_face_keeps_every_public_name():
    assert sorted(fr.__all__) == sorted(PUBLIC)
    for name, module in PUBLIC.items():
        assert getattr(fr, name) is getattr(module, name), name


@pytest.mark.parametrize(
    ("old", "new", "names"),
    [
        (
            "lmalign.reward_files",
            files,
            ("read_samples", "read_rewards", "RewardFileError", "RewardSamples", "FORMATS", "detect_format"),
        ),
        ("lmalign.frontier_cli", cli, ("main", "table", "parser", "plot", "draw", "warnings_for")),
    ],
)
def test_old_module_paths_warn_and_forward(old, new, names):
    import importlib

    module = importlib.import_module(old)
    for name in names:
        with pytest.warns(DeprecationWarning, match=old):
            value = getattr(module, name)
        assert value is getattr(new, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            module.no_such_name  # noqa: B018


def test_the_core_library_imports_without_pyarrow_or_tqdm():
    code = (
        "import sys, lmalign, lmalign.frontier; import json; "
        "print(json.dumps(sorted(m for m in ('pyarrow', 'tqdm', 'matplotlib', 'pandas', 'polars') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
    # the check can fail: reading a file does import pyarrow
    code = (
        "import sys, lmalign.frontier as f; f.read_samples(f.example_file(), column='reward'); "
        "print('pyarrow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
