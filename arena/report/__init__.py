"""Reports: summary tables (CSV, TXT, MD) and a self-contained HTML page for one run."""

from __future__ import annotations

from arena.report.build import ReportData, ReportPaths, build_report, compute_report
from arena.report.tables import ReportTable

__all__ = ["ReportData", "ReportPaths", "ReportTable", "build_report", "compute_report"]
