"""run.json: status, versions, config hash, stage timings and counts; atomic; read by report and --reuse."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from rich.console import Console

from arena import stages as S
from arena.core.errors import ConfigError
from arena.experiment import load_experiment
from arena.manifest import read_manifest, write_manifest
from arena.pipeline import run_experiment
from tests.pipeline_fixtures import fake_server, write_config


@pytest.fixture
def server():
    with fake_server() as srv:
        yield srv


def run(cfg: Path, work: Path, **kw):
    return run_experiment(load_experiment(cfg), work_dir=work, console=Console(quiet=True), **kw)


def test_a_run_writes_its_manifest_and_a_resumed_run_reads_it(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=4, questions=2)
    boom = RuntimeError("judge server on fire")

    def fail(*a, **k):
        raise boom

    monkeypatch.setattr(S, "judge_stage", fail)
    with pytest.raises(RuntimeError):
        run(cfg, tmp_path / "out")
    [run_dir] = list((tmp_path / "out").iterdir())
    m = read_manifest(run_dir)
    assert m["status"] == "failed" and m["error"] == "RuntimeError: judge server on fire"
    assert m["config_hash"] == load_experiment(cfg).hash() and m["finished_at"]
    assert (
        m["stages"]["objective"]["units"] == 2 * 3 * 4 and m["stages"]["objective"]["seconds"] > 0
    )
    assert m["counts"]["predictions"] == 2 * 3 * 4 and m["counts"]["judgments"] == 0
    assert {"python", "arena-eval", "pydantic"} <= set(m["versions"]) and m["resumed"] is None

    monkeypatch.undo()
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    result = run(cfg, tmp_path / "out", reuse=True)  # picks the run by its manifest
    assert result.run_dir == run_dir and result.status == "success"
    m2 = read_manifest(run_dir)
    assert m2["status"] == "success" and m2["error"] is None
    assert m2["resumed"]["status"] == "failed" and m2["resumed"]["config_hash"] == m["config_hash"]
    assert m2["stages"]["objective"]["skipped"] == 2 * 3 * 4  # all found stored
    assert m2["counts"]["judgments"] > 0 and m2["counts"]["battles"] > 0

    # arena report takes its stage table from run.json
    (run_dir / "stage_stats.json").unlink()
    from arena.report.cli import _read_optional

    _, stats = _read_optional(run_dir)
    assert stats == m2["stages"]


def test_an_interrupted_run_is_cancelled(tmp_path, server, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    cfg = write_config(tmp_path / "exp.yaml", server.base_url, limit=2, questions=1)

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "answer_stage", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path / "out")
    [run_dir] = list((tmp_path / "out").iterdir())
    assert read_manifest(run_dir)["status"] == "cancelled"


def test_manifest_writes_are_atomic_and_checked(tmp_path):
    with pytest.raises(ValueError, match="run status must be one of"):
        write_manifest(tmp_path, {"status": "done"})
    stop, seen = threading.Event(), []

    def reader():
        while not stop.is_set():
            if (tmp_path / "run.json").exists():
                seen.append(json.loads((tmp_path / "run.json").read_text())["n"])

    t = threading.Thread(target=reader)
    t.start()
    for n in range(300):
        write_manifest(tmp_path, {"status": "started", "n": n, "pad": "x" * 20000})
    stop.set()
    t.join()
    assert seen and seen == sorted(seen)  # every read was a whole file, in order
    assert not list(tmp_path.glob(".run.*"))  # no temp files left behind
    (tmp_path / "run.json").write_text('{"status": "started",\n oops}')
    with pytest.raises(ConfigError) as e:
        read_manifest(tmp_path)
    assert "run.json" in str(e.value) and ":2" in str(e.value)


def test_run_config_takes_batch_size_auto(tmp_path, tiny_model_dir, monkeypatch):
    """`eval: {batch_size: auto}` reaches the objective scorer in `arena run`, as
    `arena eval --batch-size auto` does; anything else is one error naming the field."""
    import objective.ppl as ppl

    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    seen = []
    real = ppl.score_choices
    monkeypatch.setattr(ppl, "score_choices", lambda *a, **k: seen.append(k["batch_size"]) or real(*a, **k))
    cfg = tmp_path / "auto.yaml"
    body = ("name: auto\nmodels:\n  - {{name: tiny, backend: hf, path: \"{}\"}}\n"
            "datasets: [winograd_mini_ppl]\neval: {{limit: 4, batch_size: {}}}\n")
    cfg.write_text(body.format(tiny_model_dir, "auto"))
    assert load_experiment(cfg).eval.batch_size == "auto"
    result = run(cfg, tmp_path / "out")
    assert seen == ["auto"] and read_manifest(result.run_dir)["status"] == "success"
    cfg.write_text(body.format(tiny_model_dir, "huge"))
    with pytest.raises(ConfigError, match="batch_size"):
        load_experiment(cfg)
