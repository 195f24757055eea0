"""Datasets: a YAML card plus data files; rows are checked with file:line:field errors.

Multiple-choice rows have `question`, `choices` (a list) or columns `A`, `B`, ..., and
`answer` (a letter, a 0-based index or the text of a choice), plus optional `id`, `subset`.
Generation rows have `question` and `answer` (GSM8K's `"... #### 12"` gives the target 12
and the worked solution). A registered name is a card `data/datasets/<name>.yaml`; a path to
a card, or to a bare data file (mode guessed from its rows, options always shown), works too.

A card's `data`/`dev` may be a file, a folder or a glob with `{subset}` (see
`objective.loaders`); with `root: data` they are read under the data root (`--data-dir`,
`$ARENA_DATA_DIR`, default `./data`) laid out as in OpenCompassData-core.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from arena.core.config import LineMap, load_yaml, validate
from arena.core.errors import DataError, UnknownNameError
from arena.core.records import Sample
from arena.core.registry import Registry, data_dir
from objective import cards
from objective.dataset_types import Dataset, DatasetCard, FewShot  # noqa: F401  (re-exported)
from objective.loaders import (
    data_root,
    expand,
    get_preprocessor,
    map_columns,
    read_table,
    split_gsm8k,
)
from objective.templates import LETTERS, MC_TEMPLATE, TemplateSpec, check_options_shown

SOURCES = {  # where the public data can be had, for the "data not found" message
    "opencompass": "OpenCompassData-core: https://github.com/open-compass/opencompass/releases/"
                   "download/0.2.2.rc1/OpenCompassData-core-20240207.zip (unzip so that DIR/ceval, "
                   "DIR/mmlu, ... exist)",
}


#: datasets that plugins add (entry points `arena.datasets`): name -> a Dataset, a card path,
#: or a function returning either
DATASETS: Registry[Any] = Registry("dataset", "datasets")


def dataset_names() -> list[str]:
    """Registered dataset names (card stems under data/datasets, then plugins)."""
    return sorted({p.stem for p in (data_dir() / "datasets").glob("*.yaml")} | set(DATASETS.names()))


def _plugin_dataset(name: str) -> Dataset:
    obj = DATASETS.get(name)
    value = obj() if callable(obj) and not isinstance(obj, Dataset) else obj
    if isinstance(value, (str, Path)):
        return load_card(Path(value))
    if not isinstance(value, Dataset):
        raise DataError(f"dataset plugin '{name}' gave a {type(value).__name__}, not a Dataset or a card path")
    return value


BARE_SUFFIXES = (".jsonl", ".csv", ".json", ".parquet")


def load_dataset(name_or_path: str) -> Dataset:
    """A registered dataset name, a card (.yaml) or a data file (.jsonl/.csv/.json/.parquet)."""
    path = Path(name_or_path).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return load_card(path)
    if path.suffix.lower() in BARE_SUFFIXES and path.is_file():
        return _bare_file(path)
    if path.is_dir():
        return _bare_file(path)
    card = data_dir() / "datasets" / f"{name_or_path}.yaml"
    if not card.is_file():
        if path.suffix.lower() in BARE_SUFFIXES or "/" in name_or_path:
            raise DataError("no such file or folder", str(path))
        if name_or_path in DATASETS:
            return _plugin_dataset(name_or_path)
        raise UnknownNameError("dataset", name_or_path, dataset_names())
    return load_card(card)


def load_card(path: Path) -> Dataset:
    lines: LineMap = {}
    raw = load_yaml(path, lines)
    if isinstance(raw, dict):
        raw.setdefault("name", path.stem)
        if raw.get("source") == "needle":  # a grid generated per model: objective.needle
            from objective.needle import load_needle_card

            return load_needle_card(raw, path, lines)
        if raw.get("family") and "groups" not in raw and raw.get("family") in cards.FAMILIES:
            raw["groups"] = cards.groups(raw["family"])
    card = validate(DatasetCard, raw, str(path), lines)
    if card.source == "humaneval":
        from objective.humaneval import load_humaneval

        samples, blob = load_humaneval(card.name)
        return Dataset(card, _version(card, blob), samples, [], str(path))
    if not card.data:
        raise DataError("a file dataset needs 'data'", str(path), field="data")
    base = data_root() if card.root == "data" else path.parent
    files = _files(card, card.data, base, path, lines, "data")
    dev_files = _files(card, card.dev, base, path, lines, "dev") if card.dev else []
    mc = card.mode == "ppl" or _looks_mc(card, files[0][1])
    samples = _read_all(card, files, mc)
    dev = _read_all(card, dev_files, mc)
    if mc and card.continuation == "letter":
        n = max(len(s.choices or ()) for s in samples)
        check_options_shown(card.template, n, str(path), lines.get(("template",), (None, None))[1])
        for i, tpl in enumerate(card.variants):
            check_options_shown(tpl, n, str(path), lines.get(("variants", i), (None, None))[1])
    blob = b"".join(p.read_bytes() for _, p in files + dev_files)
    return Dataset(card, _version(card, blob), samples, dev, str(path))


def _files(card: DatasetCard, pattern: str, base: Path, card_path: Path, lines: LineMap,
           field: str) -> list[tuple[str | None, Path]]:
    found = expand(pattern, base)
    if found:
        return found
    where = (base / pattern) if not Path(pattern).is_absolute() else Path(pattern)
    if card.root == "data":
        hint = card.download or SOURCES["opencompass"]
        raise DataError(
            f"{card.name}: data not found at {where} (data root {base.resolve()}: set --data-dir DIR "
            f"or ARENA_DATA_DIR). Get it from {hint}", str(card_path),
            lines.get((field,), (None, None))[1], field)
    raise DataError(f"data file not found: {where}", str(card_path), lines.get((field,), (None, None))[1], field)


def _read_all(card: DatasetCard, files: list[tuple[str | None, Path]], mc: bool) -> list[Sample]:
    out: list[Sample] = []
    seen: set[str] = set()
    for subset, path in files:
        if card.family and subset is not None and subset not in cards.subjects(card.family):
            raise DataError(f"'{subset}' is not a {card.family} subject (known: "
                            f"{', '.join(cards.subjects(card.family)[:5])}, ...)", str(path))
        extra_fields = cards.fields(card.family, subset) if card.family and subset else {}
        for s in read_rows(path, card.name, mc, card=card, subset=subset):
            if subset is not None:
                s.id = f"{subset}/{s.id}"
            if extra_fields:
                s.extra["fields"] = {**extra_fields, **s.extra.get("fields", {})}
            if s.id in seen:
                raise DataError(f"duplicate id '{s.id}'", str(path), s.extra.get("line"), "id")
            seen.add(s.id)
            out.append(s)
    if not out and files:
        raise DataError("the dataset has no rows", str(files[0][1]))
    return out


def _version(card: DatasetCard, blob: bytes) -> str:
    """Six hex digits of the content (data, dev split and the card's prompt settings)."""
    h = hashlib.sha256(blob)
    # circular/variants change how a run is made, not the data or the prompt of variant 0
    h.update(card.model_dump_json(exclude={"description", "license", "download", "circular", "variants"}).encode())
    return h.hexdigest()[:6]


def _prepared(card: DatasetCard | None, row: dict, file: str, line: int) -> dict:
    if card is not None and card.preprocess:
        row = get_preprocessor(card.preprocess)(row, file, line)
    if card is not None:
        row = map_columns(row, card.columns, file, line)
    return row


def _looks_mc(card: DatasetCard | None, path: Path) -> bool:
    """A file is multiple-choice when its first row has `choices` or column `A`."""
    fmt, header = (card.format, card.header) if card else ("auto", None)
    first = next(iter(read_table(path, fmt, header)), None)
    if first is None:
        return False
    row = _prepared(card, first[1], str(path), first[0])
    return "choices" in row or "A" in row


def _bare_file(path: Path) -> Dataset:
    """A data file (or a folder of them) without a card: options always shown before `Answer:`."""
    files = expand(str(path), Path("."))
    if not files:
        raise DataError("no .jsonl/.csv/.json/.parquet files in this folder", str(path))
    mc = _looks_mc(None, files[0][1])
    card = DatasetCard(name=path.stem, data=str(path), mode="ppl" if mc else "gen",
                       metric="accuracy" if mc else "exact_match",
                       postprocess="first_option" if mc else "first_line",
                       template=MC_TEMPLATE if mc else TemplateSpec())
    samples = _read_all(card, files, mc)
    return Dataset(card, _version(card, b"".join(p.read_bytes() for _, p in files)), samples, [], str(path))


def read_rows(path: Path, dataset: str, multiple_choice: bool, *, card: DatasetCard | None = None,
              subset: str | None = None) -> list[Sample]:
    """Parse and check every row of one file; an empty file is an error (never a 0% score)."""
    if not path.is_file():
        raise DataError("file not found", str(path))
    fmt, header = (card.format, card.header) if card else ("auto", None)
    out: list[Sample] = []
    seen: set[str] = set()
    for index, (line, raw) in enumerate(read_table(path, fmt, header)):
        row = _prepared(card, raw, str(path), line)
        row.setdefault("id", index if subset is not None else line)
        if subset is not None:
            row["subset"] = subset
        s = (_mc_row if multiple_choice else _gen_row)(row, dataset, str(path), line)
        if s.id in seen:
            raise DataError(f"duplicate id '{s.id}'", str(path), line, "id")
        seen.add(s.id)
        out.append(s)
    if not out:
        raise DataError("the dataset has no rows", str(path))
    return out


def _need(row: dict, field: str, file: str, line: int) -> Any:
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError("missing required field", file, line, field)
    return value


def _choices(row: dict, file: str, line: int) -> list[str]:
    if "choices" in row:
        choices = row["choices"]
        if hasattr(choices, "tolist"):  # numpy arrays from parquet via pandas
            choices = choices.tolist()
        if not isinstance(choices, list) or len(choices) < 2:
            raise DataError("'choices' must be a list of at least 2 options", file, line, "choices")
    else:
        choices = []
        for letter in LETTERS:
            if letter not in row:
                break
            choices.append(row[letter])
        if len(choices) < 2:
            raise DataError("missing required field (a 'choices' list or columns A, B, ...)",
                            file, line, "choices" if not choices else "B")
    if any(not isinstance(c, (str, int, float)) or str(c).strip() == "" for c in choices):
        raise DataError("every choice must be a non-empty string", file, line, "choices")
    return [str(c) for c in choices]


def _answer_index(answer: Any, choices: list[str], file: str, line: int) -> int:
    n = len(choices)
    if isinstance(answer, bool) or not isinstance(answer, (int, str)):
        raise DataError("answer must be a letter, an index or a choice text", file, line, "answer")
    if isinstance(answer, int) or answer.strip().isdigit():
        idx = int(answer)
        if 0 <= idx < n:
            return idx
        raise DataError(f"answer index {idx} is not among the {n} choices (0..{n - 1})", file, line, "answer")
    text = answer.strip()
    if len(text) == 1 and text.upper() in LETTERS:
        idx = LETTERS.index(text.upper())
        if idx < n:
            return idx
        raise DataError(f"answer '{text}' is not among the choices A-{LETTERS[n - 1]}", file, line, "answer")
    if text in choices:
        return choices.index(text)
    raise DataError(f"answer '{text[:40]}' is not a letter A-{LETTERS[n - 1]} nor one of the choices",
                    file, line, "answer")


def _no_answer_hint(file: str) -> str:
    if "/test/" in file.replace("\\", "/") and "ceval" in file:
        return " (the C-Eval test split publishes no answers: evaluate 'val' as OpenCompass does)"
    return ""


def _mc_row(row: dict, dataset: str, file: str, line: int) -> Sample:
    question = str(_need(row, "question", file, line))
    choices = _choices(row, file, line)
    if row.get("answer") in (None, ""):
        raise DataError("missing required field" + _no_answer_hint(file), file, line, "answer")
    idx = _answer_index(row["answer"], choices, file, line)
    extra: dict[str, Any] = {"line": line}
    if row.get("solution"):
        extra["solution"] = str(row["solution"])
    return Sample(dataset=dataset, id=str(row.get("id", line)), subset=row.get("subset"),
                  question=question, choices=choices, answer=idx, extra=extra)


def _gen_row(row: dict, dataset: str, file: str, line: int) -> Sample:
    question = str(_need(row, "question", file, line))
    answer = _need(row, "answer", file, line)
    if isinstance(answer, (dict, list)):
        raise DataError("answer must be a string or a number", file, line, "answer")
    extra: dict[str, Any] = {"line": line}
    target = str(answer)
    gsm = split_gsm8k(target)
    if gsm is not None:  # GSM8K: "<worked solution>\n#### <number>"
        extra["solution"], target = gsm
        if not target:
            raise DataError("nothing after '####'", file, line, "answer")
    if row.get("solution"):
        extra["solution"] = str(row["solution"])
    return Sample(dataset=dataset, id=str(row.get("id", line)), subset=row.get("subset"),
                  question=question, target=target, extra=extra)
