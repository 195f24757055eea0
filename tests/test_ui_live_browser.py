"""Live battles in a real browser (Debian chromium): the rater's prompt, two anonymous models
(the tiny HF model and an OpenAI-compatible server on 127.0.0.1) streaming side by side,
regenerate, a follow-up, the vote, the reveal, the store and the leaderboard."""

from __future__ import annotations

import itertools
import time

import pytest

from arena.core.records import Answer, Battle, Question, Vote
from arena.models.base import ChatParams
from arena.models.openai_compat import OpenAICompatModel
from arena.models.testing import tiny_hf_model
from arena.models.testserver import FakeOpenAIServer
from arena.service import ArenaService, hash_password
from arena.service_live import LiveConfig
from tests.test_ui_browser import ARTIFACTS, browser_page  # noqa: F401 - a fixture
from tests.ui_fixtures import MODELS, answers, fill_store, questions, serve_in_thread

pytestmark = pytest.mark.browser

API_NAME = 'api<img src=x onerror="window.__pwned=1">'  # a hostile name, shown as text


def _api_replies():
    n = itertools.count(1)
    return lambda data: (
        f"Reply {next(n)} to '{data['messages'][-1]['content']}': "
        + " ".join(f"word{i}" for i in range(40))
    )


def _pane_lengths(page) -> tuple[int, int]:
    return tuple(len(page.inner_text(f"#live-answer-{s}")) for s in "ab")


def test_live_battle_in_browser(tmp_path, browser_page):  # noqa: F811
    page, outside, dialogs = browser_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    store = fill_store(tmp_path / "arena.sqlite")
    with FakeOpenAIServer(responder=_api_replies()) as srv:
        srv.stream_gap = 0.03
        live = {
            "tiny": tiny_hf_model(tmp_path),
            API_NAME: OpenAICompatModel(API_NAME, model="fake", base_url=srv.base_url),
        }
        cfg = LiveConfig(max_prompt=200, params=ChatParams(temperature=0.8, max_tokens=48))
        svc = ArenaService(
            store, questions(), answers(), MODELS, seed=1, live_models=live, live_config=cfg
        )
        svc.set_user("lee", "rater", hash_password("pw"))
        from tests.test_ui_browser import sign_in
        from ui.app import create_server

        with serve_in_thread(create_server(svc)) as url:
            sign_in(page, url, "lee", "pw")
            page.get_by_role("tab", name="Battle on your prompt").click()
            page.fill("#live-prompt textarea", "Tell me about the sea.")
            page.click("#live-send")
            seen = set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # watch the panes grow
                seen.add(_pane_lengths(page))
                if page.locator("#live-vote-a:not([disabled])").count():
                    break
                time.sleep(0.03)
            final = _pane_lengths(page)
            growing = {b for _, b in seen if 0 < b < final[1]} | {
                a for a, _ in seen if 0 < a < final[0]
            }
            assert len(growing) >= 3, seen  # partial answers were shown while streaming
            first_b = page.inner_text("#live-answer-b") + page.inner_text("#live-answer-a")
            assert "Reply 1 to 'Tell me about the sea.'" in first_b
            body = page.inner_text("body")
            assert "tiny" not in body.replace("tiny-", "") and "api<img" not in body  # anonymous
            page.screenshot(path=str(ARTIFACTS / "live_streamed.png"), full_page=True)

            page.click("#live-regenerate")
            page.wait_for_selector("text=Reply 2 to 'Tell me about the sea.'")
            page.wait_for_selector("#live-vote-a:not([disabled])")

            page.fill("#live-prompt textarea", "And the mountains?")
            page.click("#live-send")
            page.wait_for_selector("text=Reply 3 to 'And the mountains?'")
            page.wait_for_selector("#live-vote-a:not([disabled])")
            for side in "ab":  # both turns, each once, in both panes
                users = page.locator(f"#live-answer-{side} .arena-user").all_inner_texts()
                assert users == ["Tell me about the sea.", "And the mountains?"]

            too_long = "x" * 201  # the text box stops at the limit; the server checks it too
            page.fill("#live-prompt textarea", too_long)
            assert len(page.input_value("#live-prompt textarea")) <= 200

            page.click("#live-vote-b")
            page.wait_for_selector("#live-reveal >> text=Vote saved")
            reveal = page.inner_text("#live-reveal")
            assert API_NAME in reveal and "tiny" in reveal  # the hostile name as plain text
            assert page.evaluate("window.__pwned") is None
            box = page.locator("#live-votebar").bounding_box()
            assert box and box["y"] + box["height"] <= 900 + 1
            page.screenshot(path=str(ARTIFACTS / "live_revealed.png"), full_page=True)

            page.get_by_role("tab", name="Leaderboard").click()
            page.wait_for_selector("#lb-table >> text=BT rating")
            page.locator("#lb-live input").click()
            page.locator("li", has_text="live battles only").click()
            page.wait_for_selector("#lb-summary >> text=1 battles between 2 models")
            table = page.inner_text("#lb-table")
            assert API_NAME in table and "tiny" in table and "Elo" in table

            # the named mode: the rater picks the models and sees their names; no vote
            page.get_by_role("tab", name="Side by side").click()
            page.fill("#named-prompt textarea", "Name yourselves.")
            page.click("#named-send")
            page.wait_for_selector("#named-answer-a >> text=Reply 4 to 'Name yourselves.'")
            page.wait_for_selector("#named-regenerate:not([disabled])")
            assert f"Model A: {API_NAME}" in page.inner_text("#named-answer-a")  # as text
            assert "Model B: tiny" in page.inner_text("#named-answer-b")
            assert page.locator("#named-votebar button", has_text="is better").count() == 0

    (battle,) = store.all(Battle)
    assert battle.source == "human" and battle.question_id.startswith("live-")
    assert battle.turn == 2 and battle.winner == "model_b"
    (q,) = store.all(Question, question_set="live")
    assert q.turns == ["Tell me about the sea.", "And the mountains?"]
    ans = {a.model: a for a in store.all(Answer) if a.question_set == "live"}
    assert set(ans) == {"tiny", API_NAME}
    assert ans[API_NAME].turns[0].startswith("Reply 2 to")  # the regenerated answer was kept
    assert ans[API_NAME].turns[1].startswith("Reply 3 to")
    assert all(a.params["live"] and a.params["regenerated"] == 1 for a in ans.values())
    assert len(ans["tiny"].turns) == 2 and all(ans["tiny"].turns)
    (vote,) = store.all(Vote)
    assert (vote.rater, vote.question_id, vote.model_b) == ("lee", q.id, battle.model_b)
    assert outside == [] and dialogs == []
