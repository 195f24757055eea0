"""Benchmark: the local runner (workers keep their model) vs a per-task reloading baseline.

OpenCompass's local runner starts a process per task, which imports the libraries and
loads the model again for every task. The baseline here does the same with our code (a
fresh worker process for each task); the local runner keeps 2 workers for the whole wave
and sends each the tasks of the model it holds. Same tasks (models x datasets, naive
partitioner), same number of parallel processes, a fresh store and call cache for each
way; the stored predictions of both are asserted identical.

    .venv/bin/python benchmarks/runners.py [--real] [--limit 16] [--workers 2]

`--real` uses SmolLM2-135M (and a second copy of it under another name) instead of two
tiny random models.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATASETS = ["winograd_mini_ppl", "mmlu_mini_ppl", "ceval_mini_ppl", "mmlu_mini_gen"]


def models(tmp: Path, real: bool) -> list[str]:
    if real:
        from arena.models.bundled import ensure_smollm2

        path = ensure_smollm2()
        return [f'{{name: smol-{i}, backend: hf, path: "{path}", batch_size: 8}}' for i in (1, 2)]
    from arena.models.testing import make_tiny_model

    return [f'{{name: tiny-{s}, backend: hf, path: "{make_tiny_model(tmp / f"tiny-{s}", seed=s)}"}}'
            for s in (0, 1)]


def make_exp(tmp: Path, specs: list[str], limit: int, workers: int):
    from arena.experiment import load_experiment

    cfg = tmp / "bench.yaml"
    cfg.write_text("name: bench\nmodels:\n" + "".join(f"  - {s}\n" for s in specs)
                   + f"datasets: {DATASETS}\neval: {{limit: {limit}}}\n"
                   + f"runner: {{kind: local, max_workers: {workers}}}\n")
    return load_experiment(cfg)


def reload_runner_class():
    from arena.runners.local import LocalRunner

    class PerTaskProcessRunner(LocalRunner):
        """A fresh process for every task: libraries and model loaded again each time."""

        def _collect(self, w, sched, stats) -> None:
            super()._collect(w, sched, stats)
            if w.task is None and w.proc.is_alive():  # the task is done: retire its process
                w.conn.send(None)
                w.proc.join()
                w.conn.close()
                self.workers[w.index] = self._spawn(w.index)

    return PerTaskProcessRunner


def run_wave(name: str, runner_cls, exp, tasks, root: Path, workers: int):
    """One wave of the infer tasks in a fresh run directory and call cache."""
    from arena.core.records import Prediction
    from arena.core.store import Store
    from arena.runners.tasks import WorkerState

    run_dir = root / name
    (run_dir / "logs" / "infer").mkdir(parents=True)
    os.environ["ARENA_CACHE_DIR"] = str(root / f"cache-{name}")
    state = WorkerState(exp, run_dir, name, workers=workers)
    runner = runner_cls(state, workers)
    t0 = time.perf_counter()
    try:
        report = runner.run(tasks)
    finally:
        runner.close()
    wall = time.perf_counter() - t0
    preds = Store(run_dir / "arena.sqlite").all(Prediction)
    return wall, report, sorted((p.key(), p.pred) for p in preds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", action="store_true", help="SmolLM2-135M instead of tiny models")
    ap.add_argument("--limit", type=int, default=16, help="samples per dataset")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from arena.runners import plan_tasks
    from arena.runners.local import LocalRunner
    from arena.stages import preflight

    with tempfile.TemporaryDirectory(prefix="arena-bench-runners-") as td:
        tmp = Path(td)
        exp = make_exp(tmp, models(tmp, args.real), args.limit, args.workers)
        tasks = plan_tasks(exp, preflight(exp))["infer"]
        print(f"{len(tasks)} tasks ({len(exp.models)} models x {len(DATASETS)} datasets, "
              f"{args.limit} samples each), {args.workers} worker processes")
        base_wall, base, base_preds = run_wave("reload", reload_runner_class(), exp, tasks, tmp, args.workers)
        ours_wall, ours, ours_preds = run_wave("local", LocalRunner, exp, tasks, tmp, args.workers)
        assert ours_preds == base_preds and len(ours_preds) == len(exp.models) * len(DATASETS) * args.limit
        for label, wall, rep in (("per-task reload (OpenCompass-like)", base_wall, base),
                                 ("local runner (models kept)", ours_wall, ours)):
            print(f"{label:36s} {wall:7.1f}s  model loads {rep.loads:2d}  "
                  f"utilisation {rep.utilisation:5.0%}  (busy {rep.busy:.1f}s of {rep.workers} x {rep.wall:.1f}s)")
        print(f"speed-up: {base_wall / ours_wall:.2f}x (same {len(ours_preds)} predictions)")


if __name__ == "__main__":
    main()
