"""Imports of files exactly as AlpacaEval, FastChat (MT-Bench, Chatbot Arena) and arena-hard
write them — dict ``raw_completion``, null and legacy-0 preferences, ``"error"`` winners, score
-1, ``tie (bothbad)``, null arena-hard games — each round-tripped (import, export, same rows)
and turned into ratings that equal the upstream tools' numbers (golden files made by the peers,
see tests/test_ratings_lc_alpaca.py and tests/test_ratings_fastchat.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.core.records import Battle, DatasetResult, Judgment, Score
from arena.core.store import Store
from arena.ratings.arena_hard import arena_hard_v01
from arena.ratings.bradley_terry import fastchat_bt, fit_bt
from arena.ratings.length_control import length_controlled_win_rate, load_lc_inputs
from arena.ratings.mt_bench import mt_bench_single_table
from judges.formats import export_format, import_format
from judges.formats_ext import alpaca_eval_battles

GOLDEN = Path(__file__).parent / "golden"


def _canon(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    rows = (
        json.loads(text)
        if path.suffix == ".json"
        else [json.loads(x) for x in text.splitlines() if x]
    )

    def num(x: object) -> object:
        if isinstance(x, dict):
            return {k: num(v) for k, v in x.items()}
        if isinstance(x, list):
            return [num(v) for v in x]
        return int(x) if isinstance(x, float) and x.is_integer() else x

    return sorted(json.dumps(num(r), sort_keys=True, ensure_ascii=False) for r in rows)


LEADERBOARD = """,win_rate,standard_error,n_wins,n_wins_base,n_draws,n_total,discrete_win_rate,mode,avg_length,length_controlled_winrate,lc_standard_error
gpt-4o-2024-05-13,51.32757578249279,1.4700094589795554,429,369,7,805,53.72670807453416,minimal,1873,57.45682883335095,
gpt4_1106_preview,50.0,0.0,0,0,805,805,50.0,minimal,2049,50.0,
Together-MoA,59.8688062333292,1.434305604543079,490,314,1,805,60.93167701863354,community,1825,65.37996976852163,0.7392392836781445
"""


def test_alpaca_eval_files_round_trip_and_give_alpaca_evals_lc(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    src, out = tmp_path / "results", tmp_path / "out"
    for d in (GOLDEN / "alpaca_eval").iterdir():
        if d.is_dir():
            shutil.copytree(d, src / d.name)
    (src / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv").write_text(LEADERBOARD)
    raw = json.loads((src / "alpaca-7b" / "annotations.json").read_text())
    assert any(isinstance(r["raw_completion"], dict) for r in raw) and any(
        r["preference"] is None for r in raw
    )
    assert any(r["preference"] == 0 for r in raw)
    store = Store(tmp_path / "s.sqlite")
    counts = import_format("alpaca-eval", src, store)
    assert (
        counts["judgments"] == 6 * 40 and counts["failed"] > 0 and counts["results"] == 3 * 10 - 2
    )
    export_format("alpaca-eval", store, out)
    for f in src.rglob("*.json"):
        assert _canon(out / f.relative_to(src)) == _canon(f), f
    got = pd.read_csv(out / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv", index_col=0)
    want = pd.read_csv(src / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv", index_col=0)
    pd.testing.assert_frame_equal(got.loc[want.index, want.columns], want)
    # ratings from the store equal alpaca_eval's own numbers on the source files
    peer = json.loads((GOLDEN / "alpaca_eval" / "peer_alpaca_eval_0.6.6.json").read_text())[
        "length_controlled_v1"
    ]
    lc = length_controlled_win_rate(
        alpaca_eval_battles(store),
        "gpt4_1106_preview",
        inputs=load_lc_inputs(GOLDEN / "alpaca_eval" / "df_gamed.csv"),
    )
    for m, v in peer.items():
        for k in ("win_rate", "length_controlled_winrate", "n_total", "discrete_win_rate"):
            assert abs(lc.loc[m, k] - v[k]) <= 1e-6, (m, k)
    assert lc.loc["gpt4_1106_preview", "length_controlled_winrate"] == 50.0
    assert {r.metric for r in store.all(DatasetResult)} >= {"length_controlled_winrate", "win_rate"}


def test_mt_bench_judgments_become_scores_and_battles_equal_to_fastchat(tmp_path: Path) -> None:
    src, out = tmp_path / "mt_bench", tmp_path / "out"
    shutil.copytree(GOLDEN / "fastchat" / "model_judgment", src / "model_judgment")
    single = [
        json.loads(x) for x in (src / "model_judgment/gpt-4_single.jsonl").read_text().splitlines()
    ]
    pair = [
        json.loads(x) for x in (src / "model_judgment/gpt-4_pair.jsonl").read_text().splitlines()
    ]
    store = Store(tmp_path / "s.sqlite")
    counts = import_format("mt-bench", src, store)
    n_err = sum(r["score"] == -1 for r in single) + sum(
        "error" in (r["g1_winner"], r["g2_winner"]) for r in pair
    )
    assert counts["errors"] == n_err > 0
    assert counts["scores"] == sum(r["score"] != -1 for r in single)
    assert counts["judgments"] == len(single) + 2 * len(pair)
    export_format("mt-bench", store, out)
    for name in ("gpt-4_single.jsonl", "gpt-4_pair.jsonl"):
        assert _canon(out / "model_judgment" / name) == _canon(src / "model_judgment" / name)
    peer = json.loads((GOLDEN / "fastchat" / "peer_fschat_0.2.36.json").read_text())
    scores = pd.DataFrame(
        [{"model": s.model, "turn": s.turn, "score": s.score} for s in store.all(Score)]
    )
    table = mt_bench_single_table(scores)
    for key, v in peer["mt_single"]["average"].items():
        assert table.loc[key, "average"] == pytest.approx(v, abs=1e-12)
    battles = store.frame(Battle)
    for m, row in peer["mt_pair"].items():
        mine = battles[(battles["model_a"] == m) | (battles["model_b"] == m)]
        won = ((mine["model_a"] == m) & (mine["winner"] == "model_a")) | (
            (mine["model_b"] == m) & (mine["winner"] == "model_b")
        )
        assert (int(won.sum()), int((mine["winner"] == "tie").sum())) == (row["win"], row["tie"])
    assert len(fit_bt(battles).as_series()) == 5  # the battles rate


def test_chatbot_arena_battles_keep_rater_and_rate_like_fastchat(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    src = GOLDEN / "fastchat" / "battles.json"
    raw = json.loads(src.read_text())
    store = Store(tmp_path / "s.sqlite")
    assert import_format("chatbot-arena", src, store) == {"battles": len(raw)}
    export_format("chatbot-arena", store, tmp_path / "out")
    keys = (
        "question_id",
        "model_a",
        "model_b",
        "winner",
        "turn",
        "judge",
        "anony",
        "language",
        "tstamp",
    )
    got = json.loads((tmp_path / "out" / "battles.json").read_text())
    assert sorted(json.dumps(r, sort_keys=True) for r in got) == sorted(
        json.dumps({k: r[k] for k in keys}, sort_keys=True) for r in raw
    )
    peer = json.loads((GOLDEN / "fastchat" / "peer_fschat_0.2.36.json").read_text())
    df = (
        store.frame(Battle).sort_values("tstamp").reset_index(drop=True)
    )  # FastChat sorts by tstamp
    assert (df["winner"] == "tie (bothbad)").any()
    for name, sel in (("bt_all", df), ("bt_anony", df[df["anony"] == True])):  # noqa: E712
        r = fastchat_bt(sel)
        assert max(abs(r[m] - v) for m, v in peer[name].items()) <= 0.01
    anony = store.all(Battle, anony=True)
    assert len(anony) == sum(r["anony"] for r in raw)
    b0 = next(b for b in store.all(Battle) if b.question_id == raw[0]["question_id"])
    assert (b0.rater, b0.language, b0.tstamp) == (
        raw[0]["judge"],
        raw[0]["language"],
        raw[0]["tstamp"],
    )
    meta = raw[0]["conv_metadata"]
    assert b0.features["len_a"] == meta["sum_assistant_a_tokens"]
    assert b0.features["header_b"] == sum(meta["header_count_b"].values())


def _arena_hard_tree(root: Path) -> Path:
    rng = np.random.default_rng(11)
    labels = ["A>>B", "A>B", "A=B", "B>A", "B>>A"]
    (root / "model_judgment" / "gpt-4-1106-preview").mkdir(parents=True)
    qs = [
        {
            "question_id": f"{i:032x}",
            "category": "arena-hard-v0.1",
            "cluster": "Python",
            "turns": [{"content": f"Question {i}?"}],
        }
        for i in range(30)
    ]
    (root / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
    (root / "model_answer").mkdir()
    for m, skill in (("gpt-4-0314", 0.0), ("m-good", 1.0), ("m-bad", -1.0)):
        ans = [
            {
                "question_id": q["question_id"],
                "answer_id": f"a{m}{i}",
                "model_id": m,
                "choices": [
                    {"index": 0, "turns": [{"content": f"{m} answer {i}", "token_len": 10 + i}]}
                ],
                "tstamp": 1712000000.5 + i,
            }
            for i, q in enumerate(qs)
        ]
        (root / "model_answer" / f"{m}.jsonl").write_text(
            "".join(json.dumps(a) + "\n" for a in ans)
        )
        if m == "gpt-4-0314":
            continue
        rows = []
        for q in qs:
            games = []
            for g in range(2):
                k = int(np.digitize(skill + rng.normal(0, 1.2), [-1.5, -0.5, 0.5, 1.5]))
                score = None if rng.uniform() < 0.05 else (labels[k] if g == 0 else labels[4 - k])
                games.append(
                    {
                        "user_prompt": "<|User Prompt|>\nq\n\n<|The Start of Assistant A's Answer|>",
                        "judgment": f"My final verdict is [[{score}]]" if score else "no verdict",
                        "score": score,
                    }
                )
            rows.append(
                {
                    "question_id": q["question_id"],
                    "model": m,
                    "judge": "gpt-4-1106-preview",
                    "games": games,
                }
            )
        (root / "model_judgment" / "gpt-4-1106-preview" / f"{m}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    return root


def test_arena_hard_files_round_trip_and_score_like_arena_hard(tmp_path: Path) -> None:
    src = _arena_hard_tree(tmp_path / "arena-hard-v0.1")
    store = Store(tmp_path / "s.sqlite")
    counts = import_format("arena-hard", src, store)
    assert counts["errors"] > 0 and counts["judgments"] == 2 * 2 * 30
    export_format("arena-hard", store, tmp_path / "out")
    for f in src.rglob("*.jsonl"):
        if f.name != "question.jsonl":  # our Question has no field for arena-hard's `cluster`
            assert _canon(tmp_path / "out" / f.relative_to(src)) == _canon(f), f
    # weighted store battles give the same BT as arena-hard's repeated rows
    judgments = pd.concat(
        [
            pd.read_json(f, lines=True)
            for f in sorted((src / "model_judgment/gpt-4-1106-preview").glob("*.jsonl"))
        ],
        ignore_index=True,
    )
    ref = arena_hard_v01(judgments, "gpt-4-0314", n_rounds=5)
    fit = fit_bt(store.frame(Battle), anchor="gpt-4-0314", l2=0.0).as_series()
    wr = 100 / (1 + 10 ** ((1000 - fit) / 400))
    assert np.allclose(wr[ref.index], ref["score"], atol=1e-6)
    assert len(store.all(Judgment, parse_error="no verdict")) == counts["errors"]
