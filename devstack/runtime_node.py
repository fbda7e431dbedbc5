"""`python -m devstack.runtime_node`: the `runtime-node` console script (see `_runtime_node`)."""

import sys

from ._runtime_node import main

if __name__ == "__main__":
    sys.exit(main())
