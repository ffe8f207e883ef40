"""`python -m ckpt_core` runs the library CLI (analyze, …) without the server."""

import sys

from .cli import main

sys.exit(main())
