"""ppl through serving engines' prompt logprobs (vLLM, SGLang; lmdeploy has none), emulated
in the test server with each engine's own response shape, over real loopback HTTP."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from arena.core.errors import BackendError
from arena.models.base import LoglikelihoodRequest
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testserver import FakeOpenAIServer


def words(text: str) -> list[tuple[str, float]]:
    """Word-piece 'tokens' (leading space attached); logprob = -0.1 per character."""
    return [(t, -0.1 * len(t)) for t in re.findall(r"\s*\S+|\s+", text)]


REQS = [LoglikelihoodRequest("The capital of France is", " Paris"),
        LoglikelihoodRequest("The capital of France is", " the city of Lyon"),
        LoglikelihoodRequest("Q: 2+2? A:", " 4")]
# independent golden numbers: the continuation's word pieces, 0.1 per character
GOLD = [(0.6, 1), (1.7, 4), (0.2, 1)]


@pytest.mark.parametrize("flavor", ["openai", "vllm", "sglang"])
def test_prompt_logprobs_of_each_engine_give_the_same_nll(flavor):
    with FakeOpenAIServer(flavor=flavor, token_logprobs=words, max_lifetime=60) as srv:
        model = OpenAICompatModel("m", model="fake-model", base_url=srv.base_url, max_retries=0)
        got = model.loglikelihood(REQS)
        body = srv.bodies[-1]
    assert [(round(r.nll, 6), r.n_tokens) for r in got] == GOLD
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0


def test_engine_shapes_are_the_engines_own():
    import httpx

    body = {"model": "m", "prompt": "The capital of France is Paris", "echo": True, "logprobs": 1, "max_tokens": 0}
    shapes = {}
    for flavor in ("vllm", "sglang", "lmdeploy"):
        with FakeOpenAIServer(flavor=flavor, token_logprobs=words, max_lifetime=60) as srv:
            shapes[flavor] = httpx.post(f"{srv.base_url}/completions", json=body, timeout=10)
    vllm = shapes["vllm"].json()["choices"][0]
    assert vllm["text"] == body["prompt"] and vllm["logprobs"]["token_logprobs"][0] is None
    assert vllm["prompt_logprobs"][0] is None  # per prompt token: None or {token id: Logprob}
    (tid, lp), = vllm["prompt_logprobs"][1].items()
    assert tid.isdigit() and set(lp) == {"logprob", "rank", "decoded_token"} and lp["decoded_token"] == " capital"
    sgl = shapes["sglang"].json()["choices"][0]["logprobs"]
    assert set(sgl["text_offset"]) == {-1}  # SGLang does not fill offsets
    assert shapes["lmdeploy"].status_code == 400  # max_tokens must be positive there


def test_lmdeploy_without_prompt_logprobs_is_a_clear_gen_mode_error():
    with FakeOpenAIServer(flavor="lmdeploy", token_logprobs=words, max_lifetime=60) as srv:
        model = OpenAICompatModel("m", model="fake-model", base_url=srv.base_url, max_retries=0)
        with pytest.raises(BackendError, match="gen mode"):
            model.loglikelihood(REQS[:1])


def test_an_engine_that_ignores_echo_is_never_scored():
    # lmdeploy with max_tokens >= 1 answers logprobs of its new tokens only: refusing them is
    # the only right answer (summing them would score the wrong text)
    with FakeOpenAIServer(flavor="lmdeploy", token_logprobs=words, max_lifetime=60) as srv:
        model = OpenAICompatModel("m", model="fake-model", base_url=srv.base_url, max_retries=0)

        async def call():
            return await model._call("/completions", {"model": "fake-model", "prompt": "Hi there", "echo": True,
                                                      "logprobs": 1, "max_tokens": 3})
        result, _ = model._run_sync(call)
    assert not result["choices"][0]["text"].startswith("Hi there")


def test_arena_list_shows_how_to_start_each_engine():
    from arena.cli import app

    res = CliRunner().invoke(app, ["list", "vllm", "sglang", "lmdeploy", "--json"])
    assert res.exit_code == 0, res.output
    names = json.loads(res.output)["models"]
    assert {"vllm", "sglang", "lmdeploy"} <= set(names)
    text = CliRunner().invoke(app, ["list", "sglang"]).output
    assert "sglang.launch_server" in text
