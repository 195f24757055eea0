"""`arena eval --num-gpus N`: N local workers, one GPU each, share the samples of every dataset.

Each worker of the local runner gets `CUDA_VISIBLE_DEVICES=<its GPU>` before torch starts,
loads the model once and stores the predictions of its shards in the run's store; the eval
then runs as usual in the parent, finds every prediction stored and computes the same
table a single process would. With no GPU, one line says so and the eval runs on the CPU
in one process; `CUDA_VISIBLE_DEVICES=0,1` on a machine without GPUs simulates two
devices (the workers then run on the CPU: tests use this).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from arena.runners.tasks import Part, Task, TaskStats, WorkerState, spec_key

log = logging.getLogger("arena.runners")


@dataclass
class EvalJob:
    """What the workers of one eval share: model specs, settings and the loaded datasets."""

    models: list[Any]
    config: Any  # objective.runner.EvalConfig
    datasets: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalState(WorkerState):
    """A worker's state for eval shards: `run_task` replaces the stage tasks' `execute`."""

    def run_task(self, task: Task, store: Any, worker: int = 0) -> TaskStats:
        import os

        from objective.eval_run import spec_settings
        from objective.runner import predict_samples

        t0 = time.perf_counter()
        spec = next(m for m in self.exp.models if m.label == task.model)
        model = self.model(spec)
        was_loaded = model.loaded
        cfg = self.exp.config.model_copy(update=spec_settings(spec, self.exp.config))
        for part in task.parts:
            ds = self.exp.datasets[part.target]
            predict_samples(model, ds, list(part.ids), store=store, config=cfg, cache=model._cache)
        return TaskStats(task.id, worker, time.perf_counter() - t0, 0.0, task.units, os.getpid(),
                         os.environ.get("CUDA_VISIBLE_DEVICES"), model.loaded and not was_loaded)


def shard_tasks(specs: list[Any], datasets: list[Any], config: Any, n: int) -> list[Task]:
    """Every (model, dataset) split into `n` contiguous shards of about equal size."""
    tasks = []
    for spec in specs:
        for ds in datasets:
            ids = [s.id for s in ds.limited(config.limit)]
            k = max(1, min(n, len(ids)))
            bounds = [round(i * len(ids) / k) for i in range(k + 1)]
            for j in range(k):
                chunk = tuple(ids[bounds[j]:bounds[j + 1]])
                part = Part(ds.name, chunk, float(len(chunk)), f"{j + 1}/{k}" if k > 1 else "")
                tasks.append(Task("infer", spec.label, spec_key(spec), (part,), num_gpus=1))
    return tasks


def plan_devices(num_gpus: int) -> tuple[list[str], str | None]:
    """(GPU ids for the workers, a warning line or None) for `--num-gpus num_gpus`."""
    import torch

    from arena.runners.local import visible_gpus

    gpus = visible_gpus()
    if not torch.cuda.is_available():
        if len(gpus) >= 2:  # CUDA_VISIBLE_DEVICES names devices torch cannot use: simulated
            return gpus[:num_gpus], (f"warning: --num-gpus {num_gpus}: no usable CUDA device; "
                                     f"{min(num_gpus, len(gpus))} workers run on the CPU "
                                     f"(CUDA_VISIBLE_DEVICES={','.join(gpus)})")
        return [], f"warning: --num-gpus {num_gpus}: no GPU found; evaluating on the CPU in one process"
    if len(gpus) < num_gpus:
        return gpus, (f"warning: --num-gpus {num_gpus} but {len(gpus)} GPU(s) visible; "
                      f"using {len(gpus)} worker(s)")
    return gpus[:num_gpus], None


def run_shards(specs: list[Any], datasets: list[Any], config: Any, run_dir: Path,
               gpus: list[str], run_id: str = "eval") -> dict[str, Any]:
    """Fill the run store with every prediction, on one worker per GPU in `gpus`.

    Returns the runner report as a dict (also written to logs/runner-eval.json).
    """
    from arena.runners.local import LocalRunner

    local = [s for s in specs if s.backend == "hf" and "device_map" not in (s.model_kwargs or {})]
    tasks = shard_tasks(local, datasets, config, len(gpus))
    if not tasks:
        return {}
    (run_dir / "logs" / "infer").mkdir(parents=True, exist_ok=True)
    job = EvalJob(models=list(specs), config=config, datasets={d.name: d for d in datasets})
    state = EvalState(job, run_dir, run_id, workers=len(gpus))
    runner = LocalRunner(state, max_workers=len(gpus), num_gpus=1, gpus=gpus)
    try:
        report = runner.run(tasks)
    finally:
        runner.close()
    out = {"summary": report.line(), "wall": report.wall, "tasks": [asdict(s) for s in report.stats]}
    (run_dir / "logs" / "runner-eval.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    log.info("eval shards: %s", report.line())
    return out


def run_on_gpus(n: int, specs: list[Any], datasets: list[Any], config: Any, run: Any) -> None:
    """`arena eval --num-gpus N`: one worker per GPU fills the run's store (the parent then
    only reads stored predictions); with fewer than two GPUs, a one-line warning and CPU."""
    import sys

    gpus, warning = plan_devices(n)
    if warning:
        print(warning, file=sys.stderr)
    if len(gpus) >= 2:
        run.lazy = True  # the parent only reads stored predictions: no model load
        run_shards(specs, datasets, config, run.dir, gpus)
