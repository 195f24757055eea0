"""Helpers for the objective tests (fixtures live in the test modules and conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def mc_groups(model: Any, n: int = 6, long_context: bool = False) -> list[tuple[list[int], list[list[int]]]]:
    """Questions sharing a few-shot prefix, options of different token lengths."""
    shots = "Question: What colour is the sky? Answer: blue.\n" * (12 if long_context else 3)
    opts = [" eight", " four legs", " 3", " the cat sat on the mat and looked at the moon"]
    groups = []
    for q in range(n):
        ctx = (shots if q % 3 else "") + f"Question {q}: how many legs does a spider have?" + " x" * q + " Answer:"
        groups.append((model.token_ids(ctx, "")[0], [model.token_ids(ctx, o)[1] for o in opts]))
    return groups


class NoCallModel:
    """Wraps a model; any inference call fails (proves a rerun resumes from the store)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        if name in ("generate", "loglikelihood", "nll_from_ids", "chat_many", "model"):
            raise AssertionError(f"unexpected model call: {name}")
        return getattr(self._inner, name)
