"""Fast multiple-choice scoring: encode a shared context once, continue every option from it.

Two scorers (`select_scorer` picks). `PackedScorer` puts many questions in one forward:
each question's context and all its options in one row under a block 4D mask, a prefix
shared across questions encoded once, the LM head only where an option token is predicted,
and everything reduced on the device; the default on accelerators. `PrefixScorer` (below,
"staged") runs a forward per question for its options: faster on a CPU when each question
has its own long context, and the path for models the packed one cannot take.

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
        self.on_oom: Any = None  # set by the caller: a batch-size back-off (see arena.models.batching)
        # transformers >= 5.2x renamed `past_key_values` to `cache` (old name deprecated)
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @property
    def device(self) -> torch.device:
        return self.model.device

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
            s = 0
            while s < len(members):
                batch = members[s:s + self.batch_size]
                try:
                    self._stage_b(batch, ctxs, [groups[i][1] for i in batch], shared, base, results)
                except Exception as exc:  # out of memory: a smaller batch, same questions
                    if self.on_oom is None or not self.on_oom(exc, self):
                        raise
                    continue
                s += len(batch)
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


# --------------------------------------------------------------------------- packed scorer
@dataclass
class _Batch:
    """Host-side layout of one packed forward (plain lists; tensors are made in one go)."""

    ids: list[list[int]] = field(default_factory=list)
    pos: list[list[int]] = field(default_factory=list)
    qid: list[list[int]] = field(default_factory=list)  # question block of each token, -1: pad
    seg: list[list[int]] = field(default_factory=list)  # 0: context, j + 1: option j
    rows: list[int] = field(default_factory=list)  # (row, column) of every scored position
    cols: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)  # option (in batch order) of each scored token
    options: int = 0


def _first_fit(lengths: list[int], cap: int) -> list[list[int]]:
    """Indices packed into rows of at most `cap` tokens (lengths sorted longest first)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i, n in enumerate(lengths):
        for r, free in enumerate(room):
            if n <= free:
                rows[r].append(i)
                room[r] -= n
                break
        else:
            rows.append([i])
            room.append(cap - n)
    return rows


class PackedScorer:
    """Scores many questions per forward: context and options packed in one row.

    Each question becomes one block: its context (after a prefix shared with the other
    questions of its run, which is encoded once and kept as a KV cache) followed by every
    option but the option's last token. A block 4D attention mask lets a context token see
    the context before it, and an option token the context and its own option's earlier
    tokens; position ids restart after the context for every option, so each option is
    computed exactly as if it followed the context alone. Several blocks may share a row
    (their tokens never see each other). Only the positions that predict an option token
    go through the LM head; the fp32 log-softmax, the gather of the targets and the sums
    per option all run on the device and come back in one transfer at the end.

    Args:
        model: a transformers causal LM with `base_model`, `get_output_embeddings()` and an
            sdpa or eager attention that accepts a 4D mask.
        max_seq_len: longest window the model sees (contexts are cut from the left).
        batch_size: questions per forward pass.
        min_shared: shortest cross-question prefix worth encoding once.
    """

    def __init__(self, model: Any, max_seq_len: int = 2048, batch_size: int = 8,
                 min_shared: int = 16) -> None:
        self.model, self.max_seq_len = model, max_seq_len
        self.batch_size, self.min_shared = max(1, batch_size), min_shared
        self.stats = PrefixStats()
        self.base = model.base_model
        self.head = model.get_output_embeddings()
        params = inspect.signature(self.base.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._softcap = getattr(model.config, "final_logit_softcapping", None)
        self.on_oom: Any = None  # set by the caller: a batch-size back-off (see arena.models.batching)

    @staticmethod
    def supported(model: Any) -> bool:
        """Full attention only, and an attention implementation that takes a 4D mask."""
        impl = getattr(model.config, "_attn_implementation", None) or "eager"
        head = getattr(model, "get_output_embeddings", lambda: None)()
        return (PrefixScorer.supported(model) and impl in ("sdpa", "eager") and head is not None
                and not getattr(model.config, "logit_scale", None))

    @property
    def device(self) -> torch.device:
        return self.model.device

    @torch.inference_mode()
    def score(self, groups: Sequence[Group]) -> list[list[LoglikelihoodResult]]:
        """NLL of every option of every group, in input order (see `PrefixScorer.score`)."""
        ctxs = [truncate_group(list(c), opts, self.max_seq_len) for c, opts in groups]
        if any(not c for c in ctxs):
            raise BackendError("an empty context cannot be scored (prepend a BOS token)")
        opts = [[list(o) for o in g[1]] for g in groups]
        pending: list[tuple[list[int], torch.Tensor]] = []
        order = sorted(range(len(groups)), key=lambda i: ctxs[i])
        for members, shared in _chunks(ctxs, order, self.min_shared):
            cache = self._prefix(ctxs[members[0]][:shared]) if shared else None
            members.sort(key=lambda i: -(len(ctxs[i]) + sum(max(len(o) - 1, 0) for o in opts[i])))
            start = 0
            while start < len(members):
                batch = members[start:start + self.batch_size]
                try:
                    pending.append((batch, self._run(batch, ctxs, opts, shared, cache)))
                except Exception as exc:  # out of memory: a smaller batch, same questions
                    if self.on_oom is None or not self.on_oom(exc, self):
                        raise
                    continue
                start += len(batch)
        return self._collect(pending, opts, len(groups))

    def _prefix(self, ids: list[int]) -> Any:
        self.stats.forwards += 1
        self.stats.tokens += len(ids)
        self.stats.padded_tokens += len(ids)
        self.stats.per_stage["A"] += len(ids)
        out = self.base(input_ids=torch.tensor([ids], device=self.device), use_cache=True)
        return _cache_of(out)

    def _layout(self, batch: list[int], ctxs: list[list[int]], opts: list[list[list[int]]],
                shared: int) -> _Batch:
        blocks = []
        for i in batch:
            rest = ctxs[i][shared:]
            blocks.append(len(rest) + sum(max(len(o) - 1, 0) for o in opts[i]))
        # a row holds blocks up to the longest block (or the shared prefix, which every row
        # attends to anyway): fewer, fuller rows and less padding, at little extra attention
        rows = _first_fit(blocks, max(max(blocks), shared))
        lay = _Batch()
        first = [0]  # index of each question's first option, in batch order (rows reorder blocks)
        for i in batch:
            first.append(first[-1] + len(opts[i]))
        lay.options = first[-1]
        for r, members in enumerate(rows):
            ids: list[int] = []
            pos: list[int] = []
            qid: list[int] = []
            seg: list[int] = []
            for b in members:
                i = batch[b]
                rest, n_ctx = ctxs[i][shared:], len(ctxs[i])
                last = len(ids) + len(rest) - 1  # the context's last position predicts option[0]
                ids += rest
                pos += range(shared, n_ctx)
                qid += [b] * len(rest)
                seg += [0] * len(rest)
                for j, o in enumerate(opts[i]):
                    if not o:
                        continue
                    start = len(ids)
                    ids += o[:-1]
                    pos += range(n_ctx, n_ctx + len(o) - 1)
                    qid += [b] * (len(o) - 1)
                    seg += [j + 1] * (len(o) - 1)
                    lay.rows += [r] * len(o)
                    lay.cols += [last, *range(start, start + len(o) - 1)]
                    lay.targets += o
                    lay.owner += [first[b] + j] * len(o)
            lay.ids.append(ids)
            lay.pos.append(pos)
            lay.qid.append(qid)
            lay.seg.append(seg)
        return lay

    def _tensors(self, lay: _Batch) -> tuple[torch.Tensor, ...]:
        width = max(map(len, lay.ids))

        def pad(rows: list[list[int]], fill: int) -> torch.Tensor:
            return torch.tensor([x + [fill] * (width - len(x)) for x in rows], dtype=torch.long)

        return pad(lay.ids, 0), pad(lay.pos, 0), pad(lay.qid, -1), pad(lay.seg, -1)

    def _mask(self, pos: torch.Tensor, qid: torch.Tensor, seg: torch.Tensor, shared: int) -> torch.Tensor:
        """(rows, 1, T, shared + T) mask built on the device from per-token ids."""
        q_pos, k_pos = pos[:, :, None], pos[:, None, :]
        allow = (qid[:, :, None] == qid[:, None, :]) & (qid[:, None, :] >= 0) & (k_pos <= q_pos)
        allow &= (seg[:, None, :] == 0) | (seg[:, None, :] == seg[:, :, None])
        allow |= torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)  # padding sees itself
        if shared:
            allow = torch.cat([allow.new_ones(pos.shape[0], pos.shape[1], shared), allow], dim=-1)
        allow = allow[:, None]
        if self.model.config._attn_implementation == "sdpa":
            return allow
        dtype = self.head.weight.dtype  # eager attention adds the mask to the scores
        return torch.zeros(allow.shape, dtype=dtype, device=pos.device).masked_fill_(
            ~allow, torch.finfo(dtype).min)

    def _run(self, batch: list[int], ctxs: list[list[int]], opts: list[list[list[int]]],
             shared: int, cache: Any) -> torch.Tensor:
        """(options, 2) on the device: NLL and count of non-greedy tokens per option."""
        lay = self._layout(batch, ctxs, opts, shared)
        n_scored = len(lay.targets)
        host = [*self._tensors(lay), torch.tensor([lay.rows, lay.cols, lay.targets, lay.owner],
                                                  dtype=torch.long).reshape(4, n_scored)]
        if self.device.type == "cuda":  # pinned + non_blocking: the copy does not wait for the GPU
            host = [t.pin_memory() for t in host]
        ids, pos, qid, seg, index = (t.to(self.device, non_blocking=True) for t in host)
        real = sum(map(len, lay.ids))
        self.stats.forwards += 1
        self.stats.tokens += real
        self.stats.padded_tokens += ids.numel()
        self.stats.per_stage["B"] += real
        kwargs: dict[str, Any] = {}
        if cache is not None:
            kwargs[self._cache_kw] = _slice_cache(cache, 0, shared, ids.shape[0])
            kwargs["use_cache"] = True
        else:
            kwargs["use_cache"] = False
        hidden = self.base(input_ids=ids, position_ids=pos, attention_mask=self._mask(pos, qid, seg, shared),
                           **kwargs).last_hidden_state
        out = torch.zeros((lay.options, 2), dtype=torch.float64, device=self.device)
        if not n_scored:
            return out
        rows, cols, tgt, owner = index
        logits = self.head(hidden[rows, cols]).float()
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        logprobs = torch.log_softmax(logits, dim=-1)
        picked = logprobs.gather(1, tgt[:, None])[:, 0].double()
        miss = (logprobs.argmax(-1) != tgt).double()
        out[:, 0].index_add_(0, owner, -picked)
        out[:, 1].index_add_(0, owner, miss)
        return out

    @staticmethod
    def _collect(pending: list[tuple[list[int], torch.Tensor]], opts: list[list[list[int]]],
                 n: int) -> list[list[LoglikelihoodResult]]:
        results: list[list[LoglikelihoodResult]] = [[] for _ in range(n)]
        if not pending:
            return results
        values = torch.cat([t for _, t in pending]).tolist()  # the one device -> host transfer
        k = 0
        for batch, _ in pending:
            for i in batch:
                for o in opts[i]:
                    nll, miss = values[k]
                    results[i].append(LoglikelihoodResult(nll=nll, n_tokens=len(o), is_greedy=miss == 0))
                    k += 1
        return results


CPU_SHARED_FRACTION = 0.5  # on a CPU, packed pays off when this much context is a shared prefix


def shared_fraction(groups: Sequence[Group], max_seq_len: int, min_shared: int = 16) -> float:
    """Share of all context tokens that sit in a prefix common to several questions."""
    ctxs = [truncate_group(list(c), o, max_seq_len) for c, o in groups]
    total = sum(map(len, ctxs))
    if not total:
        return 0.0
    order = sorted(range(len(ctxs)), key=lambda i: ctxs[i])
    return sum(shared * len(m) for m, shared in _chunks(ctxs, order, min_shared)) / total


def select_scorer(model: Any, max_seq_len: int, batch_size: int, mode: str = "auto",
                  groups: Sequence[Group] | None = None) -> Any:
    """The ppl scorer for `model`: "packed" (block mask), "staged" (per-question cache) or "auto".

    auto: packed on accelerators (4.7x an lm-eval-style reference on an H200 in the probe,
    where per-forward overhead dominates). On a CPU the block mask forces attention's plain
    math kernel, which costs more than the per-question forwards it saves when each question
    has its own long context (measured 7-25% slower on 2 cores, SmolLM2-135M); packed wins
    there only when most context is a prefix shared across questions (encoded once), so
    auto picks packed on a CPU when `groups` share at least half their context tokens.
    """
    if mode not in ("auto", "packed", "staged"):
        raise ValueError(f"unknown ppl scorer {mode!r}; use auto, packed or staged")
    if mode == "auto" and PackedScorer.supported(model):
        on_cpu = torch.device(getattr(model, "device", "cpu")).type == "cpu"
        if not on_cpu or (groups is not None and shared_fraction(groups, max_seq_len) >= CPU_SHARED_FRACTION):
            mode = "packed"
    if mode == "packed":
        return PackedScorer(model, max_seq_len, batch_size)
    return PrefixScorer(model, max_seq_len, batch_size)


def score_groups(model: Any, groups: Sequence[Group], max_seq_len: int, batch_size: int | str = 8,
                 mode: str = "auto") -> list[list[LoglikelihoodResult]]:
    """Score option groups with the right scorer; `batch_size="auto"` sizes batches from free
    memory; an out-of-memory batch is halved and retried (the smaller size then kept)."""
    from arena.models.batching import Backoff, auto_batch_size, is_auto

    if is_auto(batch_size):
        cuts = [truncate_group(list(c), o, max_seq_len) for c, o in groups]
        row = max((len(c) + sum(max(len(x) - 1, 0) for x in o) for c, (_, o) in zip(cuts, groups)), default=1)
        vocab = getattr(getattr(model, "config", None), "vocab_size", 32000) or 32000
        scored = max((sum(map(len, o)) for _, o in groups), default=1)
        batch_size = auto_batch_size(model, row, extra_per_item=row * row + 8 * scored * vocab)
    scorer = select_scorer(model, max_seq_len, int(batch_size), mode, groups)
    scorer.on_oom = Backoff()
    return scorer.score(groups)
