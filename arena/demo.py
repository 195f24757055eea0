"""`arena demo`: the bundled default run (data/configs/demo.yaml) on CPU.

The first run converts the bundled GGUF models once and computes everything; a second run
reuses the same run directory and finds every unit stored, so it finishes in seconds with
identical numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from arena.core.registry import data_dir


def demo_config() -> Path:
    return data_dir() / "configs" / "demo.yaml"


def run_demo(console: Console, work_dir: str | Path = "outputs/demo", fresh: bool = False,
             overrides: list[str] | None = None) -> None:
    """Run the demo config, then print the summary table and the report's path."""
    from arena.experiment import load_experiment
    from arena.pipeline import run_experiment

    t0 = time.perf_counter()
    exp = load_experiment(demo_config(), overrides)
    result = run_experiment(exp, work_dir=work_dir, reuse=not fresh, console=console)
    console.print()
    console.print(result.summary)
    console.print(f"[bold]report:[/bold] {Path(result.report['html']).resolve()}")
    console.print(f"demo finished in {time.perf_counter() - t0:.1f} s (run directory {result.run_dir})")
