"""AlpacaEval import/export: the files alpaca_eval 0.6.6 writes, every field kept.

- ``model_outputs.json``: ``instruction, output, generator, dataset`` (+ any other key, kept in
  ``Answer.params["import"]``).
- ``annotations.json`` (``results/<model>/<annotator>/annotations.json``): ``instruction,
  output_1, generator_1, output_2, generator_2, annotator, preference`` (1 = output_1 wins, 2 =
  output_2, 1.5 a draw, fractional for the weighted annotators, ``0`` the legacy draw, null when
  the annotator failed), ``price_per_example``, ``time_per_example``, ``raw_completion`` (a
  string, or a dict with the logprobs for the weighted annotators) and any other key. A
  Judgment keeps the preference as its score, ``raw_completion`` as text (a dict is JSON-encoded
  and kept as it was in ``extra``), and every other field plus the file and row position in
  ``extra``, so an export writes the same rows to the same paths.
- leaderboard CSVs (``*leaderboard*.csv``: an unnamed model column, ``win_rate, standard_error,
  n_wins, ..., mode, avg_length, length_controlled_winrate, lc_standard_error``): one
  DatasetResult per model and numeric column (dataset ``alpaca_eval/<file stem>``, ``mode`` the
  leaderboard's mode).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from arena.core.errors import DataError
from arena.core.records import Answer, DatasetResult, Judgment, Question, content_hash
from arena.core.store import Store
from arena.ratings.winrate import WINRATE_COLUMNS
from judges.formats_common import (
    IMPORTED,
    answer_meta,
    answers_of,
    given,
    read_rows,
    require,
    write_rows,
)
from judges.pairwise import DEFAULT_VERDICTS, model_winner

ALPACA_HASH = "alpaca-eval"
_OUTPUT_KEYS = ("instruction", "output", "generator", "dataset")
_ANN_KEYS = (
    "instruction",
    "output_1",
    "generator_1",
    "output_2",
    "generator_2",
    "annotator",
    "preference",
    "price_per_example",
    "time_per_example",
    "raw_completion",
)
# AlpacaEval's leaderboard CSV: our win-rate columns, then its own, in its order
LEADERBOARD_COLUMNS = (*WINRATE_COLUMNS, "mode", "avg_length", "length_controlled_winrate", "lc_standard_error")


def alpaca_qid(instruction: str) -> str:
    """AlpacaEval rows have no ids: the instruction's hash is one."""
    return "ae-" + content_hash(instruction, 12)


def _alpaca_question(row: dict, qset: str) -> Question:
    return Question(
        question_set=qset,
        id=alpaca_qid(row["instruction"]),
        category=row.get("dataset") or "general",
        turns=[row["instruction"]],
    )


def _alpaca_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = (
        sorted(path.rglob("model_outputs.json"))
        + sorted(path.rglob("annotations.json"))
        + sorted(path.rglob("*leaderboard*.csv"))
    )
    if not found:
        raise DataError(
            "no model_outputs.json, annotations.json or *leaderboard*.csv here", str(path)
        )
    return found


def import_alpaca_eval(
    path: Path, store: Store, question_set: str = "alpaca_eval", **_: Any
) -> dict[str, int]:
    """Import model_outputs.json, annotations.json and leaderboard CSVs (a file or a folder)."""
    qs: dict[str, Question] = {}
    answers: list[Answer] = []
    js: list[Judgment] = []
    results: list[DatasetResult] = []
    root = path if path.is_dir() else path.parent
    for f in _alpaca_files(path):
        if f.suffix == ".csv":
            results += _leaderboard(f)
            continue
        for i, row in enumerate(read_rows(f)):
            require(row, ("instruction",), f, i)
            q = qs.setdefault(row["instruction"], _alpaca_question(row, question_set))
            if "preference" in row or "output_1" in row:
                require(row, ("output_1", "generator_1", "output_2", "generator_2"), f, i)
                for n in ("1", "2"):
                    answers.append(
                        Answer(
                            model=row[f"generator_{n}"],
                            question_set=question_set,
                            question_id=q.id,
                            turns=[row[f"output_{n}"] or ""],
                            config_hash=IMPORTED,
                        )
                    )
                js.append(_alpaca_judgment(row, q, f, i, str(f.relative_to(root))))
            else:
                require(row, ("output", "generator"), f, i)
                extra = {k: v for k, v in row.items() if k not in _OUTPUT_KEYS}
                answers.append(
                    Answer(
                        model=row["generator"],
                        question_set=question_set,
                        question_id=q.id,
                        turns=[row["output"] or ""],
                        params={"import": extra},
                        config_hash=IMPORTED,
                    )
                )
    # model_outputs files come first, so their answers (with extra fields) win on key clashes
    counts = {
        "questions": store.put_many(qs.values()),
        "answers": store.put_many(answers),
        "judgments": store.put_many(js),
    }
    if results:
        counts["results"] = store.put_many(results)
    failed = sum(j.parse_error is not None for j in js)
    if failed:
        counts["failed"] = (
            failed  # annotations with a null preference (kept, not counted in win rates)
        )
    return counts


def _alpaca_judgment(row: dict, q: Question, f: Path, i: int, rel: str) -> Judgment:
    p = row.get("preference")
    if p is not None and not isinstance(p, (int, float)):
        raise DataError(
            f"preference must be a number or null, not {p!r}", str(f), i + 1, "preference"
        )
    score = 1.5 if p == 0 else (float(p) if p is not None and 1 <= p <= 2 else None)
    extra: dict[str, Any] = {k: v for k, v in row.items() if k not in _ANN_KEYS}
    raw = row.get("raw_completion")
    if not isinstance(raw, str) and raw is not None:
        extra["raw_completion"] = raw  # a dict (logprobs) stays a dict on export
    if p == 0 or "preference" not in row:
        extra["preference"] = p if "preference" in row else "<absent>"
    for k in ("annotator", "price_per_example", "time_per_example", "raw_completion"):
        if k not in row:
            extra[k] = "<absent>"
        elif row[k] is None or (
            k != "raw_completion" and not isinstance(row[k], (int, float, str))
        ):
            extra[k] = row[k]
    extra["_file"], extra["_position"] = rel, i
    return Judgment(
        judge=row.get("annotator") or "alpaca_eval",
        judge_hash=ALPACA_HASH,
        mode="pairwise",
        question_set=q.question_set,
        question_id=q.id,
        model_a=row["generator_1"],
        model_b=row["generator_2"],
        order="AB",
        prompt="",
        raw_output=raw
        if isinstance(raw, str) or raw is None
        else json.dumps(raw, ensure_ascii=False),
        verdict=None if score is None else f"{score:g}",
        score=score,
        parse_error=None if score is not None else f"preference {p!r}",
        cost=_num(row.get("price_per_example")),
        latency=_num(row.get("time_per_example")),
        extra=extra,
    )


def _num(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def _leaderboard(f: Path) -> list[DatasetResult]:
    df = pd.read_csv(f, index_col=0)
    out = []
    for model, row in df.iterrows():
        n = row.get("n_total")
        n = int(n) if n is not None and not pd.isna(n) else 0
        mode = row.get("mode")
        for col, value in row.items():
            if col == "mode" or not isinstance(value, (int, float)) or pd.isna(value):
                continue
            out.append(
                DatasetResult(
                    model=str(model),
                    dataset=f"alpaca_eval/{f.stem}",
                    metric=str(col),
                    mode=str(mode) if isinstance(mode, str) else "",
                    value=float(value),
                    n=n,
                )
            )
    return out


def preference(j: Judgment) -> float | None:
    """AlpacaEval preference in model terms: 1 model_a, 2 model_b, 1.5 tie (or fractional)."""
    if j.judge_hash == ALPACA_HASH:
        return j.score
    mw = model_winner(j, DEFAULT_VERDICTS)
    return None if mw is None else {"model_a": 1.0, "model_b": 2.0}.get(mw[0], 1.5)


def alpaca_eval_battles(
    store: Store, question_set: str | None = None, judge: str | None = None
) -> pd.DataFrame:
    """Stored AlpacaEval annotations as a battles table for win rates and LC (``preference``,
    ``len_a``/``len_b`` in characters, ``position`` = the row's index in its file)."""
    sets = given(question_set=question_set or None)
    text = {
        (a.model, a.question_set, a.question_id): a.turns[0] if a.turns else ""
        for a in store.all(Answer, **sets)
    }
    rows = []
    for j in store.all(Judgment, judge_hash=ALPACA_HASH, **given(judge=judge or None), **sets):
        o1 = text.get((j.model_a, j.question_set, j.question_id), "")
        o2 = text.get((j.model_b or "", j.question_set, j.question_id), "")
        rows.append(
            {
                "model_a": j.model_a,
                "model_b": j.model_b,
                "preference": j.score,
                "len_a": float(len(o1)),
                "len_b": float(len(o2)),
                "question_id": j.question_id,
                "source": f"judge:{j.judge}",
                "file": j.extra.get("_file", ""),
                "position": j.extra.get("_position", 0),
            }
        )
    df = pd.DataFrame(rows).sort_values(["file", "position"], kind="stable").reset_index(drop=True)
    df["preference"] = df["preference"].astype(float)
    p = df["preference"]
    df["winner"] = (
        p.gt(1.5).map({True: "model_b", False: "model_a"}).where(p != 1.5, "tie")
    ).where(p.notna(), None)
    return df


def export_alpaca_eval(
    store: Store,
    out: Path,
    question_set: str | None = None,
    models: list[str] | None = None,
    judge: str | None = None,
) -> list[Path]:
    """Write ``<model>/model_outputs.json`` per model, annotations to the paths they came from
    (else ``<generator_2>/<annotator>/annotations.json``) and leaderboard CSVs."""
    qs = {q.id: q for q in store.all(Question, **given(question_set=question_set))}
    answers = [a for a in answers_of(store, question_set, models) if a.question_id in qs]
    by_model = defaultdict(list)
    for a in answers:
        q = qs[a.question_id]
        by_model[a.model].append(
            {
                "instruction": q.turns[0],
                "output": a.turns[0],
                "generator": a.model,
                "dataset": q.category,
                **answer_meta(a),
            }
        )
    files = [
        write_rows(out / m / "model_outputs.json", rows, False)
        for m, rows in sorted(by_model.items())
    ]
    index = {(a.model, a.question_id): a for a in answers}
    per_file: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for j in store.all(Judgment, mode="pairwise", turn=1, **given(judge=judge or None)):
        if j.question_id not in qs:
            continue
        a1, a2 = index.get((j.model_a, j.question_id)), index.get((j.model_b or "", j.question_id))
        if a1 is None or a2 is None:
            continue
        row, rel, pos = _annotation_row(j, qs[j.question_id], a1, a2)
        per_file[rel].append((pos, row))
    for rel, rows in sorted(per_file.items()):
        files.append(write_rows(out / rel, [r for _, r in sorted(rows, key=lambda x: x[0])], False))
    files += _export_leaderboards(store, out)
    return files


def _annotation_row(j: Judgment, q: Question, a1: Answer, a2: Answer) -> tuple[dict, str, int]:
    extra = dict(j.extra)
    rel = extra.pop("_file", f"{j.model_b}/{j.judge}/annotations.json")
    pos = extra.pop("_position", 0)
    row: dict[str, Any] = {
        "instruction": q.turns[0],
        "output_1": a1.turns[0],
        "generator_1": j.model_a,
        "output_2": a2.turns[0],
        "generator_2": j.model_b,
        "annotator": j.judge,
        "preference": preference(j),
        "price_per_example": j.cost,
        "time_per_example": j.latency,
        "raw_completion": j.raw_output,
    }
    if j.raw_output is None:
        del row["raw_completion"]
    row |= extra
    return {k: v for k, v in row.items() if v != "<absent>"}, rel, pos


def _export_leaderboards(store: Store, out: Path) -> list[Path]:
    by_file: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for r in store.all(DatasetResult):
        if r.dataset.startswith("alpaca_eval/"):
            row = by_file[r.dataset.split("/", 1)[1]][r.model]
            row[r.metric] = r.value
            row["mode"] = r.mode
    files = []
    for stem, rows in sorted(by_file.items()):
        df = pd.DataFrame.from_dict(rows, orient="index")
        cols = [c for c in LEADERBOARD_COLUMNS if c in df.columns] + [
            c for c in df.columns if c not in LEADERBOARD_COLUMNS
        ]
        for c in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
            if (
                c in df.columns
                and df[c].notna().all()
                and all(float(v).is_integer() for v in df[c])
            ):
                df[c] = df[c].astype(int)
        path = out / f"{stem}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df[cols].to_csv(path)
        files.append(path)
    return files
