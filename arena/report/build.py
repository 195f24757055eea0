"""Assemble the report: compute every table once, then write the summaries and the HTML."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena.core.store import Store
from arena.report import tables as T
from arena.report.tables import ReportTable

# Decimals per column name, shared by every table (and so by every output format).
DECIMALS = {
    "rating": 1, "ci low": 1, "ci high": 1, "win rate %": 1, "lc win rate %": 1,
    "score": 2, "parse fail %": 1, "flip %": 1, "kappa vs human": 3,
    "agree % vs human": 1, "cost": 4, "latency s": 2, "seconds": 1,
}


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
    """Everything the writers need: the tables plus what the charts draw."""

    run: str | None
    generated: str
    tables: list[ReportTable]
    leaderboards: dict[str, pd.DataFrame] = field(default_factory=dict)
    win_matrices: dict[str, pd.DataFrame] = field(default_factory=dict)
    stages: pd.DataFrame = field(default_factory=pd.DataFrame)
    config_yaml: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    baseline: str | None = None

    def section(self, section: str) -> list[ReportTable]:
        return [t for t in self.tables if t.section == section]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _table(
    id_: str, section: str, title: str, frame: pd.DataFrame, note: str = "", **decimals: int
) -> ReportTable:
    return ReportTable(id_, section, title, frame.reset_index(drop=True), {**DECIMALS, **decimals}, note)


def _objective_tables(frames: T.Frames, groups: dict | None) -> list[ReportTable]:
    main, subsets = T.objective_tables(frames.results, groups)
    models = [c for c in main.columns if c not in T.OBJECTIVE_LABELS]
    d = dict.fromkeys(models, T.value_decimals(pd.concat([main, subsets]), models))
    out = [_table("table-objective", "objective", "Objective benchmarks", main,
                  "Whole datasets; dataset/group rows average that group's subsets.", **d)]
    if len(subsets):
        out.append(_table("table-objective-subsets", "objective-subsets", "Scores per subset",
                          subsets, "n = number of samples in the subset.", **d))
    return out


def _subjective_tables(
    frames: T.Frames, baseline: str | None, n_bootstrap: int, seed: int
) -> tuple[list[ReportTable], dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    out: list[ReportTable] = []
    boards: dict[str, pd.DataFrame] = {}
    mats: dict[str, pd.DataFrame] = {}
    for source, battles in T.battle_sources(frames.battles):
        label = T.source_label(source)
        kind = "judge" if source.startswith("judge:") else source
        lb = T.leaderboard(battles, baseline=baseline, n_bootstrap=n_bootstrap, seed=seed)
        boards[label] = lb
        note = f"Bradley-Terry, 95% bootstrap CI ({n_bootstrap} rounds); {len(battles)} battles."
        if "win rate %" in lb.columns:
            note += f" Win rates (%) against {baseline}, ties count half."
        title = f"Leaderboard: {label}" + (" (judge)" if kind == "judge" else "")
        out.append(_table(f"table-subjective-{_slug(label)}", "subjective", title, lb, note))
        mats[label] = T.win_matrix(battles)
        out.append(_table(f"table-winrate-{_slug(label)}", "winrate", f"Win rate: {label}",
                          mats[label], "Share of battles the row model won against the column "
                          "model (ties count half); '-' = never met."))
    return out, boards, mats


def _score_tables(frames: T.Frames, n_bootstrap: int, seed: int) -> list[ReportTable]:
    out = []
    if frames.scores.empty:
        return out
    for source, g in frames.scores.groupby("source", sort=True):
        label = T.source_label(str(source))
        out.append(_table(f"table-scores-{_slug(label)}", "scores", f"Single-answer scores: {label}",
                          T.score_table(g, n_bootstrap=n_bootstrap, seed=seed),
                          "Mean score per category with a 95% bootstrap CI over questions.",
                          **{"ci low": 2, "ci high": 2}))
    return out


def _judge_tables(frames: T.Frames) -> list[ReportTable]:
    if frames.judgments.empty:
        return []
    out = [_table("table-judges", "judges", "Judge diagnostics",
                  T.judge_diagnostics(frames.judgments, frames.battles, frames.judgment_records),
                  "Rates in %. Flip rate: verdict changes when the two answers swap places. "
                  "Kappa: Cohen's kappa against human votes on the same battles.")]
    ex = T.parse_failure_examples(frames.judgments)
    if len(ex):
        out.append(_table("table-parse-failures", "judges", "Parse failures (examples)", ex,
                          "Raw judge output, truncated."))
    return out


def compute_report(
    store: Store,
    run: str | None = None,
    *,
    config: dict | None = None,
    stage_stats: dict | None = None,
    groups: dict | None = None,
    baseline: str | None = None,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> ReportData:
    """Compute every table of the report from the store (no files written)."""
    from arena.report.redact import config_yaml

    frames = T.load_frames(store, run)
    tables = _objective_tables(frames, groups)
    subj, boards, mats = _subjective_tables(frames, baseline, n_bootstrap, seed)
    tables += subj + _score_tables(frames, n_bootstrap, seed) + _judge_tables(frames)
    from arena.report.longctx import needle_tables

    tables += needle_tables(store, frames.results)  # needle heatmaps (objective.needle)
    stages = T.stage_table(stage_stats)
    if len(stages):
        tables.append(_table("table-stages", "stages", "Tokens, cost and time per stage", stages))
    models = {r.model for r in frames.results} | set(frames.battles.get("model_a", []))
    models |= set(frames.battles.get("model_b", [])) | set(frames.scores.get("model", []))
    counts = {"models": len(models), "datasets": len({r.dataset for r in frames.results}),
              "battles": len(frames.battles),
              "scores": len(frames.scores), "judgments": len(frames.judgments)}
    return ReportData(
        run=run, generated=time.strftime("%Y-%m-%d %H:%M:%S"), tables=tables,
        leaderboards=boards, win_matrices=mats, stages=stages,
        config_yaml=config_yaml(config) if config else "", counts=counts, baseline=baseline,
    )


def _report_options(config: dict | None) -> dict[str, Any]:
    """The optional ``report:`` block of a run config (baseline, groups, bootstrap, seed)."""
    opts = (config or {}).get("report") or {}
    return opts if isinstance(opts, dict) else {}


def build_report(
    store: Store,
    run: str | None,
    out_dir: Path,
    *,
    config: dict | None = None,
    stage_stats: dict | None = None,
    groups: dict | None = None,
    baseline: str | None = None,
    n_bootstrap: int | None = None,
) -> ReportPaths:
    """Write ``summary/summary_<ts>.{csv,txt,md}`` and ``report.html`` under ``out_dir``.

    Args:
        store: the records (DatasetResult, Battle, Score, Judgment).
        run: restrict to records written under this run id (None = all records).
        out_dir: the run directory.
        config: the run's config, shown (secrets redacted) in the report; its optional
            ``report:`` block may set ``baseline``, ``groups``, ``bootstrap`` and ``seed``.
        stage_stats: ``{stage: {"seconds", "calls", "cached", "tokens", "cost"}}``.
        groups: ``{dataset: {group: [subset, ...]}}`` averaged in the objective table
            (see :mod:`objective.summarizer`).
        baseline: model that win rates are measured against.
        n_bootstrap: bootstrap rounds for the intervals (default 200).

    Returns:
        The paths written.
    """
    from arena.report.html import render_html
    from arena.report.summary import write_summaries

    opts = _report_options(config)
    data = compute_report(
        store, run, config=config, stage_stats=stage_stats,
        groups=groups if groups is not None else opts.get("groups"),
        baseline=baseline or opts.get("baseline"),
        n_bootstrap=n_bootstrap if n_bootstrap is not None else int(opts.get("bootstrap", 200)),
        seed=int(opts.get("seed", 0)),
    )
    out_dir = Path(out_dir)
    from arena.report.longctx import contamination_tables

    data.tables += contamination_tables(out_dir)  # what `arena contamination` wrote there
    csv, txt, md = write_summaries(data, out_dir / "summary")
    html = out_dir / "report.html"
    tmp = html.with_suffix(".html.tmp")
    tmp.write_text(render_html(data), encoding="utf-8")
    tmp.replace(html)
    return ReportPaths(out_dir, html, csv, txt, md)
