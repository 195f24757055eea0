"""Prompt templates: base-model text prompts and chat prompts, zero/k-shot and chain-of-thought.

A card's `template` says how one sample becomes text (`question`) and how its answer is
written (`answer`, also the ppl continuation). `PromptBuilder` assembles the instruction,
k examples from the dev split (fixed seed) and the sample, either as one plain text (base
models) or as chat messages rendered by the model's own chat template or by an explicit
`MetaTemplate` (OpenCompass's HUMAN/BOT rounds).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from arena.core.errors import ConfigError
from arena.core.records import Sample

LETTERS = "ABCDEFGHIJ"
Message = dict


class TemplateSpec(BaseModel):
    """How a sample is written. Fields: {question} {choices} {A}.. {subset} {answer} {solution}."""

    model_config = ConfigDict(extra="forbid")
    instruction: str = ""
    question: str = "Question: {question}\nAnswer:"
    answer: str = " {answer}"
    choice: str = "{letter}. {text}"
    separator: str = "\n\n"
    chat_instruction: str | None = None
    cot_trigger: str = " Let's think step by step."
    cot_answer: str = " {solution} The answer is {answer}."


# What a multiple-choice file without a card is shown: the question, then every option
# lettered, then "Answer:" (lm-eval's MMLU format); the letters are what ppl scores.
MC_TEMPLATE = TemplateSpec(question="Question: {question}\n{choices}\nAnswer:", answer=" {answer}")


def template_fields(text: str) -> set[str]:
    """The `{field}` names a template uses."""
    try:
        return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise ConfigError(f"bad template {text[:40]!r}: {exc}", field="template") from None


def check_options_shown(spec: TemplateSpec, n_choices: int, file: str | None = None,
                        line: int | None = None) -> None:
    """Scoring answer letters needs every option in the prompt: `{choices}` or `{A}`..`{X}`.

    Raises:
        ConfigError: the question template hides some options (the letters would be
            scored against options the model never saw).
    """
    used = template_fields(spec.question) | template_fields(spec.instruction)
    if "choices" in used:
        return
    missing = [LETTERS[i] for i in range(n_choices) if LETTERS[i] not in used]
    if missing:
        raise ConfigError(
            f"the template scores answer letters but never shows option(s) {', '.join(missing)}: add "
            "{choices} (every option, lettered) to template.question, or set continuation: text",
            file, line, "template.question")


class MetaRound(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["HUMAN", "BOT", "SYSTEM"]
    begin: str = ""
    end: str = ""


class MetaTemplate(BaseModel):
    """An explicit chat format, e.g. [{role: HUMAN, begin: '<|User|>:', end: '\\n'}, ...]."""

    model_config = ConfigDict(extra="forbid")
    round: list[MetaRound]

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text: every message wrapped in its role's begin/end, then BOT's begin."""
        roles = {r.role: r for r in self.round}
        if "HUMAN" not in roles or "BOT" not in roles:
            raise ConfigError("a meta template needs a HUMAN and a BOT round", field="meta_template")
        names = {"user": "HUMAN", "assistant": "BOT", "system": "SYSTEM"}
        out = []
        for m in messages:
            r = roles.get(names.get(m["role"], "HUMAN"), roles["HUMAN"])
            out.append(f"{r.begin}{m['content']}{r.end}")
        return "".join(out) + roles["BOT"].begin


def _fmt(template: str, values: dict[str, Any], what: str) -> str:
    try:
        return template.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"template {what!r} uses an unknown or bad field: {exc}", field=f"template.{what}") from None


def answer_text(sample: Sample, index: int | None, continuation: str) -> str:
    """The answer of a multiple-choice sample as a letter or as the choice text."""
    if sample.choices is None:
        return str(sample.target)
    assert index is not None
    return LETTERS[index] if continuation == "letter" else sample.choices[index]


class PromptBuilder:
    """Turns samples into prompts (and ppl continuations) for one dataset.

    Args:
        spec: the card's template.
        dev: few-shot pool (the dev split).
        shots: number of examples (0 = zero-shot).
        seed: seed of the example choice (the same examples for every sample of a subset,
            so all prompts of a subset share one prefix that the ppl scorer encodes once).
        per_subset: draw examples from the sample's own subset when it has any.
        pick: "random" (fixed by `seed`) or "first" (the first k dev rows, OpenCompass's FixK).
        continuation: "letter" or "text" (what a multiple-choice answer looks like).
        cot: append the chain-of-thought trigger; examples show their `solution`.
        chat: None for a base-model text prompt, else a function rendering chat messages.
    """

    def __init__(self, spec: TemplateSpec, dev: Sequence[Sample], *, shots: int = 0, seed: int = 0,
                 per_subset: bool = True, continuation: str = "letter", cot: bool = False,
                 chat: Callable[[list[Message]], str] | None = None, pick: str = "random") -> None:
        self.spec, self.dev, self.shots, self.seed = spec, list(dev), shots, seed
        self.per_subset, self.continuation, self.cot, self.chat = per_subset, continuation, cot, chat
        self.pick = pick
        self._examples: dict[str | None, list[Sample]] = {}
        self._checked: set[int] = set()

    def examples(self, sample: Sample) -> list[Sample]:
        """The k dev examples shown before `sample` (fixed per subset and seed)."""
        key = sample.subset if self.per_subset else None
        if key not in self._examples:
            pool = [d for d in self.dev if not self.per_subset or d.subset == sample.subset]
            pool = pool or self.dev
            k = min(self.shots, len(pool))
            if self.pick == "first":
                self._examples[key] = pool[:k]
            else:
                rng = random.Random(f"{self.seed}:{key}")
                self._examples[key] = rng.sample(pool, k) if k else []
        return self._examples[key]

    def _values(self, s: Sample) -> dict[str, Any]:
        vals: dict[str, Any] = {"question": s.question, "subset": s.subset or "",
                                "solution": s.extra.get("solution", "")}
        vals.update(s.extra.get("fields", {}))
        if s.choices is not None:
            lines = [_fmt(self.spec.choice, {"letter": LETTERS[i], "text": c}, "choice")
                     for i, c in enumerate(s.choices)]
            vals["choices"] = "\n".join(lines)
            vals.update({LETTERS[i]: c for i, c in enumerate(s.choices)})
        return vals

    def question(self, s: Sample, final: bool) -> str:
        if s.choices is not None and self.continuation == "letter" and len(s.choices) not in self._checked:
            check_options_shown(self.spec, len(s.choices))
            self._checked.add(len(s.choices))
        text = _fmt(self.spec.question, self._values(s), "question")
        return text + (self.spec.cot_trigger if final and self.cot else "")

    def answer(self, s: Sample, index: int | None = None) -> str:
        """The written answer of `s` (its gold one unless `index` picks another choice)."""
        idx = s.answer if index is None and isinstance(s.answer, int) else index
        vals = self._values(s) | {"answer": answer_text(s, idx, self.continuation)}
        use_cot = self.cot and vals["solution"]
        return _fmt(self.spec.cot_answer if use_cot else self.spec.answer, vals, "answer")

    def messages(self, s: Sample) -> list[Message]:
        """The chat form: the examples as earlier user/assistant turns."""
        msgs: list[Message] = []
        for ex in self.examples(s):
            msgs += [{"role": "user", "content": self.question(ex, False)},
                     {"role": "assistant", "content": self.answer(ex).strip()}]
        msgs.append({"role": "user", "content": self.question(s, True)})
        head = self.spec.chat_instruction
        head = _fmt(self.spec.instruction if head is None else head, self._values(s), "instruction")
        if head:
            msgs[0] = {"role": "user", "content": head + self.spec.separator + msgs[0]["content"]}
        return msgs

    def prompt(self, s: Sample) -> str:
        """The exact text given to the model (the context of ppl, the prompt of gen)."""
        if self.chat is not None:
            return self.chat(self.messages(s))
        parts = [_fmt(self.spec.instruction, self._values(s), "instruction")]
        parts += [self.question(ex, False) + self.answer(ex) for ex in self.examples(s)]
        parts.append(self.question(s, True))
        return self.spec.separator.join(p for p in parts if p)

    def continuations(self, s: Sample) -> list[str]:
        """One continuation per choice (ppl); chat prompts take the answer without its space."""
        assert s.choices is not None
        conts = [self.answer(s, i) for i in range(len(s.choices))]
        return [c.lstrip() for c in conts] if self.chat is not None else conts


def messages_json(messages: list[Message]) -> str:
    """How an API prompt (a list of messages) is written into predictions files."""
    return json.dumps(messages, ensure_ascii=False)
