"""Subjective evaluation with judge LLMs.

Pipeline API (what `arena run` calls; every stage resumes from the Store by content key)::

    from judges.questions import load_questions            # "mt_bench", "arena_bilingual" or a path
    from judges.answers import generate_answers             # (models, questions, store, params, run=None)
    from judges.judge import load_judge                     # (name_or_dir, overrides=None) -> Judge
    from judges.run import make_judge_model, run_judge      # -> JudgeReport
    from judges.pairwise import judgments_to_battles        # (judgments, judge=None, inconsistent=None)
    from judges.single import judgments_to_scores           # (judgments, questions=None)
    from judges.panel import panel_battles, panel_scores    # several judges -> PanelResult
    from judges.formats import import_format, export_format # mt-bench | alpaca-eval | arena-hard | chatbot-arena

    qs = load_questions("mt_bench")
    answers = generate_answers([m1, m2], qs, store, ChatParams(max_tokens=512), run="r1")
    judge = load_judge("mt-bench-pair")                     # judges/configs/<name>/{judge.yaml,prompt.txt}
    judge_model = make_judge_model("gpt-4", base_url=None)  # MissingKeyError here, before any work
    report = run_judge(judge, judge_model, qs, answers, store, ["m1", "m2"], baseline=None, run="r1")
    print(report.summary())                                 # counts, parse failures, flip rate, missing
    store.put_many(judgments_to_battles(report.judgments, judge), run="r1")

`run_judge(judge, judge_model, questions, answers, store, models, mode=None, baseline=None,
run=None, pairs=None, retry_failures=False)`: API judges run concurrently (asyncio gather
under the backend's limits), HF judges in batches (`chat_many`); each judgment is committed
as it completes. Pairs: all pairs (default), `baseline=`, or explicit `pairs=` (m-to-n via
`judges.pairwise.m_to_n_pairs`). The judge id is `<config>@<judge model>`; battles and
scores carry the source `judge:<id>`.
"""

from __future__ import annotations

__all__: list[str] = []
