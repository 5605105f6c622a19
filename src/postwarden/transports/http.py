"""HTTP check API (FastAPI): the verdict for a message, as the caller's token lets it see it.

``POST /api/v1/check`` takes the raw message as the request body (``Content-Type:
message/rfc822``; any type is read as bytes) with the envelope in query parameters:
``?sender=a@org&rcpt=b@x&rcpt=c@y``; without them the envelope comes from the From / To /
Cc / Bcc headers.  It needs ``Authorization: Bearer TOKEN`` (``postwarden token add``): 401
without a valid one, 429 past the token's rate.  It answers 200 with the verdict (all of it
for the ``check:detail`` scope, without register counts and findings for ``check``: see
:mod:`postwarden.transports.answer`), 400 for an empty body, 413 past the size limit.  It
only inspects: nothing is delivered or held; ``check:detail`` calls are audited.
``GET /healthz`` answers 200 ``{"status": "ok"}`` without a token.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from postwarden.act import Events, InspectorLike
from postwarden.engine.policy import Policy, default_policy
from postwarden.inspector import build_inspector
from postwarden.model import Envelope, Verdict
from postwarden.settings import Settings
from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import open_database, session_factory
from postwarden.store.tokens import Caller, TokenScope, authenticate, record_call
from postwarden.transports.admission import ByteGate, inspection_cost
from postwarden.transports.answer import register_rules, scoped_answer

__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "create_api"]

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024 * 1024
REALM = 'Bearer realm="postwarden"'
_UNAUTHORIZED = {"detail": "a valid API token is required: Authorization: Bearer TOKEN"}


class _Refused(Exception):
    """Answered before the body is read: 401 or 429."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response


@dataclass(frozen=True, slots=True)
class _Admission:
    caller: Caller | None
    retry_after: int = 0


class _Tokens:
    """Authentication, rate limit and call count of the API's callers.

    The rate limit is a moving window per token, kept in this process (the ``limits``
    library's memory storage): each gateway node enforces it on its own, so N nodes behind a
    balancer allow up to N times the rate.
    """

    def __init__(self, db: sessionmaker[Session], secret: bytes, per_minute: int) -> None:
        self.db = db
        self.secret = secret
        self.per_minute = per_minute
        self.limit = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def admit(self, presented: str) -> _Admission:
        """Runs in a worker thread: the database is blocking."""
        with self.db() as session:
            caller = authenticate(session, presented)
            if caller is None:
                return _Admission(None)
            key = str(caller.id)
            if self.limit is not None and not self.limiter.hit(self.limit, key):
                reset = self.limiter.get_window_stats(self.limit, key).reset_time
                return _Admission(caller, retry_after=max(1, math.ceil(reset - time.time())))
            record_call(session, caller.id)
            session.commit()
        return _Admission(caller)

    def audit_detail(self, caller: Caller, verdict: Verdict, size: int) -> None:
        """One audit entry per ``check:detail`` answer: counts only, no personal data."""
        findings: dict[str, int] = {}
        for f in verdict.findings:
            findings[f.detector] = findings.get(f.detector, 0) + 1
        data = {
            "token": caller.name,
            "action": verdict.action.label,
            "rules": [r.rule for r in verdict.reasons],
            "subjects": dict(verdict.subjects),
            "findings": findings,
            "recipients": len(verdict.recipients),
            "bytes": size,
        }
        with self.db() as session:
            audit.record(
                session, AuditKind.API_CHECK, f"token:{caller.name}", data, secret=self.secret
            )
            session.commit()


def create_api(
    settings: Settings,
    checker: InspectorLike | None = None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    engine: Engine | None = None,
    gate: ByteGate | None = None,
    events: Events | None = None,
) -> FastAPI:
    """The API application; ``checker`` defaults to the inspector every front end of
    ``settings`` uses (same policy, history and exemptions as the mail path), ``engine`` to
    the installation's (migrated) database, ``gate`` to a gate of
    ``settings.access.inspection_memory_bytes`` (pass the process's shared one); each
    inspection is reported to ``events`` (the metrics)."""
    if checker is None:
        checker = build_inspector(settings)
    if engine is None:
        engine = open_database(settings.db_url).engine
    inspect = checker
    default_rules = register_rules(default_policy())
    access = settings.access
    tokens = _Tokens(session_factory(engine), settings.secret(), access.api_requests_per_minute)
    memory = gate if gate is not None else ByteGate(access.inspection_memory_bytes)
    report = events or Events()
    app = FastAPI(title="Postwarden", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.tokens = tokens

    @app.exception_handler(_Refused)
    async def refused(_request: Request, exc: _Refused) -> JSONResponse:
        return exc.response

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"{API_PREFIX}/check")
    async def check(
        request: Request,
        who: Annotated[Caller, Depends(_caller)],
        sender: Annotated[str | None, Query()] = None,
        rcpt: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        spool = await _spool_body(request, max_body_bytes, access.spool_bytes)
        try:
            size = spool.tell()
            if size == 0:
                raise HTTPException(400, "empty message: send the raw message as the request body")
            envelope = None
            if sender is not None or rcpt:
                envelope = Envelope(sender=sender or "", recipients=tuple(rcpt or ()))
            # The body waits on disk until its inspection fits in the process's memory budget.
            async with memory.admit(inspection_cost(size)):
                spool.seek(0)
                raw = spool.read()
                spool.close()
                if raw.isspace():  # not strip(): that would copy a large message
                    raise HTTPException(
                        400, "empty message: send the raw message as the request body"
                    )
                # The engine is CPU-bound and blocking: a worker thread keeps the loop serving.
                verdict = await run_in_threadpool(inspect.check, raw, envelope)
                del raw
        finally:
            spool.close()
        report.checked(verdict, size)
        if who.scope is TokenScope.CHECK_DETAIL:
            await run_in_threadpool(tokens.audit_detail, who, verdict, size)
        return scoped_answer(verdict, who.scope, _register_rules(inspect, default_rules))

    return app


async def _caller(request: Request) -> Caller:
    """The token the request authenticates with; 401 or 429 before its body is read."""
    tokens = request.app.state.tokens
    assert isinstance(tokens, _Tokens)  # noqa: S101 - set by create_api
    admitted = await run_in_threadpool(tokens.admit, _bearer(request))
    if admitted.caller is None:
        # One answer for every failure (none, malformed, unknown, expired, revoked).
        raise _Refused(JSONResponse(_UNAUTHORIZED, 401, headers={"WWW-Authenticate": REALM}))
    if admitted.retry_after:
        raise _Refused(
            JSONResponse(
                {"detail": f"rate limit: {tokens.per_minute} calls a minute per token"},
                429,
                headers={"Retry-After": str(admitted.retry_after)},
            )
        )
    return admitted.caller


def _bearer(request: Request) -> str:
    """The token of ``Authorization: Bearer TOKEN`` (RFC 6750 §2.1), else ``""``."""
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _register_rules(checker: InspectorLike, default: frozenset[str]) -> frozenset[str]:
    """The register rules of the policy in force now (a reload swaps ``checker.policy``)."""
    policy = getattr(checker, "policy", None)
    return register_rules(policy) if isinstance(policy, Policy) else default


async def _spool_body(request: Request, limit: int, in_memory: int) -> IO[bytes]:
    """The body in a temp file that moves to disk past ``in_memory`` bytes, refused with 413
    as soon as it passes ``limit`` (never buffered beyond it)."""
    declared = request.headers.get("content-length")
    too_large = HTTPException(
        413, f"message larger than {limit} bytes", headers={"Connection": "close"}
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    # Unlinked and mode 0600 once on disk: concurrent large bodies do not pile up in RAM.
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=in_memory)
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            spool.write(chunk)
    except ClientDisconnect:
        spool.close()
        raise HTTPException(400, "the client went away before the end of the body") from None
    except BaseException:
        spool.close()
        raise
    return spool
