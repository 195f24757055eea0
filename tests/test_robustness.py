"""CircularEval and prompt variants: rotations, gold letters, hand-counted metrics, tiny model runs."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

import pytest

from arena.core.records import Prediction, Sample, read_jsonl
from arena.core.store import Store
from arena.models.base import GenerateResult
from objective.datasets import load_dataset
from objective.robustness import (
    RobustOptions,
    circular_patterns,
    circular_samples,
    evaluate_robust,
    is_robustness_metric,
    make_variants,
    original_choice,
)
from objective.robustness_summary import robustness_rows, to_text
from objective.runner import EvalConfig, evaluate_dataset
from tests.objective_fixtures import write_jsonl


def _opencompass_rotation(item: dict, pattern: str, keys: str = "ABCD") -> dict:
    """OpenCompass `make_circular_items`, rewritten here as the independent reference."""
    new = dict(item)
    for i in range(len(keys)):
        new[pattern[i]] = item[keys[i]]
    new["answer"] = pattern[keys.index(item["answer"])]
    return new


def test_rotations_are_the_four_cyclic_orders_and_gold_moves():
    s = Sample(dataset="d", id="q1", question="?", choices=["w", "x", "y", "z"], answer=2)
    rots = circular_samples([s])
    assert circular_patterns(4) == ["ABCD", "BCDA", "CDAB", "DABC"]
    assert [r.id for r in rots] == ["q1", "q1@r1", "q1@r2", "q1@r3"]
    shown = [tuple(r.choices) for r in rots]
    cyclic = {tuple(s.choices[i:] + s.choices[:i]) for i in range(4)}
    assert set(shown) == cyclic and len(set(shown)) == 4  # exactly the 4 cyclic orders, no other
    item = {"A": "w", "B": "x", "C": "y", "D": "z", "answer": "C"}
    for r, pattern in zip(rots, circular_patterns(4)):
        ref = _opencompass_rotation(item, pattern)
        assert r.choices == [ref[k] for k in "ABCD"]  # OpenCompass's layout of every rotation
        assert (
            "ABCD"[r.answer] == ref["answer"] and r.choices[r.answer] == "y"
        )  # the gold moves with "y"
    assert [r.answer for r in rots] == [2, 3, 0, 1]
    pred = Prediction(model="m", dataset="d", sample_id="q1@r1", mode="ppl", prompt="", pred=3)
    assert original_choice(pred, rots[1]) == 2  # letter D of rotation 1 is the original option C


class Scripted:
    """A gen model with known answers: the option marked '*', else always 'A'."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, reqs):
        out = []
        for r in reqs:
            self.calls += 1
            opts = re.findall(r"^([A-D])\. (.*)$", r.prompt, flags=re.M)[-4:]
            marked = [letter for letter, text in opts if "*" in text]
            out.append(GenerateResult(marked[0] if marked else "A"))
        return out


def _card(tmp_path: Path, rows: list[dict], mode: str = "gen", k: int = 0, extra: str = "") -> Path:
    write_jsonl(tmp_path / "test.jsonl", rows)
    write_jsonl(
        tmp_path / "dev.jsonl",
        [
            {
                "question": f"dev {i}?",
                "choices": ["1", "2", "3", "4"],
                "answer": i % 4,
                "subset": "s1",
            }
            for i in range(6)
        ],
    )
    (tmp_path / "card.yaml").write_text(
        f"name: fx\ndata: test.jsonl\ndev: dev.jsonl\nmode: {mode}\nmax_out_len: 4\n"
        'template: {question: "{question}\\n{choices}\\nAnswer:", answer: " {answer}"}\n'
        f"few_shot: {{k: {k}, seed: 0, per_subset: false}}\n"
        "groups: {g: [s1, s2]}\n" + extra,
        encoding="utf-8",
    )
    return tmp_path / "card.yaml"


# q1: gold marked (always right); q2: a wrong option marked (always wrong);
# q3: no mark, the model says A, gold D (right only where D has moved to A: rotation 1)
FIXTURE = [
    {
        "id": "q1",
        "question": "one",
        "choices": ["a", "b*", "c", "d"],
        "answer": "B",
        "subset": "s1",
    },
    {
        "id": "q2",
        "question": "two",
        "choices": ["a", "b", "c*", "d"],
        "answer": "A",
        "subset": "s1",
    },
    {
        "id": "q3",
        "question": "three",
        "choices": ["a", "b", "c", "d"],
        "answer": "D",
        "subset": "s2",
    },
]


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "s.sqlite")
    yield s
    s.close()


def _rows(rows):
    return {(r.subset, r.metric): r.value for r in rows}


def test_circular_metrics_equal_a_hand_count(tmp_path, store):
    ds = load_dataset(str(_card(tmp_path, FIXTURE)))
    model = Scripted()
    rows = evaluate_robust(
        model,
        ds,
        RobustOptions(circular=True),
        work_dir=tmp_path,
        store=store,
        config=EvalConfig(prompt_style="base"),
    )
    got = _rows(rows)
    assert model.calls == 12
    # by hand: correct per rotation q1 [1,1,1,1], q2 [0,0,0,0], q3 [0,1,0,0]
    assert got[(None, "accuracy")] == pytest.approx(100 / 3)
    assert got[(None, "acc_circular")] == pytest.approx(100 * 5 / 12)
    assert got[(None, "perf_circular")] == pytest.approx(100 / 3)
    assert (
        got[("s1", "acc_circular")] == pytest.approx(50.0) and got[("s1", "perf_circular")] == 50.0
    )
    assert got[("s2", "accuracy")] == 0.0 and got[("s2", "acc_circular")] == 25.0
    assert got[("s2", "perf_circular")] == 0.0
    assert got[("g", "perf_circular")] == pytest.approx(25.0)  # naive mean of s1 50 and s2 0
    assert got[("g", "naive_average")] == pytest.approx(25.0)  # original order: s1 50, s2 0
    preds = read_jsonl(tmp_path / "predictions" / "scripted" / "fx.jsonl", Prediction)
    assert len(preds) == 12
    q3 = {p.sample_id: p for p in preds if p.sample_id.startswith("q3")}
    assert [q3[k].gold for k in ("q3", "q3@r1", "q3@r2", "q3@r3")] == ["D", "A", "B", "C"]
    assert "A. d\nB. a\nC. b\nD. c" in q3["q3@r1"].prompt  # the option order the model saw


def test_variants_spread_and_stability_by_hand(tmp_path, store):
    ds = load_dataset(str(_card(tmp_path, FIXTURE)))  # 0 shots: variants are option orders
    assert [v.label for v in make_variants(ds, 3, EvalConfig())] == [
        "as configured",
        "options BCDA",
        "options CDAB",
    ]
    seen: list[tuple[int, int]] = []
    rows = evaluate_robust(
        Scripted(),
        ds,
        RobustOptions(variants=3),
        work_dir=tmp_path,
        store=store,
        config=EvalConfig(prompt_style="base"),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (3, 3) and all(
        t == 3 for _, t in seen
    )  # counted in questions over all passes
    got = _rows(rows)
    accs = [100 / 3, 200 / 3, 100 / 3]  # q3 right only when its D is shown as A (rotation 1)
    assert got[(None, "accuracy")] == pytest.approx(accs[0])
    assert got[(None, "accuracy@mean")] == pytest.approx(statistics.fmean(accs))
    assert got[(None, "accuracy@std")] == pytest.approx(statistics.stdev(accs))
    assert (got[(None, "accuracy@min")], got[(None, "accuracy@max")]) == pytest.approx(
        (100 / 3, 200 / 3)
    )
    assert got[(None, "variants")] == 3
    assert got[(None, "stability")] == pytest.approx(
        200 / 3
    )  # q1, q2 keep their option; q3 follows A
    assert got[("s1", "stability")] == 100.0 and got[("s2", "stability")] == 0.0
    table = robustness_rows(rows)
    assert (
        table[0]["var std"] == pytest.approx(statistics.stdev(accs)) and table[0]["variants"] == 3
    )
    assert "stability" in to_text(table)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from arena.models.hf import HFModel

    return HFModel(tiny_model_dir, name="tiny", device="cpu", max_seq_len=512)


def _mc_rows(n: int = 8) -> list[dict]:
    words = ["red", "blue", "green", "black", "white", "four", "eight", "Paris"]
    return [
        {
            "id": f"q{i}",
            "question": f"Question {i}: which one?",
            "subset": "s1" if i % 2 else "s2",
            "choices": [words[(i + j) % 8] for j in range(4)],
            "answer": i % 4,
        }
        for i in range(n)
    ]


def test_tiny_ppl_circular_against_predictions_and_plain_run(tmp_path, tiny, store):
    ds = load_dataset(str(_card(tmp_path, _mc_rows(), mode="ppl", k=3)))
    cfg = EvalConfig(batch_size=4)
    plain = evaluate_dataset(tiny, ds, work_dir=tmp_path / "plain", store=store, config=cfg)
    rows = evaluate_robust(
        tiny, ds, RobustOptions(circular=True), work_dir=tmp_path, store=store, config=cfg
    )
    got = _rows(rows)
    assert got[(None, "accuracy")] == _rows(plain)[(None, "accuracy")]  # rotation 0 = the plain run
    preds = read_jsonl(tmp_path / "predictions" / "tiny" / "fx.jsonl", Prediction)
    assert len(preds) == 32
    per_q: dict[str, list[float]] = defaultdict(list)
    for p in sorted(preds, key=lambda p: p.sample_id):  # "q1" < "q1@r1" < "q1@r2" < "q1@r3"
        per_q[p.sample_id.split("@")[0]].append(p.correct)
        assert p.pred == min(range(4), key=lambda i: p.nll[i])  # the argmin of this rotation's NLLs
    acc = 100 * statistics.fmean(c for q in per_q.values() for c in q)
    perf = 100 * statistics.fmean(all(q) for q in per_q.values())
    orig = 100 * statistics.fmean(q[0] for q in per_q.values())
    assert (
        got[(None, "accuracy")],
        got[(None, "acc_circular")],
        got[(None, "perf_circular")],
    ) == pytest.approx((orig, acc, perf))
    for sub in (None, "s1", "s2", "g"):
        assert got[(sub, "perf_circular")] <= got[(sub, "acc_circular")] <= 100.0
    rows_txt = to_text(robustness_rows(rows))
    assert "fx/g" in rows_txt and "mean rotation" in rows_txt


def test_tiny_variants_few_shot_seeds(tmp_path, tiny, store):
    ds = load_dataset(str(_card(tmp_path, _mc_rows(), mode="ppl", k=2)))
    variants = make_variants(ds, 3, EvalConfig())
    assert [v.label for v in variants] == ["as configured", "few-shot seed 1", "few-shot seed 2"]
    rows = evaluate_robust(
        tiny,
        ds,
        RobustOptions(variants=3),
        work_dir=tmp_path,
        store=store,
        config=EvalConfig(batch_size=4),
    )
    got = _rows(rows)
    accs, prompts = [], []
    for stem in ("fx", "fx@v1", "fx@v2"):
        preds = read_jsonl(tmp_path / "predictions" / "tiny" / f"{stem}.jsonl", Prediction)
        accs.append(100 * statistics.fmean(p.correct for p in preds))
        prompts.append(preds[0].prompt)
    assert len(set(prompts)) == 3  # each draw of examples is another prompt
    assert got[(None, "accuracy@mean")] == pytest.approx(statistics.fmean(accs))
    assert (
        got[(None, "accuracy@min")] <= got[(None, "accuracy@mean")] <= got[(None, "accuracy@max")]
    )
    assert 0.0 <= got[(None, "stability")] <= 100.0


def test_card_circular_and_variant_templates(tmp_path, store):
    extra = (
        "circular: true\nvariants:\n"
        '  - {question: "Q: {question}\\nOptions:\\n{choices}\\nA:", answer: " {answer}"}\n'
    )
    ds = load_dataset(str(_card(tmp_path, FIXTURE, extra=extra)))
    opts = RobustOptions()  # no flags: the card asks for both
    assert opts.circular_for(ds) and opts.variants_for(ds) == 2
    model = Scripted()
    rows = evaluate_robust(
        model, ds, opts, work_dir=tmp_path, store=store, config=EvalConfig(prompt_style="base")
    )
    got = _rows(rows)
    assert model.calls == 24  # 2 templates x 3 questions x 4 rotations
    assert got[(None, "perf_circular@mean")] == pytest.approx(
        100 / 3
    )  # the answers ignore the wording
    assert got[(None, "accuracy@std")] == 0.0 and got[(None, "stability")] == 100.0
    preds = read_jsonl(tmp_path / "predictions" / "scripted" / "fx@v1.jsonl", Prediction)
    assert len(preds) == 12 and all(p.prompt.startswith("Q: ") for p in preds)


def test_variant_template_hiding_options_is_a_card_error(tmp_path):
    from arena.core.errors import ConfigError

    extra = 'variants:\n  - {question: "{question}\\nAnswer:"}\n'
    with pytest.raises(ConfigError, match="never shows option"):
        load_dataset(str(_card(tmp_path, FIXTURE, mode="ppl", extra=extra)))


def test_variants_of_a_zero_shot_gen_set_warn_and_run_once(tmp_path, store, caplog):
    write_jsonl(
        tmp_path / "g.jsonl",
        [{"question": "2+2?", "answer": "4"}, {"question": "1+1?", "answer": "2"}],
    )
    (tmp_path / "g.yaml").write_text(
        "name: g\ndata: g.jsonl\nmode: gen\nmetric: exact_match\n", encoding="utf-8"
    )
    ds = load_dataset(str(tmp_path / "g.yaml"))
    model = Scripted()
    with caplog.at_level("WARNING"):
        rows = evaluate_robust(
            model,
            ds,
            RobustOptions(circular=True, variants=3),
            work_dir=tmp_path,
            store=store,
            config=EvalConfig(prompt_style="base"),
        )
    assert model.calls == 2 and "only 1 distinct prompt variant" in caplog.text
    assert {r.metric for r in rows} == {"exact_match"}  # no rotation of a question without options


def test_robustness_metric_names():
    assert all(
        map(is_robustness_metric, ("acc_circular", "perf_circular", "accuracy@std", "pass@1@max"))
    )
    assert not any(
        map(is_robustness_metric, ("accuracy", "pass@1", "naive_average", "accuracy_token"))
    )
