"""The policy's finding counts and places: a short mail's loop against the C-level passes."""

from __future__ import annotations

import random

import pytest

from postwarden import engine
from postwarden.model import Finding


def test_few_findings_are_counted_and_placed_as_many_are(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(14)
    detectors = ("phone", "name_en", "hkid", "uninspectable", "mime-defect")
    wheres = (
        "body",
        "subject",
        "attachment:a.xlsx#Sheet1!R2",
        "attachment:a.xlsx#Sheet1!R9",
        "attachment:b.pdf#page 3",
        "attachment:fwd.eml/body",
        "attachment:x#y#z",
    )
    for _ in range(300):
        findings = [
            Finding(detector=rng.choice(detectors), where=rng.choice(wheres))
            for _ in range(rng.randrange(0, 40))
        ]
        few = engine._counts_and_places(findings)
        monkeypatch.setattr(engine, "_FEW_FINDINGS", -1)
        many = engine._counts_and_places(findings)
        monkeypatch.setattr(engine, "_FEW_FINDINGS", 64)
        assert few == many
        assert list(few[0]) == list(many[0])
        assert list(few[1]) == list(many[1])
