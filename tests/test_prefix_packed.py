"""Packed block-mask ppl scorer: equal to a naive full forward per option (fp32, 1e-4)."""

from __future__ import annotations

import random

import pytest
import torch

from arena.models.prefix import (
    PackedScorer,
    PrefixScorer,
    _first_fit,
    naive_nll,
    select_scorer,
    truncate_group,
)


def _groups(
    seed: int,
    n: int,
    vocab: int,
    shared: int = 40,
    rest: tuple[int, int] = (1, 30),
    no_prefix_every: int = 4,
) -> list[tuple[list[int], list[list[int]]]]:
    """Random token ids: a prefix most questions share, ragged contexts and options (1-7 tokens)."""
    rng = random.Random(seed)
    pre = [rng.randrange(3, vocab) for _ in range(shared)]
    out = []
    for q in range(n):
        own = [rng.randrange(3, vocab) for _ in range(rng.randint(*rest))]
        ctx = own if q % no_prefix_every == 0 else pre + own
        opts = [
            [rng.randrange(3, vocab) for _ in range(rng.randint(1, 7))]
            for _ in range(rng.randint(2, 5))
        ]
        out.append((ctx, opts))
    return out


def _naive(model, groups, max_seq_len):
    return [
        [r.nll for r in naive_nll(model, [(truncate_group(c, o, max_seq_len), x) for x in o])]
        for c, o in groups
    ]


def _assert_equal(model, groups, max_seq_len, sizes=(1, 3, 8)):
    ref = _naive(model, groups, max_seq_len)
    for bs in sizes:
        scorer = PackedScorer(model, max_seq_len, bs)
        got = scorer.score(groups)
        for g_got, g_ref, (_, opts) in zip(got, ref, groups):
            assert [r.n_tokens for r in g_got] == [len(o) for o in opts]
            assert [r.nll for r in g_got] == pytest.approx(g_ref, abs=1e-4), f"batch size {bs}"
    return scorer


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def tiny(request, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    from arena.models.testing import make_tiny_model

    path = make_tiny_model(tmp_path_factory.mktemp("m") / request.param, arch=request.param)
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def test_packed_equals_naive_ragged_options_shared_prefix(tiny):
    groups = _groups(0, 11, tiny.config.vocab_size)
    scorer = _assert_equal(tiny, groups, 512)
    assert scorer.stats.per_stage["A"] == 40  # the shared prefix was encoded once
    assert scorer.stats.per_stage["C"] == 0  # no per-question forward
    # one forward per batch of questions plus the prefix: 11 questions -> 2 batches of 8
    assert scorer.stats.forwards <= 1 + 2 + 1


def test_packed_equals_naive_truncated_contexts(tiny):
    groups = _groups(1, 9, tiny.config.vocab_size, shared=30, rest=(20, 60))
    assert max(len(c) + max(map(len, o)) for c, o in groups) > 48
    _assert_equal(tiny, groups, 48)


def test_rows_hold_several_questions_out_of_order():
    # first-fit packs a later (shorter) question into an earlier row: results must follow
    # the questions, not the row layout (a bug the equality test above also guards)
    assert _first_fit([10, 9, 8, 3, 2], 12) == [[0, 4], [1, 3], [2]]


def test_packed_reorders_blocks_and_still_matches(tiny):
    # a long shared prefix makes rows wide, so many short blocks share a row out of order
    groups = _groups(2, 12, tiny.config.vocab_size, shared=80, rest=(1, 40), no_prefix_every=100)
    _assert_equal(tiny, groups, 512, sizes=(8, 12))


def test_empty_option_scores_zero(tiny):
    ctx = [5, 6, 7, 8]
    got = PackedScorer(tiny, 64, 4).score([(ctx, [[9, 10], [], [11]])])[0]
    ref = _naive(tiny, [(ctx, [[9, 10], [11]])], 64)[0]
    assert [r.nll for r in got] == pytest.approx([ref[0], 0.0, ref[1]], abs=1e-4)
    assert got[1].n_tokens == 0


def test_eager_attention_gets_an_additive_mask(tmp_path):
    from transformers import AutoModelForCausalLM

    from arena.models.testing import make_tiny_model

    path = make_tiny_model(tmp_path / "eager")
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    _assert_equal(model, _groups(3, 6, model.config.vocab_size), 512, sizes=(3,))


def test_greedy_flag_matches_naive(tiny):
    groups = _groups(4, 6, tiny.config.vocab_size)
    # make one option the model's own greedy continuation
    ctx = groups[0][0]
    with torch.no_grad():
        nxt = int(tiny(torch.tensor([ctx])).logits[0, -1].argmax())
    groups[0][1].append([nxt])
    got = PackedScorer(tiny, 512, 4).score(groups)
    ref = [naive_nll(tiny, [(truncate_group(c, o, 512), x) for x in o]) for c, o in groups]
    assert [[r.is_greedy for r in g] for g in got] == [[r.is_greedy for r in g] for g in ref]
    assert got[0][-1].is_greedy


def test_select_scorer_per_device_and_workload(tiny, monkeypatch):
    from arena.models.prefix import shared_fraction

    assert isinstance(select_scorer(tiny, 512, 8, mode="packed"), PackedScorer)
    assert isinstance(select_scorer(tiny, 512, 8, mode="staged"), PrefixScorer)
    own = _groups(6, 8, tiny.config.vocab_size, shared=0, rest=(30, 60), no_prefix_every=1)
    common = _groups(7, 8, tiny.config.vocab_size, shared=120, rest=(1, 10), no_prefix_every=100)
    assert shared_fraction(own, 512) < 0.5 < shared_fraction(common, 512)
    # CPU: packed only where a long prefix is shared across questions (else staged is faster)
    assert isinstance(select_scorer(tiny, 512, 8, groups=own), PrefixScorer)
    assert isinstance(select_scorer(tiny, 512, 8, groups=common), PackedScorer)
    # an accelerator: always packed
    monkeypatch.setattr(type(tiny), "device", property(lambda self: torch.device("cuda")))
    assert isinstance(select_scorer(tiny, 512, 8, groups=own), PackedScorer)
