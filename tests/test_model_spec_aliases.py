"""Model specs accept OpenCompass's model-config keys (as in `opencompass/configs/models/`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from arena.core.registry import ModelSpec


def test_an_opencompass_api_model_config():
    # the shape of configs/models/openai/gpt_4.py (type=OpenAI, path, key, meta_template, ...)
    spec = ModelSpec.model_validate({
        "type": "OpenAISDK", "abbr": "GPT-4", "path": "gpt-4-1106-preview", "key": "sk-not-a-real-key-1234",
        "openai_api_base": "http://127.0.0.1:8000/v1/chat/completions", "query_per_second": 1, "retry": 2,
        "max_out_len": 2048, "max_seq_len": 4096, "batch_size": 8, "temperature": 0.5,
        "meta_template": {"round": [{"role": "HUMAN", "api_role": "HUMAN"},
                                    {"role": "BOT", "api_role": "BOT", "generate": True}]},
    })
    assert (spec.backend, spec.name, spec.label, spec.model) == ("openai", "GPT-4", "GPT-4", "gpt-4-1106-preview")
    assert spec.base_url == "http://127.0.0.1:8000/v1" and spec.qps == 1 and spec.max_retries == 2
    assert (spec.max_out_len, spec.max_seq_len, spec.batch_size, spec.temperature) == (2048, 4096, 8, 0.5)
    assert spec.api_key.get_secret_value() == "sk-not-a-real-key-1234"
    assert "sk-not-a-real-key" not in spec.model_dump_json() + repr(spec) + str(spec.model_dump())


def test_an_opencompass_hf_model_config(tiny_model_dir):
    spec = ModelSpec.model_validate({
        "type": "HuggingFacewithChatTemplate", "abbr": "tiny-hf", "path": str(tiny_model_dir),
        "max_out_len": 64, "batch_size": 4, "run_cfg": {"num_gpus": 1, "num_procs": 1},
        "meta_template": {"round": [{"role": "HUMAN", "begin": "<|User|>:", "end": "\n"},
                                    {"role": "BOT", "begin": "<|Bot|>:", "end": "<eoa>\n", "generate": True}],
                          "eos_token_id": 103028},
    })
    assert spec.backend == "hf" and spec.num_gpus == 1 and spec.label == "tiny-hf" and spec.path == str(tiny_model_dir)
    from objective.eval_run import spec_settings
    from objective.runner import EvalConfig

    got = spec_settings(spec, EvalConfig())
    assert got["max_out_len"] == 64
    assert got["meta_template"].render([{"role": "user", "content": "hi"}]) == "<|User|>:hi\n<|Bot|>:"


def test_key_env_forms_and_conflicts(monkeypatch):
    assert ModelSpec.model_validate({"type": "OpenAI", "path": "m", "key": "ENV"}).api_key is None
    named = ModelSpec.model_validate({"type": "OpenAI", "path": "m", "key": "ENV:MY_KEY"})
    assert named.api_key_env == "MY_KEY" and named.api_key is None
    with pytest.raises(ValidationError, match="same setting"):
        ModelSpec.model_validate({"name": "x", "backend": "openai", "model": "m", "retry": 1, "max_retries": 3})
    with pytest.raises(ValidationError, match="bogus"):
        ModelSpec.model_validate({"name": "x", "backend": "openai", "model": "m", "bogus": 1})
