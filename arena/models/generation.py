"""How a local model generates a group of prompts: batch size and KV cache (dynamic or static).

On a GPU, per-step overhead (Python, kernel launches, a growing cache), not arithmetic,
limits batched decoding: a static KV cache with a compiled decoding step was measured at
23x a batch-32 dynamic-cache run on an H200 (../shared/gpu/gen_probe.py), after a one-time
compile of about 30 s. So the static cache is chosen when the group is big enough to pay
that compile back, and never on a CPU (where compiling does not pay). `generation_cache`
in the model kwargs overrides the choice: `auto` (default), `static` or `dynamic`.

Greedy text does not depend on the batch size or on the cache: prompts are left-padded
with position ids taken from the attention mask, and in fp32 both caches give the same
tokens (tests assert it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from arena.models.batching import Backoff, auto_batch_size, is_auto

log = logging.getLogger("arena.models")

CACHE_MODES = ("auto", "static", "dynamic")
STATIC_MIN_TOKENS = 16_384  # new tokens in a group (e.g. 128 prompts x 128): pays for a compile
STATIC_MIN_BATCH = 16
BUCKET = 64  # static cache: prompt widths rounded up to this, so few shapes get compiled


@dataclass
class GenPlan:
    """Batch size and cache of one generation group (prompts sharing settings)."""

    batch_size: int
    static: bool = False
    compile: bool = False
    device: str = "cpu"
    width: int = 0  # static cache: every batch of the group is left-padded to this width
    backoff: Backoff = field(default_factory=Backoff)

    def bucket_width(self, width: int) -> int:
        return max(self.width, -(-width // BUCKET) * BUCKET)

    def generate_kwargs(self) -> dict[str, Any]:
        if not self.static:
            return {}
        kw: dict[str, Any] = {"cache_implementation": "static"}
        if not self.compile:
            kw["disable_compile"] = True
        return kw


def _static_ok(model: Any) -> bool:
    inner = getattr(model, "model", None)
    return bool(getattr(inner, "_can_compile_fullgraph", False) or getattr(inner, "_supports_static_cache", False))


def gen_plan(hf: Any, prompt_lens: list[int], max_new: int, temperature: float) -> GenPlan:
    """The plan for `prompt_lens` (longest first) on `hf` (an HFModel).

    Args:
        hf: the model; its `batch_size` may be "auto" and its `generation_cache` a mode.
        prompt_lens: prompt token counts of the group.
        max_new: new tokens per prompt.
        temperature: sampling temperature (0: greedy).
    """
    device = str(getattr(hf, "device", "cpu"))
    accel = not device.startswith("cpu")
    mode = getattr(hf, "generation_cache", "auto")
    if mode not in CACHE_MODES:
        from arena.core.errors import ConfigError

        raise ConfigError(f"generation_cache must be one of {', '.join(CACHE_MODES)}, got {mode!r}",
                          field="model_kwargs")
    size = hf.batch_size
    longest = (max(prompt_lens) if prompt_lens else 1) + max_new
    if is_auto(size):
        size = auto_batch_size(hf.model, min(longest, hf.max_seq_len))
    size = max(1, int(size))
    n = len(prompt_lens)
    big = n * max_new >= STATIC_MIN_TOKENS and min(n, size) >= STATIC_MIN_BATCH
    static = mode == "static" or (mode == "auto" and accel and big and _static_ok(hf))
    # compiled decoding is specialised to the batch and cache shape: one width for the group
    # (prompts come longest first) and full batches keep it to a single compile
    width = -(-max(prompt_lens, default=1) // BUCKET) * BUCKET if static else 0
    plan = GenPlan(batch_size=size, static=static, compile=static and accel, device=device, width=width)
    if static:
        log.info("generation: static KV cache%s, batch %d, %d prompts x %d tokens",
                 " + compiled decoding" if plan.compile else "", size, n, max_new)
    return plan
