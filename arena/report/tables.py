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


WIN_RATE_DEFINITION = (
    "Win rate = share of the battle weight a model won, ties counting half. Weighted: a battle "
    "counts its weight (1 unless the judge's scale says otherwise, e.g. 3 for a strong A>>B "
    "verdict, 0.5 for each half of a split verdict, an AlpacaEval preference's fraction).")


def _share_a(battles: pd.DataFrame) -> np.ndarray:
    return battles["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}).to_numpy(float)


def win_rates(battles: pd.DataFrame, *, n_bootstrap: int = 200, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """``model | opponent | win rate | ci low | ci high | battles`` for every pair that met.

    See :data:`WIN_RATE_DEFINITION`. The interval is a percentile bootstrap over the
    pair's questions (a question's battles, e.g. both halves of a split verdict or several
    turns, are resampled together).
    """
    cols = ["model", "opponent", "win rate", "ci low", "ci high", "battles"]
    if battles.empty:
        return pd.DataFrame(columns=cols)
    a, b = battles["model_a"].astype(str).to_numpy(), battles["model_b"].astype(str).to_numpy()
    w = battles["weight"].to_numpy(float) if "weight" in battles.columns else np.ones(len(battles))
    s = _share_a(battles)
    first = a <= b
    unit = battles["question_id"].astype(str) + "|" + (battles["turn"].astype(str) if "turn" in battles.columns else "")
    df = pd.DataFrame({"lo": np.where(first, a, b), "hi": np.where(first, b, a), "unit": unit.to_numpy(),
                       "won": w * np.where(first, s, 1 - s), "tot": w, "n": 1})
    df = df[np.isfinite(df["won"])]
    units = df.groupby(["lo", "hi", "unit"], sort=True)[["won", "tot", "n"]].sum()
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    rows = []
    for i, ((lo, hi), g) in enumerate(units.groupby(level=[0, 1], sort=True)):
        won, tot = g["won"].to_numpy(), g["tot"].to_numpy()
        if tot.sum() <= 0:
            continue
        point = float(won.sum() / tot.sum())
        ci = (np.nan, np.nan)
        if n_bootstrap > 0:
            idx = np.random.default_rng([seed, i]).integers(0, len(won), (n_bootstrap, len(won)))
            with np.errstate(invalid="ignore", divide="ignore"):
                boot = won[idx].sum(axis=1) / tot[idx].sum(axis=1)
            ci = tuple(float(x) for x in np.nanquantile(boot, q))
        n = int(g["n"].sum())
        rows.append((lo, hi, point, ci[0], ci[1], n))
        rows.append((hi, lo, 1 - point, 1 - ci[1], 1 - ci[0], n))
    return pd.DataFrame(rows, columns=cols)


def win_matrix_from(rates: pd.DataFrame, column: str = "win rate") -> pd.DataFrame:
    """A ``model`` column plus one column per opponent (NaN where they never met)."""
    if rates.empty:
        return pd.DataFrame(columns=["model"])
    models = sorted(set(rates["model"]) | set(rates["opponent"]))
    mat = rates.pivot(index="model", columns="opponent", values=column).reindex(index=models, columns=models)
    out = mat.reset_index(names="model")
    out.columns = [str(c) for c in out.columns]
    return out


def separation(battles: pd.DataFrame) -> dict[str, str]:
    """Models whose Bradley-Terry rating is not identified, with why (empty when none).

    The maximum-likelihood ratings exist only if the "won or tied against" graph is
    strongly connected; otherwise a group that never lost to (never beat) the others gets a
    rating held only by the fit's small L2 penalty, e.g. 3131 or -1131.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if battles.empty:
        return {}
    models = sorted(set(battles["model_a"].astype(str)) | set(battles["model_b"].astype(str)))
    ix = {m: k for k, m in enumerate(models)}
    i = battles["model_a"].astype(str).map(ix).to_numpy()
    j = battles["model_b"].astype(str).map(ix).to_numpy()
    s = _share_a(battles)
    w = battles["weight"].to_numpy(float) if "weight" in battles.columns else np.ones(len(battles))
    got_a, got_b = (s * w) > 0, ((1 - s) * w) > 0  # a took something from b / b from a
    rows = np.concatenate([i[got_a], j[got_b]])
    cols = np.concatenate([j[got_a], i[got_b]])
    m = len(models)
    beat = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m)).tocsr()
    n_comp, label = connected_components(beat, directed=True, connection="strong")
    if n_comp <= 1:
        return {}
    met = coo_matrix((np.ones(len(i)), (i, j)), shape=(m, m)).tocsr()
    met = met + met.T
    groups = []
    for c in range(n_comp):
        members = np.flatnonzero(label == c)
        inside = label == c
        if met[members][:, ~inside].sum() == 0:
            continue  # another component of a disconnected graph: handled by the fit
        lost = beat[~inside][:, members].sum() > 0  # someone outside took something from it
        won = beat[members][:, ~inside].sum() > 0
        groups.append((members, lost, won))
    if len(groups) == 2:  # one split: the smaller side is the odd one out (both when equal)
        small = min(len(g[0]) for g in groups)
        groups = [g for g in groups if len(g[0]) == small]
    out = {}
    for members, lost, won in groups:
        who = "all its battles" if len(members) == 1 else "every battle with the other models"
        for k in members:
            if not lost:
                out[models[k]] = f"separation: won {who}; rating unbounded above (held by the L2 prior)"
            elif not won:
                out[models[k]] = f"separation: lost {who}; rating unbounded below (held by the L2 prior)"
            elif len(groups) > 2:
                out[models[k]] = "separation: comparison graph not strongly connected; rating not identified"
    return out


def leaderboard(
    battles: pd.DataFrame, *, baseline: str | None = None, n_bootstrap: int = 200, seed: int = 0,
    rates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``rank | model | rating | ci low | ci high | battles`` (+ win rates vs ``baseline``, + warning).

    Ratings are Bradley-Terry on the Elo scale (mean 1000) with 95% bootstrap intervals;
    rank counts the models whose interval lies wholly above (LMSYS style). Win rates are
    :func:`win_rates` (the heatmap's numbers) x 100 with their bootstrap interval.
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
        if rates is None:
            rates = win_rates(battles, n_bootstrap=n_bootstrap, seed=seed)
        vs = rates[rates["opponent"] == baseline].set_index("model")
        lb["win rate %"] = lb["model"].map(100 * vs["win rate"])
        lb["wr ci low"] = lb["model"].map(100 * vs["ci low"])
        lb["wr ci high"] = lb["model"].map(100 * vs["ci high"])
        if {"len_a", "len_b"} <= set(battles.columns) and battles[["len_a", "len_b"]].notna().all().all():
            try:
                lc = ratings.length_controlled_win_rate(battles, baseline)
                lb["lc win rate %"] = lb["model"].map(lc["length_controlled_winrate"])
            except (KeyError, ValueError):  # too few battles to fit the GLM: leave it out
                pass
    notes = separation(battles)
    lb["warning"] = lb["model"].map(lambda m: "⚠ " + notes[m] if m in notes else None)
    return lb


def score_table(scores: pd.DataFrame, *, n_bootstrap: int = 200, seed: int = 0) -> pd.DataFrame:
    """``category | model | score | ci low | ci high | questions`` (overall first)."""
    agg = ratings.aggregate_scores(scores, n_bootstrap=n_bootstrap, seed=seed)
    agg = agg.rename(columns={"lower": "ci low", "upper": "ci high", "n_questions": "questions"})
    return agg[["category", "model", "score", "ci low", "ci high", "questions"]]


def win_matrix(battles: pd.DataFrame) -> pd.DataFrame:
    """Win rate of the row model against the column model (:func:`win_rates`), ``model`` first."""
    return win_matrix_from(win_rates(battles, n_bootstrap=0))


# --------------------------------------------------------------------------- judges


def position_bias(judgments: list[Judgment]) -> dict[str, dict[str, Any]]:
    """Per judge: pairs judged in both orders and how often the verdict flipped.

    Verdict labels are positional ("A" = the answer shown first); the judges package owns
    their meaning, so its own conversion to model terms is used.
    """
    from judges.pairwise import flip_rate

    return flip_rate(judgments)


def first_shown_wins(judgments: list[Judgment]) -> dict[str, tuple[int, int]]:
    """Per judge: (decisive parsed pairwise verdicts, how many picked the answer shown first).

    A judge without position bias picks the first-shown answer in about half of them.
    """
    from judges.pairwise import DEFAULT_VERDICTS

    out: dict[str, list[int]] = {}
    for j in judgments:
        if j.mode != "pairwise" or j.parse_error or j.verdict not in DEFAULT_VERDICTS or j.order not in ("AB", "BA"):
            continue
        shown = DEFAULT_VERDICTS[j.verdict].winner
        if shown in ("A", "B"):
            c = out.setdefault(j.judge, [0, 0])
            c[0] += 1
            c[1] += shown == "A"
    return {k: (v[0], v[1]) for k, v in out.items()}


def judge_diagnostics(
    judgments: pd.DataFrame, battles: pd.DataFrame, records: list[Judgment]
) -> pd.DataFrame:
    """Per judge: calls, parse failures, position bias (flip rate and its direction), agreement
    with humans, cost paid and cost the call cache saved.

    Args:
        judgments: the Judgment records as a frame.
        battles: all battles (judge sources are matched with ``human`` for agreement).
        records: the same Judgment records (for the position-bias computation).
    """
    if judgments.empty:
        return pd.DataFrame(columns=["judge", "calls", "parse failures"])
    bias_of = position_bias(records)
    first = first_shown_wins(records)
    saved: dict[str, float] = {}
    for r in records:
        saved[r.judge] = saved.get(r.judge, 0.0) + float((r.extra or {}).get("cached_cost", 0.0))
    has_human = not battles.empty and (battles["source"] == "human").any()
    rows = []
    for judge, g in judgments.groupby("judge", sort=True):
        fails = int(g["parse_error"].notna().sum())
        row: dict[str, Any] = {"judge": judge, "calls": len(g), "parse failures": fails,
                               "parse fail %": 100.0 * fails / len(g)}
        bias = bias_of.get(judge, {})
        row["pairs in both orders"] = int(bias.get("pairs", 0))
        row["flip %"] = 100.0 * bias["flip_rate"] if row["pairs in both orders"] else np.nan
        decided, firsts = first.get(str(judge), (0, 0))
        row["first shown wins %"] = 100.0 * firsts / decided if decided else np.nan
        row["kappa vs human"] = row["agree % vs human"] = np.nan
        row["n vs human"] = 0
        if has_human and (battles["source"] == f"judge:{judge}").any():
            ag = ratings.pairwise_agreement(battles, f"judge:{judge}", "human")
            row.update({"kappa vs human": ag.kappa, "agree % vs human": 100.0 * ag.rate,
                        "n vs human": ag.n})
        row["tokens"] = int(g["prompt_tokens"].sum() + g["completion_tokens"].sum())
        row["cost paid"] = float(g["cost"].sum())
        row["saved by cache"] = saved.get(str(judge), 0.0)
        row["latency s"] = float(g["latency"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def human_agreement(store: Store, run: str | None) -> tuple[pd.DataFrame, str]:
    """Judges vs the human votes (``arena agreement`` on the store) and a note on the raters."""
    from arena.agreement_data import store_result

    res = store_result(store, run)
    cols = ["judge", "n", "accuracy %", "precision", "recall", "f1", "kappa", "consistency %",
            "agree both orders %"]
    rows = [{"judge": source_label(src), "n": d["n"], "accuracy %": _pct(d["accuracy"]),
             "precision": d["precision"], "recall": d["recall"], "f1": d["f1"], "kappa": d["kappa"],
             "consistency %": _pct(d["consistency"]), "agree both orders %": _pct(d["agreement_both"])}
            for src, d in res.items()]
    note = ""
    if res:
        d = next(iter(res.values()))
        pairs = ", ".join(f"{k}: {_num(v)}" for k, v in d["human_kappa_pairs"].items())
        note = (f" Among the human raters: Fleiss' kappa {_num(d['fleiss_kappa'])} (n={d['n_fleiss']})"
                + (f"; Cohen's kappa {pairs}" if pairs else "") + "."
                + (f" {d['n_no_majority']} items without a human majority left out." if d["n_no_majority"] else ""))
    return pd.DataFrame(rows, columns=cols), note


def _pct(v: float | None) -> float:
    return np.nan if v is None else 100.0 * v


def _num(v: float | None) -> str:
    return MISSING if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def panel_table(battles: pd.DataFrame) -> pd.DataFrame:
    """Per panel source (``judge:panel-*``): how often each other judge agrees with it."""
    cols = ["panel", "judge", "n", "agree %", "kappa"]
    if battles.empty:
        return pd.DataFrame(columns=cols)
    sources = sorted(battles["source"].unique())
    panels = [s for s in sources if s.startswith("judge:panel")]
    rows = []
    for p in panels:
        for other in sources:
            if other == p or not other.startswith("judge:") or other.startswith("judge:panel"):
                continue
            ag = ratings.pairwise_agreement(battles, other, p)
            if ag.n:
                rows.append({"panel": source_label(p), "judge": source_label(other), "n": ag.n,
                             "agree %": 100.0 * ag.rate, "kappa": ag.kappa})
    return pd.DataFrame(rows, columns=cols)


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
