"""What every stage of a run shares (`RunContext`) and what it records about each stage.

Its own module so that `arena.pipeline` (which runs the stages) and `arena.stages` (the
stages) both import it and not each other. The context keeps the run manifest
(`arena.manifest`, ``run.json``) up to date: started, after each stage, and at the end.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from arena.core.cache import Cache
from arena.core.records import RECORD_TYPES
from arena.core.registry import ModelSpec
from arena.core.store import Store
from arena.experiment import Experiment
from arena.manifest import now_iso, read_manifest, versions, write_manifest
from arena.models.factory import LazyModel

log = logging.getLogger("arena.run")
RUN_SUBDIRS = (
    "configs",
    "logs/infer",
    "logs/eval",
    "logs/judge",
    "predictions",
    "results",
    "judgments",
    "summary",
)


@dataclass
class StageStat:
    seconds: float = 0.0
    units: int = 0  # units of work in the stage
    skipped: int = 0  # found stored: no model call
    calls: int = 0  # model calls made (cache misses)
    cached: int = 0  # model calls served by the cache
    tokens: int = 0
    cost: float = 0.0


class RunContext:
    """What every stage shares: config, run directory, store, cache, loaded models."""

    def __init__(
        self, exp: Experiment, run_dir: Path, console: Console, debug: bool = False
    ) -> None:
        self.exp, self.run_dir, self.console, self.debug = exp, run_dir, console, debug
        for sub in RUN_SUBDIRS:
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.store = Store(run_dir / "arena.sqlite")
        self.run_id = run_dir.name
        # records are tagged with the run as this invocation uses them; a resumed run with
        # a changed config must not report what it no longer computes
        self.store.release(self.run_id)
        self.cache = Cache()
        self.stats: dict[str, StageStat] = {}
        self._models: dict[str, LazyModel] = {}
        self.runner: Any = None  # worker pool of arena.runners, kept across stages
        self.previous = read_manifest(run_dir)  # what a resumed run said about itself
        self.manifest: dict[str, Any] = {
            "run": self.run_id,
            "name": exp.name,
            "status": "started",
            "config_hash": exp.hash(),
            "versions": versions(),
            "started_at": now_iso(),
            "finished_at": None,
            "resumed": None
            if self.previous is None
            else {
                k: self.previous.get(k)
                for k in ("status", "config_hash", "started_at", "finished_at")
            },
            "stages": {},
            "counts": {},
            "error": None,
        }
        write_manifest(run_dir, self.manifest)

    def model(self, spec: ModelSpec) -> LazyModel:
        """One backend per spec and run, loaded on first use (a loaded model serves every stage)."""
        key = spec.model_dump_json()
        if key not in self._models:
            self._models[key] = LazyModel(spec, cache=self.cache)
        return self._models[key]

    @contextmanager
    def stage(self, name: str, log_dir: str) -> Iterator[StageStat]:
        """Time a stage, count cache hits/misses, and log it to logs/<log_dir>/<name>.log."""
        stat = self.stats.setdefault(name, StageStat())
        handler = logging.FileHandler(
            self.run_dir / "logs" / log_dir / f"{name}.log", encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        old_level = root.level
        root.setLevel(logging.DEBUG if self.debug else logging.INFO)
        for noisy in ("httpx", "httpx2", "httpcore", "openai", "urllib3"):  # a line per request
            logging.getLogger(noisy).setLevel(logging.WARNING)
        h0, m0, t0 = self.cache.hits, self.cache.misses, time.perf_counter()
        try:
            yield stat
        finally:
            stat.seconds += time.perf_counter() - t0
            stat.cached += self.cache.hits - h0
            stat.calls += self.cache.misses - m0
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()

    def stats_dict(self) -> dict[str, dict[str, Any]]:
        return {k: asdict(v) for k, v in self.stats.items()}

    def save_stats(self) -> None:
        """Stage statistics into the manifest (and stage_stats.json, for older readers)."""
        (self.run_dir / "stage_stats.json").write_text(json.dumps(self.stats_dict(), indent=2))
        self.manifest["stages"] = self.stats_dict()
        write_manifest(self.run_dir, self.manifest)

    def finish(self, status: str, error: str | None = None) -> None:
        """Final manifest: status, end time, stage statistics, records of this run per table."""
        self.manifest.update(
            status=status, finished_at=now_iso(), error=error, stages=self.stats_dict()
        )
        try:
            # the run directory has a store of its own: its tables are the run's records
            self.manifest["counts"] = {c.table: self.store.count(c) for c in RECORD_TYPES}
        except Exception as exc:  # a failed store must not hide the run's own error
            self.manifest["counts"] = {"error": f"{type(exc).__name__}: {exc}"}
        write_manifest(self.run_dir, self.manifest)
        (self.run_dir / "stage_stats.json").write_text(json.dumps(self.stats_dict(), indent=2))
