"""Robustness of objective scores: CircularEval and prompt-variant sensitivity.

CircularEval (OpenCompass `opencompass/datasets/circular.py`, `CircularEvaluator`): every
multiple-choice question is asked once per cyclic rotation of its options. Rotation i puts
original option j in slot (j + i) mod n, so the gold letter moves with its option. Per
subset, dataset and group we report

- `accuracy`: the original order only (the same number as a plain run),
- `acc_circular`: the mean accuracy over all rotations (OpenCompass `acc_circular`),
- `perf_circular`: the share of questions answered right under every rotation.

Rotations keep the few-shot preamble, so for ppl the packed scorer
(`arena.models.prefix`) encodes that shared prefix once and pays only for the new
question blocks; rotation 0 keeps the sample id, so its predictions are those of a plain
run (a plain run before a circular one is reused).

Prompt variants (`--variants N`, or `variants:` templates on a card): variant 0 is the run
as configured; variant k > 0 takes the card's k-th alternative template, else a few-shot
draw with seed + k (when the card draws shots at random), else the options rotated k
places. Each metric row gets `<metric>@mean|@std|@min|@max` over the variants (std with
ddof=1) and `stability`: the share of questions whose predicted option (mapped back to the
original order) never changes across variants.
"""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from arena.core.cache import Cache
from arena.core.records import DatasetResult, Prediction, Sample, content_hash, write_jsonl
from arena.core.store import Store
from objective.datasets import Dataset
from objective.metrics import mean
from objective.templates import LETTERS

log = logging.getLogger("arena.eval")
ROTATION_SEP = "@r"  # id of rotation i > 0: "<id>@r<i>"
CIRCULAR_METRICS = ("acc_circular", "perf_circular")
STATS = ("mean", "std", "min", "max")


def is_robustness_metric(metric: str) -> bool:
    """Rows that belong to the robustness table rather than the main one."""
    if metric in CIRCULAR_METRICS or metric in ("stability", "variants"):
        return True
    return "@" in metric and metric.rsplit("@", 1)[1] in STATS  # not pass@1


@dataclass
class RobustOptions:
    """What `--circular` / `--variants N` (or a card's `circular`/`variants`) ask for."""

    circular: bool = False
    variants: int = 0

    def active(self, ds: Dataset) -> bool:
        return self.circular_for(ds) or self.variants_for(ds) > 1

    def circular_for(self, ds: Dataset) -> bool:
        return (self.circular or bool(getattr(ds.card, "circular", False))) and is_multiple_choice(
            ds
        )

    def variants_for(self, ds: Dataset) -> int:
        templates = getattr(ds.card, "variants", None) or []
        return max(self.variants, len(templates) + 1 if templates else 0)


def is_multiple_choice(ds: Dataset) -> bool:
    return bool(ds.samples) and all(s.choices and isinstance(s.answer, int) for s in ds.samples)


# ------------------------------------------------------------------------------ rotations
def circular_patterns(n: int) -> list[str]:
    """OpenCompass's `get_circular_patterns` for n options: 'ABCD', 'BCDA', 'CDAB', 'DABC'."""
    keys = LETTERS[:n]
    return [(keys + keys)[i : i + n] for i in range(n)]


def rotate(sample: Sample, i: int) -> Sample:
    """Rotation i: original option j shown in slot (j + i) mod n; the gold moves with it."""
    assert sample.choices is not None and isinstance(sample.answer, int)
    n = len(sample.choices)
    i %= n
    shown = [""] * n
    for j, text in enumerate(sample.choices):
        shown[(j + i) % n] = text
    qid = sample.extra.get("qid", sample.id)
    # "circ": the place in this question's circular set; "rotation": the offset from the data's order
    total = (int(sample.extra.get("rotation", 0)) + i) % n
    extra = {
        **sample.extra,
        "qid": qid,
        "circ": i,
        "rotation": total,
        "circular_pattern": circular_patterns(n)[i],
    }
    return sample.model_copy(
        update={
            "id": qid if i == 0 else f"{qid}{ROTATION_SEP}{i}",
            "choices": shown,
            "answer": (sample.answer + i) % n,
            "extra": extra,
        }
    )


def circular_samples(samples: Sequence[Sample]) -> list[Sample]:
    """Every question's rotations, adjacent (rotation 0 first)."""
    return [rotate(s, i) for s in samples for i in range(len(s.choices or ()))]


def original_choice(pred: Prediction, sample: Sample) -> Any:
    """The prediction as an option of the original order (index), or its text (non-MC gen)."""
    n = len(sample.choices or ())
    idx = pred.pred
    if isinstance(idx, str) and n and len(idx.strip()) == 1 and idx.strip().upper() in LETTERS[:n]:
        idx = LETTERS.index(idx.strip().upper())
    if isinstance(idx, int) and n:
        return (idx - int(sample.extra.get("rotation", 0))) % n
    return (idx or "").strip() if isinstance(idx, str) else idx


# ------------------------------------------------------------------------------ metrics
def _circular_values(per_question: dict[str, list[float]]) -> dict[str, float]:
    """accuracy (rotation 0), acc_circular (all rotations) and perf_circular (all right)."""
    qs = list(per_question.values())
    return {
        "accuracy": mean([q[0] for q in qs]),
        "acc_circular": mean([c for q in qs for c in q]),
        "perf_circular": mean([float(all(c >= 1.0 for c in q)) for q in qs]),
    }


def circular_results(
    model: str, ds: Dataset, preds: Sequence[Prediction], samples: Sequence[Sample], chash: str
) -> list[DatasetResult]:
    """Dataset, subset and group rows of the three circular metrics."""
    from objective.summarizer import group_results

    by_id = {s.id: s for s in samples}
    corr: dict[str, list[float]] = defaultdict(list)
    subset_of: dict[str, str | None] = {}
    for p in sorted(preds, key=lambda p: int(by_id[p.sample_id].extra.get("circ", 0))):
        s = by_id[p.sample_id]
        corr[s.extra["qid"]].append(p.correct or 0.0)
        subset_of[s.extra["qid"]] = s.subset
    base = {
        "model": model,
        "dataset": ds.name,
        "version": ds.version,
        "mode": ds.card.mode,
        "config_hash": chash,
    }
    rows = [
        DatasetResult(**base, metric=m, value=v, n=len(corr))
        for m, v in _circular_values(corr).items()
    ]
    subsets = sorted({s for s in subset_of.values() if s})
    for sub in subsets if len(subsets) > 1 else []:
        mine = {q: c for q, c in corr.items() if subset_of[q] == sub}
        rows += [
            DatasetResult(**base, subset=sub, metric=m, value=v, n=len(mine))
            for m, v in _circular_values(mine).items()
        ]
    if len(subsets) > 1 and ds.groups:
        for metric in ("accuracy", *CIRCULAR_METRICS):
            grouped = group_results([r for r in rows if r.metric == metric], {ds.name: ds.groups})
            if metric == "accuracy":
                rows += grouped
            else:  # the naive average of the subsets (OpenCompass summary groups)
                rows += [
                    r.model_copy(update={"metric": metric})
                    for r in grouped
                    if r.metric == "naive_average"
                ]
    return rows


# ------------------------------------------------------------------------------ one pass
@dataclass
class Pass:
    """One evaluated variant: its rows and its predictions with the samples they answer."""

    label: str
    rows: list[DatasetResult]
    preds: list[Prediction]
    samples: dict[str, Sample]


def _run_pass(
    model: Any,
    ds: Dataset,
    config: Any,
    circular: bool,
    label: str,
    *,
    work_dir: Path,
    store: Store,
    cache: Cache | None,
    progress: Callable[[int, int], None] | None,
    stats: Any,
    file_stem: str,
) -> Pass:
    from objective.runner import _bind, _results, config_hash, predict_samples

    ds = _bind(ds, model)
    originals = ds.limited(config.limit)
    samples = circular_samples(originals) if circular else originals
    shown = replace(
        ds, samples=samples
    )  # same name and version: rotation 0 shares a plain run's predictions
    cfg = config.model_copy(update={"limit": None})  # the limit was applied to the questions above
    preds = predict_samples(
        model,
        shown,
        [s.id for s in samples],
        store=store,
        config=cfg,
        cache=cache,
        progress=progress,
        stats=stats,
    )
    write_jsonl(work_dir / "predictions" / _safe(model.name) / f"{file_stem}.jsonl", preds)
    chash = config_hash(model, ds, config)
    rows = (
        circular_results(model.name, ds, preds, samples, chash)
        if circular
        else _results(model, ds, preds, samples, chash)
    )
    return Pass(label, rows, preds, {s.id: s for s in samples})


# ------------------------------------------------------------------------------ variants
@dataclass
class Variant:
    label: str
    dataset: Dataset
    config: Any


def make_variants(ds: Dataset, n: int, config: Any) -> list[Variant]:
    """Variant 0 as configured, then the card's templates, few-shot seeds or option rotations."""
    card = ds.card
    out = [Variant("as configured", ds, config)]
    templates = list(getattr(card, "variants", None) or [])
    shots = card.few_shot.k if config.shots is None else config.shots
    seed0 = card.few_shot.seed if config.seed is None else config.seed
    mc = is_multiple_choice(ds)
    for k in range(1, n):
        if k - 1 < len(templates):
            tpl = templates[k - 1]
            new_card = card.model_copy(update={"template": tpl})
            version = content_hash({"v": ds.version, "template": tpl.model_dump()})[:6]
            out.append(
                Variant(f"template {k}", replace(ds, card=new_card, version=version), config)
            )
        elif shots > 0 and card.few_shot.pick == "random" and len(ds.dev) > shots:
            out.append(
                Variant(
                    f"few-shot seed {seed0 + k}", ds, config.model_copy(update={"seed": seed0 + k})
                )
            )
        elif mc:
            rot = k % min(len(s.choices or ()) for s in ds.samples)
            if rot == 0:
                break
            samples = [rotate(s, rot) for s in ds.samples]
            samples = [
                s.model_copy(update={"id": s.extra["qid"], "extra": {**s.extra, "circ": 0}})
                for s in samples
            ]  # ids as in the data: a new order of the same questions
            out.append(
                Variant(
                    f"options {circular_patterns(len(ds.samples[0].choices or ()))[rot]}",
                    replace(ds, samples=samples, version=f"{ds.version}r{rot}"),
                    config,
                )
            )
        else:
            break
    if len(out) < n:  # e.g. a zero-shot generation set: no variant to make, say so and go on
        log.warning(
            "%s: only %d distinct prompt variant(s) of the %d asked (no alternative templates, no "
            "random few-shot draw, no options to reorder); add `variants:` templates to the card",
            ds.name,
            len(out),
            n,
        )
    return out


def variant_rows(passes: Sequence[Pass], base: DatasetResult) -> list[DatasetResult]:
    """`<metric>@mean/std/min/max` over the variants for every row, plus answer stability."""
    table: dict[tuple[str | None, str], list[DatasetResult]] = defaultdict(list)
    for p in passes:
        for r in p.rows:
            table[(r.subset, r.metric)].append(r)
    fields = {
        "model": base.model,
        "dataset": base.dataset,
        "version": base.version,
        "mode": base.mode,
        "config_hash": base.config_hash,
    }
    out = []
    for (subset, metric), rows in table.items():
        if (
            len(rows) != len(passes)
            or is_robustness_metric(metric)
            and metric not in CIRCULAR_METRICS
        ):
            continue
        vals = [r.value for r in rows]
        stats = {
            "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "min": min(vals),
            "max": max(vals),
        }
        out += [
            DatasetResult(**fields, subset=subset, metric=f"{metric}@{k}", value=v, n=rows[0].n)
            for k, v in stats.items()
        ]
    out.append(DatasetResult(**fields, metric="variants", value=float(len(passes)), n=len(passes)))
    out += stability_rows(passes, fields)
    return out


def stability_rows(passes: Sequence[Pass], fields: dict[str, Any]) -> list[DatasetResult]:
    """Share of questions (rotation 0 under circular) whose answer never changes, per subset too."""
    answers: dict[str, list[Any]] = defaultdict(list)
    subset_of: dict[str, str | None] = {}
    for p in passes:
        for pred in p.preds:
            s = p.samples[pred.sample_id]
            if int(s.extra.get("circ", 0)):
                continue  # circular passes: the question as shown in that variant's own order
            qid = s.extra.get("qid", s.id)
            answers[qid].append(original_choice(pred, s))
            subset_of[qid] = s.subset
    full = {q: a for q, a in answers.items() if len(a) == len(passes)}

    def share(qs: list[str]) -> float:
        return mean([float(len({repr(x) for x in full[q]}) == 1) for q in qs])

    out = [DatasetResult(**fields, metric="stability", value=share(list(full)), n=len(full))]
    subsets = sorted({s for s in subset_of.values() if s})
    for sub in subsets if len(subsets) > 1 else []:
        qs = [q for q in full if subset_of[q] == sub]
        out.append(
            DatasetResult(**fields, subset=sub, metric="stability", value=share(qs), n=len(qs))
        )
    return out


# ------------------------------------------------------------------------------ entry point
def evaluate_robust(
    model: Any,
    dataset: Dataset,
    options: RobustOptions,
    *,
    work_dir: str | Path,
    store: Store,
    config: Any,
    cache: Cache | None = None,
    progress: Callable[[int, int], None] | None = None,
    stats: Any = None,
    run: str | None = None,
) -> list[DatasetResult]:
    """Evaluate `dataset` with CircularEval and/or prompt variants; rows as `evaluate_dataset`'s.

    The rows are the usual ones (original order; with circular also `acc_circular` and
    `perf_circular`), then with variants the spread rows of `variant_rows`. All are stored
    (tagged with `run`), replacing stale rows of the same key.
    """
    work = Path(work_dir)
    circular = options.circular_for(dataset)
    n = options.variants_for(dataset)
    variants = (
        make_variants(dataset, n, config) if n > 1 else [Variant("as configured", dataset, config)]
    )
    passes = []
    for k, v in enumerate(variants):
        stem = dataset.name if k == 0 else f"{dataset.name}@v{k}"
        step = _scaled(progress, k, len(variants), len(dataset.limited(config.limit)))
        passes.append(
            _run_pass(
                model,
                v.dataset,
                v.config,
                circular,
                v.label,
                work_dir=work,
                store=store,
                cache=cache,
                progress=step,
                stats=stats,
                file_stem=stem,
            )
        )
    rows = list(passes[0].rows)
    if len(passes) > 1:
        rows += variant_rows(passes, rows[0])
    store.upsert_many(rows, run)
    return rows


def _scaled(
    progress: Callable[[int, int], None] | None, k: int, passes: int, questions: int
) -> Callable[[int, int], None] | None:
    """Progress of pass k of `passes` in question units (the caller's bar counts questions)."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(int(questions * (k + done / max(total, 1)) / passes), questions)

    return report


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
