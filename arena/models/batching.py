"""Batch sizes for local models: `auto` (the largest batch that fits), out-of-memory back-off,
and the devices a run may use.

`auto` works like lm-eval's: work is sorted longest first, so the first batch is the
largest one a run will meet; its size comes from the free memory and the model's per-token
footprint. Should that estimate still be too big, the batch is halved and retried (and the
smaller size kept for the rest of the run), so a run never stops on out-of-memory while a
smaller batch could still work.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import torch

log = logging.getLogger("arena.models")

AUTO = "auto"
CAP_ACCEL = 256  # questions (ppl) or prompts (gen) per forward on a GPU
CAP_CPU = 32  # CPUs gain nothing from huge batches; memory is not what limits them
MEMORY_FRACTION = 0.7  # of the free memory, for activations and the KV cache


def is_auto(batch_size: Any) -> bool:
    return isinstance(batch_size, str) and batch_size.lower() == AUTO


def is_oom(exc: BaseException) -> bool:
    """Whether `exc` is an out-of-memory error of torch (CUDA, MPS, XPU or CPU allocator)."""
    if isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory(device: torch.device | str) -> int:
    """Bytes free on `device` (CUDA: what the driver reports; CPU: available RAM)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _release(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def bytes_per_token(model: Any) -> int:
    """Peak bytes one input token costs in a forward: its KV cache in every layer plus the
    widest activations of one layer (attention projections and the MLP), with slack."""
    cfg = getattr(model, "config", None)
    get = lambda *names, d=0: next((getattr(cfg, n) for n in names if getattr(cfg, n, None)), d)  # noqa: E731
    hidden = get("hidden_size", "n_embd", d=1024)
    layers = get("num_hidden_layers", "n_layer", d=24)
    heads = get("num_attention_heads", "n_head", d=16)
    kv_heads = get("num_key_value_heads", d=heads)
    head_dim = get("head_dim", d=hidden // max(1, heads))
    inter = get("intermediate_size", "n_inner", d=4 * hidden)
    try:
        elem = next(model.parameters()).element_size()
    except (StopIteration, AttributeError):
        elem = 4
    kv = 2 * layers * kv_heads * head_dim * elem
    act = (6 * hidden + 3 * inter) * elem
    return int(1.5 * (kv + act))


def auto_batch_size(
    model: Any, tokens_per_item: int, extra_per_item: int = 0, cap: int | None = None
) -> int:
    """The largest power-of-two batch whose `tokens_per_item` tokens fit in free memory.

    Args:
        model: a torch model (its config and dtype give the per-token footprint).
        tokens_per_item: tokens of the largest item (its row, or prompt + new tokens).
        extra_per_item: other bytes per item (an attention mask, logits).
        cap: most items per batch (default: 256 on an accelerator, 32 on a CPU).
    """
    device = getattr(model, "device", torch.device("cpu"))
    if cap is None:
        cap = CAP_CPU if torch.device(device).type == "cpu" else CAP_ACCEL
    per_item = max(1, tokens_per_item) * bytes_per_token(model) + extra_per_item
    fits = int(MEMORY_FRACTION * free_memory(device) // per_item)
    size = 1
    while size * 2 <= min(cap, fits):
        size *= 2
    log.info(
        "batch size auto: %d (%.0f MiB free, %.1f MiB per item)",
        size,
        free_memory(device) / 2**20,
        per_item / 2**20,
    )
    return size


class Backoff:
    """Called with an exception from a batch: on out-of-memory, halve the batch and say retry.

    `owner.batch_size` is halved in place, so the smaller size holds for the rest of the run.
    Anything but out-of-memory, or a batch of one, is not retried.
    """

    def __init__(self) -> None:
        self.halvings = 0

    def __call__(self, exc: BaseException, owner: Any) -> bool:
        if not is_oom(exc) or owner.batch_size <= 1:
            return False
        _release(torch.device(getattr(owner, "device", "cpu")))
        owner.batch_size = max(1, owner.batch_size // 2)
        self.halvings += 1
        log.warning(
            "out of memory: batch size lowered to %d and the batch retried", owner.batch_size
        )
        return True


def default_dtype(device: str) -> str:
    """`dtype: auto`: bfloat16 on a GPU that supports it, else float16 on a GPU, float32 on CPU."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"
