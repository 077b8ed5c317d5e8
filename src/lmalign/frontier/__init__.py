"""Per-prompt best-of-N and the KL-regularized frontier of reward samples.

The package has three parts, one idea each:

- :mod:`lmalign.frontier.core`: the computation on reward samples (numpy and scipy only);
- :mod:`lmalign.frontier.files`: reading CSV, TSV, JSON Lines and Parquet files (pyarrow, imported when a file
  is read);
- :mod:`lmalign.frontier.cli`: the ``python -m lmalign frontier`` command (matplotlib and tqdm, imported when
  used).

``import lmalign.frontier`` imports neither pyarrow nor tqdm. The names below are the public face; the old
modules ``lmalign.reward_files`` and ``lmalign.frontier_cli`` still work and warn ``DeprecationWarning``.
"""

from lmalign.frontier.core import (
    MAX_N,
    Frontier,
    default_ns,
    example_file,
    example_rewards,
    frontier,
    write_example,
)
from lmalign.frontier.files import RewardFileError, RewardSamples, read_rewards, read_samples

__all__ = [
    "Frontier",
    "RewardFileError",
    "RewardSamples",
    "default_ns",
    "example_file",
    "example_rewards",
    "frontier",
    "read_rewards",
    "read_samples",
    "write_example",
    "MAX_N",
]
