"""Helpers shared by the importers/exporters of other tools' files (judges.formats*).

A module of its own so that the format modules import it and never each other's private names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from arena.core.errors import DataError
from arena.core.records import Answer, iter_jsonl
from arena.core.store import Store

IMPORTED = "imported"  # config_hash of imported answers


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
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise DataError("expected a JSON object", str(path), i + 1)
    return data


def write_rows(path: Path, rows: Iterable[dict], jsonl: bool) -> Path:
    """Write rows as JSONL or as an indented JSON list (UTF-8, not ASCII-escaped)."""
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


def answer_meta(a: Answer) -> dict:
    """The imported fields an answer keeps for export (`params["import"]`)."""
    return dict(a.params.get("import") or {})


def require(row: dict, keys: tuple[str, ...], path: Path, i: int) -> None:
    """Raise a DataError naming file, row (1-based) and the first missing key."""
    for k in keys:
        if k not in row:
            raise DataError(f"missing key '{k}'", str(path), i + 1, k)


def given(**where: Any) -> dict[str, Any]:
    """The filters that were given (None: any value), for `Store.all(cls, **where)`, which
    filters in SQL."""
    return {k: v for k, v in where.items() if v is not None}


def answers_of(store: Store, qset: str | None, models: list[str] | None) -> list[Answer]:
    """Stored answers of a question set (all if None) and models (all if None)."""
    return store.all(Answer, **given(question_set=qset, model=models))
