"""Needle in a haystack (NeedleBench-style), generated per model with its own tokenizer.

A card with `source: needle` describes a grid: context lengths x needle depths x repeats,
one variant (single-needle retrieval, multi-needle retrieval, multi-needle reasoning) and
one language. Samples are built when the model is known (`NeedleDataset.for_model`): the
haystack is cut to an exact number of the model's tokens, so that the whole prompt (chat
template included) is `length` tokens, and each needle is put at the token where its depth
falls (`int(haystack_tokens * depth / 100)`, as OpenCompass's NeedleBench). Lengths that do
not fit `max_seq_len - max_out_len` are dropped, with a warning. API models without a local
tokenizer use a word tokenizer (one token per CJK character or per run of other non-spaces).

Sample ids are `<variant>-<lang>-L<length>-D<depth>-R<repeat>` (the report's heatmap reads
them); the subset is the length (`1k`, `2k`...), so results have one row per length.
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from arena.core.errors import ConfigError, DataError
from arena.core.records import Sample
from arena.core.registry import data_dir
from objective.dataset_types import Dataset

ID_RE = re.compile(r"-L(\d+)-D(\d+(?:\.\d+)?)-R(\d+)$")
SEPARATOR = "\n"  # around each needle, as NeedleBench


def parse_lengths(value: Any) -> list[int]:
    """`"1k,2k,4k"` or `[1000, "2k"]` -> [1000, 2000, 4000] (k = 1000, as NeedleBench)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        s = str(item).strip().lower()
        try:
            n = int(float(s[:-1]) * 1000) if s.endswith("k") else int(s)
        except ValueError:
            raise ConfigError(
                f"bad needle length '{item}' (use e.g. 1k,2k or 1500)", field="lengths"
            ) from None
        if n < 64:
            raise ConfigError(
                f"needle length {n} is too short (at least 64 tokens)", field="lengths"
            )
        out.append(n)
    return sorted(set(out))


def parse_depths(value: Any) -> list[float]:
    """`"0:100:10"` (start:stop:step, stop included), `"0,50,100"` or a list -> percentages."""
    if isinstance(value, str) and ":" in value:
        try:
            start, stop, step = (float(x) for x in value.split(":"))
        except ValueError:
            raise ConfigError(
                f"bad depth range '{value}' (use start:stop:step)", field="depths"
            ) from None
        if step <= 0:
            raise ConfigError("the depth step must be positive", field="depths")
        out, d = [], start
        while d <= stop + 1e-9:
            out.append(round(d, 6))
            d += step
    else:
        items = value.split(",") if isinstance(value, str) else list(value)
        try:
            out = [float(x) for x in items]
        except ValueError:
            raise ConfigError(f"bad needle depths '{value}'", field="depths") from None
    if not out or any(not 0 <= d <= 100 for d in out):
        raise ConfigError(f"needle depths must be within 0..100, got {value}", field="depths")
    return sorted(set(out))


class NeedleSpec(BaseModel):
    """The `needle:` block of a card (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")
    variant: Literal["single", "multi", "reasoning"] = "single"
    language: Literal["en", "zh"] = "en"
    lengths: list[int] = [1000, 2000, 4000, 8000]
    depths: list[float] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    repeats: int = 1
    needles: int = 3  # multi: needles to retrieve; reasoning: hops of the chain
    spacing: float = 10.0  # multi/reasoning: depth (%) between consecutive needles
    match: Literal["contains", "exact", "fuzzy"] = "contains"
    haystack: str | None = None  # a text file; default data/needle/haystack_<language>.txt
    seed: int = 0

    @field_validator("lengths", mode="before")
    @classmethod
    def _lengths(cls, v: Any) -> list[int]:
        return parse_lengths(v)

    @field_validator("depths", mode="before")
    @classmethod
    def _depths(cls, v: Any) -> list[float]:
        return parse_depths(v)


# ----------------------------------------------------------------------------- needles
_PLACES = {
    "en": [
        "Amber Harbor",
        "Cobalt Ridge",
        "Juniper Falls",
        "Marigold Bay",
        "Onyx Valley",
        "Quartz Hollow",
        "Saffron Lake",
        "Willow Crest",
        "Granite Point",
        "Heron Marsh",
    ],
    "zh": [
        "琥珀港",
        "钴蓝岭",
        "杜松瀑布",
        "金盏湾",
        "玛瑙谷",
        "石英洞",
        "藏红湖",
        "柳冠山",
        "花岗角",
        "鹭鸶泽",
    ],
}
_WORDS = [
    "falcon",
    "orchid",
    "lantern",
    "glacier",
    "meteor",
    "compass",
    "thistle",
    "harbor",
    "violet",
    "cinder",
    "maple",
    "quiver",
    "saddle",
    "tundra",
    "walnut",
    "zephyr",
]
_PEOPLE = {
    "en": [
        "Aldric",
        "Beatrix",
        "Cedric",
        "Delphine",
        "Emeric",
        "Florence",
        "Gideon",
        "Harriet",
        "Ignatius",
        "Josephine",
        "Leopold",
        "Mirabel",
    ],
    "zh": [
        "张伟",
        "李娜",
        "王芳",
        "刘洋",
        "陈静",
        "杨帆",
        "赵磊",
        "黄敏",
        "周杰",
        "吴琳",
        "孙浩",
        "郑洁",
    ],
}
PROMPTS = {
    "en": (
        "You are an intelligent AI assistant skilled in answering user questions.\n"
        "Please keep your answers concise and clear. Do not talk about irrelevant topics or "
        "repeat your answers.\nThe document given to you by the user is {context}\n\n"
        "Now, the question is: {question}"
    ),
    "zh": (
        "你是一个善于回答用户问题的智能AI助手\n请保持你的回答简洁清楚。不要说和下面文档中的无关的话，"
        "或重复你的回答\n用户现在给你的文档是{context}\n\n现在请问：{question}"
    ),
}


@dataclass
class Needles:
    """What is hidden (in insertion order), what is asked, and the keywords of the answer."""

    texts: list[str]
    question: str
    keywords: list[str]


def make_needles(spec: NeedleSpec, rep: int) -> Needles:
    """The needles of repeat `rep` (the same for every length and depth of the grid)."""
    rng = random.Random(f"{spec.seed}:{spec.variant}:{spec.language}:{rep}")
    zh = spec.language == "zh"
    k = 1 if spec.variant == "single" else max(2, spec.needles)
    if spec.variant == "reasoning":
        people = rng.sample(_PEOPLE[spec.language], k + 1)
        hops = [
            f"{a}把铜钥匙交给了{b}。" if zh else f"{a} handed the brass key to {b}."
            for a, b in zip(people, people[1:])
        ]
        rng.shuffle(hops)  # the chain must be followed, not read in order
        q = (
            f"{people[0]}最先拿到铜钥匙，之后钥匙按文档所述依次传递。铜钥匙最后在谁手里？请只回答名字。"
            if zh
            else f"{people[0]} had the brass key first; then it was handed on as the document says. "
            "Who had the brass key last? Answer with the name only."
        )
        return Needles(hops, q, [people[-1]])
    places = rng.sample(_PLACES[spec.language], k)
    codes = [f"{rng.choice(_WORDS)}-{rng.randint(1000, 9999)}" for _ in places]
    texts = [
        f"{p}档案馆的密码是{c}。" if zh else f"The secret code of the {p} archive is {c}."
        for p, c in zip(places, codes)
    ]
    if k == 1:
        q = (
            f"{places[0]}档案馆的密码是什么？请只回答密码。"
            if zh
            else f"What is the secret code of the {places[0]} archive? Answer with the code only."
        )
    elif zh:
        q = f"请依次回答{'、'.join(places)}档案馆的密码，格式为'{'，'.join(p + '：密码' for p in places)}'。"
    else:
        q = (
            f"What are the secret codes of the {', '.join(places[:-1])} and {places[-1]} archives? "
            f"Answer in the format '{', '.join(p + ': code' for p in places)}'."
        )
    return Needles(texts, q, codes)


# --------------------------------------------------------------------------- tokenizers
_WORD_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


class TokenCounter:
    """The evaluated model's tokenizer: token spans of a text, tokens of a whole prompt."""

    def __init__(self, model: Any = None) -> None:
        self.model = model
        self.hf = _hf_tokenizer(model) if model is not None else None
        self.chat = bool(
            self.hf is not None
            and getattr(self.hf, "chat_template", None)
            and hasattr(model, "apply_chat_template")
        )
        self.kind = "word" if self.hf is None else "hf"

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) characters of each token (no special tokens)."""
        if self.hf is None:
            return [m.span() for m in _WORD_RE.finditer(text)]
        enc = self.hf(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [tuple(o) for o in enc["offset_mapping"]]

    def prompt_tokens(self, body: str) -> int:
        """Tokens of `body` as the model receives it (chat template and BOS included)."""
        if self.hf is None:
            return len(_WORD_RE.findall(body))
        text = (
            self.model.apply_chat_template([{"role": "user", "content": body}])
            if self.chat
            else body
        )
        if hasattr(self.model, "encode"):
            return len(self.model.encode(text))
        return len(self.hf(text)["input_ids"])


def _hf_tokenizer(model: Any) -> Any:
    try:
        tok = getattr(model, "tokenizer", None)
    except Exception:  # a lazy API model has none
        tok = None
    if tok is not None:
        return tok
    path = getattr(getattr(model, "spec", None), "tokenizer_path", None)
    if path:  # an API model whose tokenizer is available locally
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(path)
    return None


# ----------------------------------------------------------------------------- samples
def _haystack_text(spec: NeedleSpec, base: Path | None) -> str:
    if spec.haystack:
        path = Path(spec.haystack).expanduser()
        if not path.is_absolute() and base is not None:
            path = base / path
    else:
        path = data_dir() / "needle" / f"haystack_{spec.language}.txt"
    if not path.is_file():
        raise DataError("haystack file not found", str(path), field="needle.haystack")
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 200:
        raise DataError(
            "the haystack text is too short (under 200 characters)",
            str(path),
            field="needle.haystack",
        )
    return text


class _Haystack:
    """One repeat's haystack: the text from a paragraph chosen by the repeat, cycled, tokenized once."""

    def __init__(self, text: str, rep: int, seed: int, tok: TokenCounter, need: int) -> None:
        paras = [p for p in text.split("\n\n") if p.strip()]
        start = random.Random(f"{seed}:hay:{rep}").randrange(len(paras))
        one = "\n\n".join(paras[start:] + paras[:start])
        self.text, self.spans = one, tok.spans(one)
        while len(self.spans) < need:  # longer than the file: repeat it
            self.text += "\n\n" + one
            self.spans = tok.spans(self.text)

    def document(
        self, n_tokens: int, depths: list[float], needles: list[str]
    ) -> tuple[str, list[int]]:
        """The first `n_tokens` haystack tokens with each needle at its depth; needle char starts."""
        n = max(0, min(n_tokens, len(self.spans)))
        cut = self.spans[n - 1][1] if n else 0
        points = [self.spans[i][0] if (i := int(n * d / 100)) < n else cut for d in depths]
        doc, starts = self.text[:cut], [0] * len(needles)
        for j in sorted(range(len(needles)), key=lambda j: (-points[j], -j)):  # right to left
            doc = doc[: points[j]] + SEPARATOR + needles[j] + SEPARATOR + doc[points[j] :]
        pos = 0
        for j in sorted(range(len(needles)), key=lambda j: (points[j], j)):
            pos = doc.index(SEPARATOR + needles[j] + SEPARATOR, pos) + len(SEPARATOR)
            starts[j] = pos
        return doc, starts


def length_label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def build_samples(
    spec: NeedleSpec,
    dataset: str,
    tok: TokenCounter,
    *,
    limit: int | None = None,
    match: str | None = None,
    base: Path | None = None,
) -> list[Sample]:
    """Every (length, depth, repeat) sample of the grid for one tokenizer.

    Args:
        spec: the grid.
        dataset: dataset name written into the samples.
        tok: the evaluated model's tokenizer.
        limit: longest prompt allowed (max_seq_len - max_out_len); longer lengths are dropped.
        match: scoring rule stored with each sample (default the spec's).
        base: folder a relative `haystack` path is read from.
    """
    lengths = [n for n in spec.lengths if limit is None or n <= limit]
    if len(lengths) < len(spec.lengths):
        dropped = ", ".join(length_label(n) for n in spec.lengths if n not in lengths)
        print(
            f"warning: {dataset}: lengths {dropped} exceed the model's limit of {limit} tokens "
            "(max_seq_len - max_out_len) and are skipped",
            file=sys.stderr,
        )
    if not lengths:
        raise DataError(
            f"no needle length fits the model's limit of {limit} tokens",
            dataset,
            field="needle.lengths",
        )
    text = _haystack_text(spec, base)
    template = PROMPTS[spec.language]
    out = []
    for rep in range(spec.repeats):
        nd = make_needles(spec, rep)
        hay = _Haystack(text, rep, spec.seed, tok, max(lengths))
        overhead = tok.prompt_tokens(template.format(context="", question=nd.question))
        needle_tok = sum(len(tok.spans(SEPARATOR + t + SEPARATOR)) for t in nd.texts)
        short = [n for n in lengths if n - overhead - needle_tok < 16]
        if short:
            raise DataError(
                f"needle length {length_label(short[0])} leaves no room for a haystack: the "
                f"prompt and needles alone take {overhead + needle_tok} tokens",
                dataset,
                field="needle.lengths",
            )
        for length in lengths:
            for depth in spec.depths:
                depths = [min(100.0, depth + i * spec.spacing) for i in range(len(nd.texts))]
                n_hay = length - overhead - needle_tok
                for _ in range(4):  # the joins may merge or split a token: correct until exact
                    doc, starts = hay.document(n_hay, depths, nd.texts)
                    body = template.format(context=doc, question=nd.question)
                    total = tok.prompt_tokens(body)
                    if total == length or n_hay <= 0:
                        break
                    n_hay -= total - length
                offset = template.index("{context}")
                out.append(
                    Sample(
                        dataset=dataset,
                        id=f"{spec.variant}-{spec.language}-L{length}-D{depth:g}-R{rep}",
                        subset=length_label(length),
                        question=body,
                        target=", ".join(nd.keywords),
                        extra={
                            "keywords": nd.keywords,
                            "needles": nd.texts,
                            "length": length,
                            "depth": depth,
                            "depths": depths,
                            "prompt_tokens": total,
                            "haystack_tokens": max(n_hay, 0),
                            "needle_chars": [offset + s for s in starts],
                            "match": match or spec.match,
                            "tokenizer": tok.kind,
                        },
                    )
                )
    return out


# ----------------------------------------------------------------------------- scoring
def _norm(text: str) -> str:
    return re.sub(r"[\s'\"`*.,;:!?。，；：！？、]+", "", text).lower()


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score_answer(sample: Sample, answer: str) -> float:
    """Score in [0, 1] of an answer to a needle sample.

    `contains`: share of the keywords found in the answer (NeedleBench's multi-needle rule).
    `exact`: 1 when the answer's first line is exactly the keywords (in order), else 0.
    `fuzzy`: NeedleBench's single-needle rule per keyword: 1 when found, else 0.2 x the edit
    similarity between the answer (cut to 1.2x the needle) and the needle sentence.
    """
    kws = [str(k) for k in sample.extra["keywords"]]
    match = sample.extra.get("match", "contains")
    got = _norm(answer)
    if match == "exact":
        first = answer.strip().split("\n")[0] if answer.strip() else ""
        return float(_norm(first) == _norm("".join(kws)))
    found = [_norm(k) in got for k in kws]
    if match == "contains":
        return sum(found) / len(kws)
    scores = []
    for hit, needle in zip(found, sample.extra.get("needles") or kws):
        if hit:
            scores.append(1.0)
            continue
        ref, pred = _norm(needle), got[: int(1.2 * len(_norm(needle))) + 1]
        longest = max(len(ref), len(pred)) or 1
        scores.append(0.2 * (1 - _edit_distance(pred, ref) / longest))
    return sum(scores) / len(scores)


def parse_id(sample_id: str) -> tuple[int, float, int] | None:
    """(length, depth, repeat) of a needle sample id, else None."""
    m = ID_RE.search(sample_id)
    return (int(m.group(1)), float(m.group(2)), int(m.group(3))) if m else None


# ----------------------------------------------------------------------------- dataset
def load_needle_card(raw: dict, path: Path, lines: dict) -> NeedleDataset:
    """A `NeedleDataset` from a card with `source: needle`; its `needle:` block is the grid.

    The card's other keys are those of any dataset card; a needle card is always `gen`, its
    prompt is the generated text itself and its metric `needle` (see `score_answer`).
    """
    from arena.core.config import validate
    from objective.dataset_types import DatasetCard

    raw = dict(raw)
    raw.pop("source")
    grid = raw.pop("needle", None) or {}
    if raw.get("metric", "needle") != "needle":
        line = lines.get(("metric",), (None, None))[1]
        raise DataError("a needle card's metric is 'needle'", str(path), line, "metric")
    raw["metric"] = "exact_match"  # validated as a gen card, then marked as a needle one
    raw.setdefault("mode", "gen")
    raw.setdefault("postprocess", "none")
    raw.setdefault("max_out_len", 48 if grid.get("variant") == "multi" else 32)
    raw.setdefault("template", {"question": "{question}", "answer": " {answer}"})
    card = validate(DatasetCard, raw, str(path), lines).model_copy(update={"metric": "needle"})
    sub = {k[1:]: v for k, v in lines.items() if k[:1] == ("needle",)}
    spec = validate(
        NeedleSpec, grid, str(path), {(): lines.get(("needle",), (str(path), None)), **sub}
    )
    return make_dataset(card, spec, str(path))


def make_dataset(card: Any, spec: NeedleSpec, path: str) -> NeedleDataset:
    base = Path(path).parent if path else None
    text = _haystack_text(spec, base)
    h = hashlib.sha256(text.encode("utf-8"))
    h.update(spec.model_dump_json().encode())
    h.update(card.model_dump_json(exclude={"description", "license"}).encode())
    samples = build_samples(spec, card.name, TokenCounter(None), base=base)
    return NeedleDataset(card, h.hexdigest()[:6], samples, [], path, spec=spec)


@dataclass
class NeedleDataset(Dataset):
    """A needle grid; `samples` use a word tokenizer until `for_model` binds the model's."""

    spec: NeedleSpec | None = None
    _bound: dict = field(default_factory=dict, repr=False)

    def for_model(self, model: Any, max_out_len: int | None = None) -> Dataset:
        """The grid built with `model`'s tokenizer and capped by its `max_seq_len`."""
        assert self.spec is not None
        max_seq = getattr(model, "max_seq_len", None)
        out_len = max_out_len or self.card.max_out_len or 64
        key = (getattr(model, "identity", None) or getattr(model, "name", ""), max_seq, out_len)
        if key not in self._bound:
            samples = build_samples(
                self.spec,
                self.card.name,
                TokenCounter(model),
                limit=max_seq - out_len if max_seq else None,
                base=Path(self.path).parent if self.path else None,
            )
            self._bound[key] = Dataset(self.card, self.version, samples, [], self.path)
        return self._bound[key]

    def with_grid(self, lengths: Any = None, depths: Any = None) -> NeedleDataset:
        """The same card with other lengths and/or depths (`--needle-lengths/--needle-depths`)."""
        assert self.spec is not None
        upd: dict[str, Any] = {}
        if lengths:
            upd["lengths"] = parse_lengths(lengths)
        if depths:
            upd["depths"] = parse_depths(depths)
        return make_dataset(self.card, self.spec.model_copy(update=upd), self.path) if upd else self


def with_grid(datasets: list[Any], lengths: Any = None, depths: Any = None) -> list[Any]:
    """Apply `--needle-lengths/--needle-depths` to the needle datasets of a list."""
    return [d.with_grid(lengths, depths) if isinstance(d, NeedleDataset) else d for d in datasets]


def bind(dataset: Any, model: Any) -> Any:
    """The dataset as evaluated by `model` (needle grids are built with its tokenizer)."""
    return dataset.for_model(model) if isinstance(dataset, NeedleDataset) else dataset
