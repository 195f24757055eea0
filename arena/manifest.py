"""``run.json``: one file that says what a run is and how it went.

Status (``started`` -> ``success`` | ``failed`` | ``cancelled``), the versions it ran with,
the config hash, per-stage timings and counts, and the records it holds. Written
atomically (temp file, fsync, rename) at the start, after each stage and at the end, so a
reader never sees half a file, and a killed run leaves ``started`` (with what it finished).
``arena report`` reads the stage table from it; ``--reuse`` reads it to pick and describe
the run it resumes.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from arena.core.errors import ConfigError

MANIFEST = "run.json"
STATUSES = ("started", "success", "failed", "cancelled")
MANIFEST_VERSION = 1
VERSION_OF = ("arena-eval", "torch", "transformers", "pydantic", "sqlalchemy", "openai")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Installed versions of Python and the packages that change numbers (no imports)."""
    out = {"python": platform.python_version()}
    for dist in VERSION_OF:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_manifest(run_dir: Path, data: dict[str, Any]) -> Path:
    """Write ``run_dir/run.json`` atomically; `status` must be one of STATUSES."""
    if data.get("status") not in STATUSES:
        raise ValueError(f"run status must be one of {STATUSES}, not {data.get('status')!r}")
    path = Path(run_dir) / MANIFEST
    fd, tmp = tempfile.mkstemp(prefix=".run.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"manifest_version": MANIFEST_VERSION, **data}, fh, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_manifest(run_dir: Path) -> dict[str, Any] | None:
    """The run's manifest, or None when it has none (a run from before manifests)."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", str(path), exc.lineno) from None
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        raise ConfigError(
            f"not a run manifest (status must be one of {', '.join(STATUSES)})",
            str(path),
            field="status",
        )
    return data
