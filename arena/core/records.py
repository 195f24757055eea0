"""Typed, versioned records: one table per record type in the store, one JSONL export each.

Every record has a `key()`: a content hash of the fields that identify it, so that
writing the same unit of work twice stores it once (resume by content).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arena.core.errors import DataError

SCHEMA_VERSION = 1

Winner = Literal["model_a", "model_b", "tie", "tie (bothbad)"]
WINNERS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")


def content_hash(obj: Any, length: int = 16) -> str:
    """Stable hash of any JSON-serialisable object (sorted keys, compact)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


class Record(BaseModel):
    """Base of every stored record."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    table: ClassVar[str] = ""
    key_fields: ClassVar[tuple[str, ...]] = ()
    #: fields kept only in the stored JSON document (long text, nested lists); every other
    #: field is also a column of its table, so the store filters and frames without parsing
    blob_fields: ClassVar[tuple[str, ...]] = ()
    #: columns with an index: what code filters on
    indexed: ClassVar[tuple[str, ...]] = ()

    def key(self) -> str:
        fields = self.key_fields or tuple(n for n in type(self).model_fields if n != "schema_version")
        return content_hash({f: getattr(self, f) for f in fields}, 32)


class Sample(Record):
    """One dataset item: a question with choices (ppl) or a target (gen)."""

    table: ClassVar[str] = "samples"
    key_fields: ClassVar[tuple[str, ...]] = ("dataset", "id")
    blob_fields: ClassVar[tuple[str, ...]] = ("question", "choices", "target", "extra")
    indexed: ClassVar[tuple[str, ...]] = ("dataset",)
    dataset: str
    id: str
    subset: str | None = None
    question: str
    choices: list[str] | None = None
    answer: str | int | None = None
    target: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Prediction(Record):
    """A model's output on one sample: per-choice NLLs (ppl) or raw + extracted text (gen)."""

    table: ClassVar[str] = "predictions"
    key_fields: ClassVar[tuple[str, ...]] = ("model", "dataset", "sample_id", "config_hash")
    blob_fields: ClassVar[tuple[str, ...]] = ("prompt", "continuations", "nll", "n_tokens", "n_bytes", "raw", "extracted")
    indexed: ClassVar[tuple[str, ...]] = ("model", "dataset", "config_hash")
    model: str
    dataset: str
    sample_id: str
    mode: Literal["ppl", "gen"]
    prompt: str
    continuations: list[str] | None = None
    nll: list[float] | None = None
    n_tokens: list[int] | None = None
    n_bytes: list[int] | None = None
    raw: str | None = None
    extracted: str | None = None
    pred: str | int | None = None
    gold: str | int | None = None
    correct: float | None = None
    config_hash: str = ""


class DatasetResult(Record):
    table: ClassVar[str] = "dataset_results"
    key_fields: ClassVar[tuple[str, ...]] = ("model", "dataset", "subset", "metric", "config_hash")
    blob_fields: ClassVar[tuple[str, ...]] = ()
    indexed: ClassVar[tuple[str, ...]] = ("model", "dataset", "config_hash")
    model: str
    dataset: str
    version: str = ""
    subset: str | None = None
    metric: str
    mode: str
    value: float
    n: int
    config_hash: str = ""


class Question(Record):
    """An open-ended (possibly multi-turn) question for subjective evaluation."""

    table: ClassVar[str] = "questions"
    key_fields: ClassVar[tuple[str, ...]] = ("question_set", "id")
    blob_fields: ClassVar[tuple[str, ...]] = ("turns", "reference")
    indexed: ClassVar[tuple[str, ...]] = ("question_set", "id")
    question_set: str = ""
    id: str
    category: str = "general"
    turns: list[str]
    reference: list[str] | None = None
    language: str | None = None


class Answer(Record):
    table: ClassVar[str] = "answers"
    key_fields: ClassVar[tuple[str, ...]] = ("model", "question_set", "question_id", "config_hash")
    blob_fields: ClassVar[tuple[str, ...]] = ("turns", "params")
    indexed: ClassVar[tuple[str, ...]] = ("model", "question_set", "question_id")
    model: str
    question_set: str = ""
    question_id: str
    turns: list[str]
    params: dict[str, Any] = Field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    config_hash: str = ""


class Judgment(Record):
    """One judge call: everything needed to audit it later."""

    table: ClassVar[str] = "judgments"
    key_fields: ClassVar[tuple[str, ...]] = (
        "judge", "judge_hash", "question_set", "question_id", "model_a", "model_b", "turn", "order",
    )
    blob_fields: ClassVar[tuple[str, ...]] = ("prompt", "raw_output")
    indexed: ClassVar[tuple[str, ...]] = ("judge", "question_set", "question_id", "model_a", "model_b")
    judge: str
    judge_hash: str
    mode: Literal["single", "pairwise"]
    question_set: str = ""
    question_id: str
    model_a: str
    model_b: str | None = None
    turn: int = 1
    order: Literal["AB", "BA", "A"] = "AB"
    prompt: str = ""
    raw_output: str | None = None
    verdict: str | None = None
    score: float | None = None
    parse_error: str | None = None
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency: float = 0.0
    created_at: float = Field(default_factory=time.time)
    #: fields of an imported file that have no field here (kept for a faithful export)
    extra: dict[str, Any] = Field(default_factory=dict)


class Vote(Record):
    """A human verdict on an anonymous battle."""

    table: ClassVar[str] = "votes"
    key_fields: ClassVar[tuple[str, ...]] = ("battle_id",)
    blob_fields: ClassVar[tuple[str, ...]] = ()
    indexed: ClassVar[tuple[str, ...]] = ("rater", "question_set", "question_id")
    battle_id: str
    rater: str
    session: str = ""
    question_set: str = ""
    question_id: str
    turn: int = 1
    model_a: str
    model_b: str
    winner: Winner
    reason: str = ""
    created_at: float = Field(default_factory=time.time)


class Battle(Record):
    """The one input of ratings: a pairwise verdict from a judge or a human."""

    table: ClassVar[str] = "battles"
    key_fields: ClassVar[tuple[str, ...]] = ("source", "question_id", "model_a", "model_b", "turn", "ref")
    blob_fields: ClassVar[tuple[str, ...]] = ()
    indexed: ClassVar[tuple[str, ...]] = ("source", "question_id", "model_a", "model_b")
    source: str
    question_id: str
    model_a: str
    model_b: str
    winner: Winner
    turn: int = 1
    weight: float = 1.0
    ref: str = ""
    features: dict[str, float] = Field(default_factory=dict)
    #: who voted (Chatbot Arena's `judge`), whether the models were hidden, the prompt's
    #: language and the vote's time; imported battles keep them so they can be filtered on
    rater: str = ""
    anony: bool | None = None
    language: str | None = None
    tstamp: float | None = None


class Score(Record):
    """A single-answer score from a judge or a human."""

    table: ClassVar[str] = "scores"
    key_fields: ClassVar[tuple[str, ...]] = ("source", "model", "question_id", "turn", "ref")
    blob_fields: ClassVar[tuple[str, ...]] = ("comment",)
    indexed: ClassVar[tuple[str, ...]] = ("source", "model", "question_set", "question_id")
    source: str
    model: str
    question_set: str = ""
    question_id: str
    category: str = "general"
    turn: int = 1
    score: float
    dimensions: dict[str, float] = Field(default_factory=dict)
    comment: str = ""
    ref: str = ""


RECORD_TYPES: tuple[type[Record], ...] = (
    Sample, Prediction, DatasetResult, Question, Answer, Judgment, Vote, Battle, Score,
)

R = TypeVar("R", bound=Record)


def write_jsonl(path: str | Path, records: Iterable[BaseModel]) -> int:
    """Write records as JSON lines (atomically: temp file then rename). Returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(rec.model_dump_json() + "\n")
            n += 1
    tmp.replace(path)
    return n


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line; bad JSON names file and line."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", str(path), lineno) from None
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object", str(path), lineno)
            yield lineno, obj


def read_jsonl(path: str | Path, cls: type[R]) -> list[R]:
    """Read records of one type; a bad row raises DataError with file, line and field."""
    out: list[R] = []
    for lineno, obj in iter_jsonl(path):
        out.append(validate_row(cls, obj, str(path), lineno))
    return out


def validate_row(cls: type[R], obj: dict, file: str, line: int) -> R:
    try:
        return cls.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise DataError(err["msg"], file, line, field) from None
