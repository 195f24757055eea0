"""Run notifications: a JSON POST to a webhook on start, finish and failure.

Payloads come in three shapes: `generic` (our own JSON), `lark` (Feishu/Lark bot text
message, like OpenCompass's status reports) and `slack` (incoming-webhook text). A failing
webhook never fails the run: the error is logged and the run goes on.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

Event = Literal["start", "finish", "failure"]


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    webhook: str
    format: Literal["generic", "lark", "slack"] = "generic"
    events: list[Event] = Field(default_factory=lambda: ["start", "finish", "failure"])
    timeout: float = 10.0


def _text(event: str, run: str, summary: str | None, error: str | None) -> str:
    head = {"start": "started", "finish": "finished", "failure": "FAILED"}[event]
    parts = [f"Arena run {run} {head}"]
    if error:
        parts.append(f"error: {error}")
    if summary:
        parts.append(summary)
    return "\n".join(parts)


def payload(cfg: NotifyConfig, event: str, run: str, summary: str | None = None,
            error: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body for one event in the configured shape."""
    text = _text(event, run, summary, error)
    if cfg.format == "lark":
        return {"msg_type": "text", "content": {"text": text}}
    if cfg.format == "slack":
        return {"text": text}
    return {"event": event, "run": run, "summary": summary, "error": error, **(extra or {})}


def notify(cfg: NotifyConfig | None, event: Event, run: str, summary: str | None = None,
           error: str | None = None, extra: dict[str, Any] | None = None) -> bool:
    """POST one event; True when the webhook answered 2xx. Never raises."""
    if cfg is None or event not in cfg.events:
        return False
    import httpx

    try:
        resp = httpx.post(cfg.webhook, json=payload(cfg, event, run, summary, error, extra),
                          timeout=cfg.timeout)
        resp.raise_for_status()
        return True
    except Exception as exc:  # a notification must never break a run
        log.warning("webhook %s failed: %s", event, type(exc).__name__)
        return False
