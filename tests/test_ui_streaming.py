"""Streaming chat in the backends used by live battles: the tiny HF model and an
OpenAI-compatible server on 127.0.0.1, piece by piece, equal to the non-streamed answer,
and sharing its cache entry."""

from __future__ import annotations

import asyncio

import httpx

from arena.core.cache import Cache
from arena.models.base import ChatParams, ChatResponse
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testing import tiny_hf_model
from arena.models.testserver import FakeOpenAIServer

MSGS = [{"role": "user", "content": "Tell me about the sea."}]


def _collect(items) -> tuple[list[str], ChatResponse]:
    items = list(items)
    assert isinstance(items[-1], ChatResponse) and all(isinstance(p, str) for p in items[:-1])
    return items[:-1], items[-1]


def test_hf_stream_equals_chat_and_is_cached(tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    model = tiny_hf_model(tmp_path, cache=cache)
    params = ChatParams(temperature=0.0, max_tokens=24)
    pieces, final = _collect(model.chat_stream(MSGS, params))
    assert len(pieces) > 3  # token by token, not one block
    assert "".join(pieces) == final.text and not final.cached
    assert 0 < final.completion_tokens <= 24
    plain = tiny_hf_model(tmp_path).chat_many([MSGS], params)[0]  # no cache: a fresh generation
    assert plain.text == final.text
    again_pieces, again = _collect(model.chat_stream(MSGS, params))
    assert again.cached and again_pieces == [final.text]
    assert model.chat_many([MSGS], params)[0].cached  # chat_many sees the streamed entry


def test_openai_stream_from_loopback_server(tmp_path):
    text = "The sea is wide and deep, and full of fish."
    with FakeOpenAIServer(replies=[text, text]) as srv:
        srv.stream_gap = 0.01
        # the raw protocol: server-sent events with OpenAI's chunk objects
        with httpx.stream(
            "POST",
            srv.base_url + "/chat/completions",
            json={"model": "m", "messages": MSGS, "stream": True},
        ) as r:
            assert r.headers["content-type"] == "text/event-stream"
            lines = [ln for ln in r.iter_lines() if ln.startswith("data:")]
        assert lines[-1] == "data: [DONE]" and len(lines) > 10
        cache = Cache(tmp_path / "cache.sqlite")
        model = OpenAICompatModel("fake", base_url=srv.base_url, cache=cache)

        async def run(m):
            return [x async for x in m.chat_stream(MSGS, ChatParams(max_tokens=64))]

        pieces, final = _collect(asyncio.run(run(model)))
        assert "".join(pieces) == text == final.text and len(pieces) == len(text.split())
        assert (
            final.completion_tokens == len(text.split()) and final.extra["finish_reason"] == "stop"
        )
        assert srv.bodies[-1]["stream"] is True
        n = srv.requests
        pieces, again = _collect(asyncio.run(run(model)))  # same call: from the cache
        assert again.cached and pieces == [text] and srv.requests == n
        # the streamed answer is chat()'s cache entry too (one key for the model's identity)
        assert asyncio.run(model.chat(MSGS, ChatParams(max_tokens=64))).cached
        assert srv.requests == n

        async def sampled(m):
            return [x async for x in m.chat_stream(MSGS, ChatParams(temperature=0.7, max_tokens=8))]

        for _ in range(2):  # sampled without a seed: never served from the cache
            _, sample = _collect(asyncio.run(sampled(model)))
            assert not sample.cached
        assert srv.requests == n + 2
