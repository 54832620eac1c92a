"""``python -m landscape.evaluation prepare-stats DATASET``."""

from landscape.evaluation.cli import main

raise SystemExit(main())
