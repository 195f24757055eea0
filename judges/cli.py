"""`arena generate`, `arena judge`, `arena import`, `arena export` (heavy imports stay inside)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

FORMATS = "mt-bench | alpaca-eval | arena-hard | chatbot-arena"


def _store_opt() -> str:
    return os.environ.get("ARENA_STORE", "outputs/arena.sqlite")


def _print(msg: str) -> None:
    from rich.console import Console

    Console().print(msg, highlight=False)


def names_of(values: list[str] | None) -> list[str]:
    """List option values as names: `-m a -m b`, `-m a b` and `-m a,b` all give [a, b]."""
    return list(dict.fromkeys(n.strip() for v in values or [] for n in v.split(",") if n.strip()))


def _models(names: list[str], cache: object) -> list:
    from arena.core.registry import resolve_model
    from arena.models.factory import build_model

    return [build_model(resolve_model(n), cache=cache) for n in names]  # type: ignore[arg-type]


def generate(
    models: list[str] = typer.Option(..., "--models", "-m", help="Registered model names."),
    questions: str = typer.Option("mt_bench", "--questions", "-q", help="Question set name or JSONL path."),
    store: str = typer.Option(_store_opt(), "--store", help="SQLite path or database URL."),
    max_tokens: int = typer.Option(512, "--max-tokens"),
    temperature: float = typer.Option(0.0, "--temperature"),
    limit: int = typer.Option(0, "--limit", help="Only the first N questions."),
    run: str = typer.Option(None, "--run", help="Run label stored with new answers."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the model call cache."),
) -> None:
    """Answer a question set with models (multi-turn; resumable: stored answers are skipped)."""
    from arena.core.cache import Cache
    from arena.core.store import Store
    from arena.models.base import ChatParams
    from judges.answers import generate_answers
    from judges.questions import load_questions

    qs = load_questions(questions, limit or None)
    built = _models(names_of(models), None if no_cache else Cache())  # a missing key fails here, first
    st = Store(store)
    st.put_many(qs)
    answers = generate_answers(built, qs, st, ChatParams(temperature=temperature, max_tokens=max_tokens), run)
    for m in built:
        mine = [a for a in answers if a.model == m.name]
        toks = sum(a.completion_tokens for a in mine)
        _print(f"{m.name}: {len(mine)} answers, {toks} completion tokens, "
               f"{sum(a.latency for a in mine):.1f}s model time")
    _print(f"store: {st.url}")


def judge(
    judge_models: list[str] = typer.Option(None, "--judge", "-j", help="Judge model(s) (registry names); "
                                           "several make a panel; default: the config's."),
    models: list[str] = typer.Option(..., "--models", "-m", help="Models whose answers are judged."),
    questions: str = typer.Option("mt_bench", "--questions", "-q"),
    mode: str = typer.Option(None, "--mode", help="single | pairwise (picks the default judge config)."),
    baseline: str = typer.Option(None, "--baseline", help="Pairwise: every model against this one."),
    judge_config: str = typer.Option(None, "--judge-config", "-c", help="Judge config name or folder."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL."),
    panel: str = typer.Option(None, "--panel", help="majority | mean: combine several --judge into a panel "
                              "(default majority for pairwise, mean for single)."),
    concurrency: int = typer.Option(None, "--concurrency", help="API judge calls in flight (default: the model's)."),
    store: str = typer.Option(_store_opt(), "--store"),
    limit: int = typer.Option(0, "--limit"),
    run: str = typer.Option(None, "--run"),
    inconsistent: str = typer.Option(None, "--inconsistent", help="tie | half (both-orders disagreements)."),
    retry_failures: bool = typer.Option(False, "--retry-failures", help="Ask the judge again for stored parse failures."),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """Judge stored answers with a judge LLM (or a panel); writes Judgments, then Battles or Scores."""
    from arena.core.cache import Cache
    from arena.core.errors import ConfigError
    from arena.core.store import Store
    from judges.judge import load_judge
    from judges.questions import load_questions
    from judges.run import make_judge_model

    names, jnames = names_of(models), names_of(judge_models)
    if panel and panel not in ("majority", "mean"):
        raise ConfigError(f"--panel must be majority or mean, not '{panel}'")
    name = judge_config or ("mt-bench-pair" if mode == "pairwise" else "mt-bench-single")
    j = load_judge(name, [f"inconsistent={inconsistent}"] if inconsistent else None)
    cache = None if no_cache else Cache()
    built = [make_judge_model(n, judge_base_url, cache) for n in jnames or [j.config.judge_model]]
    for m in built:  # a missing key failed above, before any work
        if concurrency and getattr(m, "limiter", None) is not None:
            m.limiter.concurrency = concurrency
    qs = load_questions(questions, limit or None)
    st = Store(store)
    reports = [_judge_one(j, m, qs, st, names, mode, baseline, run, retry_failures) for m in built]
    if len(reports) > 1 or panel:
        _panel(j, reports, st, run, panel, qs)
    if any(r.backend_errors for r in reports):
        raise typer.Exit(1)


def _judge_one(j, model, qs, st, names, mode, baseline, run, retry_failures):  # type: ignore[no-untyped-def]
    from judges.pairwise import add_length_features, judgments_to_battles
    from judges.run import nothing_to_judge, run_judge
    from judges.single import judgments_to_scores

    rep = run_judge(j, model, qs, None, st, names, mode, baseline, run, retry_failures=retry_failures)
    if rep.tasks == 0:
        raise nothing_to_judge(rep, j, qs, names, baseline or j.config.baseline, st.url)
    if j.config.mode == "pairwise":
        battles = add_length_features(judgments_to_battles(rep.judgments, j), _answers_of(st, qs))
        n = st.upsert_many(battles, run)
        _print(f"battles: {n} (source judge:{rep.judge})")
    else:
        n = st.upsert_many(judgments_to_scores(rep.judgments, qs), run)
        _print(f"scores: {n} (source judge:{rep.judge})")
    _print(rep.summary())
    return rep


def _answers_of(st, qs):  # type: ignore[no-untyped-def]
    from arena.core.records import Answer

    sets = {q.question_set for q in qs}
    return [a for s in sets for a in st.all(Answer, question_set=s)]


def _panel(j, reports, st, run, method, qs) -> None:  # type: ignore[no-untyped-def]
    from judges.panel import panel_battles, panel_scores

    judgments = [x for r in reports for x in r.judgments]
    if j.config.mode == "pairwise":
        method = method or "majority"
        res = panel_battles(judgments, [j], name=f"panel-{method}", method=method)
        n = st.upsert_many(res.battles, run)
    else:
        method = method or "mean"
        res = panel_scores(judgments, name=f"panel-{method}", method=method)
        n = st.upsert_many(res.scores, run)
    _print(f"panel ({method} of {', '.join(r.judge for r in reports)}): {n} rows "
           f"(source judge:panel-{method}), judges disagree on {len(res.disagreements)}/{res.items} items")


def import_(
    fmt: str = typer.Argument(..., help=FORMATS),
    path: Path = typer.Argument(..., help="File or folder to import."),
    store: str = typer.Option(_store_opt(), "--store"),
    question_set: str = typer.Option(None, "--question-set", help="Name for imported questions."),
    baseline: str = typer.Option("gpt-4-0314", "--baseline", help="arena-hard: the baseline model."),
    weight: int = typer.Option(3, "--weight", min=1, help="arena-hard: weight of a strong verdict (A>>B)."),
) -> None:
    """Import questions, answers, judgments or battles from another tool's files.

    Judge outputs the tool could not parse (MT-Bench score -1 or winner "error", AlpacaEval null
    preferences, arena-hard games without a label) are kept as failed judgments and counted.
    """
    from arena.core.store import Store
    from judges.formats import import_format

    counts = import_format(fmt, path, Store(store), question_set=question_set, baseline=baseline, weight=weight)
    _print(", ".join(f"{k}: {v}" for k, v in counts.items()) or "nothing imported")


def export(
    fmt: str = typer.Argument(..., help=FORMATS),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    store: str = typer.Option(_store_opt(), "--store"),
    question_set: str = typer.Option(None, "--question-set"),
    models: list[str] = typer.Option(None, "--models", "-m"),
    judge_id: str = typer.Option(None, "--judge", help="Only judgments/battles of this judge id."),
) -> None:
    """Export questions, answers, judgments or battles in another tool's layout."""
    from arena.core.store import Store
    from judges.formats import export_format

    files = export_format(fmt, Store(store), out, question_set=question_set, models=names_of(models) or None,
                          judge=judge_id)
    for f in files:
        _print(str(f))


def register(app: typer.Typer) -> None:
    """Add the judges commands to the `arena` app."""
    app.command("generate")(generate)
    app.command("judge")(judge)
    app.command("import")(import_)
    app.command("export")(export)
