"""A judge is data: `configs/<name>/judge.yaml` + `prompt.txt` + a named parser.

`prompt.txt` holds sections, each opened by a marker line:
`<<<system>>>`, `<<<user>>>`, `<<<user:reference>>>`, `<<<user:multi_turn>>>`,
`<<<user:multi_turn:reference>>>`. Placeholders are `{name}`; each section must use
exactly the placeholders its mode and variant need (checked at load time, so a typo fails
before any call with the file and line). Substitution is single-pass, so braces inside
answers are never re-read as placeholders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from arena.core.config import load_config
from arena.core.errors import ConfigError, UnknownNameError
from arena.core.records import Answer, Question, content_hash
from arena.core.registry import Registry
from arena.models.base import ChatParams, Message
from judges.parsers import Parsed, get_parser

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
SECTIONS = ("system", "user", "user:reference", "user:multi_turn", "user:multi_turn:reference")
# few-shot turns shown before the real question (small judges follow examples, not rules)
_SHOT = re.compile(r"^shot_(user|assistant)_([1-9])$")
_MARKER = re.compile(r"^<<<([a-z_:0-9]+)>>>\s*$")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


class Verdict(BaseModel):
    """What a pairwise label means in the order shown: who won, and how strongly."""

    model_config = ConfigDict(extra="forbid")
    winner: Literal["A", "B", "tie", "tie_bothbad"]
    weight: float = 1.0


class JudgeConfig(BaseModel):
    """The fields of `judge.yaml` (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    judge_model: str = "gpt-4"
    mode: Literal["single", "pairwise"]
    prompt: str = "prompt.txt"
    parser: str
    temperature: float = 0.0
    max_tokens: int = 1024
    position: Literal["both-orders", "random-swap", "fixed"] = "both-orders"
    seed: int = 0
    reference_categories: list[str] = Field(default_factory=list)
    turns: list[int] = Field(default_factory=lambda: [1, 2])
    scale: tuple[float, float] | None = None
    verdicts: dict[str, Verdict] = Field(default_factory=dict)
    parse_retries: int = Field(2, ge=0)
    retry_temperature: float = 0.7
    inconsistent: Literal["tie", "half"] = "tie"
    baseline: str | None = None

    @model_validator(mode="after")
    def _check(self) -> JudgeConfig:
        if self.mode == "pairwise" and not self.verdicts:
            raise ValueError("a pairwise judge needs 'verdicts' (label -> winner, weight)")
        if self.mode == "single" and self.scale is None:
            raise ValueError("a single judge needs 'scale: [min, max]'")
        if not set(self.turns) <= {1, 2} or not self.turns:
            raise ValueError("turns must be a non-empty subset of [1, 2]")
        return self


def required_placeholders(mode: str, section: str) -> set[str]:
    """The placeholders a section must contain (and the only ones it may contain)."""
    if section == "system" or _SHOT.match(section):
        return set()
    multi, ref = "multi_turn" in section, "reference" in section
    if mode == "single":
        need = {"question_1", "answer_1", "question_2", "answer_2"} if multi else {"question", "answer"}
    else:
        need = ({"question_1", "question_2", "answer_a_1", "answer_a_2", "answer_b_1", "answer_b_2"}
                if multi else {"question", "answer_a", "answer_b"})
    if ref:
        need |= {"ref_answer_1", "ref_answer_2"} if multi else {"reference"}
    return need


def read_sections(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Split prompt.txt into sections; returns (texts, first line of each section)."""
    if not path.exists():
        raise ConfigError("prompt file not found", str(path))
    texts: dict[str, list[str]] = {}
    lines: dict[str, int] = {}
    current = None
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = _MARKER.match(line)
        if m:
            current = m.group(1)
            if current not in SECTIONS and not _SHOT.match(current):
                known = ", ".join(SECTIONS + ("shot_user_N", "shot_assistant_N"))
                raise ConfigError(f"unknown section '{current}' (known: {known})", str(path), no)
            if current in texts:
                raise ConfigError(f"section '{current}' appears twice", str(path), no)
            texts[current], lines[current] = [], no
        elif current is None:
            if line.strip():
                raise ConfigError("text before the first <<<section>>> marker", str(path), no)
        else:
            texts[current].append(line)
    return {k: "\n".join(v).strip("\n") for k, v in texts.items()}, lines


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders in one pass (values are never re-scanned)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass
class Judge:
    """A loaded judge: its config, prompt sections and parser."""

    config: JudgeConfig
    sections: dict[str, str]
    folder: Path
    hash: str = ""
    parse: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def judge_id(self, model_name: str) -> str:
        """The name judgments carry: `<config>@<judge model>` (battle source `judge:<id>`)."""
        return f"{self.name}@{model_name}"

    def params(self, attempt: int = 0) -> ChatParams:
        """Call parameters; a retry changes seed and temperature so no cache serves it again."""
        c = self.config
        if attempt == 0:
            return ChatParams(temperature=c.temperature, max_tokens=c.max_tokens)
        return ChatParams(temperature=max(c.temperature, c.retry_temperature), max_tokens=c.max_tokens,
                          seed=c.seed * 1000 + attempt)

    def parse_output(self, text: str) -> Parsed:
        """Parse a raw output; pairwise labels must be in `verdicts`, scores in `scale`."""
        from judges.parsers import ParseError

        parsed = self.parse(text)  # type: ignore[operator]
        c = self.config
        if c.mode == "pairwise" and parsed.label not in c.verdicts:
            raise ParseError(f"verdict '{parsed.label}' is not in this judge's scale")
        if c.mode == "single":
            lo, hi = c.scale  # type: ignore[misc]
            if parsed.score is None or not lo <= parsed.score <= hi:
                raise ParseError(f"score {parsed.score} outside [{lo:g}, {hi:g}]")
        return parsed

    def uses_reference(self, q: Question, turn: int) -> bool:
        refs = q.reference or []
        return q.category in self.config.reference_categories and len(refs) >= turn and bool(refs[turn - 1])

    def messages(self, q: Question, turn: int, shown: list[Answer]) -> list[Message]:
        """The chat sent to the judge for `turn` of `q` with answers in the order shown."""
        ref = self.uses_reference(q, turn)
        multi = turn == 2
        section = "user" + (":multi_turn" if multi else "") + (":reference" if ref else "")
        values = _values(q, turn, shown, self.config.mode)
        out: list[Message] = []
        if self.sections.get("system"):
            out.append({"role": "system", "content": self.sections["system"]})
        for n in sorted({m.group(2) for s in self.sections if (m := _SHOT.match(s))}):
            out.append({"role": "user", "content": self.sections[f"shot_user_{n}"]})
            out.append({"role": "assistant", "content": self.sections[f"shot_assistant_{n}"]})
        out.append({"role": "user", "content": render(self.sections[section], values)})
        return out


def _values(q: Question, turn: int, shown: list[Answer], mode: str) -> dict[str, str]:
    refs = list(q.reference or []) + ["", ""]
    v = {"question": q.turns[turn - 1], "reference": refs[turn - 1],
         "ref_answer_1": refs[0], "ref_answer_2": refs[1]}
    for i, t in enumerate(q.turns[:2], 1):
        v[f"question_{i}"] = t
    names = ["answer"] if mode == "single" else ["answer_a", "answer_b"]
    for name, ans in zip(names, shown):
        v[name] = ans.turns[turn - 1] if len(ans.turns) >= turn else ""
        for i, t in enumerate(ans.turns[:2], 1):
            v[f"{name}_{i}"] = t
    return v


def _check_sections(cfg: JudgeConfig, sections: dict[str, str], lines: dict[str, int], path: Path) -> None:
    needed = ["user"]
    if cfg.reference_categories:
        needed.append("user:reference")
    if 2 in cfg.turns:
        needed.append("user:multi_turn")
        if cfg.reference_categories:
            needed.append("user:multi_turn:reference")
    shots = {m.group(2) for s in sections if (m := _SHOT.match(s))}
    needed += [f"shot_{role}_{n}" for n in shots for role in ("user", "assistant")]
    for s in needed:
        if s not in sections:
            raise ConfigError(f"prompt lacks the <<<{s}>>> section this judge needs", str(path))
    for s, text in sections.items():
        found = set(_PLACEHOLDER.findall(text))
        need = required_placeholders(cfg.mode, s)
        if need - found:
            missing = ", ".join("{" + p + "}" for p in sorted(need - found))
            raise ConfigError(f"section <<<{s}>>> lacks placeholder {missing}", str(path), lines[s])
        if found - need:
            extra = ", ".join("{" + p + "}" for p in sorted(found - need))
            raise ConfigError(f"section <<<{s}>>> has unknown placeholder {extra}", str(path), lines[s])


#: judges that plugins add (entry points `arena.judges`): name -> a judge folder (judge.yaml +
#: prompt.txt) or a function returning one
JUDGES: Registry[Any] = Registry("judge", "judges")


def judge_names() -> list[str]:
    builtin = {p.name for p in CONFIGS_DIR.iterdir() if (p / "judge.yaml").exists()}
    return sorted(builtin | set(JUDGES.names()))


def judge_folder(name: str) -> Path:
    """The folder of a built-in or plugin judge."""
    folder = CONFIGS_DIR / name
    if (folder / "judge.yaml").exists() or name not in JUDGES:
        return folder
    obj = JUDGES.get(name)
    return Path(obj() if callable(obj) else obj)


def load_judge(name_or_dir: str | Path, overrides: list[str] | None = None) -> Judge:
    """Load a judge by built-in name or folder; prompt and parser are checked now.

    Raises:
        UnknownNameError: no such judge or parser. ConfigError: bad yaml or prompt (file, line).
    """
    folder = Path(name_or_dir)
    if not (folder / "judge.yaml").exists():
        folder = judge_folder(str(name_or_dir))
        if not (folder / "judge.yaml").exists():
            raise UnknownNameError("judge", str(name_or_dir), judge_names())
    cfg = load_config(folder / "judge.yaml", JudgeConfig, overrides)
    parse = get_parser(cfg.parser)
    prompt_path = folder / cfg.prompt
    sections, lines = read_sections(prompt_path)
    _check_sections(cfg, sections, lines, prompt_path)
    h = content_hash({"config": cfg.model_dump(mode="json"), "sections": sections})
    return Judge(cfg, sections, folder, h, parse)
