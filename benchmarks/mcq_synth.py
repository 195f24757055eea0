#!/usr/bin/env python3
# Copied from ../shared/gpu/make_mcq.py (the data of the GPU probes), so benchmarks/objective_gpu.py is self-contained.
"""Deterministic synthetic 4-option MCQ JSONL for timing log-likelihood scorers.

Each row: {"question": str, "choices": [4 short str], "answer": int}. The question carries a
long few-shot preamble (an instruction and K worked examples of arithmetic word problems and
capital-city facts, roughly 300-600 tokens with a GPT-2/SmolLM2-style tokenizer) followed by
the real question, so the context shared by the four options is long and the options are short
(1-3 tokens). Same N and seed -> byte-identical file. Standard library only.

usage: make_mcq.py N OUT.jsonl [--seed S] [--shots K] [--same-shots]
  --same-shots: every row uses the same K worked examples (identical preamble across rows too),
                otherwise each row draws its own examples (shared only among its own options).
"""
import argparse
import json
import random

CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"),
    ("Portugal", "Lisbon"), ("Japan", "Tokyo"), ("China", "Beijing"), ("Russia", "Moscow"),
    ("Egypt", "Cairo"), ("Greece", "Athens"), ("Austria", "Vienna"), ("Poland", "Warsaw"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Ireland", "Dublin"), ("Hungary", "Budapest"), ("Belgium", "Brussels"), ("Kenya", "Nairobi"),
    ("Peru", "Lima"), ("Chile", "Santiago"), ("Argentina", "Buenos Aires"), ("Cuba", "Havana"),
    ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("South Korea", "Seoul"), ("India", "New Delhi"),
    ("Iran", "Tehran"), ("Turkey", "Ankara"), ("Canada", "Ottawa"), ("Mexico", "Mexico City"),
    ("Australia", "Canberra"), ("United Kingdom", "London"), ("Netherlands", "Amsterdam"),
    ("Switzerland", "Bern"), ("Czech Republic", "Prague"), ("Ukraine", "Kyiv"), ("Brazil", "Brasilia"),
    ("Colombia", "Bogota"),
]
NAMES = ["Tom", "Anna", "Ravi", "Mei", "Lucas", "Sara", "Omar", "Elena", "Kofi", "Ingrid"]
ITEMS = ["apples", "books", "marbles", "stamps", "pencils", "coins", "shells", "cards"]
HEADER = ("The following are multiple choice questions about simple arithmetic and world "
          "geography. Each worked example shows the reasoning, the four options and the correct "
          "answer. Read the examples carefully, then answer the final question with the text of "
          "the correct option only.\n\n")


def arith(rng):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    a, b = rng.randint(12, 89), rng.randint(11, 59)
    c = rng.randint(5, a + b - 1)
    ans = a + b - c
    text = (f"{name} has {a} {item}. {name} gets {b} more {item} from a friend and then gives "
            f"{c} {item} away to a cousin. How many {item} does {name} have now?")
    work = f"{name} starts with {a}. Adding {b} gives {a + b}. Taking away {c} leaves {ans}."
    wrong = set()
    while len(wrong) < 3:
        w = ans + rng.choice([-11, -10, -2, -1, 1, 2, 9, 10])
        if w > 0 and w != ans:
            wrong.add(w)
    return text, work, str(ans), [str(w) for w in sorted(wrong)]


def capital(rng):
    country, city = rng.choice(CAPITALS)
    text = f"Which city is the capital of {country}, the city where its national government sits?"
    work = f"The national government of {country} sits in {city}, so {city} is its capital."
    others = [c for _, c in CAPITALS if c != city]
    return text, work, city, rng.sample(others, 3)


def question(rng):
    text, work, right, wrong = (arith if rng.random() < 0.5 else capital)(rng)
    opts = wrong + [right]
    rng.shuffle(opts)
    return text, work, opts, opts.index(right)


def shots_block(rng, k):
    parts = []
    for i in range(k):
        text, work, opts, ans = question(rng)
        listed = " ".join(f"({'ABCD'[j]}) {o}" for j, o in enumerate(opts))
        parts.append(f"Example {i + 1}: {text}\nOptions: {listed}\nReasoning: {work}\n"
                     f"Answer: {opts[ans]}\n\n")
    return "".join(parts)


def make(n, seed=1234, shots=5, same_shots=False):
    rows = []
    fixed = shots_block(random.Random(f"{seed}-shots"), shots) if same_shots else None
    for i in range(n):
        rng = random.Random(f"{seed}-{i}")
        block = fixed if same_shots else shots_block(rng, shots)
        text, _, opts, ans = question(rng)
        rows.append({"question": HEADER + block + "Final question: " + text,
                     "choices": opts, "answer": ans})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--same-shots", action="store_true")
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8") as f:
        for r in make(a.n, a.seed, a.shots, a.same_shots):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
