"""Names -> things: model specs from YAML files, plus plugin discovery by entry points.

Built-in model specs live in `data/models/*.yaml`; users add their own in
`$ARENA_HOME/models/*.yaml` (default `~/.config/arena/models`). A file holds one spec or a
list of specs. `Registry` is the one plugin mechanism (decorator + entry points) for
backends, datasets, judges, parsers, postprocessors and metrics; third-party packages add
entries under the entry-point groups `arena.models`, `arena.datasets`, `arena.judges`,
`arena.metrics` (and `arena.parsers`, `arena.postprocessors`).
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Callable, Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from arena.core.config import LineMap, load_yaml, validate
from arena.core.errors import ConfigError, UnknownNameError

T = TypeVar("T")
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def data_dir() -> Path:
    """The bundled data folder (datasets, question sets, model specs)."""
    return DATA_DIR


def user_dir() -> Path:
    return Path(os.environ.get("ARENA_HOME") or Path.home() / ".config" / "arena")


# OpenCompass model-config keys -> ours (`opencompass/models/*.py`, `configs/models/`).
OPENCOMPASS_ALIASES = {"openai_api_base": "base_url", "query_per_second": "qps", "retry": "max_retries"}


def _opencompass_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Accept a model written as in an OpenCompass config (abbr, path, key, openai_api_base,
    query_per_second, retry, max_out_len, max_seq_len, batch_size, temperature, meta_template,
    run_cfg.num_gpus, type)."""
    data = dict(data)
    kind = str(data.pop("type", "") or "")
    if kind and "backend" not in data:  # OpenCompass names classes: OpenAI, OpenAISDK, HuggingFace...
        data["backend"] = "openai" if "openai" in kind.lower() or "api" in kind.lower() else "hf"
    for alias, ours in OPENCOMPASS_ALIASES.items():
        if alias in data:
            value = data.pop(alias)
            if ours in data and data[ours] != value:
                raise ValueError(f"'{alias}' and '{ours}' are the same setting; give one")
            data[ours] = value
    if isinstance(data.get("base_url"), str):  # OpenCompass gives the full endpoint URL
        data["base_url"] = re.sub(r"/(chat/)?completions/?$", "", data["base_url"])
    run_cfg = data.pop("run_cfg", None)
    if isinstance(run_cfg, dict) and "num_gpus" in run_cfg:
        data.setdefault("num_gpus", run_cfg["num_gpus"])
    if "key" in data:  # 'ENV' reads $OPENAI_API_KEY, 'ENV:NAME' reads $NAME, anything else is the key
        key = str(data.pop("key"))
        if key.startswith("ENV:") or key.startswith("$"):
            data["api_key_env"] = key.split(":", 1)[1] if key.startswith("ENV:") else key[1:]
        elif key != "ENV":
            data["api_key"] = key
    if data.get("backend") == "openai" and data.get("path") and not data.get("model"):
        data["model"] = data.pop("path")  # an API model's `path` is its model id
    if "name" not in data and (data.get("abbr") or data.get("path") or data.get("model")):
        data["name"] = data.get("abbr") or Path(str(data.get("path") or data.get("model"))).name
    return data


class ModelSpec(BaseModel):
    """How to reach one model: a local HF folder or an OpenAI-compatible API.

    OpenCompass's model keys are accepted as aliases (see `_opencompass_keys`).
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    backend: str = "hf"  # hf, openai, or a plugin's (entry-point group arena.models)
    options: dict[str, Any] = Field(default_factory=dict)  # settings of a plugin backend
    abbr: str | None = None
    description: str = ""
    # hf
    path: str | None = None
    tokenizer_path: str | None = None
    tokenizer_kwargs: dict[str, Any] = Field(default_factory=dict)
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    dtype: str = "auto"
    num_gpus: int = 0
    # openai
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    api_key: SecretStr | None = None  # from OpenCompass's `key`; never printed or stored
    concurrency: int = 8
    qps: float | None = None
    max_retries: int = 4
    timeout: float = 120.0
    price_in: float = 0.0
    price_out: float = 0.0
    # shared
    system_prompt: str | None = None
    max_seq_len: int = 2048
    max_out_len: int = 512
    batch_size: int | Literal["auto"] = 8  # auto: the largest batch that fits in free memory
    temperature: float | None = None  # gen sampling temperature (None: greedy)
    meta_template: dict[str, Any] | None = None  # OpenCompass's {round: [{role, begin, end}, ...]}

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        return _opencompass_keys(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.backend == "hf":
            if not self.path:
                raise ValueError("an hf model needs 'path'")
            local = not self.path.startswith("bundled:") and (
                self.path.startswith(("/", ".", "~")) or not _HUB_ID.match(self.path)
            )
            if local and not Path(self.path).expanduser().exists():
                raise ValueError(f"model path does not exist: {self.path}")
        elif self.backend == "openai":
            if not (self.model or self.name):
                raise ValueError("an openai model needs 'model'")
        elif self.backend not in BACKENDS:
            known = sorted({*BUILTIN_BACKENDS, *BACKENDS.names()})
            raise ValueError(f"unknown backend '{self.backend}' (known: {', '.join(known)})")
        return self

    @property
    def label(self) -> str:
        return self.abbr or self.name


def _specs_in(path: Path) -> list[ModelSpec]:
    lines: LineMap = {}
    data = load_yaml(path, lines)
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        sub = {k[1:]: v for k, v in lines.items() if k[:1] == (i,)} if isinstance(data, list) else lines
        out.append(validate(ModelSpec, item, str(path), sub))
    return out


@cache
def _builtin_specs() -> tuple[ModelSpec, ...]:
    return tuple(s for f in sorted((DATA_DIR / "models").glob("*.yaml")) for s in _specs_in(f))


def model_specs() -> dict[str, ModelSpec]:
    """All known model specs by name: built-in, then the user's (which win)."""
    specs = {s.name: s for s in _builtin_specs()}
    udir = user_dir() / "models"
    if udir.is_dir():
        specs.update({s.name: s for f in sorted(udir.glob("*.yaml")) for s in _specs_in(f)})
    return specs


def resolve_model(name: str, **overrides: Any) -> ModelSpec:
    """A registered model by name, with optional field overrides (e.g. base_url)."""
    specs = model_specs()
    if name not in specs:
        raise UnknownNameError("model", name, sorted(specs))
    spec = specs[name]
    if overrides:
        data = spec.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        try:
            spec = ModelSpec.model_validate(data)
        except Exception as exc:  # pydantic error -> readable
            raise ConfigError(str(exc), field=name) from None
    return spec


def entry_points(group: str) -> dict[str, Any]:
    """Plugins registered under `arena.<group>` (loaded lazily by the caller)."""
    return {ep.name: ep for ep in metadata.entry_points(group=f"arena.{group}")}


class Registry(Generic[T]):
    """Names -> things of one kind: backends, datasets, judges, parsers, postprocessors, metrics.

    Built-ins register with the decorator (``@METRICS.register("bleu")``) or `add`; installed
    packages add theirs under the entry-point group ``arena.<group>`` (pyproject:
    ``[project.entry-points."arena.metrics"] bleu = "my_pkg.metrics:bleu"``). An entry point
    is loaded when its name is first looked up; one that points at a module is imported for
    the decorators it runs. A name registered twice is an error, not a silent override.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind, self.group = kind, group
        self._items: dict[str, T] = {}

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} registered, group={self.group!r})"

    def add(self, name: str, obj: T, replace: bool = False) -> T:
        if name in self._items and self._items[name] is not obj and not replace:
            raise ConfigError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = obj
        return obj

    def register(self, name: str | None = None, replace: bool = False) -> Callable[[T], T]:
        """Decorator: register the decorated object under `name` (default: its __name__)."""

        def deco(obj: T) -> T:
            return self.add(name or getattr(obj, "__name__", ""), obj, replace)

        return deco

    def _entry_points(self) -> dict[str, Any]:
        return entry_points(self.group) if self.group else {}

    def _load(self, name: str) -> None:
        ep = self._entry_points().get(name)
        if ep is None:
            return
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin names itself, not a traceback
            raise ConfigError(f"{self.kind} plugin '{name}' ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from None
        if name not in self._items and not isinstance(obj, types.ModuleType):
            self._items[name] = obj
        if name not in self._items:
            raise ConfigError(f"{self.kind} plugin module {ep.value} registered no '{name}'")

    def get(self, name: str) -> T:
        """The thing registered as `name` (loading its plugin); UnknownNameError lists the rest."""
        if name not in self._items:
            self._load(name)
        if name not in self._items:
            raise UnknownNameError(self.kind, name, self.names())
        return self._items[name]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._items or (isinstance(name, str) and name in self._entry_points())

    def names(self) -> list[str]:
        """Registered and installed names (plugins are listed without being loaded)."""
        return sorted({*self._items, *self._entry_points()})

    def plugins(self) -> dict[str, str]:
        """Installed plugin names -> where they come from (`module:attr`)."""
        return {n: ep.value for n, ep in self._entry_points().items()}

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


#: model backends: name -> factory(spec, cache) -> a ChatModel or ScoringLM. The built-ins
#: (hf, openai) register in arena.models.factory; plugins under `arena.models`.
BACKENDS: Registry[Callable[..., Any]] = Registry("backend", "models")
BUILTIN_BACKENDS = ("hf", "openai")
