"""A real run: SmolLM2-135M answers 10 MT-Bench questions (two turns) and judges them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.mark.slow
@pytest.mark.timeout(1800)  # < 2 min on 2 idle cores; generous for a loaded CI box
def test_smollm2_answers_and_judges_10_questions(tmp_path: Path) -> None:
    from arena.core.cache import Cache
    from arena.core.records import Judgment
    from arena.core.registry import resolve_model
    from arena.core.store import Store
    from arena.models.base import ChatParams
    from arena.models.factory import build_model
    from judges.answers import generate_answers
    from judges.judge import load_judge
    from judges.questions import load_questions
    from judges.run import run_judge
    from judges.single import judgments_to_scores

    start = time.perf_counter()
    model = build_model(resolve_model("smollm2-135m"), cache=Cache(tmp_path / "cache.sqlite"))
    qs = load_questions("mt_bench", limit=10)
    store = Store(tmp_path / "s.sqlite")
    answers = generate_answers([model], qs, store, ChatParams(max_tokens=24))
    assert len(answers) == 10 and all(len(a.turns) == 2 and a.completion_tokens > 0 for a in answers)
    t_answers = time.perf_counter() - start
    judge = load_judge("mt-bench-single", overrides=["max_tokens=24", "parse_retries=1"])
    rep = run_judge(judge, model, qs, answers, store, [model.name])
    elapsed = time.perf_counter() - start
    js = store.all(Judgment)
    print(f"\n{rep.summary()}\nparse-success rate: {rep.parse_success_rate:.1%} "
          f"({rep.parsed}/{rep.parsed + rep.parse_failures}); wall time {elapsed:.0f}s "
          f"(answers {t_answers:.0f}s)")
    for j in js:
        out = (j.raw_output or "").replace("\n", " ")[:100]
        print(f"  q{j.question_id} t{j.turn} attempts={j.attempts} score={j.score} err={j.parse_error!r} :: {out}")
    assert len(js) == 20 == rep.tasks and rep.parsed + rep.parse_failures == 20
    assert all(j.raw_output is not None and (j.score is None) == bool(j.parse_error) for j in js)
    assert all(j.prompt_tokens > 0 and j.completion_tokens > 0 for j in js)
    assert len(judgments_to_scores(js, qs)) == rep.parsed
