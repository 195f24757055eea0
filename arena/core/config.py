"""YAML configuration loaded into pydantic models, with errors that name file, line and key.

Every config model forbids unknown keys (`extra="forbid"`): a typo fails loudly instead of
being silently ignored. Includes (`include: [other.yaml]`) are merged before validation,
and `key.path=value` overrides from the command line are applied last.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from arena.core.errors import ConfigError
from arena.core.records import content_hash

M = TypeVar("M", bound=BaseModel)

# (file, line) for each key path, e.g. ("models", 0, "path") -> ("exp.yaml", 12)
LineMap = dict[tuple, tuple[str, int]]


def _construct(node: yaml.Node, file: str, path: tuple, lines: LineMap) -> Any:
    lines[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in out:
                raise ConfigError("duplicate key", file, key_node.start_mark.line + 1, _dotted(path + (key,)))
            lines[path + (key,)] = (file, key_node.start_mark.line + 1)
            out[key] = _construct(value_node, file, path + (key,), lines)
            lines[path + (key,)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, file, path + (i,), lines) for i, v in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node, deep=True)  # scalars: YAML's own typing


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def load_yaml(path: str | Path, lines: LineMap | None = None) -> Any:
    """Parse YAML keeping the line of every key; syntax errors name file and line."""
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise ConfigError("file not found", file)
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file,
                          mark.line + 1 if mark else None) from None
    if node is None:
        return {}
    return _construct(node, file, (), lines if lines is not None else {})


def _resolve_includes(data: Any, path: Path, lines: LineMap, depth: int = 0) -> Any:
    """`include: [a.yaml, b.yaml]` merges those files first; this file's keys win."""
    if not isinstance(data, dict) or "include" not in data:
        return data
    if depth > 10:
        raise ConfigError("include nesting deeper than 10 (a cycle?)", str(path))
    incs = data.pop("include")
    merged: dict[str, Any] = {}
    for inc in [incs] if isinstance(incs, str) else incs:
        inc_path = (path.parent / inc).resolve()
        inc_lines: LineMap = {}
        sub = _resolve_includes(load_yaml(inc_path, inc_lines), inc_path, inc_lines, depth + 1)
        for k, v in inc_lines.items():
            lines.setdefault(k, v)
        merged = deep_merge(merged, sub)
    return deep_merge(merged, data)


def deep_merge(base: dict, over: dict) -> dict:
    """Dicts merge key by key; lists and scalars from `over` replace those of `base`."""
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `a.b.0.c=value` overrides (value parsed as YAML)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not KEY=VALUE")
        dotted, raw = item.split("=", 1)
        keys = dotted.split(".")
        cur: Any = data
        for k in keys[:-1]:
            cur = cur[int(k)] if isinstance(cur, list) else cur.setdefault(k, {})
        last = keys[-1]
        value = yaml.safe_load(raw)
        if isinstance(cur, list):
            cur[int(last)] = value
        else:
            cur[last] = value
    return data


def validate(model: type[M], data: Any, file: str, lines: LineMap) -> M:
    """Validate into `model`; the first error names the file, the line and the key path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        # the deepest known prefix of the path gives the line
        where = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), (file, None))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "missing required key"
        raise ConfigError(msg, where[0], where[1], _dotted(loc)) from None


def load_config(path: str | Path, model: type[M], overrides: list[str] | None = None) -> M:
    """Load a YAML file (with includes and overrides) into a validated pydantic model."""
    path = Path(path)
    lines: LineMap = {}
    data = _resolve_includes(load_yaml(path, lines), path, lines)
    if overrides:
        data = apply_overrides(data, overrides)
    return validate(model, data, str(path), lines)


def config_hash(cfg: BaseModel | dict) -> str:
    """Content hash of a config (what determines a unit of work)."""
    data = cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg
    return content_hash(data)
