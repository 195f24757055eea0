"""The `arena` command: thin noun-verb layer (parse, call, print). Heavy imports stay lazy."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from arena.cli_lists import ListOptionsGroup  # noqa: E402  (after the env defaults above)
from arena.console import unwrapped_console  # noqa: E402

app = typer.Typer(
    cls=ListOptionsGroup,  # list options take `--models A B` as well as `-m A -m B`
    help="Arena: evaluate LLMs with benchmarks, judge LLMs and human ratings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

# Modules that add commands with `register(app)`; each owns its own commands.
COMMAND_MODULES = (
    "arena.ratings.cli",
    "objective.cli",
    "objective.contamination_cli",
    "judges.cli",
    "ui.cli",
    "arena.pipeline_cli",
    "arena.report.cli",
    "arena.agreement_cli",
)


@app.command()
def version() -> None:
    """Print Arena's version."""
    from importlib.metadata import version as v

    console.print(f"arena-eval {v('arena-eval')}")


def _catalogue() -> dict[str, list[tuple[str, str]]]:
    from arena.core.registry import BACKENDS, BUILTIN_BACKENDS, data_dir, model_specs

    cat: dict[str, list[tuple[str, str]]] = {"models": [], "datasets": [], "questions": [], "judges": [],
                                             "backends": [], "metrics": []}
    for name, spec in sorted(model_specs().items()):
        cat["models"].append((name, f"{spec.backend}: {spec.description or spec.path or spec.model}"))
    for f in sorted((data_dir() / "datasets").glob("*.yaml")):
        cat["datasets"].append((f.stem, str(f.relative_to(data_dir().parent))))
    for f in sorted((data_dir() / "questions").glob("*.jsonl")):
        cat["questions"].append((f.stem, str(f.relative_to(data_dir().parent))))
    judges_dir = Path(__file__).resolve().parents[1] / "judges" / "configs"
    for d in sorted(p for p in judges_dir.glob("*") if (p / "judge.yaml").exists()):
        cat["judges"].append((d.name, str(d.relative_to(judges_dir.parents[1]))))
    # plugins (entry points), listed without being imported
    from judges.judge import JUDGES
    from objective.datasets import DATASETS
    from objective.metrics import METRICS, RUNNER_METRICS

    cat["datasets"] += [(n, f"plugin: {v}") for n, v in sorted(DATASETS.plugins().items())]
    cat["judges"] += [(n, f"plugin: {v}") for n, v in sorted(JUDGES.plugins().items())]
    cat["backends"] = [(n, "built-in") for n in BUILTIN_BACKENDS]
    cat["backends"] += [(n, f"plugin: {v}") for n, v in sorted(BACKENDS.plugins().items())]
    plugin_metrics = METRICS.plugins()
    cat["metrics"] = [(n, "built-in") for n in sorted({*RUNNER_METRICS, *METRICS.names()} - set(plugin_metrics))]
    cat["metrics"] += [(n, f"plugin: {v}") for n, v in sorted(plugin_metrics.items())]
    return cat


@app.command("list")
def list_(
    filters: list[str] = typer.Argument(None, help="Patterns (wildcards allowed); a name matching any is shown."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List models, datasets, question sets, judges, backends and metrics (plugins included),
    like OpenCompass's list_configs.

    Each pattern matches names in every table, fuzzily (`*pattern*`): `arena list internlm
    ceval` shows the internlm models and the ceval datasets.
    """
    from fnmatch import fnmatchcase

    pats = [f"*{f.lower()}*" for f in filters or []]
    cat = {
        kind: [(n, d) for n, d in rows if not pats or any(fnmatchcase(n.lower(), p) for p in pats)]
        for kind, rows in _catalogue().items()
    }
    if as_json:
        print(json.dumps({k: [n for n, _ in v] for k, v in cat.items()}, indent=2))
        return
    out = unwrapped_console()
    for kind, rows in cat.items():
        if not rows:
            continue
        table = Table(title=kind, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("details")
        for n, d in rows:
            table.add_row(n, d)
        out.print(table)


@app.command()
def demo(
    work_dir: Path = typer.Option(Path("outputs/demo"), "--work-dir", "-w", help="Where the run goes."),
    fresh: bool = typer.Option(False, "--fresh", help="Start a new run instead of resuming the last."),
    overrides: list[str] = typer.Option(None, "--set", help="Override a demo config key: a.b=value."),
) -> None:
    """Run the bundled default evaluation on CPU (objective + judges + report)."""
    from arena.demo import run_demo

    run_demo(console, work_dir, fresh=fresh, overrides=overrides or [])


def _gpu_shards(*args: object) -> None:
    from arena.runners.eval_shards import run_on_gpus

    run_on_gpus(*args)  # type: ignore[arg-type]


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of Arena is not installed / not written yet
                continue
            raise
        if name == "objective.cli":  # the layer above lends `arena eval` its GPU workers
            mod.GPU_SHARDS = _gpu_shards
        if hasattr(mod, "register"):
            mod.register(app)
        else:  # a sub-app: `arena <noun> <verb>`
            app.add_typer(mod.app, name=name.split(".")[-2])


_register_all()


def main() -> None:  # pragma: no cover
    from arena.core.errors import ArenaError
    from arena.pipeline_cli import normalize_argv

    try:
        app(args=normalize_argv(sys.argv[1:]), prog_name="arena")
    except ArenaError as exc:
        # on stderr, unwrapped (a file:line must stay one token to copy), markup-free
        from rich.markup import escape

        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
