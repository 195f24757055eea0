"""The same tasks on Ray: one actor per worker slot, models held in the actors.

Actors declare the GPUs a task needs (`num_gpus`), so Ray places them on nodes that
have them and sets CUDA_VISIBLE_DEVICES itself. An actor may run on another machine,
which cannot open the run's SQLite file: it works on a scratch store of its own
(seeded with what the task must find: the answers a judge task judges, and the task's
own units stored by an earlier attempt) and sends every record it stores to a sink actor
as it stores it; the driver drains the sink into the run store. So a task retried after
its actor died resumes its shard where the dead actor stopped, and the merge is the same
as with the local runner. A dead actor is replaced and its task retried.

API limits: one limiter actor holds a GCRA bucket per API model, and every actor books
its requests there, so the model's `qps` holds for the whole cluster however the tasks
are spread (`concurrency` is shared out among the actors).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from arena.core.errors import ConfigError
from arena.runners.base import RunnerReport, Scheduler
from arena.runners.tasks import Task, TaskStats, WorkerState, execute

log = logging.getLogger("arena.runners")
RECORD_KINDS = ("Prediction", "Answer", "Judgment")


class LimiterActor:
    """One GCRA bucket per API model (by name), booked by every actor of the run."""

    def __init__(self) -> None:
        self.tat: dict[str, float] = {}
        self.granted: Counter[str] = Counter()

    def try_acquire(self, name: str, rate: float, burst: int = 1) -> float:
        from arena.models.ratelimit import _gcra

        wait, self.tat[name] = _gcra(self.tat.get(name, 0.0), time.monotonic(), 1.0 / rate, burst)
        if wait <= 0:
            self.granted[name] += 1
        return wait

    def stats(self) -> dict[str, int]:
        return dict(self.granted)


class ActorBucket:
    """A qps bucket whose slots the limiter actor hands out (a blocking network call)."""

    blocking = True

    def __init__(self, limiter: Any, name: str, rate: float, burst: int = 1) -> None:
        self.limiter, self.name, self.rate, self.burst = limiter, name, rate, burst

    def try_acquire(self) -> float:
        import ray

        return float(ray.get(self.limiter.try_acquire.remote(self.name, self.rate, self.burst)))


class RecordSink:
    """Records the actors stored, in the order they stored them, until the driver drains them."""

    def __init__(self) -> None:
        self.items: list[tuple[list[Any], str | None]] = []

    def put(self, records: list[Any], run: str | None) -> int:
        self.items.append((records, run))
        return len(records)

    def drain(self) -> list[tuple[list[Any], str | None]]:
        out, self.items = self.items, []
        return out


class _TeeStore:
    """The actor's scratch store; what a task stores also goes to the sink, before it goes on."""

    def __init__(self, inner: Any, sink: Any) -> None:
        self._inner, self._sink = inner, sink

    def put_many(self, records: Any, run: str | None = None) -> int:
        import ray

        records = list(records)
        n = self._inner.put_many(records, run)
        if records:
            ray.get(self._sink.put.remote(records, run))
        return n

    def put(self, record: Any, run: str | None = None) -> Any:
        return self.put_many([record], run)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RayWorker:
    """Actor body: keeps the WorkerState (and so the loaded model) across tasks."""

    def __init__(self, state: WorkerState, index: int, limiter: Any = None, sink: Any = None) -> None:
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        self.state, self.index, self.sink = state, index, sink
        if limiter is not None:
            from arena.models.ratelimit import set_bucket_factory

            set_bucket_factory(lambda name, qps: ActorBucket(limiter, name, qps))

    def run(self, task: Task, seed: list[Any]) -> tuple[TaskStats, dict[str, list[Any]]]:
        from arena.core import records
        from arena.core.store import Store

        with tempfile.TemporaryDirectory(prefix="arena-task-") as tmp:
            scratch = Store(Path(tmp) / "scratch.sqlite")
            try:
                scratch.put_many(seed)
                store = _TeeStore(scratch, self.sink) if self.sink is not None else scratch
                stats = execute(self.state, task, store, self.index)
                out: dict[str, list[Any]] = {k: [] for k in RECORD_KINDS}
                if self.sink is None:  # no sink: everything new goes back with the result
                    seeded = {r.key() for r in seed}
                    out = {k: [r for r in scratch.all(getattr(records, k)) if r.key() not in seeded]
                           for k in RECORD_KINDS}
            finally:
                scratch.close()
        return stats, out

    def pid(self) -> int:
        return os.getpid()


def _seed(store: Any, task: Task) -> list[Any]:
    """What a task must find in its store: the answers a judge task judges, and what an
    earlier attempt of the task already stored (its predictions or answers): resumed, not redone."""
    from arena.core.records import Answer, Prediction

    wanted = {(p.target, q) for p in task.parts for q in p.ids}
    if task.kind == "judge":
        sets = {p.target for p in task.parts}  # filtered in SQL; the pairs in Python
        return [a for a in store.all(Answer, question_set=sets) if (a.question_set, a.question_id) in wanted]
    if task.kind == "answer":
        return [a for a in store.all(Answer, model=task.model) if (a.question_set, a.question_id) in wanted]
    return [p for p in store.all(Prediction, model=task.model) if (p.dataset, p.sample_id) in wanted]


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
        self._actor_cls = ray.remote(RayWorker).options(num_cpus=1, num_gpus=num_gpus, max_restarts=0)
        # small helpers: no CPU reserved, so they never wait for a free slot
        self.limiter = ray.remote(LimiterActor).options(num_cpus=0).remote()
        self.sink = ray.remote(RecordSink).options(num_cpus=0).remote()
        self.actors: list[Any] = []
        self.held: list[str | None] = []

    def _share(self) -> WorkerState:
        """Each actor's state (API concurrency is divided among the actors by WorkerState; qps
        is not: the limiter actor holds each model's whole limit)."""
        return self.state

    def _new_actor(self, index: int) -> Any:
        return self._actor_cls.remote(self._share(), index, self.limiter, self.sink)

    def limiter_stats(self) -> dict[str, int]:
        """Requests granted per API model by the shared limiter."""
        return self.ray.get(self.limiter.stats.remote())

    def _drain(self) -> None:
        """Write what the actors stored so far into the run store (in their order)."""
        for records, run in self.ray.get(self.sink.drain.remote()):
            self.store.put_many(records, run)

    def run(self, tasks: list[Task]) -> RunnerReport:
        """Run `tasks` on the actors; new records go to the run store as each task ends."""
        sched = Scheduler(tasks, self.max_retries)
        while len(self.actors) < min(self.max_workers, len(tasks)):  # kept for later waves
            self.actors.append(self._new_actor(len(self.actors)))
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
            self._drain()  # also when nothing ended: a task's stored units outlive its actor
            for ref in ready:
                i, task = running.pop(ref)
                self._collect(ref, i, task, sched, stats)
        return sched.report(len(self.actors), stats)

    def _collect(self, ref: Any, i: int, task: Task, sched: Scheduler, stats: list[TaskStats]) -> None:
        from ray.exceptions import RayActorError

        try:
            st, out = self.ray.get(ref)
        except RayActorError as exc:  # the actor (its process or node) is gone
            self._drain()  # before the retry is seeded: it resumes from these
            sched.fail(task, f"actor {i} died: {exc}")
            self.actors[i] = self._new_actor(i)
            self.held[i] = None
            return
        except Exception as exc:  # the task raised inside the actor
            self._drain()
            sched.fail(task, str(exc))
            return
        self._drain()
        self.store.put_many(out["Prediction"])
        self.store.put_many(out["Answer"] + out["Judgment"], self.state.run_id)
        stats.append(st)
        if self.on_done:
            self.on_done(st)

    def close(self) -> None:
        for a in [*self.actors, getattr(self, "limiter", None), getattr(self, "sink", None)]:
            if a is not None:
                self.ray.kill(a)
        self.actors = []
        if self.own_cluster:
            self.ray.shutdown()
