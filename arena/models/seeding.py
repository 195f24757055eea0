"""Seeded sampling that leaves the process's random state as it found it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Inside: torch's RNG (CPU and CUDA) starts from `seed`, so a seeded sample repeats.
    After: the global RNG state is restored, so seeding one call never reseeds the rest of the
    process. Without a seed, or without torch (API models), nothing changes."""
    if seed is None:
        yield
        return
    try:
        import torch
    except ImportError:  # pragma: no cover - API-only installs sample on the server
        yield
        return
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
