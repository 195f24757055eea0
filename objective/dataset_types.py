"""The types a dataset is made of: its card (YAML, validated) and the loaded `Dataset`.

In a module of their own so that dataset kinds built elsewhere (objective.needle) use them
without importing the loaders in objective.datasets, which dispatch to those kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from arena.core.records import Sample
from objective.loaders import CANONICAL
from objective.templates import TemplateSpec


class FewShot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = 0
    seed: int = 0
    per_subset: bool = True
    pick: Literal["random", "first"] = "random"  # "first": the first k dev rows (OpenCompass FixK)


class DatasetCard(BaseModel):
    """The YAML card of a dataset (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    license: str = ""
    source: Literal["file", "humaneval"] = "file"
    root: Literal["card", "data"] = "card"
    data: str | None = None
    dev: str | None = None
    format: Literal["auto", "csv", "jsonl", "json", "parquet"] = "auto"
    header: list[str] | None = None
    columns: dict[str, str | list[str]] = Field(default_factory=dict)
    preprocess: str | None = None
    family: Literal["ceval", "cmmlu", "mmlu"] | None = None
    download: str | None = None
    limit_scope: Literal["dataset", "subset"] = "dataset"
    mode: Literal["ppl", "gen"]
    metric: str = "accuracy"  # accuracy, exact_match, pass@1, needle, or a plugin metric
    continuation: Literal["letter", "text"] = "letter"
    norm: Literal["sum", "token", "byte"] = "sum"
    postprocess: str = "first_option"
    max_out_len: int | None = None
    stop: list[str] = Field(default_factory=list)
    template: TemplateSpec = Field(default_factory=TemplateSpec)
    few_shot: FewShot = Field(default_factory=FewShot)
    groups: dict[str, list[str]] = Field(default_factory=dict)
    # robustness (objective.robustness): CircularEval by default, alternative templates for --variants
    circular: bool = False
    variants: list[TemplateSpec] = Field(default_factory=list)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = [k for k in v if k not in CANONICAL]
        if bad:
            raise ValueError(f"unknown column target '{bad[0]}' (known: {', '.join(CANONICAL)})")
        return v

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        from objective.metrics import METRICS, RUNNER_METRICS, metric_names

        if v not in RUNNER_METRICS and v not in METRICS:
            raise ValueError(f"unknown metric '{v}' (known: {', '.join(metric_names())})")
        return v


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

    @property
    def groups(self) -> dict[str, list[str]]:
        """The card's groups over the subsets this data really has (empty groups dropped)."""
        present = {s.subset for s in self.samples if s.subset}
        out = {g: [s for s in subs if s in present] for g, subs in self.card.groups.items()}
        return {g: subs for g, subs in out.items() if subs}

    def limited(self, limit: int | None) -> list[Sample]:
        """The first `limit` samples, of each subset when the card says `limit_scope: subset`."""
        if not limit:
            return list(self.samples)
        if self.card.limit_scope == "dataset":
            return self.samples[:limit]
        seen: dict[str | None, int] = {}
        out = []
        for s in self.samples:
            if seen.get(s.subset, 0) < limit:
                seen[s.subset] = seen.get(s.subset, 0) + 1
                out.append(s)
        return out
