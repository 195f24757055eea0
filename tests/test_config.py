"""Config loading: errors name the file, the line and the key path."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from arena.core.config import config_hash, load_config
from arena.core.errors import ConfigError, UnknownNameError
from arena.core.registry import ModelSpec, model_specs, resolve_model


class Exp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    models: list[ModelSpec]
    seed: int = 0


def write(tmp_path, text: str, name: str = "exp.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_valid_config_and_include(tmp_path):
    write(tmp_path, "models:\n  - name: api\n    backend: openai\n    model: m\n", "models.yaml")
    p = write(tmp_path, "include: [models.yaml]\nname: x\nseed: 3\n")
    cfg = load_config(p, Exp)
    assert cfg.models[0].model == "m" and cfg.seed == 3
    assert config_hash(cfg) == config_hash(load_config(p, Exp))
    assert load_config(p, Exp, overrides=["seed=4"]).seed == 4


@pytest.mark.parametrize(
    "text, line, key, words",
    [
        ("name: x\nmodels: []\nsede: 3\n", 3, "sede", "unknown key"),
        ("name: x\nmodels: []\nseed: many\n", 3, "seed", "integer"),
        ("name: x\nmodels:\n  - name: m\n    backend: hf\n    path: /no/such/dir\n", 3, "models.0", "does not exist"),
        ("name: x\nmodels:\n  - name: m\n    backend: openai\n    bogus: 1\n", 5, "models.0.bogus", "unknown key"),
    ],
)
def test_bad_config_names_file_line_key(tmp_path, text, line, key, words):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p, Exp)
    err = info.value
    assert err.file == str(p) and err.line == line and err.field == key
    assert words in str(err) and f"{p}:{line}" in str(err)


def test_yaml_syntax_error_has_line(tmp_path):
    p = write(tmp_path, "name: x\nmodels: [\n  oops: :\n")
    with pytest.raises(ConfigError) as info:
        load_config(p, Exp)
    assert info.value.file == str(p) and info.value.line is not None


def test_registry_resolves_and_suggests():
    assert "smollm2-135m" in model_specs() and "gpt-4" in model_specs()
    spec = resolve_model("gpt-4", base_url="http://127.0.0.1:9/v1")
    assert spec.backend == "openai" and spec.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(UnknownNameError) as info:
        resolve_model("gtp-4")
    assert "gpt-4" in info.value.close
