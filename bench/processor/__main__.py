"""`python -m bench.processor`."""

import sys

from bench.processor.run import main

sys.exit(main())
