"""Incident pages: who may see them, CSRF, status changes, report and letters downloads."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
import httpx
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select
from tests.console.conftest import PASSWORD, Console, csrf_of
from tests.factories import make_csv

from postwarden.act import Gateway
from postwarden.incidents.casebook import Casebook
from postwarden.incidents.intake import NewItem
from postwarden.settings import Settings
from postwarden.store import audit
from postwarden.store.audit import AuditEntry

TITLE = "Voter list to a personal gmail 8KQ2"
MISTYPED, INTENDED = "chan.taiman@gmial.com", "chan.taiman@gmail.com"
# (id, English name, Chinese name, English address, Chinese address, status); V5 has died and
# V9 is in the register but was not in what left.
PEOPLE = [
    ("V1", "CHAN Tai Man", "陳大文", "Flat A, 1 Nathan Road", "九龍彌敦道1號A室", "active"),
    ("V2", "LEE Siu Ming", "李小明", "2 Queen's Road, Central", "中環皇后大道2號", "active"),
    # A clerk's typo, or an attack on whoever opens the mail merge in a spreadsheet.
    ("V3", '=HYPERLINK("http://evil.test")', "王美玲", "+852 3 King's Rd", "英皇道3號", "active"),
    ("V4", "WONG Ka Yan", "黃嘉欣", "@4 Hennessy Road", "軒尼詩道4號", "active"),
    ("V5", "HO Chi Keung", "何志強", "5 Des Voeux Road", "德輔道5號", "deceased"),
    ("V9", "NG Outside Scope", "吳域外", "9 Far Away Road", "遠方道9號", "active"),
]
LEAKED = PEOPLE[:5]


def _item(ref: str, recipient: str, minute: int) -> NewItem:
    return NewItem(
        kind="message",
        ref=ref,
        sha256=ref.encode().hex().ljust(64, "0"),
        sender="clerk@demo.gov.hk",
        sent_at=datetime(2026, 3, 2, 1, minute, tzinfo=UTC),
        recipients=(recipient,),
        size=1234,
        records=tuple(("voters", rid, status) for rid, *_, status in LEAKED),
        fields=frozenset({"name_en", "name_zh", "address_en", "address_zh"}),
    )


@pytest.fixture
def incident(settings: Settings, gateway: Gateway) -> int:
    """The same list sent to a mistyped then to the intended address: one set of people."""
    casebook = Casebook(gateway.engine, settings.secret())
    return casebook.open(
        TITLE, [_item("sent-0.eml", MISTYPED, 15), _item("sent-1.eml", INTENDED, 19)], by="olivia"
    )


@pytest.fixture
def client(console: Console) -> Iterator[httpx.Client]:
    """A client of the live console (uvicorn on loopback), not signed in."""
    with console.client() as c:
        yield c


def _login(client: httpx.Client, name: str) -> str:
    """Sign ``client`` in as ``name``; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login", data={"csrf": csrf_of(form), "username": name, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/"))


def _status(gateway: Gateway, settings: Settings, incident: int) -> str:
    return Casebook(gateway.engine, settings.secret()).facts(incident).status


def _register_csv(rows: list[tuple[str, ...]] = PEOPLE) -> bytes:
    header = ["id", "name_en", "name_zh", "address_en", "address_zh", "status"]
    return make_csv([header, *[list(r) for r in rows]])


def _posts(incident: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"/incidents/{incident}/status", {"status": "contained", "note": "recall sent"}),
        (f"/incidents/{incident}/report", {"kind": "json"}),
        (f"/incidents/{incident}/letters", {"register_name": "voters"}),
    ]


def test_incident_routes_without_a_session_are_refused(
    client: httpx.Client, incident: int, gateway: Gateway, settings: Settings
) -> None:
    for path in ("/incidents", f"/incidents/{incident}"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    for path, data in _posts(incident):
        response = client.post(path, data=data, files={"register_file": ("v.csv", b"id\n")})
        assert response.status_code == 403, path
        assert TITLE not in response.text
    assert _status(gateway, settings, incident) == "open"


@pytest.mark.parametrize("name", ["alice", "adam"])
def test_incident_pages_refuse_reviewers_and_admins(
    client: httpx.Client, incident: int, gateway: Gateway, settings: Settings, name: str
) -> None:
    token = _login(client, name)
    assert 'href="/incidents"' not in client.get("/").text  # not offered in the navigation
    for path in ("/incidents", f"/incidents/{incident}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert TITLE not in response.text
        assert MISTYPED not in response.text
    for path, data in _posts(incident):
        response = client.post(
            path,
            data={**data, "csrf": token},
            files={"register_file": ("voters.csv", _register_csv())},
        )
        assert response.status_code == 403, path
        assert TITLE not in response.text
        assert "CHAN Tai Man" not in response.text
    assert _status(gateway, settings, incident) == "open"


def test_incident_posts_without_the_csrf_token_are_refused(
    client: httpx.Client, incident: int, gateway: Gateway, settings: Settings
) -> None:
    good = _login(client, "olivia")
    for path, data in _posts(incident):
        for token in (None, "", good[:-2] + "zz"):
            body = dict(data) if token is None else {**data, "csrf": token}
            response = client.post(
                path, data=body, files={"register_file": ("voters.csv", _register_csv())}
            )
            assert response.status_code == 403, (path, token)
    # A cross-site form post is refused even with the right token.
    response = client.post(
        f"/incidents/{incident}/status",
        headers={"Origin": "https://evil.example"},
        data={"csrf": good, "status": "closed", "note": "x"},
    )
    assert response.status_code == 403
    assert _status(gateway, settings, incident) == "open"


def test_incident_detail_shows_scope_items_recipients_and_timeline(
    client: httpx.Client, incident: int
) -> None:
    _login(client, "olivia")
    listing = client.get("/incidents")
    assert listing.status_code == 200
    assert TITLE in listing.text
    assert f'href="/incidents/{incident}"' in listing.text
    page = client.get(f"/incidents/{incident}")
    assert page.status_code == 200
    text = page.text
    # Five distinct people over both sends, four living and one deceased.
    assert '<div class="stat" id="scope-subjects">5</div>' in text
    assert '<div class="stat" id="scope-living">4</div>' in text
    assert '<div class="stat" id="scope-deceased">1</div>' in text
    assert "active: 4" in text
    assert "deceased: 1" in text
    assert "voters: 5" in text
    for address in (MISTYPED, INTENDED):
        assert address in text
    assert "sent-0.eml" in text
    assert "sent-1.eml" in text
    assert "not sent" in text  # recall state of the unintended recipients
    assert ">open<" in text
    assert client.get("/incidents/999").status_code == 404


def test_incident_status_change_is_on_the_timeline_and_in_the_audit_chain(
    client: httpx.Client, incident: int, gateway: Gateway, settings: Settings
) -> None:
    token = _login(client, "olivia")
    path = f"/incidents/{incident}/status"
    response = client.post(
        path, data={"csrf": token, "status": "contained", "note": "Recipient deleted it."}
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Status changed" in page.text
    assert "Recipient deleted it." in page.text
    assert _status(gateway, settings, incident) == "contained"
    # The same status again, an unknown one, or no note: refused, nothing changes.
    for data in (
        {"status": "contained", "note": "again"},
        {"status": "exploded", "note": "x"},
        {"status": "closed", "note": "  "},
    ):
        assert client.post(path, data={"csrf": token, **data}).status_code == 400, data
    assert _status(gateway, settings, incident) == "contained"
    with gateway.session() as db:
        entries = db.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert audit.verify(db, secret=settings.secret()).ok
    changes = [(e.actor, json.loads(e.data)) for e in entries if e.kind == "incident.status"]
    assert [(actor, d["status"], d["from"]) for actor, d in changes] == [
        ("olivia", "contained", "open")
    ]
    # The free-text note stays out of the chain (it may name people).
    assert not any("Recipient deleted" in e.data for e in entries)


def test_incident_report_downloads_match_the_scope(
    client: httpx.Client, incident: int, gateway: Gateway, settings: Settings
) -> None:
    token = _login(client, "olivia")
    path = f"/incidents/{incident}/report"
    response = client.post(path, data={"csrf": token, "kind": "json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    report = response.json()
    assert report["data_subjects"]["subjects"] == 5
    assert report["data_subjects"]["living"] == 4
    response = client.post(path, data={"csrf": token, "kind": "docx"})
    assert response.status_code == 200
    document = docx.Document(io.BytesIO(response.content))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert any("5" in c for c in cells)
    assert client.post(path, data={"csrf": token, "kind": "exe"}).status_code == 422
    events = Casebook(gateway.engine, settings.secret()).facts(incident).events
    assert [e.data["format"] for e in events if e.kind == "report"] == ["json", "docx"]


def _files_text(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.mark.slow
def test_incident_letters_zip_holds_only_living_people_in_scope_and_keeps_nothing(
    client: httpx.Client,
    incident: int,
    settings: Settings,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Path] = []
    mkdtemp = tempfile.mkdtemp

    def recording_mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(Path(mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recording_mkdtemp)  # the console runs here
    token = _login(client, "olivia")
    response = client.post(
        f"/incidents/{incident}/letters",
        data={"csrf": token},
        files={"register_file": ("voters.csv", _register_csv(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(bundle.namelist())
    letters = [n for n in names if n.startswith("letter-")]
    assert len(letters) == 4
    assert "letters-all.pdf" in names
    sheet = bundle.read("mail-merge.csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(sheet)))
    assert [r["record_id"] for r in rows] == ["V1", "V2", "V3", "V4"]
    # Formula cells reach the spreadsheet as text (OWASP CSV injection).
    v3, v4 = rows[2], rows[3]
    assert v3["name_en"] == "'" + PEOPLE[2][1]
    assert v3["address_en"] == "'" + PEOPLE[2][3]
    assert v4["address_en"] == "'" + PEOPLE[3][3]
    assert rows[0]["name_en"] == "CHAN Tai Man"
    doc = pdfium.PdfDocument(bundle.read(rows[0]["letter_file"]))
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    doc.close()
    assert "CHAN Tai Man" in text
    assert "陳大文" in text
    everything = b"".join(bundle.read(n) for n in names)
    for rid, name_en, name_zh, *_ in PEOPLE[4:]:  # deceased, and outside the scope
        assert name_en.encode() not in everything
        assert name_zh.encode() not in everything
        assert rid.encode() not in bundle.read("mail-merge.csv")
    # The data dir holds no clear register value: not the upload, not the letters.
    kept = _files_text(settings.data_dir)
    for _, name_en, name_zh, address_en, address_zh, _ in PEOPLE:
        for value in (name_en, name_zh, address_en, address_zh):
            assert value.encode() not in kept, value
    # The letters' working directory is outside the data dir and gone once the zip was sent.
    [work] = [p for p in made if p.name.startswith("postwarden-console-letters-")]
    assert not work.is_relative_to(settings.data_dir)
    deadline = time.monotonic() + 10
    while work.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not work.exists()
    facts = Casebook(gateway.engine, settings.secret()).facts(incident)
    [run] = [e.data for e in facts.events if e.kind == "letters"]
    assert run == {"letters": 4, "deceased": 1, "missing": 0, "register": "voters"}


def test_incident_letters_refuse_an_unreadable_register_file(
    client: httpx.Client, incident: int
) -> None:
    token = _login(client, "olivia")
    response = client.post(
        f"/incidents/{incident}/letters",
        data={"csrf": token},
        files={"register_file": ("notes.csv", b"colour,size\nred,3\n", "text/csv")},
    )
    assert response.status_code == 400
    assert "no record id column" in response.text
    assert "/proc/" not in response.text  # the memory file's path is not the officer's concern
