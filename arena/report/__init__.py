"""Reports: summary tables (CSV, TXT, MD) and a self-contained HTML page for one run."""

from __future__ import annotations

from arena.report.build import build_report, compute_report
from arena.report.data import ReportData, ReportPaths
from arena.report.tables import ReportTable

__all__ = ["ReportData", "ReportPaths", "ReportTable", "build_report", "compute_report"]
