"""Import and export of other tools' files: MT-Bench, AlpacaEval, arena-hard, Chatbot Arena.

Import writes Questions, Answers, Judgments and the Scores/Battles the tool itself would count
into a Store; export writes them back in the tool's layout, so `import` then `export` gives
equivalent files (same rows, maybe in another order). Judge outputs the tool could not parse
are kept as Judgments with a `parse_error` and counted under `errors`/`failed`, never fatal.

Layouts:
- mt-bench (FastChat llm_judge): `question.jsonl`, `model_answer/<model>.jsonl`,
  `model_judgment/<judge>_single.jsonl` (score -1 = unparsed; valid rows become Scores, source
  `judge:<judge model>`) and `<judge>_pair.jsonl` (winner "error" = unparsed; a row becomes one
  Battle as FastChat's show_result counts it: game-1 tie or disagreeing games = tie).
- alpaca-eval: see :mod:`judges.formats_ext` (every annotation field kept).
- arena-hard: see :mod:`judges.formats_arena_hard` (v0.1 and v2.0).
- chatbot-arena: FastChat's clean battles (JSON list or JSONL) `model_a`, `model_b`, `winner`
  with the rater (`judge`), `anony`, `language`, `tstamp` kept on the Battle and
  `conv_metadata` kept as style features.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from arena.core.errors import DataError, UnknownNameError
from arena.core.records import Answer, Battle, Judgment, Question, Score
from arena.core.store import Store
from judges.formats_common import (
    IMPORTED,
    answer_meta,
    answers_of,
    given,
    qid_out,
    read_rows,
    require,
    split_judge,
    user_part,
    write_rows,
)

__all__ = ["IMPORTED", "export_format", "import_format", "read_rows", "write_rows"]


# --- MT-Bench ---------------------------------------------------------------------------
def import_mt_bench(
    path: Path, store: Store, question_set: str | None = None, **_: Any
) -> dict[str, int]:
    """Import an MT-Bench folder (any of question.jsonl, model_answer/, model_judgment/)."""
    qset = question_set or path.name
    counts: dict[str, int] = {}
    if (path / "question.jsonl").exists():
        qs = []
        for i, row in enumerate(read_rows(path / "question.jsonl")):
            require(row, ("question_id", "turns"), path / "question.jsonl", i)
            qs.append(
                Question(
                    question_set=qset,
                    id=str(row["question_id"]),
                    category=row.get("category", "general"),
                    turns=row["turns"],
                    reference=row.get("reference"),
                )
            )
        counts["questions"] = store.put_many(qs)
    answers = []
    for f in sorted((path / "model_answer").glob("*.jsonl")):
        for i, row in enumerate(read_rows(f)):
            require(row, ("question_id", "choices"), f, i)
            meta = {k: row[k] for k in ("answer_id", "tstamp") if k in row}
            answers.append(
                Answer(
                    model=row.get("model_id", f.stem),
                    question_set=qset,
                    question_id=str(row["question_id"]),
                    turns=row["choices"][0]["turns"],
                    params={"import": meta},
                    config_hash=IMPORTED,
                )
            )
    counts["answers"] = store.put_many(answers)
    cats = {q.id: q.category for q in store.all(Question, question_set=qset)}
    js: list[Judgment] = []
    scores: list[Score] = []
    battles: list[Battle] = []
    errors = 0
    for f in sorted((path / "model_judgment").glob("*.jsonl")):
        single = f.stem.endswith("_single")
        for i, r in enumerate(read_rows(f)):
            require(
                r,
                ("question_id", "model", "score")
                if single
                else ("question_id", "model_1", "model_2", "g1_winner", "g2_winner"),
                f,
                i,
            )
            if single:
                j = _mt_single(r, qset)
                js.append(j)
                if j.score is None:
                    errors += 1
                else:
                    scores.append(
                        Score(
                            source=f"judge:{split_judge(j.judge)[1]}",
                            model=j.model_a,
                            question_set=qset,
                            question_id=j.question_id,
                            category=cats.get(j.question_id, "general"),
                            turn=j.turn,
                            score=j.score,
                        )
                    )
            else:
                js += _mt_pair(r, qset)
                b = _mt_battle(r, qset)
                errors += b is None
                battles += [b] if b else []
    counts["judgments"] = store.put_many(js)
    if scores:
        counts["scores"] = store.put_many(scores)
    if battles:
        counts["battles"] = store.put_many(battles)
    if errors:
        counts["errors"] = (
            errors  # judge outputs FastChat could not parse (score -1 / winner "error")
        )
    return counts


def _mt_battle(r: dict, qset: str) -> Battle | None:
    """FastChat's show_result rule: "error" in either game drops the row; a tie in game 1 or
    games that disagree make a tie; otherwise the agreed winner."""
    g1, g2 = r["g1_winner"], r["g2_winner"]
    if "error" in (g1, g2):
        return None
    winner = "tie" if g1 == "tie" or g1 != g2 else {"model_1": "model_a", "model_2": "model_b"}[g1]
    judge = r.get("judge") or ["judge"]
    return Battle(
        source=f"judge:{judge[0]}",
        question_id=str(r["question_id"]),
        model_a=r["model_1"],
        model_b=r["model_2"],
        winner=winner,
        turn=r.get("turn", 1),
        tstamp=r.get("tstamp"),
    )


def _mt_single(r: dict, qset: str) -> Judgment:
    jmodel, prompt_name = r.get("judge") or ["judge", "single"]
    bad = r["score"] is None or r["score"] < 0
    return Judgment(
        judge=f"{prompt_name}@{jmodel}",
        judge_hash="mt-bench",
        mode="single",
        question_set=qset,
        question_id=str(r["question_id"]),
        model_a=r["model"],
        turn=r.get("turn", 1),
        order="A",
        prompt=r.get("user_prompt", ""),
        raw_output=r.get("judgment"),
        verdict=None if bad else f"{r['score']:g}",
        score=None if bad else float(r["score"]),
        parse_error=f"no score ({r['score']})" if bad else None,
        created_at=r.get("tstamp", 0.0),
    )


_G1 = {"model_1": "A", "model_2": "B", "tie": "C"}  # game 1: model_1 shown first
_G2 = {"model_1": "B", "model_2": "A", "tie": "C"}  # game 2: model_1 shown second


def _mt_pair(r: dict, qset: str) -> list[Judgment]:
    jmodel, prompt_name = r.get("judge") or ["judge", "pair"]
    out = []
    for g, order, labels in (("g1", "AB", _G1), ("g2", "BA", _G2)):
        label = labels.get(r[f"{g}_winner"])
        out.append(
            Judgment(
                judge=f"{prompt_name}@{jmodel}",
                judge_hash="mt-bench",
                mode="pairwise",
                question_set=qset,
                question_id=str(r["question_id"]),
                model_a=r["model_1"],
                model_b=r["model_2"],
                turn=r.get("turn", 1),
                order=order,
                prompt=r.get(f"{g}_user_prompt", ""),
                raw_output=r.get(f"{g}_judgment"),
                verdict=label,
                parse_error=None if label else f"winner {r[f'{g}_winner']!r}",
                created_at=r.get("tstamp", 0.0),
            )
        )
    return out


def _mt_winner(j: Judgment | None, labels: dict[str, str]) -> str:
    back = {v: k for k, v in labels.items()}
    return back.get(j.verdict or "", "error") if j else "error"


def export_mt_bench(
    store: Store,
    out: Path,
    question_set: str | None = None,
    models: list[str] | None = None,
    judge: str | None = None,
) -> list[Path]:
    """Write question.jsonl, model_answer/<model>.jsonl and model_judgment/<judge>_{single,pair}.jsonl."""
    files = []
    qs = store.all(Question, **given(question_set=question_set))
    if qs:
        files.append(
            write_rows(
                out / "question.jsonl",
                (
                    {"question_id": qid_out(q.id), "category": q.category, "turns": q.turns}
                    | ({"reference": q.reference} if q.reference is not None else {})
                    for q in qs
                ),
                True,
            )
        )
    by_model = defaultdict(list)
    for a in answers_of(store, question_set, models):
        by_model[a.model].append(
            {
                "question_id": qid_out(a.question_id),
                **(
                    {"answer_id": answer_meta(a)["answer_id"]}
                    if "answer_id" in answer_meta(a)
                    else {}
                ),
                "model_id": a.model,
                "choices": [{"index": 0, "turns": a.turns}],
            }
            | ({"tstamp": answer_meta(a)["tstamp"]} if "tstamp" in answer_meta(a) else {})
        )
    files += [
        write_rows(out / "model_answer" / f"{m}.jsonl", rows, True)
        for m, rows in sorted(by_model.items())
    ]
    js = store.all(Judgment, **given(judge=judge, question_set=question_set))
    single, pair = defaultdict(list), defaultdict(list)
    groups: dict[tuple, dict[str, Judgment]] = defaultdict(dict)
    for j in js:
        if j.mode == "single":
            name, jm = split_judge(j.judge)
            single[jm].append(
                {
                    "question_id": qid_out(j.question_id),
                    "model": j.model_a,
                    "judge": [jm, name],
                    "user_prompt": user_part(j.prompt),
                    "judgment": j.raw_output,
                    "score": j.score if j.score is not None else -1,
                    "turn": j.turn,
                    "tstamp": j.created_at,
                }
            )
        else:
            groups[(j.judge, j.question_id, j.model_a, j.model_b, j.turn)][j.order] = j
    for (jid, qid, m1, m2, turn), g in groups.items():
        name, jm = split_judge(jid)
        g1, g2 = g.get("AB"), g.get("BA")
        pair[jm].append(
            {
                "question_id": qid_out(qid),
                "model_1": m1,
                "model_2": m2,
                "g1_winner": _mt_winner(g1, _G1),
                "g2_winner": _mt_winner(g2, _G2),
                "judge": [jm, name],
                "g1_user_prompt": user_part(g1.prompt) if g1 else "",
                "g1_judgment": g1.raw_output if g1 else "",
                "g2_user_prompt": user_part(g2.prompt) if g2 else "",
                "g2_judgment": g2.raw_output if g2 else "",
                "turn": turn,
                "tstamp": (g1 or g2).created_at,
            }
        )  # type: ignore[union-attr]
    files += [
        write_rows(out / "model_judgment" / f"{jm}_single.jsonl", rows, True)
        for jm, rows in single.items()
    ]
    files += [
        write_rows(out / "model_judgment" / f"{jm}_pair.jsonl", rows, True)
        for jm, rows in pair.items()
    ]
    return files


# --- Chatbot Arena battles ----------------------------------------------------------------
def import_chatbot_arena(
    path: Path, store: Store, source: str = "human", **_: Any
) -> dict[str, int]:
    """Chatbot Arena battles as FastChat's clean_battle_data writes them (JSON list or JSONL):
    `model_a`, `model_b`, `winner`, optional `question_id`, `turn`, and the rater (`judge`),
    `anony`, `language`, `tstamp` (kept on the Battle) and `conv_metadata` (token and markdown
    counts, kept as the style features `len_*`, `header_*`, `list_*`, `bold_*`)."""
    battles = []
    for i, row in enumerate(read_rows(path)):
        require(row, ("model_a", "model_b", "winner"), path, i)
        if row["winner"] not in ("model_a", "model_b", "tie", "tie (bothbad)"):
            raise DataError(
                f"winner must be model_a|model_b|tie|tie (bothbad), not {row['winner']!r}",
                str(path),
                i + 1,
                "winner",
            )
        qid = row.get("question_id")
        battles.append(
            Battle(
                source=source,
                question_id=str(qid) if qid is not None else f"row{i}",
                model_a=row["model_a"],
                model_b=row["model_b"],
                winner=row["winner"],
                turn=row.get("turn", 1),
                ref="" if qid is not None else str(i),
                rater=str(row.get("judge") or ""),
                anony=row.get("anony"),
                language=row.get("language"),
                tstamp=row.get("tstamp"),
                features=_style_features(row.get("conv_metadata")),
            )
        )
    return {"battles": store.put_many(battles)}


def _count(value: Any) -> float:
    return float(sum(value.values())) if isinstance(value, dict) else float(value or 0)


def _style_features(meta: Any) -> dict[str, float]:
    if not isinstance(meta, dict):
        return {}
    out = {}
    for side in ("a", "b"):
        for name, key in (
            ("len", f"sum_assistant_{side}_tokens"),
            ("header", f"header_count_{side}"),
            ("list", f"list_count_{side}"),
            ("bold", f"bold_count_{side}"),
        ):
            if key in meta:
                out[f"{name}_{side}"] = _count(meta[key])
    return out


def export_chatbot_arena(
    store: Store, out: Path, models: list[str] | None = None, judge: str | None = None, **_: Any
) -> list[Path]:
    """All battles (or those of one source) as `battles.json` (rater as `judge`)."""
    rows = []
    for b in store.all(Battle):
        if (judge is not None and b.source not in (judge, f"judge:{judge}")) or (
            models is not None and not {b.model_a, b.model_b} <= set(models)
        ):
            continue
        row: dict[str, Any] = {
            "question_id": b.question_id,
            "model_a": b.model_a,
            "model_b": b.model_b,
            "winner": b.winner,
            "turn": b.turn,
        }
        if b.rater:
            row["judge"] = b.rater
        row |= {
            k: v
            for k, v in (("anony", b.anony), ("language", b.language), ("tstamp", b.tstamp))
            if v is not None
        }
        rows.append(row)
    return [write_rows(out / "battles.json", rows, False)]


# --- dispatch ------------------------------------------------------------------------------
def _table() -> dict[str, tuple[Any, Any]]:
    from judges import formats_arena_hard as ah
    from judges import formats_ext as ext

    return {
        "mt-bench": (import_mt_bench, export_mt_bench),
        "alpaca-eval": (ext.import_alpaca_eval, ext.export_alpaca_eval),
        "arena-hard": (ah.import_arena_hard, ah.export_arena_hard),
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
