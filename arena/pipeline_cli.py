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
    ) -> None:
        """Run an experiment: infer -> evaluate -> judge -> report (resumable)."""
        import logging

        from rich.console import Console

        from arena.experiment import load_experiment

        console = Console(stderr=as_json)
        exp = load_experiment(config, overrides or [])
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
        console.print(result.summary)
        console.print(f"report: {result.report.get('html', '-')}")


def _print_plan(exp, console, as_json: bool) -> None:
    from dataclasses import asdict

    from rich.table import Table

    from arena.plan import plan_run
    from arena.stages import preflight

    tasks = plan_run(exp, preflight(exp))
    if as_json:
        print(json.dumps({"tasks": [asdict(t) for t in tasks],
                          "total_calls": sum(t.calls for t in tasks),
                          "total_cost": sum(t.est_cost for t in tasks)}, indent=2))
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
