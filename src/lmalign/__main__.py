import sys

from lmalign.cli import main

sys.exit(main())
