"""The compiled count of a report's findings (``finding_counts`` in ``_hsscan.c``) gives what
`scan._counted_py` gives, in the same order: on generated findings with runs of register
findings in one place, detector strings equal but not the same object, and more distinct
detectors than the compiled count keeps in its array."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden import scan
from postwarden.engine.detect.base import make_finding
from postwarden.model import Finding

pytestmark = pytest.mark.skipif(scan.finding_counts is None, reason="_hsscan is not built")

_DETECTORS = ["hkid", "phone", "register:voters", "register:staff", "uninspectable"]
_DETECTORS += [f"d{n}" for n in range(40)] + [f"register:r{n}" for n in range(5)]
_WHERES = ["body", "attachment:a.xlsx#s!R1", "attachment:a.xlsx#s!R2", "attachment:a.xlsx"]
_WHERES += ["attachment:b.zip/c.csv#3", "#x", "", "a#b#c", "attachment:a.xlsx#", "ab#"]


def _copy(text: str) -> str:
    """An equal str that is another object."""
    return "".join(list(text))


_FINDING = st.builds(
    lambda detector, where, fresh, slotted: (make_finding if slotted else Finding)(
        _copy(detector) if fresh else detector, where, "v", 0, 1, 0.5
    ),
    st.sampled_from(_DETECTORS),
    st.sampled_from(_WHERES),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=500, deadline=None)
@given(
    runs=st.lists(st.tuples(_FINDING, st.integers(1, 5)), max_size=80),
)
def test_findings_are_counted_the_same(runs: list[tuple[Finding, int]]) -> None:
    findings = [finding for finding, times in runs for _ in range(times)]
    assert scan.finding_counts is not None
    counts, places = scan.finding_counts(findings, "register:")
    slow_counts, slow_places = scan._counted_py(findings)
    assert list(counts.items()) == list(slow_counts.items())
    assert list(places.items()) == list(slow_places.items())


def test_a_scan_counts_its_findings_in_c() -> None:
    findings = [make_finding("hkid", f"attachment:a.xlsx#s!R{n}", "v", 0, 1, 0.5) for n in range(9)]
    findings.append(make_finding("register:voters", "attachment:a.xlsx#s!R1", "", 0, 0, 1.0))
    assert scan._counted(findings) == (
        {"hkid": 9, "register:voters": 1},
        {("register:voters", "attachment:a.xlsx"): 1},
    )


def test_what_is_no_str_is_refused() -> None:
    assert scan.finding_counts is not None
    with pytest.raises(TypeError):
        scan.finding_counts([Finding(detector=1, where="w")], "register:")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scan.finding_counts([Finding(detector="register:x", where=None)], "register:")  # type: ignore[arg-type]
