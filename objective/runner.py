"""Evaluate one model on one dataset: prompts, inference, scoring, predictions, results.

Resume: every finished sample is a `Prediction` in the store, keyed by (model, dataset,
sample id, config hash); a rerun with the same settings only runs the missing samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.core.cache import Cache
from arena.core.records import DatasetResult, Prediction, Sample, content_hash, write_jsonl
from arena.core.store import Store
from arena.models.base import EvalModel
from objective.datasets import Dataset
from objective.metrics import METRICS, choose, exact_match, mean
from objective.postprocess import get_postprocessor
from objective.templates import LETTERS, MetaTemplate, PromptBuilder, messages_json

CHUNK = 64  # samples per inference call: the unit of resume


@dataclass
class InferStats:
    """What inference fed the model: prompts, prompts cut to max_seq_len, tokens."""

    prompts: int = 0
    truncated: int = 0  # prompts that lost their left part to fit max_seq_len
    max_cut: int = 0  # most tokens cut from one prompt
    tokens: int = 0  # prompt tokens fed (once per option in ppl) + generated tokens

    def add(self, cut: int, tokens: int) -> None:
        self.prompts += 1
        self.truncated += cut > 0
        self.max_cut = max(self.max_cut, cut)
        self.tokens += tokens


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)  # an API model without a local tokenizer


def ppl_window(model: Any, ctx: str, conts: list[str]) -> tuple[str, int, int]:
    """(the context as the model sees it, tokens cut from its left, tokens fed for all options).

    Mirrors the scorer: the context is cut from the left so that it plus the longest option
    fits max_seq_len, and the stored prompt is the text of the ids that remain.
    """
    if not (hasattr(model, "tokenizer") and hasattr(model, "token_ids")):
        return ctx, 0, sum(_approx_tokens(ctx + c) for c in conts)
    from arena.models.prefix import truncate_group  # the scorer's own rule

    ids = model.token_ids(ctx, "")[0]
    opts = [model.token_ids(ctx, c)[1] for c in conts]
    cut = len(ids) - len(truncate_group(ids, opts, model.max_seq_len))
    seen = ctx if not cut else model.tokenizer.decode(ids[cut:]) + ctx[len(ctx.rstrip()):]
    return seen, cut, sum(len(ids) - cut + len(o) for o in opts)


def gen_window(model: Any, prompt: str, max_new: int) -> tuple[str, int, int]:
    """(the prompt as the model sees it, tokens cut from its left, its tokens): generation
    keeps the last `max_seq_len - max_out_len` prompt tokens."""
    if not (hasattr(model, "tokenizer") and hasattr(model, "encode")):
        return prompt, 0, _approx_tokens(prompt)
    ids = model.encode(prompt)
    keep = max(1, model.max_seq_len - max_new)
    cut = max(0, len(ids) - keep)
    return (prompt if not cut else model.tokenizer.decode(ids[cut:])), cut, len(ids) - cut


def _out_tokens(model: Any, text: str) -> int:
    tok = getattr(model, "tokenizer", None) if hasattr(model, "encode") else None
    return len(tok(text, add_special_tokens=False)["input_ids"]) if tok is not None else _approx_tokens(text)


class EvalConfig(BaseModel):
    """Settings of an objective evaluation (all of them enter the config hash)."""

    model_config = ConfigDict(extra="forbid")
    batch_size: int | Literal["auto"] = 8
    max_out_len: int | None = None  # None: the dataset card's, else 64
    shots: int | None = None  # None: the dataset card's
    cot: bool = False
    prompt_style: Literal["auto", "base", "chat"] = "auto"
    meta_template: MetaTemplate | None = None
    limit: int | None = None
    seed: int | None = None  # few-shot order, and the sampling seed of gen at temperature > 0
    temperature: float = 0.0  # gen sampling temperature (0: greedy)
    timeout: float = 10.0  # code execution, seconds per program
    memory_mb: int = 1024


def _chat_renderer(model: Any, config: EvalConfig, mode: str = "gen") -> Callable[[list[dict]], str] | None:
    """None for base-model text prompts, else how chat messages become the prompt text.

    ppl on an API model scores a plain-text prompt (completions with echo/logprobs): chat
    messages encoded as JSON are never sent as a prompt.
    """
    if config.meta_template is not None:
        return config.meta_template.render
    local = hasattr(model, "tokenizer")
    style = config.prompt_style
    if style == "auto":
        style = "chat" if not local or getattr(model.tokenizer, "chat_template", None) else "base"
    if style == "base" or (not local and mode == "ppl"):
        return None
    return model.apply_chat_template if local else messages_json


def builder_for(model: EvalModel, dataset: Dataset, config: EvalConfig) -> PromptBuilder:
    card = dataset.card
    return PromptBuilder(
        card.template, dataset.dev,
        shots=card.few_shot.k if config.shots is None else config.shots,
        seed=card.few_shot.seed if config.seed is None else config.seed,
        per_subset=card.few_shot.per_subset, continuation=card.continuation, pick=card.few_shot.pick,
        cot=config.cot and card.mode == "gen", chat=_chat_renderer(model, config, card.mode),
    )


def config_hash(model: EvalModel, dataset: Dataset, config: EvalConfig) -> str:
    """What determines a prediction besides the sample: data version, settings, the weights."""
    return content_hash({"version": dataset.version, "config": config.model_dump(exclude={"limit"}),
                         "max_seq_len": getattr(model, "max_seq_len", None),
                         "system": getattr(model, "system_prompt", None),
                         "model": getattr(model, "identity", None)})


def _ppl(model: EvalModel, samples: list[Sample], b: PromptBuilder, ds: Dataset, cfg: EvalConfig,
         chash: str, cache: Cache | None, stats: InferStats | None = None) -> list[Prediction]:
    from objective.ppl import score_choices

    items = [(b.prompt(s), b.continuations(s)) for s in samples]
    scored = score_choices(model, items, batch_size=cfg.batch_size, cache=cache)
    seen = []  # the prompt as the model saw it (after cutting to max_seq_len) is what we store
    for ctx, conts in items:
        text, cut, fed = ppl_window(model, ctx, conts)
        seen.append(text)
        if stats is not None:
            stats.add(cut, fed)
    out = []
    for s, (_, conts), res, prompt in zip(samples, items, scored, seen):
        nll, ntok = [r.nll for r in res], [r.n_tokens for r in res]
        nbytes = [len(c.encode("utf-8")) for c in conts]
        pred = choose(nll, ntok, nbytes, ds.card.norm)
        out.append(Prediction(model=model.name, dataset=ds.name, sample_id=s.id, mode="ppl",
                              prompt=prompt, continuations=conts, nll=nll, n_tokens=ntok,
                              n_bytes=nbytes, pred=pred, gold=s.answer,
                              correct=float(pred == s.answer), config_hash=chash))
    return out


def _gen(model: EvalModel, samples: list[Sample], b: PromptBuilder, ds: Dataset, cfg: EvalConfig,
         chash: str, cache: Cache | None, stats: InferStats | None = None) -> list[Prediction]:
    from objective.gen import chat_texts, generate_texts

    card = ds.card
    max_out = card.max_out_len or cfg.max_out_len or 64
    sampling = {"temperature": cfg.temperature, "seed": cfg.seed}
    if b.chat is messages_json:  # an API chat model: send messages, log them as JSON
        convs = [b.messages(s) for s in samples]
        prompts = [messages_json(c) for c in convs]
        raws = chat_texts(model, convs, max_out_len=max_out, stop=card.stop, **sampling)
        windows = [(p, 0, _approx_tokens(p)) for p in prompts]
    else:
        texts = [b.prompt(s) for s in samples]
        raws = generate_texts(model, texts, max_out_len=max_out, stop=card.stop, cache=cache, **sampling)
        windows = [gen_window(model, p, max_out) for p in texts]
        prompts = [w[0] for w in windows]  # as the model saw it
    if stats is not None:
        for (_, cut, n), raw in zip(windows, raws):
            stats.add(cut, n + _out_tokens(model, raw))
    post = get_postprocessor(card.postprocess)
    out = []
    for s, prompt, raw in zip(samples, prompts, raws):
        letters = LETTERS[: len(s.choices)] if s.choices else ""
        extracted = post(raw, letters) if card.postprocess == "first_option" else post(raw)
        gold: str | int | None = LETTERS[s.answer] if s.choices and isinstance(s.answer, int) else s.target
        correct = _gen_correct(s, extracted, gold, card.metric, cfg)
        out.append(Prediction(model=model.name, dataset=ds.name, sample_id=s.id, mode="gen",
                              prompt=prompt, raw=raw, extracted=extracted, pred=extracted,
                              gold=gold, correct=correct, config_hash=chash))
    return out


def _gen_correct(s: Sample, extracted: str, gold: Any, metric: str, cfg: EvalConfig) -> float:
    if metric == "needle":  # needle-in-a-haystack: keywords of the hidden facts
        from objective.needle import score_answer

        return score_answer(s, extracted)
    if metric == "pass@1":
        from objective.humaneval import build_program, run_program

        return float(run_program(build_program(s, extracted), cfg.timeout, cfg.memory_mb).passed)
    if metric in METRICS:  # exact_match and plugin metrics
        return float(METRICS.get(metric)(extracted, str(gold)))
    return float(extracted.strip() == str(gold).strip()) if s.choices else exact_match(extracted, str(gold))


def _results(model: EvalModel, ds: Dataset, preds: list[Prediction], samples: list[Sample],
             chash: str) -> list[DatasetResult]:
    card = ds.card
    subset_of = {s.id: s.subset for s in samples}
    base = {"model": model.name, "dataset": ds.name, "version": ds.version, "mode": card.mode,
            "config_hash": chash}
    metric = card.metric
    rows = [DatasetResult(**base, metric=metric, value=mean([p.correct or 0.0 for p in preds]), n=len(preds))]
    subsets = sorted({s for s in subset_of.values() if s})
    for sub in subsets if len(subsets) > 1 else []:
        mine = [p.correct or 0.0 for p in preds if subset_of[p.sample_id] == sub]
        rows.append(DatasetResult(**base, subset=sub, metric=metric, value=mean(mine), n=len(mine)))
    if card.mode == "ppl":  # the other length normalisations, for comparison
        for norm in ("sum", "token", "byte"):
            if norm == card.norm:
                continue
            hits = [float(choose(p.nll, p.n_tokens, p.n_bytes, norm) == p.gold) for p in preds]  # type: ignore[arg-type]
            rows.append(DatasetResult(**base, metric=f"accuracy_{norm}", value=mean(hits), n=len(hits)))
    if len(subsets) > 1 and ds.groups:  # the card's groups (e.g. C-Eval's): stored, so every report has them
        from objective.summarizer import group_results

        rows += group_results(rows, {ds.name: ds.groups})
    return rows


def evaluate_dataset(model: EvalModel, dataset: Dataset, *, work_dir: str | Path, store: Store | None = None,
                     config: EvalConfig | None = None, cache: Cache | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     stats: InferStats | None = None, run: str | None = None) -> list[DatasetResult]:
    """Run `model` on `dataset`; write predictions JSONL; store and return per-subset and
    overall results (the one writer of DatasetResult rows).

    Args:
        model: an `HFModel`, `OpenAICompatModel` or anything with the same methods.
        dataset: from `load_dataset`.
        work_dir: predictions go to `<work_dir>/predictions/<model>/<dataset>.jsonl`.
        store: where finished samples and results are kept (resume); default
            `<work_dir>/arena.sqlite`.
        config: evaluation settings.
        cache: model-call cache (identical calls are never run twice).
        progress: called with (done, total) after each chunk.
        stats: filled with what inference fed the model (prompts cut, tokens).
        run: the run the results belong to (tags them in the store).
    """
    config = config or EvalConfig()
    own_store = store is None
    store = store or Store(Path(work_dir) / "arena.sqlite")
    try:
        dataset = _bind(dataset, model)
        samples = dataset.limited(config.limit)
        chash = config_hash(model, dataset, config)
        preds = _infer_resumable(model, samples, dataset, config, chash, store, cache, progress, stats)
        write_jsonl(Path(work_dir) / "predictions" / _safe(model.name) / f"{dataset.name}.jsonl", preds)
        results = _results(model, dataset, preds, samples, chash)
        # overwrite: a stored result of the same key from other settings (e.g. limit) is stale
        store.upsert_many(results, run)
        return results
    finally:
        if own_store:
            store.close()


def predict_samples(model: EvalModel, dataset: Dataset, sample_ids: list[str], *, store: Store,
                    config: EvalConfig | None = None, cache: Cache | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    stats: InferStats | None = None) -> list[Prediction]:
    """Infer only `sample_ids` of `dataset` (a shard) and store their predictions.

    The predictions have the same keys as those of a whole `evaluate_dataset` run, so a run
    split into shards and a run in one piece store the same records; results are computed
    afterwards from the stored predictions (`evaluate_dataset` then makes no model call).
    """
    config = config or EvalConfig()
    dataset = _bind(dataset, model)
    wanted = set(sample_ids)
    samples = [s for s in dataset.limited(config.limit) if s.id in wanted]
    chash = config_hash(model, dataset, config)
    return _infer_resumable(model, samples, dataset, config, chash, store, cache, progress, stats)


def _infer_resumable(model: Any, samples: list[Sample], ds: Dataset,
                     cfg: EvalConfig, chash: str, store: Store, cache: Cache | None,
                     progress: Callable[[int, int], None] | None,
                     stats: InferStats | None = None) -> list[Prediction]:
    def key(s: Sample) -> str:
        return Prediction(model=model.name, dataset=ds.name, sample_id=s.id, mode=ds.card.mode,
                          prompt="", config_hash=chash).key()

    done = {k: p for k in (key(s) for s in samples) if (p := store.get(Prediction, k)) is not None}
    todo = [s for s in samples if key(s) not in done]
    run = _ppl if ds.card.mode == "ppl" else _gen
    # built only when something runs: the prompt style may need the tokenizer (a model load)
    b = builder_for(model, ds, cfg) if todo else None
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start: start + CHUNK]
        new = run(model, chunk, b, ds, cfg, chash, cache, stats)
        store.put_many(new)
        done.update({key(s): p for s, p in zip(chunk, new)})
        if progress:
            progress(len(samples) - len(todo) + start + len(chunk), len(samples))
    return [done[key(s)] for s in samples]


def _bind(dataset: Dataset, model: Any) -> Dataset:
    """The dataset as `model` sees it: a needle grid is built with the model's own tokenizer."""
    for_model = getattr(dataset, "for_model", None)
    return for_model(model) if for_model is not None else dataset


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
