"""``python -m edgeaudit``: the ``edgeaudit`` command."""

import sys

from edgeaudit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
