"""Errors that tell the user where the problem is (file, line, field)."""

from __future__ import annotations


class ArenaError(Exception):
    """Base class of every error Arena raises on purpose."""


def _where(file: str | None, line: int | None, field: str | None) -> str:
    parts = []
    if file:
        parts.append(f"{file}:{line}" if line else str(file))
    if field:
        parts.append(f"field '{field}'")
    return ", ".join(parts)


class LocatedError(ArenaError):
    """An error in an input file that names the file, the line and the field."""

    def __init__(
        self, message: str, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.message, self.file, self.line, self.field = message, file, line, field
        where = _where(file, line, field)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(LocatedError):
    """A configuration file is invalid."""


class DataError(LocatedError):
    """A dataset, question set or answer file is invalid."""


class BackendError(ArenaError):
    """A model backend failed (after retries); never carries an API key."""


class MissingKeyError(ArenaError):
    """An API key that a model needs is not set."""


class UnknownNameError(ArenaError):
    """A name (model, dataset, judge...) is not registered; lists close matches."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name, known, n=5, cutoff=0.4)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        super().__init__(f"unknown {kind} '{name}'.{hint} (`arena list` shows all)")
        self.kind, self.name, self.close = kind, name, close
