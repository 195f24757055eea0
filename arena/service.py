"""What the rating UI and its HTTP API share: raters, sessions, battles, votes, scores.

All state lives in the store (tables added by migration 2), never in process memory, so
several `arena ui` processes can share one PostgreSQL and a restart loses no open battle.
A battle id is issued to one rater; the vote for it is accepted once, in the same
transaction that writes the `Vote` and the `Battle` (source ``human``) records, and only
then acknowledged. Model names stay on the server until the vote.
Accounts and sessions live in `arena.service_auth`; read-only views (leaderboards, progress,
agreement, export) in `arena.service_views`.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from arena.core.records import Answer, Battle, Question, Record, Score, Vote
from arena.core.store import (
    MIGRATIONS,
    RECORD_TABLES,
    Migration,
    Store,
    metadata,
    register_migration,
)
from arena.service_auth import (
    ROLES,
    Accounts,
    Conflict,
    Forbidden,
    Limits,
    NotFound,
    ServiceError,
    Session,
    TooMany,
    Unauthorized,
    Unavailable,
    User,
    hash_password,
    invites_table,
    limits_table,
    sessions_table,
    store_cause,
    store_guard,
    users_table,
    verify_password,
)
from arena.service_commit import GroupCommit
from arena.service_live import LiveArena, LiveConfig, live_table

try:  # the store's full row of a record (indexed field columns), where the store has one
    from arena.core.store import record_row
except ImportError:  # pragma: no cover - older store: key, run, created_at, data only
    record_row = None

__all__ = [
    "ROLES",
    "VERDICTS",
    "ArenaService",
    "Conflict",
    "Forbidden",
    "Issued",
    "Limits",
    "NotFound",
    "Reveal",
    "ServiceError",
    "Session",
    "TooMany",
    "Unauthorized",
    "Unavailable",
    "User",
    "hash_password",
    "verify_password",
]

# --- tables (migration 2) -------------------------------------------------------------------
issued_table = sa.Table(
    "ui_issued",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("rater", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "pair" or "single"
    sa.Column("question_set", sa.String(200), nullable=False),
    sa.Column("question_id", sa.String(200), nullable=False),
    sa.Column("pair_key", sa.String(500), nullable=False),  # sorted "m1|m2" or the model
    sa.Column("model_a", sa.String(200), nullable=False),  # shown as A (or the rated model)
    sa.Column("model_b", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("done_at", sa.Float, nullable=True),
    sa.Column("verdict", sa.String(40), nullable=True),
    # the store, not memory, guarantees "never the same question and pair twice for a rater"
    sa.UniqueConstraint(
        "rater", "kind", "question_set", "question_id", "pair_key", name="uq_ui_once"
    ),
)
UI_TABLES = (issued_table, users_table, invites_table, sessions_table, limits_table, live_table)
log = logging.getLogger("arena.ui")


def _insert_new(conn: sa.Connection, row: dict) -> bool:
    """Insert an issued row unless its (rater, question, pair) slot is taken; True if inserted."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(issued_table).on_conflict_do_nothing().returning(issued_table.c.id)
    return bool(conn.execute(stmt, [row]).all())


def _create_ui_tables(conn: sa.Connection) -> None:
    for t in UI_TABLES:
        t.create(conn, checkfirst=True)


_MIGRATION = Migration(2, "ui: issued battles, users, invites, sessions", _create_ui_tables)
register_migration(_MIGRATION)
if not any(m is _MIGRATION for m in MIGRATIONS):  # a clash would silently drop our tables
    raise RuntimeError("store migration 2 is taken by another module; renumber one of them")


# --- what the service hands out ----------------------------------------------------------------
VERDICTS = {"A": "model_a", "B": "model_b", "tie": "tie", "bothbad": "tie (bothbad)"}


@dataclass(frozen=True)
class Issued:
    """An anonymous battle (two answers) or single-rating item (one answer): no model names."""

    id: str
    kind: str
    question_id: str
    category: str
    turns: list[str]
    answers: list[list[str]]  # [A, B] for a battle, [answer] for a single rating


@dataclass(frozen=True)
class Reveal:
    id: str
    models: list[str]
    verdict: str


class ArenaService(Accounts):
    """Battles, votes and scores for human raters over one question set and some models.

    Args:
        store: where questions' votes, scores and the UI's state are kept.
        questions: the question set shown to raters.
        answers: answers of the models (only models in `models` with an answer are used).
        models: the models to compare (default: every model with answers).
        anonymous: allow sessions without an account.
        seed: seed of the sampler (tests); None draws from the OS.
        dimensions: optional rubric dimensions of a single rating.
        session_ttl: seconds a session stays valid.
        ci_ttl, counts_ttl: how old (seconds) the CIs and vote counts used as sampling weights
            may be; the "never twice" rule does not depend on them (the store enforces it).
    """

    def __init__(
        self,
        store: Store,
        questions: list[Question],
        answers: list[Answer],
        models: list[str] | None = None,
        *,
        anonymous: bool = False,
        seed: int | None = None,
        dimensions: tuple[str, ...] = ("helpfulness", "correctness", "harmlessness"),
        session_ttl: float = 7 * 24 * 3600,
        ci_ttl: float = 30.0,
        counts_ttl: float = 1.0,
        limits: Limits | None = None,
        live_models: dict | None = None,
        live_config: LiveConfig | None = None,
    ) -> None:
        self.store = store
        store.migrate()  # the store may have been opened before this module registered its tables
        with store.engine.begin() as conn:  # tables added after migration 2 ran on this store
            _create_ui_tables(conn)
        self.limits = limits or Limits()
        self._store_down: str | None = None
        self.questions = {q.id: q for q in questions}
        self.question_set = questions[0].question_set if questions else ""
        wanted = set(models) if models else {a.model for a in answers}
        self.answers = {
            (a.model, a.question_id): a
            for a in answers
            if a.model in wanted and a.question_id in self.questions
        }
        self.models = sorted({m for m, _ in self.answers})  # prepared battles
        self.anonymous = anonymous
        self.dimensions = dimensions
        self.session_ttl = session_ttl
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._ci_ttl = ci_ttl
        self._counts_ttl = counts_ttl
        self._counts: dict[str, tuple[float, tuple[Counter, Counter]]] = {}
        self._ci: tuple[float, dict[str, tuple[float, float]]] = (-1e18, {})
        self._ci_lock = threading.Lock()
        self._writes = GroupCommit(store.engine)
        self.pairs = {
            f"{a}|{b}": [
                q for q in self.questions if (a, q) in self.answers and (b, q) in self.answers
            ]
            for a, b in itertools.combinations(self.models, 2)
        }
        self.singles = {
            m: [q for q in self.questions if (m, q) in self.answers] for m in self.models
        }
        self.live = LiveArena(self, live_models, live_config) if live_models else None

    # --- store health ----------------------------------------------------------------------------
    def store_failed(self, exc: BaseException) -> None:
        cause = store_cause(exc)
        if self._store_down != cause:
            log.error("store %r failed, voting paused: %s", self.store, cause)
        self._store_down = cause

    def store_ok(self) -> None:
        if self._store_down is not None:
            self._store_down = None
            log.warning("store %r works again, voting resumed", self.store)

    # --- issuing -------------------------------------------------------------------------------
    def _state(
        self, conn: sa.Connection, kind: str, rater: str
    ) -> tuple[list[dict], Counter, Counter]:
        """The rater's issued rows (always fresh), and issue counts per pair key and per
        (question, key): sampling weights only, so they may be `counts_ttl` seconds old."""
        t = issued_table
        base = (t.c.kind == kind) & (t.c.question_set == self.question_set)
        mine = conn.execute(sa.select(t).where(base & (t.c.rater == rater))).mappings().all()
        stamp, counts = self._counts.get(kind, (-1e18, None))
        if counts is None or time.monotonic() - stamp >= self._counts_ttl:
            rows = conn.execute(
                sa.select(t.c.question_id, t.c.pair_key, sa.func.count())
                .where(base)
                .group_by(t.c.question_id, t.c.pair_key)
            ).all()
            per_q = Counter({(q, k): n for q, k, n in rows})
            per_key: Counter = Counter()
            for (_, k), n in per_q.items():
                per_key[k] += n
            counts = (per_key, per_q)
            self._counts[kind] = (time.monotonic(), counts)
        return [dict(r) for r in mine], *counts

    def _pick(
        self, kind: str, seen: set, per_key: Counter, per_q: Counter
    ) -> tuple[str, str] | None:
        """Active sampling: few votes and overlapping CIs first; never a (question, pair) twice."""
        options = self.pairs if kind == "pair" else self.singles
        weights: dict[str, float] = {}
        for key, qids in options.items():
            if any((q, key) not in seen for q in qids):
                weights[key] = (
                    self.pair_weight(key, per_key[key])
                    if kind == "pair"
                    else 1 / (1 + per_key[key])
                )
        if not weights:
            return None
        with self._rng_lock:
            key = self._rng.choices(list(weights), list(weights.values()))[0]
            free = [q for q in options[key] if (q, key) not in seen]
            fewest = min(per_q[(q, key)] for q in free)
            return self._rng.choice([q for q in free if per_q[(q, key)] == fewest]), key

    def pair_weight(self, key: str, n_issued: int) -> float:
        """Sampling weight of a model pair: few battles and overlapping CIs first."""
        return (1.0 if self._cis_overlap(key) else 0.25) / (1.0 + n_issued)

    def _cis_overlap(self, key: str) -> bool:
        a, b = key.split("|")
        cis = self._human_cis()
        if a not in cis or b not in cis:
            return True
        return cis[a][0] <= cis[b][1] and cis[b][0] <= cis[a][1]

    def _human_cis(self) -> dict[str, tuple[float, float]]:
        """95% CIs of the human ratings (a cache): older than `ci_ttl` seconds, they are
        recomputed in a background thread while the old ones serve (issuing runs in the
        thread that commits votes, which must not wait for a bootstrap)."""
        stamp, cis = self._ci
        if time.monotonic() - stamp >= self._ci_ttl and self._ci_lock.acquire(blocking=False):
            threading.Thread(target=self._refresh_cis, name="arena-cis", daemon=True).start()
        return cis

    def _refresh_cis(self) -> None:
        try:
            from arena.service_views import human_cis

            self._ci = (time.monotonic(), human_cis(self.store))
        except Exception as exc:  # noqa: BLE001 - sampling weights only: keep the old ones
            log.warning("could not refresh the human CIs: %s", store_cause(exc))
            self._ci = (time.monotonic(), self._ci[1])
        finally:
            self._ci_lock.release()

    def _next(self, kind: str, rater: str) -> Issued | None:
        """The rater's oldest open item, else a newly issued one; None when nothing is left."""
        return self._writes.run(lambda conn: self._next_in(conn, kind, rater))

    def _next_in(self, conn: sa.Connection, kind: str, rater: str) -> Issued | None:
        """`_next` as a job of the commit thread: its reads and its insert in one batch."""
        mine, per_key, per_q = self._state(conn, kind, rater)
        open_rows = sorted((r for r in mine if r["done_at"] is None), key=lambda r: r["created_at"])
        if open_rows:
            return self._issued(open_rows[0])
        seen = {(r["question_id"], r["pair_key"]) for r in mine}
        for _ in range(5):  # another process may take the same slot at once: pick again
            picked = self._pick(kind, seen, per_key, per_q)
            if picked is None:
                return None
            qid, key = picked
            shown = key.split("|")
            with self._rng_lock:
                self._rng.shuffle(shown)  # which model is A is random
            row = {
                "id": uuid.uuid4().hex,
                "rater": rater,
                "kind": kind,
                "question_set": self.question_set,
                "question_id": qid,
                "pair_key": key,
                "model_a": shown[0],
                "model_b": shown[1] if len(shown) > 1 else None,
                "created_at": time.time(),
            }
            if _insert_new(conn, row):
                return self._issued(row)
            seen.add((qid, key))
        return None

    def _issued(self, r: dict) -> Issued:
        q = self.questions[r["question_id"]]
        models = [r["model_a"]] + ([r["model_b"]] if r["model_b"] else [])
        answers = [self.answers[(m, q.id)].turns for m in models]
        return Issued(r["id"], r["kind"], q.id, q.category, list(q.turns), answers)

    @store_guard("hand out battles")
    def next_battle(self, rater: str) -> Issued | None:
        """The rater's open battle, or a newly issued one; None when nothing is left."""
        return self._next("pair", rater)

    async def next_battle_async(self, rater: str) -> Issued | None:
        """`next_battle` for an event loop: runs in the commit thread, holds no worker thread."""
        job = functools.partial(self._next_in, kind="pair", rater=rater)
        return await self._run_async(job, "hand out battles")

    async def _run_async(self, job, what: str, urgent: bool = False):
        try:
            out = await asyncio.wrap_future(self._writes.submit(job, urgent))
        except sa.exc.SQLAlchemyError as exc:
            self.store_failed(exc)
            raise Unavailable(
                f"voting is paused: the server cannot {what} right now (nothing was saved); "
                "please try again in a few minutes"
            ) from None
        self.store_ok()
        return out

    @store_guard("hand out answers")
    def next_single(self, rater: str) -> Issued | None:
        """The rater's open single-rating item, or a new one; None when nothing is left."""
        return self._next("single", rater)

    # --- recording -----------------------------------------------------------------------------
    def _close(
        self, conn: sa.Connection, kind: str, rater: str, issued_id: str, verdict: str
    ) -> dict:
        """Mark an issued item done, once; the write comes first so SQLite takes its lock early."""
        t = issued_table
        res = conn.execute(
            t.update()
            .where(t.c.id == issued_id, t.c.rater == rater, t.c.kind == kind, t.c.done_at.is_(None))
            .values(done_at=time.time(), verdict=verdict)
        )
        row = conn.execute(sa.select(t).where(t.c.id == issued_id)).mappings().first()
        if res.rowcount != 1:
            if row is None or row["rater"] != rater or row["kind"] != kind:
                raise NotFound(f"no {kind} {issued_id!r} was issued to you")
            raise Conflict(f"{issued_id!r} already has your verdict")
        return dict(row)

    @staticmethod
    def _insert(conn: sa.Connection, *records: Record) -> None:
        now = time.time()
        for rec in records:
            row = (
                record_row(rec, None, now)
                if record_row is not None
                else {
                    "key": rec.key(),
                    "run": None,
                    "created_at": now,
                    "data": rec.model_dump_json(),
                }
            )
            conn.execute(RECORD_TABLES[rec.table].insert(), [row])

    def _vote_job(
        self, rater: str, battle_id: str, verdict: str, reason: str, session: str, addr: str
    ):
        """The transaction of a vote: close the battle, write the `Vote` and the `Battle`."""
        if verdict not in VERDICTS:
            raise ServiceError(f"verdict must be one of {', '.join(VERDICTS)}")

        def job(conn: sa.Connection) -> dict:
            counted = self.check_anon_votes(conn, rater, session, addr)
            r = self._close(conn, "pair", rater, battle_id, verdict)
            self.bump_votes(conn, counted)
            q = self.questions[r["question_id"]]
            turn = len(q.turns)  # the rater sees the whole conversation, as a last-turn judge does
            common = {
                "question_id": q.id,
                "turn": turn,
                "model_a": r["model_a"],
                "model_b": r["model_b"],
                "winner": VERDICTS[verdict],
            }
            vote = Vote(
                battle_id=battle_id,
                rater=rater,
                session=session,
                question_set=r["question_set"],
                reason=reason[:2000],
                **common,
            )
            self._insert(conn, vote, Battle(source="human", ref=battle_id, **common))
            return r

        return job

    @store_guard("save votes")
    def vote(
        self,
        rater: str,
        battle_id: str,
        verdict: str,
        reason: str = "",
        session: str = "",
        addr: str = "",
    ) -> Reveal:
        """Record a verdict (A, B, tie, bothbad) for a battle issued to `rater`, exactly once.

        Returns when the `Vote` and `Battle` rows are committed; then reveals the models.
        Anonymous raters are held to the vote limits of their session and address.
        """
        job = self._vote_job(rater, battle_id, verdict, reason, session, addr)
        r = self._writes.run(job, urgent=True)  # a rater waits for this acknowledgement
        return Reveal(battle_id, [r["model_a"], r["model_b"]], verdict)

    async def vote_async(
        self,
        rater: str,
        battle_id: str,
        verdict: str,
        reason: str = "",
        session: str = "",
        addr: str = "",
    ) -> Reveal:
        """`vote` for an event loop: waits for the group commit without holding a thread."""
        job = self._vote_job(rater, battle_id, verdict, reason, session, addr)
        r = await self._run_async(job, "save votes", urgent=True)
        return Reveal(battle_id, [r["model_a"], r["model_b"]], verdict)

    @store_guard("save ratings")
    def score(
        self,
        rater: str,
        item_id: str,
        overall: float,
        dimensions: dict[str, float] | None = None,
        comment: str = "",
    ) -> Reveal:
        """Record a 1-10 rating (plus optional rubric dimensions) of an item issued to `rater`."""
        dims = dict(dimensions or {})
        bad = [k for k in dims if k not in self.dimensions]
        values = [overall, *dims.values()]
        if bad or any(not (1 <= float(v) <= 10) for v in values):
            raise ServiceError(f"scores are 1-10 on: overall, {', '.join(self.dimensions)}")

        def job(conn: sa.Connection) -> dict:
            r = self._close(conn, "single", rater, item_id, str(overall))
            q = self.questions[r["question_id"]]
            self._insert(
                conn,
                Score(
                    source="human",
                    model=r["model_a"],
                    question_set=r["question_set"],
                    question_id=q.id,
                    category=q.category,
                    turn=len(q.turns),
                    score=float(overall),
                    dimensions={k: float(v) for k, v in dims.items()},
                    comment=comment[:2000],
                    ref=item_id,
                ),
            )
            return r

        r = self._writes.run(job, urgent=True)  # returns after the commit
        return Reveal(item_id, [r["model_a"]], str(overall))
