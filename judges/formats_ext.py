"""AlpacaEval and arena-hard import/export (see judges.formats for the layouts)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from arena.core.errors import DataError
from arena.core.records import Answer, Judgment, Question, content_hash
from arena.core.store import Store
from judges.formats import (
    IMPORTED,
    _answers,
    _meta,
    _req,
    read_rows,
    split_judge,
    user_part,
    write_rows,
)
from judges.pairwise import DEFAULT_VERDICTS, model_winner

ALPACA_HASH = "alpaca-eval"
_ALPACA_KEYS = ("instruction", "output", "generator", "dataset")


def alpaca_qid(instruction: str) -> str:
    """AlpacaEval rows have no ids: the instruction's hash is one."""
    return "ae-" + content_hash(instruction, 12)


def _alpaca_question(row: dict, qset: str) -> Question:
    return Question(question_set=qset, id=alpaca_qid(row["instruction"]),
                    category=row.get("dataset") or "general", turns=[row["instruction"]])


def _alpaca_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(path.rglob("model_outputs.json")) + sorted(path.rglob("annotations.json"))
    if not found:
        raise DataError("no model_outputs.json or annotations.json here", str(path))
    return found


def import_alpaca_eval(path: Path, store: Store, question_set: str = "alpaca_eval", **_: Any) -> dict[str, int]:
    """Import model_outputs.json and/or annotations.json files (a file or a folder of them)."""
    qs: dict[str, Question] = {}
    answers: list[Answer] = []
    js: list[Judgment] = []
    for f in _alpaca_files(path):
        for i, row in enumerate(read_rows(f)):
            _req(row, ("instruction",), f, i)
            q = qs.setdefault(row["instruction"], _alpaca_question(row, question_set))
            if "preference" in row or "output_1" in row:
                _req(row, ("output_1", "generator_1", "output_2", "generator_2"), f, i)
                for n in ("1", "2"):
                    answers.append(Answer(model=row[f"generator_{n}"], question_set=question_set, question_id=q.id,
                                          turns=[row[f"output_{n}"]], config_hash=IMPORTED))
                js.append(_alpaca_judgment(row, q))
            else:
                _req(row, ("output", "generator"), f, i)
                extra = {k: v for k, v in row.items() if k not in _ALPACA_KEYS}
                answers.append(Answer(model=row["generator"], question_set=question_set, question_id=q.id,
                                      turns=[row["output"]], params={"import": extra}, config_hash=IMPORTED))
    # model_outputs files come first, so their answers (with extra fields) win on key clashes
    return {"questions": store.put_many(qs.values()), "answers": store.put_many(answers),
            "judgments": store.put_many(js)}


def _alpaca_judgment(row: dict, q: Question) -> Judgment:
    p = row.get("preference")
    ok = isinstance(p, (int, float)) and 1 <= p <= 2
    return Judgment(judge=row.get("annotator") or "alpaca_eval", judge_hash=ALPACA_HASH, mode="pairwise",
                    question_set=q.question_set, question_id=q.id, model_a=row["generator_1"],
                    model_b=row["generator_2"], order="AB", prompt="", raw_output=row.get("raw_completion"),
                    verdict=f"{p:g}" if ok else None, score=float(p) if ok else None,
                    parse_error=None if ok else f"preference {p!r}",
                    cost=row.get("price_per_example") or 0.0, latency=row.get("time_per_example") or 0.0)


def preference(j: Judgment) -> float | None:
    """AlpacaEval preference in model terms: 1 model_a, 2 model_b, 1.5 tie (or fractional)."""
    if j.judge_hash == ALPACA_HASH:
        return j.score
    mw = model_winner(j, DEFAULT_VERDICTS)
    return None if mw is None else {"model_a": 1.0, "model_b": 2.0}.get(mw[0], 1.5)


def export_alpaca_eval(store: Store, out: Path, question_set: str | None = None,
                       models: list[str] | None = None, judge: str | None = None) -> list[Path]:
    """Write `<model>/model_outputs.json` per model and `annotations.json` (first-turn pairs)."""
    qs = {q.id: q for q in store.all(Question) if question_set is None or q.question_set == question_set}
    answers = [a for a in _answers(store, question_set, models) if a.question_id in qs]
    by_model = defaultdict(list)
    for a in answers:
        q = qs[a.question_id]
        by_model[a.model].append({"instruction": q.turns[0], "output": a.turns[0], "generator": a.model,
                                  "dataset": q.category, **{k: v for k, v in _meta(a).items()}})
    files = [write_rows(out / m / "model_outputs.json", rows, False) for m, rows in sorted(by_model.items())]
    index = {(a.model, a.question_id): a for a in answers}
    rows = []
    for j in store.all(Judgment):
        if j.mode != "pairwise" or j.turn != 1 or j.question_id not in qs or (judge and j.judge != judge):
            continue
        a1, a2 = index.get((j.model_a, j.question_id)), index.get((j.model_b or "", j.question_id))
        if a1 is None or a2 is None:
            continue
        row = {"instruction": qs[j.question_id].turns[0], "output_1": a1.turns[0], "generator_1": j.model_a,
               "output_2": a2.turns[0], "generator_2": j.model_b, "annotator": j.judge,
               "preference": preference(j), "price_per_example": j.cost, "time_per_example": j.latency}
        if j.raw_output is not None:
            row["raw_completion"] = j.raw_output
        rows.append(row)
    if rows:
        files.append(write_rows(out / "annotations.json", rows, False))
    return files


# --- arena-hard ---------------------------------------------------------------------------
def import_arena_hard(path: Path, store: Store, question_set: str | None = None,
                      baseline: str = "gpt-4-0314", **_: Any) -> dict[str, int]:
    """Import question.jsonl, model_answer/*.jsonl and model_judgment/<judge>/*.jsonl."""
    qset = question_set or path.name
    counts = {}
    if (path / "question.jsonl").exists():
        qs = [Question(question_set=qset, id=str(r["question_id"]), category=r.get("category", "general"),
                       turns=[t["content"] for t in r["turns"]]) for r in read_rows(path / "question.jsonl")]
        counts["questions"] = store.put_many(qs)
    answers = []
    for f in sorted((path / "model_answer").glob("*.jsonl")):
        for i, r in enumerate(read_rows(f)):
            _req(r, ("question_id", "choices"), f, i)
            turns = r["choices"][0]["turns"]
            meta = {k: r[k] for k in ("answer_id", "tstamp") if k in r}
            answers.append(Answer(model=r.get("model_id", f.stem), question_set=qset, question_id=str(r["question_id"]),
                                  turns=[t["content"] for t in turns], params={"import": meta},
                                  completion_tokens=sum(int(t.get("token_len", 0)) for t in turns),
                                  config_hash=IMPORTED))
    counts["answers"] = store.put_many(answers)
    js = []
    for f in sorted((path / "model_judgment").glob("*/*.jsonl")):
        for i, r in enumerate(read_rows(f)):
            _req(r, ("question_id", "model", "games"), f, i)
            for game, order in zip(r["games"], ("AB", "BA")):
                label = game.get("score")
                js.append(Judgment(judge=f"arena-hard@{r.get('judge', f.parent.name)}", judge_hash="arena-hard",
                                   mode="pairwise", question_set=qset, question_id=str(r["question_id"]),
                                   model_a=baseline, model_b=r["model"], order=order,
                                   prompt=game.get("user_prompt", ""), raw_output=game.get("judgment"),
                                   verdict=label, parse_error=None if label else "no verdict"))
    counts["judgments"] = store.put_many(js)
    return counts


def export_arena_hard(store: Store, out: Path, question_set: str | None = None,
                      models: list[str] | None = None, judge: str | None = None) -> list[Path]:
    """Write question.jsonl, model_answer/<model>.jsonl, model_judgment/<judge model>/<model>.jsonl."""
    files = []
    qs = [q for q in store.all(Question) if question_set is None or q.question_set == question_set]
    if qs:
        files.append(write_rows(out / "question.jsonl", ({"question_id": q.id, "category": q.category,
                                                           "turns": [{"content": t} for t in q.turns]} for q in qs), True))
    by_model = defaultdict(list)
    for a in _answers(store, question_set, models):
        meta = _meta(a)
        turns = [{"content": t, "token_len": a.completion_tokens if len(a.turns) == 1 else 0} for t in a.turns]
        by_model[a.model].append({"question_id": a.question_id, **({"answer_id": meta["answer_id"]} if "answer_id"
                                  in meta else {}), "model_id": a.model, "choices": [{"index": 0, "turns": turns}]}
                                 | ({"tstamp": meta["tstamp"]} if "tstamp" in meta else {}))
    files += [write_rows(out / "model_answer" / f"{m}.jsonl", rows, True) for m, rows in sorted(by_model.items())]
    groups: dict[tuple, dict[str, Judgment]] = defaultdict(dict)
    for j in store.all(Judgment):
        if j.mode == "pairwise" and (judge is None or j.judge == judge) and \
                (question_set is None or j.question_set == question_set):
            groups[(j.judge, j.model_b, j.question_id)][j.order] = j
    per_file = defaultdict(list)
    for (jid, model, qid), g in groups.items():
        jm = split_judge(jid)[1]
        games = [{"user_prompt": user_part(x.prompt), "judgment": x.raw_output, "score": x.verdict}
                 for x in (g.get("AB"), g.get("BA")) if x is not None]
        per_file[(jm, model)].append({"question_id": qid, "model": model, "judge": jm, "games": games})
    files += [write_rows(out / "model_judgment" / jm / f"{m}.jsonl", rows, True) for (jm, m), rows in per_file.items()]
    return files
