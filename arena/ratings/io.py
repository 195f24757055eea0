"""Battle tables in: validation, integer encoding, deduplication and file loaders.

The one input of the ratings module is a *battles* DataFrame:

==================  =========================================================================
column              meaning
==================  =========================================================================
``model_a``         name of the model shown first (AlpacaEval: ``generator_1``, the baseline)
``model_b``         name of the model shown second
``winner``          ``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)`` (the record aliases
                    ``a`` | ``b`` | ``tie_bothbad`` are accepted too)
``question_id``     optional; the instruction / question (used by length control, agreement)
``source``          optional; ``judge:<name>`` or ``human``
``weight``          optional float, default 1
``preference``      optional AlpacaEval preference in [1, 2] (1 = model_a wins, 2 = model_b
                    wins, 1.5 = draw); when present it overrides ``winner`` for win rates
``len_a/len_b``     optional answer lengths (tokens or characters) for length/style control
``header_a/_b``,    optional markdown counts (headers, list items, bold spans) for style
``list_a/_b``,      control; any ``<feature>_a``/``<feature>_b`` pair can be used by passing
``bold_a/_b``       ``features=`` to the style functions
==================  =========================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BattleFormatError",
    "DedupBattles",
    "EncodedBattles",
    "FORMATS",
    "WINNER_SCORES",
    "dedup_battles",
    "encode_battles",
    "filter_battles",
    "load_battles",
    "validate_battles",
]

#: Score of ``model_a`` for each accepted ``winner`` value (ties count half a win each way).
WINNER_SCORES: dict[str, float] = {
    "model_a": 1.0,
    "model_b": 0.0,
    "tie": 0.5,
    "tie (bothbad)": 0.5,
    "a": 1.0,
    "b": 0.0,
    "tie_bothbad": 0.5,
}
FORMATS = ("arena", "chatbot-arena", "alpaca-eval", "mt-bench")
REQUIRED_COLUMNS = ("model_a", "model_b", "winner")


class BattleFormatError(ValueError):
    """A battles table or file is malformed (message names file, line and field)."""


@dataclass(frozen=True)
class EncodedBattles:
    """Battles with integer-coded models (codes index ``models``, which is sorted)."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray  # score of model_a: 1, 0 or 0.5
    weight: np.ndarray


@dataclass(frozen=True)
class DedupBattles:
    """Identical (model_a, model_b, outcome, weight) rows merged; ``count`` rows each."""

    models: list[str]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    weight: np.ndarray  # per-battle weight of the row
    count: np.ndarray  # how many battles the row stands for

    @property
    def n_battles(self) -> int:
        """Total number of battles represented."""
        return int(self.count.sum())


def _check_columns(battles: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in battles.columns]
    if missing:
        raise BattleFormatError(f"battles table is missing column(s) {missing}")


def _bad_winner(battles: pd.DataFrame, bad_values: list) -> BattleFormatError:
    bad = battles["winner"].isin(bad_values).to_numpy()
    row = battles.index[bad][0]
    return BattleFormatError(
        f"row {row}, field 'winner': {battles['winner'][row]!r} is not one of "
        f"{sorted(WINNER_SCORES)}"
    )


def validate_battles(battles: pd.DataFrame) -> None:
    """Check the columns and winner values of a battles table.

    Raises:
        BattleFormatError: naming the missing column or the first bad row and value.
    """
    _check_columns(battles)
    values = pd.unique(battles["winner"])
    bad = [v for v in values if not isinstance(v, str) or v not in WINNER_SCORES]
    if bad:
        raise _bad_winner(battles, bad)


def encode_battles(battles: pd.DataFrame, models: list[str] | None = None) -> EncodedBattles:
    """Integer-code models (sorted names, so codes do not depend on row order).

    Args:
        battles: battles table (see module docstring).
        models: optional full model list; models without battles keep a code.

    Raises:
        BattleFormatError: a column is missing or a winner value is unknown.
    """
    _check_columns(battles)
    n = len(battles)
    codes_a, uniq_a = pd.factorize(battles["model_a"])
    codes_b, uniq_b = pd.factorize(battles["model_b"])
    all_models = sorted({str(x) for x in uniq_a} | {str(x) for x in uniq_b} | set(models or []))
    index = pd.Index(all_models)
    a = index.get_indexer([str(x) for x in uniq_a])[codes_a]
    b = index.get_indexer([str(x) for x in uniq_b])[codes_b]
    wcodes, wuniques = pd.factorize(battles["winner"])
    bad = [w for w in wuniques if not isinstance(w, str) or w not in WINNER_SCORES]
    if bad or (wcodes < 0).any():
        raise _bad_winner(battles, bad or [None])
    score = np.array([WINNER_SCORES[w] for w in wuniques], dtype=float)[wcodes]
    weight = battles["weight"].to_numpy(dtype=float) if "weight" in battles.columns else np.ones(n)
    return EncodedBattles(all_models, a, b, score, weight)


def dedup_battles(battles: pd.DataFrame | EncodedBattles) -> DedupBattles:
    """Merge identical (model_a, model_b, outcome, weight) rows into one row with a count."""
    enc = battles if isinstance(battles, EncodedBattles) else encode_battles(battles)
    m = len(enc.models)
    wcodes, wvals = pd.factorize(enc.weight)
    outcome = np.rint(enc.score * 2).astype(np.int64)  # 0 loss, 1 tie, 2 win
    key = ((enc.a.astype(np.int64) * m + enc.b) * 3 + outcome) * len(wvals) + wcodes
    size = m * m * 3 * len(wvals)
    if size <= 4 * len(key) + 1_000_000:  # O(N) counting beats sorting
        counts = np.bincount(key, minlength=size)
        uniq = np.flatnonzero(counts)
        counts = counts[uniq]
    else:
        uniq, counts = np.unique(key, return_counts=True)
    uniq, w = np.divmod(uniq, len(wvals))
    rest, out = np.divmod(uniq, 3)
    a, b = np.divmod(rest, m)
    return DedupBattles(enc.models, a, b, out / 2.0, np.asarray(wvals, float)[w], counts)


# ----------------------------------------------------------------------------- file loaders


def _fail(path: Path, where: str, msg: str) -> BattleFormatError:
    return BattleFormatError(f"{path}: {where}: {msg}")


def _read_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Read JSON (list of objects) or JSONL; return (location, record) pairs."""
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _fail(path, f"line {e.lineno}", f"invalid JSON ({e.msg})") from e
        items = [(f"item {i}", r) for i, r in enumerate(data)]
    else:
        items = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((f"line {i}", json.loads(line)))
            except json.JSONDecodeError as e:
                raise _fail(path, f"line {i}", f"invalid JSON ({e.msg})") from e
    for where, rec in items:
        if not isinstance(rec, dict):
            raise _fail(path, where, "expected a JSON object")
    return items


def _detect(path: Path, records: list[tuple[str, dict[str, Any]]]) -> str:
    if not records:
        raise _fail(path, "line 1", "no battles in file")
    keys = set(records[0][1])
    if {"g1_winner", "g2_winner"} & keys:
        return "mt-bench"
    if "preference" in keys and "generator_1" in keys:
        return "alpaca-eval"
    if path.suffix == ".json" and "winner" in keys:
        return "chatbot-arena"
    return "arena"


def _need(path: Path, where: str, rec: dict[str, Any], field: str, allowed: Any = None) -> Any:
    if field not in rec or rec[field] is None:
        raise _fail(path, where, f"missing field {field!r}")
    value = rec[field]
    if allowed is not None and value not in allowed:
        raise _fail(path, where, f"field {field!r}: {value!r} is not one of {sorted(allowed)}")
    return value


def _from_arena(path: Path, records: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    for where, rec in records:
        _need(path, where, rec, "model_a")
        _need(path, where, rec, "model_b")
        if "preference" not in rec:
            _need(path, where, rec, "winner", WINNER_SCORES)
    df = pd.DataFrame([r for _, r in records])
    if "winner" not in df.columns:
        df["winner"] = _winner_from_preference(df["preference"])
    return df


def _count(meta: dict[str, Any], key: str) -> float:
    value = meta.get(key, 0)
    return float(sum(value.values())) if isinstance(value, dict) else float(value or 0)


def _from_chatbot_arena(path: Path, records: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    rows = []
    for where, rec in records:
        row = {
            "model_a": _need(path, where, rec, "model_a"),
            "model_b": _need(path, where, rec, "model_b"),
            "winner": _need(path, where, rec, "winner", WINNER_SCORES),
            "question_id": rec.get("question_id"),
            "source": "human",
            # Chatbot Arena's clean_battle_data fields: the rater is its `judge`
            "rater": rec.get("judge"),
            "anony": rec.get("anony"),
            "language": rec.get("language"),
            "tstamp": rec.get("tstamp"),
            "turn": rec.get("turn", 1),
        }
        meta = rec.get("conv_metadata")
        if isinstance(meta, dict):  # Chatbot Arena's style-control metadata
            for side in ("a", "b"):
                row[f"len_{side}"] = _count(meta, f"sum_assistant_{side}_tokens")
                row[f"header_{side}"] = _count(meta, f"header_count_{side}")
                row[f"list_{side}"] = _count(meta, f"list_count_{side}")
                row[f"bold_{side}"] = _count(meta, f"bold_count_{side}")
        rows.append(row)
    return pd.DataFrame(rows)


def _winner_from_preference(pref: pd.Series) -> pd.Series:
    p = pref.astype(float)
    return pd.Series(
        np.where(p > 1.5, "model_b", np.where(p < 1.5, "model_a", "tie")), index=pref.index
    )


def _from_alpaca_eval(path: Path, records: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    """AlpacaEval annotations; a null preference (the annotator failed) is kept as NaN with no
    winner, because alpaca_eval's LC still averages over that row; ``position`` is the row's
    index among its model's rows (alpaca_eval looks instruction difficulty up by it)."""
    rows = []
    for where, rec in records:
        pref = rec.get("preference")
        if pref is not None:
            try:
                pref = float(pref)
            except (TypeError, ValueError) as e:
                raise _fail(path, where, f"field 'preference': {pref!r} is not a number") from e
            pref = 1.5 if pref == 0 else pref  # AlpacaEval's legacy draw code
            if not 1.0 <= pref <= 2.0:
                raise _fail(path, where, f"field 'preference': {pref} is outside [1, 2]")
        out1, out2 = rec.get("output_1") or "", rec.get("output_2") or ""
        rows.append(
            {
                "model_a": _need(path, where, rec, "generator_1"),
                "model_b": _need(path, where, rec, "generator_2"),
                "preference": float("nan") if pref is None else pref,
                "question_id": rec.get("instruction", where),
                "source": f"judge:{rec['annotator']}" if rec.get("annotator") else "judge",
                "len_a": float(len(out1)),
                "len_b": float(len(out2)),
            }
        )
    df = pd.DataFrame(rows)
    df["position"] = df.groupby(["model_a", "model_b"]).cumcount()
    winner = _winner_from_preference(df["preference"])
    df["winner"] = winner.where(df["preference"].notna(), None)
    return df


def _from_mt_bench(path: Path, records: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    """MT-Bench pairwise judgments: a verdict counts only if both orders agree (else a tie).

    A game whose winner is ``"error"`` (FastChat's unparsable judge output) drops the row, as
    FastChat's show_result does; how many were dropped is in ``attrs["skipped"]``.
    """
    allowed = {"model_1", "model_2", "tie", "error"}
    to_winner = {"model_1": "model_a", "model_2": "model_b", "tie": "tie"}
    rows = []
    skipped = 0
    for where, rec in records:
        g1 = _need(path, where, rec, "g1_winner", allowed)
        g2 = _need(path, where, rec, "g2_winner", allowed)
        if "error" in (g1, g2):
            skipped += 1
            continue
        judge = rec.get("judge")
        judge = judge[0] if isinstance(judge, list) and judge else judge
        rows.append(
            {
                "question_id": _need(path, where, rec, "question_id"),
                "model_a": _need(path, where, rec, "model_1"),
                "model_b": _need(path, where, rec, "model_2"),
                "winner": to_winner[g1] if g1 == g2 else "tie",
                "g1_winner": to_winner[g1],
                "g2_winner": to_winner[g2],
                "turn": rec.get("turn", 1),
                "source": f"judge:{judge}" if judge else "judge",
            }
        )
    cols = [
        "question_id",
        "model_a",
        "model_b",
        "winner",
        "g1_winner",
        "g2_winner",
        "turn",
        "source",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df.attrs["skipped"] = skipped
    return df


_LOADERS = {
    "arena": _from_arena,
    "chatbot-arena": _from_chatbot_arena,
    "alpaca-eval": _from_alpaca_eval,
    "mt-bench": _from_mt_bench,
}


def load_battles(path: str | Path, format: str | None = None) -> pd.DataFrame:  # noqa: A002
    """Load a battles file into the battles table.

    Args:
        path: a JSON or JSONL file.
        format: one of ``arena`` (our JSONL), ``chatbot-arena`` (JSON list of battles),
            ``alpaca-eval`` (``annotations.json``), ``mt-bench`` (``*_pair.jsonl``);
            ``None`` detects it from the first record's fields.

    Returns:
        A battles DataFrame (see module docstring).

    Raises:
        BattleFormatError: the message names the file, the line (or list item) and the field.
        FileNotFoundError: the file does not exist.
    """
    path = Path(path)
    if format is not None and format not in _LOADERS:
        raise BattleFormatError(f"{path}: unknown format {format!r}; expected one of {FORMATS}")
    records = _read_records(path)
    fmt = format or _detect(path, records)
    if not records:
        raise _fail(path, "line 1", "no battles in file")
    df = _LOADERS[fmt](path, records)
    df.attrs["format"] = fmt
    return df


def filter_battles(battles: pd.DataFrame, where: dict[str, Any]) -> pd.DataFrame:
    """Rows whose columns equal the given values (e.g. ``{"anony": True, "language": "English"}``).

    Values given as strings are compared as strings, except ``true``/``false`` for booleans.

    Raises:
        BattleFormatError: a column is not in the table.
    """
    mask = pd.Series(True, index=battles.index)
    for col, value in where.items():
        if col not in battles.columns:
            raise BattleFormatError(f"cannot filter on {col!r}: the battles have no such column")
        series = battles[col]
        if isinstance(value, str) and value.lower() in ("true", "false"):
            mask &= series == (value.lower() == "true")
        else:
            mask &= series.astype(str) == str(value)
    out = battles[mask]
    out.attrs = dict(battles.attrs)
    return out
