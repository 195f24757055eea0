"""gen (generative) inference: batched greedy generation, text prompts or chat messages.

Local models generate from the exact rendered prompt text (the backend batches with left
padding, sorts by length, cuts prompts from the left to `max_seq_len - max_out_len` and
stops at stop strings). Chat-only models (APIs) get the messages.
"""

from __future__ import annotations

from collections.abc import Sequence

from arena.core.cache import Cache
from arena.models.base import (
    BatchChatModel,
    ChatParams,
    GenerateRequest,
    ScoringLM,
    cacheable,
    model_identity,
)
from arena.models.seeding import seeded


def generate_texts(model: ScoringLM, prompts: Sequence[str], *, max_out_len: int, stop: Sequence[str] = (),
                   cache: Cache | None = None, temperature: float = 0.0,
                   seed: int | None = None) -> list[str]:
    """Continuations of text prompts (greedy at temperature 0), cached by (model, prompt, params).

    A sampled call (temperature > 0) is cached only with a seed: without one, a rerun samples anew.
    """
    params = {"max_out_len": max_out_len, "stop": list(stop),
              "max_seq_len": getattr(model, "max_seq_len", None)}
    if temperature > 0:
        params |= {"temperature": temperature, "seed": seed}
    mid = model_identity(model)
    cache = cache if cacheable(temperature, seed) else None
    keys = [Cache.make_key("gen", mid, p, params) for p in prompts]
    out: list[str | None] = [None] * len(prompts)
    if cache is not None:
        out = [cache.get(k) for k in keys]
    todo = [i for i, t in enumerate(out) if t is None]
    if todo:
        reqs = [GenerateRequest(prompts[i], max_out_len, tuple(stop), temperature) for i in todo]
        # a seeded sample repeats (local models sample with torch); the global RNG is left alone
        with seeded(seed if temperature > 0 else None):
            replies = model.generate(reqs)
        for i, res in zip(todo, replies):
            out[i] = res.text
            if cache is not None:
                cache.put(keys[i], "gen", mid, res.text)
    return out  # type: ignore[return-value]


def chat_texts(model: BatchChatModel, conversations: Sequence[list[dict]], *, max_out_len: int,
               stop: Sequence[str] = (), temperature: float = 0.0, seed: int | None = None) -> list[str]:
    """Chat answers, greedy at temperature 0 (the model's own cache applies)."""
    params = ChatParams(temperature=temperature, max_tokens=max_out_len, stop=tuple(stop), seed=seed)
    return [r.text for r in model.chat_many([list(c) for c in conversations], params)]
