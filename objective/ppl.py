"""ppl (discriminative) scoring: the NLL of every option's continuation given the prompt.

Local transformers models take the fast path (`arena.models.prefix.PrefixScorer`: the shared
context is encoded once and every option continues from its KV cache). Any other ScoringLM
(e.g. an API model with prompt logprobs) goes through its `loglikelihood`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena.core.cache import Cache
from arena.core.errors import BackendError
from arena.models.base import EvalModel, LoglikelihoodRequest, LoglikelihoodResult, model_identity

Item = tuple[str, list[str]]  # (context, [continuation, ...])


def _is_local(model: Any) -> bool:
    return all(hasattr(model, a) for a in ("model", "tokenizer", "token_ids"))


def _model_id(model: Any) -> str:
    return model_identity(model)  # weights fingerprint, tokenizer, dtype, system prompt...


def _score_local(model: Any, items: Sequence[Item], batch_size: int | str) -> list[list[LoglikelihoodResult]]:
    from arena.models.prefix import PrefixScorer, score_groups, truncate_group

    groups = []
    for ctx, conts in items:
        ctx_ids = model.token_ids(ctx, "")[0]  # the same ids for every option
        groups.append((ctx_ids, [model.token_ids(ctx, c)[1] for c in conts]))
    if PrefixScorer.supported(model.model):
        return score_groups(model.model, groups, model.max_seq_len, batch_size,
                            getattr(model, "ppl_scorer", "auto"))
    # sliding-window caches cannot be sliced: score each option with the backend itself
    pairs = [(truncate_group(c, opts, model.max_seq_len), o) for c, opts in groups for o in opts]
    flat = iter(model.nll_from_ids(pairs))
    return [[next(flat) for _ in opts] for _, opts in groups]


def _score_api(model: Any, items: Sequence[Item]) -> list[list[LoglikelihoodResult]]:
    if not hasattr(model, "loglikelihood"):
        raise BackendError(f"model '{model.name}' cannot score options (no log-likelihoods); "
                           "evaluate it on a *_gen dataset instead")
    reqs = [LoglikelihoodRequest(ctx, c) for ctx, conts in items for c in conts]
    flat = iter(model.loglikelihood(reqs))
    return [[next(flat) for _ in conts] for _, conts in items]


def score_choices(model: EvalModel, items: Sequence[Item], *, batch_size: int | str = 8,
                  cache: Cache | None = None) -> list[list[LoglikelihoodResult]]:
    """NLL and token count of each continuation of each item, in order.

    Args:
        model: an `HFModel` (fast shared-prefix path) or any ScoringLM.
        items: (context, continuations) per question.
        batch_size: questions per forward pass, or "auto" (results do not depend on it).
        cache: when given, identical (model, context, continuations) are never rescored.

    Raises:
        BackendError: the model has no log-likelihoods (e.g. an API without prompt
            logprobs); the message suggests gen mode.
    """
    keys = [Cache.make_key("ppl", _model_id(model), {"ctx": c, "conts": k},
                           {"max_seq_len": getattr(model, "max_seq_len", None)}) for c, k in items]
    out: list[list[LoglikelihoodResult] | None] = [None] * len(items)
    if cache is not None:
        for i, key in enumerate(keys):
            hit = cache.get(key)
            if hit is not None:
                out[i] = [LoglikelihoodResult(**r) for r in hit]
    todo = [i for i, r in enumerate(out) if r is None]
    if todo:
        sub = [items[i] for i in todo]
        fresh = _score_local(model, sub, batch_size) if _is_local(model) else _score_api(model, sub)
        for i, res in zip(todo, fresh):
            out[i] = res
            if cache is not None:
                cache.put(keys[i], "ppl", _model_id(model),
                          [{"nll": r.nll, "n_tokens": r.n_tokens, "is_greedy": r.is_greedy} for r in res])
    return out  # type: ignore[return-value]
