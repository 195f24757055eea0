"""Datasets: bundled cards load, bad rows fail with file:line:field, empty is an error."""

from __future__ import annotations

import json

import pytest

from arena.core.errors import ConfigError, DataError, UnknownNameError
from objective.datasets import dataset_names, load_dataset
from objective.templates import MetaTemplate, PromptBuilder, TemplateSpec
from tests.objective_fixtures import write_jsonl

REGISTERED = ["ceval_mini_gen", "ceval_mini_ppl", "mmlu_mini_ppl", "mmlu_mini_gen",
              "winograd_mini_ppl", "gsm8k_mini_gen", "humaneval_gen"]


def test_registered_names_and_sizes():
    assert set(REGISTERED) <= set(dataset_names())
    sizes = {n: len(load_dataset(n).samples) for n in REGISTERED}
    assert sizes == {"ceval_mini_gen": 32, "ceval_mini_ppl": 32, "mmlu_mini_ppl": 40, "mmlu_mini_gen": 40,
                     "winograd_mini_ppl": 24, "gsm8k_mini_gen": 24, "humaneval_gen": 164}
    ceval = load_dataset("ceval_mini_ppl")
    subsets = {s.subset for s in ceval.samples}
    assert subsets == {x for g in ceval.card.groups.values() for x in g}  # every subset in a group
    assert set(ceval.card.groups) == {"STEM", "Social Science", "Humanities", "Other"}
    assert ceval.version == load_dataset("ceval_mini_ppl").version  # stable across loads
    assert ceval.version != load_dataset("ceval_mini_gen").version  # card settings count
    assert all(d.subset in subsets for d in ceval.dev)


def test_gsm8k_dev_solutions_agree_with_answers():
    from objective.postprocess import last_number

    ds = load_dataset("gsm8k_mini_gen")
    for d in ds.dev:
        assert last_number(d.extra["solution"]) == d.target


def test_winograd_twins_have_opposite_answers():
    ds = load_dataset("winograd_mini_ppl")
    for a, b in zip(ds.samples[::2], ds.samples[1::2]):
        assert a.choices == b.choices and a.answer != b.answer


def _mc(tmp_path, rows, name="d.jsonl"):
    return write_jsonl(tmp_path / name, rows)


@pytest.mark.parametrize("row, field, message", [
    ({"choices": ["a", "b"], "answer": "A"}, "question", "missing"),
    ({"question": "q", "choices": ["a", "b"]}, "answer", "missing"),
    ({"question": "q", "choices": ["a", "b"], "answer": "E"}, "answer", "not among the choices A-B"),
    ({"question": "q", "choices": ["a", "b"], "answer": 5}, "answer", "not among the 2 choices"),
    ({"question": "q", "choices": ["a", "b"], "answer": "zebra"}, "answer", "nor one of the choices"),
    ({"question": "q", "A": "a", "answer": "A"}, "B", "missing"),
])
def test_bad_rows_name_file_line_field(tmp_path, row, field, message):
    good = {"question": "ok", "choices": ["x", "y"], "answer": 1}
    path = _mc(tmp_path, [good, good | {"id": "2"}, row])
    with pytest.raises(DataError) as exc:
        load_dataset(str(path))
    err = exc.value
    assert (err.file, err.line, err.field) == (str(path), 3, field)
    assert message in str(err) and f"{path}:3" in str(err)


def test_empty_dataset_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no rows"):
        load_dataset(str(tmp_path / "empty.jsonl"))


def test_csv_with_columns_and_text_answer(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("question,A,B,C,answer,subset\nq1,red,green,blue,green,s1\nq2,1,2,3,C,s2\n")
    ds = load_dataset(str(path))
    assert [s.answer for s in ds.samples] == [1, 2] and ds.card.mode == "ppl"
    path.write_text("question,A,B,answer\nq1,red,green,D\n")
    with pytest.raises(DataError) as exc:
        load_dataset(str(path))
    assert (exc.value.line, exc.value.field) == (2, "answer")


def test_gen_file_and_version_follows_content(tmp_path):
    p = write_jsonl(tmp_path / "g.jsonl", [{"question": "1+1?", "answer": 2}])
    v1 = load_dataset(str(p))
    assert v1.card.mode == "gen" and v1.samples[0].target == "2"
    write_jsonl(p, [{"question": "1+1?", "answer": 3}])
    assert load_dataset(str(p)).version != v1.version


def test_card_errors_name_the_line(tmp_path):
    (tmp_path / "c.yaml").write_text("mode: ppl\ndata: x.jsonl\nnorm: median\n")
    with pytest.raises(ConfigError) as exc:
        load_dataset(str(tmp_path / "c.yaml"))
    assert exc.value.line == 3 and exc.value.field == "norm"
    with pytest.raises(UnknownNameError, match="ceval_mini_ppl"):
        load_dataset("ceval_mini_pp")


def test_few_shot_prompt_base_chat_meta_and_cot():
    ds = load_dataset("mmlu_mini_ppl")
    s = ds.samples[0]
    b = PromptBuilder(ds.card.template, ds.dev, shots=3, seed=1, per_subset=False)
    p = b.prompt(s)
    assert p.startswith("The following are multiple choice questions")
    assert p.count("Answer:") == 4 and p.endswith(f"{s.question}\nA. Venus\nB. Mercury\nC. Earth\nD. Mars\nAnswer:")
    assert b.continuations(s) == [" A", " B", " C", " D"]
    assert PromptBuilder(ds.card.template, ds.dev, shots=3, seed=1, per_subset=False).prompt(s) == p  # fixed seed
    meta = MetaTemplate(round=[{"role": "HUMAN", "begin": "<H>", "end": "\n"}, {"role": "BOT", "begin": "<B>", "end": "\n"}])
    chat = PromptBuilder(ds.card.template, ds.dev, shots=1, chat=meta.render)
    text = chat.prompt(s)
    assert text.count("<H>") == 2 and text.count("<B>") == 2 and text.endswith("<B>")
    assert chat.continuations(s)[0] == "A"
    gsm = load_dataset("gsm8k_mini_gen")
    cot = PromptBuilder(gsm.card.template, gsm.dev, shots=2, cot=True, per_subset=False).prompt(gsm.samples[0])
    assert cot.endswith("Let's think step by step.") and "The answer is" in cot and "=" in cot
    with pytest.raises(ConfigError):
        PromptBuilder(TemplateSpec(question="{nope}"), []).prompt(s)


def test_bundled_files_have_licence_lines():
    from arena.core.registry import data_dir

    for name in REGISTERED:
        card = (data_dir() / "datasets" / f"{name}.yaml").read_text()
        assert "license:" in card
    rows = [json.loads(x) for x in (data_dir() / "datasets/ceval_mini/test.jsonl").read_text().splitlines()]
    assert all(r["answer"] in "ABCD" for r in rows)
