"""One content key for every model call: the weights, not the folder name, decide a cache hit."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.core.records import Prediction, read_jsonl
from arena.models.base import ChatParams, api_identity, cacheable, file_fingerprint, hf_identity


def _eval(model_dir, work, *extra):
    args = [
        "eval",
        "--datasets",
        "ceval_mini_ppl",
        "--hf-path",
        str(model_dir),
        "--hf-abbr",
        "tiny",
        "--max-seq-len",
        "256",
        "--limit",
        "6",
        "--work-dir",
        str(work),
        "--json",
        *extra,
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index('{\n "results"') :])
    preds = read_jsonl(next((work).glob("*/predictions/tiny/ceval_mini_ppl.jsonl")), Prediction)
    return out, [p.nll for p in preds]


def _rewrite_weights_in_place(folder):
    """New values in the same file, same size: what fine-tuning into the same folder does."""
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    save_file({k: v * 1.5 + 0.01 for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def test_rewritten_weights_are_recomputed(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    first, nll1 = _eval(model, tmp_path / "w1")
    assert first["calls"] == 6 and first["cached"] == 0
    # a new work dir: the global cache serves every call, with the same numbers
    again, nll2 = _eval(model, tmp_path / "w2")
    assert again["calls"] == 0 and again["cached"] == 6 and nll2 == nll1
    _rewrite_weights_in_place(model)
    third, nll3 = _eval(model, tmp_path / "w3")
    assert third["calls"] == 6 and third["cached"] == 0
    assert all(abs(a - b) > 1e-6 for x, y in zip(nll1, nll3) for a, b in zip(x, y))
    # --reuse of the first run: its stored predictions belong to the old weights, so they rerun too
    reused, nll4 = _eval(model, tmp_path / "w1", "--reuse")
    assert reused["calls"] == 0 and reused["cached"] == 6 and nll4 == nll3  # the new weights' cache


def test_identity_covers_weights_tokenizer_template_and_settings(tiny_model_dir, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    base = hf_identity(model)
    assert base == hf_identity(model) and base.startswith(f"hf:{model}#")
    assert hf_identity(model, dtype="bfloat16") != base
    assert hf_identity(model, system_prompt="Be brief.") != base
    assert hf_identity(model, max_seq_len=128) != base
    cfg = json.loads((model / "tokenizer_config.json").read_text())
    cfg["chat_template"] = "{{ messages[0]['content'] }}"
    (model / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert hf_identity(model) != base  # another chat template, another key


def test_file_fingerprint_reads_both_ends_of_big_files(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"\0" * (5 << 20))
    before = file_fingerprint(f)
    with open(f, "r+b") as fh:  # change only the last byte, keep the size
        fh.seek(-1, 2)
        fh.write(b"\1")
    assert file_fingerprint(f) != before


def test_api_identity_and_sampling_rules(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert api_identity(None, "gpt") == api_identity("https://api.openai.com/v1/", "gpt")
    assert api_identity(None, "gpt", "Be brief.") != api_identity(None, "gpt")
    assert cacheable(0.0, None) and cacheable(0.7, 1) and not cacheable(0.7, None)


def test_unseeded_samples_are_not_cached(tmp_path):
    from arena.core.cache import Cache
    from arena.models.testing import tiny_hf_model

    cache = Cache(tmp_path / "c.sqlite")
    model = tiny_hf_model(tmp_path, cache=cache, device="cpu")
    msgs = [[{"role": "user", "content": "Tell me a story."}]]
    model.chat_many(msgs, ChatParams(temperature=0.9, max_tokens=4))
    model.chat_many(msgs, ChatParams(temperature=0.9, max_tokens=4))
    assert cache.hits == 0 and cache.misses == 0  # not even looked up
    model.chat_many(msgs, ChatParams(temperature=0.9, max_tokens=4, seed=3))
    again = model.chat_many(msgs, ChatParams(temperature=0.9, max_tokens=4, seed=3))
    assert again[0].cached and cache.hits == 1
    greedy = ChatParams(max_tokens=4)
    model.chat_many(msgs, greedy)
    assert model.chat_many(msgs, greedy)[0].cached


@pytest.mark.parametrize("text", ["答案是北京", "emoji 🙂 end"])
def test_decode_never_ends_in_a_broken_character(text):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from arena.models.hf import decode_whole

    # one token per byte: every cut inside a multi-byte character is possible
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    raw = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=raw)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert "\ufffd" in tok.decode(ids[:2]) or "\ufffd" in tok.decode(
        ids[: len(text.split()[0]) + 2]
    )
    for n in range(1, len(ids) + 1):
        out = decode_whole(tok, ids[:n])
        assert "\ufffd" not in out and text.startswith(out)
