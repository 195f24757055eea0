"""Reading dataset files as they are published: CSV (with or without a header), JSONL, JSON
and parquet (what the `datasets` library's `to_csv/to_json/to_parquet` write), a folder of
such files or a glob whose `{subset}` part names the subset, plus a column map and named
row preprocessors for the released ARC / HellaSwag / Winogrande / GSM8K forms.

Every row comes back as `(line, dict)`: the 1-based line (CSV/JSONL) or row number
(JSON/parquet) that error messages point at.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from arena.core.errors import DataError

FORMATS = ("csv", "jsonl", "json", "parquet")
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet"}
CANONICAL = ("question", "choices", "answer", "id", "subset", "solution")
Row = tuple[int, dict[str, Any]]


def data_root() -> Path:
    """Where published data sets live: `$ARENA_DATA_DIR`, else `./data` (OpenCompass's default)."""
    return Path(os.environ.get("ARENA_DATA_DIR") or "data").expanduser()


def file_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    if path.suffix.lower() in SUFFIXES:
        return SUFFIXES[path.suffix.lower()]
    raise DataError(f"unknown file type '{path.suffix}' (known: {', '.join(SUFFIXES)})", str(path))


def read_table(path: Path, fmt: str = "auto", header: list[str] | None = None) -> Iterator[Row]:
    """The rows of one file; `header` names the columns of a CSV that has no header line."""
    kind = file_format(path, fmt)
    if kind == "csv":
        yield from _csv_rows(path, header)
    elif kind == "jsonl":
        yield from _jsonl_rows(path)
    elif kind == "json":
        yield from _json_rows(path)
    else:
        yield from _parquet_rows(path)


def _csv_rows(path: Path, header: list[str] | None) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        names = header
        if names is None:
            names = next(reader, None)
            if names is None:
                return
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is not None and len(cells) != len(header):
                raise DataError(
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(cells)}",
                    str(path),
                    reader.line_num,
                )
            yield reader.line_num, {k: v for k, v in zip(names, cells) if k and v != ""}


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", str(path), n) from None
            if not isinstance(row, dict):
                raise DataError("each line must be a JSON object", str(path), n)
            yield n, row


def _json_rows(path: Path) -> Iterator[Row]:
    """A JSON list of objects, or the column-wise / `{"data": [...]}` forms pandas writes."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        # `datasets.Dataset.to_json` writes JSON lines by default, even into a .json file
        try:
            rows = list(_jsonl_rows(path))
        except DataError:
            raise DataError(f"invalid JSON: {exc.msg}", str(path), exc.lineno) from None
        yield from rows
        return
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        cols = list(data)  # pandas orient="columns": {column: {row: value}}
        keys = list(data[cols[0]])
        data = [{c: data[c].get(k) for c in cols} for k in keys]
    if isinstance(data, dict):  # one JSON line (`to_json` of a one-row dataset)
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError("a .json dataset must be a list of objects", str(path))
    yield from enumerate(data, 1)


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading parquet needs pyarrow: pip install pyarrow", str(path)) from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise DataError(
            f"not a readable parquet file ({type(exc).__name__}: {exc})", str(path)
        ) from None
    for n, row in enumerate(table.to_pylist(), 1):
        yield n, {k: v for k, v in row.items() if v is not None}


def expand(pattern: str, base: Path) -> list[tuple[str | None, Path]]:
    """Files named by `pattern`: one file, a folder (subset = file stem) or a glob.

    A `{subset}` in the pattern matches any text and names the subset, e.g.
    `ceval/formal_ceval/val/{subset}_val.csv`; other glob characters work as usual.
    """
    full = pattern if Path(pattern).is_absolute() else str(base / pattern)
    if "{subset}" in full:
        head, _, tail = full.partition("{subset}")
        regex = re.compile(re.escape(head) + r"(?P<subset>.+?)" + re.escape(tail) + r"\Z")
        found = sorted(Path(p) for p in _glob(full.replace("{subset}", "*")))
        out = []
        for p in found:
            m = regex.match(str(p))
            if m and p.is_file():
                out.append((m.group("subset"), p))
        return out
    path = Path(full)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        if len(files) <= 1:
            return [(None, p) for p in files]
        # C-Eval's val/<subject>_val.csv: the split suffix is not part of the subset name
        tail = f"_{path.name}"
        cut = len(tail) if all(p.stem.endswith(tail) and p.stem != tail for p in files) else 0
        return [(p.stem[: len(p.stem) - cut], p) for p in files]
    if any(ch in full for ch in "*?["):
        return [(p.stem, p) for p in sorted(Path(x) for x in _glob(full)) if p.is_file()]
    return [(None, path)] if path.is_file() else []


def _glob(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern, recursive=True)


def map_columns(
    row: dict[str, Any], columns: dict[str, str | list[str]], file: str, line: int
) -> dict[str, Any]:
    """Copy the named source columns into the canonical fields (question, choices, answer...)."""
    if not columns:
        return row
    out = dict(row)
    for field, source in columns.items():
        if isinstance(source, list):
            missing = [s for s in source if s not in row]
            if missing:
                raise DataError(
                    f"column '{missing[0]}' (mapped to '{field}') is missing",
                    file,
                    line,
                    missing[0],
                )
            out[field] = [row[s] for s in source]
            for s in source:
                if s != field:
                    out.pop(s, None)
        elif source in row:
            out[field] = row[source]
            if source != field and source not in CANONICAL:
                out.pop(source, None)
    return out


# --------------------------------------------------------------------------- released forms


def _arc(row: dict[str, Any], file: str, line: int) -> dict[str, Any]:
    """AI2 ARC JSONL: {"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}."""
    q = row.get("question")
    if not isinstance(q, dict) or "stem" not in q or not isinstance(q.get("choices"), list):
        raise DataError("ARC rows need question.stem and question.choices", file, line, "question")
    labels = [str(c.get("label")) for c in q["choices"]]
    key = str(row.get("answerKey", ""))
    if key not in labels:
        raise DataError(
            f"answerKey '{key}' is not one of the labels {labels}", file, line, "answerKey"
        )
    return {
        "id": row.get("id", line),
        "question": q["stem"],
        "choices": [c.get("text") for c in q["choices"]],
        "answer": labels.index(key),
    }


def _hellaswag(row: dict[str, Any], file: str, line: int) -> dict[str, Any]:
    """OpenCompassData `hellaswag.jsonl`: {"query": "<activity>: <ctx>", "choices", "gold"}.

    Like OpenCompass's loader the context is the query without its activity label.
    """
    if "query" not in row:  # the HF export: ctx, endings, label
        if "ctx" in row and "endings" in row:
            return {
                "id": row.get("ind", line),
                "question": row["ctx"],
                "choices": row["endings"],
                "answer": row.get("label"),
            }
        raise DataError(
            "HellaSwag rows need 'query' (OpenCompassData) or 'ctx' and 'endings'",
            file,
            line,
            "query",
        )
    return {
        "id": row.get("ind", line),
        "question": str(row["query"]).split(": ", 2)[-1],
        "choices": row.get("choices"),
        "answer": row.get("gold"),
    }


def _winogrande(row: dict[str, Any], file: str, line: int) -> dict[str, Any]:
    """Winogrande JSONL: {"sentence" with one '_', "option1", "option2", "answer": "1"|"2"}."""
    sentence = row.get("sentence")
    if not isinstance(sentence, str) or "_" not in sentence:
        raise DataError("a Winogrande sentence needs one '_' blank", file, line, "sentence")
    opts = [row.get("option1"), row.get("option2")]
    if any(not isinstance(o, str) for o in opts):
        raise DataError("missing option1/option2", file, line, "option1")
    answer = str(row.get("answer", "")).strip()
    if answer not in ("1", "2"):
        raise DataError(f"answer must be '1' or '2', got '{answer}'", file, line, "answer")
    return {
        "id": row.get("qID", line),
        "question": sentence,
        "choices": [sentence.replace("_", o, 1) for o in opts],
        "answer": int(answer) - 1,
    }


PREPROCESSORS: dict[str, Callable[[dict[str, Any], str, int], dict[str, Any]]] = {
    "arc": _arc,
    "hellaswag": _hellaswag,
    "winogrande": _winogrande,
}


def get_preprocessor(name: str) -> Callable[[dict[str, Any], str, int], dict[str, Any]]:
    if name not in PREPROCESSORS:
        from arena.core.errors import ConfigError

        raise ConfigError(
            f"unknown preprocess '{name}' (known: {', '.join(PREPROCESSORS)})", field="preprocess"
        )
    return PREPROCESSORS[name]


def split_gsm8k(answer: str) -> tuple[str, str] | None:
    """GSM8K's `"<worked solution>\\n#### 1,234"` -> ("<worked solution>", "1234")."""
    if "####" not in answer:
        return None
    solution, _, final = answer.rpartition("####")
    return solution.strip(), final.strip().replace(",", "")


@contextmanager
def using_data_dir(path: str | Path | None) -> Iterator[None]:
    """Read data-root cards under `path` for the duration (None: leave the root as it is)."""
    if path is None:
        yield
        return
    old = os.environ.get("ARENA_DATA_DIR")
    os.environ["ARENA_DATA_DIR"] = str(Path(path).expanduser().resolve())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ARENA_DATA_DIR", None)
        else:
            os.environ["ARENA_DATA_DIR"] = old
