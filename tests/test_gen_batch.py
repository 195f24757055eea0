"""Generation throughput paths: identical greedy text at any batch size and with a static KV
cache (fp32), max_out_len, left truncation, stop strings, batch size auto and OOM back-off."""

from __future__ import annotations

import pytest
import torch

from arena.models.base import GenerateRequest
from arena.models.generation import gen_plan

PROMPTS = [
    "The capital of France is",
    "Question: How many legs does a spider have? Answer:",
    "Once upon a time there was a small model that learned to count. " * 3,
    "def add(a, b):",
    "Rain falls in spring,",
    "1, 2, 3, 4,",
    "Alice and Bob play chess every Sunday afternoon. Then",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from arena.models.hf import HFModel

    return HFModel(tiny_model_dir, name="tiny", device="cpu", max_seq_len=64, batch_size=1)


def _texts(model, reqs, batch_size, cache="auto"):
    model.batch_size, model.generation_cache = batch_size, cache
    try:
        return [(r.text, r.completion_tokens) for r in model.generate(reqs)]
    finally:
        model.batch_size, model.generation_cache = 1, "auto"


def test_greedy_text_identical_at_every_batch_size_and_cache(tiny):
    reqs = [GenerateRequest(p, max_new_tokens=12) for p in PROMPTS]
    one = _texts(tiny, reqs, 1)
    assert len({t for t, _ in one}) > 3  # the texts differ: the comparison means something
    for bs in (3, 8, "auto"):
        assert _texts(tiny, reqs, bs) == one, f"batch {bs}"
    assert _texts(tiny, reqs, 4, cache="static") == one  # static KV cache (no compile on CPU)


def test_max_out_len_and_left_truncation(tiny):
    long = "The cat sat on the mat and looked at the moon. " * 20  # far beyond max_seq_len=64
    reqs = [GenerateRequest(long, max_new_tokens=10), GenerateRequest(PROMPTS[0], max_new_tokens=10)]
    res = tiny.generate(reqs)
    assert all(r.completion_tokens <= 10 for r in res)
    assert res[0].prompt_tokens == 64 - 10  # the prompt kept its end, the window holds the answer
    # the kept part is the prompt's end: the same as generating from that end alone
    ids = tiny.encode(long)[-(64 - 10):]
    alone = tiny.generate([GenerateRequest(tiny.tokenizer.decode(ids), max_new_tokens=10)])[0]
    assert alone.prompt_tokens <= 64 and res[0].completion_tokens > 0
    assert _texts(tiny, reqs, 2) == _texts(tiny, reqs, 1)


def test_stop_strings_cut_and_match_batch_one(tiny):
    base = tiny.generate([GenerateRequest(PROMPTS[1], max_new_tokens=16)])[0].text
    assert len(base) > 4
    stop = base[2:4]
    reqs = [GenerateRequest(p, max_new_tokens=16, stop=(stop,)) for p in PROMPTS]
    got = _texts(tiny, reqs, 4)
    assert got == _texts(tiny, reqs, 1)
    assert got[1][0] == base[: base.index(stop)]
    assert all(stop not in t for t, _ in got)


def test_plan_static_only_when_it_pays_and_overridable(tiny, monkeypatch):
    assert not gen_plan(tiny, [50] * 512, 128, 0.0).static  # CPU: never by itself
    monkeypatch.setattr(tiny, "device", "cuda")
    monkeypatch.setattr(tiny, "batch_size", 128)
    monkeypatch.setattr("arena.models.generation._static_ok", lambda m: True)
    plan = gen_plan(tiny, [50] * 256, 128, 0.0)
    assert plan.static and plan.compile  # 256 x 128 new tokens pay for a compile
    assert plan.generate_kwargs() == {"cache_implementation": "static"}
    assert not gen_plan(tiny, [50] * 8, 32, 0.0).static  # too small to pay
    monkeypatch.setattr(tiny, "generation_cache", "dynamic")
    assert not gen_plan(tiny, [50] * 256, 128, 0.0).static
    assert plan.width == 64 and plan.bucket_width(30) == 64  # one width for every batch of the group
    assert gen_plan(tiny, [50] * 32, 16, 0.0).bucket_width(70) == 128


def test_generation_out_of_memory_halves_and_retries(tiny, monkeypatch):
    reqs = [GenerateRequest(p, max_new_tokens=6) for p in PROMPTS]
    ref = _texts(tiny, reqs, 1)
    real = tiny.model.generate
    calls = {"oom": 0}

    def generate(*a, **k):
        if k["input_ids"].shape[0] > 2:
            calls["oom"] += 1
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(*a, **k)

    monkeypatch.setattr(tiny.model, "generate", generate)
    assert _texts(tiny, reqs, 8) == ref
    assert calls["oom"] == 2  # 8 -> 4 -> 2, then every later batch fits: no third failure


def test_compiled_static_plan_pads_a_short_last_batch_with_filler_rows(tiny, monkeypatch):
    from arena.models import hf as hf_mod
    from arena.models.generation import GenPlan

    reqs = [GenerateRequest(p, max_new_tokens=8) for p in PROMPTS]
    ref = _texts(tiny, reqs, 1)
    fed: list[int] = []
    real_generate = tiny.model.generate

    def generate(*a, **k):
        fed.append(k["input_ids"].shape[0])
        return real_generate(*a, **k)

    def plan(hf, lens, max_new, temp):  # what a GPU gets, minus the compile (CPU test)
        return GenPlan(batch_size=4, static=True, compile=True, width=64)

    monkeypatch.setattr(hf_mod, "gen_plan", plan)
    monkeypatch.setattr(GenPlan, "generate_kwargs", lambda self: {"cache_implementation": "static",
                                                                  "disable_compile": True})
    monkeypatch.setattr(tiny.model, "generate", generate)
    assert _texts(tiny, reqs, 4) == ref  # filler rows never leak into the results
    assert fed == [4, 4]  # 7 prompts: the second batch of 3 was padded to the compiled 4
