"""The `arena` command's own verbs: version, list (filters, --json), clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from arena.cli import app


def test_list_filters_by_every_word_and_prints_json():
    res = CliRunner().invoke(app, ["list", "--json"])
    assert res.exit_code == 0, res.output
    cat = json.loads(res.stdout)
    assert "smollm2-135m" in cat["models"] and "gpt-4" in cat["models"]
    assert {"ceval_mini_ppl", "mmlu_mini_gen"} <= set(cat["datasets"])
    assert {"mt_bench", "arena_bilingual"} <= set(cat["questions"])
    assert {"mt-bench-pair", "quick-score"} <= set(cat["judges"])
    # like OpenCompass's list_configs: each pattern matches entries of any table (fuzzy, wildcards)
    both = json.loads(CliRunner().invoke(app, ["list", "smollm2", "ceval", "--json"]).stdout)
    assert "smollm2-135m" in both["models"] and "ceval_mini_ppl" in both["datasets"]
    assert "gpt-4" not in both["models"] and "mmlu_mini_gen" not in both["datasets"]
    only = json.loads(CliRunner().invoke(app, ["list", "ceval_mini*ppl", "--json"]).stdout)
    assert only == {"models": [], "datasets": ["ceval_mini_ppl"], "questions": [], "judges": [],
                    "backends": [], "metrics": []}
    table = CliRunner().invoke(app, ["list", "mt"])
    assert "mt_bench" in table.output and "mt-bench-single" in table.output
    # printed to a pipe: one row per entry, never wrapped at 80 columns
    wide = CliRunner().invoke(app, ["list", "smollm2-135m"]).output
    line = next(r for r in wide.splitlines() if "smollm2-135m" in r)
    assert "SmolLM2-135M-Instruct" in line and "(GGUF -> fp32)" in line and len(line) > 80


def test_version_and_a_clean_error_for_bad_input(tmp_path):
    assert "arena-eval" in CliRunner().invoke(app, ["version"]).output
    bad = tmp_path / "exp.yaml"
    bad.write_text("name: x\nmodels: [gtp-4]\n")
    proc = subprocess.run([sys.executable, "-c", "from arena.cli import main; main()", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{bad}:2" in proc.stdout + proc.stderr and "gpt-4" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
