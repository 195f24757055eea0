"""Abuse limits and failures of the rating service: the errors the HTTP layer maps to status
codes, the counters behind sign-in throttling and anonymous vote limits (one row per key in
`ui_limits`), and the guard that turns a failing store into "voting is paused" (503).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import sqlalchemy as sa

from arena.core.errors import ArenaError
from arena.core.store import metadata

log = logging.getLogger("arena.ui")

# counters of the abuse limits: failed sign-ins per account and per address, anonymous
# sessions per address, anonymous votes per session and per address (one row per key)
limits_table = sa.Table(
    "ui_limits",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("until", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class Limits:
    """Abuse limits of the rating server (0 turns a limit off).

    Failed sign-ins: after `login_free_user` failures on one account (or `login_free_addr`
    from one address) within `login_window` seconds, each further try waits
    `login_base_delay * 2**k` seconds (capped at `login_max_delay`), refused with 429 meanwhile.
    Anonymous raters: `anon_sessions` new sessions per address per hour, `anon_votes`
    votes per session, `anon_addr_votes` votes per address per day; with `anon_code` set,
    "continue without an account" needs that code (an invite link shared with a group).
    """

    login_free_user: int = 5
    login_free_addr: int = 20
    login_base_delay: float = 1.0
    login_max_delay: float = 900.0
    login_window: float = 900.0
    anon_sessions: int = 10
    anon_votes: int = 50
    anon_addr_votes: int = 300
    anon_code: str | None = None


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


class TooMany(ServiceError):
    """A limit is reached; `retry_after` seconds until the next try may succeed (0: unknown)."""

    status = 429

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """The store cannot take writes (disk full, database down): voting is paused."""

    status = 503


ANON_PREFIX, INVITE_PREFIX = "anon-", "invite-"


def _upsert_bump(
    conn: sa.Connection, key: str, now: float, window: float, until: float = 0.0
) -> int:
    """Count one more event for `key` (a fresh window when the old one is over); the new count."""
    t = limits_table
    row = conn.execute(sa.select(t.c.count, t.c.window_start).where(t.c.key == key)).first()
    if row is None or now - row[1] > window:
        count, start = 1, now
    else:
        count, start = row[0] + 1, row[1]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {"key": key, "count": count, "window_start": start, "until": until}
    stmt = insert(t).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.key], set_=values))
    return count


def _counts(conn: sa.Connection, keys: list[str], now: float, window: float) -> dict[str, tuple]:
    """(count, until) of each key whose window is still open."""
    t = limits_table
    rows = conn.execute(
        sa.select(t.c.key, t.c.count, t.c.window_start, t.c.until).where(t.c.key.in_(keys))
    )
    return {k: (n, until) for k, n, start, until in rows if now - start <= window}


# --- when the store fails ------------------------------------------------------------------------
def store_cause(exc: BaseException) -> str:
    """One line naming why the store failed (the driver's message, no SQL, no traceback)."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:300]


def store_guard(what: str):
    """Turn a failing store (disk full, database down) into `Unavailable` (HTTP 503).

    The operator log gets one line with the cause when the store starts failing and one
    when it works again; the rater gets a message that says whether the action was saved:
    a write that raised was rolled back, so it was not.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def run(self, *args, **kwargs):
            try:
                out = fn(self, *args, **kwargs)
            except sa.exc.SQLAlchemyError as exc:
                svc = getattr(self, "service", self)  # the service, or a part that holds it
                svc.store_failed(exc)
                raise Unavailable(
                    f"voting is paused: the server cannot {what} right now "
                    f"(nothing was saved); please try again in a few minutes"
                ) from None
            getattr(self, "service", self).store_ok()
            return out

        return run

    return wrap
