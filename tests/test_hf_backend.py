"""HFModel on the tiny random model: scores against a manual forward pass, batch invariance."""

from __future__ import annotations

import asyncio

import pytest
import torch

from arena.core.cache import Cache
from arena.core.errors import BackendError
from arena.models.base import (
    ChatModel,
    ChatParams,
    GenerateRequest,
    LoglikelihoodRequest,
    ScoringLM,
)
from arena.models.hf import HFModel

CONTEXTS = [
    "The capital of France is",
    "Question: What colour is the sky? Answer:",
    "Q",
    "",
    "Alice and Bob play chess every Sunday afternoon. Once upon a time there was a model ",
    "Numbers: 12 + 30 =",
    "def add(a, b):\n   ",
    "Translate to German: good morning.",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19",
]
CONTINUATIONS = [" Paris", " blue and green", " 42", "hello world", "\n    return a + b", " ein"]
PROMPTS = [c or "Hi" for c in CONTEXTS] + ["She sells sea shells", "Let's think step by step."]


def make(tiny_model_dir, **kwargs) -> HFModel:
    return HFModel(tiny_model_dir, device="cpu", **kwargs)


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> HFModel:
    return make(tiny_model_dir, batch_size=8)


def requests() -> list[LoglikelihoodRequest]:
    return [
        LoglikelihoodRequest(c, k)
        for i, c in enumerate(CONTEXTS)
        for k in CONTINUATIONS[i % 3 : i % 3 + 3]
    ]


@torch.inference_mode()
def manual_nll(hf_model, ids: list[int], n_cont: int) -> tuple[float, bool]:
    """One unpadded sequence, full logits, plain log_softmax: the reference number."""
    logits = hf_model(torch.tensor([ids])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    positions = range(len(ids) - n_cont, len(ids))
    nll = -sum(logprobs[p - 1, ids[p]].item() for p in positions)
    greedy = all(logprobs[p - 1].argmax().item() == ids[p] for p in positions)
    return nll, greedy


def test_protocols(model):
    assert isinstance(model, ScoringLM) and isinstance(model, ChatModel)
    assert model.name == "tiny-llama" and model.model.dtype == torch.float32


def test_token_ids_move_trailing_space_and_add_bos_once(model):
    assert model.token_ids("The capital is ", "Paris") == model.token_ids(
        "The capital is", " Paris"
    )
    ctx, cont = model.token_ids("The capital is", " Paris")
    bos = model.tokenizer.bos_token_id
    assert ctx[0] == bos and bos not in ctx[1:] and bos not in cont
    assert model.tokenizer.decode(cont) == " Paris"
    assert model.token_ids("", "x")[0] == [bos]  # empty context: predict from BOS


@pytest.mark.parametrize("batch_size", [1, 8])
def test_loglikelihood_matches_manual_forward(tiny_model_dir, batch_size):
    m = make(tiny_model_dir, batch_size=batch_size)
    reqs = requests()
    results = m.loglikelihood(reqs)
    assert len({len(sum(m.token_ids(r.context, r.continuation), [])) for r in reqs}) > 5
    for req, res in zip(reqs, results):
        ctx, cont = m.token_ids(req.context, req.continuation)
        nll, greedy = manual_nll(m.model, ctx + cont, len(cont))
        assert res.n_tokens == len(cont)
        assert res.nll == pytest.approx(nll, abs=1e-5)
        assert res.is_greedy == greedy


def test_greedy_flag_true_for_argmax_continuation(model):
    ctx = model.token_ids("The capital of France is", "")[0]
    with torch.inference_mode():
        best = model.model(torch.tensor([ctx])).logits[0, -1].argmax().item()
    (res,) = model.nll_from_ids([(ctx, [best])])
    assert res.is_greedy and res.n_tokens == 1


def test_left_truncation_keeps_continuation(tiny_model_dir):
    m = make(tiny_model_dir, max_seq_len=16, batch_size=4)
    long_ctx = "Alice and Bob play chess every Sunday afternoon, and the cat sat on the mat."
    reqs = [LoglikelihoodRequest(long_ctx, " The end."), LoglikelihoodRequest("Q", " 42")]
    ctx, cont = m.token_ids(*reqs[0].__dict__.values())
    assert len(ctx) + len(cont) > 17
    window = (ctx + cont)[-17:]  # 16 input tokens predict the last 16
    expected, _ = manual_nll(m.model, window, len(cont))
    untruncated, _ = manual_nll(m.model, ctx + cont, len(cont))
    got = m.loglikelihood(reqs)
    assert got[0].n_tokens == len(cont)
    assert got[0].nll == pytest.approx(expected, abs=1e-5)
    assert abs(expected - untruncated) > 1e-3  # truncation really changed the input
    short = m.token_ids("Q", " 42")
    assert got[1].nll == pytest.approx(
        manual_nll(m.model, sum(short, []), len(short[1]))[0], abs=1e-5
    )
    with pytest.raises(BackendError, match="max_seq_len"):
        m.loglikelihood([LoglikelihoodRequest("a", " b" * 40)])


def test_results_keep_request_order_and_empty_continuation(model):
    reqs = requests()
    assert model.loglikelihood(reqs[::-1]) == model.loglikelihood(reqs)[::-1]
    (res,) = model.loglikelihood([LoglikelihoodRequest("abc", "")])
    assert res.nll == 0.0 and res.n_tokens == 0


@torch.inference_mode()
def manual_greedy(m: HFModel, prompt: str, n: int) -> list[int]:
    ids = m.encode(prompt)
    for _ in range(n):
        ids.append(m.model(torch.tensor([ids])).logits[0, -1].argmax().item())
    return ids[-n:]


def test_greedy_generation_is_batch_invariant(tiny_model_dir):
    reqs = [GenerateRequest(p, max_new_tokens=12) for p in PROMPTS]
    one = make(tiny_model_dir, batch_size=1).generate(reqs)
    m8 = make(tiny_model_dir, batch_size=8)
    eight = m8.generate(reqs)
    assert [r.text for r in one] == [r.text for r in eight]
    assert len({r.text for r in eight}) > len(reqs) // 2  # outputs differ between prompts
    for req, res in zip(reqs, eight):
        assert res.prompt_tokens == len(m8.encode(req.prompt))
    # Golden check: a plain argmax loop without padding, for the shortest and longest prompt.
    eos = m8.tokenizer.eos_token_id
    for i in (2, 8):
        ids = manual_greedy(m8, PROMPTS[i], 12)
        ids = ids[: ids.index(eos)] if eos in ids else ids
        assert eight[i].text == m8.tokenizer.decode(ids, skip_special_tokens=True)


def test_generation_prompt_truncated_from_left(tiny_model_dir):
    m = make(tiny_model_dir, max_seq_len=20)
    prompt = " ".join(["The cat sat on the mat."] * 10)
    (res,) = m.generate([GenerateRequest(prompt, max_new_tokens=5)])
    assert res.prompt_tokens == 15 and res.completion_tokens <= 5


def test_stop_strings_truncate_and_stop_early(model):
    prompt = "Question: What colour is the sky? Answer:"
    (full,) = model.generate([GenerateRequest(prompt, max_new_tokens=40)])
    # Pick an ASCII stop string that appears after the start of the unstopped text.
    start = next(
        i
        for i in range(1, len(full.text) - 2)
        if full.text[i : i + 2].isascii() and full.text[i : i + 2].isalpha()
    )
    stop = full.text[start : start + 2]
    (cut,) = model.generate([GenerateRequest(prompt, max_new_tokens=40, stop=("zzz", stop))])
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.completion_tokens < full.completion_tokens


def test_chat_template_and_fallback(tiny_model_dir):
    m = make(tiny_model_dir, system_prompt="Be brief.")
    msgs = [{"role": "user", "content": "hi"}]
    text = m.apply_chat_template(msgs)
    assert text == "<|bos|><|system|>\nBe brief.<|eos|>\n<|user|>\nhi<|eos|>\n<|assistant|>\n"
    assert m.encode(text).count(m.tokenizer.bos_token_id) == 1  # template's BOS not doubled
    m.tokenizer.chat_template = None
    assert m.apply_chat_template(msgs) == "SYSTEM: Be brief.\nHUMAN: hi\nBOT:"
    assert "\nHUMAN:" in m._chat_requests([msgs], ChatParams()).pop().stop


def test_chat_cache_serves_repeat_without_forward(tiny_model_dir, tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    m = make(tiny_model_dir, cache=cache)
    calls = []
    m.model.register_forward_pre_hook(lambda *a: calls.append(1))
    msgs = [{"role": "user", "content": "Write a short poem about the sea."}]
    params = ChatParams(max_tokens=8)
    first = asyncio.run(m.chat(msgs, params))
    n_calls = len(calls)
    assert not first.cached and n_calls > 0 and first.completion_tokens > 0
    second = asyncio.run(m.chat(msgs, params))
    assert second.cached and second.text == first.text and len(calls) == n_calls
    assert cache.hits == 1
    # chat_many mixes hits and misses; a different parameter is a different key.
    other = [{"role": "user", "content": "hello there"}]
    both = m.chat_many([msgs, other], params)
    assert [r.cached for r in both] == [True, False] and both[0].text == first.text
    assert not m.chat_many([msgs], ChatParams(max_tokens=9))[0].cached


def test_chat_many_equals_single_chats(model):
    convs = [[{"role": "user", "content": p}] for p in PROMPTS[:5]]
    params = ChatParams(max_tokens=6)
    batched = model.chat_many(convs, params)
    single = [asyncio.run(model.chat(c, params)) for c in convs]
    assert [r.text for r in batched] == [r.text for r in single]


@pytest.mark.parametrize(("batch_size", "mode"), [(1, "staged"), (4, "staged"), (4, "packed")])
def test_shared_prefix_equals_naive(tiny_model_dir, batch_size, mode):
    """The one shared-prefix scorer (arena.models.prefix) on an HFModel's weights."""
    from arena.models.prefix import score_groups

    m = make(tiny_model_dir, batch_size=batch_size)
    ctx = m.token_ids("Question: What colour is the sky? Answer:", "")[0]
    conts = [m.token_ids("x", c)[1] for c in CONTINUATIONS]
    calls = []
    m.model.register_forward_pre_hook(lambda *a: calls.append(1))
    [fast] = score_groups(m.model, [(ctx, conts)], m.max_seq_len, batch_size, mode=mode)
    assert len(calls) < len(conts)  # the context is encoded once, not once per option
    naive = m.nll_from_ids([(ctx, c) for c in conts])
    for f, n in zip(fast, naive):
        assert f.nll == pytest.approx(n.nll, abs=1e-4)
        assert (f.n_tokens, f.is_greedy) == (n.n_tokens, n.is_greedy)
    # nothing shared is consumed: a second call gives the same numbers
    assert score_groups(m.model, [(ctx, conts)], m.max_seq_len, batch_size, mode=mode) == [fast]


def test_chat_cache_tells_system_prompts_apart(tiny_model_dir, tmp_path):
    from arena.core.cache import Cache
    from arena.models.base import ChatParams
    from arena.models.hf import HFModel

    cache = Cache(tmp_path / "cache.sqlite")
    plain = HFModel(tiny_model_dir, name="plain", cache=cache)
    terse = HFModel(tiny_model_dir, name="terse", system_prompt="Be terse.", cache=cache)
    msgs = [[{"role": "user", "content": "hello there"}]]
    params = ChatParams(max_tokens=4)
    plain.chat_many(msgs, params)
    [reply] = terse.chat_many(msgs, params)
    assert not reply.cached  # another system prompt is another call
    assert terse.chat_many(msgs, params)[0].cached
