"""Contamination signals per benchmark item, per-dataset summaries and clean/dirty labels.

- n-gram overlap with a corpus (`objective.ngrams`): an item's text is question + options +
  answer; its score is the share of its words covered by an n-gram also found in the corpus
  (Llama 2's rule; `threshold 0` = any shared n-gram, GPT-3's 13-gram rule).
- Min-K% Prob (Shi et al., 2023): the mean log-probability of the k% least likely tokens of the
  item under a local model; seen text has fewer surprising tokens, so a higher score.
- Perplexity gap: mean per-token NLL of a meaning-preserving perturbation (options shuffled,
  or a rewritten question) minus that of the item as published; a model that memorised the
  published form finds the perturbation relatively much less likely.

Labels are `dirty` or `clean` per sample (JSONL: dataset, id, label, scores);
`arena eval --contamination-labels FILE` then reports each dataset on both parts, as
OpenCompass's `ceval_clean_ppl` does.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arena.core.errors import DataError
from arena.core.records import DatasetResult, Prediction, Sample
from objective import ngrams
from objective.templates import LETTERS


def item_text(s: Sample, question: str | None = None, order: Sequence[int] | None = None) -> str:
    """The item as it is published: question, lettered options, answer (or the gen target)."""
    q = s.question if question is None else question
    if not s.choices:
        return f"{q}\nAnswer: {s.target or ''}"
    order = list(order) if order is not None else list(range(len(s.choices)))
    lines = [f"{LETTERS[i]}. {s.choices[j]}" for i, j in enumerate(order)]
    ans = LETTERS[order.index(s.answer)] if isinstance(s.answer, int) else ""
    return f"{q}\n" + "\n".join(lines) + f"\nAnswer: {ans}"


def shuffled_order(s: Sample, seed: int = 0) -> list[int] | None:
    """A new option order (never the published one) or None for an item without options."""
    if not s.choices or len(s.choices) < 2:
        return None
    rng = random.Random(f"{seed}:{s.dataset}:{s.id}")
    order = list(range(len(s.choices)))
    while order == sorted(order):
        rng.shuffle(order)
    return order


# ------------------------------------------------------------------------------- n-grams
@dataclass
class NgramResult:
    """Per item: words, matched n-grams, coverage (share of words in a matched n-gram)."""

    n: int
    coverage: list[float]
    matched: list[int]
    total: list[int]


def ngram_overlap(
    samples: Sequence[Sample],
    corpus: Sequence[str | Path],
    n: int = 13,
    *,
    index: np.ndarray | None = None,
    text_field: str = "text",
    progress=None,
) -> NgramResult:  # noqa: ANN001
    """Overlap of every item's n-grams with a corpus (streamed) or a prebuilt index."""
    words = [ngrams.word_hashes(item_text(s).encode("utf-8")) for s in samples]
    grams = [ngrams.ngram_hashes(w, n) for w in words]
    if index is None:
        allg = np.concatenate(grams) if grams else np.zeros(0, dtype=np.uint64)
        index = ngrams.scan(corpus, n, allg, text_field, progress)
    out = NgramResult(n, [], [], [])
    for w, g in zip(words, grams):
        hit = ngrams.lookup(index, g)
        out.coverage.append(ngrams.coverage(w, hit, n))
        out.matched.append(int(hit.sum()))
        out.total.append(len(g))
    return out


# --------------------------------------------------------------------------- model-based
def token_logprobs(model: Any, texts: Sequence[str], batch_size: int = 8) -> list[np.ndarray]:
    """Log-probability of each token of each text given the tokens before it (HF models)."""
    import torch

    if not hasattr(model, "model") or not hasattr(model, "encode"):
        raise DataError(
            f"model '{getattr(model, 'name', model)}' gives no token probabilities: "
            "Min-K% Prob and the perplexity gap need a local (hf) model"
        )
    ids = [model.encode(t)[: model.max_seq_len] for t in texts]
    out: list[np.ndarray | None] = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    pad = model.tokenizer.pad_token_id or 0
    for s in range(0, len(order), batch_size):
        chunk = order[s : s + batch_size]
        width = max(len(ids[i]) for i in chunk)
        x = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros_like(x)
        for r, i in enumerate(chunk):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
            mask[r, : len(ids[i])] = 1
        with torch.inference_mode():
            logits = model.model(
                input_ids=x.to(model.input_device), attention_mask=mask.to(model.input_device)
            ).logits.float()
            lp = torch.log_softmax(logits[:, :-1], -1).gather(2, x[:, 1:, None].to(logits.device))[
                ..., 0
            ]
        for r, i in enumerate(chunk):
            out[i] = lp[r, : len(ids[i]) - 1].double().cpu().numpy()
    return out  # type: ignore[return-value]


def min_k_prob(logprobs: np.ndarray, k: float = 0.2) -> float:
    """Mean of the lowest ceil(k * n) token log-probabilities (Shi et al., 2023)."""
    if not len(logprobs):
        return float("nan")
    m = max(1, math.ceil(k * len(logprobs)))
    return float(np.sort(logprobs)[:m].mean())


def ppl_gaps(
    model: Any,
    samples: Sequence[Sample],
    rewritten: dict[str, dict] | None = None,
    seed: int = 0,
    batch_size: int = 8,
) -> list[float]:
    """Per item: mean NLL/token of its perturbation minus that of the published item (NaN
    when an item has neither options to shuffle nor a rewritten question)."""
    pairs: list[tuple[int, str, str]] = []
    for i, s in enumerate(samples):
        rw = (rewritten or {}).get(s.id)
        order = shuffled_order(s, seed)
        if rw is None and order is None:
            continue
        alt = item_text(s, rw.get("question") if rw else None, order)
        pairs.append((i, item_text(s), alt))
    out = [float("nan")] * len(samples)
    if not pairs:
        return out
    lps = token_logprobs(model, [t for _, a, b in pairs for t in (a, b)], batch_size)
    for j, (i, _, _) in enumerate(pairs):
        orig, alt = lps[2 * j], lps[2 * j + 1]
        out[i] = float(-alt.mean() + orig.mean())
    return out


def read_rewritten(path: str | Path | None) -> dict[str, dict]:
    """`{"id": ..., "question": ...}` per line: meaning-preserving rewrites of items."""
    if not path:
        return {}
    out = {}
    for no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if "id" not in row or "question" not in row:
                raise DataError("a rewritten item needs 'id' and 'question'", str(path), no)
            out[str(row["id"])] = row
    return out


# ------------------------------------------------------------------------------ summaries
def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """ROC AUC: P(score of a positive > score of a negative), ties count half."""
    pos = [s for s, y in zip(scores, labels) if y and not math.isnan(s)]
    neg = [s for s, y in zip(scores, labels) if not y and not math.isnan(s)]
    if not pos or not neg:
        return float("nan")
    allv = np.array(pos + neg)
    ranks = _average_ranks(allv)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


@dataclass
class ItemSignals:
    """Every signal of one dataset's items (model-based ones per model)."""

    dataset: str
    ids: list[str]
    ngram: NgramResult | None = None
    min_k: dict[str, list[float]] = field(default_factory=dict)
    gap: dict[str, list[float]] = field(default_factory=dict)
    correct: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> id -> 0/1


@dataclass
class Thresholds:
    ngram: float = 0.0  # coverage above this is dirty (0: any shared n-gram)
    min_k: float | None = None  # Min-K% score above this is flagged
    gap: float | None = None  # ppl gap (nats/token) above this is flagged


def flags(sig: ItemSignals, th: Thresholds) -> dict[str, list[bool]]:
    """Flagged items per method (`ngram`, `min_k:<model>`, `gap:<model>`)."""
    out: dict[str, list[bool]] = {}
    if sig.ngram is not None:
        out["ngram"] = [c > th.ngram for c in sig.ngram.coverage]
    for m, vals in sig.min_k.items():
        if th.min_k is not None:
            out[f"min_k:{m}"] = [not math.isnan(v) and v > th.min_k for v in vals]
    for m, vals in sig.gap.items():
        if th.gap is not None:
            out[f"gap:{m}"] = [not math.isnan(v) and v > th.gap for v in vals]
    return out


def labels(sig: ItemSignals, th: Thresholds) -> list[str]:
    """`dirty` when n-gram overlap says so (with a corpus), else when any model signal does."""
    fl = flags(sig, th)
    if "ngram" in fl:
        return ["dirty" if f else "clean" for f in fl["ngram"]]
    n = len(sig.ids)
    return ["dirty" if any(v[i] for v in fl.values()) else "clean" for i in range(n)]


def _pct(values: list[float]) -> float:
    return 100.0 * sum(values) / len(values) if values else float("nan")


def summary_rows(sig: ItemSignals, th: Thresholds) -> list[dict[str, Any]]:
    """One row per (dataset, model): share flagged per method, accuracy clean vs dirty."""
    fl = flags(sig, th)
    lab = labels(sig, th)
    models = sorted(set(sig.min_k) | set(sig.gap) | set(sig.correct)) or ["-"]
    rows = []
    for m in models:
        row: dict[str, Any] = {"dataset": sig.dataset, "model": m, "n": len(sig.ids)}
        if "ngram" in fl:
            row[f"{sig.ngram.n}-gram flagged %"] = _pct(fl["ngram"])
        if f"min_k:{m}" in fl:
            row["min-k flagged %"] = _pct(fl[f"min_k:{m}"])
        if m in sig.min_k:
            row["min-k mean"] = float(np.nanmean(sig.min_k[m]))
        if f"gap:{m}" in fl:
            row["ppl-gap flagged %"] = _pct(fl[f"gap:{m}"])
        if m in sig.gap and not all(math.isnan(v) for v in sig.gap[m]):
            row["ppl-gap mean"] = float(np.nanmean(sig.gap[m]))
        if m in sig.correct:
            c = sig.correct[m]
            for name in ("clean", "dirty"):
                vals = [c[i] for i, lb in zip(sig.ids, lab) if lb == name and i in c]
                row[f"acc {name} %"] = _pct(vals)
                row[f"n {name}"] = len(vals)
        rows.append(row)
    return rows


def label_rows(sig: ItemSignals, th: Thresholds) -> list[dict[str, Any]]:
    lab = labels(sig, th)
    out = []
    for i, (sid, lb) in enumerate(zip(sig.ids, lab)):
        row: dict[str, Any] = {"dataset": sig.dataset, "id": sid, "label": lb}
        if sig.ngram is not None:
            row["ngram_coverage"] = round(sig.ngram.coverage[i], 4)
            row["ngram_matched"] = sig.ngram.matched[i]
        for m, v in sig.min_k.items():
            row[f"min_k:{m}"] = None if math.isnan(v[i]) else round(v[i], 4)
        for m, v in sig.gap.items():
            row[f"ppl_gap:{m}"] = None if math.isnan(v[i]) else round(v[i], 4)
        out.append(row)
    return out


# ---------------------------------------------------------------- arena eval: clean/dirty
def read_labels(path: str | Path) -> dict[tuple[str, str], str]:
    """(dataset, id) -> label from a labels JSONL file."""
    p = Path(path)
    if not p.is_file():
        raise DataError("contamination labels file not found", str(p))
    out = {}
    for no, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out[(str(row["dataset"]), str(row["id"]))] = str(row["label"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError('expected {"dataset", "id", "label"}', str(p), no) from None
    return out


def split_by_labels(
    results: Sequence[DatasetResult], store: Any, path: str | Path
) -> list[DatasetResult]:
    """Each whole-dataset result again on its `clean` and `dirty` samples (subsets named so)."""
    lab = read_labels(path)
    out = []
    for r in results:
        if r.subset is not None or r.metric.startswith("accuracy_"):
            continue
        preds = store.all(Prediction, model=r.model, dataset=r.dataset, config_hash=r.config_hash)
        groups: dict[str, list[float]] = {}
        for p in preds:
            label = lab.get((r.dataset, p.sample_id))
            if label is not None:
                groups.setdefault(label, []).append(p.correct or 0.0)
        for label, vals in sorted(groups.items()):
            out.append(
                DatasetResult(
                    model=r.model,
                    dataset=r.dataset,
                    version=r.version,
                    subset=label,
                    metric=r.metric,
                    mode=r.mode,
                    value=_pct(vals),
                    n=len(vals),
                    config_hash=r.config_hash,
                )
            )
    return out
