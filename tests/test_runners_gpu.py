"""`arena eval --num-gpus N` (one worker per GPU, simulated on CPU), `--batch-size auto`, OOM back-off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from arena.cli import app
from arena.models.batching import Backoff, auto_batch_size, is_oom
from arena.models.prefix import score_groups


def _eval(model_dir: Path, work: Path, *extra: str) -> tuple[dict, Path]:
    args = ["eval", "--datasets", "ceval_mini_ppl", "gsm8k_mini_gen", "--hf-path", str(model_dir),
            "--hf-abbr", "tiny", "--max-seq-len", "256", "--max-out-len", "8", "--limit", "10",
            "--work-dir", str(work), "--json", *extra]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index('{\n "results"'):])
    return out, Path(out["run_dir"])


def _table(out: dict) -> list[tuple]:
    return sorted((r["dataset"], r["subset"] or "", r["metric"], r["value"], r["n"]) for r in out["results"])


@pytest.mark.slow
def test_num_gpus_2_splits_across_two_workers_same_table(tiny_model_dir, tmp_path, monkeypatch):
    seq, _ = _eval(tiny_model_dir, tmp_path / "seq", "--batch-size", "4")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # two simulated devices (no CUDA here)
    par, run_dir = _eval(tiny_model_dir, tmp_path / "par", "--batch-size", "4", "--num-gpus", "2")
    assert _table(par) == _table(seq)
    report = json.loads((run_dir / "logs" / "runner-eval.json").read_text())
    tasks = report["tasks"]
    assert {t["gpus"] for t in tasks} == {"0", "1"}  # one device each, via CUDA_VISIBLE_DEVICES
    assert len({t["pid"] for t in tasks}) == 2  # two worker processes
    assert sum(t["units"] for t in tasks) == 20  # 10 samples x 2 datasets, each done once
    assert par["calls"] == 0  # the parent made no model call: the workers stored everything


def test_num_gpus_without_gpus_warns_one_line_and_runs_on_cpu(tiny_model_dir, tmp_path, monkeypatch):
    from arena.runners.eval_shards import plan_devices

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    gpus, warning = plan_devices(2)
    assert gpus == [] and warning is not None and "\n" not in warning and "CPU" in warning
    args = ["eval", "--datasets", "ceval_mini_ppl", "--hf-path", str(tiny_model_dir), "--limit", "4",
            "--max-seq-len", "256", "--num-gpus", "2", "--work-dir", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "no GPU found; evaluating on the CPU" in res.output


def test_batch_size_auto_cli_gives_the_same_table(tiny_model_dir, tmp_path):
    fixed, _ = _eval(tiny_model_dir, tmp_path / "fixed", "--batch-size", "3")
    auto, _ = _eval(tiny_model_dir, tmp_path / "auto", "--batch-size", "auto")
    assert _table(auto) == _table(fixed)


def test_auto_batch_size_follows_free_memory(monkeypatch):
    from arena.models import batching

    model = torch.nn.Linear(4, 4)
    model.config = type("C", (), {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "intermediate_size": 256})()
    per_token = batching.bytes_per_token(model)
    monkeypatch.setattr(batching, "free_memory", lambda device: int(per_token * 100 * 5.5 / 0.7))
    assert auto_batch_size(model, tokens_per_item=100, cap=64) == 4  # 5.5 fit -> power of two below
    monkeypatch.setattr(batching, "free_memory", lambda device: 1 << 40)
    assert auto_batch_size(model, tokens_per_item=100, cap=64) == 64  # capped


@pytest.mark.parametrize("mode, method", [("packed", "_run"), ("staged", "_stage_b")])
def test_ppl_out_of_memory_halves_and_retries_never_fails(tiny_model_dir, monkeypatch, mode, method):
    from transformers import AutoModelForCausalLM

    from arena.models import prefix
    from tests.test_prefix_packed import _groups

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    groups = _groups(5, 16, model.config.vocab_size, no_prefix_every=1)  # no shared prefix
    ref = score_groups(model, groups, 256, 16, mode)
    cls = prefix.PackedScorer if mode == "packed" else prefix.PrefixScorer
    real = getattr(cls, method)
    limits, ooms = [12, 3], []  # the first batch that fits at 16 questions would not, later even less

    def flaky(self, batch, *a, **k):
        if len(batch) > limits[0]:
            ooms.append(len(batch))
            if len(limits) > 1:
                limits.pop(0)
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real(self, batch, *a, **k)

    monkeypatch.setattr(cls, method, flaky)
    got = score_groups(model, groups, 256, "auto", mode)  # auto on CPU: up to 32 questions a batch
    # auto picked 32 (all 16 questions); halved to 16 (still all), 8, 4, then 2 fit: out of memory
    # again after the first back-off never fails the run
    assert ooms == [16, 16, 8, 4]
    assert [r.nll for g in got for r in g] == pytest.approx([r.nll for g in ref for r in g], abs=1e-5)


def test_backoff_only_retries_out_of_memory():
    owner = type("O", (), {"batch_size": 8, "device": "cpu"})()
    backoff = Backoff()
    assert is_oom(torch.OutOfMemoryError("x")) and is_oom(RuntimeError("CUDA error: out of memory"))
    assert not backoff(ValueError("bad input"), owner) and owner.batch_size == 8
    assert backoff(torch.OutOfMemoryError("x"), owner) and owner.batch_size == 4
    owner.batch_size = 1
    assert not backoff(torch.OutOfMemoryError("x"), owner)  # a batch of one cannot shrink


def test_dtype_auto_is_bf16_on_gpus_that_have_it(monkeypatch):
    from arena.models.batching import default_dtype

    assert default_dtype("cpu") == "float32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert default_dtype("cuda") == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert default_dtype("cuda:1") == "float16"
