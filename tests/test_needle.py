"""Needle in a haystack: exact lengths and depths with the model's own tokenizer, scores
computed from the answers (tiny HF model and the loopback OpenAI-compatible test server)."""

from __future__ import annotations

import json
import re

import pytest

from arena.core.errors import ConfigError, DataError
from arena.core.store import Store
from objective.datasets import load_dataset
from objective.needle import (
    PROMPTS,
    TokenCounter,
    make_needles,
    parse_depths,
    parse_id,
    parse_lengths,
    score_answer,
    with_grid,
)
from objective.runner import EvalConfig, evaluate_dataset


@pytest.fixture(scope="module")
def long_tiny(tmp_path_factory):
    """The tiny random model with room for 4k positions (RoPE: any length works)."""
    from arena.models.hf import HFModel
    from arena.models.testing import make_tiny_model

    d = make_tiny_model(tmp_path_factory.mktemp("needle") / "tiny-long")
    cfg = json.loads((d / "config.json").read_text())
    cfg["max_position_embeddings"] = 4096
    (d / "config.json").write_text(json.dumps(cfg))
    return HFModel(d, name="tiny-long", max_seq_len=2048, batch_size=4)


def grid(name: str, lengths: str, depths: str):
    return with_grid([load_dataset(name)], lengths, depths)[0]


def test_grid_flags_parse():
    assert parse_lengths("1k,2k,4k,8k") == [1000, 2000, 4000, 8000]
    assert parse_lengths([1500, "1k"]) == [1000, 1500]
    assert parse_depths("0:100:10") == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert parse_depths("0,50,100") == [0, 50, 100]
    with pytest.raises(ConfigError, match="within 0..100"):
        parse_depths("0:150:50")
    with pytest.raises(ConfigError, match="bad needle length"):
        parse_lengths("1k,two")


def test_registered_cards_build_every_cell_without_a_model():
    for name in (
        "needle_en",
        "needle_zh",
        "needle_multi_en",
        "needle_multi_zh",
        "needle_reasoning_en",
        "needle_reasoning_zh",
    ):
        ds = load_dataset(name)
        assert ds.card.metric == "needle" and ds.card.mode == "gen"
        assert len(ds.samples) == 4 * 11  # 1k..8k x 0:100:10
        assert {parse_id(s.id)[0] for s in ds.samples} == {1000, 2000, 4000, 8000}
        # the word tokenizer counts exactly too
        assert all(s.extra["prompt_tokens"] == parse_id(s.id)[0] for s in ds.samples)


def _needle_token_positions(tok: TokenCounter, sample, template: str) -> list[int]:
    """Token index of each needle inside the document (the text between the prompt's parts)."""
    doc_start = template.index("{context}")
    doc_end = sample.question.rindex(template.split("{context}")[1].split("{question}")[0])
    spans = tok.spans(sample.question[doc_start:doc_end])
    return [
        next(i for i, (_, e) in enumerate(spans) if e > c - doc_start)
        for c in sample.extra["needle_chars"]
    ]


@pytest.mark.parametrize(
    "name", ["needle_en", "needle_zh", "needle_multi_en", "needle_reasoning_zh"]
)
def test_tiny_model_lengths_exact_and_needles_at_their_depth(long_tiny, name):
    ds = grid(name, "1k,2k", "0:100:25").for_model(long_tiny)
    tok = TokenCounter(long_tiny)
    assert tok.kind == "hf" and tok.chat
    lang = name.split("_")[-1]
    for s in ds.samples:
        length, depth, _ = parse_id(s.id)
        # the whole prompt as the model sees it (chat template, BOS) has exactly `length` tokens
        rendered = long_tiny.encode(
            long_tiny.apply_chat_template([{"role": "user", "content": s.question}])
        )
        assert abs(len(rendered) - length) <= 0.01 * length, (s.id, len(rendered))
        _check_depths(tok, s, lang)
        for needle in s.extra["needles"]:
            assert needle in s.question


def _check_depths(tok: TokenCounter, s, lang: str) -> None:
    """Each needle starts at int(haystack tokens x depth) within 1% of the length."""
    length = parse_id(s.id)[0]
    pos = _needle_token_positions(tok, s, PROMPTS[lang])
    n_hay = s.extra["haystack_tokens"]
    for k, (p, d) in enumerate(zip(pos, s.extra["depths"])):
        # needles inserted before this one shift it by their own tokens
        before = sum(len(tok.spans("\n" + t + "\n")) for t in s.extra["needles"][:k])
        assert abs((p - before) - n_hay * d / 100) <= 0.01 * length, (s.id, k, p, n_hay)


def test_lengths_over_max_seq_len_are_dropped(long_tiny, capsys):
    from arena.models.hf import HFModel

    small = HFModel(long_tiny.path, name="tiny-1k", max_seq_len=1100)
    ds = grid("needle_en", "1k,2k", "0,100").for_model(small)
    assert sorted({parse_id(s.id)[0] for s in ds.samples}) == [1000]
    assert "2k exceed the model's limit of 1068 tokens" in capsys.readouterr().err
    with pytest.raises(DataError, match="no needle length fits"):
        grid("needle_en", "2k", "0").for_model(small)


def test_tiny_model_end_to_end_scores_are_those_of_the_answers(long_tiny, tmp_path):
    ds = grid("needle_en", "1k", "0,50,100")
    store = Store(tmp_path / "s.sqlite")
    try:
        res = evaluate_dataset(
            long_tiny, ds, work_dir=tmp_path, store=store, config=EvalConfig(batch_size=3)
        )
    finally:
        store.close()
    preds = [
        json.loads(line)
        for line in (tmp_path / "predictions" / "tiny-long" / "needle_en.jsonl").open()
    ]
    assert len(preds) == 3
    bound = {s.id: s for s in ds.for_model(long_tiny).samples}
    for p in preds:
        assert p["correct"] == score_answer(bound[p["sample_id"]], p["raw"])
        assert len(long_tiny.encode(p["prompt"])) == 1000  # stored exactly as the model saw it
    overall = next(r for r in res if r.subset is None)
    assert overall.metric == "needle"
    assert overall.value == pytest.approx(100 * sum(p["correct"] for p in preds) / 3)


def _server_answers(body: dict) -> str:
    """Right answers when the first needle sits in the first half of the document, else one
    right code out of the three (multi) or a wrong one."""
    prompt = body["messages"][-1]["content"]
    lang = "zh" if "用户现在给你的文档是" in prompt else "en"
    head, tail = PROMPTS[lang].split("{context}")
    doc = prompt[len(head) : prompt.rindex(tail.split("{question}")[0])]
    codes = re.findall(r"([a-z]+-\d{4})[.。]", doc)
    first = doc.index(codes[0])
    if first < len(doc) / 2:
        return ", ".join(codes)
    return codes[0] if len(codes) > 1 else "I do not know"


@pytest.mark.parametrize("name", ["needle_en", "needle_multi_en"])
def test_server_scores_per_cell_come_from_the_answers(tmp_path, name):
    from arena.core.records import Prediction
    from arena.models.openai_compat import OpenAICompatModel
    from arena.models.testserver import FakeOpenAIServer
    from arena.report.longctx import needle_grid

    ds = grid(name, "1k,2k", "0,25,75,100")
    with FakeOpenAIServer(responder=_server_answers) as srv:
        model = OpenAICompatModel("api", base_url=srv.base_url, max_retries=0)
        store = Store(tmp_path / "s.sqlite")
        try:
            evaluate_dataset(model, ds, work_dir=tmp_path, store=store)
            preds = store.all(Prediction, model="api", dataset=name)
        finally:
            store.close()
    assert len(preds) == 8
    bound = {s.id: s for s in ds.for_model(model).samples}
    tok = TokenCounter(model)
    assert tok.kind == "word"
    for p in preds:  # the server got the prompt of the sample, needles at their depths
        s = bound[p.sample_id]
        assert json.loads(p.prompt)[-1]["content"] == s.question
        _check_depths(tok, s, "en")
    table = needle_grid(preds)
    got = {(r["depth %"], c): r[c] for r in table.to_dict("records") for c in ("1k", "2k")}
    wrong = 100 / 3 if name == "needle_multi_en" else 0.0
    for depth, value in (("0", 100.0), ("25", 100.0), ("75", wrong), ("100", wrong)):
        for length in ("1k", "2k"):
            assert got[(depth, length)] == pytest.approx(value), (depth, length)
    assert got[("mean", "1k")] == pytest.approx((200 + 2 * wrong) / 4)
    # API models without a local tokenizer: words, the server's own token count
    for p in preds:
        length = parse_id(p.sample_id)[0]
        assert len(json.loads(p.prompt)[-1]["content"].split()) == length


def test_scoring_rules_golden():
    from arena.core.records import Sample

    spec_needle = "The secret code of the Onyx Valley archive is maple-1234."
    s = Sample(
        dataset="d",
        id="x",
        question="q",
        target="maple-1234",
        extra={"keywords": ["maple-1234"], "needles": [spec_needle], "match": "contains"},
    )
    assert score_answer(s, "The code is MAPLE-1234.") == 1.0
    assert score_answer(s, "maple-1243") == 0.0
    s.extra["match"] = "exact"
    assert score_answer(s, "maple-1234\nbecause the document says so") == 1.0
    assert score_answer(s, "It is maple-1234") == 0.0
    s.extra["match"] = "fuzzy"
    # not found: 0.2 x (1 - edit distance / longer); normalised strings (no spaces, punctuation)
    ref = "thesecretcodeoftheonyxvalleyarchiveismaple-1234"
    pred = "thesecretcodeoftheonyxvalleyarchiveismaple-1243"  # one transposition = 2 edits
    assert score_answer(
        s, "The secret code of the Onyx Valley archive is maple-1243."
    ) == pytest.approx(0.2 * (1 - 2 / len(ref)))
    assert len(pred) == len(ref)
    multi = Sample(
        dataset="d",
        id="y",
        question="q",
        target="a-1, b-2, c-3",
        extra={"keywords": ["a-1", "b-2", "c-3"], "match": "contains"},
    )
    assert score_answer(multi, "b-2 and c-3") == pytest.approx(2 / 3)


def test_needles_are_fixed_per_repeat_and_differ_between_repeats():
    ds = load_dataset("needle_multi_en")
    spec = ds.spec
    a, b = make_needles(spec, 0), make_needles(spec, 1)
    assert a == make_needles(spec, 0) and a.keywords != b.keywords
    assert len(a.texts) == 3 and len(set(a.keywords)) == 3


def test_bad_card_names_file_line_and_key(tmp_path):
    card = tmp_path / "n.yaml"
    card.write_text("source: needle\nneedle:\n  variant: single\n  lenghts: 1k\n")
    with pytest.raises(ConfigError) as exc:
        load_dataset(str(card))
    assert "n.yaml" in str(exc.value) and "lenghts" in str(exc.value) and ":4" in str(exc.value)


def test_eval_cli_runs_a_needle_grid_on_the_server(tmp_path, monkeypatch):
    from arena.models.testserver import FakeOpenAIServer
    from objective.cli import build_parser, run_eval

    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "home" / "models").mkdir(parents=True)
    with FakeOpenAIServer(responder=_server_answers) as srv:
        (tmp_path / "home" / "models" / "api.yaml").write_text(
            f"name: api\nbackend: openai\nmodel: fake\nbase_url: {srv.base_url}\n"
        )
        args = build_parser().parse_args(
            [
                "--datasets",
                "needle_en",
                "needle_zh",
                "--models",
                "api",
                "--needle-lengths",
                "1k",
                "--needle-depths",
                "0:100:75",
                "--work-dir",
                str(tmp_path / "out"),
            ]
        )
        out = run_eval(args)
        assert srv.requests == 4
    overall = {r.dataset: r.value for r in out["results"] if r.subset is None}
    # depth 0 right, 75 wrong
    assert overall == {"needle_en": pytest.approx(50.0), "needle_zh": pytest.approx(50.0)}


def test_report_has_a_heatmap_per_model_and_variant(tmp_path):
    from arena.models.openai_compat import OpenAICompatModel
    from arena.models.testserver import FakeOpenAIServer
    from arena.report.build import build_report

    store = Store(tmp_path / "s.sqlite")
    try:
        with FakeOpenAIServer(responder=_server_answers) as srv:
            for name in ("api-a", "api-b"):
                model = OpenAICompatModel(name, base_url=srv.base_url, max_retries=0)
                for ds in ("needle_en", "needle_multi_en"):
                    evaluate_dataset(
                        model, grid(ds, "1k,2k", "0,50,100"), work_dir=tmp_path, store=store
                    )
        paths = build_report(store, None, tmp_path)
    finally:
        store.close()
    html = paths.html.read_text()
    assert 'id="needle"' in html and 'href="#needle"' in html
    for i in range(4):  # 2 models x 2 variants
        assert f'id="fig-needle-{i}"' in html
    assert "needle_multi_en: api-b" in html
    txt = paths.txt.read_text()
    assert "needle_en: api-a" in txt and "mean" in txt  # the summary row per length
