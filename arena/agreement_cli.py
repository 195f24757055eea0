"""`arena agreement`: judge vs human labels from a JSON/JSONL file, or judges vs votes in a store."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import typer

KEYS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "kappa",
    "human_kappa_pairs",
    "fleiss_kappa",
    "consistency",
    "agreement_both",
    "n",
)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _lines(title: str, d: dict) -> list[str]:
    out = [
        f"{title}  (n={d['n']}"
        + (
            f", {d['n_no_majority']} without a human majority left out"
            if d.get("n_no_majority")
            else ""
        )
        + ")"
    ]
    out.append(
        "  vs human majority: "
        + ", ".join(f"{k} {_fmt(d[k])}" for k in ("accuracy", "precision", "recall", "f1", "kappa"))
    )
    if d.get("human_kappa_pairs"):
        out.append(
            "  humans: Cohen's kappa "
            + ", ".join(f"{p} {_fmt(k)}" for p, k in d["human_kappa_pairs"].items())
            + f"; Fleiss' kappa {_fmt(d['fleiss_kappa'])} (n={d.get('n_fleiss', 0)})"
        )
    if d.get("n_swapped"):
        out.append(
            f"  swapped order: consistency {_fmt(d['consistency'])}, "
            f"agreement in both orders {_fmt(d['agreement_both'])} (n={d['n_swapped']})"
        )
    return out


def _file_result(
    path: Path,
    human: list[str],
    judge: str,
    swapped: str | None,
    labels: list[str] | None,
    by: str | None,
) -> dict:
    from arena.agreement_data import label_frame, parse_label_map, read_rows
    from arena.ratings.agreement import label_agreement

    mapping = parse_label_map(labels)
    cols = [*human, judge] + ([swapped] if swapped else [])
    rows = label_frame(read_rows(path), cols, mapping, str(path), keep=[by] if by else [])
    out = label_agreement(rows, human, judge, swapped).as_dict()
    if by:
        out["by"] = {
            str(g): label_agreement(sub, human, judge, swapped).as_dict()
            for g, sub in rows.groupby(rows[by].astype(str), sort=True)
        }
    return out


def agreement(
    file: Path = typer.Argument(
        None, help="JSON or JSONL file, one object per item; omit to read the store."
    ),
    human: list[str] = typer.Option(None, "--human", help="Human label columns (file mode)."),
    judge: str = typer.Option(
        None, "--judge", help="Judge label column (file) or judge id (store)."
    ),
    swapped: str = typer.Option(
        None, "--swapped", help="Judge verdict with the answers swapped (not re-mapped)."
    ),
    labels: list[str] = typer.Option(
        None,
        "--labels",
        help="VALUE=tie,VALUE=A,VALUE=B (default: model_a/model_b/tie/tie (bothbad) and A/B/tie).",
    ),
    by: str = typer.Option(None, "--by", help="Also per value of this column."),
    store: str = typer.Option(
        None, "--store", help="Store mode: SQLite path or URL (default $ARENA_STORE)."
    ),
    run: str = typer.Option(None, "--run", help="Store mode: only this run's records."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Agreement of a judge with human labels: accuracy, macro P/R/F1, kappas, swapped-order consistency."""
    from arena.core.errors import ConfigError

    if file is not None:
        if not human or not judge:
            raise ConfigError("arena agreement FILE needs --human COL [COL...] and --judge COL")
        res = _file_result(file, human, judge, swapped, labels, by)
        if as_json:
            print(json.dumps(res, indent=2))
            return
        text = _lines(f"{judge} vs {', '.join(human)}", res)
        for g, d in res.get("by", {}).items():
            text += _lines(f"[{by} = {g}]", d)
        typer.echo("\n".join(text))
        return
    from arena.core.store import Store

    st = Store(store or os.environ.get("ARENA_STORE", "outputs/arena.sqlite"))
    from arena.agreement_data import store_result

    res = store_result(st, run, judge)
    if not res:
        raise ConfigError(f"no judge verdict shares an item with a human vote in {st.url}")
    if as_json:
        print(json.dumps({"judges": res}, indent=2))
        return
    typer.echo("\n".join(line for src, d in res.items() for line in _lines(src, d)))


def register(app: typer.Typer) -> None:
    """Add `arena agreement`."""
    app.command("agreement")(agreement)
