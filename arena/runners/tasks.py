"""Tasks (a model on shards of datasets, question sets or judged questions) and their execution.

A task only fills the run's store with the records a sequential run would write
(Predictions, Answers, Judgments, keyed by content). The stage that follows in the parent
then finds every unit stored and computes results, battles and summaries exactly as a
sequential run does: the merge is deterministic whatever ran where, and in what order.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from arena.core.registry import ModelSpec

Kind = Literal["infer", "answer", "judge"]


@dataclass(frozen=True)
class Part:
    """A slice of one target: a dataset, a question set, or a judge (by config name)."""

    target: str
    ids: tuple[str, ...]  # sample ids (infer) or question ids (answer, judge)
    cost: float  # estimated tokens
    shard: str = ""  # "2/5" when the target was split

    def label(self) -> str:
        return f"{self.target}[{self.shard}]" if self.shard else self.target


@dataclass(frozen=True)
class Task:
    """One unit of scheduling: a model (kept loaded by its worker) and one or more parts."""

    kind: Kind
    model: str  # label of the model that runs (for a judge task: the judge's model)
    model_key: str  # same key = same loaded model, so tasks of one model go to one worker
    parts: tuple[Part, ...]
    num_gpus: int = 0
    judge_index: int = -1  # position in exp.judges (judge tasks)

    judge: str = ""  # judge config name (judge tasks)

    @property
    def id(self) -> str:
        who = f"{self.judge}@{self.model}" if self.judge else self.model
        return f"{self.kind}:{who}:{'+'.join(p.label() for p in self.parts)}"

    @property
    def cost(self) -> float:
        return sum(p.cost for p in self.parts)

    @property
    def units(self) -> int:
        return sum(len(p.ids) for p in self.parts)


def spec_key(spec: ModelSpec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]


@dataclass
class TaskStats:
    """What a worker reports for one task."""

    task_id: str
    worker: int
    seconds: float = 0.0
    load_seconds: float = 0.0  # time spent loading the model (0 when it was kept loaded)
    units: int = 0
    pid: int = 0
    gpus: str | None = None  # CUDA_VISIBLE_DEVICES the task ran with
    loaded: bool = False  # the task loaded its model (it was not kept from an earlier task)


@dataclass
class WorkerState:
    """What one worker keeps between tasks: the config and the loaded model.

    Only one model is kept (a second one could not fit on the worker's GPUs); the
    scheduler sends a worker tasks of the model it holds whenever it can.
    """

    exp: Any  # arena.experiment.Experiment
    run_dir: Path
    run_id: str
    rate_limit_dir: Path | None = None
    workers: int = 1  # API concurrency is split among this many workers
    cache_path: str | None = None
    _model: tuple[str, Any] | None = None
    _memo: dict[str, Any] = field(default_factory=dict)

    def model(self, spec: ModelSpec) -> Any:
        """The loaded model for `spec` (loading it, and dropping the previous one, if needed)."""
        key = spec_key(spec)
        if self._model and self._model[0] == key:
            return self._model[1]
        self._model = None  # free the old weights before loading new ones
        from arena.core.cache import Cache
        from arena.models.factory import LazyModel

        if spec.backend == "openai":  # N workers must not open N x the allowed connections
            spec = spec.model_copy(update={"concurrency": max(1, spec.concurrency // self.workers)})
        # lazy: a resumed task whose units are all stored never loads the weights
        model = LazyModel(spec, cache=Cache(self.cache_path), rate_limit_dir=self.rate_limit_dir)
        self._model = (key, model)
        return model

    def memo(self, key: str, make: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def questions(self, name: str) -> list[Any]:
        from judges.questions import load_questions

        return self.memo(f"q:{name}", lambda: load_questions(name, limit=self.exp.question_limit))


def execute(state: WorkerState, task: Task, store: Any, worker: int = 0) -> TaskStats:
    """Run `task`, writing its records to `store`; resumable (stored units are skipped)."""
    t0 = time.perf_counter()
    exp = state.exp
    if task.kind == "judge":
        entry = exp.judges[task.judge_index]
        spec = exp.judge_spec(entry)
    else:
        spec = next(m for m in exp.models if m.label == task.model)
    model = state.model(spec)
    was_loaded, load = model.loaded, 0.0
    if not model.loaded and not _all_stored(task, model, spec, state, store):
        model.load()
        load = time.perf_counter() - t0
    if task.kind == "infer":
        _infer(state, model, spec, task, store)
    elif task.kind == "answer":
        _answer(state, model, task, store)
    else:
        _judge(state, model, task, store)
    return TaskStats(task.id, worker, time.perf_counter() - t0, load, task.units, os.getpid(),
                     os.environ.get("CUDA_VISIBLE_DEVICES"), model.loaded and not was_loaded)


def _all_stored(task: Task, model: Any, spec: ModelSpec, state: WorkerState, store: Any) -> bool:
    """Whether every prediction of an infer task is stored (then the model is not loaded).

    Answer and judge tasks load lazily on their first call, so they need no check here.
    """
    if task.kind != "infer":
        return True
    from arena.core.records import Prediction
    from objective.runner import config_hash

    cfg = eval_config(state.exp, spec)
    keys = store.keys(Prediction)
    for part in task.parts:
        ds = state.memo(f"d:{part.target}", lambda t=part.target: _load(state, t))
        chash = config_hash(model, ds, cfg)
        for sid in part.ids:
            stub = Prediction(model=model.name, dataset=ds.name, sample_id=sid, mode=ds.card.mode,
                              prompt="", config_hash=chash)
            if stub.key() not in keys:
                return False
    return True


def _load(state: WorkerState, target: str) -> Any:
    """A dataset, read under the run's data root (`data_dir`)."""
    from objective.datasets import load_dataset
    from objective.loaders import using_data_dir

    with using_data_dir(getattr(state.exp, "data_dir", None)):
        return load_dataset(target)


def eval_config(exp: Any, spec: ModelSpec) -> Any:
    """The EvalConfig the objective stage uses for `spec` (the same hash on every worker)."""
    from objective.eval_run import spec_settings
    from objective.runner import EvalConfig

    cfg = EvalConfig(batch_size=exp.eval.batch_size or spec.batch_size, max_out_len=exp.eval.max_out_len,
                     shots=exp.eval.few_shot, limit=exp.eval.limit)
    return cfg.model_copy(update=spec_settings(spec, cfg))  # the spec's temperature, meta template


def _infer(state: WorkerState, model: Any, spec: ModelSpec, task: Task, store: Any) -> None:
    from objective.runner import predict_samples

    cfg = eval_config(state.exp, spec)
    for part in task.parts:
        ds = state.memo(f"d:{part.target}", lambda t=part.target: _load(state, t))
        predict_samples(model, ds, list(part.ids), store=store, config=cfg, cache=model._cache)


def _answer(state: WorkerState, model: Any, task: Task, store: Any) -> None:
    from arena.models.base import ChatParams
    from judges.answers import generate_answers

    exp = state.exp
    params = ChatParams(temperature=exp.answer.temperature, max_tokens=exp.answer.max_tokens)
    for part in task.parts:
        ids = set(part.ids)
        qs = [q for q in state.questions(part.target) if q.id in ids]
        generate_answers([model], qs, store, params, run=state.run_id)


def _judge(state: WorkerState, model: Any, task: Task, store: Any) -> None:
    from judges.judge import load_judge
    from judges.run import run_judge

    exp = state.exp
    entry = exp.judges[task.judge_index]
    judge = state.memo(f"j:{task.judge_index}", lambda: load_judge(entry.config, entry.set))
    names = [m.label for m in exp.answerers()]
    for part in task.parts:  # a part is a slice of one question set
        ids = set(part.ids)
        qs = [q for q in state.questions(part.target) if q.id in ids]
        run_judge(judge, model, qs, None, store, names, mode=entry.mode, baseline=entry.baseline,
                  run=state.run_id)
