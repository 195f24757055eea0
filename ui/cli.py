"""`arena ui`: serve the human rating UI and its HTTP API (and `arena ui hash-password`).

Gradio and the server are imported inside the command so that `arena --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from arena.core.errors import ConfigError, DataError

HELP = """Serve the human rating UI: anonymous battles, single ratings, leaderboards, admin.

Examples:
  arena ui --questions mt_bench --models A B C --answers outputs/run1 --users users.txt
  arena ui hash-password            # prints a hash for a line 'name role HASH' of the users file
"""


def _is_store(target: str) -> bool:
    return "://" in target or target.endswith((".sqlite", ".sqlite3", ".db"))


def _store_in(run_dir: Path) -> Path | None:
    found = sorted(p for ext in ("*.sqlite", "*.sqlite3", "*.db") for p in run_dir.glob(ext))
    return found[0] if found else None


def load_questions(spec: str, store) -> list:
    """A question set: a JSONL file, a bundled set (data/questions/NAME.jsonl) or one in the store."""
    from arena.core.records import Question, read_jsonl
    from arena.core.registry import data_dir

    path = Path(spec)
    if not path.is_file():
        path = data_dir() / "questions" / f"{spec}.jsonl"
    if path.is_file():
        qs = read_jsonl(path, Question)
        return [
            q if q.question_set else q.model_copy(update={"question_set": path.stem}) for q in qs
        ]
    qs = store.all(Question, question_set=spec)
    if not qs:
        raise ConfigError(f"no question set {spec!r}: not a file, not bundled, not in {store!r}")
    return qs


def load_answers(spec: str | None, store) -> list:
    """Answer records from a store (path or URL), a run directory, or JSONL.

    A JSONL line is an `Answer` record or the simple form {"model", "question_id", "answer"}
    (a string, or a list of strings for several turns).
    """
    from arena.core.records import Answer, iter_jsonl, validate_row
    from arena.core.store import Store

    if spec is None:
        return store.all(Answer)
    path = Path(spec)
    if path.is_dir():
        inner = _store_in(path)
        if inner is not None:
            return Store(inner).all(Answer)
        files = sorted(path.glob("answers/*.jsonl")) or sorted(path.glob("*.jsonl"))
    elif path.suffix == ".jsonl":
        files = [path]
    elif _is_store(spec):
        return Store(spec).all(Answer)
    else:
        raise ConfigError(f"--answers {spec!r} is not a store, a run directory or a JSONL file")
    out = []
    for f in files:
        for lineno, obj in iter_jsonl(f):
            if "answer" in obj and "turns" not in obj:
                text = obj.pop("answer")
                obj["turns"] = text if isinstance(text, list) else [text]
            out.append(validate_row(Answer, obj, str(f), lineno))
    if not out:
        raise DataError(f"no answers found in {spec}")
    return out


def _hash_password() -> None:
    from arena.service import hash_password

    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise typer.BadParameter("empty password")
    typer.echo(hash_password(password))


def register(app: typer.Typer) -> None:
    """Add the `ui` command to the `arena` app."""

    @app.command(
        "ui",
        help=HELP,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
    )
    def ui(
        ctx: typer.Context,
        questions: str = typer.Option(None, "--questions", help="Question set name or JSONL file."),
        models: list[str] = typer.Option(
            None, "--models", help="Models to compare: --models A B C"
        ),
        answers: str = typer.Option(
            None, "--answers", help="Run dir, store path/URL or answers JSONL."
        ),
        store: str = typer.Option(None, "--store", help="Where votes go (SQLite path or URL)."),
        users: Path = typer.Option(None, "--users", help="Users file: 'name role hash' lines."),
        invites: int = typer.Option(0, "--invites", help="Create and print N one-time invites."),
        anonymous: bool = typer.Option(False, "--anonymous", help="Allow rating without account."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
        port: int = typer.Option(7860, "--port", help="Port to bind."),
        seed: int = typer.Option(None, "--seed", help="Seed of the battle sampler."),
        anon_votes: int = typer.Option(50, "--anon-votes", help="Votes per anonymous session."),
        anon_addr_votes: int = typer.Option(
            300, "--anon-address-votes", help="Anonymous votes per client address per day."
        ),
        anon_sessions: int = typer.Option(
            10, "--anon-sessions", help="New anonymous sessions per client address per hour."
        ),
        anon_code: str = typer.Option(
            None,
            "--anon-code",
            help="Anonymous rating only through the link /login?code=CODE (invite gating).",
        ),
        live: Path = typer.Option(
            None, "--live", help="Models YAML for live battles on the rater's own prompt."
        ),
        threads: int = typer.Option(
            16, "--threads", help="Worker threads for Gradio events, sign-in and leaderboards."
        ),
    ) -> None:
        extra = list(ctx.args)
        if extra[:1] == ["hash-password"] and not questions:
            _hash_password()
            return
        if any(a.startswith("-") for a in extra):
            raise typer.BadParameter(f"unknown options {extra}")
        names = [m for arg in [*(models or []), *extra] for m in arg.split(",") if m]
        if not questions:
            raise typer.BadParameter("--questions is required", param_hint="--questions")
        from arena.service import Limits

        limits = Limits(
            anon_votes=anon_votes,
            anon_addr_votes=anon_addr_votes,
            anon_sessions=anon_sessions,
            anon_code=anon_code,
        )
        serve(
            questions,
            names,
            answers,
            store,
            users,
            invites,
            anonymous,
            host,
            port,
            seed,
            limits=limits,
            live=live,
            threads=threads,
        )


def load_live(path: Path):
    """Models and limits of live battles from a YAML file (see ui/README.md)."""
    from pydantic import BaseModel, ConfigDict, Field

    from arena.core.cache import Cache
    from arena.core.config import load_config
    from arena.core.registry import ModelSpec
    from arena.models.base import ChatParams
    from arena.models.factory import build_model
    from arena.service_live import LiveConfig

    class LiveFile(BaseModel):
        model_config = ConfigDict(extra="forbid")
        models: list[ModelSpec] = Field(min_length=2)
        max_prompt: int = Field(2000, ge=1, le=100_000)
        max_turns: int = Field(5, ge=1, le=50)
        per_hour: int = Field(30, ge=0)
        temperature: float = Field(0.7, ge=0.0, le=2.0)
        max_tokens: int = Field(512, ge=1, le=32_768)

    cfg = load_config(path, LiveFile)
    names = [m.label for m in cfg.models]
    if len(set(names)) != len(names):
        raise ConfigError(f"live models must have different names, got {names}", str(path))
    cache = Cache()
    models = {m.label: build_model(m, cache=cache) for m in cfg.models}
    params = ChatParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens)
    return models, LiveConfig(cfg.max_prompt, cfg.max_turns, cfg.per_hour, params)


def open_store(target: str):
    """The store at `target`, or a one-line ConfigError naming the path and the cause."""
    import sqlalchemy as sa

    from arena.core.store import Store

    try:
        return Store(target)
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        orig = getattr(exc, "orig", None) or exc
        cause = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
        raise ConfigError(f"--store {target}: cannot open the store: {cause}") from None


def serve(
    questions,
    models,
    answers,
    store,
    users,
    invites,
    anonymous,
    host,
    port,
    seed,
    limits=None,
    live=None,
    threads=16,
) -> None:
    """Load everything, check the binding rule, then run the server until interrupted."""
    from ui.auth import check_bind, load_users

    check_bind(host, bool(users) or invites > 0)
    store_target = store or (
        answers if answers and _is_store(answers) else "outputs/ui/arena.sqlite"
    )
    st = open_store(store_target)
    users_rows = load_users(users) if users else []
    live_models, live_config = load_live(live) if live else (None, None)
    qs = load_questions(questions, st)
    ans = load_answers(answers, st)
    qset = qs[0].question_set
    ans = [a for a in ans if a.question_set in ("", qset)]
    from arena.service import ArenaService

    svc = ArenaService(
        st,
        qs,
        ans,
        models or None,
        anonymous=anonymous,
        seed=seed,
        limits=limits,
        live_models=live_models,
        live_config=live_config,
    )
    if len(svc.models) < 2:
        raise ConfigError(f"need answers of at least two models, found {svc.models or 'none'}")
    for name, role, hashed in users_rows:
        svc.set_user(name, role, hashed)
    for token in svc.create_invites(invites) if invites else []:
        typer.echo(f"invite: http://{host}:{port}/login?invite={token}")
    import logging

    import uvicorn

    from ui.app import create_server

    # one line per event for the operator (the service logs store failures without traces)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s arena ui: %(message)s")

    app = create_server(svc, threads=threads)
    typer.echo(
        f"Arena rating UI on http://{host}:{port}/ ({len(svc.models)} models, {len(qs)} questions, store {st!r})"
    )
    # idle keep-alive connections stay open 75 s (uvicorn: 5 s), like nginx: a rater reading
    # an answer, or a client that signed in a while ago, should not race a closing socket
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=75)
