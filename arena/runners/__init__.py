"""Scale out `arena run`: partition the work into tasks and run them on local worker
processes (`local`) or on a Ray cluster (`ray`).

A runner only fills the run's store (Predictions, Answers, Judgments); the stages of
`arena.stages` then run as in a sequential run, find every unit stored, and compute
results, battles and summaries from the merged records. So the summary of a run is the
same whatever runner, number of workers or partitioner was used.

    runner: {kind: local, max_workers: 4, num_gpus: 1, partitioner: size, target_task_size: 20000}
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from arena.runners.base import RunnerReport, Scheduler, TaskFailedError
from arena.runners.partition import partition
from arena.runners.tasks import Part, Task, TaskStats, WorkerState, execute

__all__ = ["Part", "RunnerReport", "Scheduler", "Task", "TaskFailedError", "TaskStats", "WorkerState",
           "dispatch", "execute", "make_runner", "partition", "plan_tasks"]


def plan_tasks(exp: Any, pf: Any) -> dict[str, list[Task]]:
    """The tasks of each stage with the experiment's partitioner settings."""
    cfg = exp.runner
    return partition(exp, pf, cfg.partitioner, cfg.target_task_size, cfg.num_gpus)


def make_runner(exp: Any, run_dir: Any, run_id: str, store: Any, tasks: list[Task], console: Any = None) -> Any:
    """A LocalRunner or RayRunner for `exp.runner` (None for sequential)."""
    cfg = exp.runner
    if cfg.kind == "sequential":
        return None
    gpus = max((t.num_gpus for t in tasks), default=0)
    on_done = None
    if console is not None:
        def on_done(st: TaskStats) -> None:
            console.print(f"  done {st.task_id} on worker {st.worker} ({st.seconds:.1f}s"
                          f"{', model loaded' if st.loaded else ''})", highlight=False)
    state = WorkerState(exp, run_dir, run_id, rate_limit_dir=run_dir / "ratelimit", workers=cfg.max_workers)
    if cfg.kind == "local":
        from arena.runners.local import LocalRunner

        return LocalRunner(state, cfg.max_workers, gpus, cfg.max_retries, on_done=on_done)
    from arena.runners.ray_runner import RayRunner

    return RayRunner(state, store, cfg.max_workers, gpus, cfg.max_retries, cfg.ray_address, on_done=on_done)


def dispatch(ctx: Any, pf: Any, kind: str) -> RunnerReport | None:
    """Run the `kind` tasks (infer, answer, judge) of the run on its runner, if it has one.

    The runner is made on first use and kept on `ctx` for the later stages, so a worker
    that loaded a model for inference still holds it when the same model answers.
    """
    exp = ctx.exp
    if exp.runner.kind == "sequential" or ctx.debug:
        return None
    all_tasks = plan_tasks(exp, pf)
    tasks = all_tasks[kind]
    if not tasks:
        return None
    if ctx.runner is None:
        every = [t for ts in all_tasks.values() for t in ts]
        ctx.runner = make_runner(exp, ctx.run_dir, ctx.run_id, ctx.store, every, ctx.console)
    ctx.console.print(f"{kind}: {len(tasks)} tasks on the {exp.runner.kind} runner")
    report = ctx.runner.run(tasks)
    ctx.console.print(f"{kind}: {report.line()}")
    out = ctx.run_dir / "logs" / f"runner-{kind}.json"
    out.write_text(json.dumps({"summary": report.line(), "wall": report.wall, "utilisation": report.utilisation,
                               "retries": report.retries, "loads": report.loads,
                               "tasks": [asdict(s) for s in report.stats]}, indent=1), encoding="utf-8")
    return report
