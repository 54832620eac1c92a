"""The study report: results/<study>/report.html (self-contained, opens offline), runs.csv,
evals.csv, leaderboard.csv, top5.csv, budget.csv, comparisons.csv, findings.csv and
figures/*.png, from a results folder (docs/report.md).

Reads only the results folder; never imports torch or the training code.
"""

from landscape.report.build import write_report

__all__ = ["write_report"]
