"""The engine times its stages on the verdict, for the latency metrics (docs/metrics.md)."""

from __future__ import annotations

from tests.factories import make_xlsx

from postwarden.engine import Inspector
from postwarden.model import Envelope

STAGES = {"parse", "extract", "detect", "registers", "policy"}


def test_inspect_times_every_stage() -> None:
    raw = (
        b"From: a@demo.gov.hk\r\nTo: b@partner.example\r\nSubject: s\r\n\r\n"
        b"HKID A123456(3) for the file.\r\n"
    )
    verdict = Inspector(org_domains=("demo.gov.hk",)).check(
        raw, Envelope("a@demo.gov.hk", ("b@partner.example",))
    )
    assert set(verdict.timings) == STAGES
    assert all(seconds >= 0 for seconds in verdict.timings.values())
    assert 0 < sum(verdict.timings.values()) <= verdict.elapsed_ms / 1000 + 1e-6
    assert "timings" not in verdict.to_json()  # the check --json shape is unchanged


def test_inspect_file_has_no_parse_stage() -> None:
    report = Inspector().inspect_file(
        "list.xlsx", make_xlsx({"Sheet1": [["Name"], ["Chan Tai Man"]]})
    )
    assert set(report.verdict.timings) == STAGES - {"parse"}
