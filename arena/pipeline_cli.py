"""`arena run CONFIG`: the whole evaluation from one YAML file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

REUSE_FLAGS = ("--reuse", "-r")


def normalize_argv(argv: list[str]) -> list[str]:
    """Let `--reuse` take an optional value: a bare `--reuse` means the latest run.

    Click options cannot have optional values, so `--reuse` followed by nothing, another
    option, or the config file gets the value `latest` inserted.
    """
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in REUSE_FLAGS:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or nxt.startswith("-") or nxt.endswith((".yaml", ".yml")):
                out.append("latest")
    return out


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Path = typer.Argument(..., help="Experiment YAML (models, datasets, questions, judges)."),
        work_dir: Path = typer.Option(None, "--work-dir", "-w", help="Default: outputs/<name>."),
        reuse: str = typer.Option(None, *REUSE_FLAGS, help="Resume a run: the latest when no RUN is given."),
        debug: bool = typer.Option(False, "--debug", help="Sequential, logs streamed to the terminal."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan: tasks, calls, cost."),
        stages: list[str] = typer.Option(None, "--stages", help="infer, eval, answer, judge, report."),
        overrides: list[str] = typer.Option(None, "--set", help="Override a config key: a.b=value."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        runner: str = typer.Option(None, "--runner", help="sequential, local or ray (runner.kind)."),
        max_workers: int = typer.Option(None, "--max-workers", help="Worker processes or Ray actors."),
        num_gpus: int = typer.Option(None, "--num-gpus", help="GPUs per task (local models)."),
        partitioner: str = typer.Option(None, "--partitioner", help="naive or size."),
        ray_address: str = typer.Option(None, "--ray-address", help="auto or ray://host:10001."),
    ) -> None:
        """Run an experiment: infer -> evaluate -> judge -> report (resumable)."""
        import logging

        from arena.console import unwrapped_console
        from arena.experiment import load_experiment

        console = unwrapped_console(stderr=as_json)  # tables in a pipe or file keep their width
        flags = {"kind": runner, "max_workers": max_workers, "num_gpus": num_gpus,
                 "partitioner": partitioner, "ray_address": ray_address}
        runner_sets = [f"runner.{k}={v}" for k, v in flags.items() if v is not None]
        if ray_address and not runner:
            runner_sets.append("runner.kind=ray")
        exp = load_experiment(config, runner_sets + list(overrides or []))
        if debug:
            logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s: %(message)s")
        if dry_run:
            _print_plan(exp, console, as_json)
            return
        from arena.pipeline import run_experiment

        result = run_experiment(exp, work_dir=work_dir, reuse=reuse, stages=stages, debug=debug,
                                console=console)
        if as_json:
            print(json.dumps({"run_dir": str(result.run_dir), "report": result.report,
                              "stats": {k: vars(v) for k, v in result.stats.items()}}, indent=2))
            return
        console.print(result.summary, markup=False, highlight=False, soft_wrap=True)
        console.print(f"report: {result.report.get('html', '-')}")


def _print_plan(exp, console, as_json: bool) -> None:
    from dataclasses import asdict

    from rich.table import Table

    from arena.plan import plan_run, plan_runner_tasks
    from arena.stages import preflight

    pf = preflight(exp)
    tasks = plan_run(exp, pf)
    shards = plan_runner_tasks(exp, pf)
    if as_json:
        print(json.dumps({"tasks": [asdict(t) for t in tasks],
                          "total_calls": sum(t.calls for t in tasks),
                          "total_cost": sum(t.est_cost for t in tasks),
                          "runner": exp.runner.model_dump(),
                          "runner_tasks": [asdict(t) for t in shards]}, indent=2))
        return
    table = Table(title=f"plan of {exp.name}", title_justify="left")
    for col in ("stage", "model", "target", "units", "model calls", "est. tokens", "est. cost $"):
        table.add_column(col, justify="right" if col[0] in "ume" else "left")
    for t in tasks:
        table.add_row(t.stage, t.model, t.target, str(t.units), str(t.calls), str(t.est_tokens),
                      f"{t.est_cost:.4f}")
    console.print(table)
    console.print(f"total: {sum(t.calls for t in tasks)} model calls, "
                  f"~${sum(t.est_cost for t in tasks):.2f} estimated API cost")
    _print_runner_tasks(exp, shards, console)


def _print_runner_tasks(exp, shards, console) -> None:
    from rich.table import Table

    r = exp.runner
    title = (f"tasks: {r.partitioner} partitioner, {r.kind} runner"
             + (f" ({r.max_workers} workers)" if r.kind != "sequential" else ""))
    table = Table(title=title, title_justify="left")
    for col in ("stage", "model", "parts", "units", "est. tokens", "gpus"):
        table.add_column(col, justify="right" if col in ("units", "est. tokens", "gpus") else "left")
    for t in shards:
        table.add_row(t.stage, t.model, t.parts, str(t.units), str(t.est_tokens), str(t.num_gpus))
    console.print(table)
