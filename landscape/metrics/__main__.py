"""``python -m landscape.metrics prepare-stats DATASET``: kept from before 0.2, when this package
held the evaluation machinery; the command lives in ``landscape.evaluation``."""

from landscape.evaluation.cli import main

raise SystemExit(main())
