"""Names -> things: model specs from YAML files, plus plugin discovery by entry points.

Built-in model specs live in `data/models/*.yaml`; users add their own in
`$ARENA_HOME/models/*.yaml` (default `~/.config/arena/models`). A file holds one spec or a
list of specs. Third-party packages register extra entries under the entry-point groups
`arena.models`, `arena.datasets`, `arena.judges`.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from arena.core.config import LineMap, load_yaml, validate
from arena.core.errors import ConfigError, UnknownNameError

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
    backend: Literal["hf", "openai"] = "hf"
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
        elif not (self.model or self.name):
            raise ValueError("an openai model needs 'model'")
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
