"""lmalign: exact alignment computations on the reward line.

Companion library to Yang, Salamatian, Sun, Suresh, Beirami, "Asymptotics of Language Model Alignment"
(arXiv:2404.01730). Every policy in the book is a reweighting of the reference by a function of the reward,
so everything is computed exactly on a finite law of one real number, :class:`RewardLaw`.
"""

from lmalign.law import RewardLaw

__all__ = ["RewardLaw", "kl_constrained", "best_of_n", "__version__"]
__version__ = "0.1.0"


def __getattr__(name):  # lazy imports keep ``import lmalign`` light and cycle-free
    if name == "kl_constrained":
        from lmalign.tilting import kl_constrained

        return kl_constrained
    if name == "best_of_n":
        from lmalign.best_of_n import best_of_n

        return best_of_n
    raise AttributeError(f"module 'lmalign' has no attribute {name!r}")
