from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.transports.doubles import ScriptedInspector, make_gateway, message
from tests.transports.tokens import make_token

from postwarden.act import InspectorLike
from postwarden.console import create_console
from postwarden.engine.detect.hkid import hkid_check_digit
from postwarden.engine.registers import import_register
from postwarden.inspector import build_inspector
from postwarden.model import Envelope
from postwarden.outbound import MemoryOutbound
from postwarden.settings import Settings
from postwarden.store import audit
from postwarden.store.audit import AuditEntry
from postwarden.store.credentials import set_password
from postwarden.store.sessions import open_session
from postwarden.store.tokens import TokenScope, list_tokens, revoke_token
from postwarden.store.users import add_user
from postwarden.transports.http import create_api

Client = Callable[..., httpx.Response]


def _client(settings: Settings, checker: InspectorLike, db: Engine, **kw: Any) -> Client:
    app = create_api(settings, checker, engine=db, **kw)

    def request(method: str, url: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, url, headers=headers, **kw)

        return asyncio.run(go())

    return request


@pytest.fixture
def client(settings: Settings, inspector: ScriptedInspector, db: Engine) -> Client:
    """``client(method, url, token=..., **kw)``: one request through the ASGI app."""
    return _client(settings, inspector, db, max_body_bytes=4096)


@pytest.fixture
def detail(settings: Settings, db: Engine) -> str:
    return make_token(db, settings, "detail", TokenScope.CHECK_DETAIL)


def test_check_answers_the_verdict_json(
    client: Client, inspector: ScriptedInspector, detail: str
) -> None:
    raw = message("hold", marker="api")
    resp = client(
        "POST",
        "/api/v1/check",
        token=detail,
        content=raw,
        headers={"Content-Type": "message/rfc822"},
        params=[("sender", "alice@demo.gov.hk"), ("rcpt", "x@gmail.com"), ("rcpt", "y@z.hk")],
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["action"] == "hold"
    assert body["reasons"][0]["rule"] == "test-rule"
    assert set(body) >= {"action", "reasons", "subjects", "findings", "recipients"}
    assert body["scope"] == "check:detail"
    assert inspector.seen == [(raw, Envelope("alice@demo.gov.hk", ("x@gmail.com", "y@z.hk")))]


def test_check_without_envelope_leaves_it_to_the_headers(
    client: Client, inspector: ScriptedInspector, detail: str
) -> None:
    resp = client("POST", "/api/v1/check", token=detail, content=message(marker="hdr"))
    assert resp.json()["action"] == "deliver"
    assert inspector.seen[0][1] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"  \r\n", 400), (b"x" * 5000, 413)],
)
def test_check_refuses_empty_and_oversized(
    client: Client, inspector: ScriptedInspector, detail: str, body: bytes, status: int
) -> None:
    assert client("POST", "/api/v1/check", token=detail, content=body).status_code == status
    assert inspector.seen == []


def test_check_refuses_oversized_stream_without_length(
    client: Client, inspector: ScriptedInspector, detail: str
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000

    assert client("POST", "/api/v1/check", token=detail, content=chunks()).status_code == 413
    assert inspector.seen == []


def test_healthz_needs_no_token(client: Client) -> None:
    resp = client("GET", "/healthz")
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


# -- authentication ---------------------------------------------------------------------


def test_every_kind_of_bad_credential_gets_the_same_401(
    client: Client, inspector: ScriptedInspector, settings: Settings, db: Engine
) -> None:
    revoked = make_token(db, settings, "gone")
    with Session(db) as s:
        revoke_token(s, "gone", actor="test", secret=settings.secret())
        s.commit()
    expired = make_token(
        db, settings, "old", expires_at=datetime.now(UTC) + timedelta(milliseconds=300)
    )
    asyncio.run(asyncio.sleep(0.4))
    valid = make_token(db, settings, "ok")
    tries: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {valid}"},
        {"Authorization": f"Bearer {valid[:-1]}"},
        {"Authorization": "Bearer pwt_" + "A" * 43},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Bearer {expired}"},
        {"X-Api-Token": valid},
    ]
    answers = set()
    for headers in tries:
        resp = client("POST", "/api/v1/check", content=message("hold"), headers=headers)
        assert resp.status_code == 401, headers
        answers.add((resp.headers["www-authenticate"], resp.text))
    assert answers == {
        (
            'Bearer realm="postwarden"',
            json.dumps(
                {"detail": "a valid API token is required: Authorization: Bearer TOKEN"},
                separators=(",", ":"),
            ),
        )
    }
    assert inspector.seen == []
    assert client("POST", "/api/v1/check", token=valid, content=message()).status_code == 200


def test_calls_are_counted_per_token_and_rate_limited(
    settings: Settings, inspector: ScriptedInspector, db: Engine
) -> None:
    limited = replace(settings, access=replace(settings.access, api_requests_per_minute=3))
    client = _client(limited, inspector, db)
    a = make_token(db, settings, "a", TokenScope.CHECK)
    b = make_token(db, settings, "b", TokenScope.CHECK)
    codes = [
        client("POST", "/api/v1/check", token=a, content=message()).status_code for _ in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    resp = client("POST", "/api/v1/check", token=a, content=message())
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["retry-after"]) <= 60
    assert client("POST", "/api/v1/check", token=b, content=message()).status_code == 200
    assert len(inspector.seen) == 4
    with Session(db) as s:
        calls = {t.name: (t.calls, t.last_used_at is not None) for t in list_tokens(s)}
    assert calls == {"a": (3, True), "b": (1, True)}


def test_detail_calls_are_audited_without_personal_data(
    client: Client, settings: Settings, db: Engine, detail: str
) -> None:
    plain = make_token(db, settings, "plain", TokenScope.CHECK)
    raw = message("hold", body="HKID A123456(3), call 9123 4567")
    assert client("POST", "/api/v1/check", token=detail, content=raw).status_code == 200
    assert client("POST", "/api/v1/check", token=plain, content=raw).status_code == 200
    with Session(db) as s:
        entries = [e for e in s.scalars(select(AuditEntry)) if e.kind == "api.check"]
        assert audit.verify(s, secret=settings.secret()).ok
    [entry] = entries
    assert entry.actor == "token:detail"
    data = json.loads(entry.data)
    assert data["token"] == "detail"  # noqa: S105 - the token name, not a secret
    assert data["action"] == "hold"
    assert data["rules"] == ["test-rule"]
    assert data["bytes"] == len(raw)
    assert "A123456" not in entry.data
    assert "9123" not in entry.data


# -- scope: the check API is no register oracle ------------------------------------------


def _hkid(prefix: str, digits: str) -> str:
    return f"{prefix}{digits}({hkid_check_digit(prefix, digits)})"


REGISTERED = _hkid("K", "234567")
UNREGISTERED = _hkid("K", "765432")


@pytest.fixture
def engine_client(settings: Settings, db: Engine, tmp_path: Path) -> Client:
    """The API over the real engine, with a register holding one person."""
    source = tmp_path / "voters.csv"
    source.write_text(
        "id,name_en,hkid,email\n"
        f"1,CHAN Tai Man,{REGISTERED},tm.chan@example.net\n"
        f"2,WONG Siu Ming,{_hkid('P', '111111')},sm.wong@example.net\n",
        encoding="utf-8",
    )
    import_register(source, "voters", settings.registers_dir, settings.secret())
    return _client(settings, build_inspector(settings, engine=db), db)


def _probe(client: Client, token: str, hkid: str, rcpt: str) -> dict[str, Any]:
    raw = (
        f"From: clerk@demo.gov.hk\r\nTo: {rcpt}\r\nSubject: your form\r\n\r\n"
        f"Please find the form of the applicant, HKID {hkid}, attached.\r\n"
    )
    resp = client(
        "POST",
        "/api/v1/check",
        token=token,
        content=raw.encode(),
        params=[("sender", "clerk@demo.gov.hk"), ("rcpt", rcpt)],
    )
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    body.pop("elapsed_ms")  # the measured time: different on every call
    return body


@pytest.mark.parametrize("rcpt", ["colleague@demo.gov.hk", "someone@outside.example"])
def test_check_scope_answers_alike_for_registered_and_unregistered_people(
    engine_client: Client, settings: Settings, db: Engine, rcpt: str
) -> None:
    full = make_token(db, settings, "full", TokenScope.CHECK_DETAIL)
    plain = make_token(db, settings, "plain", TokenScope.CHECK)
    # The detail scope tells them apart (so the probe really does hit the register) ...
    seen = _probe(engine_client, full, REGISTERED, rcpt)
    unseen = _probe(engine_client, full, UNREGISTERED, rcpt)
    assert seen["subjects"] == {"voters": 1}
    assert unseen["subjects"] == {"voters": 0} or unseen["subjects"] == {}
    assert seen["findings"]
    # ... the check scope does not: the same bytes for both people.
    registered = _probe(engine_client, plain, REGISTERED, rcpt)
    unregistered = _probe(engine_client, plain, UNREGISTERED, rcpt)
    assert registered == unregistered
    assert registered["subjects"] == {}
    assert registered["findings"] == []
    assert registered["scope"] == "check"
    assert all(set(r) == {"rule", "message", "action"} for r in registered["reasons"])
    assert "voter" not in json.dumps(registered)
    if rcpt.endswith("outside.example"):
        assert seen["action"] == registered["action"] == "hold"
        assert "register-data-external" in {r["rule"] for r in seen["reasons"]}
    else:
        assert registered["action"] == "deliver"


def test_check_scope_stands_in_a_generic_reason_for_a_register_rule(
    engine_client: Client, settings: Settings, db: Engine
) -> None:
    """A registered email address alone holds the message (the action says so), but the
    check scope neither names the register rule nor counts anyone."""
    plain = make_token(db, settings, "plain", TokenScope.CHECK)
    raw = b"From: clerk@demo.gov.hk\r\nTo: x@outside.example\r\nSubject: fwd\r\n\r\n"
    raw += b"Write to tm.chan@example.net about it.\r\n"
    resp = engine_client(
        "POST",
        "/api/v1/check",
        token=plain,
        content=raw,
        params=[("sender", "clerk@demo.gov.hk"), ("rcpt", "x@outside.example")],
    )
    body = resp.json()
    assert body["action"] == "hold"
    assert [r["rule"] for r in body["reasons"]] == ["personal-data"]
    assert "register" not in body["reasons"][0]["message"]


# -- the console's session is not an API credential, and a token opens no console page ----


def test_console_session_does_not_open_the_api_nor_a_token_the_console(
    settings: Settings, inspector: ScriptedInspector, db: Engine
) -> None:
    gateway = make_gateway(settings, MemoryOutbound(), inspector)
    try:
        api = create_api(settings, inspector, engine=db)
        api.mount("/", create_console(settings, gateway))
        with Session(db) as s:
            user = add_user(
                s, "pat", "privacy-officer", "pat@demo.gov.hk", actor="t", secret=settings.secret()
            )
            set_password(
                s, "pat", "correct horse battery staple 7F3q", actor="t", secret=settings.secret()
            )
            s.flush()
            cookie = open_session(s, user.id).token
            s.commit()
        token = make_token(db, settings, "crm", TokenScope.CHECK_DETAIL)

        async def go() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                with_cookie = {"Cookie": f"postwarden_session={cookie}"}
                a = await c.post("/api/v1/check", content=message(), headers=with_cookie)
                b = await c.get("/", headers={"Authorization": f"Bearer {token}"})
                d = await c.get("/", headers=with_cookie)
                return a, b, d

        by_cookie, by_token, console = asyncio.run(go())
    finally:
        gateway.close()
    assert by_cookie.status_code == 401
    assert console.status_code == 200  # the cookie is a live session of a signed-in user
    assert by_token.status_code == 303
    assert "/login" in by_token.headers["location"]
    assert inspector.seen == []
