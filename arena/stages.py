"""The stages of `arena run`, each resumable by content (see arena.pipeline)."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from arena.core.records import Answer, Battle, Question, Score, Vote
from arena.core.store import Store
from arena.experiment import Experiment, JudgeEntry
from arena.models.base import ChatParams, EvalModel
from arena.run_context import RunContext

log = logging.getLogger("arena.run")


@dataclass
class Preflight:
    """Everything a run needs, resolved before any directory is touched or call is made."""

    datasets: list[Any] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    judges: list[tuple[JudgeEntry, Any]] = field(default_factory=list)


def preflight(exp: Experiment) -> Preflight:
    """Resolve datasets, question sets and judges; unknown names list close matches.

    API models are constructed here too, so a missing key fails before any work starts.
    """
    from judges.judge import load_judge
    from judges.questions import load_questions
    from objective.datasets import load_dataset

    pf = Preflight()
    from objective.loaders import using_data_dir

    with using_data_dir(exp.data_dir):
        pf.datasets = [load_dataset(d) for d in exp.datasets]
    for qs in exp.questions:
        pf.questions.extend(load_questions(qs, limit=exp.question_limit))
    pf.judges = [(j, load_judge(j.config, j.set)) for j in exp.judges]
    from arena.models.factory import build_model

    specs = list(exp.models) + [exp.judge_spec(j) for j in exp.judges]
    for spec in specs:
        if spec.backend == "openai":
            build_model(spec)  # raises MissingKeyError now, not after an hour of inference
    return pf


def scaled_out(ctx: RunContext) -> bool:
    """Whether tasks go to worker processes or Ray (`runner.kind`; --debug stays sequential)."""
    return ctx.exp.runner.kind != "sequential" and not ctx.debug


def dispatch(ctx: RunContext, pf: Preflight, kind: str) -> None:
    """Let the run's runner fill the store with the `kind` units; the stage then merges."""
    if scaled_out(ctx):
        from arena.runners import dispatch as run_tasks

        run_tasks(ctx, pf, kind)


def answer_stage(ctx: RunContext, pf: Preflight) -> None:
    """Every answer model answers every question (turn 2 sees its own turn 1)."""
    from judges.answers import generate_answers

    exp = ctx.exp
    if not pf.questions:
        return
    params = ChatParams(temperature=exp.answer.temperature, max_tokens=exp.answer.max_tokens)
    with ctx.stage("answer", "infer") as stat:
        models = [ctx.model(s) for s in exp.answerers()]
        before = ctx.store.count(Answer)
        dispatch(ctx, pf, "answer")  # with a runner, workers store the answers first
        with progress_bars(ctx) as bar:
            tasks: dict[str, Any] = {}

            def advance(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(f"answers: {name}", total=total)
                bar.update(tasks[name], completed=done)

            answers = generate_answers(models, pf.questions, ctx.store, params, run=ctx.run_id,
                                       progress=advance)
        stat.units += len(answers)
        stat.skipped += before
        stat.tokens += sum(a.prompt_tokens + a.completion_tokens for a in answers)
        ctx.console.print(f"answers: {len(answers)} ({before} stored before)")


def judge_stage(ctx: RunContext, pf: Preflight) -> None:
    """Each judge scores or compares the answers; verdicts become Battle / Score rows."""
    from judges.pairwise import add_length_features, judgments_to_battles
    from judges.run import run_judge
    from judges.single import judgments_to_scores

    exp = ctx.exp
    names = [m.label for m in exp.answerers()]
    if pf.judges and scaled_out(ctx):  # every judge's tasks in one wave of workers
        with ctx.stage("judge-workers", "judge"):
            dispatch(ctx, pf, "judge")
    by_mode: dict[str, list[Any]] = {}
    for entry, judge in pf.judges:
        with ctx.stage(f"judge-{entry.config}", "judge") as stat:
            model = ctx.model(exp.judge_spec(entry))
            with progress_bars(ctx) as bar:
                task = bar.add_task(f"judge: {entry.config} ({model.name})", total=None)
                report = run_judge(judge, model, pf.questions, None, ctx.store, names, mode=entry.mode,
                                   baseline=entry.baseline, run=ctx.run_id,
                                   progress=lambda done, total, t=task: bar.update(t, completed=done, total=total))
            stat.units += report.tasks
            stat.skipped += report.skipped
            stat.tokens += report.prompt_tokens + report.completion_tokens
            stat.cost += report.cost
            ctx.store.claim(report.judgments, ctx.run_id)
            # derived rows are overwritten: the same battle key from an older judge config is stale
            if judge.config.mode == "pairwise":
                battles = add_length_features(judgments_to_battles(report.judgments, judge),
                                              ctx.store.all(Answer))
                ctx.store.upsert_many(battles, ctx.run_id)
            else:
                ctx.store.upsert_many(judgments_to_scores(report.judgments, pf.questions), ctx.run_id)
            ctx.console.print(report.summary())
            (ctx.run_dir / "judgments" / f"{report.judge.replace('/', '_')}.jsonl").write_text(
                "".join(j.model_dump_json() + "\n" for j in report.judgments), encoding="utf-8")
            by_mode.setdefault(judge.config.mode, []).append((judge, report))
    if exp.panel is not None:
        panel_stage(ctx, by_mode, exp.panel.method)


def panel_stage(ctx: RunContext, by_mode: dict[str, list[Any]], method: str) -> None:
    """Combine the judges of each mode into one panel (`panel:` in the run config)."""
    from judges.panel import panel_battles, panel_scores

    for mode, runs in by_mode.items():
        if len(runs) < 2:
            ctx.console.print(f"panel: only one {mode} judge, nothing to combine")
            continue
        judgments = [j for _, rep in runs for j in rep.judgments]
        if mode == "pairwise":
            res = panel_battles(judgments, [j for j, _ in runs], name=f"panel-{method}", method=method)
            ctx.store.upsert_many(res.battles, ctx.run_id)
        else:
            res = panel_scores(judgments, name=f"panel-{method}", method=method)
            ctx.store.upsert_many(res.scores, ctx.run_id)
        ctx.console.print(f"panel ({method}, {len(runs)} {mode} judges): judges disagree on "
                          f"{len(res.disagreements)}/{res.items} items")


def human_stage(ctx: RunContext) -> int:
    """Copy human battles and scores from the UI's store into this run (by key: no dupes)."""
    if ctx.exp.human is None:
        return 0
    ui_store = Store(ctx.exp.human.store)
    try:
        rows: list[Any] = [b for b in ui_store.all(Battle) if b.source == "human"]
        rows += [s for s in ui_store.all(Score) if s.source.startswith("human")]
        rows += ui_store.all(Vote)  # who voted: the report's judge-vs-human agreement per rater
    finally:
        ui_store.close()
    return ctx.store.upsert_many(rows, ctx.run_id)


def report_stage(ctx: RunContext) -> tuple[str, dict[str, str]]:
    """Summary tables and report.html; returns the summary text and the paths."""
    from arena.report import build_report
    from arena.report.redact import redact

    exp = ctx.exp
    human = human_stage(ctx)
    if human:
        ctx.console.print(f"human verdicts: {human} new rows from {exp.human.store if exp.human else ''}")
    paths = build_report(ctx.store, ctx.run_id, ctx.run_dir, config=redact(exp.model_dump(mode="json")),
                         stage_stats=ctx.stats_dict(),
                         groups=[g.model_dump(exclude_none=True) for g in exp.summarizer.groups] or None,
                         baseline=exp.summarizer.baseline, n_bootstrap=exp.report.bootstrap)
    text = paths.txt.read_text(encoding="utf-8")
    return text, {"html": str(paths.html), "csv": str(paths.csv), "txt": str(paths.txt), "md": str(paths.md)}


def progress_bars(ctx: RunContext) -> Any:
    """Rich progress bars with counts and ETA (off with --debug, where logs stream instead)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=ctx.console, disable=ctx.debug)


def objective_stage(ctx: RunContext, pf: Preflight) -> None:
    """Every model on every dataset (ppl or gen); finished samples are skipped on resume."""
    import json
    from functools import partial

    from arena.core.records import Prediction
    from arena.runners.tasks import eval_config
    from objective.robustness import RobustOptions, evaluate_robust, is_robustness_metric
    from objective.runner import InferStats, evaluate_dataset

    exp = ctx.exp
    if not pf.datasets:
        return
    with ctx.stage("objective", "infer") as stat, progress_bars(ctx) as bar:
        before = ctx.store.count(Prediction)
        dispatch(ctx, pf, "infer")  # with a runner, workers store the predictions first
        for spec in exp.models:
            model = ctx.model(spec)
            cfg = eval_config(exp, spec)  # the same settings (and hash) as on every worker
            for ds in pf.datasets:
                n = len(ds.limited(cfg.limit))
                task = bar.add_task(f"{spec.label} / {ds.name}", total=n)
                results = stored_results(ctx.store, model, ds, cfg, n)
                robust = RobustOptions(circular=exp.eval.circular, variants=exp.eval.variants)
                if robust.active(ds) and not any(is_robustness_metric(r.metric) for r in results):
                    results = []  # a plain run of these settings is stored: add the rotations/variants
                if results:
                    bar.update(task, completed=n)
                else:
                    if ctx.runner is None:  # after workers, every prediction is stored: no load
                        with ctx.console.status(f"loading {spec.label}...") if not model.loaded else nullcontext():
                            model.load()
                    fed = InferStats()
                    run_one = partial(evaluate_robust, options=robust) if robust.active(ds) else evaluate_dataset
                    results = run_one(
                        model, ds, work_dir=ctx.run_dir, store=ctx.store, config=cfg, cache=ctx.cache,
                        progress=lambda done, total, t=task: bar.update(t, completed=done, total=total),
                        stats=fed, run=ctx.run_id)
                    stat.tokens += fed.tokens
                    if fed.truncated:
                        log.warning("%s / %s: %d of %d prompts cut to max_seq_len=%s", spec.label, ds.name,
                                    fed.truncated, fed.prompts, spec.max_seq_len)
                        bar.console.print(f"[yellow]warning:[/yellow] {spec.label} / {ds.name}: {fed.truncated} "
                                          f"of {fed.prompts} prompts were longer than max_seq_len and lost their "
                                          "left part (predictions show what the model saw)", highlight=False)
                bar.update(task, completed=n)  # also when workers did the work
                ctx.store.claim(results, ctx.run_id)  # evaluate_dataset stored them; a reuse claims them
                out = ctx.run_dir / "results" / spec.label / f"{ds.name}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps([r.model_dump(mode="json") for r in results], indent=1,
                                          ensure_ascii=False), encoding="utf-8")
                stat.units += n
        stat.skipped += before


def stored_results(store: Store, model: EvalModel, ds: Any, cfg: Any, n: int) -> list[Any]:
    """The results of a finished (model, dataset, settings) unit, or [] when it must run."""
    from arena.core.records import DatasetResult
    from objective.runner import config_hash

    chash = config_hash(model, ds, cfg)
    rows = store.all(DatasetResult, model=model.name, dataset=ds.name, config_hash=chash)
    # `limit` is not in the hash (a prefix of samples is shared), so check the sample count
    return rows if any(r.subset is None and r.n == n for r in rows) else []
