"""Metrics: accuracy, exact match, the ppl choice rule and the unbiased pass@k estimator."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from arena.core.registry import Registry
from objective.postprocess import canonical_number


def choose(nll: Sequence[float], n_tokens: Sequence[int], n_bytes: Sequence[int], norm: str) -> int:
    """Index of the option with the lowest NLL: summed, per token or per byte."""
    if norm == "token":
        scores = [v / max(t, 1) for v, t in zip(nll, n_tokens)]
    elif norm == "byte":
        scores = [v / max(b, 1) for v, b in zip(nll, n_bytes)]
    else:
        scores = list(nll)
    return min(range(len(scores)), key=lambda i: (scores[i], i))


def normalize_answer(text: str) -> str:
    """Lower case, no surrounding punctuation or spaces, canonical numbers."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    s = re.sub(r"\s+", " ", s).strip(" .,;:!?。，；：！？\"'`")
    return canonical_number(s)


def exact_match(pred: str, gold: str) -> float:
    return float(normalize_answer(pred) == normalize_answer(gold))


#: a metric scores one extracted prediction against its reference (0..1); a dataset's value
#: is the mean over its samples, in percent. Cards name one in `metric`; plugins register
#: theirs under the entry-point group `arena.metrics`.
Metric = Callable[[str, str], float]
METRICS: Registry[Metric] = Registry("metric", "metrics")
METRICS.add("exact_match", exact_match)
# scored by the runner itself: choice accuracy (ppl/gen), executed code, needle keywords
RUNNER_METRICS = ("accuracy", "pass@1", "needle")


def metric_names() -> list[str]:
    return sorted({*RUNNER_METRICS, *METRICS.names()})


def mean(values: Sequence[float]) -> float:
    """The mean as a percentage (0-100), like OpenCompass tables."""
    if not values:
        raise ValueError("no values to average")
    return 100.0 * sum(values) / len(values)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c pass: 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod
