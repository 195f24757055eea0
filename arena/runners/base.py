"""What the local and the Ray runner share: the scheduler (model affinity, bounded retries)
and the report of a wave of tasks."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from arena.core.errors import ArenaError
from arena.runners.tasks import Task, TaskStats

log = logging.getLogger("arena.runners")


class TaskFailedError(ArenaError):
    """A task still failed after its retries; the run stops after the other tasks finish."""


@dataclass
class RunnerReport:
    """One wave of tasks: per-task stats, retries, model loads and worker utilisation."""

    workers: int
    wall: float = 0.0
    stats: list[TaskStats] = field(default_factory=list)
    retries: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def busy(self) -> float:
        return sum(s.seconds for s in self.stats)

    @property
    def loads(self) -> int:
        return sum(1 for s in self.stats if s.loaded)

    @property
    def utilisation(self) -> float:
        """Busy worker time over available worker time (1.0: no worker ever idle)."""
        return self.busy / (self.workers * self.wall) if self.wall > 0 else 0.0

    def line(self) -> str:
        return (f"{len(self.stats)} tasks on {self.workers} workers in {self.wall:.1f}s, "
                f"{self.loads} model loads, {self.retries} retries, "
                f"utilisation {self.utilisation:.0%}")


class Scheduler:
    """Which task a free worker runs next.

    Largest tasks first (the tail of a wave is then short); a worker first gets a task of
    the model it holds, then one of a model no other worker holds, and only then a model
    another worker holds (loading a model twice beats idling). A failed task goes back to
    the front of the queue until it has failed `max_retries + 1` times.
    """

    def __init__(self, tasks: list[Task], max_retries: int) -> None:
        self.pending = sorted(tasks, key=lambda t: (-t.cost, t.id))
        self.max_retries = max_retries
        self.attempts: Counter[str] = Counter()
        self.failed: dict[str, str] = {}
        self.retries = 0
        self.t0 = time.perf_counter()

    def next_for(self, held: str | None, held_by_others: set[str]) -> Task | None:
        if not self.pending:
            return None
        for pick in (lambda t: t.model_key == held,
                     lambda t: t.model_key not in held_by_others,
                     lambda t: True):
            for i, t in enumerate(self.pending):
                if pick(t):
                    return self.pending.pop(i)
        return None

    def fail(self, task: Task, error: str) -> None:
        self.attempts[task.id] += 1
        if self.attempts[task.id] > self.max_retries:
            log.error("task %s failed %d times: %s", task.id, self.attempts[task.id], error)
            self.failed[task.id] = error
            return
        log.warning("task %s failed (attempt %d), retrying: %s", task.id, self.attempts[task.id],
                    error.strip().splitlines()[-1] if error.strip() else error)
        self.retries += 1
        self.pending.insert(0, task)

    def report(self, workers: int, stats: list[TaskStats]) -> RunnerReport:
        rep = RunnerReport(workers, time.perf_counter() - self.t0, sorted(stats, key=lambda s: s.task_id),
                           self.retries, dict(self.failed))
        if rep.failed:
            first = next(iter(rep.failed.items()))
            raise TaskFailedError(f"{len(rep.failed)} task(s) failed after {self.max_retries} retries; "
                                  f"first: {first[0]}: {first[1].strip().splitlines()[-1:]}")
        return rep
