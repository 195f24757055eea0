"""Summaries: per-subset scores, group averages (C-Eval style) and the familiar table.

`dataset | version | metric | mode | <one column per model>`, written as CSV, TXT and
Markdown. Subsets appear as `dataset/subset`, a dataset's own groups (its card's, e.g. the
C-Eval categories) as `dataset/group` with the metrics `naive_average` (mean of subset
scores) and `weighted_average` (weighted by sample count).

Summary groups, as OpenCompass's `summary_groups`, average rows of any datasets:
`summarizer: {groups: [{name: avg, subsets: [ceval_gen, mmlu_ppl/mmlu-stem, [gsm8k_gen,
accuracy]], weights: {ceval_gen: 2}}]}`. A subset names a row (`dataset` for its main
metric, `dataset/subset` or `dataset/group`), or `[row, metric]`; a group may use earlier
groups. The result row is `name` with `naive_average`, or `weighted_average` with weights.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from arena.core.errors import ConfigError
from arena.core.records import DatasetResult

Groups = Mapping[str, Mapping[str, Sequence[str]]]  # dataset -> group -> subsets
HEADER = ("dataset", "version", "metric", "mode")
AVERAGES = ("naive_average", "weighted_average")


class SummaryGroup(BaseModel):
    """One OpenCompass-style summary group: `{name, subsets, weights?}`."""

    model_config = ConfigDict(extra="forbid")
    name: str
    subsets: list[str | list[str]] = Field(min_length=1)
    weights: dict[str, float] | None = None


def _is_main(r: DatasetResult) -> bool:
    """The headline metric of a row (not an alternative normalisation, not an average)."""
    return not r.metric.startswith("accuracy_") and r.metric not in AVERAGES


def _lookup(results: Sequence[DatasetResult], ref: str | list[str], model: str) -> DatasetResult | None:
    if isinstance(ref, list):
        if len(ref) != 2:
            raise ConfigError(f"a subset is a row name or [row, metric], got {ref}", field="summarizer.groups")
        name, metric = ref
    else:
        name, metric = ref, None
    rows = [r for r in results if r.model == model and row_name(r) == name]
    if metric is not None:
        return next((r for r in rows if r.metric == metric), None)
    return next((r for r in rows if _is_main(r)), None) or next(
        (r for r in rows if r.metric == "naive_average"), None)


def summary_group_results(results: Iterable[DatasetResult],
                          summary_groups: Sequence[SummaryGroup | dict[str, Any]]) -> list[DatasetResult]:
    """Rows of OpenCompass-style summary groups, per model; a group missing a subset is skipped."""
    pool = list(results)
    models = list(dict.fromkeys(r.model for r in pool))
    out: list[DatasetResult] = []
    for raw in summary_groups:
        g = raw if isinstance(raw, SummaryGroup) else SummaryGroup.model_validate(raw)
        for model in models:
            rows = [_lookup(pool, ref, model) for ref in g.subsets]
            if any(r is None for r in rows):
                continue
            keys = [ref if isinstance(ref, str) else ref[0] for ref in g.subsets]
            if g.weights is not None:
                w = [float(g.weights.get(k, 0.0)) for k in keys]
                if sum(w) <= 0:
                    raise ConfigError(f"summary group '{g.name}': weights sum to 0", field="summarizer.groups")
                value = sum(r.value * x for r, x in zip(rows, w)) / sum(w)  # type: ignore[union-attr]
                metric = "weighted_average"
            else:
                value = sum(r.value for r in rows) / len(rows)  # type: ignore[union-attr]
                metric = "naive_average"
            modes = {r.mode for r in rows}  # type: ignore[union-attr]
            row = DatasetResult(model=model, dataset=g.name, version="-", metric=metric,
                                mode=modes.pop() if len(modes) == 1 else "mixed", value=value,
                                n=sum(r.n for r in rows), config_hash="")  # type: ignore[union-attr]
            out.append(row)
            pool.append(row)  # later groups may use this one
    return out


def group_results(results: Iterable[DatasetResult], groups: Groups) -> list[DatasetResult]:
    """Naive and weighted averages of each group's subsets, per model and dataset.

    A group is only reported when every one of its subsets has a result.
    """
    results = list(results)
    out = []
    for ds, ds_groups in groups.items():
        models = sorted({r.model for r in results if r.dataset == ds})
        for model in models:
            by_subset = {r.subset: r for r in results
                         if r.dataset == ds and r.model == model and r.subset and not r.metric.endswith("average")
                         and not r.metric.startswith("accuracy_")}
            for group, subsets in ds_groups.items():
                rows = [by_subset.get(s) for s in subsets]
                if not rows or any(r is None for r in rows):
                    continue
                first = rows[0]
                n = sum(r.n for r in rows)  # type: ignore[union-attr]
                naive = sum(r.value for r in rows) / len(rows)  # type: ignore[union-attr]
                weighted = sum(r.value * r.n for r in rows) / n  # type: ignore[union-attr]
                for metric, value in (("naive_average", naive), ("weighted_average", weighted)):
                    out.append(DatasetResult(model=model, dataset=ds, version=first.version,  # type: ignore[union-attr]
                                             subset=group, metric=metric, mode=first.mode,  # type: ignore[union-attr]
                                             value=value, n=n, config_hash=first.config_hash))  # type: ignore[union-attr]
    return out


@dataclass
class SummaryTable:
    """Rows of (dataset, version, metric, mode) with one value per model."""

    models: list[str]
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    values: dict[tuple[str, str, str, str], dict[str, float]] = field(default_factory=dict)

    def cells(self) -> list[list[str]]:
        """Header then rows, values with two decimals ('-' when missing)."""
        out = [[*HEADER, *self.models]]
        for row in self.rows:
            vals = self.values[row]
            out.append([*row, *(f"{vals[m]:.2f}" if m in vals else "-" for m in self.models)])
        return out


def row_name(r: DatasetResult) -> str:
    return f"{r.dataset}/{r.subset}" if r.subset else r.dataset


def summarize(results: Iterable[DatasetResult],
              groups: Groups | Sequence[SummaryGroup | dict[str, Any]] | None = None) -> SummaryTable:
    """The summary table of `results` plus group averages.

    Args:
        results: DatasetResult records (a dataset's own group rows are usually among them).
        groups: either `{dataset: {group: [subset, ...]}}` (per-dataset groups) or a list of
            OpenCompass-style summary groups (`[{name, subsets, weights?}]`, rows at the end).
    """
    results = list(results)
    have = {(r.model, r.dataset, r.subset, r.metric) for r in results}
    if isinstance(groups, Mapping) and groups:
        results += [g for g in group_results(results, groups)
                    if (g.model, g.dataset, g.subset, g.metric) not in have]
    elif groups:
        results += [g for g in summary_group_results(results, list(groups))
                    if (g.model, g.dataset, g.subset, g.metric) not in have]
    models = list(dict.fromkeys(r.model for r in results))
    table = SummaryTable(models=models)
    for r in results:
        row = (row_name(r), r.version, r.metric, r.mode)
        if row not in table.values:
            table.rows.append(row)
            table.values[row] = {}
        table.values[row][r.model] = r.value
    return table


def to_csv(table: SummaryTable) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table.cells())
    return buf.getvalue()


def to_text(table: SummaryTable) -> str:
    """Aligned plain-text table (what OpenCompass prints at the end of a run)."""
    cells = table.cells()
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def to_markdown(table: SummaryTable) -> str:
    cells = [[c.replace("|", "\\|") for c in r] for r in table.cells()]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in cells[0]) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines) + "\n"


def write_summary(table: SummaryTable, out_dir: str | Path, stem: str = "summary") -> dict[str, Path]:
    """Write `<stem>.csv`, `.txt` and `.md` into `out_dir`; returns the paths by format."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, render in (("csv", to_csv), ("txt", to_text), ("md", to_markdown)):
        paths[ext] = out / f"{stem}.{ext}"
        paths[ext].write_text(render(table), encoding="utf-8")
    return paths


def read_summary_csv(path: str | Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    """Parse a written summary CSV back (for checks and the report)."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    models = rows[0][4:]
    return {tuple(r[:4]): dict(zip(models, r[4:])) for r in rows[1:]}  # type: ignore[misc]
