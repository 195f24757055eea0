"""`arena agreement` against scikit-learn and statsmodels on synthetic files, and on a store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.core.records import Battle, Judgment, Vote
from arena.core.store import Store

sklearn_metrics = pytest.importorskip("sklearn.metrics")
runner = CliRunner()
RAW = {"A": "model_a", "B": "model_b", "tie": "tie"}


def _synthetic(n: int, seed: int, missing: bool = False) -> list[dict]:
    """Three noisy human raters, a judge right ~70% of the time, its swapped-order verdict."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(["A", "B", "tie"], n, p=[0.45, 0.4, 0.15])
    rows = []
    for i, t in enumerate(truth):

        def noisy(p: float, t: str = t) -> str:
            return t if rng.random() < p else str(rng.choice(["A", "B", "tie"]))

        judge = noisy(0.7)
        # swapped order, not re-mapped: a consistent judge says the other letter
        swapped = (
            {"A": "B", "B": "A", "tie": "tie"}[judge]
            if rng.random() < 0.8
            else str(rng.choice(["A", "B", "tie"]))
        )
        row = {
            "id": i,
            "lang": "en" if i % 3 else "zh",
            "h1": RAW[noisy(0.8)],
            "h2": RAW[noisy(0.75)],
            "h3": RAW[noisy(0.6)],
            "judge": RAW[judge],
            "judge_swapped": RAW[swapped],
        }
        if missing and i % 7 == 0:
            row["h3"] = None
        rows.append(row)
    return rows


def _majority(row: dict, cols: list[str]) -> str | None:
    c = Counter(row[k] for k in cols if row.get(k) is not None).most_common()
    return c[0][0] if c and (len(c) == 1 or c[0][1] > c[1][1]) else None


def _expected(rows: list[dict], human: list[str]) -> dict:
    """The reference numbers: scikit-learn on the rows with a human majority."""
    keep = [r for r in rows if _majority(r, human) is not None]
    t = [_majority(r, human) for r in keep]
    p = [r["judge"] for r in keep]
    prec, rec, f1, _ = sklearn_metrics.precision_recall_fscore_support(
        t, p, average="macro", zero_division=0
    )
    unmap = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    cons = np.mean([r["judge"] == unmap[r["judge_swapped"]] for r in rows])
    both = sum(r["judge"] == unmap[r["judge_swapped"]] == m for r, m in zip(keep, t)) / len(keep)
    pairs = {}
    for i, a in enumerate(human):
        for b in human[i + 1 :]:
            ok = [r for r in rows if r[a] is not None and r[b] is not None]
            pairs[f"{a} vs {b}"] = sklearn_metrics.cohen_kappa_score(
                [r[a] for r in ok], [r[b] for r in ok]
            )
    return {
        "n": len(keep),
        "accuracy": sklearn_metrics.accuracy_score(t, p),
        "precision": prec,
        "recall": rec,
        "f1": f1,
        "kappa": sklearn_metrics.cohen_kappa_score(t, p),
        "consistency": cons,
        "agreement_both": both,
        "human_kappa_pairs": pairs,
    }


def _fleiss_statsmodels(rows: list[dict], human: list[str]) -> float:
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    codes = {"model_a": 0, "model_b": 1, "tie": 2}
    full = [[codes[r[c]] for c in human] for r in rows if all(r[c] is not None for c in human)]
    table, _ = aggregate_raters(np.array(full))
    return float(fleiss_kappa(table, method="fleiss"))


def _check(got: dict, want: dict) -> None:
    assert got["n"] == want["n"]
    for k in ("accuracy", "precision", "recall", "f1", "kappa", "consistency", "agreement_both"):
        assert got[k] == pytest.approx(want[k], abs=1e-12), k
    assert got["human_kappa_pairs"].keys() == want["human_kappa_pairs"].keys()
    for k, v in want["human_kappa_pairs"].items():
        assert got["human_kappa_pairs"][k] == pytest.approx(v, abs=1e-12), k


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_agreement_equals_sklearn_and_statsmodels(tmp_path: Path, suffix: str) -> None:
    rows = _synthetic(400, seed=1)
    f = tmp_path / f"labels{suffix}"
    f.write_text(
        "".join(json.dumps(r) + "\n" for r in rows) if suffix == ".jsonl" else json.dumps(rows)
    )
    human = ["h1", "h2", "h3"]
    res = runner.invoke(
        app,
        [
            "agreement",
            str(f),
            "--human",
            *human,
            "--judge",
            "judge",
            "--swapped",
            "judge_swapped",
            "--by",
            "lang",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert set(got) >= {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "kappa",
        "human_kappa_pairs",
        "fleiss_kappa",
        "consistency",
        "agreement_both",
        "n",
    }
    _check(got, _expected(rows, human))
    assert got["fleiss_kappa"] == pytest.approx(_fleiss_statsmodels(rows, human), abs=1e-12)
    assert 0.3 < got["accuracy"] < 0.95 and got["n"] < 400  # a real, imperfect judge; some rows tie
    for lang in ("en", "zh"):
        _check(got["by"][lang], _expected([r for r in rows if r["lang"] == lang], human))


def test_agreement_repeated_flags_missing_labels_and_label_map(tmp_path: Path) -> None:
    rows = _synthetic(300, seed=2, missing=True)
    code = {"model_a": 1, "model_b": 2, "tie": 1.5}  # AlpacaEval-style preferences
    coded = [
        {
            **r,
            **{
                c: (code[r[c]] if r[c] is not None else None)
                for c in ("h1", "h2", "h3", "judge", "judge_swapped")
            },
        }
        for r in rows
    ]
    f = tmp_path / "prefs.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in coded))
    res = runner.invoke(
        app,
        [
            "agreement",
            str(f),
            "--human",
            "h1",
            "--human",
            "h2",
            "--human",
            "h3",
            "--judge",
            "judge",
            "--swapped",
            "judge_swapped",
            "--labels",
            "1.5=tie,1=A,2=B",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    _check(got, _expected(rows, ["h1", "h2", "h3"]))
    full = [r for r in rows if r["h3"] is not None]
    assert got["fleiss_kappa"] == pytest.approx(
        _fleiss_statsmodels(full, ["h1", "h2", "h3"]), abs=1e-12
    )


def test_agreement_text_and_clear_errors(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text('{"h": "model_a", "j": "model_a"}\n{"h": "model_b", "j": "maybe"}\n')
    res = runner.invoke(app, ["agreement", str(f), "--human", "h", "--judge", "j"])
    assert res.exit_code != 0
    assert (
        "row 2" in str(res.exception)
        and "'maybe'" in str(res.exception)
        and "field 'j'" in str(res.exception)
    )
    res = runner.invoke(app, ["agreement", str(f), "--human", "nope", "--judge", "j"])
    assert "no column 'nope'" in str(res.exception)
    f.write_text('{"h": "model_a", "j": "model_a"}\n{"h": "model_b", "j": "tie"}\n')
    res = runner.invoke(app, ["agreement", str(f), "--human", "h", "--judge", "j"])
    assert res.exit_code == 0 and "accuracy 0.5000" in res.output, res.output


def test_agreement_on_a_store_with_votes_and_judge_orders(tmp_path: Path) -> None:
    st = Store(tmp_path / "s.sqlite")
    votes, judgments = [], []
    # 6 items: two raters agree except on q5; the judge (both orders) right on q0-q3, flips on q4
    truth = ["model_a", "model_b", "tie", "model_a", "model_b", "model_a"]
    for i, w in enumerate(truth):
        # raters saw the pair in the other order (y vs x): the same verdicts, re-mapped
        flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}[w]
        votes.append(
            Vote(
                battle_id=f"b{i}",
                rater="r1",
                question_id=f"q{i}",
                model_a="y",
                model_b="x",
                winner=flip,
            )
        )
        r2 = flip if i != 5 else "tie"
        votes.append(
            Vote(
                battle_id=f"c{i}",
                rater="r2",
                question_id=f"q{i}",
                model_a="y",
                model_b="x",
                winner=r2,
            )
        )
        judge_w = w if i < 4 else {"model_a": "model_b", "model_b": "model_a"}.get(w, w)
        lab = {"model_a": "A", "model_b": "B", "tie": "C"}
        judgments.append(
            Judgment(
                judge="mt-bench-pair@j",
                judge_hash="h",
                mode="pairwise",
                question_id=f"q{i}",
                model_a="x",
                model_b="y",
                order="AB",
                verdict=lab[judge_w],
            )
        )
        other = judge_w if i != 4 else w  # q4: the other order disagrees (a flip)
        ba = {"model_a": "B", "model_b": "A", "tie": "C"}[other]
        judgments.append(
            Judgment(
                judge="mt-bench-pair@j",
                judge_hash="h",
                mode="pairwise",
                question_id=f"q{i}",
                model_a="x",
                model_b="y",
                order="BA",
                verdict=ba,
            )
        )
    st.put_many(votes)
    st.put_many(judgments)
    from judges.pairwise import judgments_to_battles

    st.put_many(judgments_to_battles(judgments))
    st.put_many(
        [
            Battle(
                source="human",
                question_id=v.question_id,
                model_a=v.model_a,
                model_b=v.model_b,
                winner=v.winner,
                ref=v.battle_id,
            )
            for v in votes
        ]
    )  # the same votes: not counted twice
    res = runner.invoke(app, ["agreement", "--store", str(tmp_path / "s.sqlite"), "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["judges"]["judge:mt-bench-pair@j"]
    # majority (x first = A): q0 A, q1 B, q2 tie, q3 A, q4 B, q5 none (r1 A vs r2 tie)
    # judge battles: q0 A, q1 B, q2 tie, q3 A, q4 inconsistent -> tie, q5 B
    assert got["n"] == 5 and got["n_no_majority"] == 1
    assert got["accuracy"] == pytest.approx(4 / 5)
    t, p = ["A", "B", "tie", "A", "B"], ["A", "B", "tie", "A", "tie"]
    assert got["kappa"] == pytest.approx(sklearn_metrics.cohen_kappa_score(t, p))
    assert got["consistency"] == pytest.approx(5 / 6)  # q4 flipped
    assert got["agreement_both"] == pytest.approx(4 / 5)
    assert list(got["human_kappa_pairs"]) == ["r1 vs r2"]
