"""Table and JSON output of the ``arena ratings`` commands (shared by cli and cli_upstream)."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

INT_FIELDS = {
    "rank",
    "n_battles",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "n",
    "win",
    "loss",
    "tie",
}


def _clean(value: Any, field: str = "") -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return int(value) if field in INT_FIELDS else value


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def _emit(df: pd.DataFrame, fields: tuple[str, ...], as_json: bool, title: str) -> None:
    notes = list(df.attrs.get("notes", []))
    if as_json:
        models = {str(name): {f: _clean(row[f], f) for f in fields} for name, row in df.iterrows()}
        typer.echo(json.dumps({"models": models, **({"notes": notes} if notes else {})}, indent=2))
        return
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    table = Table(title=title)
    table.add_column("model")
    for f in fields:
        table.add_column(f, justify="right")
    for name, row in df.iterrows():
        cells = [_clean(row[f], f) for f in fields]
        table.add_row(str(name), *(_fmt(c) for c in cells))
    Console().print(table)
