"""A judge panel: several judges' verdicts on the same items, combined, disagreements listed.

Pairwise: each judge's consolidated winner per (question, pair, turn) (both orders already
merged by `judgments_to_battles`), then `majority` (more than half the judges; no majority
gives a tie) or `mean` (model_a's mean share, win 1, tie 0.5, loss 0; above 0.5 wins).
Single: the `mean` of the judges' scores per (model, question, turn), or their `majority`
(the median, which a majority of judges is at or beyond), with their spread.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from statistics import mean, median

from arena.core.records import Battle, Judgment, Score
from judges.judge import Judge
from judges.pairwise import judgments_to_battles


@dataclass
class PanelResult:
    """Combined verdicts plus every item on which the judges did not all agree."""

    battles: list[Battle] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    disagreements: list[dict] = field(default_factory=list)
    items: int = 0

    @property
    def disagreement_rate(self) -> float:
        return len(self.disagreements) / self.items if self.items else float("nan")


def _judge_of(judges: Sequence[Judge], judge_id: str) -> Judge | None:
    return next((j for j in judges if judge_id.startswith(j.name + "@")), None)


PANEL_METHODS = ("majority", "mean")
_SHARE = {"model_a": 1.0, "tie": 0.5, "tie (bothbad)": 0.5, "model_b": 0.0}


def _combine(votes: dict[str, str], method: str) -> str:
    if method == "mean":
        share = mean(_SHARE[w] for w in votes.values())
        return "model_a" if share > 0.5 else "model_b" if share < 0.5 else "tie"
    top, n = Counter(votes.values()).most_common(1)[0]
    return top if n * 2 > len(votes) else "tie"


def panel_battles(judgments: Iterable[Judgment], judges: Sequence[Judge] = (), name: str = "panel",
                  method: str = "majority") -> PanelResult:
    """Combine judges' verdicts by `method` (each judge's battles first consolidated by its own policy)."""
    if method not in PANEL_METHODS:
        raise ValueError(f"panel method must be one of {', '.join(PANEL_METHODS)}, not {method!r}")
    by_judge: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        if j.mode == "pairwise":
            by_judge[j.judge].append(j)
    votes: dict[tuple, dict[str, str]] = defaultdict(dict)
    for jid, js in by_judge.items():
        for b in judgments_to_battles(js, _judge_of(judges, jid)):
            if b.ref in ("half:b", "pref:b"):
                continue  # the other half of a split verdict counts once, as a tie
            winner = "tie" if b.ref in ("half:a", "pref:a") else b.winner
            votes[(b.question_id, b.model_a, b.model_b, b.turn)][jid] = winner
    out = PanelResult(items=len(votes))
    for (qid, a, b, turn), v in sorted(votes.items()):
        winner = _combine(v, method)
        out.battles.append(Battle(source=f"judge:{name}", question_id=qid, model_a=a, model_b=b,
                                  winner=winner, turn=turn))  # type: ignore[arg-type]
        if len(set(v.values())) > 1:
            out.disagreements.append({"question_id": qid, "model_a": a, "model_b": b, "turn": turn,
                                      "votes": dict(v), "panel": winner})
    return out


def panel_scores(judgments: Iterable[Judgment], name: str = "panel", tolerance: float = 0.0,
                 method: str = "mean") -> PanelResult:
    """Mean (or median: `majority`) score over judges; an item whose scores spread more than
    `tolerance` is listed."""
    if method not in PANEL_METHODS:
        raise ValueError(f"panel method must be one of {', '.join(PANEL_METHODS)}, not {method!r}")
    combine = mean if method == "mean" else median
    by_item: dict[tuple, dict[str, float]] = defaultdict(dict)
    sets: dict[tuple, str] = {}
    for j in judgments:
        if j.mode == "single" and j.score is not None and not j.parse_error:
            k = (j.model_a, j.question_id, j.turn)
            by_item[k][j.judge] = j.score
            sets[k] = j.question_set
    out = PanelResult(items=len(by_item))
    for (model, qid, turn), s in sorted(by_item.items()):
        out.scores.append(Score(source=f"judge:{name}", model=model, question_set=sets[(model, qid, turn)],
                                question_id=qid, turn=turn, score=float(combine(s.values())),
                                dimensions={f"judge:{k}": v for k, v in s.items()}))
        if max(s.values()) - min(s.values()) > tolerance:
            out.disagreements.append({"model": model, "question_id": qid, "turn": turn, "scores": dict(s)})
    return out
