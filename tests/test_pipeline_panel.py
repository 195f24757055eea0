"""`arena run` with a judge panel: two pairwise judges combined, in the store and the report."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from arena.core.records import Battle
from arena.core.store import Store
from arena.experiment import load_experiment
from arena.pipeline import run_experiment
from tests.pipeline_fixtures import fake_server


def test_run_with_a_panel_of_two_judges(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    with fake_server() as server:
        url = server.base_url
        judge = '{{name: {n}, backend: openai, model: {n}, base_url: "{u}", max_retries: 1}}'
        cfg = tmp_path / "exp.yaml"
        cfg.write_text(f"""
name: panel
models:
  - {{name: api-a, backend: openai, model: a, base_url: "{url}", max_retries: 1}}
  - {{name: api-b, backend: openai, model: b, base_url: "{url}", max_retries: 1}}
questions: [arena_bilingual]
question_limit: 4
answer: {{max_tokens: 32}}
judges:
  - config: mt-bench-pair
    model: {judge.format(n="judge-1", u=url)}
  - config: mt-bench-pair
    model: {judge.format(n="judge-2", u=url)}
panel: {{method: majority}}
report: {{bootstrap: 20}}
""")
        result = run_experiment(
            load_experiment(cfg), work_dir=tmp_path / "out", console=Console(quiet=True)
        )
    store = Store(result.run_dir / "arena.sqlite")
    sources = {b.source for b in store.all(Battle)}
    assert {
        "judge:mt-bench-pair@judge-1",
        "judge:mt-bench-pair@judge-2",
        "judge:panel-majority",
    } <= sources
    by = {}
    for b in store.all(Battle):
        by.setdefault(b.source, {})[(b.question_id, b.model_a, b.model_b, b.turn)] = b.winner
    j1, j2 = by["judge:mt-bench-pair@judge-1"], by["judge:mt-bench-pair@judge-2"]
    for k, w in by["judge:panel-majority"].items():  # two judges: the panel needs both to agree
        assert w == (j1[k] if j1.get(k) == j2.get(k) else "tie")
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Leaderboard: panel-majority" in html and 'id="table-panels"' in html
