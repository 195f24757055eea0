"""Assemble the report: compute every table once, then write the summaries and the HTML."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pandas as pd

from arena.core.store import Store
from arena.report import tables as T
from arena.report.data import ReportData, ReportPaths
from arena.report.tables import ReportTable

# Decimals per column name, shared by every table (and so by every output format).
DECIMALS = {
    "rating": 1, "ci low": 1, "ci high": 1, "win rate %": 1, "lc win rate %": 1,
    "wr ci low": 1, "wr ci high": 1, "win rate": 3,
    "score": 2, "parse fail %": 1, "flip %": 1, "first shown wins %": 1, "kappa vs human": 3,
    "agree % vs human": 1, "cost": 4, "cost paid": 4, "saved by cache": 4, "latency s": 2, "seconds": 1,
    "accuracy %": 1, "precision": 3, "recall": 3, "f1": 3, "kappa": 3, "consistency %": 1,
    "agree both orders %": 1, "agree %": 1,
}


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
) -> tuple[list[ReportTable], dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame],
           dict[str, dict[str, str]]]:
    out: list[ReportTable] = []
    boards: dict[str, pd.DataFrame] = {}
    mats: dict[str, pd.DataFrame] = {}
    rates_of: dict[str, pd.DataFrame] = {}
    seps: dict[str, dict[str, str]] = {}
    for source, battles in T.battle_sources(frames.battles):
        label = T.source_label(source)
        kind = "judge" if source.startswith("judge:") else source
        rates = T.win_rates(battles, n_bootstrap=n_bootstrap, seed=seed)
        lb = T.leaderboard(battles, baseline=baseline, n_bootstrap=n_bootstrap, seed=seed, rates=rates)
        boards[label], rates_of[label] = lb, rates
        seps[label] = T.separation(battles)
        note = f"Bradley-Terry, 95% bootstrap CI ({n_bootstrap} rounds); {len(battles)} battles."
        if "win rate %" in lb.columns:
            note += (f" Win rate % against {baseline} (weighted, the heatmap's definition: "
                     f"{T.WIN_RATE_DEFINITION}) with its 95% bootstrap CI over questions (wr ci).")
        if "lc win rate %" in lb.columns:
            note += " LC: AlpacaEval's length-controlled win rate (its own, unweighted definition)."
        if seps[label]:
            note += (" ⚠ Separation: the models marked never lost (or never won) against a group of "
                     "others, so their ratings are not identified and only the fit's L2 penalty holds them.")
        if lb["warning"].isna().all():
            lb = lb.drop(columns="warning")
        title = f"Leaderboard: {label}" + (" (judge)" if kind == "judge" else "")
        out.append(_table(f"table-subjective-{_slug(label)}", "subjective", title, lb, note))
        mats[label] = T.win_matrix_from(rates)
        out.append(_table(f"table-winrate-{_slug(label)}", "winrate", f"Win rate: {label}", rates,
                          f"Win rate of the model against the opponent, weighted. {T.WIN_RATE_DEFINITION} "
                          f"95% bootstrap CI over questions ({n_bootstrap} rounds)."))
    return out, boards, mats, rates_of, seps


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


def _judge_tables(frames: T.Frames, store: Store, run: str | None) -> list[ReportTable]:
    out = []
    if not frames.judgments.empty:
        out.append(_table(
            "table-judges", "judges", "Judge diagnostics",
            T.judge_diagnostics(frames.judgments, frames.battles, frames.judgment_records),
            "Rates in %. Flip rate: verdict changes when the two answers swap places; first shown "
            "wins: share of decisive verdicts that picked the answer shown first (50% = no position "
            "bias). Kappa: Cohen's kappa against human votes on the same battles. Cost paid: what "
            "the stored judgments cost when they were made (USD); saved by cache: the price of the "
            "calls the call cache answered instead."))
    agree, note = T.human_agreement(store, run)
    if len(agree):
        out.append(_table("table-agreement", "judges", "Judges vs human votes", agree,
                          "Against the human majority label per item (question, model pair, turn): "
                          "accuracy, macro precision/recall/F1 over the labels, Cohen's kappa; "
                          "consistency: the judge's two orders agree; agree both orders: both equal "
                          "the human label (as `arena agreement --store`)." + note))
    panels = T.panel_table(frames.battles)
    if len(panels):
        out.append(_table("table-panels", "judges", "Judge panels", panels,
                          "Each judge's agreement with the panel's combined verdicts."))
    if not frames.judgments.empty:
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
    from dataclasses import replace

    from arena.report.redact import config_yaml
    from arena.report.robustness import robustness_tables, split_results

    frames = T.load_frames(store, run)
    # CircularEval / prompt-variant rows have a table of their own (arena.report.robustness)
    tables = _objective_tables(replace(frames, results=split_results(frames.results)[0]), groups)
    subj, boards, mats, rates, seps = _subjective_tables(frames, baseline, n_bootstrap, seed)
    tables += subj + _score_tables(frames, n_bootstrap, seed) + _judge_tables(frames, store, run)
    from arena.report.longctx import needle_tables

    tables += needle_tables(store, frames.results)  # needle heatmaps (objective.needle)
    tables += robustness_tables(frames.results)  # --circular / --variants
    stages = T.stage_table(stage_stats)
    if len(stages):
        tables.append(_table("table-stages", "stages", "Tokens, cost and time per stage", stages,
                             "Cost: paid during this invocation; stored or cached work is not paid "
                             "again (see the judge table for the cost paid for every judgment and "
                             "the cost the cache saved)."))
    models = {r.model for r in frames.results} | set(frames.battles.get("model_a", []))
    models |= set(frames.battles.get("model_b", [])) | set(frames.scores.get("model", []))
    counts = {"models": len(models), "datasets": len({r.dataset for r in frames.results}),
              "battles": len(frames.battles),
              "scores": len(frames.scores), "judgments": len(frames.judgments)}
    if not frames.judgments.empty:
        saved = sum(float((j.extra or {}).get("cached_cost", 0.0)) for j in frames.judgment_records)
        counts["judge cost paid"] = f"${float(frames.judgments['cost'].sum()):.4f}"
        counts["saved by cache"] = f"${saved:.4f}"
    return ReportData(
        run=run, generated=time.strftime("%Y-%m-%d %H:%M:%S"), tables=tables,
        leaderboards=boards, win_matrices=mats, win_intervals=rates, separation=seps, stages=stages,
        config_yaml=config_yaml(config) if config else "", counts=counts, baseline=baseline,
    )


def _report_options(config: dict | None) -> dict[str, Any]:
    """The optional ``report:`` block of a run config (baseline, groups, bootstrap, seed);
    ``summarizer: {groups, baseline}`` (OpenCompass summary groups) count too."""
    opts = (config or {}).get("report") or {}
    opts = dict(opts) if isinstance(opts, dict) else {}
    summ = (config or {}).get("summarizer") or {}
    if isinstance(summ, dict):
        if summ.get("groups") and "groups" not in opts:
            opts["groups"] = summ["groups"]
        if summ.get("baseline") and "baseline" not in opts:
            opts["baseline"] = summ["baseline"]
    return opts


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
