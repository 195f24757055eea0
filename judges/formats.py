"""Import and export of other tools' files: MT-Bench, AlpacaEval, arena-hard, Chatbot Arena.

Import writes Questions, Answers, Judgments and Battles into a Store; export writes them
back in the tool's layout, so `import` then `export` gives equivalent files (same rows,
maybe in another order). Fields a format has and our records do not (an arena-hard
question's `cluster`, arbitrary extra keys) are not kept; answer ids and timestamps are
kept in `Answer.params["import"]`.

Layouts:
- mt-bench: `question.jsonl`, `model_answer/<model>.jsonl`, `model_judgment/<judge>_single.jsonl`
  and `<judge>_pair.jsonl` (FastChat llm_judge).
- alpaca-eval: `model_outputs.json` (per model), `annotations.json` (`preference` 1/2, 1.5 tie
  or fractional).
- arena-hard: `question.jsonl`, `model_answer/<model>.jsonl`,
  `model_judgment/<judge model>/<model>.jsonl` with two games (baseline shown first, then second).
- chatbot-arena: a JSON (or JSONL) list of battles `model_a`, `model_b`, `winner`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arena.core.errors import DataError, UnknownNameError
from arena.core.records import Answer, Battle, Judgment, Question, iter_jsonl
from arena.core.store import Store

IMPORTED = "imported"  # config_hash of imported answers


# --- helpers ---------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict]:
    """Rows of a JSON list or a JSONL file (errors name the file and line)."""
    if path.suffix == ".jsonl":
        return [obj for _, obj in iter_jsonl(path)]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON: {e.msg}", str(path), e.lineno) from None
    if not isinstance(data, list):
        raise DataError("expected a JSON list of objects", str(path))
    return data


def write_rows(path: Path, rows: Iterable[dict], jsonl: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if jsonl:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    else:
        text = json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def qid_out(qid: str) -> int | str:
    """MT-Bench ids are integers on disk, strings in our records."""
    return int(qid) if qid.isdigit() else qid


def user_part(prompt: str) -> str:
    """The user message of a stored prompt (drops a `<<<system>>>` section)."""
    marker = "<<<user>>>\n"
    return prompt.split(marker, 1)[1] if marker in prompt else prompt


def split_judge(judge: str) -> tuple[str, str]:
    """`<config>@<judge model>` -> (config, model)."""
    name, _, model = judge.partition("@")
    return name, model or name


def _meta(a: Answer) -> dict:
    return dict(a.params.get("import") or {})


def _req(row: dict, keys: tuple[str, ...], path: Path, i: int) -> None:
    for k in keys:
        if k not in row:
            raise DataError(f"missing key '{k}'", str(path), i + 1, k)


def _answers(store: Store, qset: str | None, models: list[str] | None) -> list[Answer]:
    return [a for a in store.all(Answer) if (qset is None or a.question_set == qset)
            and (models is None or a.model in models)]


# --- MT-Bench ---------------------------------------------------------------------------
def import_mt_bench(path: Path, store: Store, question_set: str | None = None, **_: Any) -> dict[str, int]:
    """Import an MT-Bench folder (any of question.jsonl, model_answer/, model_judgment/)."""
    qset = question_set or path.name
    counts: dict[str, int] = {}
    if (path / "question.jsonl").exists():
        qs = []
        for i, row in enumerate(read_rows(path / "question.jsonl")):
            _req(row, ("question_id", "turns"), path / "question.jsonl", i)
            qs.append(Question(question_set=qset, id=str(row["question_id"]), category=row.get("category", "general"),
                               turns=row["turns"], reference=row.get("reference")))
        counts["questions"] = store.put_many(qs)
    answers = []
    for f in sorted((path / "model_answer").glob("*.jsonl")):
        for i, row in enumerate(read_rows(f)):
            _req(row, ("question_id", "choices"), f, i)
            meta = {k: row[k] for k in ("answer_id", "tstamp") if k in row}
            answers.append(Answer(model=row.get("model_id", f.stem), question_set=qset,
                                  question_id=str(row["question_id"]), turns=row["choices"][0]["turns"],
                                  params={"import": meta}, config_hash=IMPORTED))
    counts["answers"] = store.put_many(answers)
    js = []
    for f in sorted((path / "model_judgment").glob("*.jsonl")):
        rows = read_rows(f)
        js += [_mt_single(r, qset) for r in rows] if f.stem.endswith("_single") else \
            [j for r in rows for j in _mt_pair(r, qset)]
    counts["judgments"] = store.put_many(js)
    return counts


def _mt_single(r: dict, qset: str) -> Judgment:
    jmodel, prompt_name = r["judge"]
    bad = r["score"] is None or r["score"] < 0
    return Judgment(judge=f"{prompt_name}@{jmodel}", judge_hash="mt-bench", mode="single", question_set=qset,
                    question_id=str(r["question_id"]), model_a=r["model"], turn=r.get("turn", 1), order="A",
                    prompt=r.get("user_prompt", ""), raw_output=r.get("judgment"),
                    verdict=None if bad else f"{r['score']:g}", score=None if bad else float(r["score"]),
                    parse_error=f"no score ({r['score']})" if bad else None, created_at=r.get("tstamp", 0.0))


_G1 = {"model_1": "A", "model_2": "B", "tie": "C"}  # game 1: model_1 shown first
_G2 = {"model_1": "B", "model_2": "A", "tie": "C"}  # game 2: model_1 shown second


def _mt_pair(r: dict, qset: str) -> list[Judgment]:
    jmodel, prompt_name = r["judge"]
    out = []
    for g, order, labels in (("g1", "AB", _G1), ("g2", "BA", _G2)):
        label = labels.get(r[f"{g}_winner"])
        out.append(Judgment(judge=f"{prompt_name}@{jmodel}", judge_hash="mt-bench", mode="pairwise",
                            question_set=qset, question_id=str(r["question_id"]), model_a=r["model_1"],
                            model_b=r["model_2"], turn=r.get("turn", 1), order=order,
                            prompt=r.get(f"{g}_user_prompt", ""), raw_output=r.get(f"{g}_judgment"),
                            verdict=label, parse_error=None if label else f"winner {r[f'{g}_winner']!r}",
                            created_at=r.get("tstamp", 0.0)))
    return out


def _mt_winner(j: Judgment | None, labels: dict[str, str]) -> str:
    back = {v: k for k, v in labels.items()}
    return back.get(j.verdict or "", "error") if j else "error"


def export_mt_bench(store: Store, out: Path, question_set: str | None = None,
                    models: list[str] | None = None, judge: str | None = None) -> list[Path]:
    """Write question.jsonl, model_answer/<model>.jsonl and model_judgment/<judge>_{single,pair}.jsonl."""
    files = []
    qs = [q for q in store.all(Question) if question_set is None or q.question_set == question_set]
    if qs:
        files.append(write_rows(out / "question.jsonl", (
            {"question_id": qid_out(q.id), "category": q.category, "turns": q.turns}
            | ({"reference": q.reference} if q.reference is not None else {}) for q in qs), True))
    by_model = defaultdict(list)
    for a in _answers(store, question_set, models):
        by_model[a.model].append({"question_id": qid_out(a.question_id), **({"answer_id": _meta(a)["answer_id"]}
                                  if "answer_id" in _meta(a) else {}), "model_id": a.model,
                                  "choices": [{"index": 0, "turns": a.turns}]}
                                 | ({"tstamp": _meta(a)["tstamp"]} if "tstamp" in _meta(a) else {}))
    files += [write_rows(out / "model_answer" / f"{m}.jsonl", rows, True) for m, rows in sorted(by_model.items())]
    js = [j for j in store.all(Judgment) if (judge is None or j.judge == judge)
          and (question_set is None or j.question_set == question_set)]
    single, pair = defaultdict(list), defaultdict(list)
    groups: dict[tuple, dict[str, Judgment]] = defaultdict(dict)
    for j in js:
        if j.mode == "single":
            name, jm = split_judge(j.judge)
            single[jm].append({"question_id": qid_out(j.question_id), "model": j.model_a, "judge": [jm, name],
                               "user_prompt": user_part(j.prompt), "judgment": j.raw_output,
                               "score": j.score if j.score is not None else -1, "turn": j.turn,
                               "tstamp": j.created_at})
        else:
            groups[(j.judge, j.question_id, j.model_a, j.model_b, j.turn)][j.order] = j
    for (jid, qid, m1, m2, turn), g in groups.items():
        name, jm = split_judge(jid)
        g1, g2 = g.get("AB"), g.get("BA")
        pair[jm].append({"question_id": qid_out(qid), "model_1": m1, "model_2": m2,
                         "g1_winner": _mt_winner(g1, _G1), "g2_winner": _mt_winner(g2, _G2), "judge": [jm, name],
                         "g1_user_prompt": user_part(g1.prompt) if g1 else "", "g1_judgment": g1.raw_output if g1 else "",
                         "g2_user_prompt": user_part(g2.prompt) if g2 else "", "g2_judgment": g2.raw_output if g2 else "",
                         "turn": turn, "tstamp": (g1 or g2).created_at})  # type: ignore[union-attr]
    files += [write_rows(out / "model_judgment" / f"{jm}_single.jsonl", rows, True) for jm, rows in single.items()]
    files += [write_rows(out / "model_judgment" / f"{jm}_pair.jsonl", rows, True) for jm, rows in pair.items()]
    return files


# --- Chatbot Arena battles ----------------------------------------------------------------
def import_chatbot_arena(path: Path, store: Store, source: str = "human", **_: Any) -> dict[str, int]:
    """A list of battles (`model_a`, `model_b`, `winner`, optional `question_id`, `turn`)."""
    battles = []
    for i, row in enumerate(read_rows(path)):
        _req(row, ("model_a", "model_b", "winner"), path, i)
        if row["winner"] not in ("model_a", "model_b", "tie", "tie (bothbad)"):
            raise DataError(f"winner must be model_a|model_b|tie|tie (bothbad), not {row['winner']!r}",
                            str(path), i + 1, "winner")
        qid = row.get("question_id")
        battles.append(Battle(source=source, question_id=str(qid) if qid is not None else f"row{i}",
                              model_a=row["model_a"], model_b=row["model_b"], winner=row["winner"],
                              turn=row.get("turn", 1), ref="" if qid is not None else str(i)))
    return {"battles": store.put_many(battles)}


def export_chatbot_arena(store: Store, out: Path, models: list[str] | None = None,
                         judge: str | None = None, **_: Any) -> list[Path]:
    """All battles (or those of one source) as `battles.json`."""
    rows = [{"question_id": b.question_id, "model_a": b.model_a, "model_b": b.model_b, "winner": b.winner,
             "turn": b.turn} for b in store.all(Battle)
            if (judge is None or b.source in (judge, f"judge:{judge}"))
            and (models is None or {b.model_a, b.model_b} <= set(models))]
    return [write_rows(out / "battles.json", rows, False)]


# --- dispatch ------------------------------------------------------------------------------
def _table() -> dict[str, tuple[Any, Any]]:
    from judges import formats_ext as ext

    return {
        "mt-bench": (import_mt_bench, export_mt_bench),
        "alpaca-eval": (ext.import_alpaca_eval, ext.export_alpaca_eval),
        "arena-hard": (ext.import_arena_hard, ext.export_arena_hard),
        "chatbot-arena": (import_chatbot_arena, export_chatbot_arena),
    }


def import_format(fmt: str, path: str | Path, store: Store, **kw: Any) -> dict[str, int]:
    """Import `path` in format `fmt` into `store`; returns counts of new records."""
    table = _table()
    if fmt not in table:
        raise UnknownNameError("format", fmt, sorted(table))
    path = Path(path)
    if not path.exists():
        raise DataError("not found", str(path))
    return table[fmt][0](path, store, **{k: v for k, v in kw.items() if v is not None})


def export_format(fmt: str, store: Store, out: str | Path, **kw: Any) -> list[Path]:
    """Export the store's records in format `fmt` under folder `out`; returns the files."""
    table = _table()
    if fmt not in table:
        raise UnknownNameError("format", fmt, sorted(table))
    return table[fmt][1](store, Path(out), **kw)
