"""Real runs on the OpenCompassData-core fixtures (tiny model): subject rows, C-Eval/MMLU group
rows and averages in `arena eval`, `arena run`, `arena report` and report.html, checked against
an independent recomputation from the predictions; bare files show every option."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from arena.cli import app
from arena.core.errors import ConfigError
from arena.core.records import Prediction, read_jsonl
from objective.datasets import load_dataset
from objective.templates import PromptBuilder, TemplateSpec
from tests.objective_fixtures import write_jsonl
from tests.test_objective_layouts import FIXTURES, OC_CEVAL_GROUPS, OC_MMLU_GROUPS

DATASETS = ["ceval_gen", "mmlu_ppl", "gsm8k_gen"]


def _plain_csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    header = rows[0]
    assert header[:4] == ["dataset", "version", "metric", "mode"]  # one plain table
    assert all(len(r) == len(header) for r in rows)
    return {(r[0], r[2]): dict(zip(header, r)) for r in rows[1:]}


def _expected_groups(preds: list[Prediction], groups: dict[str, list[str]]) -> dict[str, float]:
    """Group means recomputed from the predictions file with OpenCompass's group lists."""
    by_subject: dict[str, list[float]] = {}
    for p in preds:
        by_subject.setdefault(p.sample_id.split("/")[0], []).append(p.correct or 0.0)
    acc = {s: 100 * sum(v) / len(v) for s, v in by_subject.items()}
    out = {}
    for g, members in groups.items():
        have = [acc[m] for m in members if m in acc]
        if have:
            out[g] = sum(have) / len(have)
    return out


@pytest.fixture(scope="module")
def evaluated(tiny_model_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("eval")
    mp = pytest.MonkeyPatch()
    mp.setenv("ARENA_CACHE_DIR", str(work / "cache"))
    args = [
        "eval",
        "--datasets",
        *DATASETS,
        "--data-dir",
        str(FIXTURES),
        "--hf-path",
        str(tiny_model_dir),
        "--hf-abbr",
        "tiny",
        "--max-seq-len",
        "1024",
        "--batch-size",
        "4",
        "--limit",
        "2",
        "--work-dir",
        str(work / "out"),
    ]
    res = CliRunner().invoke(app, args)
    mp.undo()
    assert res.exit_code == 0, res.output
    run_dir = next(p for p in (work / "out").iterdir() if p.is_dir())
    return run_dir, res.output


@pytest.mark.slow
def test_eval_prints_subjects_groups_and_averages(evaluated):
    run_dir, output = evaluated
    ceval = read_jsonl(run_dir / "predictions" / "tiny" / "ceval_gen.jsonl", Prediction)
    mmlu = read_jsonl(run_dir / "predictions" / "tiny" / "mmlu_ppl.jsonl", Prediction)
    assert len(ceval) == 10 and len(mmlu) == 8  # --limit 2: two per subject
    table = _plain_csv(run_dir / "summary" / "summary.csv")
    for ds, preds, oc in (
        ("ceval_gen", ceval, OC_CEVAL_GROUPS),
        ("mmlu_ppl", mmlu, OC_MMLU_GROUPS),
    ):
        subjects = {p.sample_id.split("/")[0] for p in preds}
        for s in subjects:  # subject rows
            assert (f"{ds}/{s}", "accuracy") in table
            assert f"{ds}/{s}" in output
        expected = _expected_groups(preds, oc)
        assert len(expected) >= 5  # four categories (+ hard) and the average
        for g, value in expected.items():
            row = table[(f"{ds}/{g}", "naive_average")]
            assert float(row["tiny"]) == pytest.approx(value, abs=0.006), (ds, g)
            assert f"{ds}/{g}" in output
    assert ("ceval_gen/ceval", "naive_average") in table and (
        "mmlu_ppl/mmlu",
        "naive_average",
    ) in table
    assert ("gsm8k_gen", "accuracy") in table
    assert "naive_average" in output and "weighted_average" in output


def _write_run_config(path: Path, tiny: Path) -> Path:
    path.write_text(f"""
name: layouts
models:
  - {{name: tiny, backend: hf, path: "{tiny}", batch_size: 4, max_seq_len: 1024}}
datasets: [{", ".join(DATASETS)}]
data_dir: "{FIXTURES}"
eval: {{limit: 2}}
summarizer:
  groups:
    - {{name: overall, subsets: [ceval_gen/ceval, mmlu_ppl/mmlu, gsm8k_gen]}}
    - {{name: exams, subsets: [ceval_gen/ceval, mmlu_ppl/mmlu], weights: {{ceval_gen/ceval: 3, mmlu_ppl/mmlu: 1}}}}
report: {{bootstrap: 10}}
""")
    return path


@pytest.mark.slow
def test_run_and_report_show_the_same_groups(evaluated, tiny_model_dir, tmp_path, monkeypatch):
    from arena.experiment import load_experiment
    from arena.pipeline import run_experiment

    eval_dir, _ = evaluated
    # the eval's cache: the same prompts are not run twice (a prompt built differently would be)
    monkeypatch.setenv("ARENA_CACHE_DIR", str(eval_dir.parent.parent / "cache"))
    monkeypatch.delenv("ARENA_DATA_DIR", raising=False)
    cfg = _write_run_config(tmp_path / "exp.yaml", tiny_model_dir)
    result = run_experiment(
        load_experiment(cfg), work_dir=tmp_path / "out", console=Console(quiet=True)
    )
    ev = _plain_csv(eval_dir / "summary" / "summary.csv")
    run = _plain_csv(result.run_dir / "summary" / "summary.csv")
    groups = [k for k in ev if k[1] == "naive_average"]
    assert len(groups) >= 10
    for key in groups:  # the same group rows, the same numbers as `arena eval`
        assert float(run[key]["tiny"]) == pytest.approx(float(ev[key]["tiny"]), abs=0.006), key
    c, m, g = (
        float(run[k]["tiny"])
        for k in (
            ("ceval_gen/ceval", "naive_average"),
            ("mmlu_ppl/mmlu", "naive_average"),
            ("gsm8k_gen", "accuracy"),
        )
    )
    assert float(run[("overall", "naive_average")]["tiny"]) == pytest.approx(
        (c + m + g) / 3, abs=0.01
    )
    assert float(run[("exams", "weighted_average")]["tiny"]) == pytest.approx(
        (3 * c + m) / 4, abs=0.01
    )
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert (
        "ceval_gen/ceval-humanities" in html
        and "mmlu_ppl/mmlu-stem" in html
        and ">overall<" in html
    )
    # `arena report` on the run directory rebuilds the same table from the store and config.yaml
    for f in (result.run_dir / "summary").glob("summary*.csv"):
        f.unlink()
    res = CliRunner().invoke(app, ["report", str(result.run_dir)])
    assert res.exit_code == 0, res.output
    again = _plain_csv(result.run_dir / "summary" / "summary.csv")
    assert again == run
    assert (result.run_dir / "summary" / "summary_stages.csv").is_file()  # other tables beside it


# --------------------------------------------------------------------------- bare files


@pytest.mark.parametrize("style", ["base", "chat"])
def test_bare_file_prompt_shows_every_option(tmp_path, tiny_model_dir, style):
    from arena.models.hf import HFModel
    from objective.runner import EvalConfig, evaluate_dataset

    rows = [
        {
            "question": "Which planet is largest?",
            "choices": ["Mercury", "Jupiter", "Mars", "Venus"],
            "answer": "B",
        },
        {
            "question": "Boiling point of water at sea level?",
            "choices": ["90 C", "100 C", "110 C"],
            "answer": 1,
        },
    ]
    path = write_jsonl(tmp_path / "my_set.jsonl", rows)
    csv_path = tmp_path / "my_set2.csv"
    csv_path.write_text("question,A,B,C,D,answer\nColour of grass?,red,green,blue,pink,B\n")
    model = HFModel(tiny_model_dir, name="tiny", max_seq_len=512, batch_size=4)
    for data in (path, csv_path):
        ds = load_dataset(str(data))
        evaluate_dataset(
            model, ds, work_dir=tmp_path / style, config=EvalConfig(prompt_style=style)
        )
        preds = read_jsonl(
            tmp_path / style / "predictions" / "tiny" / f"{ds.name}.jsonl", Prediction
        )
        assert len(preds) == len(ds.samples)
        for p, s in zip(preds, ds.samples):
            for letter, text in zip("ABCD", s.choices):
                assert f"{letter}. {text}" in p.prompt, (style, p.prompt)
            assert s.question in p.prompt and "Answer:" in p.prompt
            assert p.continuations[0].strip() == "A"


def test_hiding_options_while_scoring_letters_is_an_error(tmp_path):
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"question": "q", "choices": ["a", "b", "c"], "answer": 0}]
    )
    card = tmp_path / "hidden.yaml"
    card.write_text(
        f'data: {data.name}\nmode: ppl\ntemplate:\n  question: "Question: {{question}}\\nAnswer:"\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_dataset(str(card))
    assert exc.value.field == "template.question" and exc.value.line == 3
    assert "never shows option(s) A, B, C" in str(exc.value)
    card.write_text(
        f'data: {data.name}\nmode: gen\ntemplate: {{question: "{{question}} {{A}} / {{B}}"}}\n'
    )
    with pytest.raises(ConfigError, match="option"):
        load_dataset(str(card))  # gen mode reading the letter back: option C is never shown
    # options as continuations (the option text is scored) need not be listed in the prompt
    card.write_text(f"data: {data.name}\nmode: ppl\ncontinuation: text\n")
    assert load_dataset(str(card)).samples[0].choices == ["a", "b", "c"]
    # the prompt builder refuses too, whoever built the dataset
    s = load_dataset(str(data)).samples[0]
    with pytest.raises(ConfigError, match="never shows"):
        PromptBuilder(TemplateSpec(), []).prompt(s)
