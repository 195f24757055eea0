"""Consoles for the `arena` command (shared by arena.cli and the modules it mounts)."""

from __future__ import annotations

from rich.console import Console


def unwrapped_console(stderr: bool = False) -> Console:
    """A console that wraps at the terminal's width, and never when printing to a pipe or file
    (rich would cut every table to 80 columns there)."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=100_000)
