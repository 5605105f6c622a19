"""``decide=False`` (the discovery scan's inspection): the same findings and subjects as a
full inspection, without the policy's decision."""

from __future__ import annotations

from tests.factories import make_eml, make_xlsx

from postwarden.engine import Inspector, Report
from postwarden.model import Action, Envelope

SHEET = make_xlsx({"Sheet1": [["Name", "HKID"], ["Chan Tai Man", "A123456(3)"]]})


def _found(report: Report) -> list[tuple[str, str]]:
    return [(f.detector, f.where) for f in report.verdict.findings]


def test_inspect_file_without_decision_finds_the_same() -> None:
    inspector = Inspector(org_domains=("demo.gov.hk",))
    full = inspector.inspect_file("list.xlsx", SHEET)
    bare = inspector.inspect_file("list.xlsx", SHEET, decide=False)
    assert _found(bare) == _found(full)
    assert ("hkid", "attachment:list.xlsx#Sheet1!R2") in _found(bare)
    assert full.decision is not None
    assert bare.decision is None
    assert "policy" not in bare.verdict.timings


def test_inspect_without_decision_leaves_the_action_and_reasons_unset() -> None:
    raw = make_eml(
        sender="a@demo.gov.hk",
        to=["b@partner.example"],
        subject="list",
        body="HKID A123456(3) for the file.",
    )
    envelope = Envelope("a@demo.gov.hk", ("b@partner.example",))
    inspector = Inspector(org_domains=("demo.gov.hk",))
    full = inspector.inspect(raw, envelope)
    bare = inspector.inspect(raw, envelope, decide=False)
    assert full.verdict.action is not Action.DELIVER
    assert full.verdict.reasons
    assert bare.verdict.action is Action.DELIVER
    assert not bare.verdict.reasons
    assert _found(bare) == _found(full)
    assert bare.verdict.subjects == full.verdict.subjects
