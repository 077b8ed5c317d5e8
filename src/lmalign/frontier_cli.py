"""Deprecated: the ``frontier`` command moved to :mod:`lmalign.frontier.cli`.

Every name is still here and warns ``DeprecationWarning`` when used.
"""

from lmalign._deprecated_module import forwarder

__getattr__, __dir__ = forwarder("lmalign.frontier_cli", "lmalign.frontier.cli")
