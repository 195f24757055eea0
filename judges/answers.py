"""Answers to (multi-turn) questions: turn 2 sees the model's own turn-1 answer.

`generate_answers` is resumable by content: an `Answer` key covers the model, the question
and a hash of the generation parameters, so a rerun skips what is already stored. Local HF
models run turn 1 of a chunk of questions as one batch, then turn 2 (`chat_many`); API
models run each question's turns in order, all questions concurrently. Answers are
committed as they finish, not at the end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from arena.core.records import Answer, Question, content_hash
from arena.core.store import Store
from arena.models.base import ChatParams, ChatResponse, Message

log = logging.getLogger(__name__)
HF_CHUNK = 32  # questions per turn-by-turn batch round for local models (one commit each)


def is_batched(model: Any) -> bool:
    """Local HF models answer lists in batches; API models answer concurrently."""
    return getattr(model, "backend", "") == "hf" and hasattr(model, "chat_many")


def answer_config_hash(model: Any, params: ChatParams) -> str:
    """What determines an answer besides the question: parameters, system prompt, weights."""
    return content_hash({"params": params.to_dict(), "system": getattr(model, "system_prompt", None),
                         "model": getattr(model, "identity", None)})


def _answer(model: Any, q: Question, params: ChatParams, chash: str, replies: list[ChatResponse]) -> Answer:
    return Answer(
        model=model.name, question_set=q.question_set, question_id=q.id,
        turns=[r.text for r in replies], params=params.to_dict(),
        prompt_tokens=sum(r.prompt_tokens for r in replies),
        completion_tokens=sum(r.completion_tokens for r in replies),
        latency=sum(r.latency for r in replies), config_hash=chash,
    )


def _conversation(q: Question, previous: Sequence[str], turn: int) -> list[Message]:
    msgs: list[Message] = []
    for i in range(turn):
        msgs.append({"role": "user", "content": q.turns[i]})
        if i < turn - 1:
            msgs.append({"role": "assistant", "content": previous[i]})
    return msgs


def _generate_batched(model: Any, todo: list[Question], params: ChatParams, chash: str,
                      commit: Callable[[list[Answer]], None]) -> list[Answer]:
    out: list[Answer] = []
    for start in range(0, len(todo), HF_CHUNK):
        chunk = todo[start : start + HF_CHUNK]
        replies: list[list[ChatResponse]] = [[] for _ in chunk]
        for turn in range(1, max(len(q.turns) for q in chunk) + 1):
            idx = [i for i, q in enumerate(chunk) if len(q.turns) >= turn]
            convs = [_conversation(chunk[i], [r.text for r in replies[i]], turn) for i in idx]
            for i, r in zip(idx, model.chat_many(convs, params)):
                replies[i].append(r)
        done = [_answer(model, q, params, chash, r) for q, r in zip(chunk, replies)]
        commit(done)
        out.extend(done)
    return out


async def _generate_async(model: Any, todo: list[Question], params: ChatParams, chash: str,
                          commit: Callable[[list[Answer]], None]) -> list[Answer]:
    async def one(q: Question) -> Answer:
        replies: list[ChatResponse] = []
        for turn in range(1, len(q.turns) + 1):
            replies.append(await model.chat(_conversation(q, [r.text for r in replies], turn), params))
        ans = _answer(model, q, params, chash, replies)
        await asyncio.to_thread(commit, [ans])
        return ans

    try:
        return list(await asyncio.gather(*(one(q) for q in todo)))
    finally:
        if hasattr(model, "aclose"):
            await model.aclose()


def generate_answers(models: Sequence[Any], questions: Sequence[Question], store: Store,
                     params: ChatParams | None = None, run: str | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> list[Answer]:
    """Answer every question with every model; stored answers are reused, not regenerated.

    Args:
        models: ChatModel objects (HFModel, OpenAICompatModel, ...), each with a `name`.
        questions: the questions (one or two turns each).
        store: where answers are kept (committed as they finish).
        params: generation parameters (part of each answer's key).
        run: optional run label stored with each new answer.
        progress: called as (model name, answers done, answers in all) after each commit.

    Returns:
        The answers of all models to all questions, stored ones included.
    """
    params = params or ChatParams()
    out: list[Answer] = []
    for model in models:
        chash = answer_config_hash(model, params)
        keys = store.keys(Answer)
        stubs = {q.id: Answer(model=model.name, question_set=q.question_set, question_id=q.id,
                              turns=[], config_hash=chash) for q in questions}
        done = [q for q in questions if stubs[q.id].key() in keys]
        todo = [q for q in questions if stubs[q.id].key() not in keys]
        log.info("%s: %d answers stored, %d to generate", model.name, len(done), len(todo))
        out.extend(a for q in done if (a := store.get(Answer, stubs[q.id].key())) is not None)
        counter = [len(done)]

        def commit(answers: list[Answer], name: str = model.name, counter: list[int] = counter) -> None:
            store.put_many(answers, run)
            counter[0] += len(answers)
            if progress:
                progress(name, counter[0], len(questions))

        if progress:
            progress(model.name, len(done), len(questions))
        if not todo:
            continue
        if is_batched(model):
            out.extend(_generate_batched(model, todo, params, chash, commit))
        else:
            out.extend(_run(_generate_async(model, todo, params, chash, commit)))
    return out


def _run(coro: Any) -> Any:
    """Run a coroutine from sync code, also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
