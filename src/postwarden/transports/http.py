"""HTTP check API (FastAPI): the verdict for a message, the same JSON as ``check --json``.

``POST /api/v1/check`` takes the raw message as the request body (``Content-Type:
message/rfc822``; any type is read as bytes) with the envelope in query parameters:
``?sender=a@org&rcpt=b@x&rcpt=c@y``; without them the envelope comes from the From / To /
Cc / Bcc headers.  It answers 200 with the verdict, 400 for an empty body, 413 past the
size limit.  It only inspects: nothing is delivered, held or recorded.
``GET /healthz`` answers 200 ``{"status": "ok"}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from postwarden.act import Inspecting
from postwarden.inspection import build_inspector
from postwarden.model import Envelope
from postwarden.settings import Settings

__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "create_api"]

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024 * 1024


def create_api(
    settings: Settings, checker: Inspecting | None = None, *, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """The API application; ``checker`` defaults to the inspector every front end of
    ``settings`` uses (same policy, history and exemptions as the mail path)."""
    if checker is None:
        checker = build_inspector(settings)
    inspect = checker
    app = FastAPI(title="Postwarden", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"{API_PREFIX}/check")
    async def check(
        request: Request,
        sender: Annotated[str | None, Query()] = None,
        rcpt: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        raw = await _read_body(request, max_body_bytes)
        if not raw.strip():
            raise HTTPException(400, "empty message: send the raw message as the request body")
        envelope = None
        if sender is not None or rcpt:
            envelope = Envelope(sender=sender or "", recipients=tuple(rcpt or ()))
        # The engine is CPU-bound and blocking: a worker thread keeps the loop serving.
        verdict = await run_in_threadpool(inspect.check, raw, envelope)
        return verdict.to_json()

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` (never buffered beyond it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"message larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"message larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
