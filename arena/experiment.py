"""The experiment config of `arena run`: models, datasets, questions, judges, report.

Validated with pydantic (`extra="forbid"`): every error names the file, the line and the
key. A model entry is a registered name (`smollm2-135m`), a registered name with overrides
(`{name: gpt-4, base_url: ...}`), or a full spec (`{name: m, backend: hf, path: DIR}`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from arena.core.config import config_hash, load_config
from arena.core.errors import UnknownNameError
from arena.core.registry import ModelSpec, model_specs, resolve_model
from arena.notify import NotifyConfig

STAGES = ("infer", "eval", "answer", "judge", "report")


def _to_spec(entry: Any) -> ModelSpec:
    if isinstance(entry, ModelSpec):
        return entry
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise ValueError("a model is a registered name or a mapping with 'name'")
    defines_itself = any(k in entry for k in ("backend", "path", "model"))
    if not defines_itself:
        try:
            return resolve_model(entry["name"], **{k: v for k, v in entry.items() if k != "name"})
        except UnknownNameError as exc:
            raise ValueError(str(exc)) from None
    return ModelSpec.model_validate(entry)


# validated one entry at a time, so an error points at the entry's own line
ModelEntry = Annotated[ModelSpec, BeforeValidator(_to_spec)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JudgeEntry(Strict):
    """One judge: a judge config (judges/configs/<name>) run by a model."""

    config: str
    model: str | dict[str, Any]
    mode: Literal["single", "pairwise"] | None = None
    baseline: str | None = None
    base_url: str | None = None
    set: list[str] = Field(default_factory=list, description="judge.yaml overrides, KEY=VALUE")


class PanelConfig(Strict):
    """Combine every judge of the run (per mode) into one panel verdict (source judge:panel-<method>)."""

    method: Literal["majority", "mean"] = "majority"


class HumanConfig(Strict):
    store: str


class SummaryGroupConfig(Strict):
    """An OpenCompass summary group: the (weighted) average of rows of any datasets."""

    name: str
    subsets: list[str | list[str]] = Field(min_length=1, description="rows: dataset, dataset/subset, "
                                           "dataset/group or [row, metric]")
    weights: dict[str, float] | None = None


class SummarizerConfig(Strict):
    groups: list[SummaryGroupConfig] = Field(default_factory=list)
    baseline: str | None = None

    @field_validator("groups", mode="before")
    @classmethod
    def _mapping(cls, v: Any) -> Any:
        """`{name: [subsets]}` is read as `[{name, subsets}]`."""
        return [{"name": k, "subsets": s} for k, s in v.items()] if isinstance(v, dict) else v


class ReportConfig(Strict):
    html: bool = True
    bootstrap: int = 200
    seed: int = 0


class EvalParams(Strict):
    """Defaults for objective evaluation; a model's own fields win."""

    max_out_len: int | None = None
    batch_size: int | Literal["auto"] | None = None  # "auto": the largest that fits (ppl)
    few_shot: int | None = None
    limit: int | None = None
    # robustness (objective.robustness), left out of the config hash like a rerun's extra work:
    # CircularEval on multiple-choice datasets, and N prompt variants
    circular: bool = Field(False, exclude=True)
    variants: int = Field(0, ge=0, exclude=True)


class AnswerParams(Strict):
    max_tokens: int = 512
    temperature: float = 0.0


class RunnerConfig(Strict):
    """Where the work runs: in this process, in local worker processes, or on Ray."""

    kind: Literal["sequential", "local", "ray"] = "sequential"
    max_workers: int = Field(2, ge=1)
    num_gpus: int | None = Field(None, ge=0, description="GPUs per task (None: each model's num_gpus)")
    partitioner: Literal["naive", "size"] = "naive"
    target_task_size: int = Field(50_000, ge=1, description="estimated tokens per task (size)")
    max_retries: int = Field(2, ge=0)
    ray_address: str | None = None


class Experiment(Strict):
    name: str = "default"
    models: list[ModelEntry] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    eval: EvalParams = Field(default_factory=EvalParams)
    questions: list[str] = Field(default_factory=list)
    question_limit: int | None = None
    answer_models: list[str] | None = None
    answer: AnswerParams = Field(default_factory=AnswerParams)
    judges: list[JudgeEntry] = Field(default_factory=list)
    panel: PanelConfig | None = None
    human: HumanConfig | None = None
    summarizer: SummarizerConfig = Field(default_factory=SummarizerConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    notify: NotifyConfig | None = None
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    work_dir: str | None = None
    data_dir: str | None = Field(None, description="root of published data sets (OpenCompassData-core "
                                 "layout); default $ARENA_DATA_DIR, else ./data")

    @field_validator("questions", "datasets", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_refs(self) -> Experiment:
        names = {m.label for m in self.models}
        if len(names) != len(self.models):
            raise ValueError("two models share a name (set 'abbr')")
        for m in self.answer_models or []:
            if m not in names:
                raise ValueError(f"answer_models: '{m}' is not among models {sorted(names)}")
        return self

    def answerers(self) -> list[ModelSpec]:
        if self.answer_models is None:
            return list(self.models)
        return [m for m in self.models if m.label in self.answer_models]

    def judge_spec(self, judge: JudgeEntry) -> ModelSpec:
        """The judge's model: one of this run's models, or any registered/inline model."""
        own = {m.label: m for m in self.models}
        if isinstance(judge.model, str) and judge.model in own:
            spec = own[judge.model]
        else:
            spec = _to_spec(judge.model)
        if judge.base_url:
            spec = spec.model_copy(update={"base_url": judge.base_url})
        return spec

    def hash(self) -> str:
        return config_hash(self)


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load and validate an experiment YAML (with includes and KEY=VALUE overrides)."""
    return load_config(path, Experiment, overrides)


def known_models() -> list[str]:
    return sorted(model_specs())
