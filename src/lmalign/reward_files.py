"""Deprecated: the reward-file readers moved to :mod:`lmalign.frontier.files`.

Every name is still here and warns ``DeprecationWarning`` when used.
"""

from lmalign._deprecated_module import forwarder

__all__: list[str] = []  # nothing to document or star-import here: the names live in the new module
__getattr__, __dir__ = forwarder("lmalign.reward_files", "lmalign.frontier.files")
