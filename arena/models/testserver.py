"""A small OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks.

It runs an asyncio loop in a daemon thread (stdlib only), so a slow reply (`delay`, a
`timeout` fault) costs a sleeping coroutine, not a thread: hundreds of concurrent
connections are cheap. Replies are scripted; faults are queued for the next requests;
every request is counted so a test can assert what really reached the server.

    with FakeOpenAIServer(replies=["hi"], faults=["429"]) as srv:
        model = OpenAICompatModel("m", base_url=srv.base_url)
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Responder = Callable[[dict], str]
TokenLogprobs = Callable[[str], list[tuple[str, float]]]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}
FAULT_KINDS = ("429", "500", "503", "timeout", "garbage")


@dataclass(frozen=True)
class Fault:
    """One injected failure: an HTTP status, a hang (`timeout`) or a non-JSON 200 (`garbage`)."""

    kind: str
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {FAULT_KINDS}")


def char_logprobs(text: str) -> list[tuple[str, float]]:
    """Deterministic per-character 'tokens': logprob of char c is -0.1 * (1 + ord(c) % 10)."""
    return [(c, -0.1 * (1 + ord(c) % 10)) for c in text]


def count_words(text: str) -> int:
    """The server's token count: whitespace-separated words (deterministic, easy to check)."""
    return len(text.split())


@dataclass
class SSEStream:
    """A `stream: true` chat reply: OpenAI's server-sent event chunks, one per word piece."""

    chunks: list[dict]
    gap: float = 0.0

    @classmethod
    def of_chat(cls, reply: dict, gap: float) -> SSEStream:
        text = reply["choices"][0]["message"]["content"]
        pieces = re.findall(r"\s*\S+|\s+", text) or [""]
        base = {"id": reply["id"], "object": "chat.completion.chunk", "created": reply["created"],
                "model": reply["model"]}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                        "finish_reason": None}]}]
        chunks += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
                   for p in pieces]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append({**base, "choices": [], "usage": reply["usage"]})
        return cls(chunks, gap)

    async def write(self, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")
        for chunk in self.chunks:
            writer.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await writer.drain()
            if self.gap:
                await asyncio.sleep(self.gap)
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()


class FakeOpenAIServer:
    """An OpenAI-compatible server with scripted replies, injected faults and counters.

    Args:
        replies: texts returned in order; when exhausted, `responder` or an echo is used.
        responder: `f(request_json) -> str` used when no scripted reply is left.
        faults: failures applied to the next requests, in order (`"429"`, `Fault("429", 1.0)`...).
        delay: seconds each successful reply waits (without blocking other requests).
        logprobs: whether /v1/completions supports `echo` + `logprobs` on the prompt.
        no_logprobs_mode: without logprobs, `"error"` answers 400, `"omit"` returns none.
        token_logprobs: `f(prompt) -> [(token, logprob)]`; default `char_logprobs`.
        model_name: the id listed by GET /v1/models.
        flavor: whose /v1/completions prompt logprobs to answer like (`FLAVORS`): "openai"
            (the legacy shape), "vllm" (that shape plus `prompt_logprobs`, per token id),
            "sglang" (text offsets all -1) or "lmdeploy" (no echo, logprobs of new tokens
            only, max_tokens=0 refused).
        timeout_sleep: how long a `timeout` fault hangs before answering.
        max_lifetime: hard stop after this many seconds, so a server never outlives a test.
    """

    stream_gap = 0.0  # seconds between the chunks of a streamed reply (set per instance)

    def __init__(
        self,
        replies: list[str] | None = None,
        responder: Responder | None = None,
        faults: list[str | Fault] | None = None,
        delay: float = 0.0,
        logprobs: bool = True,
        no_logprobs_mode: str = "error",
        token_logprobs: TokenLogprobs | None = None,
        model_name: str = "fake-model",
        timeout_sleep: float = 30.0,
        max_lifetime: float = 600.0,
        flavor: str = "openai",
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}")
        self.flavor = flavor
        self.replies: deque[str] = deque(replies or [])
        self.responder = responder
        self.faults: deque[Fault] = deque()
        self.add_faults(*(faults or []))
        self.delay, self.logprobs, self.no_logprobs_mode = delay, logprobs, no_logprobs_mode
        self.token_logprobs = token_logprobs or char_logprobs
        self.model_name, self.timeout_sleep, self.max_lifetime = model_name, timeout_sleep, max_lifetime
        self._lock = threading.Lock()
        self.requests = 0
        self.by_endpoint: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.auth_headers: list[str] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request, for rate checks
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- public ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add_faults(self, *faults: str | Fault) -> None:
        """Queue failures for the next requests (thread-safe)."""
        items = [f if isinstance(f, Fault) else Fault(str(f)) for f in faults]
        with getattr(self, "_lock", threading.Lock()):
            self.faults.extend(items)

    def reset_counters(self) -> None:
        with self._lock:
            self.requests, self.in_flight, self.max_in_flight = 0, 0, 0
            self.by_endpoint.clear()
            self.bodies.clear()
            self.auth_headers.clear()
            self.arrivals.clear()

    def stats(self) -> dict:
        """A snapshot of the counters (what GET /_stats returns)."""
        with self._lock:
            return {"requests": self.requests, "by_endpoint": dict(self.by_endpoint),
                    "max_in_flight": self.max_in_flight}

    def start(self) -> FakeOpenAIServer:
        """Start serving in a daemon thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"fake server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # loop already closed by the lifetime limit
                pass
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- serving -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as e:  # surface bind errors to start()
            self._error = e
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            tasks.add(task)
            try:
                await self._connection(reader, writer)
            except asyncio.CancelledError:
                pass  # shutdown; Python 3.11's stream callback chokes on a cancelled task
            finally:
                tasks.discard(task)

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await asyncio.wait_for(self._stop.wait(), self.max_lifetime)
        except asyncio.TimeoutError:
            pass
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                status, extra, payload = await self._dispatch(method, path, headers, body)
                if isinstance(payload, SSEStream):  # streamed chat: ends with the connection
                    await payload.write(writer)
                    break
                writer.write(_response_bytes(status, extra, payload))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _dispatch(self, method: str, path: str, headers: dict, body: bytes) -> tuple:
        path = path.split("?", 1)[0].rstrip("/")
        if path == "/_stats":  # counters for a server in another process; not counted
            return 200, {}, self.stats()
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        with self._lock:
            self.requests += 1
            self.by_endpoint[path] += 1
            self.bodies.append(data)
            self.auth_headers.append(headers.get("authorization", ""))
            self.arrivals.append(time.monotonic())
            fault = self.faults.popleft() if self.faults else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(method, path, data, fault)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, method: str, path: str, data: dict, fault: Fault | None) -> tuple:
        if fault is not None:
            return await self._fault(fault)
        if self.delay:
            await asyncio.sleep(self.delay)
        if method == "GET" and path.endswith("/models"):
            return 200, {}, {"object": "list", "data": [{"id": self.model_name, "object": "model"}]}
        if method == "POST" and path.endswith("/chat/completions"):
            if data.get("stream"):
                return 200, {}, SSEStream.of_chat(self._chat(data), self.stream_gap)
            return 200, {}, self._chat(data)
        if method == "POST" and path.endswith("/completions"):
            return self._completion(data)
        return 404, {}, _error(f"no route {method} {path}", "not_found")

    async def _fault(self, fault: Fault) -> tuple:
        if fault.kind == "timeout":
            await asyncio.sleep(self.timeout_sleep)
            return 503, {}, _error("timed out", "timeout")
        if fault.kind == "garbage":
            return 200, {"Content-Type": "application/json"}, b"<html>not json"
        extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return int(fault.kind), extra, _error(f"injected {fault.kind}", "server_error")

    def _next_text(self, data: dict, default: str) -> str:
        with self._lock:
            scripted = self.replies.popleft() if self.replies else None
        if scripted is not None:
            return scripted
        if self.responder is not None:
            return self.responder(data)
        return default

    def _chat(self, data: dict) -> dict:
        messages = data.get("messages") or []
        last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        text = self._next_text(data, f"Echo: {last}")
        prompt = " ".join(str(m.get("content", "")) for m in messages)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        return _envelope("chat.completion", data, self.model_name, choice, prompt, text)

    def _completion(self, data: dict) -> tuple:
        prompt = data.get("prompt", "")
        prompt = prompt[0] if isinstance(prompt, list) and prompt else str(prompt)
        if self.flavor == "lmdeploy":
            return self._lmdeploy_completion(data, prompt)
        wants_lp = data.get("logprobs") is not None and data.get("echo")
        if wants_lp and not self.logprobs and self.no_logprobs_mode == "error":
            return 400, {}, _error("echo with logprobs is not supported", "invalid_request_error")
        max_tokens = data.get("max_tokens", 16)
        text = "" if max_tokens == 0 else self._next_text(data, " echo")
        choice: dict[str, Any] = {"index": 0, "text": (prompt + text) if data.get("echo") else text,
                                  "finish_reason": "length", "logprobs": None}
        if wants_lp and self.logprobs:
            choice["logprobs"] = self._prompt_logprobs(prompt)
            if self.flavor == "sglang":  # to_openai_style_logprobs: "Not supported yet"
                choice["logprobs"]["text_offset"] = [-1] * len(choice["logprobs"]["tokens"])
            elif self.flavor == "vllm":  # CompletionResponseChoice.prompt_logprobs
                choice["prompt_logprobs"] = [
                    None if lp is None else {str(_fake_id(tok)): {"logprob": lp, "rank": 1, "decoded_token": tok}}
                    for tok, lp in zip(choice["logprobs"]["tokens"], choice["logprobs"]["token_logprobs"])]
        return 200, {}, _envelope("text_completion", data, self.model_name, choice, prompt, text)

    def _lmdeploy_completion(self, data: dict, prompt: str) -> tuple:
        """lmdeploy's api_server: `echo` is ignored and logprobs cover generated tokens only."""
        max_tokens = data.get("max_tokens", 16)
        if max_tokens is not None and max_tokens <= 0:
            return 400, {}, _error(f"The max_tokens {max_tokens!r} must be a positive integer.",
                                   "invalid_request_error")
        text = self._next_text(data, " echo")
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
        if data.get("logprobs"):
            lp = self._prompt_logprobs("x" + text)  # a first token has none: drop the stand-in
            choice["logprobs"] = {k: v[1:] for k, v in lp.items()}
            choice["logprobs"]["text_offset"] = [o - 1 for o in choice["logprobs"]["text_offset"]]
        return 200, {}, _envelope("text_completion", data, self.model_name, choice, prompt, text)

    def _prompt_logprobs(self, prompt: str) -> dict:
        tokens, lps, offsets, tops = [], [], [], []
        pos = 0
        for i, (tok, lp) in enumerate(self.token_logprobs(prompt)):
            tokens.append(tok)
            offsets.append(pos)
            pos += len(tok)
            # The first token has no context, as on real servers; "greedy" tokens are vowels/space.
            lps.append(None if i == 0 else lp)
            greedy = tok in "aeiou "
            tops.append(None if i == 0 else ({tok: lp} if greedy else {"e": -0.05, tok: lp}))
        return {"tokens": tokens, "token_logprobs": lps, "text_offset": offsets, "top_logprobs": tops}


FLAVORS = ("openai", "vllm", "sglang", "lmdeploy")


def _fake_id(token: str) -> int:
    return sum(map(ord, token)) % 50_000


def _envelope(obj: str, data: dict, model: str, choice: dict, prompt: str, text: str) -> dict:
    pt, ct = count_words(prompt), count_words(text)
    return {"id": "fake-1", "object": obj, "created": int(time.time()),
            "model": data.get("model", model), "choices": [choice],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "code": None}}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict, bytes] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, path, _version = line.decode("latin-1").split(None, 2)
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", 0))
    body = await reader.readexactly(n) if n else b""
    return method, path, headers, body


def _response_bytes(status: int, extra: dict, payload: dict | bytes) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = {"Content-Type": "application/json", "Content-Length": str(len(body)),
            "Connection": "keep-alive", **extra}
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class SubprocessFakeServer:
    """A FakeOpenAIServer in its own process, so its CPU does not share our GIL (benchmarks).

    Only plain options cross the process boundary (`delay`, `replies`, `logprobs`...);
    counters come from GET /_stats. The child exits when our end of its stdin closes.
    """

    def __init__(self, delay: float = 0.0, max_lifetime: float = 600.0) -> None:
        self.delay, self.max_lifetime = delay, max_lifetime
        self.base_url = ""
        self._proc: Any = None

    def __enter__(self) -> SubprocessFakeServer:
        import subprocess
        import sys

        cmd = [sys.executable, "-m", "arena.models.testserver", "--delay", str(self.delay),
               "--max-lifetime", str(self.max_lifetime)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self._proc.stdout.readline().strip()
        if not self.base_url.startswith("http"):
            self._proc.kill()
            raise RuntimeError("fake server subprocess did not start")
        return self

    def stats(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/_stats", timeout=10) as r:
            return json.loads(r.read())

    def __exit__(self, *exc: object) -> None:
        self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except Exception:
            self._proc.kill()


def _main() -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(description="Run a FakeOpenAIServer until stdin closes.")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--max-lifetime", type=float, default=600.0)
    args = ap.parse_args()
    with FakeOpenAIServer(delay=args.delay, max_lifetime=args.max_lifetime) as srv:
        print(srv.base_url, flush=True)
        sys.stdin.read()  # returns at EOF: the parent exited or closed the pipe


if __name__ == "__main__":
    _main()
