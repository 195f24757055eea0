"""Accounts of the rating UI: hashed passwords, roles, one-time invites, sessions in the store.

Passwords are hashed with scrypt and a random salt; invite and session tokens are random and
only their SHA-256 is stored, so a copy of the database opens no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from arena.core.errors import ArenaError
from arena.core.store import Store, metadata

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

# --- errors (the HTTP layer maps each to a status code) ----------------------------------------


class ServiceError(ArenaError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


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

    def login(self, name: str, password: str) -> Session:
        """Open a session for an account; wrong name or password raise `Unauthorized`."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(users_table.c.role, users_table.c.password_hash).where(
                    users_table.c.name == name
                )
            ).first()
        if row is None or not verify_password(password, row[1]):
            raise Unauthorized("wrong user name or password")
        with self.store.engine.begin() as conn:
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

    def anonymous_session(self) -> Session:
        if not self.anonymous:
            raise Forbidden("anonymous rating is not enabled on this server")
        user = User("anon-" + uuid.uuid4().hex[:10], "rater")
        with self.store.engine.begin() as conn:
            conn.execute(
                users_table.insert(),
                [
                    {
                        "name": user.name,
                        "role": user.role,
                        "password_hash": None,
                        "created_at": time.time(),
                    }
                ],
            )
            return self._new_session(conn, user)

    def session_user(self, token: str | None) -> User | None:
        """The user of a live session token, or None."""
        if not token:
            return None
        q = (
            sa.select(users_table.c.name, users_table.c.role)
            .join(sessions_table, sessions_table.c.user == users_table.c.name)
            .where(
                sessions_table.c.token_hash == _token_hash(token),
                sessions_table.c.expires_at > time.time(),
            )
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(q).first()
        return User(row[0], row[1]) if row else None

    def logout(self, token: str) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                sessions_table.delete().where(sessions_table.c.token_hash == _token_hash(token))
            )
