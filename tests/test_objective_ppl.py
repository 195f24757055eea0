"""ppl scoring: shared-prefix KV-cache scores equal a naive forward per option."""

from __future__ import annotations

import pytest

from arena.core.cache import Cache
from arena.core.errors import BackendError
from arena.models.prefix import PrefixScorer, naive_nll, truncate_group
from objective.ppl import score_choices
from tests.objective_fixtures import mc_groups


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from arena.models.hf import HFModel

    return HFModel(tiny_model_dir, name="tiny", device="cpu", max_seq_len=64)


def _naive(model, groups, max_seq_len):
    out = []
    for ctx, opts in groups:
        cut = truncate_group(ctx, opts, max_seq_len)
        out.append([r.nll for r in naive_nll(model, [(cut, o) for o in opts])])
    return out


def _check(model, groups, max_seq_len):
    ref = _naive(model, groups, max_seq_len)
    for bs in (1, 3, 8):
        scorer = PrefixScorer(model, max_seq_len, bs)
        got = scorer.score(groups)
        for g_got, g_ref, (_, opts) in zip(got, ref, groups):
            assert [r.n_tokens for r in g_got] == [len(o) for o in opts]
            assert [r.nll for r in g_got] == pytest.approx(g_ref, abs=1e-4)
    return scorer


def test_prefix_equals_naive_tiny_batch_invariant(tiny):
    groups = mc_groups(tiny, n=7)
    assert len({len(o) for o in groups[0][1]}) > 2  # options of different lengths
    scorer = _check(tiny.model, groups, 512)
    assert scorer.stats.per_stage["A"] > 0  # the few-shot prefix was encoded once, shared


def test_context_longer_than_max_seq_len_is_cut_identically(tiny):
    groups = mc_groups(tiny, n=5, long_context=True)
    assert max(len(c) for c, _ in groups) > 64
    _check(tiny.model, groups, 64)
    cut = truncate_group(groups[1][0], groups[1][1], 64)
    assert len(cut) + max(len(o) for o in groups[1][1]) - 1 == 64  # fills the window exactly


def test_fast_path_matches_backend_loglikelihood(tiny):
    from arena.models.base import LoglikelihoodRequest

    items = [("Question: What colour is the sky? Answer:", [" blue", " green grass", " red"]),
             ("The capital of France is", [" Paris", " London."])]
    ours = score_choices(tiny, items, batch_size=2)
    ref = tiny.loglikelihood([LoglikelihoodRequest(c, o) for c, opts in items for o in opts])
    assert [r.nll for g in ours for r in g] == pytest.approx([r.nll for r in ref], abs=1e-4)


def test_score_choices_uses_cache(tiny, tmp_path):
    cache = Cache(tmp_path / "c.sqlite")
    items = [("Two plus two equals", [" four", " five"])]
    first = score_choices(tiny, items, cache=cache)
    assert cache.misses == 1
    again = score_choices(tiny, items, cache=cache)
    assert cache.hits == 1 and [r.nll for r in again[0]] == [r.nll for r in first[0]]


def test_api_without_prompt_logprobs_suggests_gen():
    from arena.models.openai_compat import OpenAICompatModel
    from arena.models.testserver import FakeOpenAIServer

    with FakeOpenAIServer(logprobs=False, max_lifetime=60) as srv:
        model = OpenAICompatModel("fake", model="fake-model", base_url=srv.base_url, max_retries=0)
        with pytest.raises(BackendError, match="gen"):
            score_choices(model, [("Q: 1+1? A:", [" 2", " 3"])])


def test_model_without_loglikelihood_is_a_clear_error():
    class ChatOnly:
        name = "chat-only"

    with pytest.raises(BackendError, match="_gen dataset"):
        score_choices(ChatOnly(), [("x", [" a", " b"])])


@pytest.fixture
def one_thread():
    """Tiny forwards gain nothing from threads, and on a shared busy CPU OpenMP's spin-waiting
    makes two threads many times slower than one; restore the setting afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_prefix_equals_naive_smollm2(smollm2_dir, one_thread):
    from arena.models.hf import HFModel

    model = HFModel(smollm2_dir, device="cpu", max_seq_len=48)
    groups = mc_groups(model, n=4, long_context=True)
    assert max(len(c) for c, _ in groups) > 48
    _check(model.model, groups, 48)
