"""arena-hard-auto import/export (v0.1 and v2.0 layouts).

- ``question.jsonl``: v0.1 ``question_id, category, cluster, turns: [{content}]``; v2.0 ``uid,
  category, subcategory, prompt``.
- ``model_answer/<model>.jsonl``: v0.1 ``question_id, answer_id, model_id, choices: [{index,
  turns: [{content, token_len}]}], tstamp`` (+ ``conv_metadata``); v2.0 ``uid, ans_id, model,
  messages: [{role, content}], tstamp, metadata``. Keys we have no field for are kept in
  ``Answer.params["import"]``.
- ``model_judgment/<judge>/<model>.jsonl``: ``question_id`` (v0.1) or ``uid`` (v2.0), ``model``,
  ``judge``, optional ``category``, ``games``: two games, game 1 with the baseline shown as A,
  game 2 with the model shown as A, each ``{user_prompt, judgment, score}`` (``score`` a label
  like ``A>>B`` or null when the judge gave none).

Import stores two Judgments per row and one Battle per judged game, as arena-hard's v0.1
show_result counts them: ``model_a`` the baseline, a strong verdict (``>>``) with weight
``weight`` (default 3), a null or unknown label gives no battle and is counted in ``errors``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from arena.core.records import Answer, Battle, Judgment, Question
from arena.core.store import Store
from judges.formats_common import (
    IMPORTED,
    answer_meta,
    answers_of,
    given,
    read_rows,
    require,
    split_judge,
    user_part,
    write_rows,
)

_GAME1 = {
    "A>>B": ("model_a", True),
    "A>B": ("model_a", False),
    "A=B": ("tie", False),
    "B=A": ("tie", False),
    "B>A": ("model_b", False),
    "B>>A": ("model_b", True),
    "A<B": ("model_b", False),
    "A<<B": ("model_b", True),
    "B<A": ("model_a", False),
    "B<<A": ("model_a", True),
}
_FLIP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}


def _qid(r: dict) -> str:
    return str(r["question_id"] if "question_id" in r else r["uid"])


def _questions(path: Path, qset: str) -> list[Question]:
    out = []
    for i, r in enumerate(read_rows(path)):
        require(r, ("question_id",) if "uid" not in r else ("uid",), path, i)
        turns = [t["content"] for t in r["turns"]] if "turns" in r else [r.get("prompt", "")]
        out.append(
            Question(
                question_set=qset, id=_qid(r), category=r.get("category", "general"), turns=turns
            )
        )
    return out


def _answer(r: dict, f: Path, i: int, qset: str) -> Answer:
    if "messages" in r:  # v2.0
        require(r, ("uid",), f, i)
        said = [m["content"] for m in r["messages"] if m.get("role") == "assistant"]
        turns = [c.get("answer", "") if isinstance(c, dict) else str(c) for c in said]
        meta = {k: v for k, v in r.items() if k not in ("uid", "model", "messages")}
        tokens = int((r.get("metadata") or {}).get("token_len", 0))
        return Answer(
            model=r.get("model", f.stem),
            question_set=qset,
            question_id=_qid(r),
            turns=turns,
            params={"import": meta | {"_v2": r["messages"]}},
            completion_tokens=tokens,
            config_hash=IMPORTED,
        )
    require(r, ("question_id", "choices"), f, i)
    turns = r["choices"][0]["turns"]
    meta = {k: v for k, v in r.items() if k not in ("question_id", "model_id", "choices")}
    return Answer(
        model=r.get("model_id", f.stem),
        question_set=qset,
        question_id=_qid(r),
        turns=[t["content"] for t in turns],
        params={"import": meta},
        completion_tokens=sum(int(t.get("token_len", 0)) for t in turns),
        config_hash=IMPORTED,
    )


def import_arena_hard(
    path: Path,
    store: Store,
    question_set: str | None = None,
    baseline: str = "gpt-4-0314",
    weight: int = 3,
    **_: Any,
) -> dict[str, int]:
    """Import question.jsonl, model_answer/*.jsonl and model_judgment/<judge>/*.jsonl."""
    qset = question_set or path.name
    counts: dict[str, int] = {}
    if (path / "question.jsonl").exists():
        counts["questions"] = store.put_many(_questions(path / "question.jsonl", qset))
    answers = [
        _answer(r, f, i, qset)
        for f in sorted((path / "model_answer").glob("*.jsonl"))
        for i, r in enumerate(read_rows(f))
    ]
    counts["answers"] = store.put_many(answers)
    js, battles, errors = [], [], 0
    for f in sorted((path / "model_judgment").glob("*/*.jsonl")):
        for i, r in enumerate(read_rows(f)):
            require(r, ("model", "games"), f, i)
            if "question_id" not in r:
                require(r, ("uid",), f, i)
            judge = f"arena-hard@{r.get('judge', f.parent.name)}"
            for g, (game, order) in enumerate(zip(r["games"], ("AB", "BA"))):
                label = game.get("score") if isinstance(game, dict) else None
                js.append(
                    Judgment(
                        judge=judge,
                        judge_hash="arena-hard",
                        mode="pairwise",
                        question_set=qset,
                        question_id=_qid(r),
                        model_a=baseline,
                        model_b=r["model"],
                        order=order,
                        prompt=(game or {}).get("user_prompt", ""),
                        raw_output=(game or {}).get("judgment"),
                        verdict=label,
                        parse_error=None if label else "no verdict",
                        extra={
                            k: v
                            for k, v in r.items()
                            if k not in ("question_id", "uid", "model", "judge", "games")
                        }
                        | {"_id_key": "question_id" if "question_id" in r else "uid"},
                    )
                )
                hit = _GAME1.get(label or "")
                if hit is None:
                    errors += 1
                    continue
                battles.append(
                    Battle(
                        source=f"judge:{judge}",
                        question_id=_qid(r),
                        model_a=baseline,
                        model_b=r["model"],
                        winner=hit[0] if g == 0 else _FLIP[hit[0]],  # type: ignore[arg-type]
                        weight=float(weight) if hit[1] else 1.0,
                        ref=f"g{g + 1}",
                    )
                )
    counts["judgments"] = store.put_many(js)
    counts["battles"] = store.put_many(battles)
    if errors:
        counts["errors"] = errors
    return counts


def export_arena_hard(
    store: Store,
    out: Path,
    question_set: str | None = None,
    models: list[str] | None = None,
    judge: str | None = None,
) -> list[Path]:
    """Write question.jsonl, model_answer/<model>.jsonl, model_judgment/<judge model>/<model>.jsonl."""
    files = []
    qs = store.all(Question, **given(question_set=question_set))
    if qs:
        files.append(
            write_rows(
                out / "question.jsonl",
                (
                    {
                        "question_id": q.id,
                        "category": q.category,
                        "turns": [{"content": t} for t in q.turns],
                    }
                    for q in qs
                ),
                True,
            )
        )
    by_model = defaultdict(list)
    for a in answers_of(store, question_set, models):
        meta = answer_meta(a)
        if "_v2" in meta:
            by_model[a.model].append(
                {"uid": a.question_id, "model": a.model, "messages": meta.pop("_v2"), **meta}
            )
            continue
        turns = [
            {"content": t, "token_len": a.completion_tokens if len(a.turns) == 1 else 0}
            for t in a.turns
        ]
        by_model[a.model].append(
            {
                "question_id": a.question_id,
                **({"answer_id": meta.pop("answer_id")} if "answer_id" in meta else {}),
                "model_id": a.model,
                "choices": [{"index": 0, "turns": turns}],
                **meta,
            }
        )
    files += [
        write_rows(out / "model_answer" / f"{m}.jsonl", rows, True)
        for m, rows in sorted(by_model.items())
    ]
    groups: dict[tuple, dict[str, Judgment]] = defaultdict(dict)
    for j in store.all(Judgment, mode="pairwise", **given(judge=judge, question_set=question_set)):
        groups[(j.judge, j.model_b, j.question_id)][j.order] = j
    per_file = defaultdict(list)
    for (jid, model, qid), g in groups.items():
        jm = split_judge(jid)[1]
        games = [
            {"user_prompt": user_part(x.prompt), "judgment": x.raw_output, "score": x.verdict}
            for x in (g.get("AB"), g.get("BA"))
            if x is not None
        ]
        first = g.get("AB") or g.get("BA")
        extra = dict(first.extra) if first else {}
        key = {extra.pop("_id_key", "question_id"): qid}
        per_file[(jm, model)].append({**key, "model": model, "judge": jm, **extra, "games": games})
    files += [
        write_rows(out / "model_judgment" / jm / f"{m}.jsonl", rows, True)
        for (jm, m), rows in per_file.items()
    ]
    return files
