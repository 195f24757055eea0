"""Tiny random-weight models for fast, offline tests of the HF backend.

`make_tiny_model` trains a byte-level BPE tokenizer on a few dozen sentences and builds a
two-layer causal LM with random weights; both are saved as a normal transformers folder,
so every code path (loading, tokenizing, chat template, padding) is the real one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from arena.core.cache import Cache
    from arena.models.hf import HFModel

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"

# Weights drawn wider than the usual 0.02 so that greedy text varies instead of repeating
# one token: batch-invariance and stop-string tests then have something to compare.
# A ChatML-like template: the tokenizer has a real template so the chat path is exercised.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_SENTENCES = [
    "The capital of France is Paris.",
    "The capital of England is London.",
    "Two plus two equals four.",
    "A quick brown fox jumps over the lazy dog.",
    "Question: What colour is the sky? Answer: blue.",
    "Question: How many legs does a spider have? Answer: eight.",
    "The cat sat on the mat and looked at the moon.",
    "Water boils at one hundred degrees Celsius.",
    "Alice and Bob play chess every Sunday afternoon.",
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i)\n",
    "Judges compare two answers and pick the better one.",
    "Human raters vote in the arena; the leaderboard shows Elo ratings.",
    "Large language models predict the next token.",
    "The answer is (A), (B), (C) or (D).",
    "Once upon a time there was a small model that learned to count.",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    "Please write a short poem about the sea.",
    "Sure! Here is a poem: waves roll in, waves roll out.",
    "Translate to German: good morning. Guten Morgen.",
    "The mitochondria is the powerhouse of the cell.",
    "Rain falls in spring, snow falls in winter.",
    "user: hello there\nassistant: hi, how can I help?",
    "Let's think step by step. First, add the numbers.",
    "Therefore, the final answer is 42.",
    "Every record has a key made from a content hash.",
    "Paris, London, Berlin, Madrid, Rome and Vienna are cities.",
    "She sells sea shells by the sea shore.",
    "Numbers: 12 + 30 = 42; 7 * 6 = 42.",
    "The end.",
]


def _train_tokenizer(vocab_size: int) -> Any:
    """A byte-level BPE tokenizer (so any text encodes, no unknown token) with BOS added."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, "<|user|>", "<|assistant|>", "<|system|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_SENTENCES, trainer=trainer)
    # Like Llama tokenizers: BOS is prepended by the tokenizer itself, EOS is not appended.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    return tok


def _config(arch: str, vocab_size: int, special: dict[str, int]) -> Any:
    from transformers import GPT2Config, LlamaConfig

    if arch == "llama":
        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            tie_word_embeddings=True,
            initializer_range=0.2,
            **special,
        )
    if arch == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=512,
            initializer_range=0.2,
            **special,
        )
    raise ValueError(f"unknown tiny architecture '{arch}' (llama, gpt2)")


def make_tiny_model(
    out_dir: str | Path, vocab_size: int = 320, seed: int = 0, arch: str = "llama"
) -> Path:
    """Build and save a random-weight causal LM plus a trained BPE tokenizer.

    Args:
        out_dir: folder to write (created if needed).
        vocab_size: BPE vocabulary size (at least 262: 256 bytes plus special tokens).
        seed: seed of the random weights; the same seed gives the same model.
        arch: "llama" or "gpt2".

    Returns:
        The folder, loadable with `AutoModelForCausalLM.from_pretrained` and `HFModel`.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = _train_tokenizer(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )
    special = {
        "bos_token_id": raw.token_to_id(BOS),
        "eos_token_id": raw.token_to_id(EOS),
        "pad_token_id": raw.token_to_id(PAD),
    }
    config = _config(arch, raw.get_vocab_size(), special)
    with torch.random.fork_rng(devices=[]):  # do not disturb the caller's RNG state
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config)
    model.generation_config.pad_token_id = special["pad_token_id"]
    model.generation_config.eos_token_id = special["eos_token_id"]
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def tiny_hf_model(tmp: str | Path, cache: Cache | None = None, **kwargs: Any) -> HFModel:
    """An `HFModel` on a freshly built tiny model in `tmp` (kwargs go to `HFModel`)."""
    from arena.models.hf import HFModel

    folder = Path(tmp) / "tiny-llama"
    if not (folder / "config.json").is_file():
        make_tiny_model(folder)
    kwargs.setdefault("name", "tiny-llama")
    return HFModel(folder, cache=cache, **kwargs)


def __getattr__(name: str) -> Any:
    # FakeOpenAIServer lives in testserver.py (another module, maybe absent): import lazily
    # so this module works without it and importing it never starts anything.
    if name == "FakeOpenAIServer":
        try:
            from arena.models.testserver import FakeOpenAIServer
        except ImportError as exc:
            raise AttributeError(f"FakeOpenAIServer is unavailable: {exc}") from exc
        return FakeOpenAIServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
