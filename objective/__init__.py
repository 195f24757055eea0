"""Objective evaluation: multiple-choice (ppl) and generative (gen) benchmarks.

Python API (what `arena eval` and the `arena run` pipeline call)::

    from objective.datasets import load_dataset          # name | card.yaml | file.jsonl/.csv
    from objective.runner import EvalConfig, evaluate_dataset
    from objective.summarizer import group_results, summarize, write_summary

    ds = load_dataset("ceval_mini_ppl")                   # -> Dataset(card, version, samples, dev)
    results = evaluate_dataset(model, ds, work_dir=out, store=store,
                               config=EvalConfig(batch_size=8), cache=cache)
    results += group_results(results, {ds.name: ds.card.groups})   # C-Eval group averages
    table = summarize(results)                            # dataset | version | metric | mode | models
    write_summary(table, out / "summary", "summary")      # summary.csv / .txt / .md

`evaluate_dataset` returns `DatasetResult`s (values in percent: overall, per subset and,
for ppl, the other length normalisations), writes
`<work_dir>/predictions/<model>/<dataset>.jsonl` (one `Prediction` per sample: rendered
prompt, each option's continuation, NLL, token and byte counts, or raw and extracted
generation, and the gold answer) and keeps every prediction in the store, so a rerun with
the same settings only runs missing samples. Lower-level pieces: `objective.ppl.score_choices`
(shared-prefix KV-cache scoring, see `arena.models.prefix`), `objective.gen.generate_texts`,
`objective.templates.PromptBuilder` / `MetaTemplate`, `objective.postprocess`,
`objective.metrics` (accuracy, exact match, pass@k), `objective.humaneval.run_program`.
"""
