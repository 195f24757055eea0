"""An OpenAI-compatible loopback server that plays every model of a run: answerers and judges.

Replies are a deterministic function of the request, so two runs of the same config give
the same numbers whatever was interrupted in between.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from arena.models.testserver import FakeOpenAIServer


def _h(data: dict) -> int:
    blob = json.dumps([data.get("model"), data.get("messages"), data.get("prompt")], sort_keys=True)
    return int(hashlib.sha256(blob.encode()).hexdigest()[:8], 16)


def body_text(data: dict) -> str:
    """All the text a request carries (prompt or messages)."""
    if data.get("messages"):
        return "\n".join(str(m.get("content", "")) for m in data["messages"])
    prompt = data.get("prompt", "")
    return prompt[0] if isinstance(prompt, list) else str(prompt)


def responder(data: dict) -> str:
    h = _h(data)
    text = body_text(data)
    if "[[A]]" in text and "[[B]]" in text:  # pairwise judge
        return f"Both are fine, but one is clearer. [[{'ABC'[h % 3]}]]"
    if "[[rating]]" in text or "Rating: [[" in text:  # single judge
        return f"Solid answer. Rating: [[{1 + h % 10}]]"
    if data.get("prompt") is not None:  # objective generation
        return f" The answer is {'ABCD'[h % 4]}. {h % 50}"
    return f"Answer {h % 1000}: " + "word " * (5 + h % 20)


def fake_server(delay: float = 0.0) -> FakeOpenAIServer:
    return FakeOpenAIServer(responder=responder, delay=delay, max_lifetime=300)


def write_config(path: Path, base_url: str, *, concurrency: int = 4, limit: int = 12,
                 questions: int = 6, extra: str = "") -> Path:
    """A run with two API answer models, three datasets, a question set and two judges."""
    path.write_text(f"""
name: e2e
models:
  - {{name: api-a, backend: openai, model: a, base_url: "{base_url}", concurrency: {concurrency}, max_retries: 1}}
  - {{name: api-b, backend: openai, model: b, base_url: "{base_url}", concurrency: {concurrency}, max_retries: 1}}
datasets: [gsm8k_mini_gen, winograd_mini_ppl, mmlu_mini_gen]
eval: {{limit: {limit}}}
questions: [arena_bilingual]
question_limit: {questions}
answer: {{max_tokens: 64}}
judges:
  - config: mt-bench-single
    model: {{name: judge, backend: openai, model: judge, base_url: "{base_url}", concurrency: {concurrency}, max_retries: 1}}
  - config: mt-bench-pair
    model: {{name: judge, backend: openai, model: judge, base_url: "{base_url}", concurrency: {concurrency}, max_retries: 1}}
report: {{bootstrap: 50}}
{extra}
""")
    return path
