"""The report's numbers: every table as a pandas DataFrame, computed once from the store.

The CSV, TXT, MD and HTML outputs are all rendered from the same :class:`ReportTable` objects
(and from the same formatted strings, see :meth:`ReportTable.formatted`), so they cannot
disagree. Objective tables come from :mod:`objective.summarizer` (OpenCompass's
``dataset | version | metric | mode | <models>``); subjective ones from :mod:`arena.ratings`.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from arena import ratings
from arena.core.records import Battle, DatasetResult, Judgment, Score
from arena.core.store import Store

MISSING = "-"  # how an absent number is shown in TXT, MD and HTML (empty in CSV)


@dataclass
class ReportTable:
    """One table of the report.

    Attributes:
        id: stable identifier (also the HTML element id of the table).
        section: id of the report section the table belongs to.
        title: human title.
        frame: the numbers (index is ignored; put labels in columns).
        decimals: decimals per float column (default 2).
        note: one line shown under the title.
    """

    id: str
    section: str
    title: str
    frame: pd.DataFrame
    decimals: dict[str, int] = field(default_factory=dict)
    note: str = ""

    def formatted(self, missing: str = MISSING) -> pd.DataFrame:
        """Every cell as the exact string all outputs show (``missing`` for NaN/None)."""
        out = pd.DataFrame(index=range(len(self.frame)))
        for col in self.frame.columns:
            d = self.decimals.get(str(col), 2)
            out[str(col)] = [format_cell(v, d, missing) for v in self.frame[col].tolist()]
        return out

    def numeric_columns(self) -> set[str]:
        return {str(c) for c in self.frame.columns if pd.api.types.is_numeric_dtype(self.frame[c])}


def format_cell(v: Any, decimals: int, missing: str = MISSING) -> str:
    """One value as every output shows it (fixed decimals, `missing` for NaN or None)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return missing
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.{decimals}f}"
    return str(v)


@dataclass
class Frames:
    """The store's records as DataFrames (one per record type)."""

    results: list[DatasetResult]
    battles: pd.DataFrame
    scores: pd.DataFrame
    judgments: pd.DataFrame
    judgment_records: list[Judgment] = field(default_factory=list)


def load_frames(store: Store, run: str | None = None) -> Frames:
    """Read DatasetResult, Battle, Score and Judgment records (optionally of one run).

    DatasetResults stay records (the objective summarizer takes records); Battle ``features`` are flattened to columns (``len_a``/``len_b`` feed length control).
    """
    battles = store.frame(Battle, run)
    if len(battles) and "features" in battles.columns:
        feats = pd.DataFrame(battles["features"].tolist(), index=battles.index)
        battles = pd.concat([battles.drop(columns="features"), feats], axis=1)
    records = store.all(Judgment, run)
    rows = [json.loads(r.model_dump_json()) for r in records]
    judgments = pd.DataFrame(rows, columns=None if rows else list(Judgment.model_fields))
    return Frames(
        results=store.all(DatasetResult, run),
        battles=battles,
        scores=store.frame(Score, run),
        judgments=judgments,
        judgment_records=records,
    )


# --------------------------------------------------------------------------- objective


AVERAGES = ("naive_average", "weighted_average")
OBJECTIVE_LABELS = ["dataset", "version", "metric", "mode"]


def objective_tables(
    results: list[DatasetResult], groups: dict | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The objective summary split in two: datasets and group averages, then subsets.

    Both come from :func:`objective.summarizer.summarize` (one summary implementation for
    the run's summary files and the report): ``dataset | version | metric | mode | <models>``
    with subsets named ``dataset/subset`` and groups ``dataset/group`` (``naive_average``,
    ``weighted_average``). The subset part gains the sample count ``n``.

    Args:
        results: DatasetResult records.
        groups: ``{dataset: {group: [subset, ...]}}`` averaged by the summarizer.
    """
    from objective.summarizer import row_name, summarize

    if not results:
        empty = pd.DataFrame(columns=OBJECTIVE_LABELS)
        return empty, empty
    # The store does not keep the runner's order: put each dataset's main metric first (the
    # alternative length normalisations are named accuracy_<norm>), subsets after, models sorted.
    results = sorted(results, key=lambda r: (r.dataset, r.subset is not None, r.subset or "",
                                             r.metric.startswith("accuracy_"), r.metric, r.model))
    table = summarize(results, groups or None)
    rows = [[*row, *(table.values[row].get(m, np.nan) for m in table.models)] for row in table.rows]
    df = pd.DataFrame(rows, columns=[*OBJECTIVE_LABELS, *table.models])
    df["version"] = df["version"].replace("", MISSING)
    subset_names = {row_name(r) for r in results if r.subset and r.metric not in AVERAGES}
    is_subset = df["dataset"].isin(subset_names) & ~df["metric"].isin(AVERAGES)
    sizes = {(row_name(r), r.metric): r.n for r in results if r.subset}
    subsets = df[is_subset].copy()
    subsets["n"] = [sizes.get(k) for k in zip(subsets["dataset"], subsets["metric"])]
    return df[~is_subset].reset_index(drop=True), subsets.reset_index(drop=True)


def value_decimals(frame: pd.DataFrame, columns: list[str]) -> int:
    """4 decimals for scores on a 0-1 scale (2 would hide differences), else 2."""
    values = frame[columns].to_numpy(float) if columns else np.array([])
    finite = values[np.isfinite(values)]
    return 4 if finite.size and np.abs(finite).max() <= 1.0 else 2


# --------------------------------------------------------------------------- subjective


def source_label(source: str) -> str:
    return source.split(":", 1)[1] if source.startswith("judge:") else source


def battle_sources(battles: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(label, battles) for each judge, then human, then all sources combined."""
    if battles.empty:
        return []
    srcs = sorted(battles["source"].unique(), key=lambda s: (not s.startswith("judge:"), s))
    out = [(s, battles[battles["source"] == s]) for s in srcs]
    if len(srcs) > 1:
        out.append(("combined", battles))
    return out


def leaderboard(
    battles: pd.DataFrame, *, baseline: str | None = None, n_bootstrap: int = 200, seed: int = 0
) -> pd.DataFrame:
    """``rank | model | rating | ci low | ci high | battles`` (+ win rates vs ``baseline``).

    Ratings are Bradley-Terry on the Elo scale (mean 1000) with 95% bootstrap intervals;
    rank counts the models whose interval lies wholly above (LMSYS style).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ratings.SeparationWarning)
        warnings.simplefilter("ignore", UserWarning)
        lb = ratings.bt_leaderboard(
            battles, n_bootstrap=n_bootstrap, seed=seed, allow_disconnected=True
        )
    lb = lb.rename(columns={"lower": "ci low", "upper": "ci high", "n_battles": "battles"})
    lb = lb[["rank", "model", "rating", "ci low", "ci high", "battles"]]
    if baseline and ((battles["model_a"] == baseline) | (battles["model_b"] == baseline)).any():
        wr = ratings.win_rate_vs_baseline(battles, baseline)
        lb["win rate %"] = lb["model"].map(wr["win_rate"])
        if {"len_a", "len_b"} <= set(battles.columns) and battles[["len_a", "len_b"]].notna().all().all():
            try:
                lc = ratings.length_controlled_win_rate(battles, baseline)
                lb["lc win rate %"] = lb["model"].map(lc["length_controlled_winrate"])
            except (KeyError, ValueError):  # too few battles to fit the GLM: leave it out
                pass
    return lb


def score_table(scores: pd.DataFrame, *, n_bootstrap: int = 200, seed: int = 0) -> pd.DataFrame:
    """``category | model | score | ci low | ci high | questions`` (overall first)."""
    agg = ratings.aggregate_scores(scores, n_bootstrap=n_bootstrap, seed=seed)
    agg = agg.rename(columns={"lower": "ci low", "upper": "ci high", "n_questions": "questions"})
    return agg[["category", "model", "score", "ci low", "ci high", "questions"]]


def win_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Win fraction of the row model against the column model (ties half), ``model`` first."""
    mat = ratings.pairwise_win_matrix(battles)
    out = mat.reset_index(names="model")
    out.columns = [str(c) for c in out.columns]
    return out


# --------------------------------------------------------------------------- judges


def position_bias(judgments: list[Judgment]) -> dict[str, dict[str, Any]]:
    """Per judge: pairs judged in both orders and how often the verdict flipped.

    Verdict labels are positional ("A" = the answer shown first); the judges package owns
    their meaning, so its own conversion to model terms is used.
    """
    from judges.pairwise import flip_rate

    return flip_rate(judgments)


def judge_diagnostics(
    judgments: pd.DataFrame, battles: pd.DataFrame, records: list[Judgment]
) -> pd.DataFrame:
    """Per judge: calls, parse failures, position-bias flip rate, agreement with humans, cost.

    Args:
        judgments: the Judgment records as a frame.
        battles: all battles (judge sources are matched with ``human`` for agreement).
        records: the same Judgment records (for the position-bias computation).
    """
    if judgments.empty:
        return pd.DataFrame(columns=["judge", "calls", "parse failures"])
    bias_of = position_bias(records)
    has_human = not battles.empty and (battles["source"] == "human").any()
    rows = []
    for judge, g in judgments.groupby("judge", sort=True):
        fails = int(g["parse_error"].notna().sum())
        row: dict[str, Any] = {"judge": judge, "calls": len(g), "parse failures": fails,
                               "parse fail %": 100.0 * fails / len(g)}
        bias = bias_of.get(judge, {})
        row["pairs in both orders"] = int(bias.get("pairs", 0))
        row["flip %"] = 100.0 * bias["flip_rate"] if row["pairs in both orders"] else np.nan
        row["kappa vs human"] = row["agree % vs human"] = np.nan
        row["n vs human"] = 0
        if has_human and (battles["source"] == f"judge:{judge}").any():
            ag = ratings.pairwise_agreement(battles, f"judge:{judge}", "human")
            row.update({"kappa vs human": ag.kappa, "agree % vs human": 100.0 * ag.rate,
                        "n vs human": ag.n})
        row["tokens"] = int(g["prompt_tokens"].sum() + g["completion_tokens"].sum())
        row["cost"] = float(g["cost"].sum())
        row["latency s"] = float(g["latency"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def parse_failure_examples(judgments: pd.DataFrame, limit: int = 8, width: int = 160) -> pd.DataFrame:
    """A few failed judgments with the error and the start of the (untrusted) raw output."""
    cols = ["judge", "question", "models", "error", "raw output"]
    if judgments.empty:
        return pd.DataFrame(columns=cols)
    bad = judgments[judgments["parse_error"].notna()].head(limit)
    raw = bad["raw_output"].fillna("").astype(str)
    return pd.DataFrame({
        "judge": bad["judge"],
        "question": bad["question_id"].astype(str),
        "models": bad["model_a"] + " vs " + bad["model_b"].fillna(MISSING),
        "error": bad["parse_error"].astype(str),
        "raw output": [r if len(r) <= width else r[: width - 1] + "…" for r in raw],
    }).reset_index(drop=True)


# --------------------------------------------------------------------------- stages


def stage_table(stage_stats: dict[str, dict[str, Any]] | None) -> pd.DataFrame:
    """``stage | seconds | calls | cached | tokens | cost`` with a total row."""
    cols = ["seconds", "calls", "cached", "tokens", "cost"]
    if not stage_stats:
        return pd.DataFrame(columns=["stage", *cols])
    rows = [{"stage": str(s), **{c: (v or {}).get(c) for c in cols}} for s, v in stage_stats.items()]
    df = pd.DataFrame(rows)
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    total = {"stage": "total", **{c: df[c].sum(min_count=1) for c in cols}}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    for c in ("calls", "cached", "tokens"):
        if df[c].notna().all():
            df[c] = df[c].astype(int)
    return df


def to_jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as JSON-ready dicts (NaN becomes null)."""
    return json.loads(frame.to_json(orient="records"))
