"""Rows for `arena agreement`: from a JSON/JSONL file of labels, or from a store's votes and judges.

Every row is one judged item; columns hold canonical labels ``A`` (the first answer wins),
``B`` or ``tie`` (``None`` where a rater gave none). In the store, an item is (question,
model pair, turn) with the pair sorted by name, so ``A`` means the model whose name sorts
first won, whatever order each rater or judge saw.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from arena.core.errors import ConfigError, DataError

# Values every upstream tool writes for a pairwise verdict (case-insensitive).
DEFAULT_LABELS: dict[str, str] = {
    "a": "A",
    "model_a": "A",
    "b": "B",
    "model_b": "B",
    "tie": "tie",
    "tie (bothbad)": "tie",
    "tie_bothbad": "tie",
    "c": "tie",
}
CANONICAL = ("A", "B", "tie")


def parse_label_map(specs: Iterable[str] | None) -> dict[str, str] | None:
    """``["1=A,2=B", "1.5=tie"]`` -> ``{"1": "A", "2": "B", "1.5": "tie"}`` (None: defaults).

    Raises:
        ConfigError: an item is not VALUE=LABEL or the label is not A, B or tie.
    """
    out: dict[str, str] = {}
    for spec in specs or []:
        for item in filter(None, (s.strip() for s in spec.split(","))):
            value, sep, label = item.rpartition("=")
            canon = {"a": "A", "b": "B", "tie": "tie"}.get(label.strip().lower())
            if not sep or not value or canon is None:
                raise ConfigError(
                    f"--labels: '{item}' is not VALUE=LABEL with LABEL one of A, B, tie"
                )
            out[value.strip()] = canon
    return out or None


def _key(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(path: Path) -> list[dict]:
    """Objects of a JSONL file, or of a JSON list (or of a JSON object of equal-length columns)."""
    if not path.exists():
        raise DataError("file not found", str(path))
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl" or not text.lstrip().startswith(("[", "{")) or "\n{" in text.strip():
        rows = []
        for no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"not JSON: {e.msg}", str(path), no) from None
            if not isinstance(obj, dict):
                raise DataError("each line must be a JSON object", str(path), no)
            rows.append(obj)
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON: {e.msg}", str(path), e.lineno) from None
    if isinstance(data, dict):
        data = pd.DataFrame(data).to_dict("records")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError("expected a JSON list of objects (or JSONL)", str(path))
    return data


def label_frame(
    rows: list[dict],
    columns: list[str],
    labels: dict[str, str] | None,
    path: str,
    keep: Iterable[str] = (),
) -> pd.DataFrame:
    """Map the label columns of `rows` to A/B/tie; `keep` columns are copied as they are.

    Raises:
        ConfigError: a column is missing everywhere, or a value is no known label (file, row, column).
    """
    for col in [*columns, *keep]:
        if not any(col in r for r in rows):
            found = sorted({k for r in rows[:50] for k in r})
            raise DataError(f"no column '{col}' (columns: {', '.join(found)})", path, field=col)
    table = labels or DEFAULT_LABELS
    out: dict[str, list] = {c: [] for c in [*columns, *keep]}
    for no, r in enumerate(rows, 1):
        for c in columns:
            v = r.get(c)
            if v is None or (isinstance(v, float) and v != v) or v == "":
                out[c].append(None)
                continue
            k = _key(v)
            lab = table.get(k) if labels else table.get(k.lower())
            if lab is None:
                raise DataError(
                    f"row {no}: value {v!r} is not a label (known: {', '.join(table)}); "
                    "map it with --labels VALUE=A|B|tie",
                    path,
                    field=c,
                )
            out[c].append(lab)
        for c in keep:
            out[c].append(r.get(c))
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- the store


@dataclass
class StoreAgreementRows:
    """Human raters' columns and, per judge source, its label column (+ both orders)."""

    rows: pd.DataFrame
    human_cols: list[str] = field(default_factory=list)
    judges: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    # judge source -> (consolidated label column, order-1 column, order-2 column un-remapped)


def _orient(model_a: str, model_b: str, winner: str) -> tuple[tuple[str, str], str | None]:
    lab = DEFAULT_LABELS.get(str(winner).lower())
    if model_a <= model_b:
        return (model_a, model_b), lab
    return (model_b, model_a), {"A": "B", "B": "A", "tie": "tie"}.get(lab or "")


def _human(store: Any, run: str | None) -> tuple[dict, list[str]]:
    from arena.core.records import Battle, Vote

    cells: dict[tuple, dict[str, str]] = defaultdict(dict)
    raters: list[str] = []
    seen: set[str] = set()
    for v in store.all(Vote, run):
        pair, lab = _orient(v.model_a, v.model_b, v.winner)
        cells[(v.question_id, *pair, v.turn)][v.rater] = lab  # type: ignore[assignment]
        seen.add(v.battle_id)
        if v.rater not in raters:
            raters.append(v.rater)
    for b in store.all(Battle, run, source="human"):
        if b.ref and b.ref in seen:
            continue  # the same vote, already read with its rater
        pair, lab = _orient(b.model_a, b.model_b, b.winner)
        item = cells[(b.question_id, *pair, b.turn)]
        col, i = "human", 1
        while col in item:  # several anonymous votes on one item: one column each
            i += 1
            col = f"human#{i}"
        item[col] = lab  # type: ignore[assignment]
        if col not in raters:
            raters.append(col)
    return cells, sorted(raters)


def _judge_battles(store: Any, run: str | None) -> dict[str, dict[tuple, str]]:
    from arena.core.records import Battle

    out: dict[str, dict[tuple, str]] = defaultdict(dict)
    for b in store.all(Battle, run):
        if not b.source.startswith("judge:") or b.ref in ("half:b", "pref:b"):
            continue
        winner = b.winner
        if b.ref == "half:a":
            winner = "tie"
        elif b.ref == "pref:a":  # AlpacaEval's fractional preference: model_a's weight 2 - p
            winner = "model_a" if b.weight > 0.5 else "model_b" if b.weight < 0.5 else "tie"
        pair, lab = _orient(b.model_a, b.model_b, winner)
        if lab:
            out[b.source][(b.question_id, *pair, b.turn)] = lab
    return out


def _judge_orders(store: Any, run: str | None) -> dict[str, dict[tuple, tuple[str, str]]]:
    """Per judge source: item -> (label with the name-first model shown first, label of the
    other order as the judge gave it, i.e. not re-mapped)."""
    from arena.core.records import Judgment
    from judges.pairwise import DEFAULT_VERDICTS, model_winner

    verdicts: dict[str, Any] = {}
    by_item: dict[str, dict[tuple, dict[bool, str]]] = defaultdict(lambda: defaultdict(dict))
    for j in store.all(Judgment, run):
        if j.mode != "pairwise" or j.model_b is None or j.order not in ("AB", "BA"):
            continue
        if j.judge not in verdicts:
            verdicts[j.judge] = _verdicts_of(j.judge) or DEFAULT_VERDICTS
        mw = model_winner(j, verdicts[j.judge])
        if mw is None:
            continue
        pair, lab = _orient(j.model_a, j.model_b, mw[0])
        name_first_shown_first = (j.model_a == pair[0]) == (j.order == "AB")
        if lab:
            by_item[f"judge:{j.judge}"][(j.question_id, *pair, j.turn)][name_first_shown_first] = (
                lab
            )
    swap = {"A": "B", "B": "A", "tie": "tie"}
    return {
        src: {k: (v[True], swap[v[False]]) for k, v in items.items() if len(v) == 2}
        for src, items in by_item.items()
    }


def _verdicts_of(judge_id: str) -> dict | None:
    """The verdict scale of a built-in judge config named by `<config>@<model>`, if any."""
    from judges.judge import load_judge

    try:
        return load_judge(judge_id.split("@", 1)[0]).config.verdicts or None
    except Exception:  # an imported or removed judge: the default labels apply
        return None


def store_rows(store: Any, run: str | None = None, judge: str | None = None) -> StoreAgreementRows:
    """Items with human votes, one column per rater and per judge (see module docstring)."""
    human, raters = _human(store, run)
    battles, orders = _judge_battles(store, run), _judge_orders(store, run)
    sources = sorted(battles)
    if judge:
        want = judge if judge.startswith("judge:") else f"judge:{judge}"
        sources = [s for s in sources if s == want or s.startswith(want + "@")]
    rows = []
    for item, votes in human.items():
        row: dict[str, Any] = {
            "question_id": item[0],
            "model_1": item[1],
            "model_2": item[2],
            "turn": item[3],
            **{r: votes.get(r) for r in raters},
        }
        for s in sources:
            row[s] = battles[s].get(item)
            ab = orders.get(s, {}).get(item)
            row[s + " #1"], row[s + " #2"] = ab if ab else (None, None)
        rows.append(row)
    out = StoreAgreementRows(pd.DataFrame(rows), raters)
    out.judges = {s: (s, s + " #1", s + " #2") for s in sources}
    return out


def store_result(store: Any, run: str | None = None, judge: str | None = None) -> dict[str, dict]:
    """Per judge source: its agreement with the human votes in `store` (see arena.agreement_data)."""
    from arena.ratings.agreement import label_agreement

    data = store_rows(store, run, judge)
    out: dict[str, dict] = {}
    if data.rows.empty:
        return out
    for src, (col, first, second) in data.judges.items():
        res = label_agreement(data.rows, data.human_cols, col).as_dict()
        both = label_agreement(data.rows, data.human_cols, first, second)  # type: ignore[arg-type]
        res.update(
            consistency=both.as_dict()["consistency"],
            agreement_both=both.as_dict()["agreement_both"],
            n_swapped=both.n_swapped,
        )
        out[src] = res
    return out
