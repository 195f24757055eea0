"""OpenAICompatModel against a real HTTP server on 127.0.0.1 (no SDK mocks)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from arena.core.cache import Cache
from arena.core.errors import BackendError, MissingKeyError
from arena.models.base import ChatModel, ChatParams, GenerateRequest, LoglikelihoodRequest
from arena.models.openai_compat import OpenAICompatModel, is_loopback
from arena.models.ratelimit import SharedTokenBucket, TokenBucket
from arena.models.testserver import FakeOpenAIServer, Fault

KEY = "sk-test-DO-NOT-LEAK-1234567890"
MSG = [{"role": "user", "content": "Which is better?"}]


def make(srv: FakeOpenAIServer, **kw) -> OpenAICompatModel:
    opts = {"api_key": KEY, "backoff_base": 0.01, "backoff_max": 0.05, "max_retries": 3, "timeout": 5.0}
    return OpenAICompatModel("judge", base_url=srv.base_url, **{**opts, **kw})


def one(model: OpenAICompatModel, params: ChatParams | None = None, msgs=MSG):
    return model.chat_many([msgs], params)[0]


def test_429_then_success_honours_retry_after():
    with FakeOpenAIServer(replies=["A"], faults=[Fault("429", retry_after=0.4)]) as srv:
        model = make(srv)
        t0 = time.perf_counter()
        r = one(model)
        elapsed = time.perf_counter() - t0
    assert r.text == "A" and r.extra["attempts"] == 2
    assert srv.requests == 2
    assert elapsed >= 0.4  # backoff alone would have waited <= 0.05 s


def test_500_retried_then_clear_error_without_key(caplog):
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(faults=["500"] * 10) as srv:
        model = make(srv, max_retries=3)
        with pytest.raises(BackendError) as info:
            one(model)
    msg = str(info.value)
    assert srv.requests == 4
    assert f"{srv.base_url}/chat/completions" in msg and "HTTP 500" in msg and "4 attempt" in msg
    assert all(h == f"Bearer {KEY}" for h in srv.auth_headers)  # the key is sent...
    for text in (msg, repr(info.value), repr(model), caplog.text):  # ...and never shown
        assert KEY not in text
    assert "retry 3/3" in caplog.text


def test_non_retryable_status_fails_at_once():
    with FakeOpenAIServer(logprobs=False) as srv:
        model = make(srv)
        with pytest.raises(BackendError, match="HTTP 404"):
            asyncio.run(model._call("/nowhere", {}))
        assert srv.requests == 1


def test_timeout_is_retried():
    with FakeOpenAIServer(replies=["late"], faults=["timeout"], timeout_sleep=5) as srv:
        model = make(srv, timeout=0.3)
        r = one(model)
    assert r.text == "late" and srv.requests == 2


def test_garbage_body_retried_then_error():
    with FakeOpenAIServer(faults=["garbage"] * 3) as srv:
        with pytest.raises(BackendError, match="3 attempt.*not JSON"):
            one(make(srv, max_retries=2))
        assert srv.requests == 3


def test_success_after_mixed_transient_faults():
    faults = ["503", "garbage", "500", Fault("429")]
    with FakeOpenAIServer(replies=["ok"], faults=faults) as srv:
        r = one(make(srv, max_retries=4))
    assert r.text == "ok" and r.extra["attempts"] == 5 and srv.requests == 5


def test_cache_hits_misses_params_and_errors(tmp_path):
    cache = Cache(tmp_path / "cache.sqlite")
    with FakeOpenAIServer(replies=["first", "second", "third"]) as srv:
        model = make(srv, cache=cache, price_in=2.0, price_out=10.0)
        a = one(model)
        b = one(model)
        assert srv.requests == 1 and b.cached and not a.cached
        assert (b.text, b.prompt_tokens, b.completion_tokens) == (a.text, a.prompt_tokens, a.completion_tokens)
        # usage from the server: 3 prompt words, 1 completion word
        assert a.extra["cost"] == pytest.approx((3 * 2.0 + 1 * 10.0) / 1e6)
        assert b.extra["cost"] == 0.0 and b.extra["cached_cost"] == a.extra["cost"]
        c = one(model, ChatParams(temperature=0.7))
        assert srv.requests == 2 and c.text == "second" and not c.cached
        srv.add_faults("500")
        with pytest.raises(BackendError):
            one(make(srv, cache=cache, max_retries=0), msgs=[{"role": "user", "content": "new"}])
        d = one(model, msgs=[{"role": "user", "content": "new"}])  # the error was not cached
        assert srv.requests == 4 and d.text == "third" and not d.cached
    # a new process (new model object, same file) still hits
    again = make(srv, cache=Cache(tmp_path / "cache.sqlite"))
    assert one(again).text == "first"


def test_missing_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("MY_JUDGE_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="MY_JUDGE_KEY"):
        OpenAICompatModel("gpt", base_url="https://api.example.com/v1", api_key_env="MY_JUDGE_KEY")
    monkeypatch.setenv("MY_JUDGE_KEY", KEY)
    model = OpenAICompatModel("gpt", base_url="https://api.example.com/v1", api_key_env="MY_JUDGE_KEY")
    assert KEY not in repr(model)
    assert is_loopback("http://localhost:8000/v1") and is_loopback("http://[::1]:1/v1")
    assert not is_loopback("https://api.openai.com/v1")


def test_loopback_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer() as srv:
        model = OpenAICompatModel("local", base_url=srv.base_url)
        assert isinstance(model, ChatModel)
        assert one(model).text == "Echo: Which is better?"
    assert srv.auth_headers == ["Bearer EMPTY"]


def test_concurrency_limit_measured_server_side():
    with FakeOpenAIServer(delay=0.1) as srv:
        model = make(srv, concurrency=3)
        out = model.chat_many([[{"role": "user", "content": str(i)}] for i in range(12)])
    assert [r.text for r in out] == [f"Echo: {i}" for i in range(12)]  # order kept
    assert srv.max_in_flight == 3


def test_qps_limit_measured_server_side():
    with FakeOpenAIServer() as srv:
        model = make(srv, concurrency=16, qps=20)
        model.chat_many([[{"role": "user", "content": str(i)}] for i in range(21)])
    t = srv.arrivals
    assert len(t) == 21
    assert t[-1] - t[0] >= 20 / 20 * 0.9  # 20 intervals of 1/20 s
    assert all(sum(1 for x in t if s <= x < s + 0.5) <= 11 for s in t)  # no burst


def test_token_bucket_arithmetic():
    bucket = TokenBucket(rate=10, burst=2)
    waits = [bucket.try_acquire() for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]  # the burst
    assert waits[2] == pytest.approx(0.1, abs=0.01) and waits[3] == pytest.approx(0.1, abs=0.01)
    time.sleep(0.1)
    assert bucket.try_acquire() == 0.0 and bucket.try_acquire() > 0.05


# Light worker (stdlib + ratelimit only) so four processes start fast on a busy 2-core box.
WORKER = textwrap.dedent("""
    import asyncio, json, sys, urllib.request
    from arena.models.ratelimit import make_limiter
    url, shared, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    limiter = make_limiter(concurrency=4, qps=10, shared_dir=shared, name=url)
    def post(i):
        body = json.dumps({"messages": [{"role": "user", "content": str(i)}]}).encode()
        req = urllib.request.Request(url + "/chat/completions", body, {"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
    async def one(i):
        async with limiter:
            await asyncio.to_thread(post, i)
    async def main():
        await asyncio.gather(*(one(i) for i in range(n)))
    asyncio.run(main())
""")


def test_shared_qps_limit_across_four_processes(tmp_path):
    with FakeOpenAIServer() as srv:
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, srv.base_url, str(tmp_path), "6"])
                 for _ in range(4)]
        assert [p.wait(60) for p in procs] == [0] * 4
    t = srv.arrivals
    assert len(t) == 24
    # 4 private 10-qps buckets would allow 40 qps (done in ~0.6 s); one shared bucket: 10 qps.
    assert (len(t) - 1) / (t[-1] - t[0]) <= 10 * 1.1
    assert all(sum(1 for x in t if s <= x < s + 1.0) <= 11 for s in t)
    bucket = SharedTokenBucket(tmp_path, "x", rate=5)
    assert bucket.try_acquire() == 0.0
    assert SharedTokenBucket(tmp_path, "x", rate=5).try_acquire() == pytest.approx(0.2, abs=0.05)


def test_models_sharing_a_rate_limit_dir_share_the_limit(tmp_path):
    with FakeOpenAIServer() as srv:
        a, b = (make(srv, qps=20, rate_limit_dir=tmp_path) for _ in range(2))

        async def both():
            msgs = [[{"role": "user", "content": str(i)}] for i in range(10)]
            await asyncio.gather(*(m.chat(x) for m in (a, b) for x in msgs))

        asyncio.run(both())
    t = srv.arrivals
    assert len(t) == 20 and (len(t) - 2) / (t[-1] - t[1]) <= 20 * 1.1  # not 40 qps


def expected_nll(text: str) -> float:
    return sum(0.1 * (1 + ord(c) % 10) for c in text)  # the server's per-character scheme


def test_loglikelihood_from_echo_logprobs(tmp_path):
    reqs = [LoglikelihoodRequest("Q: 2+2? A:", " four"), LoglikelihoodRequest("x", " ae")]
    with FakeOpenAIServer() as srv:
        model = make(srv, cache=Cache(tmp_path / "c.sqlite"))
        res = model.loglikelihood(reqs)
        again = model.loglikelihood(reqs)
        assert srv.requests == 2  # the second pass came from the cache
    assert res == again
    assert res[0].nll == pytest.approx(expected_nll(" four")) and res[0].n_tokens == 5
    assert res[1].nll == pytest.approx(expected_nll(" ae")) and res[1].is_greedy
    assert not res[0].is_greedy
    body = srv.bodies[0]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0


@pytest.mark.parametrize("mode", ["error", "omit"])
def test_server_without_prompt_logprobs_gives_clear_error(mode):
    with FakeOpenAIServer(logprobs=False, no_logprobs_mode=mode) as srv:
        with pytest.raises(BackendError, match="no prompt logprobs.*gen mode") as info:
            make(srv).loglikelihood([LoglikelihoodRequest("a", " b")])
        assert srv.requests == 1  # a refusal is not retried
    assert srv.base_url in str(info.value) and KEY not in str(info.value)


def test_generate_via_completions_and_chat():
    with FakeOpenAIServer(replies=[" Paris", "Rome"]) as srv:
        g1 = make(srv).generate([GenerateRequest("Capital of France:", 8, stop=("\n",))])
        g2 = make(srv, generate_endpoint="chat").generate([GenerateRequest("Capital of Italy?", 8)])
    assert g1[0].text == " Paris" and g2[0].text == "Rome"
    assert srv.bodies[0]["prompt"] == "Capital of France:" and srv.bodies[0]["stop"] == ["\n"]
    assert srv.bodies[1]["messages"][0]["content"] == "Capital of Italy?"


def test_responder_system_prompt_and_running_loop():
    def responder(req: dict) -> str:
        return "[[A]]" if "first" in req["messages"][-1]["content"] else "[[B]]"

    with FakeOpenAIServer(responder=responder) as srv:
        model = make(srv, system_prompt="You are a judge.")

        async def inside_a_loop():  # e.g. a notebook or the UI's loop
            return model.chat_many([[{"role": "user", "content": w}] for w in ("first", "second")])

        out = asyncio.run(inside_a_loop())
        direct = asyncio.run(model.chat([{"role": "user", "content": "first"}], ChatParams(seed=3)))
    assert [r.text for r in out] == ["[[A]]", "[[B]]"] and direct.text == "[[A]]"
    assert srv.bodies[0]["messages"][0] == {"role": "system", "content": "You are a judge."}
    assert srv.bodies[-1]["seed"] == 3


def test_server_stops_by_itself():
    srv = FakeOpenAIServer(max_lifetime=0.2).start()
    srv._thread.join(5)
    assert not srv._thread.is_alive()
    assert Path(__file__).exists()


def test_shared_bucket_setup_retries_a_locked_file():
    """SQLite can refuse the WAL switch at once while other processes open the file."""
    import sqlite3

    from arena.core.sqlite_retry import retry_locked

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    assert retry_locked(flaky) == "ok" and len(calls) == 3
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(lambda: (_ for _ in ()).throw(sqlite3.OperationalError("no such table: t")))
