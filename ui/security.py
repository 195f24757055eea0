"""Response headers that keep the rating pages from being framed, sniffed or scripted.

Every response gets `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
`Referrer-Policy: no-referrer` and a Content-Security-Policy with `frame-ancestors 'none'`.
Scripts: only files from this server (`'self'`) plus, on an HTML page, the exact inline
scripts that page was sent with (by SHA-256 hash: Gradio writes its config inline), so a
script injected anywhere else does not run. No `'unsafe-inline'` and no `'unsafe-eval'` for
scripts, except that pages which carry Gradio's config get `'unsafe-eval'`: Gradio 6 builds
its HTML components' templates with `new Function` and shows nothing without it (an injected
`<script>` or `on*` attribute still does not run: they need `'unsafe-inline'`). Styles keep
`'unsafe-inline'` (Gradio sets style attributes at run time).
"""

from __future__ import annotations

import base64
import hashlib
import re

_INLINE = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)
_BASE_CSP = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "media-src 'self' blob:; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def csp_for(body: bytes) -> bytes:
    """The policy of one response: 'self' plus the hashes of the body's inline scripts."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()}'"
        for m in _INLINE.finditer(body)
    )
    if b"window.gradio_config" in body:
        hashes += " 'unsafe-eval'"
    return _BASE_CSP.format(hashes=hashes).encode()


_PLAIN_CSP = csp_for(b"")  # every response that is not an HTML page (computed once)


class SecurityHeaders:
    """Plain ASGI middleware: adds the headers; buffers only HTML bodies (to hash scripts)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: dict = {}

        async def wrapped(message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"content-security-policy", b"x-frame-options")
                ]
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                message = {**message, "headers": headers + HEADERS}
                if ctype.startswith(b"text/html"):
                    held["start"], held["body"] = message, []
                    return
                message["headers"].append((b"content-security-policy", _PLAIN_CSP))
                await send(message)
                return
            if message["type"] == "http.response.body" and "start" in held:
                held["body"].append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(held["body"])
                start = held["start"]
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                headers += [
                    (b"content-security-policy", csp_for(body)),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, wrapped)
