"""Partitioners, scheduler, GPU slices and the dry-run plan (no worker processes here)."""

from __future__ import annotations

import json

import pytest

from arena.core.errors import ConfigError
from arena.experiment import load_experiment
from arena.runners import Scheduler, partition
from arena.runners.local import gpu_slices
from arena.runners.partition import sample_costs
from arena.runners.tasks import Part, Task
from arena.stages import preflight
from tests.pipeline_fixtures import write_config

URL = "http://127.0.0.1:9/v1"  # never called: nothing here runs a model


@pytest.fixture(scope="module")
def exp_pf(tmp_path_factory):
    cfg = write_config(tmp_path_factory.mktemp("p") / "exp.yaml", URL, limit=12, questions=6)
    exp = load_experiment(cfg)
    return exp, preflight(exp)


def ids_of(tasks, kind_model, target):
    return [i for t in tasks if t.model == kind_model for p in t.parts if p.target == target for i in p.ids]


def test_naive_is_one_task_per_model_and_target(exp_pf):
    exp, pf = exp_pf
    tasks = partition(exp, pf, "naive")
    assert [(t.model, t.parts[0].target) for t in tasks["infer"]] == [
        (m, d) for m in ("api-a", "api-b") for d in exp.datasets]
    assert all(t.units == 12 for t in tasks["infer"])
    assert [(t.model, t.parts[0].target) for t in tasks["answer"]] == [
        ("api-a", "arena_bilingual"), ("api-b", "arena_bilingual")]
    assert [t.judge for t in tasks["judge"]] == ["mt-bench-single", "mt-bench-pair"]
    assert len({t.id for ts in tasks.values() for t in ts}) == sum(len(ts) for ts in tasks.values())


def test_size_splits_big_targets_into_balanced_shards_covering_every_sample(exp_pf):
    exp, pf = exp_pf
    gsm = pf.datasets[exp.datasets.index("gsm8k_mini_gen")]
    costs = dict(sample_costs(gsm, exp.models[0], 12))
    total = sum(costs.values())
    tasks = partition(exp, pf, "size", target_task_size=total / 3)["infer"]
    shards = [p for t in tasks if t.model == "api-a" for p in t.parts if p.target == "gsm8k_mini_gen"]
    assert [p.shard for p in shards] == ["1/3", "2/3", "3/3"]
    # every sample exactly once, in dataset order (contiguous shards)
    assert ids_of(tasks, "api-a", "gsm8k_mini_gen") == [s.id for s in gsm.samples[:12]]
    biggest = max(costs.values())
    for p in shards:  # each shard within one sample of the target
        assert abs(p.cost - total / 3) <= biggest
        assert p.cost == sum(costs[i] for i in p.ids)


def test_size_packs_small_targets_of_one_model_together(exp_pf):
    exp, pf = exp_pf
    tasks = partition(exp, pf, "size", target_task_size=10**9)
    infer = tasks["infer"]
    assert len(infer) == 2  # everything of a model fits in one task
    assert [p.target for p in infer[0].parts] == exp.datasets and infer[0].model == "api-a"
    assert [p.shard for t in infer for p in t.parts] == [""] * 6
    # the same settings give the same tasks
    assert partition(exp, pf, "size", target_task_size=10**9) == tasks
    with pytest.raises(ValueError):
        partition(exp, pf, "bogus")


def test_size_shards_questions_for_answers_and_judges(exp_pf):
    exp, pf = exp_pf
    tasks = partition(exp, pf, "size", target_task_size=1)  # one question per task
    answers = [t for t in tasks["answer"] if t.model == "api-a"]
    assert [t.parts[0].ids for t in answers] == [(q.id,) for q in pf.questions]
    judge = [t for t in tasks["judge"] if t.judge == "mt-bench-pair"]
    assert len(judge) == len(pf.questions) and all(t.judge_index == 1 for t in judge)


def _task(model: str, cost: float, n: int = 0) -> Task:
    return Task("infer", model, f"k-{model}", (Part(f"d{n}", (f"s{n}",), cost),))


def test_scheduler_keeps_models_on_their_worker_and_bounds_retries():
    tasks = [_task("a", 5, 1), _task("a", 4, 2), _task("b", 3, 3), _task("b", 9, 4)]
    s = Scheduler(tasks, max_retries=1)
    first = s.next_for(None, set())
    assert first.cost == 9  # largest first
    assert s.next_for("k-b", set()).model == "b"  # same model as held
    assert s.next_for(None, {"k-a"}).model == "a"  # nothing left but a model held elsewhere
    s.fail(first, "boom")
    assert s.pending[0] is first and s.retries == 1
    assert s.next_for("k-a", set()).model == "a"  # affinity beats the retried task
    assert s.next_for("k-b", set()) is first
    s.fail(first, "boom again")
    assert first.id in s.failed and first not in s.pending


def test_gpu_slices_are_disjoint_and_fail_clearly():
    assert gpu_slices(2, 0, []) == [None, None]
    assert gpu_slices(4, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]  # only two workers fit
    assert gpu_slices(2, 1, ["5", "7", "9"]) == ["5", "7"]
    with pytest.raises(ConfigError, match="needs 2 GPU"):
        gpu_slices(2, 2, ["0"])


def test_dry_run_shows_partitioned_tasks_and_runner_flags(tmp_path):
    from typer.testing import CliRunner

    from arena.cli import app

    cfg = write_config(tmp_path / "exp.yaml", URL, limit=12, questions=4)
    res = CliRunner().invoke(app, ["run", str(cfg), "--dry-run", "--json", "--runner", "local",
                                   "--max-workers", "3", "--partitioner", "size",
                                   "--set", "runner.target_task_size=400"])
    assert res.exit_code == 0, res.output
    plan = json.loads(res.stdout)
    assert plan["runner"]["kind"] == "local" and plan["runner"]["max_workers"] == 3
    infer = [t for t in plan["runner_tasks"] if t["stage"] == "infer"]
    assert any("[1/" in t["parts"] for t in infer), infer  # a big dataset was split
    per_model = {m: sum(t["units"] for t in infer if t["model"] == m) for m in ("api-a", "api-b")}
    assert per_model == {"api-a": 36, "api-b": 36}
    text = CliRunner().invoke(app, ["run", str(cfg), "--dry-run", "--runner", "ray",
                                    "--ray-address", "auto"], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "naive partitioner, ray runner" in text.output and "mt-bench-pair@judge" in text.output
