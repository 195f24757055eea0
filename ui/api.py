"""The raters' HTTP API (FastAPI), mounted next to the Gradio app on the same server.

Every call but login needs a session (cookie or bearer token). A vote names only the battle id
and a verdict (A, B, tie, bothbad): bodies with any other field (e.g. a model name) are refused.
The response to a vote is sent after the vote is committed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    StreamingResponse,
)
from pydantic import BaseModel, ConfigDict, Field

from arena.service import (
    ArenaService,
    Forbidden,
    Issued,
    NotFound,
    ServiceError,
    Session,
    TooMany,
    Unauthorized,
    Unavailable,
    User,
)
from arena.service_views import LIVE_FILTERS, iter_export, leaderboard, sources
from ui.auth import (
    SESSION_COOKIE,
    client_addr,
    login_page,
    request_token,
    request_user,
)
from ui.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("arena.ui")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class InviteBody(_Body):
    token: str = Field(max_length=200)


class AnonymousBody(_Body):
    code: str = Field("", max_length=200)


class ScoreBody(_Body):
    item_id: str = Field(max_length=64)
    score: int = Field(ge=1, le=10)
    dimensions: dict[str, int] = Field(default_factory=dict)
    comment: str = Field("", max_length=2000)


def _session_response(request: Request, session: Session) -> JSONResponse:
    resp = JSONResponse(
        {"token": session.token, "user": session.user.name, "role": session.user.role}
    )
    resp.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=7 * 24 * 3600,
    )
    return resp


def _issued(item: Issued | None) -> dict:
    if item is None:
        return {"done": True}
    if item.kind == "pair":
        return {
            "battle_id": item.id,
            "question_id": item.question_id,
            "category": item.category,
            "turns": item.turns,
            "answers": {"A": item.answers[0], "B": item.answers[1]},
        }
    return {
        "item_id": item.id,
        "question_id": item.question_id,
        "category": item.category,
        "turns": item.turns,
        "answer": item.answers[0],
    }


PAUSED_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Arena: paused</title>"
    "</head><body><h1>Voting is paused</h1><p>The server cannot reach its store right now. "
    "Nothing you do now can be saved; votes you saw acknowledged are safe. Please try again "
    "in a few minutes.</p></body></html>"
)


def service_user(service: ArenaService, request: Request) -> User | None:
    """The session's user; a store that cannot be read answers 503 (not a traceback)."""
    try:
        return request_user(service, request)
    except sa.exc.SQLAlchemyError as exc:
        service.store_failed(exc)
        raise Unavailable(
            "voting is paused: the server cannot reach its store right now (nothing was saved)"
        ) from None


def make_router(service: ArenaService) -> APIRouter:
    """The /api routes plus the sign-in page, bound to one service."""
    r = APIRouter()

    def user(request: Request) -> User:
        u = service_user(service, request)
        if u is None:
            raise Unauthorized("sign in first")
        return u

    def admin(u: User = Depends(user)) -> User:
        if not u.is_admin:
            raise Forbidden("admins only")
        return u

    @r.post("/api/login")
    def login(body: LoginBody, request: Request) -> JSONResponse:
        session = service.login(body.username, body.password, addr=client_addr(request))
        return _session_response(request, session)

    @r.post("/api/invite")
    def invite(body: InviteBody, request: Request) -> JSONResponse:
        return _session_response(request, service.redeem_invite(body.token))

    @r.post("/api/anonymous")
    def anonymous(request: Request, body: AnonymousBody | None = None) -> JSONResponse:
        code = body.code if body else ""
        session = service.anonymous_session(addr=client_addr(request), code=code)
        return _session_response(request, session)

    @r.post("/api/logout")
    def logout(request: Request) -> JSONResponse:
        if token := request_token(request):
            service.logout(token)
        resp = JSONResponse({"ok": True})
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    @r.get("/api/me")
    def me(u: User = Depends(user)) -> dict:
        return {"user": u.name, "role": u.role}

    # POST /api/battle/next and /api/battle/{id}/vote are answered by `ui.fastpath.FastPath`
    # in front of this app (same rules and bodies, without FastAPI's per-call machinery)

    @r.post("/api/single/next")
    def single_next(u: User = Depends(user)) -> dict:
        return _issued(service.next_single(u.name))

    @r.post("/api/score")
    def score(body: ScoreBody, u: User = Depends(user)) -> dict:
        rev = service.score(u.name, body.item_id, body.score, body.dimensions, body.comment)
        return {"item_id": rev.id, "model": rev.models[0], "score": body.score}

    @r.get("/api/leaderboard")
    def get_leaderboard(
        source: str = "human", bootstrap: int = 100, live: str = "all", u: User = Depends(user)
    ) -> dict:
        if live not in LIVE_FILTERS:
            raise ServiceError(f"live must be one of {', '.join(LIVE_FILTERS)}")
        n = max(0, min(bootstrap, 1000))
        lb = leaderboard(service.store, source, n_bootstrap=n, live=live)
        rows = lb.table.astype(object).where(lb.table.notna(), None).to_dict("records")
        return {"source": source, "live": live, "sources": sources(service.store), "rows": rows}

    @r.get("/api/admin/export")
    def export(format: str = "csv", u: User = Depends(admin)) -> StreamingResponse:  # noqa: A002
        """Every vote, streamed from the store to an admin (never written to a shared folder)."""
        if format not in ("csv", "jsonl"):
            raise ServiceError("format must be csv or jsonl")
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        headers = {
            "Content-Disposition": f'attachment; filename="votes.{format}"',
            "Cache-Control": "no-store",
        }
        return StreamingResponse(
            iter_export(service.store, format), media_type=media, headers=headers
        )

    @r.get("/arena-static/{name}")
    def static(name: str) -> FileResponse:
        if name not in ("login.js", "keys.js"):
            raise NotFound("no such file")
        return FileResponse(STATIC / name, media_type="text/javascript")

    @r.get("/login", response_class=HTMLResponse)
    def login_html(invite: str = "") -> HTMLResponse:
        return HTMLResponse(login_page(service.anonymous, invite))

    @r.get("/logout")
    def logout_html(request: Request) -> RedirectResponse:
        if token := request_token(request):
            service.logout(token)
        resp = RedirectResponse("login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    @r.get("/healthz")
    def healthz() -> dict:
        return {"ok": True}

    return r


def install(app: FastAPI, service: ArenaService) -> None:
    """Add the router, the error mapping and the sign-in redirect of the main page."""

    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {}
        if isinstance(exc, TooMany) and exc.retry_after:
            headers["Retry-After"] = str(int(exc.retry_after))
        body: dict = {"detail": str(exc)}
        if isinstance(exc, Unavailable):
            body["saved"] = False
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(sa.exc.SQLAlchemyError)
    async def store_error(_request: Request, exc: sa.exc.SQLAlchemyError) -> JSONResponse:
        service.store_failed(exc)  # one log line with the cause, no traceback
        msg = "voting is paused: the server cannot reach its store right now (nothing was saved)"
        return JSONResponse({"detail": msg, "saved": False}, status_code=503)

    app.add_middleware(LoginRedirect, service=service)
    app.add_middleware(SecurityHeaders)
    app.include_router(make_router(service))


class LoginRedirect:
    """Send a visitor without a session from the main page to the sign-in form.

    Gradio would answer 401 there. A plain ASGI middleware: it costs nothing on other paths
    (Starlette's BaseHTTPMiddleware would add a task group to every API call).
    """

    def __init__(self, app, service: ArenaService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/":
            request = Request(scope)
            try:
                user = request_user(self.service, request)
            except sa.exc.SQLAlchemyError as exc:
                self.service.store_failed(exc)
                await HTMLResponse(PAUSED_PAGE, status_code=503)(scope, receive, send)
                return
            if user is None:
                await RedirectResponse("login", status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
