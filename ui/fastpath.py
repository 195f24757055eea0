"""The raters' two hot calls, next battle and vote, as plain ASGI in front of the app.

Under a crowd of raters the event loop, not the store, limits how fast votes are
acknowledged, and FastAPI's routing, dependency solving and validation were most of its work
per call. These two calls are answered here with the same rules, bodies and status codes as
the rest of the API (`ui/api.py` documents them): a session from the cookie or the bearer
header (401), a body with only `winner` (A, B, tie, bothbad) and an optional `reason` (422),
the service's errors (403/404/409/429/503) as `{"detail": ...}`, the security headers.
Everything else goes to the FastAPI app unchanged.
"""

from __future__ import annotations

import re

import anyio
import orjson
import sqlalchemy as sa
from starlette.requests import cookie_parser

from arena.service import VERDICTS, ArenaService, ServiceError, TooMany, Unavailable
from ui.api import _issued  # the one place that shapes an issued battle
from ui.auth import SESSION_COOKIE, session_ref
from ui.security import HEADERS, csp_for

_VOTE = re.compile(r"^/api/battle/([^/]{1,64})/vote$")
_CSP = [(b"content-security-policy", csp_for(b""))]
_MAX_BODY = 8192
_PAUSED = "voting is paused: the server cannot reach its store right now (nothing was saved)"


class HTTPError(Exception):
    def __init__(self, status: int, detail: str, headers: list | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or []


def _token(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    cookie = headers.get(b"cookie")
    return cookie_parser(cookie.decode("latin-1")).get(SESSION_COOKIE) if cookie else None


def _vote_body(raw: bytes) -> tuple[str, str]:
    """`winner` and `reason` of a vote body, or a 422 naming what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPError(422, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPError(422, "the body must be a JSON object")
    extra = sorted(set(body) - {"winner", "reason"})
    if extra:
        raise HTTPError(422, f"unknown fields: {', '.join(map(str, extra))[:200]}")
    winner, reason = body.get("winner"), body.get("reason", "")
    if winner not in VERDICTS:
        raise HTTPError(422, f"winner must be one of {', '.join(VERDICTS)}")
    if not isinstance(reason, str) or len(reason) > 2000:
        raise HTTPError(422, "reason must be text of at most 2000 characters")
    return winner, reason


class FastPath:
    """ASGI app: POST /api/battle/next and POST /api/battle/{id}/vote; the rest to `app`."""

    def __init__(self, app, service: ArenaService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith("/api/b"):
            await self.app(scope, receive, send)
            return
        vote = _VOTE.match(path)
        if path != "/api/battle/next" and vote is None:
            await self.app(scope, receive, send)
            return
        try:
            payload = await self._answer(scope, receive, vote)
            status, extra = 200, []
        except HTTPError as exc:
            payload, status, extra = {"detail": exc.detail}, exc.status, exc.headers
            if exc.status == 503:
                payload["saved"] = False
        body = orjson.dumps(payload)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *HEADERS,
            *_CSP,
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _read(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > _MAX_BODY:
                raise HTTPError(413, "the body is too large")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _answer(self, scope, receive, vote) -> dict:
        svc = self.service
        raw = await self._read(receive)
        token = _token(dict(scope["headers"]))
        known, user = svc.cached_session_user(token)
        if not known:
            try:
                user = await anyio.to_thread.run_sync(svc.session_user, token)
            except sa.exc.SQLAlchemyError as exc:
                svc.store_failed(exc)
                raise HTTPError(503, _PAUSED) from None
        if user is None:
            raise HTTPError(401, "sign in first")
        try:
            if vote is None:
                return _issued(await svc.next_battle_async(user.name))
            winner, reason = _vote_body(raw)
            client = scope.get("client")
            rev = await svc.vote_async(
                user.name,
                vote.group(1),
                winner,
                reason,
                session=session_ref(token),
                addr=client[0] if client else "",
            )
        except TooMany as exc:
            retry = (
                [(b"retry-after", str(int(exc.retry_after)).encode())] if exc.retry_after else []
            )
            raise HTTPError(exc.status, str(exc), retry) from None
        except (ServiceError, Unavailable) as exc:
            raise HTTPError(exc.status, str(exc)) from None
        return {
            "battle_id": rev.id,
            "winner": rev.verdict,
            "models": {"A": rev.models[0], "B": rev.models[1]},
        }
