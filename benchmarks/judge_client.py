"""Throughput of the OpenAI-compatible client as a judge would use it.

2000 chat calls, concurrency 32, against a loopback server that answers after 50 ms, with a
fresh cache; then the same 2000 calls again, which must all come from the cache.
The ideal wall time is 2000 * 0.05 / 32 s; the goal is a ratio <= 1.15.

The server runs in its own process by default (as a real server would, so its CPU does not
compete with the client for the GIL); `--in-process` runs it in a thread of this process.

    .venv/bin/python benchmarks/judge_client.py [--n 2000] [--concurrency 32] [--in-process]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from arena.core.cache import Cache
from arena.models.base import ChatParams
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testserver import FakeOpenAIServer, SubprocessFakeServer


def run(n: int, concurrency: int, delay: float, in_process: bool) -> dict:
    """Run both passes and return the measured numbers."""
    server = FakeOpenAIServer(delay=delay) if in_process else SubprocessFakeServer(delay=delay)
    messages = [[{"role": "user", "content": f"Judge answer number {i}."}] for i in range(n)]
    with server, tempfile.TemporaryDirectory() as tmp:
        count = (lambda: server.requests) if in_process else (lambda: server.stats()["requests"])
        model = OpenAICompatModel("judge", base_url=server.base_url, concurrency=concurrency,
                                  cache=Cache(Path(tmp) / "cache.sqlite"))
        params = ChatParams(max_tokens=16)
        before = count()
        t0, c0 = time.perf_counter(), time.process_time()
        first = model.chat_many(messages, params)
        cold, cpu = time.perf_counter() - t0, time.process_time() - c0
        calls_cold = count() - before
        t0 = time.perf_counter()
        second = model.chat_many(messages, params)
        warm = time.perf_counter() - t0
        calls_warm = count() - before - calls_cold
    assert all(r.text == f"Echo: {m[0]['content']}" for r, m in zip(first, messages))
    assert all(r.cached for r in second)
    ideal = n * delay / concurrency
    return {"cold_s": cold, "ideal_s": ideal, "ratio": cold / ideal, "calls_cold": calls_cold,
            "client_cpu_ms_per_call": 1000 * cpu / n,
            "warm_s": warm, "calls_warm": calls_warm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--in-process", action="store_true", help="server in a thread of this process")
    args = ap.parse_args()
    r = run(args.n, args.concurrency, args.delay, args.in_process)
    where = "in-process thread" if args.in_process else "subprocess"
    print(f"server: {where}; {args.n} calls, concurrency {args.concurrency}, delay {args.delay}s")
    print(f"cold run:  {r['cold_s']:.2f} s wall, ideal {r['ideal_s']:.2f} s, "
          f"ratio {r['ratio']:.2f} (goal <= 1.15), server calls {r['calls_cold']}")
    print(f"           CPU of this process {r['client_cpu_ms_per_call']:.2f} ms per call "
          f"(the ratio cannot beat ~max(1, n * cpu / ideal) on a busy machine)")
    print(f"warm run:  {r['warm_s']:.2f} s wall, server calls {r['calls_warm']} (goal 0)")


if __name__ == "__main__":
    main()
