"""`arena run --dry-run`: the tasks, model calls and estimated cost of a run, without running it."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from arena.core.registry import ModelSpec
from arena.experiment import Experiment


@dataclass
class PlannedTask:
    stage: str
    model: str
    target: str
    units: int
    calls: int
    est_tokens: int
    est_cost: float


def _cost(spec: ModelSpec, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * spec.price_in + tokens_out * spec.price_out) / 1e6


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)  # a rough, tokenizer-free estimate (4 chars a token)


def plan_run(exp: Experiment, pf) -> list[PlannedTask]:
    """One row per (stage, model, dataset/question set/judge) with call and cost estimates."""
    from arena.runners.tasks import eval_config
    from objective.estimate import estimate_dataset, text_model

    tasks: list[PlannedTask] = []
    for spec in exp.models:
        if not pf.datasets:
            break
        # the prompts a run renders, counted with the model's tokenizer (no weights loaded)
        model, cfg = text_model(spec), eval_config(exp, spec)
        for ds in pf.datasets:
            row = estimate_dataset(model, ds, cfg)
            tin, tout = row["est_prompt_tokens"], row["est_out_tokens"]
            tasks.append(PlannedTask("infer", spec.label, ds.name, row["samples"], row["calls"], tin + tout,
                                     _cost(spec, tin, tout)))
    turns = sum(len(q.turns) for q in pf.questions)
    qin = sum(_tokens(" ".join(q.turns)) for q in pf.questions)
    for spec in exp.answerers():
        tout = turns * exp.answer.max_tokens
        tasks.append(PlannedTask("answer", spec.label, "+".join(exp.questions), len(pf.questions), turns,
                                 qin + tout, _cost(spec, qin, tout)))
    names = [m.label for m in exp.answerers()]
    for entry, judge in pf.judges:
        spec = exp.judge_spec(entry)
        jturns = sum(len([t for t in judge.config.turns if t <= len(q.turns)]) for q in pf.questions)
        if judge.config.mode == "single":
            calls = jturns * len(names)
        else:
            base = entry.baseline or judge.config.baseline
            pairs = len(names) - 1 if base else len(list(combinations(names, 2)))
            calls = jturns * pairs * (2 if judge.config.position == "both-orders" else 1)
        tin = calls * (600 + exp.answer.max_tokens)  # prompt template + answers shown
        tout = calls * judge.config.max_tokens // 2
        tasks.append(PlannedTask("judge", spec.label, entry.config, calls, calls, tin + tout,
                                 _cost(spec, tin, tout)))
    return tasks


@dataclass
class RunnerTask:
    stage: str
    model: str
    parts: str  # e.g. "gsm8k_mini_gen[1/3]" or "winograd_mini_ppl+mmlu_mini_gen"
    units: int
    est_tokens: int
    num_gpus: int


def plan_runner_tasks(exp: Experiment, pf) -> list[RunnerTask]:
    """The tasks the partitioner makes (what a local or Ray runner schedules), in order."""
    from arena.runners import plan_tasks

    return [RunnerTask(stage, t.model if not t.judge else f"{t.judge}@{t.model}",
                       "+".join(p.label() for p in t.parts), t.units, int(t.cost), t.num_gpus)
            for stage, ts in plan_tasks(exp, pf).items() for t in ts]
