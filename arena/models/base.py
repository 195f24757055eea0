"""The two protocols every backend implements, and their request/result types.

`ScoringLM` is for local weights: batched log-likelihoods and generation (the
lm-evaluation-harness `LM` shape). `ChatModel` is for chat completions (local or API).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


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


def hf_identity(path: object, tokenizer_path: object = None, dtype: str = "auto") -> str:
    """What local weights are, as it enters the content keys of stored work."""
    return f"hf:{path}|{tokenizer_path or ''}|{dtype}"


def api_identity(base_url: object, model: str) -> str:
    """What an API model is (endpoint and model id), for the same keys."""
    return f"openai:{base_url or ''}|{model}"


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
