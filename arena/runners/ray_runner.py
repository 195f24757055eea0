"""The same tasks on Ray: one actor per worker slot, models held in the actors.

Actors declare the GPUs a task needs (`num_gpus`), so Ray places them on nodes that
have them and sets CUDA_VISIBLE_DEVICES itself. An actor may run on another machine,
which cannot open the run's SQLite file: it works on a scratch store of its own
(seeded with the answers a judge task needs) and returns the new records, which the
driver writes to the run store. The merge is then the same as with the local runner.
A dead actor is replaced and its task retried.

API limits: actors may sit on different nodes, so a file-based shared bucket would not
hold; each actor gets an equal share of the model's `qps` and `concurrency` instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from arena.core.errors import ConfigError
from arena.runners.base import RunnerReport, Scheduler
from arena.runners.tasks import Task, TaskStats, WorkerState, execute

log = logging.getLogger("arena.runners")
RECORD_KINDS = ("Prediction", "Answer", "Judgment")


class RayWorker:
    """Actor body: keeps the WorkerState (and so the loaded model) across tasks."""

    def __init__(self, state: WorkerState, index: int) -> None:
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        self.state, self.index = state, index

    def run(self, task: Task, seed: list[Any]) -> tuple[TaskStats, dict[str, list[Any]]]:
        from arena.core import records
        from arena.core.store import Store

        with tempfile.TemporaryDirectory(prefix="arena-task-") as tmp:
            store = Store(Path(tmp) / "scratch.sqlite")
            try:
                store.put_many(seed)
                seeded = {r.key() for r in seed}
                stats = execute(self.state, task, store, self.index)
                out = {k: [r for r in store.all(getattr(records, k)) if r.key() not in seeded]
                       for k in RECORD_KINDS}
            finally:
                store.close()
        return stats, out

    def pid(self) -> int:
        return os.getpid()


def _seed(store: Any, task: Task) -> list[Any]:
    """What a task must find in its store: the answers a judge task judges."""
    if task.kind != "judge":
        return []
    from arena.core.records import Answer

    wanted = {(p.target, q) for p in task.parts for q in p.ids}
    return [a for a in store.all(Answer) if (a.question_set, a.question_id) in wanted]


class RayRunner:
    """Tasks as Ray actor calls; `address` is None (a local cluster), "auto" or "ray://...".

    Args:
        state: what every worker needs. store: the run store (the driver writes to it).
        max_workers: actors. num_gpus: GPUs per actor. max_retries: extra attempts per task.
        init_kwargs: extra `ray.init` arguments (tests: num_cpus=2).
    """

    name = "ray"

    def __init__(self, state: WorkerState, store: Any, max_workers: int = 2, num_gpus: int = 0,
                 max_retries: int = 2, address: str | None = None,
                 init_kwargs: dict[str, Any] | None = None, on_done: Any = None) -> None:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        import ray

        self.ray, self.store, self.on_done = ray, store, on_done
        self.max_workers, self.num_gpus, self.max_retries = max_workers, num_gpus, max_retries
        self.state = replace(state, rate_limit_dir=None, workers=max_workers)
        self.own_cluster = not ray.is_initialized()
        if self.own_cluster:
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            env = {k: v for k, v in os.environ.items() if k.startswith(("ARENA_", "HF_", "OPENAI_"))}
            kw["runtime_env"] = {"env_vars": {**env, "RAY_USAGE_STATS_ENABLED": "0"}}
            if address:
                kw["address"] = address
            else:  # a local cluster: one CPU per actor is all it needs
                kw["num_cpus"] = max_workers
            ray.init(**{**kw, **(init_kwargs or {})})
        have = ray.cluster_resources().get("GPU", 0)
        if num_gpus and have < num_gpus:  # Ray would wait forever for a place to put the actor
            self.close()
            raise ConfigError(f"tasks need {num_gpus} GPU(s) per actor; the Ray cluster has {have:g}")
        self.actors: list[Any] = []
        self._actor_cls = ray.remote(RayWorker).options(num_cpus=1, num_gpus=num_gpus, max_restarts=0)
        self.actors: list[Any] = []
        self.held: list[str | None] = []

    def _share(self) -> WorkerState:
        """Each actor's state: API qps and concurrency divided among the actors."""
        exp = self.state.exp
        n = self.max_workers
        def split(spec: Any) -> Any:
            if spec.backend != "openai":
                return spec
            return spec.model_copy(update={"qps": spec.qps / n if spec.qps else None})
        models = [split(m) for m in exp.models]
        judges = [j.model_copy(update={"model": split(exp.judge_spec(j)).model_dump()}) for j in exp.judges]
        return replace(self.state, exp=exp.model_copy(update={"models": models, "judges": judges}))

    def run(self, tasks: list[Task]) -> RunnerReport:
        """Run `tasks` on the actors; new records go to the run store as each task ends."""
        sched = Scheduler(tasks, self.max_retries)
        while len(self.actors) < min(self.max_workers, len(tasks)):  # kept for later waves
            self.actors.append(self._actor_cls.remote(self._share(), len(self.actors)))
            self.held.append(None)
        running: dict[Any, tuple[int, Task]] = {}
        stats: list[TaskStats] = []
        while sched.pending or running:
            busy = {i for i, _ in running.values()}
            for i in range(len(self.actors)):
                if i in busy:
                    continue
                task = sched.next_for(self.held[i], {h for j, h in enumerate(self.held) if j != i and h})
                if task is None:
                    break
                self.held[i] = task.model_key
                running[self.actors[i].run.remote(task, _seed(self.store, task))] = (i, task)
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=5)
            for ref in ready:
                i, task = running.pop(ref)
                self._collect(ref, i, task, sched, stats)
        return sched.report(len(self.actors), stats)

    def _collect(self, ref: Any, i: int, task: Task, sched: Scheduler, stats: list[TaskStats]) -> None:
        from ray.exceptions import RayActorError

        try:
            st, out = self.ray.get(ref)
        except RayActorError as exc:  # the actor (its process or node) is gone
            sched.fail(task, f"actor {i} died: {exc}")
            self.actors[i] = self._actor_cls.remote(self._share(), i)
            self.held[i] = None
            return
        except Exception as exc:  # the task raised inside the actor
            sched.fail(task, str(exc))
            return
        self.store.put_many(out["Prediction"])
        self.store.put_many(out["Answer"] + out["Judgment"], self.state.run_id)
        stats.append(st)
        if self.on_done:
            self.on_done(st)

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.own_cluster:
            self.ray.shutdown()
