"""The report fixture plus what issue 14 checks: a separated model with an odd name, human
votes from two raters, cached judge calls with a price, and a judge panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from arena.core.records import Battle, Judgment, Vote
from arena.core.store import Store
from tests import report_fixtures as fx

ODD = 'zz <i>weak</i> & "tiny" model-with-a-rather-long-name'
PANEL = "judge:panel-majority"


def make_store(path: Path) -> Store:
    store = fx.make_store(path)
    extra = []
    for i, q in enumerate(fx.QUESTIONS[:12]):
        for m in fx.MODELS:  # ODD loses every battle: its rating is not identified
            a, b = (m, ODD) if i % 2 else (ODD, m)
            w = "model_a" if a == m else "model_b"
            extra.append(
                Battle(
                    source="human", question_id=q, model_a=a, model_b=b, winner=w, ref=f"odd{i}{m}"
                )
            )
            extra.append(
                Battle(source=f"judge:{fx.JUDGE}", question_id=q, model_a=a, model_b=b, winner=w)
            )
    panel = [
        b.model_copy(update={"source": PANEL})
        for b in store.all(Battle, fx.RUN)
        if b.source == f"judge:{fx.JUDGE}" and b.ref == ""
    ]
    votes = []
    for k, b in enumerate(fx.human_battles(np.random.default_rng(3))):
        for r in ("alice", "bob"):
            w = b.winner if (r == "alice" or k % 5) else "tie"
            votes.append(
                Vote(
                    battle_id=f"{r}{k}",
                    rater=r,
                    question_id=b.question_id,
                    model_a=b.model_a,
                    model_b=b.model_b,
                    winner=w,
                )
            )
    cached = [
        Judgment(
            judge="cached-judge@gpt-4o",
            judge_hash="c",
            mode="single",
            question_id=q,
            model_a=m,
            order="A",
            score=5.0,
            cost=0.0,
            extra={"cached_calls": 1, "cached_cost": 0.002},
        )
        for q in fx.QUESTIONS[:5]
        for m in fx.MODELS
    ]
    store.put_many(extra + panel + votes + cached, fx.RUN)
    return store
