"""Split a run into tasks: naive (one per model x target) or by size (shards and packs).

The size partitioner estimates the token cost of every sample (or question), splits a
target whose cost exceeds `target_task_size` into contiguous shards of about that size,
and packs small targets of the same model together until a task reaches it, as
OpenCompass's SizePartitioner does. Token counts are rough (4 characters a token): they
only need to rank and balance tasks, not to bill anyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from arena.core.registry import ModelSpec
from arena.runners.tasks import Kind, Part, Task, spec_key

JUDGE_TEMPLATE_TOKENS = 600  # a judge prompt's own text, besides the answers it shows


def est_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def sample_costs(ds: Any, spec: ModelSpec, limit: int | None) -> list[tuple[str, float]]:
    """(sample id, estimated tokens) of the samples a run evaluates."""
    samples = ds.limited(limit)
    out = []
    for s in samples:
        prompt = est_tokens(s.question)
        if ds.card.mode == "ppl":  # one scored continuation per option
            out.append((s.id, float(prompt * max(1, len(s.choices or [])))))
        else:
            out.append((s.id, float(prompt + (ds.card.max_out_len or spec.max_out_len))))
    return out


def question_costs(questions: Sequence[Any], out_tokens: int, factor: int = 1) -> dict[str, list]:
    """Question set -> [(question id, estimated tokens)], `factor` calls per turn."""
    sets: dict[str, list] = {}
    for q in questions:
        cost = factor * sum(est_tokens(t) + out_tokens for t in q.turns)
        sets.setdefault(q.question_set, []).append((q.id, float(cost)))
    return sets


def _shards(target: str, items: list[tuple[str, float]], size: float) -> list[Part]:
    """Contiguous shards of about `size` tokens each (balanced: equal cost, not equal count)."""
    total = sum(c for _, c in items)
    k = max(1, min(len(items), math.ceil(total / size)))
    if k == 1:
        return [Part(target, tuple(i for i, _ in items), total)]
    parts: list[Part] = []
    start, acc = 0, 0.0
    for j, (_, c) in enumerate(items):
        acc += c
        cut = acc >= total * (len(parts) + 1) / k
        if (cut or j == len(items) - 1) and len(parts) < k:
            chunk = items[start: j + 1]
            parts.append(Part(target, tuple(i for i, _ in chunk), sum(c for _, c in chunk)))
            start = j + 1
    return [Part(p.target, p.ids, p.cost, f"{n + 1}/{len(parts)}") for n, p in enumerate(parts)]


def _group(kind: Kind, spec: ModelSpec, targets: list[tuple[str, list[tuple[str, float]]]],
           size: float | None, gpus: int, **extra: Any) -> list[Task]:
    """Tasks of one model: one per target (size None), else shards and packs."""
    def task(parts: list[Part]) -> Task:
        return Task(kind, spec.label, spec_key(spec), tuple(parts), gpus, **extra)

    targets = [(t, items) for t, items in targets if items]
    if size is None:
        return [task([Part(t, tuple(i for i, _ in items), sum(c for _, c in items))])
                for t, items in targets]
    tasks, pack, packed = [], [], 0.0
    for target, items in targets:
        cost = sum(c for _, c in items)
        if cost > size:
            tasks.extend(task([p]) for p in _shards(target, items, size))
            continue
        if pack and packed + cost > size:
            tasks.append(task(pack))
            pack, packed = [], 0.0
        pack.append(Part(target, tuple(i for i, _ in items), cost))
        packed += cost
    if pack:
        tasks.append(task(pack))
    return tasks


def partition(exp: Any, pf: Any, partitioner: str = "naive", target_task_size: float = 50_000,
              num_gpus: int | None = None) -> dict[str, list[Task]]:
    """The tasks of each stage (`infer`, `answer`, `judge`) of the run `exp`.

    Args:
        exp: the Experiment. pf: its Preflight (loaded datasets, questions, judges).
        partitioner: "naive" (one task per model x target) or "size".
        target_task_size: estimated tokens per task (size partitioner).
        num_gpus: GPUs per task of a local model (None: each model's own `num_gpus`).
    """
    if partitioner not in ("naive", "size"):
        raise ValueError(f"unknown partitioner {partitioner!r}; use naive or size")
    size = target_task_size if partitioner == "size" else None

    def gpus(spec: ModelSpec) -> int:
        return 0 if spec.backend != "hf" else (spec.num_gpus if num_gpus is None else num_gpus)

    out: dict[str, list[Task]] = {"infer": [], "answer": [], "judge": []}
    for spec in exp.models:
        targets = [(name, sample_costs(ds, spec, exp.eval.limit)) for name, ds in zip(exp.datasets, pf.datasets)]
        out["infer"] += _group("infer", spec, targets, size, gpus(spec))
    answer_costs = question_costs(pf.questions, exp.answer.max_tokens)
    for spec in exp.answerers():
        out["answer"] += _group("answer", spec, list(answer_costs.items()), size, gpus(spec))
    n_models = max(1, len(exp.answerers()))
    judge_costs = question_costs(pf.questions, JUDGE_TEMPLATE_TOKENS + exp.answer.max_tokens, n_models)
    for i, (entry, _judge) in enumerate(pf.judges):
        spec = exp.judge_spec(entry)
        out["judge"] += _group("judge", spec, list(judge_costs.items()), size, gpus(spec),
                               judge_index=i, judge=entry.config)
    return out
