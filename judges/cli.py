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
    built = _models(models, None if no_cache else Cache())  # a missing key fails here, first
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
    judge_model: str = typer.Option(None, "--judge", "-j", help="Judge model (registry name); default: the config's."),
    models: list[str] = typer.Option(..., "--models", "-m", help="Models whose answers are judged."),
    questions: str = typer.Option("mt_bench", "--questions", "-q"),
    mode: str = typer.Option(None, "--mode", help="single | pairwise (picks the default judge config)."),
    baseline: str = typer.Option(None, "--baseline", help="Pairwise: every model against this one."),
    judge_config: str = typer.Option(None, "--judge-config", "-c", help="Judge config name or folder."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL."),
    store: str = typer.Option(_store_opt(), "--store"),
    limit: int = typer.Option(0, "--limit"),
    run: str = typer.Option(None, "--run"),
    inconsistent: str = typer.Option(None, "--inconsistent", help="tie | half (both-orders disagreements)."),
    retry_failures: bool = typer.Option(False, "--retry-failures", help="Re-judge stored parse failures."),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """Judge stored answers with a judge LLM; writes Judgments, then Battles or Scores."""
    from arena.core.cache import Cache
    from arena.core.store import Store
    from judges.judge import load_judge
    from judges.pairwise import judgments_to_battles
    from judges.questions import load_questions
    from judges.run import make_judge_model, run_judge
    from judges.single import judgments_to_scores

    name = judge_config or ("mt-bench-pair" if mode == "pairwise" else "mt-bench-single")
    j = load_judge(name, [f"inconsistent={inconsistent}"] if inconsistent else None)
    model = make_judge_model(judge_model or j.config.judge_model, judge_base_url,
                             None if no_cache else Cache())  # a missing key fails here, first
    qs = load_questions(questions, limit or None)
    st = Store(store)
    rep = run_judge(j, model, qs, None, st, models, mode, baseline, run, retry_failures=retry_failures)
    if j.config.mode == "pairwise":
        n = st.put_many(judgments_to_battles(rep.judgments, j), run)
        _print(f"battles: {n} new (source judge:{rep.judge})")
    else:
        n = st.put_many(judgments_to_scores(rep.judgments, qs), run)
        _print(f"scores: {n} new (source judge:{rep.judge})")
    _print(rep.summary())
    if rep.backend_errors:
        raise typer.Exit(1)


def import_(
    fmt: str = typer.Argument(..., help=FORMATS),
    path: Path = typer.Argument(..., help="File or folder to import."),
    store: str = typer.Option(_store_opt(), "--store"),
    question_set: str = typer.Option(None, "--question-set", help="Name for imported questions."),
    baseline: str = typer.Option("gpt-4-0314", "--baseline", help="arena-hard: the baseline model."),
) -> None:
    """Import questions, answers, judgments or battles from another tool's files."""
    from arena.core.store import Store
    from judges.formats import import_format

    counts = import_format(fmt, path, Store(store), question_set=question_set, baseline=baseline)
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

    files = export_format(fmt, Store(store), out, question_set=question_set, models=models or None,
                          judge=judge_id)
    for f in files:
        _print(str(f))


def register(app: typer.Typer) -> None:
    """Add the judges commands to the `arena` app."""
    app.command("generate")(generate)
    app.command("judge")(judge)
    app.command("import")(import_)
    app.command("export")(export)
