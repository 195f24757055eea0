"""Live battles: the rater types a prompt, two anonymous models answer it as they stream.

A live battle is a row of `ui_live` (the conversation so far, both sides' answers), so any
UI process can carry it on. Before the vote the rater may regenerate the last answers or ask
a follow-up; the vote closes the battle and, in the same transaction, writes the conversation
as a `Question` and two `Answer` records (question set ``live``, question ids ``live-<id>``,
`params["live"] = True`), the `Vote` and the `Battle` (source ``human``). Only then are the
model names revealed. In the named mode the rater picks the two models and nothing is stored
beyond the row (there is nothing blind to vote on).

Models answer through their backends' `chat_stream` (HF weights or an OpenAI-compatible API,
so the backends' cache and rate limits apply); the two sides run in two threads.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from arena.core.records import Answer, Battle, Question, Vote
from arena.core.store import metadata
from arena.models.base import ChatParams, ChatResponse
from arena.service_auth import (
    Conflict,
    NotFound,
    ServiceError,
    TooMany,
    _counts,
    _upsert_bump,
    store_guard,
)

LIVE_SET = "live"
VERDICTS = {"A": "model_a", "B": "model_b", "tie": "tie", "bothbad": "tie (bothbad)"}

live_table = sa.Table(
    "ui_live",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("rater", sa.String(200), nullable=False, index=True),
    sa.Column("mode", sa.String(10), nullable=False),  # "anony" or "named"
    sa.Column("pair_key", sa.String(500), nullable=False, index=True),
    sa.Column("model_a", sa.String(200), nullable=False),
    sa.Column("model_b", sa.String(200), nullable=False),
    sa.Column("turns", sa.Text, nullable=False),  # JSON list of the rater's prompts
    sa.Column("answers", sa.Text, nullable=False),  # JSON [[A's answers], [B's answers]]
    sa.Column("meta", sa.Text, nullable=False),  # JSON per side: tokens, latency, regenerations
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("done_at", sa.Float, nullable=True),
    sa.Column("verdict", sa.String(40), nullable=True),
)


@dataclass(frozen=True)
class LiveState:
    """What the rater may see of a live battle (names only once it is voted, or named)."""

    id: str
    mode: str
    turns: list[str]
    answers: list[list[str]]
    done: bool
    models: list[str] | None = None
    verdict: str | None = None


@dataclass
class LiveConfig:
    """Limits and sampling of live battles.

    Args:
        max_prompt: longest prompt (characters) a rater may send.
        max_turns: most turns (the first prompt and follow-ups) in one battle.
        per_hour: live battles one rater may start per hour (0: no limit).
        params: sampling of the answers; each generation gets a fresh random seed, so a
            regenerated answer differs and a seeded call can still be cached.
        refresh: seconds between two screen updates while answers stream.
    """

    max_prompt: int = 2000
    max_turns: int = 5
    per_hour: int = 30
    params: ChatParams = field(default_factory=lambda: ChatParams(temperature=0.7, max_tokens=256))
    refresh: float = 0.05


def _stream_pieces(model: Any, messages: list[dict], params: ChatParams) -> Iterator[Any]:
    """Text pieces then a ChatResponse from any backend (sync or async stream, or no stream)."""
    stream = getattr(model, "chat_stream", None)
    if stream is None:  # a backend without streaming: one piece
        resp = asyncio.run(model.chat(messages, params))
        yield resp.text
        yield resp
        return
    if inspect.isasyncgenfunction(stream):
        q: queue.SimpleQueue = queue.SimpleQueue()

        async def pump() -> None:
            try:
                async for item in stream(messages, params):
                    q.put(("item", item))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the reading thread
                q.put(("error", exc))
            finally:
                close = getattr(model, "aclose", None)
                if close is not None:
                    await close()
                q.put(("end", None))

        threading.Thread(target=asyncio.run, args=(pump(),), daemon=True).start()
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    else:
        yield from stream(messages, params)


class LiveArena:
    """Live battles over `models` (name -> chat backend) for one `ArenaService`."""

    def __init__(self, service: Any, models: dict[str, Any], config: LiveConfig | None = None):
        if len(models) < 2:
            raise ServiceError("live battles need at least two models")
        self.service = service
        self.models = dict(models)
        self.config = config or LiveConfig()
        self._rng = random.Random()

    @property
    def names(self) -> list[str]:
        return sorted(self.models)

    # --- reading and writing the row --------------------------------------------------------
    def _row(self, conn: sa.Connection, rater: str, battle_id: str) -> dict:
        t = live_table
        row = conn.execute(sa.select(t).where(t.c.id == battle_id)).mappings().first()
        if row is None or row["rater"] != rater:
            raise NotFound(f"no live battle {battle_id!r} was started by you")
        out = dict(row)
        for k in ("turns", "answers", "meta"):
            out[k] = json.loads(out[k])
        return out

    @store_guard("read live battles")
    def _open_row(self, rater: str, battle_id: str) -> dict:
        with self.service.store.engine.connect() as conn:
            return self._row(conn, rater, battle_id)

    @store_guard("read live battles")
    def state(self, rater: str, battle_id: str) -> LiveState:
        with self.service.store.engine.connect() as conn:
            r = self._row(conn, rater, battle_id)
        show = r["done_at"] is not None or r["mode"] == "named"
        return LiveState(
            r["id"],
            r["mode"],
            r["turns"],
            r["answers"],
            r["done_at"] is not None,
            [r["model_a"], r["model_b"]] if show else None,
            r["verdict"],
        )

    @store_guard("save live battles")
    def _update(self, rater: str, battle_id: str, change: Callable[[dict], None]) -> None:
        """Apply `change` to the open battle's row in one transaction."""

        def job(conn: sa.Connection) -> None:
            r = self._row(conn, rater, battle_id)
            if r["done_at"] is not None:
                raise Conflict("this battle is closed: start a new one")
            change(r)
            conn.execute(
                live_table.update()
                .where(live_table.c.id == battle_id)
                .values(**{k: json.dumps(r[k]) for k in ("turns", "answers", "meta")})
            )

        self.service._writes.run(job)

    # --- starting and carrying on -------------------------------------------------------------
    def _check_prompt(self, prompt: str) -> str:
        prompt = (prompt or "").strip()
        if not prompt:
            raise ServiceError("write a prompt first")
        if len(prompt) > self.config.max_prompt:
            raise ServiceError(
                f"the prompt is {len(prompt)} characters long; the limit is {self.config.max_prompt}"
            )
        return prompt

    def _pick(self) -> list[str]:
        """Two models drawn like prepared battles: few battles and overlapping CIs first."""
        t = live_table
        with self.service.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.pair_key, sa.func.count())
                .where(t.c.mode == "anony")
                .group_by(t.c.pair_key)
            ).all()
        counts = dict(rows)
        names = self.names
        keys = [f"{a}|{b}" for i, a in enumerate(names) for b in names[i + 1 :]]
        weights = [self.service.pair_weight(k, counts.get(k, 0)) for k in keys]
        pair = self._rng.choices(keys, weights)[0].split("|")
        self._rng.shuffle(pair)  # which model is A is random
        return pair

    @store_guard("start live battles")
    def start(self, rater: str, prompt: str, named: list[str] | None = None) -> str:
        """Open a live battle on `prompt` (anonymous, or `named` = [model A, model B])."""
        prompt = self._check_prompt(prompt)
        if named is not None:
            if len(named) != 2 or named[0] == named[1] or not set(named) <= set(self.models):
                raise ServiceError(f"pick two different models of {', '.join(self.names)}")
            pair, mode = list(named), "named"
        else:
            pair, mode = self._pick(), "anony"
        bid = uuid.uuid4().hex
        row = {
            "id": bid,
            "rater": rater,
            "mode": mode,
            "pair_key": "|".join(sorted(pair)),
            "model_a": pair[0],
            "model_b": pair[1],
            "turns": json.dumps([prompt]),
            "answers": json.dumps([[], []]),
            "meta": json.dumps([{"regenerated": 0}, {"regenerated": 0}]),
            "created_at": time.time(),
        }
        cap, now = self.config.per_hour, time.time()

        def job(conn: sa.Connection) -> None:
            if cap:
                key = f"live-start:{rater}"
                if _counts(conn, [key], now, 3600.0).get(key, (0, 0.0))[0] >= cap:
                    raise TooMany(
                        f"you started {cap} live battles in the last hour: please wait",
                        retry_after=600,
                    )
            conn.execute(live_table.insert(), [row])
            if cap:
                _upsert_bump(conn, f"live-start:{rater}", now, 3600.0)

        self.service._writes.run(job)
        return bid

    def follow_up(self, rater: str, battle_id: str, prompt: str) -> None:
        """Add the rater's next turn (both sides must have answered the last one)."""
        prompt = self._check_prompt(prompt)

        def change(r: dict) -> None:
            if any(len(a) < len(r["turns"]) for a in r["answers"]):
                raise Conflict("wait for both answers before asking a follow-up")
            if len(r["turns"]) >= self.config.max_turns:
                raise ServiceError(f"a battle has at most {self.config.max_turns} turns: vote now")
            r["turns"].append(prompt)

        self._update(rater, battle_id, change)

    def regenerate(self, rater: str, battle_id: str) -> None:
        """Drop both sides' answers to the last turn, so that `stream` answers it again."""

        def change(r: dict) -> None:
            n = len(r["turns"])
            for side, answers in enumerate(r["answers"]):
                del answers[n - 1 :]
                r["meta"][side]["regenerated"] = r["meta"][side].get("regenerated", 0) + 1

        self._update(rater, battle_id, change)

    def stream(self, rater: str, battle_id: str) -> Iterator[list[str]]:
        """Answer the last turn on both sides; yields [text A, text B] as the pieces arrive.

        The finished answers are saved with the battle; a side that fails shows why and
        saves nothing (the rater can regenerate).
        """
        r = self._open_row(rater, battle_id)
        if r["done_at"] is not None:
            raise Conflict("this battle is closed: start a new one")
        n = len(r["turns"])
        if all(len(a) >= n for a in r["answers"]):
            yield [a[n - 1] for a in r["answers"]]
            return
        models = [r["model_a"], r["model_b"]]
        texts, finals, errors = ["", ""], [None, None], [None, None]
        events: queue.SimpleQueue = queue.SimpleQueue()

        def side(i: int) -> None:
            msgs: list[dict] = []
            for t, prompt in enumerate(r["turns"]):
                msgs.append({"role": "user", "content": prompt})
                if t < n - 1:
                    msgs.append({"role": "assistant", "content": r["answers"][i][t]})
            params = ChatParams(
                **{**self.config.params.to_dict(), "seed": self._rng.randrange(2**31)}
            )
            try:
                for item in _stream_pieces(self.models[models[i]], msgs, params):
                    events.put((i, item))
            except Exception as exc:  # noqa: BLE001 - shown to the rater, battle stays open
                events.put((i, exc))
            events.put((i, None))

        for i in (0, 1):
            threading.Thread(target=side, args=(i,), daemon=True, name=f"live-{i}").start()
        open_sides, last = 2, 0.0
        while open_sides:
            i, item = events.get()
            if item is None:
                open_sides -= 1
            elif isinstance(item, ChatResponse):
                finals[i] = item
                texts[i] = item.text  # the backend's final word (stop strings cut, etc.)
            elif isinstance(item, Exception):
                errors[i] = f"(this model failed: {str(item)[:300]}; press Regenerate)"
            else:
                texts[i] += item
            now = time.monotonic()
            if now - last >= self.config.refresh or not open_sides:
                last = now
                yield [errors[k] or texts[k] for k in (0, 1)]
        if any(errors):
            return

        def change(row: dict) -> None:
            for k in (0, 1):
                del row["answers"][k][n - 1 :]
                row["answers"][k].append(texts[k])
                f, meta = finals[k], row["meta"][k]
                for name, value in (
                    ("prompt_tokens", f.prompt_tokens if f else 0),
                    ("completion_tokens", f.completion_tokens if f else 0),
                    ("latency", f.latency if f else 0.0),
                ):  # one entry per turn: a regenerated turn replaces its entry
                    meta[name] = [*meta.get(name, [])[: n - 1], value]

        self._update(rater, battle_id, change)

    # --- the vote -----------------------------------------------------------------------------
    @store_guard("save votes")
    def vote(
        self,
        rater: str,
        battle_id: str,
        verdict: str,
        reason: str = "",
        session: str = "",
        addr: str = "",
    ) -> LiveState:
        """Close an anonymous live battle with a verdict; returns it with the model names."""
        if verdict not in VERDICTS:
            raise ServiceError(f"verdict must be one of {', '.join(VERDICTS)}")
        svc = self.service

        def job(conn: sa.Connection) -> dict:
            r = self._row(conn, rater, battle_id)
            if r["done_at"] is not None:
                raise Conflict(f"{battle_id!r} already has your verdict")
            if r["mode"] != "anony":
                raise ServiceError("named battles are not voted on: start an anonymous one")
            n = len(r["turns"])
            if any(len(a) < n or not a[n - 1] for a in r["answers"]):
                raise Conflict("wait for both answers before voting")
            counted = svc.check_anon_votes(conn, rater, session, addr)
            res = conn.execute(
                live_table.update()
                .where(live_table.c.id == battle_id, live_table.c.done_at.is_(None))
                .values(done_at=time.time(), verdict=verdict)
            )
            if res.rowcount != 1:
                raise Conflict(f"{battle_id!r} already has your verdict")
            svc.bump_votes(conn, counted)
            svc._insert(conn, *self._records(r, verdict, reason, rater, session))
            return r

        r = svc._writes.run(job, urgent=True)
        return LiveState(
            r["id"],
            r["mode"],
            r["turns"],
            r["answers"],
            True,
            [r["model_a"], r["model_b"]],
            verdict,
        )

    @staticmethod
    def _records(r: dict, verdict: str, reason: str, rater: str, session: str) -> list:
        qid, n = f"live-{r['id']}", len(r["turns"])
        models = [r["model_a"], r["model_b"]]
        out: list = [Question(question_set=LIVE_SET, id=qid, category="live", turns=r["turns"])]
        for k, m in enumerate(models):
            meta = r["meta"][k]
            out.append(
                Answer(
                    model=m,
                    question_set=LIVE_SET,
                    question_id=qid,
                    turns=r["answers"][k],
                    params={"live": True, "regenerated": meta.get("regenerated", 0)},
                    prompt_tokens=sum(meta.get("prompt_tokens", [])),
                    completion_tokens=sum(meta.get("completion_tokens", [])),
                    latency=sum(meta.get("latency", [])),
                )
            )
        winner = VERDICTS[verdict]
        common = {"question_id": qid, "model_a": models[0], "model_b": models[1], "turn": n}
        out.append(
            Vote(
                battle_id=r["id"],
                rater=rater,
                session=session,
                question_set=LIVE_SET,
                winner=winner,
                reason=reason[:2000],
                **common,
            )
        )
        lens = {"len_a": float(len(r["answers"][0][-1])), "len_b": float(len(r["answers"][1][-1]))}
        out.append(Battle(source="human", winner=winner, ref=r["id"], features=lens, **common))
        return out
