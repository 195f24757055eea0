"""`arena run` end to end on a loopback API server: stages, outputs layout, report, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from arena.core.errors import ArenaError, ConfigError, UnknownNameError
from arena.core.records import Battle, DatasetResult, Judgment, Score
from arena.core.store import Store
from arena.experiment import load_experiment
from arena.pipeline import run_experiment
from arena.report.summary import read_summary_csv
from tests.pipeline_fixtures import fake_server, write_config


@pytest.fixture
def server():
    with fake_server() as srv:
        yield srv


def comparable_summary(run_dir: Path) -> dict[str, list]:
    """The summary tables minus what measures time (the stage table, latency columns)."""
    tables = read_summary_csv(run_dir / "summary" / "summary.csv")
    return {t: df.drop(columns=[c for c in df.columns if "latency" in c]).to_dict("records")
            for t, df in tables.items() if "stage" not in t.lower()}


def run(cfg: Path, work: Path, **kw):
    return run_experiment(load_experiment(cfg), work_dir=work, console=Console(quiet=True), **kw)


def test_full_run_writes_layout_and_consistent_summaries(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url)
    result = run(cfg, tmp_path / "out")
    d = result.run_dir
    assert d.parent == tmp_path / "out"
    for sub in ("configs", "logs/infer", "logs/judge", "predictions", "results", "judgments", "summary"):
        assert (d / sub).is_dir(), sub
    assert (d / "report.html").is_file() and list((d / "summary").glob("summary_*.md"))
    assert (d / "predictions" / "api-a" / "gsm8k_mini_gen.jsonl").is_file()
    store = Store(d / "arena.sqlite")
    # 3 datasets x 2 models, each with at least an overall row
    assert {(r.model, r.dataset) for r in store.all(DatasetResult)} >= {
        (m, ds) for m in ("api-a", "api-b") for ds in ("gsm8k_mini_gen", "winograd_mini_ppl", "mmlu_mini_gen")}
    assert store.count(Battle) > 0 and store.count(Score) > 0
    assert all(j.parse_error is None for j in store.all(Judgment))
    assert result.stats["objective"].units == 2 * 3 * 12
    calls = server.requests
    # the same config again in a new run directory: every model call comes from the cache
    again = run(cfg, tmp_path / "out")
    assert server.requests == calls
    assert again.run_dir != d
    assert comparable_summary(again.run_dir) == comparable_summary(d)


def test_reuse_resumes_the_latest_run_without_calls(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=4, questions=2)
    first = run(cfg, tmp_path / "out")
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "other-cache"))  # no cache to lean on
    calls = server.requests
    second = run(cfg, tmp_path / "out", reuse=True)
    assert second.run_dir == first.run_dir
    assert server.requests == calls  # everything was found stored by content
    assert second.stats["objective"].skipped == first.stats["objective"].units


def test_unknown_names_list_close_matches_and_touch_nothing(tmp_path, server):
    cfg = write_config(tmp_path / "exp.yaml", server.base_url)
    text = cfg.read_text().replace("winograd_mini_ppl", "winogrand_mini_ppl")
    cfg.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(UnknownNameError) as info:
        run(cfg, out)
    assert "winograd_mini_ppl" in str(info.value)
    assert not out.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodels: [smollm2-135n]\n")
    with pytest.raises(ConfigError) as info:
        load_experiment(bad)
    assert "smollm2-135m" in str(info.value) and f"{bad}:2" in str(info.value)


def test_invalid_config_leaves_earlier_run_untouched(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=2, questions=1)
    first = run(cfg, tmp_path / "out")
    before = {p: p.stat().st_mtime_ns for p in first.run_dir.rglob("*")}
    cfg.write_text(cfg.read_text() + "\nbogus_key: 1\n")
    with pytest.raises(ArenaError) as info:
        run(cfg, tmp_path / "out", reuse=True)
    assert "bogus_key" in str(info.value)
    assert {p: p.stat().st_mtime_ns for p in first.run_dir.rglob("*")} == before


def test_dry_run_prints_plan_without_calls(tmp_path, server):
    from typer.testing import CliRunner

    from arena.cli import app

    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=5, questions=3)
    res = CliRunner().invoke(app, ["run", str(cfg), "--dry-run", "--json", "-w", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    stages = {t["stage"] for t in plan["tasks"]}
    assert stages == {"infer", "answer", "judge"}
    infer = {(t["model"], t["target"]): t for t in plan["tasks"] if t["stage"] == "infer"}
    assert infer[("api-a", "winograd_mini_ppl")]["calls"] == 5 * 2  # two options each
    assert server.requests == 0 and not (tmp_path / "o").exists()


def test_reuse_with_changed_settings_redoes_only_what_changed(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=3, questions=2)
    first = run(cfg, tmp_path / "out")
    calls = server.requests
    server.reset_counters()
    cfg.write_text(cfg.read_text().replace("eval: {limit: 3}", "eval: {limit: 5}"))
    second = run(cfg, tmp_path / "out", reuse=True)
    assert second.run_dir == first.run_dir
    # 2 new samples x 2 models: gen datasets one call each, the ppl one a call per option
    assert server.requests == 2 * 2 * (1 + 1 + 2)
    assert all(b.get("model") != "judge" for b in server.bodies)  # no judge call
    store = Store(second.run_dir / "arena.sqlite")
    overall = [r for r in store.all(DatasetResult, run=second.run_dir.name) if r.subset is None
               and r.metric == "accuracy"]
    assert overall and {r.n for r in overall} == {5}
    assert calls > server.requests
