"""Read-only views over the store for the rating UI: leaderboards, progress, agreement, export.

Every function reads the store afresh (several UI processes may write to it) and calls the
pure functions of `arena.ratings`.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from arena.core.records import Battle, Vote
from arena.core.store import Store
from arena.ratings import (
    battle_count_matrix,
    bt_leaderboard,
    elo_leaderboard,
    pairwise_agreement,
    pairwise_win_matrix,
)

BATTLE_COLUMNS = ["source", "question_id", "model_a", "model_b", "winner", "turn"]


@dataclass(frozen=True)
class Leaderboard:
    """One leaderboard: ratings with 95% CIs, win-rate and battle-count matrices."""

    source: str
    table: pd.DataFrame  # model, rating, lower, upper, rank, n_battles, elo, elo_lower, elo_upper
    win_matrix: pd.DataFrame
    counts: pd.DataFrame


LIVE_FILTERS = {
    "all": "prepared and live battles",
    "prepared": "prepared questions only",
    "live": "live battles only (raters' own prompts)",
}


def battles_frame(store: Store) -> pd.DataFrame:
    """All Battle rows (judges and humans) as a battles table."""
    rows = [b.model_dump(include=set(BATTLE_COLUMNS)) for b in store.all(Battle)]
    return pd.DataFrame(rows, columns=BATTLE_COLUMNS)


def sources(store: Store) -> list[str]:
    """Leaderboards on offer: human, each judge, combined (only those with battles)."""
    present = sorted(set(battles_frame(store)["source"]))
    judges = [s for s in present if s != "human"]
    out = (["human"] if "human" in present else []) + judges
    return out + (["combined"] if len(out) > 1 else [])


def leaderboard(
    store: Store,
    source: str = "human",
    n_bootstrap: int = 100,
    seed: int = 0,
    live: str = "all",
    with_elo: bool = True,
) -> Leaderboard:
    """Bradley-Terry ratings with bootstrap 95% CIs for one source (or ``combined``), and
    online Elo with its bootstrap CI beside them.

    `live` keeps "all" battles, only the "prepared" questions, or only the "live" battles on
    the raters' own prompts (question ids ``live-...``).
    """
    if live not in LIVE_FILTERS:
        raise ValueError(f"live must be one of {', '.join(LIVE_FILTERS)}")
    df = battles_frame(store)
    if source != "combined":
        df = df[df["source"] == source]
    is_live = df["question_id"].astype(str).str.startswith("live-")
    if live != "all":
        df = df[is_live if live == "live" else ~is_live]
    cols = [
        "model",
        "rating",
        "lower",
        "upper",
        "rank",
        "n_battles",
        "elo",
        "elo_lower",
        "elo_upper",
    ]
    if df.empty:
        return Leaderboard(source, pd.DataFrame(columns=cols), pd.DataFrame(), pd.DataFrame())
    with warnings.catch_warnings():  # few votes: separation warnings are expected, CIs show it
        warnings.simplefilter("ignore")
        table = bt_leaderboard(df, n_bootstrap=n_bootstrap, seed=seed, allow_disconnected=True)
        if with_elo:
            elo = elo_leaderboard(df, n_bootstrap=n_bootstrap, seed=seed)
    if with_elo:
        elo = elo.rename(columns={"rating": "elo", "lower": "elo_lower", "upper": "elo_upper"})
        table = table.merge(elo[["model", "elo", "elo_lower", "elo_upper"]], on="model", how="left")
    return Leaderboard(source, table, pairwise_win_matrix(df), battle_count_matrix(df))


def human_cis(store: Store, n_bootstrap: int = 20) -> dict[str, tuple[float, float]]:
    """95% CI of each model's human rating (for the battle sampler); {} with no votes."""
    table = leaderboard(store, "human", n_bootstrap, with_elo=False).table
    return {
        r.model: (float(r.lower), float(r.upper))
        for r in table.itertuples()
        if not (math.isnan(r.lower) or math.isnan(r.upper))
    }


def progress(
    store: Store, question_set: str, pairs: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Votes per model pair (with how many questions are covered) and per question x pair."""
    votes = [v for v in store.all(Vote) if v.question_set == question_set]
    rows = [
        {"pair": " vs ".join(sorted((v.model_a, v.model_b))), "question_id": v.question_id}
        for v in votes
    ]
    df = pd.DataFrame(rows, columns=["pair", "question_id"])
    per_pair = pd.DataFrame(
        [
            {
                "pair": key.replace("|", " vs "),
                "votes": int((df["pair"] == key.replace("|", " vs ")).sum()),
                "questions covered": df.loc[
                    df["pair"] == key.replace("|", " vs "), "question_id"
                ].nunique(),
                "questions": len(qids),
            }
            for key, qids in pairs.items()
        ]
    )
    grid = pd.crosstab(df["question_id"], df["pair"]) if len(df) else pd.DataFrame()
    return per_pair, grid.reset_index() if len(grid) else grid


def agreement_tables(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Agreement and Cohen's kappa between every two raters who share battles, and of each
    judge with the humans (with and without ties)."""
    votes = store.all(Vote)
    per_rater = pd.DataFrame(
        [
            {
                "source": v.rater,
                "question_id": v.question_id,
                "model_a": v.model_a,
                "model_b": v.model_b,
                "winner": v.winner,
                "turn": v.turn,
            }
            for v in votes
        ],
        columns=BATTLE_COLUMNS,
    )
    raters = []
    for r1, r2 in itertools.combinations(sorted(set(per_rater["source"])), 2):
        a = pairwise_agreement(per_rater, r1, r2)
        if a.n:
            raters.append(
                {
                    "rater 1": r1,
                    "rater 2": r2,
                    "n": a.n,
                    "agreement": a.rate,
                    "cohen_kappa": a.kappa,
                }
            )
    df = battles_frame(store)
    judges = []
    for judge in sorted(s for s in set(df["source"]) if s.startswith("judge:")):
        for ties in (True, False):
            a = pairwise_agreement(df, judge, "human", include_ties=ties)
            judges.append(
                {
                    "judge": judge,
                    "ties": "with ties" if ties else "without ties",
                    "n": a.n,
                    "agreement": a.rate,
                    "cohen_kappa": a.kappa,
                }
            )
    return (
        pd.DataFrame(raters, columns=["rater 1", "rater 2", "n", "agreement", "cohen_kappa"]),
        pd.DataFrame(judges, columns=["judge", "ties", "n", "agreement", "cohen_kappa"]),
    )


def iter_export(store: Store, fmt: str = "csv", chunk: int = 500) -> Iterator[str]:
    """Every vote as CSV or JSONL text, in pieces (for a streamed download)."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
    cols = list(Vote.model_fields)
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(cols)
        yield buf.getvalue()
    batch: list[str] = []
    for v in store.all(Vote):
        if fmt == "jsonl":
            batch.append(v.model_dump_json() + "\n")
        else:
            row = json.loads(v.model_dump_json())
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow(
                ["" if row[c] is None else row[c] for c in cols]
            )
            batch.append(buf.getvalue())
        if len(batch) >= chunk:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def export_votes(store: Store, fmt: str = "csv") -> str:
    """Every vote as CSV or JSONL text."""
    votes = store.all(Vote)
    if fmt == "jsonl":
        return "".join(v.model_dump_json() + "\n" for v in votes)
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
    rows = [json.loads(v.model_dump_json()) for v in votes]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=list(Vote.model_fields)).to_csv(buf, index=False)
    return buf.getvalue()
