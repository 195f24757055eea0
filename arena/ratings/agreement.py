"""Agreement between judges and humans (or any two raters) and a judge's position bias.

Verdicts are compared at the *model* level: each battle's winner is oriented to the pair
sorted by name, so ``(A vs B, model_a)`` and ``(B vs A, model_b)`` are the same verdict.
``tie`` and ``tie (bothbad)`` are one category. Two sources are matched on
(``question_id``, unordered model pair, and ``turn`` if present); when a key has several
verdicts per source, every cross pair counts (as in MT-Bench's agreement analysis).
"Without ties" drops the pairs in which either verdict is a tie.

:func:`label_agreement` is the table of ``arena agreement``: a judge's labels against the
human majority label (accuracy, macro precision/recall/F1, Cohen's kappa, as scikit-learn
defines them), agreement among the human raters (pairwise Cohen's kappa, Fleiss' kappa)
and, given the judge's verdicts with the answers swapped, its consistency.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "Agreement",
    "PositionBias",
    "agreement",
    "agreement_matrix",
    "cohen_kappa",
    "fleiss_kappa",
    "human_majority",
    "label_agreement",
    "LabelAgreement",
    "macro_prf",
    "pairwise_agreement",
    "position_flip_rate",
]

_NORMAL = {
    "model_a": "model_a",
    "a": "model_a",
    "model_b": "model_b",
    "b": "model_b",
    "tie": "tie",
    "tie (bothbad)": "tie",
    "tie_bothbad": "tie",
}


@dataclass(frozen=True)
class Agreement:
    """Agreement rate, Cohen's kappa and the number of compared verdict pairs."""

    rate: float
    kappa: float
    n: int


@dataclass(frozen=True)
class PositionBias:
    """Flip rate over pairs judged in both orders, and where the flips lean."""

    flip_rate: float
    n_pairs: int
    n_flips: int
    prefers_first: int  # flips where each order picked the answer shown first
    prefers_second: int


def cohen_kappa(x: np.ndarray | pd.Series, y: np.ndarray | pd.Series) -> float:
    """Cohen's kappa of two label sequences (NaN if undefined, e.g. no data)."""
    x, y = np.asarray(x, dtype=object), np.asarray(y, dtype=object)
    if len(x) == 0:
        return float("nan")
    labels = sorted(set(x) | set(y))
    po = float(np.mean(x == y))
    pe = sum(float(np.mean(x == lab)) * float(np.mean(y == lab)) for lab in labels)
    return float("nan") if pe == 1.0 else (po - pe) / (1.0 - pe)


def agreement(x, y, include_ties: bool = True) -> Agreement:
    """Agreement of two aligned verdict sequences (winner values, see module docstring)."""
    x = pd.Series(np.asarray(x, dtype=object)).map(_NORMAL)
    y = pd.Series(np.asarray(y, dtype=object)).map(_NORMAL)
    if not include_ties:
        keep = (x != "tie") & (y != "tie")
        x, y = x[keep], y[keep]
    n = len(x)
    rate = float((x.to_numpy() == y.to_numpy()).mean()) if n else float("nan")
    return Agreement(rate, cohen_kappa(x, y), n)


def _oriented(battles: pd.DataFrame) -> pd.DataFrame:
    """Key columns plus the verdict oriented to the name-sorted pair."""
    swap = battles["model_a"] > battles["model_b"]
    verdict = battles["winner"].map(_NORMAL)
    flipped = verdict.map({"model_a": "model_b", "model_b": "model_a", "tie": "tie"})
    out = pd.DataFrame(
        {
            "question_id": battles["question_id"],
            "first": np.where(swap, battles["model_b"], battles["model_a"]),
            "second": np.where(swap, battles["model_a"], battles["model_b"]),
            "verdict": np.where(swap, flipped, verdict),
        }
    )
    if "turn" in battles.columns:
        out["turn"] = battles["turn"]
    return out


def pairwise_agreement(
    battles: pd.DataFrame, source_1: str, source_2: str, include_ties: bool = True
) -> Agreement:
    """Agreement between two sources (e.g. ``judge:gpt-4`` vs ``human``) on shared battles.

    Raises:
        ValueError: the table lacks ``source`` or ``question_id``.
    """
    if not {"source", "question_id"} <= set(battles.columns):
        raise ValueError("agreement needs 'source' and 'question_id' columns")
    x = _oriented(battles[battles["source"] == source_1])
    y = _oriented(battles[battles["source"] == source_2])
    keys = [c for c in ("question_id", "first", "second", "turn") if c in x.columns]
    merged = x.merge(y, on=keys, suffixes=("_1", "_2"))
    return agreement(merged["verdict_1"], merged["verdict_2"], include_ties)


def agreement_matrix(battles: pd.DataFrame, include_ties: bool = True) -> pd.DataFrame:
    """Agreement rate between every two sources (NaN where they share no battle)."""
    sources = sorted(battles["source"].dropna().unique())
    mat = pd.DataFrame(np.nan, index=sources, columns=sources)
    for i, s1 in enumerate(sources):
        for s2 in sources[i + 1 :]:
            rate = pairwise_agreement(battles, s1, s2, include_ties).rate
            mat.loc[s1, s2] = mat.loc[s2, s1] = rate
    return mat


def position_bias(g1: Sequence[str] | pd.Series, g2: Sequence[str] | pd.Series) -> PositionBias:
    """Flips between paired verdicts: g1 with model_a shown first, g2 the same pair shown the
    other way, both in model terms (``model_a``/``model_b``/``tie``)."""
    g1, g2 = np.asarray(g1, dtype=object), np.asarray(g2, dtype=object)
    flips = g1 != g2
    first = (g1 == "model_a") & (g2 == "model_b")
    second = (g1 == "model_b") & (g2 == "model_a")
    n = len(g1)
    return PositionBias(
        float(flips.mean()) if n else float("nan"),
        n,
        int(flips.sum()),
        int(first.sum()),
        int(second.sum()),
    )


def position_flip_rate(judgments: pd.DataFrame, source: str | None = None) -> PositionBias:
    """How often a judge changes its verdict when the two answers swap places.

    Accepts either MT-Bench style rows with ``g1_winner``/``g2_winner`` (both in model
    terms, as :func:`arena.ratings.io.load_battles` gives them) or battles holding both
    orders of the same (question, pair[, turn]); the first row of each order is used.
    """
    df = judgments if source is None else judgments[judgments["source"] == source]
    if {"g1_winner", "g2_winner"} <= set(df.columns):
        return position_bias(df["g1_winner"].map(_NORMAL), df["g2_winner"].map(_NORMAL))
    o = _oriented(df)
    o["shown_first"] = df["model_a"].to_numpy() == o["first"].to_numpy()
    keys = [c for c in ("question_id", "first", "second", "turn") if c in o.columns]
    a = o[o["shown_first"]].drop_duplicates(keys)
    b = o[~o["shown_first"]].drop_duplicates(keys)
    m = a.merge(b, on=keys, suffixes=("_1", "_2"))
    return position_bias(m["verdict_1"], m["verdict_2"])


# --------------------------------------------------------------------------- label tables

SWAP_LABEL = {"A": "B", "B": "A", "tie": "tie"}


@dataclass
class LabelAgreement:
    """What ``arena agreement`` prints (the keys of its ``--json``); NaN where undefined.

    ``n`` counts the items with a human majority and a judge label (the rows every
    judge-vs-human number is computed on); ``n_no_majority`` the items left out because
    the human labels tie.
    """

    n: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    kappa: float
    human_kappa_pairs: dict[str, float] = field(default_factory=dict)
    fleiss_kappa: float = float("nan")
    consistency: float = float("nan")
    agreement_both: float = float("nan")
    n_no_majority: int = 0
    n_fleiss: int = 0
    n_swapped: int = 0
    labels: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready (NaN becomes None)."""
        def clean(v: object) -> object:
            if isinstance(v, float) and v != v:
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return {k: clean(v) for k, v in self.__dict__.items()}


def _present(v: object) -> bool:
    return v is not None and not (isinstance(v, float) and v != v)


def human_majority(rows: pd.DataFrame, human_cols: list[str]) -> pd.Series:
    """The strict-majority label of the human columns per row (None without one).

    "Majority" means more votes than any other label among the raters who labelled the row
    (a plurality); a tie between the top labels, or no label at all, gives None.
    """
    out = []
    for vals in rows[human_cols].itertuples(index=False, name=None):
        c = Counter(v for v in vals if _present(v)).most_common(2)
        out.append(c[0][0] if c and (len(c) == 1 or c[0][1] > c[1][1]) else None)
    return pd.Series(out, index=rows.index, dtype=object)


def macro_prf(y_true: Sequence, y_pred: Sequence) -> tuple[float, float, float]:
    """Macro precision, recall and F1 over the labels present in either sequence.

    Same definition as scikit-learn's ``precision_recall_fscore_support(average="macro")``
    with its default ``zero_division``: a label never predicted has precision 0, a label
    never true has recall 0.
    """
    t, p = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if len(t) == 0:
        return float("nan"), float("nan"), float("nan")
    ps, rs, fs = [], [], []
    for lab in sorted(set(t) | set(p), key=str):
        tp = float(np.sum((t == lab) & (p == lab)))
        fp = float(np.sum((t != lab) & (p == lab)))
        fn = float(np.sum((t == lab) & (p != lab)))
        ps.append(tp / (tp + fp) if tp + fp else 0.0)
        rs.append(tp / (tp + fn) if tp + fn else 0.0)
        fs.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(ps)), float(np.mean(rs)), float(np.mean(fs))


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of an items x categories count matrix (same raters per item).

    NaN when there are no items, fewer than 2 ratings per item, or chance agreement is 1.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0:
        return float("nan")
    n = counts.sum(axis=1)
    if (n != n[0]).any() or n[0] < 2:
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    n_items, raters = counts.shape[0], n[0]
    p_cat = counts.sum(axis=0) / (n_items * raters)
    p_item = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    pbar, pe = float(p_item.mean()), float((p_cat**2).sum())
    return float("nan") if pe == 1.0 else (pbar - pe) / (1.0 - pe)


def _fleiss_rows(rows: pd.DataFrame, human_cols: list[str]) -> tuple[float, int]:
    """Fleiss' kappa over the rows rated by the most common number (>= 2) of raters."""
    labelled = [[v for v in vals if _present(v)] for vals in rows[human_cols].itertuples(index=False, name=None)]
    sizes = Counter(len(v) for v in labelled if len(v) >= 2)
    if not sizes:
        return float("nan"), 0
    k = max(sizes, key=lambda s: (sizes[s], s))
    use = [v for v in labelled if len(v) == k]
    cats = sorted({x for v in use for x in v}, key=str)
    counts = np.array([[v.count(c) for c in cats] for v in use])
    return fleiss_kappa(counts), len(use)


def _human_pairs(rows: pd.DataFrame, human_cols: list[str]) -> dict[str, float]:
    out = {}
    for i, c1 in enumerate(human_cols):
        for c2 in human_cols[i + 1 :]:
            both = rows[c1].map(_present) & rows[c2].map(_present)
            out[f"{c1} vs {c2}"] = cohen_kappa(rows.loc[both, c1], rows.loc[both, c2])
    return out


def label_agreement(rows: pd.DataFrame, human_cols: list[str], judge_col: str,
                    swapped_col: str | None = None) -> LabelAgreement:
    """Judge vs human-majority agreement on rows of canonical labels (``A``, ``B``, ``tie``).

    Args:
        rows: one row per judged item; human and judge columns hold labels or None/NaN.
        human_cols: the human raters' columns.
        judge_col: the judge's verdict in the order the humans saw.
        swapped_col: the judge's verdict with the two answers swapped, *not* re-mapped
            (``A`` there means the answer the humans saw second).
    """
    major = human_majority(rows, human_cols)
    has_judge = rows[judge_col].map(_present)
    has_major = major.map(_present)
    keep = has_judge & has_major
    t, p = major[keep].to_numpy(dtype=object), rows.loc[keep, judge_col].to_numpy(dtype=object)
    n = int(keep.sum())
    prec, rec, f1 = macro_prf(t, p)
    fleiss, n_fleiss = _fleiss_rows(rows, human_cols)
    out = LabelAgreement(
        n=n, accuracy=float(np.mean(t == p)) if n else float("nan"), precision=prec, recall=rec,
        f1=f1, kappa=cohen_kappa(t, p), human_kappa_pairs=_human_pairs(rows, human_cols),
        fleiss_kappa=fleiss, n_fleiss=n_fleiss,
        n_no_majority=int((~has_major & rows[human_cols].apply(lambda c: c.map(_present)).any(axis=1)).sum()),
        labels=sorted(set(t) | set(p), key=str),
    )
    if swapped_col is not None:
        sw = rows[swapped_col].map(lambda v: SWAP_LABEL.get(v) if _present(v) else None)
        both = has_judge & sw.map(_present)
        same = rows.loc[both, judge_col].to_numpy(dtype=object) == sw[both].to_numpy(dtype=object)
        out.n_swapped = int(both.sum())
        out.consistency = float(same.mean()) if out.n_swapped else float("nan")
        k = keep & both
        hit = (rows.loc[k, judge_col] == major[k]) & (sw[k] == major[k])
        out.agreement_both = float(hit.sum() / n) if n else float("nan")
    return out
