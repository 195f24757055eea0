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
