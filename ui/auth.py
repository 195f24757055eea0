"""Who is rating: the users file, session tokens on requests, and the login page.

Users file: one account per line, ``name role hash`` separated by spaces, where role is
``rater`` or ``admin`` and hash is the output of ``arena ui hash-password`` (scrypt with a
random salt). Blank lines and lines starting with ``#`` are ignored. Example::

    # name   role   hash
    alice    admin  scrypt$16384$8$1$mYb0...$Zk3...
    bob      rater  scrypt$16384$8$1$9aQ1...$Hh0...

A session token travels in the ``arena_session`` cookie (HttpOnly, SameSite=Lax) set by the
login endpoints, or as ``Authorization: Bearer <token>`` for API clients.
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path
from typing import Any

from arena.core.errors import ConfigError
from arena.service import ROLES, ArenaService, User

SESSION_COOKIE = "arena_session"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def load_users(path: str | Path) -> list[tuple[str, str, str]]:
    """Parse a users file into (name, role, hash); a bad line raises ConfigError with its line."""
    out = []
    first: dict[str, int] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ConfigError("expected 'name role hash'", str(path), lineno)
        name, role, hashed = parts
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}", str(path), lineno, "role")
        if not hashed.startswith("scrypt$") or hashed.count("$") != 5:
            raise ConfigError(
                "hash is not from `arena ui hash-password`", str(path), lineno, "hash"
            )
        if name in first:
            raise ConfigError(
                f"user {name!r} is already defined on line {first[name]}", str(path), lineno, "name"
            )
        if name.startswith(("anon-", "invite-")):
            raise ConfigError(
                "names starting with 'anon-' or 'invite-' are reserved", str(path), lineno, "name"
            )
        first[name] = lineno
        out.append((name, role, hashed))
    return out


def request_token(request: Any) -> str | None:
    """The session token of a Starlette/FastAPI request (bearer header first, then cookie)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def session_ref(token: str | None) -> str:
    """A short, non-secret reference to a session for `Vote.session` (a hash, not the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12] if token else ""


def request_user(service: ArenaService, request: Any) -> User | None:
    return service.session_user(request_token(request))


def client_addr(request: Any) -> str:
    """The client's address as the server sees it (the proxy's, behind a reverse proxy)."""
    client = getattr(request, "client", None)
    return client.host if client else ""


def check_bind(host: str, auth_configured: bool) -> None:
    """Refuse to listen beyond loopback without accounts or invites (anonymous is not auth)."""
    if host not in LOOPBACK and not auth_configured:
        raise ConfigError(
            f"binding {host} exposes the rating UI: configure --users FILE or --invites N first"
        )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Arena: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;background:#f6f7f9;margin:0;color:#1f2937}}
main{{max-width:380px;margin:10vh auto;background:#fff;padding:28px 32px;border-radius:12px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}}
h1{{font-size:1.4rem;margin:0 0 4px}} p{{color:#4b5563;margin:0 0 18px}}
label{{display:block;font-size:.9rem;margin:12px 0 4px}}
input{{width:100%;box-sizing:border-box;padding:9px;border:1px solid #d1d5db;border-radius:8px;font-size:1rem}}
button{{margin-top:16px;width:100%;padding:10px;border:0;border-radius:8px;background:#ea580c;color:#fff;
font-size:1rem;cursor:pointer}} button.alt{{background:#374151}}
hr{{margin:22px 0;border:0;border-top:1px solid #e5e7eb}} #err{{color:#b91c1c;min-height:1.2em;margin-top:10px}}
</style></head><body><main>
<h1>Arena human rating</h1><p>Sign in to compare anonymous model answers.</p>
<form id="login"><label for="username">User name</label><input id="username" autocomplete="username">
<label for="password">Password</label><input id="password" type="password" autocomplete="current-password">
<button type="submit" id="signin">Sign in</button></form>
<hr><form id="invite"><label for="token">Invite token</label><input id="token" value="{invite}">
<button type="submit" class="alt" id="use-invite">Use invite</button></form>
{anonymous}
<div id="err" role="alert"></div></main>
<script src="arena-static/login.js"></script></body></html>"""


def login_page(anonymous: bool, invite: str = "") -> str:
    """The sign-in page (user/password, invite token, and anonymous when enabled)."""
    anon = (
        '<hr><button class="alt" id="anon">Continue without an account</button>'
        if anonymous
        else ""
    )
    return _PAGE.format(invite=html.escape(invite, quote=True), anonymous=anon)
