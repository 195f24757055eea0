"""`arena eval` behaves like `arena run`: run directories, progress, resume, checks, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.core.records import Prediction, read_jsonl


def _invoke(*args: str) -> tuple[int, str, dict | None]:
    res = CliRunner().invoke(app, ["eval", *args])
    out = None
    if '{\n "results"' in res.output:
        out = json.loads(res.output[res.output.index('{\n "results"'):])
    return res.exit_code, res.output, out


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cut_prompts_are_counted_warned_and_stored_as_seen(tiny_model_dir, tmp_path, cache_dir):
    from transformers import AutoTokenizer

    code, output, out = _invoke("--datasets", "ceval_mini_ppl", "gsm8k_mini_gen", "--hf-path", str(tiny_model_dir),
                                "--hf-abbr", "tiny", "--max-seq-len", "120", "--limit", "4",
                                "--work-dir", str(tmp_path / "w"), "--json")
    assert code == 0, output
    assert out["truncated"] == {"tiny/ceval_mini_ppl": 4, "tiny/gsm8k_mini_gen": 4}
    for name in ("ceval_mini_ppl", "gsm8k_mini_gen"):  # one warning per dataset
        assert output.count(f"tiny / {name}: 4 of 4 prompts were longer than max_seq_len=120") == 1
    code, _, whole = _invoke("--datasets", "ceval_mini_ppl", "gsm8k_mini_gen", "--hf-path", str(tiny_model_dir),
                             "--hf-abbr", "tiny", "--max-seq-len", "512", "--limit", "4",
                             "--work-dir", str(tmp_path / "whole"), "--json")
    assert code == 0 and "tiny/ceval_mini_ppl" not in whole["truncated"]  # gen keeps 512 - 96 tokens
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    run, full = Path(out["run_dir"]), Path(whole["run_dir"])
    for name, keep in (("ceval_mini_ppl", 120), ("gsm8k_mini_gen", 120 - 96)):
        cut = read_jsonl(run / "predictions" / "tiny" / f"{name}.jsonl", Prediction)
        uncut = read_jsonl(full / "predictions" / "tiny" / f"{name}.jsonl", Prediction)
        for p, q in zip(cut, uncut):  # the stored prompt is the end of the whole one, as the model saw it
            seen = p.prompt.lstrip("\ufffd")  # a left cut may split a multi-byte character
            assert q.prompt.endswith(seen) and len(seen) < len(q.prompt)
            n = len(tok(seen, add_special_tokens=False)["input_ids"])
            assert keep - 12 <= n <= keep + 4  # re-tokenizing decoded text may merge a few bytes differently
    assert "━" in output and "4/4" in output  # rich progress bars, always on
    log = (run / "logs" / "eval.log").read_text()
    assert "prompts were longer than max_seq_len" in log and "model calls" in log


def test_reuse_continues_the_latest_run_without_any_call(tiny_model_dir, tmp_path, cache_dir):
    args = ["--datasets", "ceval_mini_ppl", "--hf-path", str(tiny_model_dir), "--hf-abbr", "tiny",
            "--limit", "3", "--work-dir", str(tmp_path / "w"), "--json"]
    code, output, first = _invoke(*args)
    assert code == 0, output
    code, output, again = _invoke(*args, "--reuse")
    assert code == 0, output
    assert again["run_dir"] == first["run_dir"] and again["calls"] == 0 and again["cached"] == 0
    assert again["results"] == first["results"]
    code, output, fresh = _invoke(*args)  # no --reuse: a new timestamped run, served by the cache
    assert fresh["run_dir"] != first["run_dir"] and fresh["calls"] == 0 and fresh["cached"] == 3


def test_duplicate_names_are_errors(tiny_model_dir, tmp_path, monkeypatch, cache_dir):
    code, output, _ = _invoke("--datasets", "ceval_mini_ppl", "ceval_mini_ppl", "--hf-path", str(tiny_model_dir),
                              "--work-dir", str(tmp_path / "w"))
    assert code == 2 and "two datasets are named 'ceval_mini_ppl'" in output
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / "m.yaml").write_text(f"name: tiny\npath: {tiny_model_dir}\n")
    monkeypatch.setenv("ARENA_HOME", str(home))
    code, output, _ = _invoke("--datasets", "ceval_mini_ppl", "--models", "tiny", "--hf-path", str(tiny_model_dir),
                              "--hf-abbr", "tiny", "--work-dir", str(tmp_path / "w"))
    assert code == 2 and "two models are named 'tiny'" in output
    assert not (tmp_path / "w").exists()  # checked before any directory or model load


@pytest.mark.parametrize("case", ["missing", "empty", "broken"])
def test_an_unloadable_model_is_one_line_naming_the_path(case, tmp_path):
    folder = tmp_path / "model"
    if case != "missing":
        folder.mkdir()
    if case == "broken":
        (folder / "config.json").write_text('{"model_type": "llama", "vocab_size": "many"}')
    proc = subprocess.run([sys.executable, "-c", "from arena.cli import main; main()", "eval", "--datasets",
                           "ceval_mini_ppl", "--hf-path", str(folder), "--work-dir", str(tmp_path / "w")],
                          capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "ARENA_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and str(folder) in err[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_api_model_from_opencompass_keys_ppl_plain_text_and_gen_temperature(tmp_path, monkeypatch, cache_dir):
    from arena.models.testing import FakeOpenAIServer

    with FakeOpenAIServer(replies=["The answer is 3."] * 10) as server:
        home = tmp_path / "home"
        (home / "models").mkdir(parents=True)
        (home / "models" / "oc.yaml").write_text(
            "type: OpenAISDK\nabbr: fake-api\npath: fake-model\nkey: ENV\n"
            f"openai_api_base: {server.base_url}/chat/completions\nquery_per_second: 50\nretry: 1\n"
            "temperature: 0.7\nmax_out_len: 32\nmax_seq_len: 2048\nbatch_size: 4\n"
            "meta_template: {round: [{role: HUMAN, api_role: HUMAN}, {role: BOT, api_role: BOT, generate: true}]}\n"
            "run_cfg: {num_gpus: 0, num_procs: 1}\n")
        monkeypatch.setenv("ARENA_HOME", str(home))
        code, output, out = _invoke("--datasets", "ceval_mini_ppl", "gsm8k_mini_gen", "--models", "fake-api",
                                    "--limit", "2", "--seed", "1", "--work-dir", str(tmp_path / "w"), "--json")
        assert code == 0, output
        completions = [b for b in server.bodies if "prompt" in b]
        chats = [b for b in server.bodies if "messages" in b]
    assert len(completions) == 8 and all(b["echo"] and b["logprobs"] for b in completions)
    for b in completions:  # a plain-text prompt, never chat messages encoded as JSON
        assert isinstance(b["prompt"], str) and not b["prompt"].lstrip().startswith(("[", "{"))
        assert "答案" in b["prompt"] and '"role"' not in b["prompt"]
    assert len(chats) == 2 and all(b["temperature"] == 0.7 and b["max_tokens"] == 96 for b in chats)
    assert all(b["model"] == "fake-model" for b in server.bodies)


def test_dry_run_tokens_match_the_run_for_ppl(tiny_model_dir, tmp_path, cache_dir):
    args = ["--datasets", "ceval_mini_ppl", "winograd_mini_ppl", "--hf-path", str(tiny_model_dir),
            "--hf-abbr", "tiny", "--max-seq-len", "200", "--limit", "5", "--work-dir", str(tmp_path / "w"), "--json"]
    res = CliRunner().invoke(app, ["eval", *args, "--dry-run"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output[res.output.index("{"):])
    assert not (tmp_path / "w").exists()  # nothing ran
    code, output, out = _invoke(*args)
    assert code == 0, output
    assert plan["total_tokens"] == pytest.approx(out["tokens"], rel=0.2)
    assert plan["total_tokens"] == out["tokens"]  # ppl: the same prompts, the same tokenizer


@pytest.mark.slow
def test_dry_run_tokens_within_20_percent_for_gen_on_smollm2(smollm2_dir, tmp_path, cache_dir):
    args = ["--datasets", "gsm8k_mini_gen", "mmlu_mini_gen", "--hf-path", str(smollm2_dir), "--hf-abbr", "smol",
            "--limit", "4", "--work-dir", str(tmp_path / "w"), "--json"]
    res = CliRunner().invoke(app, ["eval", *args, "--dry-run"])
    plan = json.loads(res.output[res.output.index("{"):])
    code, output, out = _invoke(*args)
    assert code == 0, output
    assert plan["total_tokens"] == pytest.approx(out["tokens"], rel=0.2), (plan, out["tokens"])


def test_arena_run_dry_run_tokens_match_the_run(tiny_model_dir, tmp_path, cache_dir):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text(f"name: dry\nmodels:\n  - {{name: tiny, path: {tiny_model_dir}, max_seq_len: 160}}\n"
                   "datasets: [ceval_mini_ppl, winograd_mini_ppl]\neval: {limit: 4}\n")
    res = CliRunner().invoke(app, ["run", str(cfg), "--dry-run", "--json", "-w", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    est = sum(t["est_tokens"] for t in plan["tasks"] if t["stage"] == "infer")
    res = CliRunner().invoke(app, ["run", str(cfg), "-w", str(tmp_path / "o"), "--stages", "infer"])
    assert res.exit_code == 0, res.output
    stats = json.loads(next((tmp_path / "o").glob("*/stage_stats.json")).read_text())
    used = stats["objective"]["tokens"]
    assert used > 0 and est == pytest.approx(used, rel=0.2)
