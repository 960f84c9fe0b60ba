"""`python -m jaxshadow` is the `jaxshadow` command."""

import sys

from jaxshadow.cli import main

sys.exit(main())
