"""The one way jaxshadow warns: `warn(text)` prints "warning: <text>" to stderr (or `stream`)
on process 0 only, so a multi-host run, whose processes all see the same problem, says it once."""

import sys


def warn(text, stream=None):
    import jax

    if jax.process_index() == 0:
        print(f"warning: {text}", file=stream or sys.stderr, flush=True)
