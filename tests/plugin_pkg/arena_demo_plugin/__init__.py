"""An Arena plugin: a backend (`lookup`), a dataset (`capitals_plugin`) and a metric (`contains`).

Arena finds these through the entry points in pyproject.toml; nothing in Arena names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LookupModel:
    """Answers from a table in the model spec's `options.answers` (first key found in the prompt)."""

    def __init__(self, name: str, answers: dict[str, str]) -> None:
        self.name, self.answers = name, answers

    def _answer(self, text: str) -> str:
        for key, value in self.answers.items():
            if key in text:
                return f"I believe it is {value}."
        return "I do not know."

    def chat_many(self, conversations: list[list[dict]], params: Any = None) -> list[Reply]:
        return [Reply(self._answer(conv[-1]["content"])) for conv in conversations]

    async def chat(self, messages: list[dict], params: Any = None) -> Reply:
        return self.chat_many([messages], params)[0]

    def generate(self, requests: list[Any]) -> list[Reply]:
        return [Reply(self._answer(r.prompt)) for r in requests]


def lookup_backend(spec: Any, cache: Any = None) -> LookupModel:
    """The factory Arena calls with a ModelSpec whose backend is `lookup`."""
    return LookupModel(spec.label, dict(spec.options.get("answers", {})))


def capitals_card() -> Path:
    """The dataset: a card next to its data."""
    return HERE / "capitals_plugin.yaml"


def contains(prediction: str, reference: str) -> float:
    """1 when the reference appears in the prediction (case-insensitive)."""
    return float(reference.strip().lower() in prediction.lower())
