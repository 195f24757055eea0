"""Dry runs: samples, model calls and tokens of an evaluation, without loading any weights.

Prompts are rendered exactly as a run renders them (templates, few-shot examples, chat
template, cut to max_seq_len) and counted with the model's own tokenizer, so the estimate
of prompt tokens is what the run then feeds. Generated tokens are expected to be as long as
the sample's reference answer in the template's answer form (what the few-shot examples
show the model), at most `max_out_len`; the bound `max_out_len` is given too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from objective.runner import EvalConfig, _out_tokens, builder_for, gen_window, ppl_window

log = logging.getLogger(__name__)


def text_model(spec: Any) -> Any:
    """A stand-in with the model's tokenizer and chat template (HF) or its name (API)."""
    if spec.backend == "hf":
        from arena.models.factory import resolve_path
        from arena.models.hf import HFModel

        try:
            return HFModel.tokenizer_only(
                resolve_path(spec.path),
                name=spec.label,
                tokenizer_path=resolve_path(spec.tokenizer_path) if spec.tokenizer_path else None,
                tokenizer_kwargs=spec.tokenizer_kwargs,
                max_seq_len=spec.max_seq_len,
                system_prompt=spec.system_prompt,
            )
        except (OSError, ValueError) as exc:  # e.g. a hub id not downloaded: ~4 characters a token
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            log.warning("%s: no local tokenizer (%s); estimating 4 characters a token", spec.label, why)
    return SimpleNamespace(
        name=spec.label, system_prompt=spec.system_prompt, max_seq_len=spec.max_seq_len
    )


def estimate_dataset(model: Any, ds: Any, config: EvalConfig) -> dict[str, Any]:
    """One row of the plan: what evaluating `ds` with `model` feeds and asks for."""
    limited = getattr(ds, "limited", None)
    samples = (
        limited(config.limit)
        if limited
        else (ds.samples[: config.limit] if config.limit else ds.samples)
    )
    b = builder_for(model, ds, config)
    prompt_tokens = out_tokens = calls = 0
    max_out = ds.card.max_out_len or config.max_out_len or 64
    if ds.card.mode == "ppl":
        for s in samples:
            conts = b.continuations(s)
            prompt_tokens += ppl_window(model, b.prompt(s), conts)[2]
            calls += len(conts)
    else:
        for s in samples:
            prompt_tokens += gen_window(model, b.prompt(s), max_out)[2]
            try:
                reference = b.answer(s)
            except Exception:  # a card without an answer form: the bare target
                reference = str(s.target or "")
            out_tokens += min(max_out, _out_tokens(model, reference) + 1)  # + the stop/EOS token
        calls = len(samples)
    return {
        "model": model.name,
        "dataset": ds.name,
        "mode": ds.card.mode,
        "samples": len(samples),
        "calls": calls,
        "est_prompt_tokens": prompt_tokens,
        "est_out_tokens": out_tokens,
        "max_out_tokens": 0 if ds.card.mode == "ppl" else calls * max_out,
        "est_tokens": prompt_tokens + out_tokens,
    }


def plan_eval(
    specs: Sequence[Any], datasets: Sequence[Any], config: EvalConfig
) -> list[dict[str, Any]]:
    """A row per (model, dataset)."""
    rows = []
    for spec in specs:
        model = text_model(spec)
        for ds in datasets:
            rows.append(estimate_dataset(model, ds, config))
    return rows
