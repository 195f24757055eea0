"""Datasets: a JSONL/CSV file plus a YAML card; rows are checked with file:line:field errors.

Multiple-choice rows have `question`, `choices` (a list) or columns `A`, `B`, ..., and
`answer` (a letter, a 0-based index or the text of a choice), plus optional `id`, `subset`.
Generation rows have `question` and `answer` (optional `solution` for chain-of-thought
examples). A registered name is a card `data/datasets/<name>.yaml`; a path to a card, or
to a bare data file (mode guessed from its rows), works too.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.core.config import LineMap, load_yaml, validate
from arena.core.errors import DataError, UnknownNameError
from arena.core.records import Sample, iter_jsonl
from arena.core.registry import data_dir
from objective.templates import LETTERS, TemplateSpec


class FewShot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = 0
    seed: int = 0
    per_subset: bool = True


class DatasetCard(BaseModel):
    """The YAML card of a dataset (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    license: str = ""
    source: Literal["file", "humaneval"] = "file"
    data: str | None = None
    dev: str | None = None
    mode: Literal["ppl", "gen"]
    metric: Literal["accuracy", "exact_match", "pass@1"] = "accuracy"
    continuation: Literal["letter", "text"] = "letter"
    norm: Literal["sum", "token", "byte"] = "sum"
    postprocess: str = "first_option"
    max_out_len: int | None = None
    stop: list[str] = Field(default_factory=list)
    template: TemplateSpec = Field(default_factory=TemplateSpec)
    few_shot: FewShot = Field(default_factory=FewShot)
    groups: dict[str, list[str]] = Field(default_factory=dict)


@dataclass
class Dataset:
    """A loaded dataset: its card, content version, test samples and few-shot pool."""

    card: DatasetCard
    version: str
    samples: list[Sample]
    dev: list[Sample]
    path: str

    @property
    def name(self) -> str:
        return self.card.name


def dataset_names() -> list[str]:
    """Registered dataset names (card stems under data/datasets)."""
    return sorted(p.stem for p in (data_dir() / "datasets").glob("*.yaml"))


def load_dataset(name_or_path: str) -> Dataset:
    """A registered dataset name, a card (.yaml) or a data file (.jsonl/.csv)."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_card(path)
    if path.suffix in (".jsonl", ".csv") and path.is_file():
        return _bare_file(path)
    card = data_dir() / "datasets" / f"{name_or_path}.yaml"
    if not card.is_file():
        raise UnknownNameError("dataset", name_or_path, dataset_names())
    return load_card(card)


def load_card(path: Path) -> Dataset:
    lines: LineMap = {}
    raw = load_yaml(path, lines)
    if isinstance(raw, dict):
        raw.setdefault("name", path.stem)
        if raw.get("source") == "needle":  # a grid generated per model: objective.needle
            from objective.needle import load_needle_card

            return load_needle_card(raw, path, lines)
    card = validate(DatasetCard, raw, str(path), lines)
    if card.source == "humaneval":
        from objective.humaneval import load_humaneval

        samples, blob = load_humaneval(card.name)
        return Dataset(card, _version(card, blob), samples, [], str(path))
    if not card.data:
        raise DataError("a file dataset needs 'data'", str(path), field="data")
    data = (path.parent / card.data).resolve()
    if not data.is_file():
        raise DataError(f"data file not found: {data}", str(path), lines.get(("data",), (None, None))[1], "data")
    mc = card.mode == "ppl" or _looks_mc(data)
    samples = read_rows(data, card.name, mc)
    dev_path = (path.parent / card.dev).resolve() if card.dev else None
    dev = read_rows(dev_path, card.name, mc) if dev_path else []
    blob = data.read_bytes() + (dev_path.read_bytes() if dev_path else b"")
    return Dataset(card, _version(card, blob), samples, dev, str(path))


def _version(card: DatasetCard, blob: bytes) -> str:
    """Six hex digits of the content (data, dev split and the card's prompt settings)."""
    h = hashlib.sha256(blob)
    h.update(card.model_dump_json(exclude={"description", "license"}).encode())
    return h.hexdigest()[:6]


def _looks_mc(path: Path) -> bool:
    """A file is multiple-choice when its first row has `choices` or column `A`."""
    first = next(iter(_raw_rows(path)), None)
    return first is not None and ("choices" in first[1] or "A" in first[1])


def _bare_file(path: Path) -> Dataset:
    mc = _looks_mc(path)
    card = DatasetCard(name=path.stem, data=path.name, mode="ppl" if mc else "gen",
                       metric="accuracy" if mc else "exact_match",
                       postprocess="first_option" if mc else "first_line")
    samples = read_rows(path, card.name, mc)
    return Dataset(card, _version(card, path.read_bytes()), samples, [], str(path))


def _raw_rows(path: Path):
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if k and v not in (None, "")}
    else:
        yield from iter_jsonl(path)


def read_rows(path: Path, dataset: str, multiple_choice: bool) -> list[Sample]:
    """Parse and check every row; an empty file is an error (never a 0% score)."""
    if not path.is_file():
        raise DataError("file not found", str(path))
    out: list[Sample] = []
    seen: set[str] = set()
    for line, row in _raw_rows(path):
        s = (_mc_row if multiple_choice else _gen_row)(row, dataset, str(path), line)
        if s.id in seen:
            raise DataError(f"duplicate id '{s.id}'", str(path), line, "id")
        seen.add(s.id)
        out.append(s)
    if not out:
        raise DataError("the dataset has no rows", str(path))
    return out


def _need(row: dict, field: str, file: str, line: int) -> Any:
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("missing required field", file, line, field)
    return value


def _choices(row: dict, file: str, line: int) -> list[str]:
    if "choices" in row:
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise DataError("'choices' must be a list of at least 2 options", file, line, "choices")
    else:
        choices = []
        for letter in LETTERS:
            if letter not in row:
                break
            choices.append(row[letter])
        if len(choices) < 2:
            raise DataError("missing required field (a 'choices' list or columns A, B, ...)",
                            file, line, "choices" if not choices else "B")
    if any(not isinstance(c, (str, int, float)) or str(c).strip() == "" for c in choices):
        raise DataError("every choice must be a non-empty string", file, line, "choices")
    return [str(c) for c in choices]


def _answer_index(answer: Any, choices: list[str], file: str, line: int) -> int:
    n = len(choices)
    if isinstance(answer, bool) or not isinstance(answer, (int, str)):
        raise DataError("answer must be a letter, an index or a choice text", file, line, "answer")
    if isinstance(answer, int) or answer.strip().isdigit():
        idx = int(answer)
        if 0 <= idx < n:
            return idx
        raise DataError(f"answer index {idx} is not among the {n} choices (0..{n - 1})", file, line, "answer")
    text = answer.strip()
    if len(text) == 1 and text.upper() in LETTERS:
        idx = LETTERS.index(text.upper())
        if idx < n:
            return idx
        raise DataError(f"answer '{text}' is not among the choices A-{LETTERS[n - 1]}", file, line, "answer")
    if text in choices:
        return choices.index(text)
    raise DataError(f"answer '{text[:40]}' is not a letter A-{LETTERS[n - 1]} nor one of the choices",
                    file, line, "answer")


def _mc_row(row: dict, dataset: str, file: str, line: int) -> Sample:
    question = str(_need(row, "question", file, line))
    choices = _choices(row, file, line)
    idx = _answer_index(_need(row, "answer", file, line), choices, file, line)
    return Sample(dataset=dataset, id=str(row.get("id", line)), subset=row.get("subset"),
                  question=question, choices=choices, answer=idx,
                  extra={"line": line, **({"solution": row["solution"]} if "solution" in row else {})})


def _gen_row(row: dict, dataset: str, file: str, line: int) -> Sample:
    question = str(_need(row, "question", file, line))
    answer = _need(row, "answer", file, line)
    if isinstance(answer, (dict, list)):
        raise DataError("answer must be a string or a number", file, line, "answer")
    extra: dict[str, Any] = {"line": line}
    if row.get("solution"):
        extra["solution"] = str(row["solution"])
    return Sample(dataset=dataset, id=str(row.get("id", line)), subset=row.get("subset"),
                  question=question, target=str(answer), extra=extra)
