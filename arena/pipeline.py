"""`arena run`: config -> infer -> evaluate -> judge -> report, resumable at any point.

Each unit of work is stored in the run's store under a key derived from what determines
it (model config, dataset version, template, parameters, judge config); a stage that
finds its unit already stored skips it. Model calls also go through the content-hash
cache, so a rerun, `--reuse`, or a crash followed by a rerun never pays twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from rich.console import Console

from arena.core.errors import ConfigError
from arena.experiment import STAGES, Experiment
from arena.manifest import MANIFEST
from arena.notify import notify
from arena.run_context import RUN_SUBDIRS, RunContext, StageStat  # noqa: F401  (re-exported)

log = logging.getLogger("arena.run")
@dataclass
class RunResult:
    run_dir: Path
    stats: dict[str, StageStat] = field(default_factory=dict)
    summary: str = ""
    report: dict[str, str] = field(default_factory=dict)
    status: str = "started"  # as in run.json: started, success, failed, cancelled


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
        # a run is a directory with a manifest (or, from before manifests, a store)
        runs = sorted(p for p in base.glob("*") if (p / MANIFEST).is_file() or (p / "arena.sqlite").exists()) \
            if base.is_dir() else []
        if runs:
            return runs[-1]
    path = base / timestamp()
    while path.exists():  # two runs in the same second
        time.sleep(1)
        path = base / timestamp()
    return path


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
    if ctx.previous is not None:
        same = ctx.previous.get("config_hash") == exp.hash()
        console.print(f"resuming a run that ended '{ctx.previous.get('status')}'; config "
                      + ("unchanged: stored units are skipped" if same else "changed: what it changes is redone"))
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
        cancelled = isinstance(exc, (KeyboardInterrupt, SystemExit))
        result.status = "cancelled" if cancelled else "failed"
        ctx.finish(result.status, error=f"{type(exc).__name__}: {exc}")
        notify(exp.notify, "failure", ctx.run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if ctx.runner is not None:
            ctx.runner.close()
    result.status = "success"
    ctx.finish("success")
    notify(exp.notify, "finish", ctx.run_id, summary=result.summary,
           extra={"run_dir": str(run_dir), "report": result.report,
                  "stats": ctx.stats_dict()})
    return result
