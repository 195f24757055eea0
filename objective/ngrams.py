"""Hashed word n-grams, vectorised with numpy, for contamination checks against large corpora.

Text is lower-cased and cut into words: runs of ASCII letters and digits (and non-ASCII
bytes), with every CJK ideograph a word of its own. Each word gets a 64-bit tabulation hash
of its bytes, each n-gram an order-sensitive mix of its words' hashes. The whole pipeline runs
on numpy arrays (no Python loop over words), so a corpus streams at tens of MB/s per core.

Two ways to compare a benchmark with a corpus:
- `build_index`: every distinct n-gram hash of the corpus in a sorted uint64 array (8 bytes
  per distinct n-gram: a few GB of text fits in memory), saved as `.npy` and reused for any
  benchmark (`lookup`).
- `scan`: stream the corpus and keep only the benchmark's n-grams that occur (no index; any
  corpus size in constant memory).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from arena.core.errors import DataError

CHUNK_BYTES = 8 << 20
_rng = np.random.default_rng(20231103)
_TABLE = _rng.integers(0, 2**63, size=(64, 256), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_FLAT = _TABLE.ravel()
_POS = _rng.integers(0, 2**63, size=64, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_UPPER = np.zeros(256, dtype=np.uint8)
_UPPER[65:91] = 32
_WORD = np.zeros(256, dtype=bool)
_WORD[48:58] = _WORD[97:123] = _WORD[128:] = True


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint64(30))
        h = h * np.uint64(0xBF58476D1CE4E5B9)
        h = h ^ (h >> np.uint64(27))
        h = h * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique of numpy 2.4 is ~80x slower on uint64 here)."""
    s = np.sort(a)
    if len(s) < 2:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def word_hashes(data: bytes) -> np.ndarray:
    """One uint64 per word of the UTF-8 text `data`."""
    b = np.frombuffer(data, dtype=np.uint8)
    if not len(b):
        return np.zeros(0, dtype=np.uint64)
    b = b + _UPPER[b]  # ASCII lower case
    word = _WORD[b]
    cjk = (b >= 0xE4) & (b <= 0xE9)  # lead byte of U+4000..U+9FFF (3 bytes)
    prev = np.concatenate(([False], word[:-1]))
    after_cjk = np.zeros_like(word)
    after_cjk[3:] = cjk[:-3] & ((b[3:] < 0x80) | (b[3:] >= 0xC0))
    start = word & (~prev | cjk | after_cjk)
    idx = np.flatnonzero(word)
    if not len(idx):
        return np.zeros(0, dtype=np.uint64)
    heads = np.flatnonzero(start[idx])  # word starts, as positions among the word bytes
    lengths = np.diff(heads, append=len(idx))
    pos = np.arange(len(idx), dtype=np.int32) - np.repeat(heads.astype(np.int32), lengths)
    contrib = _FLAT.take(((pos & 63) << 8) | b[idx])  # table[byte index in its word, byte]
    with np.errstate(over="ignore"):
        return _mix(np.add.reduceat(contrib, heads))


def ngram_hashes(words: np.ndarray, n: int) -> np.ndarray:
    """Hash of each run of `n` consecutive words (order-sensitive)."""
    m = len(words) - n + 1
    if m <= 0:
        return np.zeros(0, dtype=np.uint64)
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for t in range(n):
            acc += words[t : t + m] * _POS[t % 64]
    return _mix(acc)


# ------------------------------------------------------------------------------ corpora
def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files of a corpus: files as given, folders searched for .jsonl/.txt/.parquet (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.suffix in (".jsonl", ".txt", ".parquet", ".json")
            )
        elif p.is_file():
            out.append(p)
        else:
            raise DataError("corpus file or folder not found", str(p))
    if not out:
        raise DataError(
            "the corpus has no .jsonl, .txt or .parquet file", ", ".join(map(str, paths))
        )
    return out


def iter_chunks(
    paths: Iterable[str | Path], text_field: str = "text", chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """The corpus as UTF-8 blocks of about `chunk_bytes`, cut between lines or documents."""
    for path in corpus_files(paths):
        if path.suffix == ".parquet":
            yield from _parquet_chunks(path, text_field, chunk_bytes)
        elif path.suffix in (".jsonl", ".json"):
            yield from _jsonl_chunks(path, text_field, chunk_bytes)
        else:
            yield from _text_chunks(path, chunk_bytes)


def _text_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    rest = b""
    with path.open("rb") as fh:
        while block := fh.read(chunk_bytes):
            block = rest + block
            cut = block.rfind(b"\n") + 1 or len(block)
            rest = block[cut:]
            yield block[:cut]
    if rest:
        yield rest


def _jsonl_chunks(path: Path, field: str, chunk_bytes: int) -> Iterator[bytes]:
    buf: list[bytes] = []
    size = 0
    with path.open("rb") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line).get(field)
            except (json.JSONDecodeError, AttributeError):
                raise DataError("not a JSON object", str(path), no) from None
            if not isinstance(text, str):
                raise DataError(f"missing text field '{field}'", str(path), no, field)
            data = text.encode("utf-8")
            buf.append(data)
            size += len(data) + 1
            if size >= chunk_bytes:
                yield b"\n".join(buf)
                buf, size = [], 0
    if buf:
        yield b"\n".join(buf)


def _parquet_chunks(path: Path, field: str, chunk_bytes: int) -> Iterator[bytes]:
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    if field not in f.schema_arrow.names:
        raise DataError(
            f"no column '{field}' (columns: {', '.join(f.schema_arrow.names)})",
            str(path),
            field=field,
        )
    for batch in f.iter_batches(columns=[field], batch_size=4096):
        texts = [t for t in batch.column(0).to_pylist() if t]
        if texts:
            yield "\n".join(texts).encode("utf-8")


# --------------------------------------------------------------------------- index / scan
def build_index(
    paths: Iterable[str | Path], n: int, text_field: str = "text", progress=None
) -> np.ndarray:  # noqa: ANN001
    """Sorted distinct n-gram hashes of a whole corpus (merged every ~64M n-grams)."""
    parts: list[np.ndarray] = []
    pending = 0
    done = 0
    for chunk in iter_chunks(paths, text_field):
        h = _unique(ngram_hashes(word_hashes(chunk), n))
        parts.append(h)
        pending += len(h)
        done += len(chunk)
        if pending > 64_000_000:
            parts, pending = [_unique(np.concatenate(parts))], 0
        if progress:
            progress(done)
    return _unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


def lookup(index: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Which `queries` hashes are in the sorted `index` (boolean array)."""
    if not len(index) or not len(queries):
        return np.zeros(len(queries), dtype=bool)
    pos = np.searchsorted(index, queries)
    pos[pos == len(index)] = 0
    return index[pos] == queries


def scan(
    paths: Iterable[str | Path], n: int, wanted: np.ndarray, text_field: str = "text", progress=None
) -> np.ndarray:  # noqa: ANN001
    """The hashes of `wanted` that occur in the corpus (streamed; memory of one chunk)."""
    wanted = _unique(wanted)
    found = np.zeros(len(wanted), dtype=bool)
    done = 0
    for chunk in iter_chunks(paths, text_field):
        h = ngram_hashes(word_hashes(chunk), n)
        pos = np.searchsorted(wanted, h)
        pos[pos == len(wanted)] = 0
        hit = wanted[pos] == h if len(wanted) else np.zeros(len(h), dtype=bool)
        found[pos[hit]] = True
        done += len(chunk)
        if progress:
            progress(done)
    return wanted[found]


def coverage(words: np.ndarray, matched: np.ndarray, n: int) -> float:
    """Share of an item's words inside at least one matched n-gram (Llama 2's token rule)."""
    if not len(words):
        return 0.0
    covered = np.zeros(len(words) + 1, dtype=np.int64)
    starts = np.flatnonzero(matched)
    np.add.at(covered, starts, 1)
    np.add.at(covered, np.minimum(starts + n, len(words)), -1)
    return float((np.cumsum(covered)[: len(words)] > 0).mean())
