"""gen (generative) inference: batched greedy generation, text prompts or chat messages.

Local models generate from the exact rendered prompt text (the backend batches with left
padding, sorts by length, cuts prompts from the left to `max_seq_len - max_out_len` and
stops at stop strings). Chat-only models (APIs) get the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena.core.cache import Cache
from arena.models.base import ChatParams, GenerateRequest


def generate_texts(model: Any, prompts: Sequence[str], *, max_out_len: int, stop: Sequence[str] = (),
                   cache: Cache | None = None) -> list[str]:
    """Greedy continuations of text prompts, cached by (model, prompt, params)."""
    params = {"max_out_len": max_out_len, "stop": list(stop),
              "max_seq_len": getattr(model, "max_seq_len", None)}
    mid = str(getattr(model, "path", None) or model.name)
    keys = [Cache.make_key("gen", mid, p, params) for p in prompts]
    out: list[str | None] = [None] * len(prompts)
    if cache is not None:
        out = [cache.get(k) for k in keys]
    todo = [i for i, t in enumerate(out) if t is None]
    if todo:
        reqs = [GenerateRequest(prompts[i], max_out_len, tuple(stop), 0.0) for i in todo]
        for i, res in zip(todo, model.generate(reqs)):
            out[i] = res.text
            if cache is not None:
                cache.put(keys[i], "gen", mid, res.text)
    return out  # type: ignore[return-value]


def chat_texts(model: Any, conversations: Sequence[list[dict]], *, max_out_len: int,
               stop: Sequence[str] = ()) -> list[str]:
    """Greedy chat answers (the model's own cache applies)."""
    params = ChatParams(temperature=0.0, max_tokens=max_out_len, stop=tuple(stop))
    return [r.text for r in model.chat_many([list(c) for c in conversations], params)]
