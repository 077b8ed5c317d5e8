"""Deprecated: the reward-file readers moved to :mod:`lmalign.frontier.files`.

Every name is still here and warns ``DeprecationWarning`` when used.
"""

from lmalign._deprecated_module import forwarder

__getattr__, __dir__ = forwarder("lmalign.reward_files", "lmalign.frontier.files")
