"""Benchmark: hashed n-gram contamination checks on a synthetic corpus (default 1 GB).

Measures (wall clock, this machine, one process):

1. Corpus generation (not timed as part of the method): random text from a 20,000-word
   Zipf vocabulary, written as TXT under /tmp, 1 GB by default; deleted at the end.
2. Index build: every distinct 13-gram hash of the corpus in one sorted uint64 array
   (`objective.ngrams.build_index`), in MB/s of corpus text; index size and peak RSS.
3. Lookup: the n-grams of a 1,000-item benchmark (half of it planted verbatim in the corpus)
   against the index, in items/s and n-grams/s; the planted half must be found, the rest not.
4. Scan (no index): the same benchmark streamed against the corpus (`objective.ngrams.scan`),
   in MB/s.

Wall-clock rates depend on how busy the machine is; CPU-second rates (process time) do not.

Run: ``.venv/bin/python benchmarks/contamination.py [--gb 1] [--n 13] [--keep] [--reuse]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np

from arena.core.records import Sample
from objective import contamination as C
from objective import ngrams

BLOCK = 16 << 20


def vocabulary(rng: np.random.Generator, size: int = 20_000) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(2, 10, size)
    return np.array(["".join(rng.choice(letters, n)) for n in lengths])


def make_corpus(path: Path, gb: float, vocab: np.ndarray, planted: list[str], seed: int = 0) -> int:
    """Random Zipf text in lines of ~100 words; `planted` texts spread through it."""
    rng = np.random.default_rng(seed)
    total = int(gb * (1 << 30))
    written, blocks = 0, max(1, total // BLOCK)
    per_block = np.array_split(np.array(planted, dtype=object), blocks)
    with path.open("wb") as fh:
        for b in range(blocks):
            mine = [str(t) for t in per_block[b]]
            room = min(BLOCK, total - written) - sum(len(t) + 1 for t in mine)
            ids = np.minimum(rng.zipf(1.2, BLOCK // 5), len(vocab)) - 1
            words = vocab[ids]
            lines = [" ".join(words[i : i + 100]) for i in range(0, len(words), 100)]
            keep = int(np.searchsorted(np.cumsum([len(x) + 1 for x in lines]), room, side="right"))
            lines = lines[:keep]  # cut first, so that no planted item is cut off
            for text in mine:
                lines.insert(int(rng.integers(0, len(lines) + 1)), text)
            data = ("\n".join(lines) + "\n").encode()
            fh.write(data)
            written += len(data)
    return written


def benchmark_items(vocab: np.ndarray, n: int = 1000, seed: int = 1) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        q = " ".join(rng.choice(vocab, 20))
        out.append(
            Sample(
                dataset="bench",
                id=str(i),
                question=q + "?",
                choices=[" ".join(rng.choice(vocab, 3)) for _ in range(4)],
                answer=int(rng.integers(4)),
            )
        )
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--n", type=int, default=13)
    ap.add_argument("--dir", default="/tmp/arena_contamination_bench")
    ap.add_argument("--keep", action="store_true", help="keep the generated corpus")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse a corpus kept by --keep (same --gb)"
    )
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    vocab = vocabulary(rng)
    items = benchmark_items(vocab)
    planted = [C.item_text(s) for s in items[::2]]
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    t = time.perf_counter()
    if args.reuse and corpus.is_file():
        size = corpus.stat().st_size
    else:
        size = make_corpus(corpus, args.gb, vocab, planted)
    gen_s = time.perf_counter() - t
    mb = size / 1e6
    print(f"corpus: {mb:,.0f} MB of text in {gen_s:.0f} s (generation, not part of the method)")
    try:
        t, c = time.perf_counter(), time.process_time()
        index = ngrams.build_index([corpus], args.n)
        build_s, build_cpu = time.perf_counter() - t, time.process_time() - c
        print(
            f"index build: {build_s:.1f} s wall = {mb / build_s:.1f} MB/s; {build_cpu:.1f} s CPU = "
            f"{mb / build_cpu:.1f} MB per CPU-second; {len(index):,} distinct {args.n}-grams, "
            f"{index.nbytes / 1e6:,.0f} MB; peak RSS {peak_rss_mb():,.0f} MB"
        )
        t = time.perf_counter()
        res = C.ngram_overlap(items, [], args.n, index=index)
        look_s = time.perf_counter() - t
        grams = sum(res.total)
        truth = [i % 2 == 0 for i in range(len(items))]
        auc = C.auc(res.coverage, truth)
        print(
            f"lookup: {len(items)} items ({grams:,} n-grams) in {look_s * 1000:.0f} ms = "
            f"{len(items) / look_s:,.0f} items/s, {grams / look_s:,.0f} n-grams/s; AUC planted {auc:.3f}"
        )
        del index
        t, c = time.perf_counter(), time.process_time()
        scan = C.ngram_overlap(items, [corpus], args.n)
        scan_s, scan_cpu = time.perf_counter() - t, time.process_time() - c
        assert scan.coverage == res.coverage
        print(
            f"scan (no index): {scan_s:.1f} s wall = {mb / scan_s:.1f} MB/s; {scan_cpu:.1f} s CPU = "
            f"{mb / scan_cpu:.1f} MB per CPU-second"
        )
        print(
            json.dumps(
                {
                    "corpus_mb": round(mb),
                    "n": args.n,
                    "build_mb_s": round(mb / build_s, 1),
                    "build_mb_per_cpu_s": round(mb / build_cpu, 1),
                    "scan_mb_per_cpu_s": round(mb / scan_cpu, 1),
                    "lookup_items_s": round(len(items) / look_s),
                    "scan_mb_s": round(mb / scan_s, 1),
                    "auc": auc,
                    "cpus": os.cpu_count(),
                    "peak_rss_mb": round(peak_rss_mb()),
                }
            )
        )
    finally:
        if not args.keep:
            corpus.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass


if __name__ == "__main__":
    main()
