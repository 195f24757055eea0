"""``arena report RUN_DIR``: write the summaries and report.html of a run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

# Where a run's store is looked for when --store is not given (first that exists).
STORE_CANDIDATES = ("{run}/arena.sqlite", "{run}/store.sqlite", "{parent}/arena.sqlite")
STAGE_STATS_CANDIDATES = ("stage_stats.json", "logs/stage_stats.json")


def find_store(run_dir: Path) -> Path | None:
    """The SQLite store of a run directory, if one of :data:`STORE_CANDIDATES` exists."""
    for pattern in STORE_CANDIDATES:
        path = Path(pattern.format(run=run_dir, parent=run_dir.parent))
        if path.is_file():
            return path
    return None


def _read_optional(run_dir: Path) -> tuple[dict | None, dict | None]:
    """The run's config.yaml and stage statistics, when the run directory has them."""
    import yaml

    config = None
    if (run_dir / "config.yaml").is_file():
        loaded = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
        config = loaded if isinstance(loaded, dict) else None
    from arena.manifest import read_manifest

    manifest = read_manifest(run_dir)  # run.json: the stage table of the run's manifest
    stats = manifest.get("stages") or None if manifest else None
    for name in () if stats else STAGE_STATS_CANDIDATES:
        if (run_dir / name).is_file():
            stats = json.loads((run_dir / name).read_text(encoding="utf-8"))
            break
    return config, stats


def report_run(run_dir: Path, store_url: str | None = None) -> dict[str, Any]:
    """Build the report of ``run_dir``; returns what was written (for printing or JSON).

    The run id is the directory name when the store holds records of that run; otherwise
    every record of the store is reported (a store made for one run only).
    """
    from arena.core.errors import ConfigError
    from arena.core.records import Battle, DatasetResult, Judgment, Score
    from arena.core.store import Store
    from arena.report.build import build_report

    if not run_dir.is_dir():
        raise ConfigError(f"run directory {run_dir} does not exist")
    target = store_url or find_store(run_dir)
    if target is None:
        raise ConfigError(f"no store found for {run_dir} (looked for {', '.join(STORE_CANDIDATES)}); "
                          "pass --store PATH_OR_URL")
    store = Store(target)
    try:
        run: str | None = run_dir.name
        if not any(store.count(c, run) for c in (DatasetResult, Battle, Score, Judgment)):
            run = None
        config, stats = _read_optional(run_dir)
        paths = build_report(store, run, run_dir, config=config, stage_stats=stats)
    finally:
        store.close()
    return {"run": run, "store": repr(store), "html": str(paths.html), "csv": str(paths.csv),
            "txt": str(paths.txt), "md": str(paths.md)}


def register(app: typer.Typer) -> None:
    """Add ``arena report`` to the main command."""

    @app.command("report")
    def report(
        run_dir: Path = typer.Argument(..., help="Run directory, e.g. outputs/<run>."),
        store: str = typer.Option(None, "--store", help="Store path or SQLAlchemy URL."),
        as_json: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
    ) -> None:
        """Write summary/summary_<ts>.{csv,txt,md} and report.html for a run."""
        out = report_run(run_dir, store)
        if as_json:
            print(json.dumps(out, indent=2))
            return
        from rich.console import Console

        console = Console()
        scope = f"run {out['run']}" if out["run"] else "all records"
        console.print(f"[bold]Report[/bold] of {scope} from {out['store']}")
        for kind in ("html", "csv", "txt", "md"):
            console.print(f"  {kind:4} {out[kind]}")
