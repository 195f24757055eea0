"""HuggingFace transformers backend: log-likelihoods, generation and chat on local weights.

Scores are batch-size invariant: log-likelihood batches are right-padded (positions are
the natural ones), generation batches are left-padded with position ids taken from the
attention mask, so a request gets the same answer alone or inside a batch.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from arena.core.cache import Cache  # noqa: E402
from arena.core.errors import BackendError  # noqa: E402
from arena.models.base import (  # noqa: E402
    ChatParams,
    ChatResponse,
    GenerateRequest,
    GenerateResult,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Message,
    cacheable,
    hf_identity,
)
from arena.models.batching import auto_batch_size, default_dtype, is_auto  # noqa: E402
from arena.models.generation import GenPlan, gen_plan  # noqa: E402
from arena.models.seeding import seeded  # noqa: E402


def hub_kwargs() -> dict[str, Any]:
    """Loading stays offline (local folders and the HF cache, never a download in the middle of
    a run) unless HF_HUB_OFFLINE=0 is set; read at load time, nothing is set at import."""
    transformers.utils.logging.disable_progress_bar()  # a bar per load drowns our own progress
    return {"local_files_only": os.environ.get("HF_HUB_OFFLINE", "1").lower() not in ("0", "false")}

IdPair = tuple[list[int], list[int]]
_DTYPE_KW = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"


def _fallback_template(messages: Sequence[Message]) -> str:
    """A plain HUMAN/BOT transcript for tokenizers without a chat template."""
    lines = []
    for m in messages:
        role = {"user": "HUMAN", "assistant": "BOT"}.get(m["role"], m["role"].upper())
        lines.append(f"{role}: {m['content']}")
    return "\n".join(lines) + "\nBOT:"


def _resolve_device(device: str, model_kwargs: dict) -> str:
    """'auto' -> cuda when present, else cpu; several GPUs -> device_map='auto'."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and torch.cuda.device_count() > 1:
        model_kwargs.setdefault("device_map", "auto")
    return device


def decode_whole(tokenizer: Any, ids: list[int]) -> str:
    """Decode generated ids without a broken last character.

    A token limit can cut a multi-byte character (CJK, emoji) between its byte tokens,
    which decodes to U+FFFD; the incomplete tail is dropped instead.
    """
    text = tokenizer.decode(ids, skip_special_tokens=True)
    for k in range(1, min(4, len(ids)) + 1):  # a UTF-8 character spans at most 4 byte tokens
        if not text.endswith("\ufffd"):
            break
        text = tokenizer.decode(ids[:-k], skip_special_tokens=True)
    return text


def _truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]


class _TokenStreamer:
    """A `generate` streamer that hands out the new text after every token.

    transformers' TextIteratorStreamer waits for a space; a rater should see each token.
    Text that ends inside a multi-byte character is held until the character is complete.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = ""
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd") or not text.startswith(self.sent):
            return
        if len(text) > len(self.sent):
            self.queue.put(text[len(self.sent) :])
            self.sent = text

    def end(self) -> None:
        text = decode_whole(self.tokenizer, self.ids)  # a token limit may cut the last character
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.queue.put(text[len(self.sent) :])
        self.queue.put(None)

    def __iter__(self) -> Iterator[str]:
        while (piece := self.queue.get()) is not None:
            yield piece


class HFModel:
    """A causal LM from a local transformers folder; implements ScoringLM and ChatModel.

    Args:
        path: model folder (or hub id when online).
        name: display name; defaults to the folder name.
        tokenizer_path: tokenizer folder when it differs from `path`.
        tokenizer_kwargs: extra `AutoTokenizer.from_pretrained` arguments.
        model_kwargs: extra `AutoModelForCausalLM.from_pretrained` arguments.
        dtype: "auto" (float32 on CPU; bfloat16 on a GPU that supports it, else float16) or a
            torch dtype name.
        device: "auto", "cpu", "cuda", "cuda:1"...
        max_seq_len: longest sequence fed to the model; longer inputs lose their left part.
        batch_size: requests per forward pass, or "auto" (the largest that fits in free memory).
        system_prompt: system message added to chats that have none.
        cache: where chat answers are cached (None: no caching).
    """

    backend = "hf"

    def __init__(
        self,
        path: str | Path,
        name: str | None = None,
        tokenizer_path: str | Path | None = None,
        tokenizer_kwargs: dict | None = None,
        model_kwargs: dict | None = None,
        dtype: str = "auto",
        device: str = "auto",
        max_seq_len: int = 2048,
        batch_size: int | str = 8,
        system_prompt: str | None = None,
        cache: Cache | None = None,
    ) -> None:
        self.path = str(path)
        # every content key (cache, stored predictions) starts from this; the factory
        # sets the same from the spec
        self.identity = hf_identity(
            self.path, tokenizer_path, dtype, system_prompt=system_prompt, max_seq_len=max_seq_len,
            extra={"tok": tokenizer_kwargs or {}, "model": model_kwargs or {}},
        )
        self.name = name or Path(self.path).name
        self.batch_size, self.system_prompt, self.cache = batch_size, system_prompt, cache
        self._lock = threading.Lock()
        model_kwargs = dict(model_kwargs or {})
        # Arena's own settings ride in the model kwargs (`--model-kwargs generation_cache=static`)
        self.generation_cache = model_kwargs.pop("generation_cache", "auto")
        self.ppl_scorer = model_kwargs.pop("ppl_scorer", "auto")
        self.device = _resolve_device(device, model_kwargs)
        if dtype == "auto":  # bf16 on a GPU that has it; CPUs are slow and inexact in half precision
            dtype = default_dtype(self.device)
        model_kwargs.setdefault(_DTYPE_KW, dtype if dtype == "auto" else getattr(torch, dtype))
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(tokenizer_path or path), **{**hub_kwargs(), **(tokenizer_kwargs or {})}
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        try:
            self.model = AutoModelForCausalLM.from_pretrained(self.path, **{**hub_kwargs(), **model_kwargs})
        except OSError as exc:
            raise BackendError(f"cannot load model '{self.path}': {exc}") from exc
        if "device_map" not in model_kwargs:
            self.model.to(self.device)
        self.model.eval()
        limit = getattr(self.model.config, "max_position_embeddings", None) or max_seq_len
        self.max_seq_len = min(max_seq_len, limit)
        self._adds_bos = self._tokenizer_adds_bos()
        params = inspect.signature(self.model.forward).parameters
        self._keep_kw = "logits_to_keep" in params
        # transformers 5.2x renamed `past_key_values` to `cache` (the old name warns).
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    @classmethod
    def tokenizer_only(cls, path: str | Path, name: str | None = None, tokenizer_path: str | Path | None = None,
                       tokenizer_kwargs: dict | None = None, max_seq_len: int = 2048,
                       system_prompt: str | None = None) -> HFModel:
        """The text side of a model (prompts, chat template, token counts) without its weights:
        what a dry run needs to count tokens exactly and cheaply."""
        from transformers import AutoConfig

        self = cls.__new__(cls)
        self.path, self.name = str(path), name or Path(str(path)).name
        self.system_prompt, self.cache, self.batch_size, self.device = system_prompt, None, 1, "none"
        self.tokenizer = AutoTokenizer.from_pretrained(
            str(tokenizer_path or path), **{**hub_kwargs(), **(tokenizer_kwargs or {})})
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        try:
            limit = getattr(AutoConfig.from_pretrained(self.path, **hub_kwargs()), "max_position_embeddings", None)
        except (OSError, ValueError):
            limit = None
        self.max_seq_len = min(max_seq_len, limit or max_seq_len)
        self._adds_bos = self._tokenizer_adds_bos()
        return self

    def __repr__(self) -> str:
        return f"HFModel({self.name!r}, device={self.device!r})"

    @property
    def input_device(self) -> torch.device:
        return self.model.device

    # ----------------------------------------------------------------- tokenizing
    def _tokenizer_adds_bos(self) -> bool:
        bos = self.tokenizer.bos_token_id
        with_special = self.tokenizer("x", add_special_tokens=True)["input_ids"]
        return bos is not None and bool(with_special) and with_special[0] == bos

    def encode(self, text: str, bos: bool = True) -> list[int]:
        """Token ids of `text`; BOS first when the tokenizer adds one (never EOS)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        bos_text = self.tokenizer.bos_token
        # A chat template usually writes the BOS text itself; do not double it.
        if bos and self._adds_bos and not (bos_text and text.startswith(bos_text)):
            ids = [self.tokenizer.bos_token_id, *ids]
        return ids

    def token_ids(self, context: str, continuation: str) -> IdPair:
        """Token ids of a (context, continuation) pair, tokenized separately.

        Trailing whitespace of the context moves to the continuation (as lm-eval does),
        so " Paris" is scored as one word token, not a lone space then "Paris".
        """
        stripped = context.rstrip()
        continuation = context[len(stripped) :] + continuation
        ctx = self.encode(stripped)
        if not ctx:  # an empty context still needs one token to predict from
            start = self.tokenizer.bos_token_id
            ctx = [start if start is not None else self.tokenizer.eos_token_id]
        return ctx, self.tokenizer(continuation, add_special_tokens=False)["input_ids"]

    # ------------------------------------------------------------- loglikelihood
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]:
        """Summed NLL of each continuation given its context, in request order."""
        return self.nll_from_ids([self.token_ids(r.context, r.continuation) for r in requests])

    def _window(self, ctx: list[int], cont: list[int]) -> tuple[list[int], list[int]]:
        """(model input, continuation targets) after cutting the context from the left."""
        if len(cont) > self.max_seq_len:
            raise BackendError(
                f"continuation of {len(cont)} tokens exceeds max_seq_len={self.max_seq_len}"
            )
        full = (ctx + cont)[-(self.max_seq_len + 1) :]
        return full[:-1], cont

    def nll_from_ids(self, pairs: Sequence[IdPair]) -> list[LoglikelihoodResult]:
        """Score token-id pairs (ctx_ids, cont_ids): sorted, right-padded batches.

        The model sees at most `max_seq_len` tokens; the context loses its left part when
        needed, the continuation keeps all its tokens.
        """
        windows = [self._window(list(c), list(k)) for c, k in pairs]
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i][0]))
        results: list[LoglikelihoodResult | None] = [None] * len(windows)
        size = self.batch_size
        if is_auto(size):
            size = auto_batch_size(self.model, len(windows[order[0]][0]) if order else 1)
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            for i, res in zip(chunk, self._score_batch([windows[i] for i in chunk])):
                results[i] = res
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _score_batch(self, rows: list[tuple[list[int], list[int]]]) -> list[LoglikelihoodResult]:
        width = max(len(inp) for inp, _ in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (inp, _) in enumerate(rows):
            ids[r, : len(inp)] = torch.tensor(inp)
            mask[r, : len(inp)] = 1
        # Only positions that predict a continuation token need logits: skipping the
        # rest saves the vocabulary projection on long contexts (and its memory).
        lo = min((len(inp) - len(cont) for inp, cont in rows if cont), default=width - 1)
        kwargs: dict[str, Any] = {}
        if self._keep_kw and lo > 0:
            kwargs["logits_to_keep"] = torch.arange(lo, width, device=self.input_device)
        else:
            lo = 0
        out = self.model(
            input_ids=ids.to(self.input_device), attention_mask=mask.to(self.input_device), **kwargs
        )
        results = []
        for r, (inp, cont) in enumerate(rows):
            if not cont:
                results.append(LoglikelihoodResult(nll=0.0, n_tokens=0, is_greedy=True))
                continue
            first = len(inp) - len(cont) - lo
            logits = out.logits[r, first : first + len(cont)].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(cont, device=logprobs.device)
            nll = -logprobs.gather(1, target[:, None]).double().sum().item()
            greedy = bool((logprobs.argmax(-1) == target).all())
            results.append(LoglikelihoodResult(nll=nll, n_tokens=len(cont), is_greedy=greedy))
        return results

    # ---------------------------------------------------------------- generation
    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]:
        """Continue each prompt (greedy when temperature == 0), in request order."""
        return self._generate(requests)

    def _generate(
        self, requests: Sequence[GenerateRequest], top_p: float = 1.0, seed: int | None = None
    ) -> list[GenerateResult]:
        prompts = [self.encode(r.prompt) for r in requests]
        # One batch shares max_new_tokens, temperature and stop strings; within a group
        # the longest prompts go first so padding stays small.
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.max_new_tokens, r.temperature, tuple(r.stop)), []).append(i)
        results: list[GenerateResult | None] = [None] * len(requests)
        with self._lock, seeded(seed):  # the global RNG is left as it was
            for (max_new, temp, stop), idx in groups.items():
                idx.sort(key=lambda i: -len(prompts[i]))
                plan = gen_plan(self, [len(prompts[i]) for i in idx], max_new, temp)
                s = 0
                while s < len(idx):  # length-bucketed: neighbours in length share a batch
                    chunk = idx[s : s + plan.batch_size]
                    try:
                        outs = self._generate_batch(
                            [prompts[i] for i in chunk], max_new, temp, stop, top_p, plan
                        )
                    except Exception as exc:  # out of memory: halve the batch, retry it
                        if not plan.backoff(exc, plan):
                            raise
                        continue
                    for i, res in zip(chunk, outs):
                        results[i] = res
                    s += len(chunk)
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _generate_batch(
        self,
        prompts: list[list[int]],
        max_new: int,
        temp: float,
        stop: tuple[str, ...],
        top_p: float,
        plan: GenPlan | None = None,
    ) -> list[GenerateResult]:
        keep = max(1, self.max_seq_len - max_new)
        prompts = [p[-keep:] for p in prompts]  # left truncation: the prompt's end is kept
        width = max(len(p) for p in prompts)
        fed = prompts
        if plan is not None and plan.static:  # one shape for the whole group: one compile
            width = min(plan.bucket_width(width), keep)
            if plan.compile and len(prompts) < plan.batch_size:  # a short last batch: filler rows
                fed = prompts + [prompts[-1]] * (plan.batch_size - len(prompts))
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(fed), width), pad, dtype=torch.long)
        mask = torch.zeros((len(fed), width), dtype=torch.long)
        for r, p in enumerate(fed):
            ids[r, width - len(p) :] = torch.tensor(p)
            mask[r, width - len(p) :] = 1
        sampling = (
            {"do_sample": True, "temperature": temp, "top_p": top_p}
            if temp > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        # stop strings: transformers' StopStringCriteria matches them on the device
        extra = {"stop_strings": list(stop), "tokenizer": self.tokenizer} if stop else {}
        if plan is not None:
            extra.update(plan.generate_kwargs())
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        out = self.model.generate(
            input_ids=ids.to(self.input_device),
            attention_mask=mask.to(self.input_device),
            max_new_tokens=max_new,
            pad_token_id=pad,
            eos_token_id=eos,
            **sampling,
            **extra,
        )
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        results = []
        for r, p in enumerate(prompts):
            new = out[r, width:].tolist()
            n = next((j for j, t in enumerate(new) if t in eos_ids), len(new))
            text = decode_whole(self.tokenizer, new[:n])
            cut = _truncate_at_stop(text, stop)
            if cut != text:  # a batch runs on until its last row stops: count up to the stop
                n = self._tokens_to_stop(new, n, stop)
            results.append(GenerateResult(text=cut, prompt_tokens=len(p), completion_tokens=n))
        return results

    def _tokens_to_stop(self, new: list[int], n: int, stop: tuple[str, ...]) -> int:
        """Fewest leading tokens whose text holds a stop string (binary search: log n decodes)."""
        lo, hi = 1, n
        while lo < hi:
            mid = (lo + hi) // 2
            if _truncate_at_stop(decode_whole(self.tokenizer, new[:mid]), stop) != decode_whole(
                self.tokenizer, new[:mid]
            ):
                hi = mid
            else:
                lo = mid + 1
        return lo

    # ---------------------------------------------------------------------- chat
    def apply_chat_template(self, messages: Sequence[Message]) -> str:
        """The prompt text of a chat (the tokenizer's template, else HUMAN/BOT lines)."""
        messages = list(messages)
        if self.system_prompt and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        return _fallback_template(messages)

    def _chat_requests(
        self, conversations: Sequence[Sequence[Message]], params: ChatParams
    ) -> list[GenerateRequest]:
        stop = tuple(params.stop)
        if not getattr(self.tokenizer, "chat_template", None):
            stop += ("\nHUMAN:",)  # a base model would otherwise write the next user turn
        return [
            GenerateRequest(
                self.apply_chat_template(m), params.max_tokens, stop, params.temperature
            )
            for m in conversations
        ]

    def _cache_key(self, messages: Sequence[Message], params: ChatParams) -> str:
        # keyed on the rendered prompt: it holds the system prompt and the chat template,
        # which the messages alone do not (two system prompts shared one entry before)
        return Cache.make_key(self.backend, self.identity, self.apply_chat_template(messages), params.to_dict())

    def chat_many(
        self, conversations: Sequence[Sequence[Message]], params: ChatParams
    ) -> list[ChatResponse]:
        """Answer many chats in batches (much faster than one by one on CPU), cached.

        Latency of a fresh answer is its batch's wall time shared equally among its chats.
        """
        out: list[ChatResponse | None] = [None] * len(conversations)
        cache = self.cache if cacheable(params.temperature, params.seed) else None
        keys = [self._cache_key(m, params) for m in conversations] if cache else []
        todo = []
        for i, _ in enumerate(conversations):
            hit = cache.get(keys[i]) if cache else None
            if hit is None:
                todo.append(i)
            else:
                out[i] = ChatResponse(**{**hit, "cached": True, "model": self.name})
        if todo:
            reqs = self._chat_requests([conversations[i] for i in todo], params)
            start = time.perf_counter()
            gens = self._generate(reqs, top_p=params.top_p, seed=params.seed)
            latency = (time.perf_counter() - start) / len(todo)
            for i, g in zip(todo, gens):
                value = {
                    "text": g.text,
                    "prompt_tokens": g.prompt_tokens,
                    "completion_tokens": g.completion_tokens,
                    "latency": latency,
                }
                if cache:
                    cache.put(keys[i], self.backend, self.identity, value)
                out[i] = ChatResponse(**value, cached=False, model=self.name)
        return out  # type: ignore[return-value]

    async def chat(self, messages: list[Message], params: ChatParams) -> ChatResponse:
        """Answer one chat without blocking the event loop (generation runs in a thread)."""
        result = await asyncio.to_thread(self.chat_many, [messages], params)
        return result[0]

    # ------------------------------------------------------------------ streaming
    def chat_stream(self, messages: list[Message], params: ChatParams) -> Iterator[Any]:
        """Answer one chat token by token: yields text pieces, then the final ChatResponse.

        Same prompt, sampling and cache entry as `chat_many` (a cached answer comes as one
        piece); generation runs in a thread and the pieces arrive through a streamer.
        """
        key = self._cache_key(messages, params) if self.cache else None
        hit = self.cache.get(key) if key else None
        if hit is not None:
            yield hit["text"]
            yield ChatResponse(**{**hit, "cached": True, "model": self.name})
            return
        (req,) = self._chat_requests([messages], params)
        ids = self.encode(req.prompt)[-max(1, self.max_seq_len - req.max_new_tokens) :]
        streamer = _TokenStreamer(self.tokenizer)
        failed: list[BaseException] = []
        sampling = (
            {"do_sample": True, "temperature": req.temperature, "top_p": params.top_p}
            if req.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        if req.stop:
            sampling.update(stop_strings=list(req.stop), tokenizer=self.tokenizer)

        def work() -> None:
            try:
                with self._lock, torch.inference_mode(), seeded(params.seed):
                    x = torch.tensor([ids], device=self.input_device)
                    self.model.generate(
                        input_ids=x, attention_mask=torch.ones_like(x), streamer=streamer,
                        max_new_tokens=req.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                        eos_token_id=self.model.generation_config.eos_token_id
                        or self.tokenizer.eos_token_id, **sampling,
                    )
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failed.append(exc)
                streamer.end()

        special = set(self.tokenizer.all_special_ids)
        start = time.perf_counter()
        thread = threading.Thread(target=work, name=f"stream-{self.name}", daemon=True)
        thread.start()
        text = ""
        for piece in streamer:
            full = text + piece
            cut = _truncate_at_stop(full, req.stop)
            if cut[len(text) :]:
                yield cut[len(text) :]
            text = cut
            if len(cut) < len(full):  # a stop string: the rest is not part of the answer
                break
        thread.join()
        if failed:
            raise BackendError(f"model '{self.name}': streaming generation failed: {failed[0]}")
        value = {
            "text": text,
            "prompt_tokens": len(ids),
            "completion_tokens": sum(t not in special for t in streamer.ids),
            "latency": time.perf_counter() - start,
        }
        if key:
            self.cache.put(key, self.backend, self.path, value)
        yield ChatResponse(**value, cached=False, model=self.name)
