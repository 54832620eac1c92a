"""``python -m landscape.metrics prepare-stats DATASET``."""

from landscape.metrics.cli import main

raise SystemExit(main())
