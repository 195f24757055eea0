"""arena.models.hf has no import-time side effects and seeded sampling leaves the global RNG alone."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from arena.models.base import GenerateRequest
from objective.gen import generate_texts


def test_importing_the_hf_backend_sets_no_environment_variables():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_HUB")}
    code = "import os, arena.models.hf; print(sorted(k for k in os.environ if k.startswith('HF_HUB')))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_seeded_sampling_repeats_and_leaves_the_global_rng_alone(tiny_model_dir):
    from arena.models.hf import HFModel

    m = HFModel(tiny_model_dir, device="cpu")
    prompts = ["The sky is", "Once upon a time"]

    def sample(seed):
        return generate_texts(m, prompts, max_out_len=8, temperature=1.0, seed=seed)

    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    first = sample(7)
    assert torch.equal(torch.rand(3), want)  # the process's random stream did not move
    assert sample(7) == first  # the same seed samples the same text
    torch.manual_seed(123)
    m._generate([GenerateRequest("The sky is", 8, (), 1.0)], seed=3)
    assert torch.equal(torch.rand(3), want)
