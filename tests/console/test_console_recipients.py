"""The message view shows each recipient's flags, registered correspondents included."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.console.conftest import ORG, Console
from tests.factories import make_eml

from postwarden.engine.registers import import_register
from postwarden.settings import Settings

MEMBERS = [
    ("1", "CHAN Tai Man", "91234567", "chantaiman.hk@gmail.com"),
    ("2", "LEE Siu Ming", "92345678", "siuming.lee@yahoo.com.hk"),
]


@pytest.fixture
def members(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    rows = ["id,name_en,phone,email", *(",".join(m) for m in MEMBERS)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_register(path, "members", settings.registers_dir, settings.secret())


def test_message_view_shows_the_registered_correspondent_flag(
    members: None, console: Console
) -> None:
    # Member 2's reply slip to member 1's registered gmail address: held, not rejected.
    raw = make_eml(
        sender=f"clerk@{ORG}",
        to=[MEMBERS[0][3]],
        subject="Reply slip",
        body=f"Name: {MEMBERS[1][1]}\nTel: {MEMBERS[1][2]}\nEmail: {MEMBERS[1][3]}\n",
    )
    item = console.hold(raw, f"clerk@{ORG}", MEMBERS[0][3])
    with console.login("alice") as client:
        page = client.get(f"/messages/{item}")
    assert page.status_code == 200
    row = page.text.split(f'class="mono">{MEMBERS[0][3]}</td>', 1)[1].split("</tr>", 1)[0]
    assert '<span class="flag">registered-correspondent</span>' in row
