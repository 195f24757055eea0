"""What the report writers share: the computed tables and chart inputs (no computation here).

A module of its own so that `build` (which computes it) and `html` (which draws it) both
import it, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from arena.report.tables import ReportTable


@dataclass
class ReportPaths:
    """Where the report files were written."""

    out_dir: Path
    html: Path
    csv: Path
    txt: Path
    md: Path


@dataclass
class ReportData:
    """Everything the writers need: the tables plus what the charts draw.

    `win_matrices` hold the same win rates as the win-rate tables (one definition:
    weighted share of battle weight won, ties half), with `win_intervals` their CIs.
    `separation` maps a leaderboard label to {model: warning} for ratings that are not
    identified because the model never lost (or never won) against a group of others.
    """

    run: str | None
    generated: str
    tables: list[ReportTable]
    leaderboards: dict[str, pd.DataFrame] = field(default_factory=dict)
    win_matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    win_intervals: dict[str, pd.DataFrame] = field(default_factory=dict)
    separation: dict[str, dict[str, str]] = field(default_factory=dict)
    stages: pd.DataFrame = field(default_factory=pd.DataFrame)
    config_yaml: str = ""
    counts: dict[str, int | str] = field(default_factory=dict)
    baseline: str | None = None

    def section(self, section: str) -> list[ReportTable]:
        return [t for t in self.tables if t.section == section]
