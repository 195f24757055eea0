"""Contamination: n-gram overlap finds planted items, Min-K% Prob finds trained-on items,
labels split `arena eval` results, and the report shows the section."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from arena.core.records import Sample
from objective import contamination as C
from objective import ngrams

VOCAB = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "pu", "ro", "si", "tu", "va", "ze")
    for b in ("bar", "den", "fix", "gol", "hum", "jat", "kel", "mon", "pex", "quo")
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


def make_items(n: int = 40, seed: int = 0, words: int = 18, option_words: int = 4) -> list[Sample]:
    rng = random.Random(seed)
    return [
        Sample(
            dataset="synth",
            id=str(i),
            question=_sentence(rng, words).capitalize() + "?",
            choices=[_sentence(rng, option_words) for _ in range(4)],
            answer=rng.randrange(4),
        )
        for i in range(n)
    ]


def _edit(text: str, rng: random.Random) -> str:
    """A light edit: two words replaced, case and punctuation changed."""
    words = text.split()
    for _ in range(2):
        words[rng.randrange(len(words))] = rng.choice(["the", "a", "of"])
    return " ".join(words).upper().replace("?", ".")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A JSONL corpus of noise documents with half the items planted (half verbatim, half edited)."""
    rng = random.Random(1)
    items = make_items()
    planted = set(range(0, 40, 2))
    docs = [_sentence(rng, 200) for _ in range(300)]
    for k, i in enumerate(sorted(planted)):
        text = C.item_text(items[i])
        text = text if k % 2 == 0 else _edit(text, rng)
        d = rng.randrange(len(docs))
        docs[d] = docs[d] + " " + text + " " + _sentence(rng, 30)
    folder = tmp_path_factory.mktemp("corpus")
    with (folder / "c.jsonl").open("w") as fh:
        for d in docs:
            fh.write(json.dumps({"text": d}) + "\n")
    (folder / "c.txt").write_text("\n".join(docs), encoding="utf-8")
    return items, planted, folder


def test_word_and_ngram_hashing():
    a = ngrams.word_hashes(b"Hello, World! foo")
    assert len(a) == 3 and (a == ngrams.word_hashes(b"hello world   foo")).all()
    zh = ngrams.word_hashes("我爱北京, abc déjà".encode())
    assert len(zh) == 6  # four ideographs, abc, déjà
    assert zh[1] == ngrams.word_hashes("爱".encode())[0]
    g = ngrams.ngram_hashes(ngrams.word_hashes(b"a b c d e"), 3)
    h = ngrams.ngram_hashes(ngrams.word_hashes(b"x b c d y"), 3)
    assert len(g) == 3 and list(np.isin(h, g)) == [False, True, False]
    assert ngrams.ngram_hashes(ngrams.word_hashes(b"c b a"), 3)[0] != g[0]  # order matters
    # coverage: words inside a matched n-gram
    assert ngrams.coverage(np.arange(10), np.array([0, 0, 1, 0, 0, 0, 0, 0]), 3) == pytest.approx(
        0.3
    )


def test_auc_golden_and_against_sklearn():
    assert C.auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    assert C.auc([1, 1, 1, 1], [True, False, True, False]) == pytest.approx(0.5)  # ties count half
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 200).astype(float)
    y = rng.random(200) < 0.4
    assert C.auc(list(s), list(y)) == pytest.approx(roc_auc_score(y, s))


def test_min_k_golden():
    assert C.min_k_prob(np.array([-1, -5, -3, -0.5, -2.0]), 0.4) == pytest.approx(-4.0)
    assert C.min_k_prob(np.array([-1.0, -2.0]), 0.2) == pytest.approx(-2.0)  # at least one token


@pytest.mark.parametrize("n", [13, 8])
def test_ngram_flags_planted_items(planted, n):
    items, planted_ids, folder = planted
    res = C.ngram_overlap(items, [folder / "c.jsonl"], n)
    truth = [i in planted_ids for i in range(len(items))]
    score = C.auc(res.coverage, truth)
    print(
        f"n={n}: AUC {score:.3f}; coverage planted verbatim/edited, clean:",
        [round(c, 2) for c, t in zip(res.coverage, truth) if t][:6],
        max(c for c, t in zip(res.coverage, truth) if not t),
    )
    assert score >= 0.95
    # verbatim plants are fully covered; clean items share no n-gram with the noise
    verbatim = sorted(planted_ids)[::2]
    assert all(res.coverage[i] == 1.0 for i in verbatim)
    assert all(res.coverage[i] == 0.0 for i in range(len(items)) if i not in planted_ids)
    # every planted item (edited too) is flagged with GPT-3's rule (any shared n-gram)
    assert all(res.coverage[i] > 0 for i in planted_ids)


def test_index_txt_parquet_and_scan_agree(planted, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    items, _, folder = planted
    docs = [json.loads(line)["text"] for line in (folder / "c.jsonl").open()]
    pq.write_table(pa.table({"content": docs}), tmp_path / "c.parquet")
    scan = C.ngram_overlap(items, [folder / "c.jsonl"], 13).coverage
    index = ngrams.build_index([folder / "c.txt"], 13)
    assert (np.diff(index.astype(np.float64)) > 0).all()  # sorted, distinct
    assert C.ngram_overlap(items, [], 13, index=index).coverage == scan
    assert (
        C.ngram_overlap(items, [tmp_path / "c.parquet"], 13, text_field="content").coverage == scan
    )


def test_corpus_errors_name_the_file(tmp_path):
    from arena.core.errors import DataError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n')
    with pytest.raises(DataError, match="text") as exc:
        list(ngrams.iter_chunks([bad]))
    assert "bad.jsonl" in str(exc.value) and "2" in str(exc.value)
    with pytest.raises(DataError, match="not found"):
        ngrams.corpus_files([tmp_path / "nope"])


def _train_tiny(folder: Path, texts: list[str], steps: int = 300) -> float:
    """Train the tiny random model on `texts` (full batch, AdamW) and save it in place."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    enc = tok(texts, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    labels[enc["attention_mask"] == 0] = -100
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(**enc, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(folder)
    return float(loss.detach())


@pytest.mark.slow  # ~15 s on an idle 2-core machine (200 training steps)
def test_min_k_prob_separates_trained_items(tmp_path):
    import torch

    from arena.models.hf import HFModel
    from arena.models.testing import make_tiny_model

    torch.set_num_threads(1)
    items = make_items(20, seed=5, words=8, option_words=2)  # ~80 tokens each
    texts = [C.item_text(s) for s in items]
    folder = make_tiny_model(tmp_path / "tiny")
    members = set(range(0, 20, 2))
    loss = _train_tiny(folder, [texts[i] for i in sorted(members)], steps=200)
    model = HFModel(folder, name="tiny-trained", batch_size=8)
    lps = C.token_logprobs(model, texts)
    scores = [C.min_k_prob(lp, 0.2) for lp in lps]
    truth = [i in members for i in range(len(items))]
    score = C.auc(scores, truth)
    print(f"final train loss {loss:.3f}; Min-K% AUC {score:.3f}")
    assert score >= 0.8
    # the token log-probs are those of the backend's own scorer (an independent path)
    from arena.models.base import LoglikelihoodRequest

    ref = model.loglikelihood([LoglikelihoodRequest(texts[0][:20], texts[0][20:])])[0]
    ids_ctx = model.encode(texts[0][:20].rstrip())
    assert -lps[0][len(ids_ctx) - 1 :].sum() == pytest.approx(ref.nll, rel=1e-3)
    gaps = C.ppl_gaps(model, items)
    assert C.auc(gaps, truth) > 0.5 and all(not np.isnan(g) for g in gaps)


def _write_bench(path: Path, items: list[Sample]) -> None:
    with path.open("w") as fh:
        for s in items:
            fh.write(
                json.dumps(
                    {"id": s.id, "question": s.question, "choices": s.choices, "answer": s.answer}
                )
                + "\n"
            )


def test_cli_labels_split_eval_results_and_report_section(planted, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from arena.cli import app
    from arena.core.store import Store
    from arena.models.testserver import FakeOpenAIServer
    from arena.report.build import build_report
    from objective.cli import build_parser, run_eval

    items, planted_ids, folder = planted
    bench = tmp_path / "synth.jsonl"
    _write_bench(bench, items)
    work = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "contamination",
            "--datasets",
            str(bench),
            "--corpus",
            str(folder / "c.jsonl"),
            "--ngram",
            "13",
            "--work-dir",
            str(work),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "13-gram flagged %" in res.output and "50.00" in res.output
    labels = [json.loads(line) for line in (work / "contamination" / "labels.jsonl").open()]
    assert {r["id"] for r in labels if r["label"] == "dirty"} == {str(i) for i in planted_ids}

    # an API model answers A on every item: accuracy per part is known from the answers
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ARENA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "home" / "models").mkdir(parents=True)
    with FakeOpenAIServer(responder=lambda body: "A") as srv:
        (tmp_path / "home" / "models" / "api.yaml").write_text(
            f"name: api\nbackend: openai\nmodel: fake\nbase_url: {srv.base_url}\n"
        )
        args = build_parser().parse_args(
            [
                "--datasets",
                str(bench),
                "--models",
                "api",
                "--work-dir",
                str(work),
                "--contamination-labels",
                str(work / "contamination" / "labels.jsonl"),
            ]
        )
        out = run_eval(args)
    parts = {r.subset: r for r in out["results"] if r.subset in ("clean", "dirty")}
    for name, ids in (("dirty", planted_ids), ("clean", set(range(40)) - planted_ids)):
        expect = 100 * sum(items[i].answer == 0 for i in ids) / len(ids)
        assert parts[name].n == 20 and parts[name].value == pytest.approx(expect)

    store = Store(tmp_path / "report.sqlite")
    try:
        paths = build_report(store, None, work)
    finally:
        store.close()
    html = paths.html.read_text()
    assert 'id="contamination"' in html and "13-gram flagged %" in html


def test_cli_needs_a_corpus_or_models(tmp_path):
    from typer.testing import CliRunner

    from arena.cli import app

    bench = tmp_path / "b.jsonl"
    _write_bench(bench, make_items(2))
    res = CliRunner().invoke(app, ["contamination", "--datasets", str(bench)])
    assert res.exit_code == 2 and "--corpus" in res.output + str(
        res.stderr if hasattr(res, "stderr") else ""
    )
