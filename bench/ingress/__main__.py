"""`python -m bench.ingress`."""

import sys

from bench.ingress.run import main

sys.exit(main())
