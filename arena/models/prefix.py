"""Fast multiple-choice scoring: encode a shared context once, continue every option from it.

The naive way (OpenCompass's PPLInferencer) runs one full forward pass per option, so a
4-option question with a 500-token few-shot context costs 2,000 context tokens. Here:

1. Contexts are grouped by identical token ids (one group = one question's options).
2. Groups are sorted by their ids, so contexts sharing a long prefix (the same few-shot
   examples) sit together; that common prefix is encoded once (stage A).
3. Each context's remainder continues from a copy of that cache, several contexts per
   right-padded batch, sorted by length (stage B).
4. All options of a question run as one batch continuing from that question's cache,
   expanded along the batch dimension (stage C). Options of one token need no stage C:
   their log-probability is read from the context's last logits.

Right padding never changes a real token's result under causal attention and positions
stay the natural ones, so results do not depend on the batch size. `naive_nll` is the
reference: one plain forward per option; tests assert both agree within 1e-4 (fp32).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from arena.core.errors import BackendError
from arena.models.base import LoglikelihoodResult

Group = tuple[list[int], list[list[int]]]  # (context ids, [option ids, ...])


@dataclass
class PrefixStats:
    """Work done, to compare honestly with the naive way (tokens fed to the model)."""

    forwards: int = 0
    tokens: int = 0  # real (non-padding) input tokens
    padded_tokens: int = 0  # including right padding
    per_stage: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0, "C": 0})


def truncate_group(ctx: list[int], conts: Sequence[list[int]], max_seq_len: int) -> list[int]:
    """Cut the context from the left so that context + the longest option fits the model.

    Every option of a question sees the same context window (unlike per-option cuts),
    which is what lets them share one cache. The naive reference uses the same rule.
    """
    longest = max((len(c) for c in conts), default=0)
    if longest > max_seq_len:
        raise BackendError(f"an option of {longest} tokens exceeds max_seq_len={max_seq_len}")
    keep = max_seq_len + 1 - max(longest, 1)
    return list(ctx[-keep:]) if len(ctx) > keep else list(ctx)


def _nll_rows(logits: torch.Tensor, targets: list[int]) -> tuple[float, bool]:
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    tgt = torch.tensor(targets, device=logprobs.device)
    nll = -logprobs.gather(1, tgt[:, None]).sum().item()
    return nll, bool((logprobs.argmax(-1) == tgt).all())


@torch.inference_mode()
def naive_nll(model: Any, pairs: Sequence[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
    """Reference scores: one full forward pass per (context, option), batch size 1."""
    out = []
    device = model.device
    for ctx, cont in pairs:
        ids = torch.tensor([list(ctx) + list(cont)[:-1]], device=device)
        logits = model(input_ids=ids).logits[0, len(ctx) - 1:]
        nll, greedy = _nll_rows(logits, list(cont))
        out.append(LoglikelihoodResult(nll=nll, n_tokens=len(cont), is_greedy=greedy))
    return out


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _chunks(ctxs: list[list[int]], order: list[int], min_shared: int) -> list[tuple[list[int], int]]:
    """Consecutive runs (in sorted order) whose contexts share >= min_shared tokens.

    Returns (group indices, shared prefix length) per run; the prefix is capped one token
    short of the shortest context so each context keeps a token to predict from.
    """
    runs: list[tuple[list[int], int]] = []
    for i in order:
        if runs:
            members, shared = runs[-1]
            first = ctxs[members[0]]
            lcp = min(shared, _common_prefix(first, ctxs[i]), len(ctxs[i]) - 1)
            if lcp >= min_shared:
                runs[-1] = (members + [i], lcp)
                continue
        runs.append(([i], len(ctxs[i]) - 1))
    # A prefix shared by a single context saves nothing: batch all of those together.
    alone = [m[0] for m, s in runs if len(m) == 1 or s < min_shared]
    shared_runs = [(m, s) for m, s in runs if len(m) > 1 and s >= min_shared]
    return shared_runs + ([(alone, 0)] if alone else [])


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _slice_cache(cache: Any, row: int, length: int, repeat: int) -> Any:
    from transformers import DynamicCache

    data = []
    for layer in cache.layers:
        k = layer.keys[row:row + 1, :, :length]
        v = layer.values[row:row + 1, :, :length]
        data.append((k.expand(repeat, -1, -1, -1), v.expand(repeat, -1, -1, -1)))
    return DynamicCache(ddp_cache_data=data)


class PrefixScorer:
    """Scores option groups with shared-prefix KV-cache reuse on a transformers causal LM.

    Args:
        model: a transformers causal LM (e.g. `HFModel.model`).
        max_seq_len: longest window the model sees (contexts are cut from the left).
        batch_size: contexts per stage-B forward pass.
        min_shared: shortest cross-question prefix worth a separate cached pass.
    """

    def __init__(self, model: Any, max_seq_len: int = 2048, batch_size: int = 8,
                 min_shared: int = 16) -> None:
        self.model, self.max_seq_len = model, max_seq_len
        self.batch_size, self.min_shared = max(1, batch_size), min_shared
        self.stats = PrefixStats()
        # transformers >= 5.2x renamed `past_key_values` to `cache` (old name deprecated)
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @staticmethod
    def supported(model: Any) -> bool:
        """Only plain full-attention caches can be sliced and expanded safely."""
        cfg = getattr(model, "config", None)
        types = getattr(cfg, "layer_types", None) or []
        return not getattr(cfg, "sliding_window", None) or all(t == "full_attention" for t in types)

    def _forward(self, stage: str, ids: torch.Tensor, real: int, cache: Any = None,
                 keep: torch.Tensor | None = None) -> Any:
        self.stats.forwards += 1
        self.stats.tokens += real
        self.stats.padded_tokens += ids.numel()
        self.stats.per_stage[stage] += real
        kwargs: dict[str, Any] = {"use_cache": True}
        if cache is not None:
            kwargs[self._cache_kw] = cache
        if keep is not None:
            kwargs["logits_to_keep"] = keep.to(self.model.device)
        return self.model(input_ids=ids.to(self.model.device), **kwargs)

    @torch.inference_mode()
    def score(self, groups: Sequence[Group]) -> list[list[LoglikelihoodResult]]:
        """NLL of every option of every group, in input order.

        Args:
            groups: (context ids, [option ids...]); contexts must be non-empty.
        """
        ctxs = [truncate_group(list(c), opts, self.max_seq_len) for c, opts in groups]
        if any(not c for c in ctxs):
            raise BackendError("an empty context cannot be scored (prepend a BOS token)")
        results: list[list[LoglikelihoodResult]] = [[] for _ in groups]
        order = sorted(range(len(groups)), key=lambda i: ctxs[i])
        for members, shared in _chunks(ctxs, order, self.min_shared):
            base = None
            if shared:
                prefix = torch.tensor([ctxs[members[0]][:shared]])
                base = _cache_of(self._forward("A", prefix, shared, keep=torch.tensor([shared - 1])))
            members.sort(key=lambda i: -len(ctxs[i]))
            for s in range(0, len(members), self.batch_size):
                batch = members[s:s + self.batch_size]
                self._stage_b(batch, ctxs, [groups[i][1] for i in batch], shared, base, results)
        return results

    def _stage_b(self, batch: list[int], ctxs: list[list[int]], options: list[list[list[int]]],
                 shared: int, base: Any, results: list[list[LoglikelihoodResult]]) -> None:
        rests = [ctxs[i][shared:] for i in batch]
        width = max(len(r) for r in rests)
        ids = torch.zeros((len(rests), width), dtype=torch.long)
        for r, rest in enumerate(rests):
            ids[r, : len(rest)] = torch.tensor(rest)
        cache = _slice_cache(base, 0, shared, len(rests)) if base is not None else None
        # Logits only where a context ends: the vocabulary projection is the costly part.
        ends = sorted({len(r) - 1 for r in rests})
        out = self._forward("B", ids, sum(map(len, rests)), cache, torch.tensor(ends))
        for r, i in enumerate(batch):
            last = out.logits[r, ends.index(len(rests[r]) - 1)]
            total = shared + len(rests[r])
            results[i] = self._stage_c(last, _cache_of(out), r, total, options[r])

    def _stage_c(self, last: torch.Tensor, cache: Any, row: int, length: int,
                 options: list[list[int]]) -> list[LoglikelihoodResult]:
        longest = max((len(o) for o in options), default=0)
        logits = None
        if longest > 1:
            ids = torch.zeros((len(options), longest - 1), dtype=torch.long)
            for r, opt in enumerate(options):
                ids[r, : len(opt) - 1] = torch.tensor(opt[:-1], dtype=torch.long)
            real = sum(max(len(o) - 1, 0) for o in options)
            logits = self._forward("C", ids, real, _slice_cache(cache, row, length, len(options))).logits
        out = []
        for r, opt in enumerate(options):
            if not opt:
                out.append(LoglikelihoodResult(nll=0.0, n_tokens=0, is_greedy=True))
                continue
            rows = last[None] if logits is None else torch.cat([last[None], logits[r, : len(opt) - 1]])
            nll, greedy = _nll_rows(rows[: len(opt)], opt)
            out.append(LoglikelihoodResult(nll=nll, n_tokens=len(opt), is_greedy=greedy))
        return out
