"""The robustness section of the report: table, chart and summaries from stored results."""

from __future__ import annotations

import pytest

from arena.core.store import Store
from arena.report.build import build_report
from objective.datasets import load_dataset
from objective.robustness import RobustOptions, evaluate_robust
from objective.runner import EvalConfig
from tests.test_robustness import FIXTURE, Scripted, _card


@pytest.fixture()
def report(tmp_path):
    (tmp_path / "data").mkdir()
    ds = load_dataset(str(_card(tmp_path / "data", FIXTURE)))
    store = Store(tmp_path / "arena.sqlite")
    evaluate_robust(
        Scripted(),
        ds,
        RobustOptions(circular=True, variants=3),
        work_dir=tmp_path,
        store=store,
        config=EvalConfig(prompt_style="base"),
    )
    paths = build_report(store, None, tmp_path / "run")
    store.close()
    return paths


def test_report_shows_robustness_table_and_chart(report):
    html = report.html.read_text(encoding="utf-8")
    assert (
        'id="robustness"' in html and 'id="table-robustness"' in html and "fig-robustness" in html
    )
    body = html[html.index('id="table-robustness"') :]
    body = body[: body.index("</table>")]
    # fx: original 33.33, mean rotation 41.67, circular 33.33 (the hand count of test_robustness)
    assert "33.33" in body and "41.67" in body and "fx/g" in body and "stability" in body
    objective = html[html.index('id="table-objective"') :]
    objective = objective[: objective.index("</table>")]
    assert (
        "acc_circular" not in objective and "@mean" not in objective
    )  # only in the robustness table
    summaries = " ".join(p.read_text(encoding="utf-8") for p in report.out_dir.glob("summary/*"))
    assert "mean rotation" in summaries and "var std" in summaries


def test_run_config_circular_and_variants(tmp_path, monkeypatch):
    from rich.console import Console

    from arena.core.records import DatasetResult
    from arena.experiment import load_experiment
    from arena.pipeline import run_experiment
    from tests.pipeline_fixtures import fake_server

    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    with fake_server() as srv:
        cfg = tmp_path / "exp.yaml"
        cfg.write_text(
            "name: robust\nmodels:\n"
            f'  - {{name: api-a, backend: openai, model: a, base_url: "{srv.base_url}", max_retries: 1}}\n'
            "datasets: [mmlu_mini_gen]\neval: {limit: 4, circular: true, variants: 2}\n",
            encoding="utf-8",
        )
        result = run_experiment(
            load_experiment(cfg), work_dir=tmp_path / "out", console=Console(quiet=True)
        )
    store = Store(result.run_dir / "arena.sqlite")
    metrics = {r.metric for r in store.all(DatasetResult) if r.subset is None}
    store.close()
    assert {
        "accuracy",
        "acc_circular",
        "perf_circular",
        "accuracy@mean",
        "perf_circular@std",
        "stability",
    } <= metrics
    assert 'id="table-robustness"' in (result.run_dir / "report.html").read_text(encoding="utf-8")
