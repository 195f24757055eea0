"""Build a backend object from a ModelSpec (lazy imports: torch only when an HF model is used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arena.core.cache import Cache
from arena.core.errors import ArenaError, BackendError
from arena.core.registry import BACKENDS, ModelSpec


def resolve_path(path: str) -> str:
    """`bundled:smollm2` -> the converted local folder; anything else as given."""
    if path.startswith("bundled:"):
        from arena.models import bundled

        which = path.split(":", 1)[1]
        fn = getattr(bundled, f"ensure_{which}", None)
        if fn is None:
            from arena.core.errors import ConfigError

            raise ConfigError(f"unknown bundled model '{which}'", field="path")
        return str(fn())
    return str(Path(path).expanduser()) if path.startswith(("~", ".", "/")) else path


def spec_identity(spec: ModelSpec) -> str:
    """What a spec's model is, as it enters every content key (cache, stored work).

    Local weights: a fingerprint of the weight files, tokenizer and chat template, dtype,
    system prompt, max_seq_len and loading kwargs. APIs: endpoint, model id, system prompt.
    """
    from arena.models.base import api_identity, hf_identity

    if spec.backend == "hf":
        assert spec.path is not None
        extra: dict[str, Any] = {"tok": spec.tokenizer_kwargs, "model": spec.model_kwargs}
        if spec.path.startswith("bundled:"):  # converted from a packaged GGUF: its version is the weights
            from importlib.metadata import PackageNotFoundError, version

            from arena.models import bundled

            pkg = getattr(bundled, f"{spec.path.split(':', 1)[1].upper()}_PACKAGE", "")
            try:
                extra["bundled"] = f"{pkg}=={version(pkg)}"
            except (PackageNotFoundError, ValueError):
                extra["bundled"] = pkg
            path = spec.path
        else:
            path = resolve_path(spec.path)
        tok = resolve_path(spec.tokenizer_path) if spec.tokenizer_path else None
        return hf_identity(path, tok, spec.dtype, system_prompt=spec.system_prompt,
                           max_seq_len=spec.max_seq_len, extra=extra)
    if spec.backend != "openai":  # a plugin backend: everything its spec says
        from arena.core.records import content_hash

        data = spec.model_dump(mode="json", exclude={"api_key", "name", "abbr", "description"})
        return f"{spec.backend}:{content_hash(data)}"
    return api_identity(spec.base_url, spec.model or spec.name, spec.system_prompt)


def build_model(spec: ModelSpec, cache: Cache | None = None, rate_limit_dir: str | Path | None = None) -> Any:
    """An HFModel or OpenAICompatModel for `spec`, sharing `cache`.

    `rate_limit_dir`: API models share their qps limit with every process using it.
    """
    try:
        model = _build(spec, cache, rate_limit_dir)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        if isinstance(exc, ArenaError):
            raise
        # transformers explains a bad folder in many lines (and a traceback); one names the path
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        where = spec.path or spec.base_url or spec.model
        raise BackendError(f"cannot load model '{spec.label}' from {where}: {first}") from exc
    model.identity = spec_identity(spec)
    return model


def _build(spec: ModelSpec, cache: Cache | None, rate_limit_dir: str | Path | None) -> Any:
    factory = BACKENDS.get(spec.backend)  # a plugin's is loaded here, by entry point
    if spec.backend == "openai":
        return factory(spec, cache, rate_limit_dir=rate_limit_dir)
    return factory(spec, cache)


@BACKENDS.register("hf")
def hf_backend(spec: ModelSpec, cache: Cache | None = None) -> Any:
    """Local weights (transformers): an `HFModel`."""
    from arena.models.hf import HFModel

    assert spec.path is not None
    return HFModel(
        resolve_path(spec.path),
        name=spec.label,
        tokenizer_path=resolve_path(spec.tokenizer_path) if spec.tokenizer_path else None,
        tokenizer_kwargs=spec.tokenizer_kwargs,
        model_kwargs=spec.model_kwargs,
        dtype=spec.dtype,
        max_seq_len=spec.max_seq_len,
        batch_size=spec.batch_size,
        system_prompt=spec.system_prompt,
        cache=cache,
    )


@BACKENDS.register("openai")
def openai_backend(spec: ModelSpec, cache: Cache | None = None,
                   rate_limit_dir: str | Path | None = None) -> Any:
    """Any OpenAI-compatible API: an `OpenAICompatModel`."""
    from arena.models.openai_compat import OpenAICompatModel

    return OpenAICompatModel(
        spec.label,
        model=spec.model or spec.name,
        base_url=spec.base_url,
        api_key_env=spec.api_key_env,
        api_key=spec.api_key.get_secret_value() if spec.api_key else None,
        concurrency=spec.concurrency,
        qps=spec.qps,
        max_retries=spec.max_retries,
        timeout=spec.timeout,
        cache=cache,
        price_in=spec.price_in,
        price_out=spec.price_out,
        system_prompt=spec.system_prompt,
        rate_limit_dir=rate_limit_dir,
    )


class LazyModel:
    """A model that loads on first real use.

    What resume decisions need (name, backend, max_seq_len, system prompt) comes from the
    spec, so a rerun whose units are all stored never pays for loading weights.
    """

    def __init__(self, spec: ModelSpec, cache: Cache | None = None,
                 rate_limit_dir: str | Path | None = None) -> None:
        self.spec, self._cache, self._model = spec, cache, None
        self._rate_limit_dir = rate_limit_dir
        self.name = spec.label
        self.backend = spec.backend
        self.max_seq_len = spec.max_seq_len
        self.system_prompt = spec.system_prompt
        self.identity = spec_identity(spec)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Any:
        if self._model is None:
            self._model = build_model(self.spec, self._cache, self._rate_limit_dir)
        return self._model

    def __getattr__(self, attr: str) -> Any:  # only reached for what the proxy lacks
        if attr.startswith("__") or attr in ("spec", "_cache", "_model", "_rate_limit_dir"):
            raise AttributeError(attr)
        return getattr(self.load(), attr)

    # Defined here so that hasattr() checks do not load the model.
    def chat_many(self, *args: Any, **kwargs: Any) -> Any:
        return self.load().chat_many(*args, **kwargs)

    async def chat(self, *args: Any, **kwargs: Any) -> Any:
        return await self.load().chat(*args, **kwargs)

    def loglikelihood(self, *args: Any, **kwargs: Any) -> Any:
        return self.load().loglikelihood(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return self.load().generate(*args, **kwargs)
