"""`arena run`: config -> infer -> evaluate -> judge -> report, resumable at any point.

Each unit of work is stored in the run's store under a key derived from what determines
it (model config, dataset version, template, parameters, judge config); a stage that
finds its unit already stored skips it. Model calls also go through the content-hash
cache, so a rerun, `--reuse`, or a crash followed by a rerun never pays twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from arena.core.cache import Cache
from arena.core.errors import ConfigError
from arena.core.registry import ModelSpec
from arena.core.store import Store
from arena.experiment import STAGES, Experiment
from arena.notify import notify

log = logging.getLogger("arena.run")
RUN_SUBDIRS = ("configs", "logs/infer", "logs/eval", "logs/judge", "predictions", "results",
               "judgments", "summary")


@dataclass
class StageStat:
    seconds: float = 0.0
    units: int = 0  # units of work in the stage
    skipped: int = 0  # found stored: no model call
    calls: int = 0  # model calls made (cache misses)
    cached: int = 0  # model calls served by the cache
    tokens: int = 0
    cost: float = 0.0


@dataclass
class RunResult:
    run_dir: Path
    stats: dict[str, StageStat] = field(default_factory=dict)
    summary: str = ""
    report: dict[str, str] = field(default_factory=dict)


def timestamp() -> str:
    return datetime.now().strftime("%Y%m%d_%H%M%S")


def resolve_run_dir(exp: Experiment, work_dir: str | Path | None, reuse: str | bool | None) -> Path:
    """`outputs/<name>/<timestamp>`; with reuse, the latest (or the named) existing run."""
    base = Path(work_dir or exp.work_dir or Path("outputs") / exp.name)
    if reuse:
        if isinstance(reuse, str) and reuse not in ("latest", "true"):
            path = base / reuse
            if not path.is_dir():
                raise ConfigError(f"--reuse {reuse}: no run directory {path}")
            return path
        runs = sorted(p for p in base.glob("*") if (p / "arena.sqlite").exists()) if base.is_dir() else []
        if runs:
            return runs[-1]
    path = base / timestamp()
    while path.exists():  # two runs in the same second
        time.sleep(1)
        path = base / timestamp()
    return path


class RunContext:
    """What every stage shares: config, run directory, store, cache, loaded models."""

    def __init__(self, exp: Experiment, run_dir: Path, console: Console, debug: bool = False) -> None:
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
        self._models: dict[str, Any] = {}
        self.runner: Any = None  # worker pool of arena.runners, kept across stages

    def model(self, spec: ModelSpec) -> Any:
        """One backend per spec and run, loaded on first use (a loaded model serves every stage)."""
        key = spec.model_dump_json()
        if key not in self._models:
            from arena.models.factory import LazyModel

            self._models[key] = LazyModel(spec, cache=self.cache)
        return self._models[key]

    @contextmanager
    def stage(self, name: str, log_dir: str) -> Iterator[StageStat]:
        """Time a stage, count cache hits/misses, and log it to logs/<log_dir>/<name>.log."""
        stat = self.stats.setdefault(name, StageStat())
        handler = logging.FileHandler(self.run_dir / "logs" / log_dir / f"{name}.log", encoding="utf-8")
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
        (self.run_dir / "stage_stats.json").write_text(json.dumps(self.stats_dict(), indent=2))


def write_config(exp: Experiment, run_dir: Path) -> None:
    """configs/<ts>.yaml for the record, config.yaml for `arena report` (secrets redacted)."""
    from arena.report.redact import redact

    data = redact(exp.model_dump(mode="json"))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    (run_dir / "configs" / f"{timestamp()}.yaml").write_text(text, encoding="utf-8")
    (run_dir / "config.yaml").write_text(text, encoding="utf-8")


def run_experiment(exp: Experiment, *, work_dir: str | Path | None = None, reuse: str | bool | None = None,
                   stages: list[str] | None = None, debug: bool = False,
                   console: Console | None = None) -> RunResult:
    """Run the stages of `exp` (all by default) and write the report."""
    from arena import stages as S

    console = console or Console()
    stages = list(stages or STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ConfigError(f"unknown stage(s) {bad}; stages are {list(STAGES)}")
    pf = S.preflight(exp)  # bad names and missing keys fail here, before any directory is touched
    run_dir = resolve_run_dir(exp, work_dir, reuse)
    ctx = RunContext(exp, run_dir, console, debug)
    write_config(exp, run_dir)
    console.print(f"[bold]run[/bold] {exp.name} -> {run_dir}")
    notify(exp.notify, "start", ctx.run_id, extra={"run_dir": str(run_dir)})
    result = RunResult(run_dir, ctx.stats)
    try:
        if "infer" in stages or "eval" in stages:
            S.objective_stage(ctx, pf)
        if "answer" in stages or "judge" in stages:
            S.answer_stage(ctx, pf)
        if "judge" in stages:
            S.judge_stage(ctx, pf)
        ctx.save_stats()
        if "report" in stages:
            result.summary, result.report = S.report_stage(ctx)
    except BaseException as exc:
        ctx.save_stats()
        notify(exp.notify, "failure", ctx.run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if ctx.runner is not None:
            ctx.runner.close()
    notify(exp.notify, "finish", ctx.run_id, summary=result.summary,
           extra={"run_dir": str(run_dir), "report": result.report,
                  "stats": ctx.stats_dict()})
    return result
