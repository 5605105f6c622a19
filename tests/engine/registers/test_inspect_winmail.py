"""A register extract inside a winmail.dat (Outlook's TNEF) counted like any attachment."""

from __future__ import annotations

import numpy as np
import pytest
from tests.engine.registers.conftest import Imported
from tests.engine.registers.people import People
from tests.factories import make_eml, make_tnef, make_xlsx

from postwarden.engine import Inspector
from postwarden.model import Action


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",), registers=voters.registers())


def test_winmail_dat_with_xlsx_register_extract_to_outside_is_held(
    inspector: Inspector, voters: Imported
) -> None:
    idx = np.random.default_rng(7).choice(20_000, size=250, replace=False)
    sheet = [list(People.COLUMNS), *voters.people.rows(People.COLUMNS, idx)]
    winmail = make_tnef(
        "voters", "The extract as discussed.", {"extract.xlsx": make_xlsx({"Sheet1": sheet})}
    )
    raw = make_eml(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="extract",
        body="",
        attachments=[("winmail.dat", winmail, "application/ms-tnef")],
    )
    report = inspector.inspect(raw)
    assert report.verdict.subjects == {"voters": 250}
    assert report.record_ids == {"voters": set(idx.tolist())}
    assert report.verdict.action >= Action.HOLD
    places = {f.source for f in report.verdict.findings if f.detector == "register:voters"}
    assert places == {"attachment:winmail.dat/extract.xlsx"}
