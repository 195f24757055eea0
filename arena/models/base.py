"""The two protocols every backend implements, and their request/result types.

`ScoringLM` is for local weights: batched log-likelihoods and generation (the
lm-evaluation-harness `LM` shape). `ChatModel` is for chat completions (local or API).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score `continuation` given `context`."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    """Negative log-likelihood (nats, summed) of the continuation and its token count."""

    nll: float
    n_tokens: int
    is_greedy: bool = False


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy (or sampled) continuation of a plain-text prompt."""

    prompt: str
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0


@dataclass(frozen=True)
class GenerateResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatParams:
    """Sampling parameters of a chat call; part of the cache key."""

    temperature: float = 0.0
    max_tokens: int = 512
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ChatResponse:
    """What a chat call returns: text, token usage, latency (seconds) and cache status."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: float = 0.0
    cached: bool = False
    model: str = ""
    extra: dict = field(default_factory=dict)


Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt", ".h5", ".msgpack", ".npz")
# Small files that decide how text becomes ids and chats become prompts: hashed whole.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json",
                   "merges.txt", "vocab.txt", "spiece.model", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.jinja", "chat_template.json")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MIB = 1 << 20
_FINGERPRINTS: dict[tuple, str] = {}  # (path, inode, size, mtime, ctime) -> fingerprint


def file_fingerprint(path: Path) -> str:
    """Size, mtime and a hash of the first and last MiB of one (possibly huge) file.

    Cheap on multi-GB weights (2 MiB read), yet a rewrite in place changes it: a new
    mtime or size, or different bytes at either end.
    """
    st = path.stat()
    memo = (str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if memo in _FINGERPRINTS:  # sharded checkpoints: identities are asked for often
        return _FINGERPRINTS[memo]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(_MIB))
        if st.st_size > 2 * _MIB:
            fh.seek(-_MIB, os.SEEK_END)
        h.update(fh.read(_MIB))
    _FINGERPRINTS[memo] = f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:16]}"
    return _FINGERPRINTS[memo]


def _local_folder(path: str) -> Path | None:
    """The folder of local weights: a path, or a hub id already in the local HF cache."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path, local_files_only=True))
    except Exception:  # not downloaded, or not a hub id: the name is all we know
        return None


def weights_fingerprint(path: object) -> str:
    """What the weights in `path` are: every weight file's fingerprint, the safetensors
    index and config.json (hashed), so rewriting a checkpoint in place changes the key."""
    folder = _local_folder(str(path))
    if folder is None:
        return f"unresolved:{path}"
    files = [folder] if folder.is_file() else sorted(
        f for f in folder.iterdir() if f.is_file() and (
            f.name.endswith(WEIGHT_SUFFIXES) or f.name.endswith(".index.json") or f.name == "config.json"))
    parts = {}
    for f in files:
        small = f.name.endswith(".json")
        parts[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()[:16] if small else file_fingerprint(f)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def tokenizer_fingerprint(path: object) -> str:
    """Hash of the tokenizer files (vocabulary, merges, chat template) in `path`."""
    folder = _local_folder(str(path))
    if folder is None or not folder.is_dir():
        return f"unresolved:{path}"
    h = hashlib.sha256()
    for name in TOKENIZER_FILES:
        f = folder / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _effective_dtype(dtype: str) -> str:
    """`auto` means float32 on a CPU and half precision on a GPU: NLLs computed in one must
    never be served to the other from a shared cache."""
    if dtype != "auto":
        return dtype
    try:
        import torch
    except ImportError:
        return "auto"
    if not torch.cuda.is_available():
        return "auto:cpu"
    return "auto:cuda-" + ("bf16" if torch.cuda.is_bf16_supported() else "fp16")


def hf_identity(path: object, tokenizer_path: object = None, dtype: str = "auto", *,
                system_prompt: str | None = None, max_seq_len: int | None = None,
                extra: dict[str, Any] | None = None) -> str:
    """What local weights are, as it enters every content key (cache, stored predictions).

    The folder name stays readable; the hash covers the weights' fingerprint, the tokenizer
    and chat template files, dtype, system prompt, max_seq_len and any loading kwargs.
    """
    parts = {"w": weights_fingerprint(path), "t": tokenizer_fingerprint(tokenizer_path or path),
             "tp": str(tokenizer_path or ""), "dtype": _effective_dtype(dtype), "sys": system_prompt,
             "msl": max_seq_len, "x": extra or {}}
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"hf:{path}#{digest}"


def api_identity(base_url: object, model: str, system_prompt: str | None = None) -> str:
    """What an API model is (endpoint, model id, system prompt), for the same keys."""
    url = str(base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    sys_part = "" if not system_prompt else "#" + hashlib.sha256(system_prompt.encode()).hexdigest()[:12]
    return f"openai:{url}|{model}{sys_part}"


def model_identity(model: Any) -> str:
    """The identity of any model object (backends set `identity`; fakes fall back to a name)."""
    return str(getattr(model, "identity", None) or getattr(model, "path", None) or model.name)


def cacheable(temperature: float, seed: int | None) -> bool:
    """Greedy calls and seeded samples repeat; an unseeded sample must not be replayed."""
    return temperature <= 0 or seed is not None


@runtime_checkable
class ScoringLM(Protocol):
    """A model whose token probabilities we can read (local weights)."""

    name: str

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[LoglikelihoodResult]: ...

    def generate(self, requests: list[GenerateRequest]) -> list[GenerateResult]: ...


@runtime_checkable
class ChatModel(Protocol):
    """A model that answers chat messages (local or behind an API)."""

    name: str

    async def chat(self, messages: list[Message], params: ChatParams) -> ChatResponse: ...


@runtime_checkable
class BatchChatModel(ChatModel, Protocol):
    """A chat model that also answers many conversations in one call (local batches, API
    concurrency): what judges and the objective gen path call."""

    def chat_many(self, conversations: list[list[Message]], params: ChatParams) -> list[ChatResponse]: ...


#: what objective evaluation and the stages hand around: local weights or a chat API
#: (`arena.models.factory.LazyModel` stands in for either until first use)
EvalModel = ScoringLM | BatchChatModel
