"""Show a run's config without its secrets: keys named like credentials, values shaped like keys."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

REDACTED = "***REDACTED***"

# Key names that hold credentials (a webhook URL carries its token in the path) ("max_tokens" and friends do not match: whole words only).
_SECRET_KEY = re.compile(
    r"(^|[_\-.])(api[_\-]?key|key|secret|secret[_\-]?key|password|passwd|pwd|token|access[_\-]?token"
    r"|auth|authorization|credentials?|bearer|private[_\-]?key|cookie|webhook([_\-]?url)?)$",
    re.IGNORECASE,
)
# Values that look like a key whatever their key is called.
_SECRET_VALUE = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{12,}|sk_[A-Za-z0-9]{12,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{16,}"
    r"|github_pat_[A-Za-z0-9_]{16,}|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{30,}"
    r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
# A value that only names where the secret lives (an environment variable) is kept.
_ENV_NAME = re.compile(r"^\$?\{?[A-Z_][A-Z0-9_]*\}?$")


def redact_text(text: str) -> str:
    """Mask key-shaped substrings, bearer tokens and URL passwords in free text."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SECRET_VALUE.sub(REDACTED, text)


def redact(obj: Any, key: str = "") -> Any:
    """A copy of a config tree with every secret replaced by :data:`REDACTED`."""
    if isinstance(obj, dict):
        return {k: redact(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, key) for v in obj]
    if _SECRET_KEY.search(key) and obj not in (None, "") and not key.lower().endswith("_env"):
        if not (isinstance(obj, str) and _ENV_NAME.match(obj)):
            return REDACTED
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def config_yaml(config: dict[str, Any]) -> str:
    """The config as YAML, secrets redacted (non-YAML values are shown as strings)."""
    plain = json.loads(json.dumps(config, default=str))
    return yaml.safe_dump(redact(plain), sort_keys=False, allow_unicode=True, width=100)
