"""Pairwise judging: which pairs, in which order shown, and how verdicts become battles.

Pairs: all pairs, every model against a baseline, or m-to-n (each of one list against each
of another). Position policy: `both-orders` judges (A, B) and (B, A); `random-swap` shows one
order drawn from a seeded hash (stable across runs); `fixed` always shows model_a first.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from arena.core.records import Answer, Battle, Judgment, Question, content_hash
from judges.judge import Judge, Verdict
from judges.tasks import AnswerIndex, JudgeTask, judged_turns

# Labels of every built-in judge, for judgments that arrive without their Judge (imports).
DEFAULT_VERDICTS: dict[str, Verdict] = {
    "A": Verdict(winner="A"), "B": Verdict(winner="B"), "C": Verdict(winner="tie"),
    "tie": Verdict(winner="tie"), "tie_bothbad": Verdict(winner="tie_bothbad"),
    "A>>B": Verdict(winner="A", weight=3), "A>B": Verdict(winner="A"), "A=B": Verdict(winner="tie"),
    "B>A": Verdict(winner="B"), "B>>A": Verdict(winner="B", weight=3),
    "1": Verdict(winner="A"), "2": Verdict(winner="B"), "1.5": Verdict(winner="tie"),
}
_WINNER = {"A": "model_a", "B": "model_b", "tie": "tie", "tie_bothbad": "tie (bothbad)"}
_SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


def all_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair once, in the given model order."""
    return list(itertools.combinations(list(dict.fromkeys(models)), 2))


def baseline_pairs(models: Sequence[str], baseline: str) -> list[tuple[str, str]]:
    """(baseline, model) for every other model (the baseline is model_a, as in arena-hard)."""
    return [(baseline, m) for m in dict.fromkeys(models) if m != baseline]


def m_to_n_pairs(left: Sequence[str], right: Sequence[str]) -> list[tuple[str, str]]:
    """Each model of `left` against each of `right` (same model never against itself)."""
    return [(a, b) for a in dict.fromkeys(left) for b in dict.fromkeys(right) if a != b]


def orders(judge: Judge, qid: str, pair: tuple[str, str], turn: int) -> list[str]:
    """The orders shown for one pair under the judge's position policy."""
    policy = judge.config.position
    if policy == "both-orders":
        return ["AB", "BA"]
    if policy == "fixed":
        return ["AB"]
    coin = int(content_hash([judge.config.seed, qid, list(pair), turn], 8), 16) % 2
    return ["BA" if coin else "AB"]


def pairwise_tasks(judge: Judge, judge_model: str, questions: Sequence[Question], index: AnswerIndex,
                   pairs: Sequence[tuple[str, str]]) -> list[JudgeTask]:
    """A task per pair, question, judged turn and order shown (pairs lacking answers left out)."""
    tasks = []
    judge_id = judge.judge_id(judge_model)
    for q in questions:
        turns = judged_turns(judge, q)
        for a, b in pairs:
            ans_a, ans_b = index.get((a, q.id)), index.get((b, q.id))
            if ans_a is None or ans_b is None or min(len(ans_a.turns), len(ans_b.turns)) < len(q.turns):
                continue
            for t in turns:
                for order in orders(judge, q.id, (a, b), t):
                    shown = [ans_a, ans_b] if order == "AB" else [ans_b, ans_a]
                    tasks.append(JudgeTask(q, t, a, b, order, functools.partial(judge.messages, q, t, shown),
                                           judge_id, judge.hash, "pairwise"))
    return tasks


def model_winner(j: Judgment, verdicts: dict[str, Verdict]) -> tuple[str, float] | None:
    """(winner in model terms, weight) of a parsed pairwise judgment; None if unparsed."""
    if j.parse_error or j.verdict is None or j.verdict not in verdicts:
        return None
    v = verdicts[j.verdict]
    w = _WINNER[v.winner]
    return (_SWAP[w] if j.order == "BA" else w), v.weight


@dataclass
class PairOutcome:
    """The consolidated verdict on one (judge, question, pair, turn)."""

    judge: str
    question_id: str
    model_a: str
    model_b: str
    turn: int
    winners: dict[str, tuple[str, float]]  # order -> (winner, weight)

    @property
    def consistent(self) -> bool | None:
        if len(self.winners) < 2:
            return None
        return len({w for w, _ in self.winners.values()}) == 1


def outcomes(judgments: Iterable[Judgment], verdicts: dict[str, Verdict] | None = None) -> list[PairOutcome]:
    """Group parsed pairwise judgments by (judge, question, pair, turn)."""
    verdicts = verdicts or DEFAULT_VERDICTS
    # (winner in model terms, weight) per (verdict, order): model_winner's answer, looked up
    # once instead of per judgment (this loop runs over every stored judgment on a rerun)
    by_verdict = {(name, order): ((_SWAP[_WINNER[v.winner]] if order == "BA" else _WINNER[v.winner]), v.weight)
                  for name, v in verdicts.items() for order in ("AB", "BA", "A")}
    groups: dict[tuple, PairOutcome] = {}
    for j in judgments:
        if j.mode != "pairwise" or j.model_b is None or j.parse_error:
            continue
        mw = by_verdict.get((j.verdict, j.order))
        if mw is None:
            continue
        k = (j.judge, j.question_id, j.model_a, j.model_b, j.turn)
        o = groups.get(k)
        if o is None:
            o = groups[k] = PairOutcome(*k, winners={})
        o.winners[j.order] = mw
    return list(groups.values())


def judgments_to_battles(judgments: Iterable[Judgment], judge: Judge | None = None,
                         inconsistent: str | None = None) -> list[Battle]:
    """Parsed pairwise judgments -> `Battle` rows (source `judge:<id>`).

    Both orders agreeing give one battle (mean weight); disagreeing ones give a tie
    (`inconsistent: tie`) or half a win each (`half`: two battles of weight 0.5).
    Parse failures give no battle (they are counted in the JudgeReport).
    """
    verdicts = judge.config.verdicts if judge else DEFAULT_VERDICTS
    policy = inconsistent or (judge.config.inconsistent if judge else "tie")
    judgments = list(judgments)
    out = _fractional(judgments, verdicts)
    for o in outcomes(judgments, verdicts):
        base = dict(source=f"judge:{o.judge}", question_id=o.question_id, model_a=o.model_a,
                    model_b=o.model_b, turn=o.turn)
        ws = list(o.winners.values())
        if o.consistent is False:
            if policy == "half":
                out += [Battle(**base, winner="model_a", weight=0.5, ref="half:a"),
                        Battle(**base, winner="model_b", weight=0.5, ref="half:b")]
            else:
                out.append(Battle(**base, winner="tie", ref="inconsistent"))
            continue
        out.append(Battle(**base, winner=ws[0][0], weight=sum(w for _, w in ws) / len(ws)))  # type: ignore[arg-type]
    return out


def add_length_features(battles: Iterable[Battle], answers: Iterable[Answer]) -> list[Battle]:
    """Battles with `len_a`/`len_b` (characters of the judged turn's answers), the inputs of
    length-controlled win rates and style control; battles lacking an answer stay as they are."""
    text = {(a.model, a.question_id): a.turns for a in answers}
    out = []
    for b in battles:
        ta, tb = text.get((b.model_a, b.question_id)), text.get((b.model_b, b.question_id))
        if ta is None or tb is None or len(ta) < b.turn or len(tb) < b.turn:
            out.append(b)
            continue
        feats = {**b.features, "len_a": float(len(ta[b.turn - 1])), "len_b": float(len(tb[b.turn - 1]))}
        out.append(b.model_copy(update={"features": feats}))
    return out


def _fractional(judgments: list[Judgment], verdicts: dict[str, Verdict]) -> list[Battle]:
    """AlpacaEval's fractional preferences p in (1, 2): model_a wins 2-p, model_b wins p-1."""
    out = []
    for j in judgments:
        p = j.score
        if j.mode != "pairwise" or j.parse_error or j.verdict in verdicts or p is None or not 1 < p < 2:
            continue
        base = dict(source=f"judge:{j.judge}", question_id=j.question_id, model_a=j.model_a,
                    model_b=j.model_b, turn=j.turn)
        out += [Battle(**base, winner="model_a", weight=2 - p, ref="pref:a"),
                Battle(**base, winner="model_b", weight=p - 1, ref="pref:b")]
    return out


def flip_rate(judgments: Iterable[Judgment], verdicts: dict[str, Verdict] | None = None) -> dict[str, dict]:
    """Per judge: pairs seen in both orders, how many flipped, the rate and its lean."""
    from arena.ratings.agreement import position_bias

    rows: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for o in outcomes(judgments, verdicts):
        if o.consistent is not None:
            g1, g2 = rows[o.judge]
            g1.append(o.winners["AB"][0])
            g2.append(o.winners["BA"][0])
    out = {}
    for judge, (g1, g2) in rows.items():
        pb = position_bias(g1, g2)
        out[judge] = {"pairs": pb.n_pairs, "flips": pb.n_flips, "flip_rate": pb.flip_rate,
                      "prefers_first": pb.prefers_first, "prefers_second": pb.prefers_second}
    return out
