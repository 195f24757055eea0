"""Interop round trips: import then export gives back equivalent files (same rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.core.errors import DataError
from arena.core.records import Battle, Judgment, Score
from arena.core.store import Store
from judges.formats import export_format, import_format
from judges.pairwise import judgments_to_battles


def _w(path: Path, rows: list[dict], jsonl: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) if jsonl else json.dumps(rows)
    path.write_text(text, encoding="utf-8")


def _num(x: object) -> object:
    """JSON numbers: 8 and 8.0 are the same value."""
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_num(v) for v in x]
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _rows(path: Path) -> list[str]:
    """Canonical, order-free form of a JSON list or JSONL file."""
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x]
    return sorted(json.dumps(_num(r), sort_keys=True, ensure_ascii=False) for r in rows)


def _same_tree(a: Path, b: Path) -> None:
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert fa == fb
    for rel in fa:
        assert _rows(a / rel) == _rows(b / rel), rel


def _mt_bench(d: Path) -> None:
    _w(d / "question.jsonl", [
        {"question_id": 81, "category": "writing", "turns": ["Write a poem.", "Shorter."]},
        {"question_id": 111, "category": "math", "turns": ["1+1?", "2+2?"], "reference": ["2", "4"]}])
    for m in ("vicuna-13b", "llama-13b"):
        _w(d / "model_answer" / f"{m}.jsonl", [
            {"question_id": q, "answer_id": f"{m}-{q}", "model_id": m,
             "choices": [{"index": 0, "turns": [f"{m} a{q}.1", f"{m} a{q}.2 {{x}}"]}], "tstamp": 1686.5}
            for q in (81, 111)])
    _w(d / "model_judgment" / "gpt-4_single.jsonl", [
        {"question_id": 81, "model": "vicuna-13b", "judge": ["gpt-4", "single-v1"], "user_prompt": "[Question] ...",
         "judgment": "Good. Rating: [[8]]", "score": 8, "turn": 1, "tstamp": 1687.0},
        {"question_id": 81, "model": "llama-13b", "judge": ["gpt-4", "single-v1-multi-turn"], "user_prompt": "p",
         "judgment": "garbled", "score": -1, "turn": 2, "tstamp": 1687.5}])
    _w(d / "model_judgment" / "gpt-4_pair.jsonl", [
        {"question_id": 81, "model_1": "llama-13b", "model_2": "vicuna-13b", "g1_winner": "model_2",
         "g2_winner": "model_2", "judge": ["gpt-4", "pair-v2"], "g1_user_prompt": "u1", "g1_judgment": "[[B]]",
         "g2_user_prompt": "u2", "g2_judgment": "[[A]]", "turn": 1, "tstamp": 1688.0},
        {"question_id": 111, "model_1": "llama-13b", "model_2": "vicuna-13b", "g1_winner": "model_1",
         "g2_winner": "tie", "judge": ["gpt-4", "pair-math-v1"], "g1_user_prompt": "u3", "g1_judgment": "[[A]]",
         "g2_user_prompt": "u4", "g2_judgment": "[[C]]", "turn": 1, "tstamp": 1689.0}])


def test_mt_bench_round_trip_and_battles(tmp_path: Path) -> None:
    src, out = tmp_path / "mt_bench", tmp_path / "out"
    _mt_bench(src)
    store = Store(tmp_path / "s.sqlite")
    counts = import_format("mt-bench", src, store)
    # the unparsed single judgment (score -1) is kept as a Judgment and counted, not a Score
    assert counts == {"questions": 2, "answers": 4, "judgments": 6, "scores": 1, "battles": 2, "errors": 1}
    export_format("mt-bench", store, out)
    _same_tree(src, out)
    battles = judgments_to_battles(store.all(Judgment))
    wins = sorted((b.question_id, b.winner) for b in battles)
    assert wins == [("111", "tie"), ("81", "model_b")]  # q111 flipped -> inconsistent -> tie
    stored = sorted((b.question_id, b.winner, b.source) for b in store.all(Battle))
    assert stored == [("111", "tie", "judge:gpt-4"), ("81", "model_b", "judge:gpt-4")]
    [score] = store.all(Score)
    assert (score.source, score.model, score.score, score.category) == ("judge:gpt-4", "vicuna-13b", 8.0, "writing")
    [failed] = [j for j in store.all(Judgment) if j.parse_error]
    assert failed.turn == 2 and failed.score is None


def test_alpaca_eval_round_trip_and_fractional_preferences(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    outputs = [{"instruction": f"Say {i}", "output": f"ok {i}", "generator": "m1", "dataset": "helpful_base"}
               for i in range(3)]
    base = [{"instruction": f"Say {i}", "output": f"base {i}", "generator": "gpt4", "dataset": "helpful_base"}
            for i in range(3)]
    ann = [{"instruction": f"Say {i}", "output_1": f"base {i}", "generator_1": "gpt4", "output_2": f"ok {i}",
            "generator_2": "m1", "annotator": "weighted_alpaca_eval_gpt4_turbo", "preference": p,
            "price_per_example": 0.001, "time_per_example": 0.5, "raw_completion": "m"}
           for i, p in enumerate([1.0, 2.0, 1.73])]
    _w(src / "m1" / "model_outputs.json", outputs, jsonl=False)
    _w(src / "gpt4" / "model_outputs.json", base, jsonl=False)
    _w(src / "annotations.json", ann, jsonl=False)
    store = Store(tmp_path / "s.sqlite")
    assert import_format("alpaca-eval", src, store) == {"questions": 3, "answers": 6, "judgments": 3}
    export_format("alpaca-eval", store, out)
    _same_tree(src, out)
    battles = judgments_to_battles(store.all(Judgment))
    total = {w: sum(b.weight for b in battles if b.winner == w) for w in ("model_a", "model_b")}
    assert total["model_a"] == pytest.approx(1 + 0.27) and total["model_b"] == pytest.approx(1 + 0.73)


def test_arena_hard_round_trip(tmp_path: Path) -> None:
    src, out = tmp_path / "arena-hard-v0.1", tmp_path / "out"
    _w(src / "question.jsonl", [{"question_id": "q-abc", "category": "arena-hard-v0.1",
                                 "turns": [{"content": "Write a regex for emails."}]}])
    for m in ("gpt-4-0314", "m1"):
        _w(src / "model_answer" / f"{m}.jsonl", [{"question_id": "q-abc", "answer_id": f"id-{m}", "model_id": m,
            "choices": [{"index": 0, "turns": [{"content": f"{m} says", "token_len": 7}]}], "tstamp": 1.5}])
    _w(src / "model_judgment" / "gpt-4-1106-preview" / "m1.jsonl", [
        {"question_id": "q-abc", "model": "m1", "judge": "gpt-4-1106-preview",
         "games": [{"user_prompt": "<|User Prompt|>...", "judgment": "My final verdict is [[B>A]]", "score": "B>A"},
                   {"user_prompt": "<|User Prompt|>..", "judgment": "[[A>>B]]", "score": "A>>B"}]}])
    store = Store(tmp_path / "s.sqlite")
    assert import_format("arena-hard", src, store) == {"questions": 1, "answers": 2, "judgments": 2, "battles": 2}
    export_format("arena-hard", store, out)
    _same_tree(src, out)
    # one battle per game as arena-hard counts them: game 2 shows the model as A, A>>B = 3 wins
    got = sorted((b.ref, b.model_a, b.model_b, b.winner, b.weight) for b in store.all(Battle))
    assert got == [("g1", "gpt-4-0314", "m1", "model_b", 1.0), ("g2", "gpt-4-0314", "m1", "model_b", 3.0)]


def test_chatbot_arena_round_trip(tmp_path: Path) -> None:
    rows = [{"question_id": f"id{i}", "model_a": a, "model_b": b, "winner": w, "turn": 1}
            for i, (a, b, w) in enumerate([("x", "y", "model_a"), ("y", "z", "tie (bothbad)"),
                                           ("x", "z", "tie"), ("x", "y", "model_b")])]
    src, out = tmp_path / "src" / "battles.json", tmp_path / "out"
    _w(src, rows, jsonl=False)
    store = Store(tmp_path / "s.sqlite")
    assert import_format("chatbot-arena", src, store) == {"battles": 4}
    assert import_format("chatbot-arena", src, store) == {"battles": 0}  # idempotent
    export_format("chatbot-arena", store, out)
    _same_tree(src.parent, out)
    assert {b.source for b in store.all(Battle)} == {"human"}


def test_bad_input_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    f.write_text('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n{"model_a": "x", "winner": "tie"}\n')
    with pytest.raises(DataError, match=r"b.jsonl:2.*model_b"):
        import_format("chatbot-arena", f, Store(tmp_path / "s.sqlite"))
    f.write_text('{"model_a": "x", "model_b": "y", "winner": "a"}\n')
    with pytest.raises(DataError, match="winner must be"):
        import_format("chatbot-arena", f, Store(tmp_path / "s.sqlite"))
