"""The robustness table: one row per model and dataset (and subset, group) with CircularEval's
original / mean-rotation / circular accuracy and the spread over prompt variants.

Written next to the main summary as `summary/robustness.{csv,txt,md}` and printed after it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from arena.core.records import DatasetResult
from objective.robustness import is_robustness_metric

COLUMNS = (
    "model",
    "dataset",
    "metric",
    "n",
    "original",
    "mean rotation",
    "circular",
    "variants",
    "var mean",
    "var std",
    "var min",
    "var max",
    "stability",
)


def _main_metric(metrics: set[str]) -> str | None:
    plain = sorted(
        m
        for m in metrics
        if not is_robustness_metric(m) and not m.startswith("accuracy_") and m != "weighted_average"
    )
    if "naive_average" in plain:  # a group row
        return "naive_average"
    return "accuracy" if "accuracy" in plain else (plain[0] if plain else None)


def robustness_rows(results: Iterable[DatasetResult]) -> list[dict[str, object]]:
    """Rows of the table (values in percent, None when not measured), in result order."""
    by_key: dict[tuple[str, str, str | None], dict[str, DatasetResult]] = {}
    for r in results:
        by_key.setdefault((r.model, r.dataset, r.subset), {})[r.metric] = r
    out: list[dict[str, object]] = []
    for (model, dataset, subset), rows in by_key.items():
        if not any(is_robustness_metric(m) for m in rows):
            continue
        main = _main_metric(set(rows))
        if main is None and "stability" not in rows:
            continue

        def val(metric: str, rows: dict[str, DatasetResult] = rows) -> float | None:
            r = rows.get(metric)
            return None if r is None else r.value

        n_var = val("variants") if subset is None else _variants_of(by_key, model, dataset)
        group = main == "naive_average"
        out.append(
            {
                "model": model,
                "dataset": f"{dataset}/{subset}" if subset else dataset,
                "metric": ("group mean " if group else "")
                + ("accuracy" if group else (main or "-")),
                "n": (rows.get(main) or rows.get("stability") or next(iter(rows.values()))).n,
                "original": val(main) if main else None,
                "mean rotation": val("acc_circular"),
                "circular": val("perf_circular"),
                "variants": int(n_var)
                if n_var and any(m.endswith("@mean") for m in rows)
                else None,
                **{f"var {k}": val(f"{main}@{k}") for k in ("mean", "std", "min", "max")},
                "stability": val("stability"),
            }
        )
    return out


def _variants_of(by_key: dict, model: str, dataset: str) -> float | None:
    top = by_key.get((model, dataset, None), {}).get("variants")
    return None if top is None else top.value


def shown_columns(rows: list[dict[str, object]]) -> list[str]:
    """The columns with a value in some row (no variant columns in a --circular-only run)."""
    return [c for c in COLUMNS if c in COLUMNS[:4] or any(r.get(c) is not None for r in rows)]


def cells(rows: list[dict[str, object]]) -> list[list[str]]:
    def fmt(v: object) -> str:
        if v is None:
            return "-"
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    cols = shown_columns(rows)
    return [cols] + [[fmt(r[c]) for c in cols] for r in rows]


def to_text(rows: list[dict[str, object]]) -> str:
    table = cells(rows)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return (
        "robustness (accuracy %; mean rotation/circular: CircularEval; var: over prompt variants)\n"
        + "\n".join(lines)
        + "\n"
    )


def to_markdown(rows: list[dict[str, object]]) -> str:
    table = [[c.replace("|", "\\|") for c in r] for r in cells(rows)]
    lines = ["| " + " | ".join(table[0]) + " |", "|" + "|".join("---" for _ in table[0]) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in table[1:]]) + "\n"


def to_csv(rows: list[dict[str, object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(cells(rows))
    return buf.getvalue()


def write_robustness(rows: list[dict[str, object]], out_dir: str | Path) -> dict[str, Path]:
    """`robustness.csv`, `.txt` and `.md` in `out_dir` (nothing when there are no rows)."""
    if not rows:
        return {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, render in (("csv", to_csv), ("txt", to_text), ("md", to_markdown)):
        paths[f"robustness.{ext}"] = out / f"robustness.{ext}"
        paths[f"robustness.{ext}"].write_text(render(rows), encoding="utf-8")
    return paths
