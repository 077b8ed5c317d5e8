"""lmalign: exact alignment computations on the reward line.

Companion library to Yang, Salamatian, Sun, Suresh, Beirami, "Asymptotics of Language Model Alignment"
(arXiv:2404.01730). Every policy in the book is a reweighting of the reference by a function of the reward,
so everything is computed exactly on a finite law of one real number, :class:`~lmalign.law.RewardLaw`.
"""

# Bound after the submodule import, so ``lmalign.best_of_n`` is the function (the module stays importable
# as ``lmalign.best_of_n`` through ``sys.modules``).
from lmalign.best_of_n import best_of_n  # noqa: I001
from lmalign.law import RewardLaw
from lmalign.tilting import kl_constrained

__all__ = ["RewardLaw", "kl_constrained", "best_of_n", "__version__"]
__version__ = "0.1.0"
