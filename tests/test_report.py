"""Report: the CSV, MD, TXT and HTML agree; golden numbers from the fixture; escaping; redaction."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from arena.core.records import Battle, DatasetResult, Judgment
from arena.core.store import Store
from arena.report import build_report
from arena.report.html import SECTIONS
from arena.report.redact import REDACTED, redact
from tests import report_fixtures as fx

SECTION_IDS = [s[0] for s in SECTIONS]
JUDGE_TABLE = "table-subjective-" + re.sub(r"[^a-z0-9]+", "-", fx.JUDGE.split(":")[-1].lower())


class TableParser(HTMLParser):
    """Collects {table id: rows of cell text} and every element id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: set[str] = set()
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table":
            self._table = a.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse_html(text: str) -> TableParser:
    p = TableParser()
    p.feed(text)
    return p


def parse_csv_files(main: Path, table_ids: list[str]) -> dict[str, list[list[str]]]:
    """summary_<ts>.csv holds the objective table alone; each other table has its own file."""
    out = {}
    for tid in table_ids:
        path = main if tid == "table-objective" else main.with_name(f"{main.stem}_{tid.removeprefix('table-')}.csv")
        out[tid] = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return out


def parse_md(text: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    title = None
    for line in text.splitlines():
        if line.startswith("## "):
            title, out[line[3:]] = line[3:], []
        elif line.startswith("|") and title is not None:
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set(":-") for c in cells):  # skip the alignment row
                out[title].append(cells)
    return out


def cell_value(s: str) -> float | str:
    """A number where the cell holds one, NaN for a missing value, else the text."""
    if s in ("", "-"):
        return math.nan
    try:
        return float(s)
    except ValueError:
        return s


def same(a: float | str, b: float | str) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    store = fx.make_store(tmp / "arena.sqlite")
    paths = build_report(store, fx.RUN, tmp / "out", config=fx.CONFIG, stage_stats=fx.STAGE_STATS,
                         n_bootstrap=30)
    html = paths.html.read_text(encoding="utf-8")
    return paths, html, parse_html(html)


def _table(parser: TableParser, table_id: str) -> list[dict[str, str]]:
    rows = parser.tables[table_id]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def test_files_and_sections(report):
    paths, html, parser = report
    for p in (paths.csv, paths.txt, paths.md, paths.html):
        assert p.is_file() and p.stat().st_size > 0
    assert re.fullmatch(r"summary_\d{8}_\d{6}\.csv", paths.csv.name)
    assert (paths.csv.parent / "summary.csv").read_text() == paths.csv.read_text()
    assert set(SECTION_IDS) <= parser.ids
    assert {"table-objective", "table-objective-subsets", "table-judges", "table-stages",
            "table-subjective-combined", "table-subjective-human"} <= set(parser.tables)


def test_csv_md_txt_html_agree(report):
    paths, _html, parser = report
    md_tables = parse_md(paths.md.read_text(encoding="utf-8"))
    txt = paths.txt.read_text(encoding="utf-8")
    titles = re.findall(r'<h3>(.*?)</h3>.*?<table id="([^"]+)"', report[1])
    csv_tables = parse_csv_files(paths.csv, [tid for _, tid in titles])
    main = csv_tables["table-objective"]  # one plain table: a header, then rows of its width
    assert main[0][:4] == ["dataset", "version", "metric", "mode"] and {len(r) for r in main} == {len(main[0])}
    assert len(titles) == len(csv_tables) == len(md_tables) >= 10
    import html as htmllib

    checked = 0
    for title, table_id in titles:
        title = htmllib.unescape(title)
        assert title in txt
        h, c, m = parser.tables[table_id], csv_tables[table_id], md_tables[title]
        assert h[0] == c[0] == m[0], title  # same headers
        assert len(h) == len(c) == len(m), title
        for hr, cr, mr in zip(h[1:], c[1:], m[1:]):
            for hv, cv, mv in zip(hr, cr, mr):
                assert same(cell_value(hv), cell_value(cv)) and same(cell_value(cv), cell_value(mv)), (
                    title, hv, cv, mv)
                checked += isinstance(cell_value(cv), float)
    assert checked > 150


def test_objective_numbers_golden(report):
    _, _, parser = report
    rows = {(r["dataset"], r["metric"]): r for r in _table(parser, "table-objective")}
    assert list(parser.tables["table-objective"][0][:4]) == ["dataset", "version", "metric", "mode"]
    assert "other-run-model" not in parser.tables["table-objective"][0]  # another run is left out
    res = fx.dataset_results()
    sub = {(r.model, r.subset): r for r in res if r.dataset == "mmlu" and r.subset}
    for m in fx.MODELS:
        whole = next(r.value for r in res if (r.model, r.dataset, r.subset, r.metric) == (m, "mmlu", None, "accuracy"))
        assert float(rows[("mmlu", "accuracy")][m]) == pytest.approx(whole, abs=6e-5)
        aa, astro = sub[(m, "abstract_algebra")], sub[(m, "astronomy")]
        naive = (aa.value + astro.value) / 2
        weighted = (aa.value * aa.n + astro.value * astro.n) / (aa.n + astro.n)
        assert float(rows[("mmlu/stem", "naive_average")][m]) == pytest.approx(naive, abs=6e-5)
        assert float(rows[("mmlu/stem", "weighted_average")][m]) == pytest.approx(weighted, abs=6e-5)
    assert ("mmlu", "accuracy_token") in rows and ("gsm8k", "accuracy") in rows
    assert rows[("mmlu", "accuracy")]["llama-3-8b-instruct"].count(".") == 1
    assert len(rows[("mmlu", "accuracy")]["llama-3-8b-instruct"].split(".")[1]) == 4  # 0-1 scale
    subsets = _table(parser, "table-objective-subsets")
    assert {r["dataset"] for r in subsets} == {"mmlu/abstract_algebra", "mmlu/anatomy", "mmlu/astronomy",
                                               "gsm8k/easy", "gsm8k/hard"}
    assert {r["n"] for r in subsets} == {"100", "137", "174"}


def test_leaderboards_golden(report):
    _, _, parser = report
    store_battles = [b for b in fx.judge_records(__import__("numpy").random.default_rng(7))[1]]
    counts = defaultdict(int)
    for b in store_battles:
        counts[b.model_a] += 1
        counts[b.model_b] += 1
    judge = _table(parser, JUDGE_TABLE)
    assert {r["model"]: int(r["battles"]) for r in judge} == dict(counts)
    for source in (JUDGE_TABLE, "table-subjective-human", "table-subjective-combined"):
        rows = _table(parser, source)
        assert rows[-1]["model"] == "smollm2-135m-instruct"  # the weak model is last everywhere
        for r in rows:
            assert float(r["ci low"]) <= float(r["rating"]) <= float(r["ci high"])
        assert rows[-1]["win rate %"] == "-"  # the baseline has no win rate against itself
        assert float(rows[0]["win rate %"]) > 70
    combined = _table(parser, "table-subjective-combined")
    assert sum(int(r["battles"]) for r in combined) == 2 * (len(store_battles) + 16 * 3)


def _independent_bias() -> tuple[int, int, int, int]:
    """(calls, parse failures, pairs judged in both orders, flips) straight from the fixture."""
    import numpy as np

    judgments, _ = fx.judge_records(np.random.default_rng(7))
    by_key: dict[tuple, dict[str, str]] = defaultdict(dict)
    for j in judgments:
        if j.parse_error is None:
            by_key[(j.question_id, j.model_a, j.model_b)][j.order] = j.verdict
    def model_terms(order: str, label: str) -> str:  # positional label -> winner in pair terms
        if label == "C":
            return "tie"
        first_won = label == "A"
        return "a" if first_won == (order == "AB") else "b"

    both = [v for v in by_key.values() if len(v) == 2]
    flips = sum(model_terms("AB", v["AB"]) != model_terms("BA", v["BA"]) for v in both)
    return len(judgments), sum(j.parse_error is not None for j in judgments), len(both), flips


def test_judge_diagnostics_golden(report):
    _, _, parser = report
    rows = {r["judge"]: r for r in _table(parser, "table-judges")}
    calls, fails, pairs, flips = _independent_bias()
    j = rows[fx.JUDGE]
    assert (int(j["calls"]), int(j["parse failures"]), int(j["pairs in both orders"])) == (calls, fails, pairs)
    assert float(j["parse fail %"]) == pytest.approx(100 * fails / calls, abs=0.05)
    assert float(j["flip %"]) == pytest.approx(100 * flips / pairs, abs=0.05)
    assert -1 <= float(j["kappa vs human"]) <= 1 and int(j["n vs human"]) > 0
    scorer = rows[fx.SCORER]
    assert scorer["flip %"] == "-" and scorer["kappa vs human"] == "-"
    examples = _table(parser, "table-parse-failures")
    assert len(examples) == min(8, fails)


def test_kappa_against_independent_computation(report):
    """Cohen's kappa of judge vs human on shared (question, pair), every cross pair counted."""
    import numpy as np

    _, judge_battles = fx.judge_records(np.random.default_rng(7))
    rng = np.random.default_rng(7)
    fx.judge_records(rng)
    fx.score_records(rng)
    humans = fx.human_battles(rng)

    def oriented(b: Battle) -> tuple[tuple, str]:
        # labels: the name-sorted pair's first model wins, its second wins, or a tie
        lo, hi = sorted((b.model_a, b.model_b))
        if b.winner.startswith("tie"):
            return (b.question_id, lo, hi), "tie"
        w = b.model_a if b.winner == "model_a" else b.model_b
        return (b.question_id, lo, hi), "first" if w == lo else "second"

    hv = defaultdict(list)
    for b in humans:
        k, v = oriented(b)
        hv[k].append(v)
    pairs = [(v, h) for b in judge_battles for k, v in [oriented(b)] for h in hv.get(k, [])]
    po = sum(a == b for a, b in pairs) / len(pairs)
    labels = {x for p in pairs for x in p}
    pe = sum((sum(a == lab for a, _ in pairs) / len(pairs)) * (sum(b == lab for _, b in pairs) / len(pairs))
             for lab in labels)
    kappa = (po - pe) / (1 - pe)
    row = {r["judge"]: r for r in _table(report[2], "table-judges")}[fx.JUDGE]
    assert int(row["n vs human"]) == len(pairs)
    assert float(row["kappa vs human"]) == pytest.approx(kappa, abs=0.0006)
    assert float(row["agree % vs human"]) == pytest.approx(100 * po, abs=0.05)


def test_stage_table_totals(report):
    rows = {r["stage"]: r for r in _table(report[2], "table-stages")}
    assert float(rows["total"]["seconds"]) == pytest.approx(sum(s["seconds"] for s in fx.STAGE_STATS.values()), abs=0.05)
    assert int(rows["total"]["tokens"]) == sum(s["tokens"] for s in fx.STAGE_STATS.values())


def test_html_is_self_contained_and_escaped(report):
    _, html, _ = report
    assert html.count("<script") >= 4
    assert len(re.findall(r"<script[^>]*\bsrc=", html)) == 0  # no external script
    # plotly.js holds URL strings as defaults; what matters is that no tag loads from outside
    assert not re.search(r"<(script|link|img|iframe|source)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert 'include_plotlyjs="cdn"' not in html and "require.js" not in html
    assert len(re.findall(r"\* plotly\.js v\d", html)) == 1  # the library is inlined exactly once
    assert "<script>alert('pwned')" not in html  # the judge's raw output is text, not markup
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)" in html
    assert "Content-Security-Policy" in html


def test_config_is_redacted(report):
    _, html, _ = report
    assert "sk-live-0123456789abcdefABCDEF" not in html and "hunter2" not in html
    assert REDACTED in html and "OPENAI_API_KEY" in html and "max_tokens: 512" in html
    tree = redact({"api_key": "abc", "max_tokens": 3, "token": "t", "headers": {"Authorization": "Bearer xyz12345678"},
                   "note": "use hf_abcdefghijklmnopqrstu", "key_env": "MY_KEY", "password": "${DB_PASSWORD}"})
    assert tree == {"api_key": REDACTED, "max_tokens": 3, "token": REDACTED,
                    "headers": {"Authorization": REDACTED}, "note": f"use {REDACTED}",
                    "key_env": "MY_KEY", "password": "${DB_PASSWORD}"}


def test_untrusted_model_names_are_escaped(tmp_path):
    evil = '<img src=x onerror="alert(1)">'
    store = Store(tmp_path / "s.sqlite")
    store.put_many([
        DatasetResult(model=evil, dataset="d&d", metric="acc", mode="gen", value=50.0, n=10),
        DatasetResult(model="ok", dataset="d&d", metric="acc", mode="gen", value=40.0, n=10),
        Battle(source="human", question_id="1", model_a=evil, model_b="ok", winner="model_a"),
        Battle(source="human", question_id="2", model_a="ok", model_b=evil, winner="tie"),
        Judgment(judge="j</td>", judge_hash="h", mode="pairwise", question_id="1", model_a=evil,
                 model_b="ok", parse_error="bad", raw_output="</table><script>x()</script>"),
    ])
    paths = build_report(store, None, tmp_path / "out", n_bootstrap=5)
    html = paths.html.read_text(encoding="utf-8")
    assert evil not in html and "<script>x()" not in html and "j</td>" not in html
    parser = parse_html(html)
    assert evil in parser.tables["table-objective"][0]  # shown as text, intact
    assert _table(parser, "table-parse-failures")[0]["raw output"] == "</table><script>x()</script>"
    md = paths.md.read_text(encoding="utf-8")
    assert "d&d" in md


def test_empty_store_still_renders_every_section(tmp_path):
    store = Store(tmp_path / "empty.sqlite")
    paths = build_report(store, "nothing", tmp_path / "out")
    parser = parse_html(paths.html.read_text(encoding="utf-8"))
    assert set(SECTION_IDS) <= parser.ids
    assert "No pairwise battles in this run." in paths.html.read_text(encoding="utf-8")


def test_cli_report_json(tmp_path):
    from typer.testing import CliRunner

    from arena.cli import app

    run_dir = tmp_path / "outputs" / fx.RUN
    run_dir.mkdir(parents=True)
    fx.make_store(tmp_path / "outputs" / "arena.sqlite")
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump({**fx.CONFIG, "report": {
        "baseline": fx.BASELINE, "groups": fx.GROUPS, "bootstrap": 10}}))
    (run_dir / "stage_stats.json").write_text(json.dumps(fx.STAGE_STATS))
    res = CliRunner().invoke(app, ["report", str(run_dir), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["run"] == fx.RUN and Path(out["html"]) == run_dir / "report.html"
    html = Path(out["html"]).read_text(encoding="utf-8")
    assert "mmlu/stem" in html and "table-stages" in html and "sk-live" not in html
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code != 0
