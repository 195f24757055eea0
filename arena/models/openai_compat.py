"""Any OpenAI-compatible API (OpenAI, vLLM, llama.cpp, transformers serve...) as a ChatModel.

The `openai` SDK does the HTTP; this facade owns what an evaluation needs around it:
our own retry loop (exponential backoff with full jitter, `Retry-After` honoured), a
concurrency limit and a qps bucket, the content-hash cache (errors never cached), usage,
latency and cost per call. Keys never appear in errors, reprs or logs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
import openai

from arena.core.cache import Cache
from arena.core.errors import BackendError, MissingKeyError
from arena.models.base import (
    ChatParams,
    ChatResponse,
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Message,
    api_identity,
    cacheable,
)
from arena.models.ratelimit import make_limiter

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# 408 timeout, 409 conflict/lock, 425 too early, 429 rate limit: worth another try, like 5xx.
RETRY_STATUS = {408, 409, 425, 429}


def is_loopback(url: str) -> bool:
    """True for http(s)://localhost, 127.x.x.x or [::1]: local servers need no key."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False



def _cached_response(hit: dict[str, Any]) -> ChatResponse:
    """A stored answer served again: it costs nothing now, and says what it cost then."""
    extra = {**hit["extra"], "cost": 0.0, "cached_cost": hit["extra"]["cost"]}
    return ChatResponse(**{**hit, "cached": True, "extra": extra})

class _Garbage(Exception):
    """A 2xx reply whose body is not the JSON object we asked for."""


def _reply_json(content: bytes) -> dict:
    try:
        data = json.loads(content)
    except ValueError as e:
        raise _Garbage(f"reply is not JSON: {content[:60]!r}") from e
    if not isinstance(data, dict) or not data.get("choices"):
        raise _Garbage(f"reply has no choices: {content[:60]!r}")
    return data


def _usage(data: dict) -> tuple[int, int]:
    usage = data.get("usage") or {}
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


class _Batcher:
    """Group the calls made in the same moment into one call in a worker thread.

    With 32 requests in flight, one SQLite transaction per cache write (a full fsync) and
    one thread hop per lookup cost more CPU than the HTTP calls; grouping them
    (group commit) makes the cache nearly free. `fn_many(items) -> results`, same order.
    """

    def __init__(self, fn_many: Callable[[list], list]) -> None:
        self.fn_many = fn_many
        self.pending: list[tuple[Any, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, item: Any) -> Any:
        fut = asyncio.get_running_loop().create_future()
        self.pending.append((item, fut))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                results = await asyncio.to_thread(self.fn_many, [item for item, _ in batch])
            except Exception as e:
                results, error = [None] * len(batch), e
            else:
                error = None
            for (_, fut), res in zip(batch, results):
                if not fut.done():
                    fut.set_result(res) if error is None else fut.set_exception(error)


def _http_client(timeout: float) -> Any:
    """The SDK's aiohttp transport when installed (`openai[aiohttp]`): about half the client
    CPU per call of the default httpx one, which matters at thousands of judge calls."""
    try:
        return openai.DefaultAioHttpClient(timeout=timeout)
    except (AttributeError, RuntimeError, ImportError):  # extra not installed: SDK default
        return None


class OpenAICompatModel:
    """A chat model (and, where the server allows, a scoring model) behind an OpenAI API.

    Args:
        name: our name of the model (records, reports).
        model: the model id sent to the server; defaults to `name`.
        base_url: e.g. "http://127.0.0.1:8000/v1"; defaults to OpenAI.
        api_key_env: environment variable holding the key.
        api_key: the key itself (wins over the env var).
        concurrency: most requests in flight at once.
        qps: most requests sent per second (None: unlimited).
        max_retries: extra attempts after the first on 429/5xx/timeouts/bad bodies.
        timeout: seconds per attempt.
        backoff_base, backoff_max: backoff is uniform(0, min(max, base * 2**attempt)).
        cache: where identical calls are remembered (None: no cache).
        price_in, price_out: USD per 1M prompt / completion tokens.
        system_prompt: prepended as a system message when the messages have none.
        generate_endpoint: "completions" or "chat" for `generate`.
        rate_limit_dir: when set, the qps limit is shared by all processes using this
            directory and model name (one global limit for a pool of workers).
    """

    def __init__(
        self,
        name: str,
        model: str | None = None,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        api_key: str | None = None,
        concurrency: int = 8,
        qps: float | None = None,
        max_retries: int = 4,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
        cache: Cache | None = None,
        price_in: float = 0.0,
        price_out: float = 0.0,
        system_prompt: str | None = None,
        generate_endpoint: str = "completions",
        rate_limit_dir: str | Path | None = None,
    ) -> None:
        self.name, self.model = name, model or name
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.identity = api_identity(self.base_url, self.model, system_prompt)  # every content key
        self.api_key_env = api_key_env
        key = api_key or os.environ.get(api_key_env)
        if not key:
            if not is_loopback(self.base_url):
                raise MissingKeyError(
                    f"model '{name}': environment variable {api_key_env} is not set "
                    f"(needed for {self.base_url}); export it or pass api_key"
                )
            key = "EMPTY"
        self.__key = key
        self.max_retries, self.timeout = max_retries, timeout
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.cache, self.system_prompt = cache, system_prompt
        self.price_in, self.price_out = price_in, price_out
        if generate_endpoint not in ("completions", "chat"):
            raise ValueError(f"generate_endpoint must be 'completions' or 'chat', not {generate_endpoint!r}")
        self.generate_endpoint = generate_endpoint
        self.limiter = make_limiter(concurrency, qps, rate_limit_dir, f"{self.base_url}|{self.model}")
        # httpx clients belong to the event loop that opened their connections.
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._cache_io: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"OpenAICompatModel(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    # --- plumbing ----------------------------------------------------------------------
    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self.__key, max_retries=0, timeout=self.timeout,
                http_client=_http_client(self.timeout),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _scrub(self, text: str) -> str:
        return text.replace(self.__key, "***") if len(self.__key) >= 4 else text

    def _backoff(self, attempt: int, err: Exception) -> float:
        """Seconds to wait before the next attempt: Retry-After if the server said so."""
        response = getattr(err, "response", None)
        headers = response.headers if response is not None else {}
        for header, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
            try:
                # The server knows best (never retry earlier than told); cap absurd values.
                return min(max(self.backoff_max, 60.0), float(headers.get(header)) * scale)
            except (TypeError, ValueError):
                continue
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def _fail(self, path: str, attempts: int, err: Exception) -> BackendError:
        status = getattr(err, "status_code", None)
        what = f"HTTP {status}" if status else type(err).__name__
        detail = self._scrub(str(getattr(err, "message", "") or err))[:300]
        return BackendError(
            f"model '{self.name}': POST {self.base_url}{path} failed after {attempts} "
            f"attempt(s): {what}: {detail}"
        )

    async def _call(self, path: str, body: dict) -> tuple[dict, int]:
        """POST with retries; returns (reply JSON, attempts) or raises BackendError."""
        attempt = 0
        while True:
            attempt += 1
            try:
                client = self._client()  # built (SSL context: ~60 ms) before a qps slot is booked
                async with self.limiter:
                    # `post` with a raw response skips the SDK's per-field request transform
                    # and pydantic parsing: ~40% of the client CPU per call, measured.
                    raw = await client.post(path, cast_to=httpx.Response, body=body)
                return _reply_json(raw.content), attempt
            except openai.APIStatusError as e:
                retry = e.status_code in RETRY_STATUS or e.status_code >= 500
                err: Exception = e
            except (openai.APIConnectionError, openai.APIResponseValidationError, _Garbage) as e:
                retry, err = True, e  # timeouts, resets, non-JSON bodies
            if not retry or attempt > self.max_retries:
                raise self._fail(path, attempt, err) from err
            wait = self._backoff(attempt - 1, err)
            log.warning("%s: %s on %s%s, retry %d/%d in %.2fs", self.name, type(err).__name__,
                        self.base_url, path, attempt, self.max_retries, wait)
            await asyncio.sleep(wait)

    def _batchers(self) -> tuple[_Batcher, _Batcher]:
        loop = asyncio.get_running_loop()
        pair = self._cache_io.get(loop)
        if pair is None:
            assert self.cache is not None
            pair = self._cache_io[loop] = (_Batcher(self.cache.get_many),
                                           _Batcher(self._put_rows))
        return pair

    async def _cached(self, key: str | None) -> Any | None:
        if self.cache is None or key is None:
            return None
        return await self._batchers()[0].submit(key)

    async def _store(self, key: str | None, kind: str, value: Any) -> None:
        if self.cache is None or key is None:
            return
        row = Cache.row(key, kind, self.identity, value)
        try:
            await self._batchers()[1].submit(row)
        except Exception as e:  # a result we could not cache is still a result
            log.warning("%s: could not write the cache: %s", self.name, e)

    def _put_rows(self, rows: list[dict]) -> list[None]:
        assert self.cache is not None
        self.cache.put_many(rows)
        return [None] * len(rows)

    def _cost(self, pt: int, ct: int) -> float:
        return (pt * self.price_in + ct * self.price_out) / 1e6

    # --- chat --------------------------------------------------------------------------
    def _messages(self, messages: list[Message]) -> list[Message]:
        if self.system_prompt and not any(m.get("role") == "system" for m in messages):
            return [{"role": "system", "content": self.system_prompt}, *messages]
        return list(messages)

    def _chat_key(self, messages: list[Message], params: ChatParams) -> str | None:
        """The content key of a chat call (None: not cached, e.g. sampled without a seed)."""
        if self.cache is None or not cacheable(params.temperature, params.seed):
            return None
        return Cache.make_key("openai", self.identity, messages, params.to_dict())

    def _chat_body(self, messages: list[Message], params: ChatParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "temperature": params.temperature, "max_tokens": params.max_tokens,
                                "top_p": params.top_p}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    async def chat(self, messages: list[Message], params: ChatParams | None = None) -> ChatResponse:
        """One chat completion (served from the cache when the same call was made before)."""
        params = params or ChatParams()
        messages = self._messages(messages)
        key = self._chat_key(messages, params)
        hit = await self._cached(key)
        if hit is not None:
            return _cached_response(hit)
        body = self._chat_body(messages, params)
        start = time.perf_counter()
        result, attempts = await self._call("/chat/completions", body)
        response = self._chat_response(result, time.perf_counter() - start, attempts)
        await self._store(key, "openai", {k: v for k, v in vars(response).items() if k != "cached"})
        return response

    async def chat_stream(
        self, messages: list[Message], params: ChatParams | None = None
    ) -> AsyncIterator[Any]:
        """One chat completion with `stream: true`: yields text pieces, then a ChatResponse.

        Same cache entry as `chat` (a cached answer comes as one piece). The request holds a
        concurrency slot and books a qps slot of the model's limiter like any other call;
        failures before the first piece are retried as in `chat`, later ones raise.
        """
        params = params or ChatParams()
        messages = self._messages(messages)
        key = self._chat_key(messages, params)
        hit = await self._cached(key)
        if hit is not None:
            yield hit["text"]
            yield _cached_response(hit)
            return
        body = self._chat_body(messages, params)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        start, parts, usage, finish, attempt = time.perf_counter(), [], {}, None, 0
        while True:
            attempt += 1
            try:
                client = self._client()
                async with self.limiter:
                    async with client.with_streaming_response.chat.completions.create(**body) as raw:
                        async for line in raw.iter_lines():
                            if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                                continue
                            chunk = json.loads(line[5:])
                            usage = chunk.get("usage") or usage
                            for choice in chunk.get("choices") or []:
                                finish = choice.get("finish_reason") or finish
                                piece = (choice.get("delta") or {}).get("content") or ""
                                if piece:
                                    parts.append(piece)
                                    yield piece
                break
            except (openai.APIStatusError, openai.APIConnectionError, ValueError) as e:
                status = getattr(e, "status_code", 500)
                if parts or attempt > self.max_retries or not (status in RETRY_STATUS or status >= 500):
                    raise self._fail("/chat/completions (stream)", attempt, e) from e
                await asyncio.sleep(self._backoff(attempt - 1, e))
        pt, ct = _usage({"usage": usage})
        response = ChatResponse(
            text="".join(parts), prompt_tokens=pt, completion_tokens=ct,
            latency=time.perf_counter() - start, model=self.model,
            extra={"cost": self._cost(pt, ct), "attempts": attempt, "finish_reason": finish},
        )
        await self._store(key, "openai", {k: v for k, v in vars(response).items() if k != "cached"})
        yield response

    def _chat_response(self, data: dict, latency: float, attempts: int) -> ChatResponse:
        choice = data["choices"][0]
        pt, ct = _usage(data)
        return ChatResponse(
            text=(choice.get("message") or {}).get("content") or "", prompt_tokens=pt,
            completion_tokens=ct, latency=latency, model=data.get("model") or self.model,
            extra={"cost": self._cost(pt, ct), "attempts": attempts,
                   "finish_reason": choice.get("finish_reason")},
        )

    def chat_many(
        self, messages_list: list[list[Message]], params: ChatParams | None = None,
        return_exceptions: bool = False,
    ) -> list[ChatResponse]:
        """Run many chats concurrently (within the limits) from synchronous code.

        Works inside a running event loop too (e.g. a notebook): the calls then run in a
        worker thread with its own loop. Results keep the order of `messages_list`.
        """
        async def run() -> list:
            return await asyncio.gather(*(self.chat(m, params) for m in messages_list),
                                        return_exceptions=return_exceptions)

        return self._run_sync(run)

    def _run_sync(self, make: Callable[[], Awaitable[T]]) -> T:
        async def main() -> T:
            try:
                return await make()
            finally:
                await self.aclose()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(main())
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    # --- scoring (completions endpoint) -----------------------------------------------
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """NLL of each continuation from the server's prompt logprobs (`echo=True`).

        Raises:
            BackendError: the server returns no prompt logprobs (use gen mode instead).
        """
        async def run() -> list:
            return await asyncio.gather(*(self._loglikelihood(r) for r in requests))

        return self._run_sync(run)

    def _no_logprobs(self, why: str) -> BackendError:
        return BackendError(
            f"model '{self.name}': the server at {self.base_url} has no prompt logprobs "
            f"(completions with echo=True, logprobs=1 {why}); evaluate this model in gen mode "
            f"instead of ppl mode"
        )

    async def _loglikelihood(self, req: LoglikelihoodRequest) -> LoglikelihoodResult:
        key = None
        if self.cache is not None:
            key = Cache.make_key("openai-ll", self.identity, [req.context, req.continuation])
        hit = await self._cached(key)
        if hit is not None:
            return LoglikelihoodResult(**hit)
        body = {"model": self.model, "prompt": req.context + req.continuation, "echo": True,
                "logprobs": 1, "max_tokens": 0, "temperature": 0.0}
        try:
            result, _ = await self._call("/completions", body)
        except BackendError as e:
            if isinstance(e.__cause__, openai.BadRequestError):
                raise self._no_logprobs(f"was refused: {self._scrub(e.__cause__.message)[:200]}") from e
            raise
        choice = result["choices"][0]
        if not str(choice.get("text") or "").startswith(req.context + req.continuation):
            # lmdeploy's server ignores echo: its logprobs are of new tokens, not the prompt
            raise self._no_logprobs("did not echo the prompt (its logprobs cover new tokens only)")
        res = continuation_logprobs(choice.get("logprobs"), len(req.context))
        if res is None or (res.n_tokens == 0 and req.continuation):
            raise self._no_logprobs("returned none")
        await self._store(key, "openai-ll", vars(res))
        return res

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        """Continue plain-text prompts via the completions (or chat) endpoint."""
        async def run() -> list:
            return await asyncio.gather(*(self._generate(r) for r in requests))

        return self._run_sync(run)

    async def _generate(self, req: GenerateRequest) -> GenerateResult:
        if self.generate_endpoint == "chat":
            params = ChatParams(temperature=req.temperature, max_tokens=req.max_new_tokens, stop=req.stop)
            r = await self.chat([{"role": "user", "content": req.prompt}], params)
            return GenerateResult(r.text, r.prompt_tokens, r.completion_tokens)
        key = None
        if self.cache is not None and cacheable(req.temperature, None):
            key = Cache.make_key("openai-completions", self.identity,
                                 req.prompt, [req.max_new_tokens, list(req.stop), req.temperature])
        hit = await self._cached(key)
        if hit is not None:
            return GenerateResult(**hit)
        body: dict[str, Any] = {"model": self.model, "prompt": req.prompt,
                                "max_tokens": req.max_new_tokens, "temperature": req.temperature}
        if req.stop:
            body["stop"] = list(req.stop)
        result, _ = await self._call("/completions", body)
        res = GenerateResult(result["choices"][0].get("text") or "", *_usage(result))
        await self._store(key, "openai-completions", vars(res))
        return res


def continuation_logprobs(logprobs: dict | None, context_chars: int) -> LoglikelihoodResult | None:
    """Sum the logprobs of the tokens that cover the continuation (chars >= `context_chars`).

    A token straddling the boundary counts for the continuation, so no continuation text
    goes unscored. Returns None when the reply carries no usable prompt logprobs.
    """
    logprobs = logprobs or {}
    tokens, lps = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not tokens or not lps or all(lp is None for lp in lps):
        return None
    offsets = logprobs.get("text_offset")
    # SGLang sends -1 for every offset ("not supported yet"): rebuild them from the tokens
    if not offsets or len(offsets) != len(tokens) or any(o is None or o < 0 for o in offsets):
        offsets, pos = [], 0
        for tok in tokens:
            offsets.append(pos)
            pos += len(tok)
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    nll, n, greedy = 0.0, 0, True
    for tok, lp, off, top in zip(tokens, lps, offsets, tops):
        if off + len(tok) <= context_chars or lp is None:
            continue
        nll -= lp
        n += 1
        greedy = greedy and bool(top) and max(top, key=top.get) == tok
    return LoglikelihoodResult(nll=nll, n_tokens=n, is_greedy=greedy and n > 0)
