import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# The same examples on every run (reproducible CI); no per-example deadline on a shared 2-core machine.
settings.register_profile("lmalign", derandomize=True, deadline=None, max_examples=100)
settings.load_profile("lmalign")
