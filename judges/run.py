"""Run a judge over answers: concurrent for API judges, batched for local HF judges.

Each finished judgment is committed at once, so a killed run loses only the calls in
flight; a rerun skips every stored judgment (same key) and calls the judge for the rest.
An unparsable output is retried `parse_retries` times with a new seed (which also misses
the call cache), then stored with its `parse_error`: counted, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.core.errors import ArenaError, ConfigError
from arena.core.records import Answer, Judgment, Question
from arena.core.store import Store, gc_paused
from arena.models.base import BatchChatModel, ChatModel
from judges.answers import _run, is_batched
from judges.judge import Judge
from judges.pairwise import all_pairs, baseline_pairs, flip_rate, pairwise_tasks
from judges.parsers import ParseError
from judges.single import single_tasks
from judges.tasks import JudgeTask, find_missing, index_answers, judgment_ident

log = logging.getLogger(__name__)
HF_CHUNK = 32  # judge prompts per batched round (one commit each)


@dataclass
class JudgeReport:
    """What a judge run did: counts, parse failures, position bias, cost, what was missing."""

    judge: str
    mode: str
    tasks: int = 0
    skipped: int = 0  # already stored
    new: int = 0
    parse_failures: int = 0  # among all judgments of this run's tasks (stored ones included)
    parsed: int = 0
    retries: int = 0
    backend_errors: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (model, question id)
    flip: dict[str, Any] = field(default_factory=dict)
    cost: float = 0.0  # paid now, for this run's new calls
    cost_saved: float = 0.0  # not paid again: calls served by the cache + stored judgments reused
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judgments: list[Judgment] = field(default_factory=list, repr=False)

    @property
    def parse_success_rate(self) -> float:
        n = self.parsed + self.parse_failures
        return self.parsed / n if n else float("nan")

    def summary(self) -> str:
        lines = [f"judge {self.judge} ({self.mode}): {self.tasks} judgments "
                 f"({self.skipped} stored before, {self.new} new), parsed {self.parsed}, "
                 f"parse failures {self.parse_failures} (success {self.parse_success_rate:.1%}), "
                 f"retries {self.retries}, cost ${self.cost:.4f} (saved ${self.cost_saved:.4f}: "
                 f"{self.skipped} stored, {self.cached_calls} cached calls)"]
        if self.flip:
            f = self.flip
            lines.append(f"position flips: {f['flips']}/{f['pairs']} pairs (flip rate {f['flip_rate']:.1%}; "
                         f"{f.get('prefers_first', 0)} towards the answer shown first, "
                         f"{f.get('prefers_second', 0)} towards the second)")
        if self.missing:
            lines.append(f"missing answers ({len(self.missing)}): " +
                         ", ".join(f"{m}/{q}" for m, q in self.missing[:20]) +
                         (" ..." if len(self.missing) > 20 else ""))
        if self.backend_errors:
            lines.append(f"backend errors ({len(self.backend_errors)}, not stored; rerun to retry): "
                         + self.backend_errors[0])
        return "\n".join(lines)


def _finish(task: JudgeTask, judge: Judge, replies: list[Any], parsed: Any, error: str | None,
            earlier: int = 0) -> Judgment:
    """The Judgment of a task; `earlier` = attempts of the stored failure this one replaces."""
    last = replies[-1]
    cached = [r for r in replies if getattr(r, "cached", False)]
    extra = {"cached_calls": len(cached),
             "cached_cost": sum(float(r.extra.get("cached_cost", 0.0)) for r in cached)} if cached else {}
    return task.judgment(
        raw_output=last.text, verdict=parsed.label if parsed else None,
        score=parsed.score if parsed else None, parse_error=error, attempts=earlier + len(replies),
        extra=extra,
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        cost=sum(float(r.extra.get("cost", 0.0)) for r in replies),
        latency=sum(r.latency for r in replies),
    )


def _try_parse(judge: Judge, text: str) -> tuple[Any, str | None]:
    try:
        return judge.parse_output(text), None
    except ParseError as e:
        return None, str(e)


class _GroupWriter:
    """Commits finished judgments together: whatever finished while the last commit ran
    goes into the next one (one transaction), so saving keeps up with any call rate."""

    def __init__(self, save: Callable[[list[Judgment]], None]) -> None:
        self.save = save
        self.pending: list[tuple[Judgment, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, j: Judgment) -> None:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((j, fut))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())
        await fut

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                await asyncio.to_thread(self.save, [j for j, _ in batch])
            except Exception as e:  # noqa: BLE001 - handed to every waiter
                for _, fut in batch:
                    fut.set_exception(e)
            else:
                for _, fut in batch:
                    fut.set_result(None)


def concurrency_of(model: Any, default: int = 8) -> int:
    """How many calls an API judge may have in flight (its limiter's setting)."""
    limiter = getattr(model, "limiter", None)
    return max(1, int(getattr(limiter, "concurrency", None) or default))


async def _run_async(judge: Judge, model: ChatModel, tasks: list[JudgeTask], save: Any,
                     earlier: dict[str, int] | None = None) -> list[Any]:
    """Each task holds one of `concurrency` slots from its first call until its judgment is
    committed: a kill loses at most `concurrency` paid calls (the ones in flight)."""
    slots = asyncio.Semaphore(concurrency_of(model))
    writer = _GroupWriter(save)
    earlier = earlier or {}

    async def one(task: JudgeTask) -> Judgment:
        async with slots:
            replies, parsed, error = [], None, None
            start = earlier.get(task.key, 0)
            for attempt in range(start, start + judge.config.parse_retries + 1):
                replies.append(await model.chat(task.messages, judge.params(attempt)))
                parsed, error = _try_parse(judge, replies[-1].text)
                if error is None:
                    break
            j = _finish(task, judge, replies, parsed, error, start)
            await writer.submit(j)
            return j

    try:
        return list(await asyncio.gather(*(one(t) for t in tasks), return_exceptions=True))
    finally:
        if hasattr(model, "aclose"):
            await model.aclose()


def _run_batched(judge: Judge, model: BatchChatModel, tasks: list[JudgeTask], save: Any,
                 earlier: dict[str, int] | None = None) -> list[Any]:
    earlier = earlier or {}
    out: list[Any] = []
    by_start: dict[int, list[JudgeTask]] = {}
    for t in tasks:  # one chat_many per attempt number: retried failures start further on
        by_start.setdefault(earlier.get(t.key, 0), []).append(t)
    for first, group in sorted(by_start.items()):
        for start in range(0, len(group), HF_CHUNK):
            out.extend(_batched_chunk(judge, model, group[start : start + HF_CHUNK], save, first))
    return out


def _batched_chunk(judge: Judge, model: Any, chunk: list[JudgeTask], save: Any, first: int) -> list[Judgment]:
    replies: list[list[Any]] = [[] for _ in chunk]
    results: list[tuple[Any, str | None]] = [(None, "not judged")] * len(chunk)
    pending = list(range(len(chunk)))
    for attempt in range(first, first + judge.config.parse_retries + 1):
        if not pending:
            break
        got = model.chat_many([chunk[i].messages for i in pending], judge.params(attempt))
        for i, r in zip(pending, got):
            replies[i].append(r)
            results[i] = _try_parse(judge, r.text)
        pending = [i for i in pending if results[i][1] is not None]
    done = [_finish(t, judge, replies[i], *results[i], first) for i, t in enumerate(chunk)]
    save(done)
    return done


def _tasks(judge: Judge, judge_name: str, questions: Sequence[Question], answers: list[Answer],
           models: Sequence[str], baseline: str | None, pairs: Sequence[tuple[str, str]] | None,
           report: JudgeReport) -> list[JudgeTask]:
    index = index_answers(answers)
    if judge.config.mode == "single":
        report.missing = find_missing(index, questions, models)
        return single_tasks(judge, judge_name, questions, index, models)
    baseline = baseline or judge.config.baseline
    if pairs is None:
        pairs = baseline_pairs(models, baseline) if baseline else all_pairs(models)
    used = list(dict.fromkeys(m for p in pairs for m in p))
    report.missing = find_missing(index, questions, used)
    return pairwise_tasks(judge, judge_name, questions, index, pairs)


def _plan(judge: Judge, judge_name: str, questions: Sequence[Question], answers: Sequence[Answer] | None,
          store: Store, models: Sequence[str], baseline: str | None, pairs: Sequence[tuple[str, str]] | None,
          retry_failures: bool, report: JudgeReport
          ) -> tuple[list[JudgeTask], dict[str, Judgment], list[JudgeTask], set[str]]:
    """(every task, stored judgments by key, tasks to run, keys of failures to redo)."""
    if answers is None:
        sets = {q.question_set for q in questions}
        answers = store.all(Answer, question_set=sets, model={*models, baseline or judge.config.baseline})
    tasks = _tasks(judge, judge_name, questions, list(answers), models, baseline, pairs, report)
    if report.missing:  # one line, not one per answer: a wrong model name would print thousands
        per: dict[str, int] = {}
        for m, _ in report.missing:
            per[m] = per.get(m, 0) + 1
        log.warning("missing answers (not judged): %s; first: %s", ", ".join(f"{m} {n}" for m, n in per.items()),
                    ", ".join(f"{m}/{q}" for m, q in report.missing[:5]))
    stored = store.by_key(Judgment, judge=report.judge)
    known = {judgment_ident(j): k for k, j in stored.items()}
    for t in tasks:  # a stored judgment's key is not hashed again
        if (k := known.get(t.ident)) is not None:
            t.use_key(k)
    redo = {k for k, j in stored.items() if retry_failures and j.parse_error}
    todo = [t for t in tasks if t.key not in stored or t.key in redo]
    report.tasks, report.skipped = len(tasks), len(tasks) - len(todo)
    todo_keys = {t.key for t in todo}
    report.cost_saved = sum(stored[t.key].cost + _cached_cost(stored[t.key]) for t in tasks
                            if t.key in stored and t.key not in todo_keys)
    return tasks, stored, todo, redo


def run_judge(judge: Judge, judge_model: ChatModel, questions: Sequence[Question], answers: Sequence[Answer] | None,
              store: Store, models: Sequence[str], mode: str | None = None, baseline: str | None = None,
              run: str | None = None, pairs: Sequence[tuple[str, str]] | None = None,
              retry_failures: bool = False,
              progress: Callable[[int, int], None] | None = None) -> JudgeReport:
    """Judge the answers of `models` to `questions`; returns a JudgeReport.

    Args:
        judge: from `load_judge`. judge_model: a ChatModel (API: concurrent calls; HF: batches).
        questions: questions to judge. answers: their answers (None: read from `store`).
        store: where judgments are committed one by one. models: model names to judge.
        mode: must match the judge's mode when given. baseline: pairwise against this model.
        run: run label. pairs: explicit (model_a, model_b) pairs (m-to-n), overriding the rest.
        retry_failures: also re-judge stored parse failures (replacing them).
        progress: called as (judgments done, judgments in all) after each commit.
    """
    if mode and mode != judge.config.mode:
        raise ConfigError(f"judge '{judge.name}' is a {judge.config.mode} judge, not {mode}",
                          str(judge.folder / "judge.yaml"), field="mode")
    report = JudgeReport(judge.judge_id(judge_model.name), judge.config.mode)
    # planning builds and compares hundreds of thousands of objects (and calls no model): the
    # cyclic collector would walk them again and again
    with gc_paused():
        tasks, stored, todo, redo = _plan(judge, judge_model.name, questions, answers, store, models,
                                          baseline, pairs, retry_failures, report)
    # a retried failure asks the model again: attempt numbers (so seeds) continue after the
    # stored ones, so neither the judge's cache nor a deterministic server replays the failure
    earlier = {k: max(1, stored[k].attempts) for k in redo}
    log.info("%s: %d judgments, %d stored, %d to run", report.judge, len(tasks), report.skipped, len(todo))

    done = [report.skipped]

    def save(js: list[Judgment]) -> None:
        for j in js:
            if j.key() in redo:
                store.replace(j, run)
        store.put_many([j for j in js if j.key() not in redo], run)
        done[0] += len(js)
        if progress:
            progress(done[0], len(tasks))

    if progress:
        progress(done[0], len(tasks))

    if todo:
        if is_batched(judge_model):
            results = _run_batched(judge, judge_model, todo, save, earlier)
        else:
            results = _run(_run_async(judge, judge_model, todo, save, earlier))
        for r in results:
            if isinstance(r, ArenaError):
                report.backend_errors.append(str(r))
            elif isinstance(r, BaseException):
                raise r
            else:
                stored[r.key()] = r
                report.new += 1
                report.retries += r.attempts - 1
                report.cost += r.cost
                report.cost_saved += _cached_cost(r)
                report.cached_calls += int(r.extra.get("cached_calls", 0))
                report.prompt_tokens += r.prompt_tokens
                report.completion_tokens += r.completion_tokens
    with gc_paused():
        return _tally(report, [stored[t.key] for t in tasks if t.key in stored], judge)


def _cached_cost(j: Judgment) -> float:
    """What the call cache saved on this judgment (the price of the replies it served)."""
    return float((j.extra or {}).get("cached_cost", 0.0))


def _tally(report: JudgeReport, judgments: list[Judgment], judge: Judge) -> JudgeReport:
    report.judgments = judgments
    report.parse_failures = sum(1 for j in judgments if j.parse_error)
    report.parsed = len(judgments) - report.parse_failures
    if judge.config.mode == "pairwise":
        report.flip = flip_rate(judgments, judge.config.verdicts).get(report.judge, {})
    return report


def make_judge_model(name: str, base_url: str | None = None, cache: Any = None) -> Any:
    """A judge ChatModel from the model registry (or any OpenAI-compatible server by URL).

    `gpt-4` and friends use OPENAI_API_KEY and, when set, OPENAI_BASE_URL. A missing key
    raises MissingKeyError here, before any work starts.
    """
    from arena.core.errors import UnknownNameError
    from arena.core.registry import ModelSpec, resolve_model
    from arena.models.factory import build_model

    try:
        spec = resolve_model(name)
    except UnknownNameError:
        if not base_url:
            raise
        spec = ModelSpec(name=name, backend="openai", model=name)
    if spec.backend == "openai":
        env_url = os.environ.get("OPENAI_BASE_URL") if spec.api_key_env == "OPENAI_API_KEY" else None
        url = base_url or spec.base_url or env_url
        if url:
            spec = spec.model_copy(update={"base_url": url})
    elif base_url:
        raise ConfigError(f"--judge-base-url needs an API judge; '{name}' is a local {spec.backend} model")
    return build_model(spec, cache=cache)


def nothing_to_judge(report: JudgeReport, judge: Judge, questions: Sequence[Question], models: Sequence[str],
                     baseline: str | None, where: str) -> ConfigError:
    """Why a judge run found no work, as one error line (the CLI exits non-zero with it)."""
    sets = ", ".join(sorted({q.question_set for q in questions})) or "-"
    if not questions:
        why = "the question set has no questions"
    elif not models:
        why = "no --models given"
    elif judge.config.mode == "pairwise" and len(set(models) | ({baseline} if baseline else set())) < 2:
        why = f"pairwise judging needs two models or a --baseline; got {', '.join(models)}"
    else:
        lacking: dict[str, int] = {}
        for m, _ in report.missing:
            lacking[m] = lacking.get(m, 0) + 1
        gone = [f"{m} ({n}/{len(questions)} missing)" for m, n in lacking.items()]
        why = (f"no stored answers to judge for {', '.join(gone) or ', '.join(models)}"
               f"; answer first: arena generate --models {' '.join(models)} --questions ...")
    return ConfigError(f"nothing to judge in {where} (question set {sets}): {why}")
