"""`arena eval` end to end on a tiny model: JSON = CSV = TXT = MD, predictions, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.core.records import Prediction, read_jsonl
from arena.core.store import Store
from objective.summarizer import read_summary_csv, row_name
from tests.objective_fixtures import NoCallModel, write_jsonl


@pytest.fixture(scope="module")
def run(tiny_model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("eval")
    args = ["eval", "--datasets", "ceval_mini_ppl", "gsm8k_mini_gen", "--hf-path", str(tiny_model_dir),
            "--hf-abbr", "tiny", "--max-seq-len", "256", "--max-out-len", "8", "--batch-size", "4",
            "--limit", "12", "--work-dir", str(work), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index('{\n "results"'):])
    run_dir = Path(out["run_dir"])  # <work-dir>/<timestamp>/, as `arena run` lays it out
    assert run_dir.parent == work and (run_dir / "logs" / "eval.log").stat().st_size > 0
    assert list((run_dir / "configs").glob("*.json")) and (run_dir / "results" / "tiny").is_dir()
    return run_dir, out


def test_json_and_summaries_agree(run):
    work, out = run
    rows = out["results"]
    assert {r["dataset"] for r in rows} == {"ceval_mini_ppl", "gsm8k_mini_gen"}
    assert any(r["metric"] == "weighted_average" for r in rows)
    csv_rows = read_summary_csv(work / "summary" / "summary.csv")
    txt = (work / "summary" / "summary.txt").read_text()
    md = (work / "summary" / "summary.md").read_text()
    assert len(csv_rows) == len(rows)
    for r in rows:
        name = f"{r['dataset']}/{r['subset']}" if r["subset"] else r["dataset"]
        key = next(k for k in csv_rows if k[0] == name and k[2] == r["metric"] and k[3] == r["mode"])
        cell = f"{r['value']:.2f}"
        assert csv_rows[key]["tiny"] == cell
        assert any(name in line and cell in line and r["metric"] in line for line in txt.splitlines())
        assert f"| {name} | {key[1]} | {r['metric']} | {r['mode']} | {cell} |" in md


def test_predictions_recompute_the_scores(run):
    work, out = run
    ppl = read_jsonl(work / "predictions" / "tiny" / "ceval_mini_ppl.jsonl", Prediction)
    assert len(ppl) == 12
    for p in ppl:
        # the tiny model has a chat template, so "auto" renders chat prompts
        assert p.prompt.endswith("答案：<|eos|>\n<|assistant|>\n") and p.continuations == ["A", "B", "C", "D"]
        assert p.pred == min(range(4), key=lambda i: p.nll[i]) and p.correct == float(p.pred == p.gold)
    overall = next(r for r in out["results"] if r["dataset"] == "ceval_mini_ppl" and r["subset"] is None
                   and r["metric"] == "accuracy")
    assert overall["value"] == pytest.approx(100 * sum(p.correct for p in ppl) / len(ppl))
    assert overall["n"] == 12
    gen = read_jsonl(work / "predictions" / "tiny" / "gsm8k_mini_gen.jsonl", Prediction)
    assert all(p.raw is not None and p.gold for p in gen) and "Question: " in gen[0].prompt


def test_rerun_resumes_without_model_calls(run, tiny_model_dir):
    from arena.models.hf import HFModel
    from objective.datasets import load_dataset
    from objective.runner import EvalConfig, evaluate_dataset

    work, out = run
    store = Store(work / "arena.sqlite")
    before = store.count(Prediction)
    model = NoCallModel(HFModel(tiny_model_dir, name="tiny", max_seq_len=256, batch_size=4))
    config = EvalConfig(batch_size=4, max_out_len=8, limit=12)
    res = evaluate_dataset(model, load_dataset("ceval_mini_ppl"), work_dir=work, store=store, config=config)
    assert store.count(Prediction) == before
    first = {(r["subset"], r["metric"]): r["value"] for r in out["results"] if r["dataset"] == "ceval_mini_ppl"}
    assert all(first[(r.subset, r.metric)] == r.value for r in res)
    assert {row_name(r) for r in res} >= {"ceval_mini_ppl"}


def test_empty_or_bad_dataset_fails_cleanly(tmp_path, tiny_model_dir):
    (tmp_path / "empty.jsonl").write_text("")
    res = CliRunner().invoke(app, ["eval", "--datasets", str(tmp_path / "empty.jsonl"),
                                   "--hf-path", str(tiny_model_dir), "--work-dir", str(tmp_path / "w")])
    assert res.exit_code == 2 and "no rows" in res.output
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "choices": ["a", "b"], "answer": "C"}])
    res = CliRunner().invoke(app, ["eval", "--datasets", str(bad), "--hf-path", str(tiny_model_dir)])
    assert res.exit_code == 2 and f"{bad}:1" in res.output and "answer" in res.output
