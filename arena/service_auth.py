"""Accounts of the rating UI: hashed passwords, roles, one-time invites, sessions in the store.

Passwords are hashed with scrypt and a random salt; invite and session tokens are random and
only their SHA-256 is stored, so a copy of the database opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from arena.core.store import Store, metadata

# the limits' counters, the errors and the store guard live in `arena.service_limits`
from arena.service_limits import (  # noqa: F401 - re-exported: the service's public names
    ANON_PREFIX,
    INVITE_PREFIX,
    Conflict,
    Forbidden,
    Limits,
    NotFound,
    ServiceError,
    TooMany,
    Unauthorized,
    Unavailable,
    _counts,
    _upsert_bump,
    limits_table,
    store_cause,
    store_guard,
)

ROLES = ("rater", "admin")

users_table = sa.Table(
    "ui_users",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(300), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
invites_table = sa.Table(
    "ui_invites",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("used_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
sessions_table = sa.Table(
    "ui_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


# --- passwords ---------------------------------------------------------------------------------
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    """Hash a password with scrypt and a random salt: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Check a password against `hash_password` output (constant-time compare)."""
    try:
        algo, n, r, p, salt, digest = (stored or "").split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(got, base64.b64decode(digest))
    except ValueError:
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    token: str
    user: User


class Accounts:
    """Users, invites and sessions; `ArenaService` inherits these methods."""

    store: Store
    anonymous: bool
    session_ttl: float
    limits: Limits

    # --- users and sessions --------------------------------------------------------------------
    def set_user(self, name: str, role: str, password_hash: str | None) -> None:
        """Create or update an account (from the users file at startup)."""
        if role not in ROLES:
            raise ServiceError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
        with self.store.engine.begin() as conn:
            conn.execute(users_table.delete().where(users_table.c.name == name))
            conn.execute(
                users_table.insert(),
                [
                    {
                        "name": name,
                        "role": role,
                        "password_hash": password_hash,
                        "created_at": time.time(),
                    }
                ],
            )

    def user(self, name: str | None) -> User | None:
        if not name:
            return None
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table.c.role).where(users_table.c.name == name)
            ).first()
        return User(name, row[0]) if row else None

    def _new_session(self, conn: sa.Connection, user: User) -> Session:
        token = secrets.token_urlsafe(32)
        now = time.time()
        row = {
            "token_hash": _token_hash(token),
            "user": user.name,
            "created_at": now,
            "expires_at": now + self.session_ttl,
        }
        conn.execute(sessions_table.insert(), [row])
        return Session(token, user)

    def login(self, name: str, password: str, addr: str = "") -> Session:
        """Open a session for an account; wrong name or password raise `Unauthorized`.

        Failed tries are counted per account and per client address; past the free tries
        each one waits twice as long as the one before (429 `TooMany` until then), so
        guessing passwords gets slow while one typo costs nothing.
        """
        lim, now = self.limits, time.time()
        keys = {f"login-user:{name[:200]}": lim.login_free_user}
        if addr:
            keys[f"login-addr:{addr}"] = lim.login_free_addr
        keys = {k: free for k, free in keys.items() if free > 0}
        with self.store.engine.connect() as conn:
            seen = _counts(conn, list(keys), now, lim.login_window) if keys else {}
            wait = max((until - now for _, until in seen.values()), default=0.0)
            if wait > 0:
                whom = (
                    "this account"
                    if any(k.startswith("login-user:") and u > now for k, (_, u) in seen.items())
                    else "your address"
                )
                secs = math.ceil(wait)
                raise TooMany(
                    f"too many failed sign-ins for {whom}: wait {secs} s before trying again",
                    retry_after=secs,
                )
            row = conn.execute(
                sa.select(users_table.c.role, users_table.c.password_hash).where(
                    users_table.c.name == name
                )
            ).first()
        if row is None or not verify_password(password, row[1]):
            with self.store.engine.begin() as conn:
                for key, free in keys.items():
                    n = seen.get(key, (0, 0.0))[0] + 1
                    extra = n - free
                    delay = (
                        0.0
                        if extra < 0
                        else min(lim.login_max_delay, lim.login_base_delay * 2**extra)
                    )
                    _upsert_bump(conn, key, now, lim.login_window, now + delay if delay else 0.0)
            raise Unauthorized("wrong user name or password")
        with self.store.engine.begin() as conn:
            conn.execute(limits_table.delete().where(limits_table.c.key == f"login-user:{name}"))
            return self._new_session(conn, User(name, row[0]))

    def create_invites(self, n: int, role: str = "rater") -> list[str]:
        """Make `n` one-time invite tokens (only their hashes are stored)."""
        tokens = [secrets.token_urlsafe(18) for _ in range(n)]
        rows = [
            {"token_hash": _token_hash(t), "role": role, "used_by": None, "created_at": time.time()}
            for t in tokens
        ]
        with self.store.engine.begin() as conn:
            conn.execute(invites_table.insert(), rows)
        return tokens

    def redeem_invite(self, token: str) -> Session:
        """Turn an unused invite into a new account and session (exactly once)."""
        name = "invite-" + uuid.uuid4().hex[:10]
        with self.store.engine.begin() as conn:
            res = conn.execute(
                invites_table.update()
                .where(
                    invites_table.c.token_hash == _token_hash(token),
                    invites_table.c.used_by.is_(None),
                )
                .values(used_by=name)
            )
            if res.rowcount != 1:
                raise Unauthorized("unknown or already used invite")
            role = conn.execute(
                sa.select(invites_table.c.role).where(
                    invites_table.c.token_hash == _token_hash(token)
                )
            ).scalar_one()
            conn.execute(
                users_table.insert(),
                [{"name": name, "role": role, "password_hash": None, "created_at": time.time()}],
            )
            return self._new_session(conn, User(name, role))

    def anonymous_session(self, addr: str = "", code: str | None = None) -> Session:
        """A session without an account (only with `anonymous`; the group code if one is set).

        At most `limits.anon_sessions` new anonymous sessions per client address per hour.
        """
        if not self.anonymous:
            raise Forbidden("anonymous rating is not enabled on this server")
        lim = self.limits
        if lim.anon_code and not hmac.compare_digest((code or "").encode(), lim.anon_code.encode()):
            raise Forbidden("anonymous rating on this server needs the invite link")
        user = User(ANON_PREFIX + uuid.uuid4().hex[:10], "rater")
        now = time.time()
        with self.store.engine.begin() as conn:
            if addr and lim.anon_sessions:
                key = f"anon-sessions:{addr}"
                n = _counts(conn, [key], now, 3600.0).get(key, (0, 0.0))[0]
                if n >= lim.anon_sessions:
                    raise TooMany(
                        "too many anonymous sessions from your address: sign in or come back "
                        "in an hour",
                        retry_after=3600,
                    )
                _upsert_bump(conn, key, now, 3600.0)
            conn.execute(
                users_table.insert(),
                [
                    {
                        "name": user.name,
                        "role": user.role,
                        "password_hash": None,
                        "created_at": now,
                    }
                ],
            )
            return self._new_session(conn, user)

    def check_anon_votes(
        self, conn: sa.Connection, rater: str, session: str, addr: str
    ) -> list[str]:
        """Raise `TooMany` when an anonymous rater is out of votes; else the keys to count.

        Called inside the vote's transaction before it writes; the caller bumps the keys
        after its writes (`bump_votes`), so the limit and the vote commit together.
        """
        if not rater.startswith(ANON_PREFIX):
            return []
        lim, now = self.limits, time.time()
        checks = []
        if lim.anon_votes and session:
            checks.append((f"anon-votes:{session}", lim.anon_votes, 365 * 86400.0, "this session"))
        if lim.anon_addr_votes and addr:
            checks.append((f"anon-addr-votes:{addr}", lim.anon_addr_votes, 86400.0, "your address"))
        for key, cap, window, whom in checks:
            if _counts(conn, [key], now, window).get(key, (0, 0.0))[0] >= cap:
                raise TooMany(f"{whom} has used its {cap} anonymous votes: sign in to rate more")
        return [f"{k}|{w}" for k, _, w, _ in checks]

    @staticmethod
    def bump_votes(conn: sa.Connection, keys: list[str]) -> None:
        now = time.time()
        for item in keys:
            key, window = item.rsplit("|", 1)
            _upsert_bump(conn, key, now, float(window))

    # Sessions looked up in the last `SESSION_CACHE_TTL` seconds are answered from memory:
    # every API call checks its session, and the lookup was a third of a vote's work. A
    # logout here drops the entry at once; another process sharing the store may still
    # honour a signed-out token for up to that many seconds.
    SESSION_CACHE_TTL = 5.0

    def cached_session_user(self, token: str | None) -> tuple[bool, User | None]:
        """(hit, user) from the in-memory session cache, without touching the store."""
        if not token:
            return True, None
        cache = self.__dict__.setdefault("_session_cache", {})
        hit = cache.get(token)
        now = time.monotonic()
        if hit is not None and now - hit[1] < self.SESSION_CACHE_TTL and time.time() < hit[2]:
            return True, hit[0]
        return False, None

    def session_user(self, token: str | None) -> User | None:
        """The user of a live session token, or None."""
        known, user = self.cached_session_user(token)
        if known:
            return user
        q = (
            sa.select(users_table.c.name, users_table.c.role, sessions_table.c.expires_at)
            .join(sessions_table, sessions_table.c.user == users_table.c.name)
            .where(
                sessions_table.c.token_hash == _token_hash(token),
                sessions_table.c.expires_at > time.time(),
            )
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        cache = self.__dict__.setdefault("_session_cache", {})
        if len(cache) > 50_000:  # bounded: a flood of tokens cannot grow it without end
            cache.clear()
        user = User(row[0], row[1])
        cache[token] = (user, time.monotonic(), float(row[2]))
        return user

    def logout(self, token: str) -> None:
        self.__dict__.setdefault("_session_cache", {}).pop(token, None)
        with self.store.engine.begin() as conn:
            conn.execute(
                sessions_table.delete().where(sessions_table.c.token_hash == _token_hash(token))
            )
