"""gen: batch-size invariant greedy outputs, postprocessors, metrics, HumanEval sandbox."""

from __future__ import annotations

import math
import socket

import pytest

from objective.gen import generate_texts
from objective.humaneval import build_program, load_humaneval, run_program
from objective.metrics import choose, exact_match, pass_at_k
from objective.postprocess import boxed, code_block, first_option, last_number


def test_greedy_generation_same_at_batch_1_and_8(tiny_model_dir):
    from arena.models.hf import HFModel

    prompts = ["Question: What colour is the sky? Answer:", "The capital of France is",
               "1, 2, 3, 4,", "def add(a, b):", "Once upon a time there was a very small model",
               "Two plus two", "Rain falls in", "Alice and Bob play chess every Sunday afternoon and"]
    outs = []
    for bs in (1, 8):
        model = HFModel(tiny_model_dir, device="cpu", batch_size=bs, max_seq_len=64)
        outs.append(generate_texts(model, prompts, max_out_len=12, stop=["\n\n"]))
    assert outs[0] == outs[1]
    assert any(t.strip() for t in outs[0])


def test_postprocessors():
    assert first_option("The answer is (C) because") == "C"
    assert first_option(" B. Mercury") == "B"
    assert first_option("Apple is red") == ""
    assert first_option("答案：D") == "D"
    assert last_number("5 + 7 = 12. So 1,200 apples, total 3500.0.") == "3500"
    assert last_number("no digits") == ""
    assert boxed(r"so \boxed{\frac{1}{2}} done") == r"\frac{1}{2}"
    assert code_block("Here:\n```python\ndef f():\n    return 1\n```\nbye") == "def f():\n    return 1\n"
    assert exact_match(" 42. ", "42") == 1.0 and exact_match("41", "42") == 0.0


def test_choose_norms():
    nll, toks, nbytes = [4.0, 5.0], [1, 5], [2, 20]
    assert choose(nll, toks, nbytes, "sum") == 0
    assert choose(nll, toks, nbytes, "token") == 1
    assert choose(nll, toks, nbytes, "byte") == 1


@pytest.mark.parametrize("n, c, k", [(10, 3, 1), (10, 3, 5), (5, 0, 2), (6, 6, 3), (7, 2, 7)])
def test_pass_at_k_matches_combinatorics(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_humaneval_sandbox():
    problems, _ = load_humaneval()
    p = problems[0]
    assert run_program(build_program(p, p.target)).passed
    assert not run_program(build_program(p, "    return False\n")).passed
    slow = run_program("while True:\n    pass\n", timeout=1.0)
    assert slow.status == "timeout" or (not slow.passed)
    hog = run_program("x = bytearray(2 * 1024 ** 3)\n", memory_mb=256)
    assert not hog.passed and "MemoryError" in hog.detail


def test_sandbox_has_no_network():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        res = run_program(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n", timeout=5)
    finally:
        srv.close()
    if res.passed:
        pytest.skip("this kernel refuses a private network namespace; network not isolated")
    assert "Error" in res.detail
