"""A scan result counts an item's findings: the C-speed count gives what placing every
finding one by one gives, on generated findings (registers, detectors and unreadable parts in
the body, in attachments and in members inside them)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from postwarden.model import UNINSPECTABLE, Finding
from postwarden.scan import ScanItem, ScanResult, _result

_DETECTORS = ("hkid", "phone", "name_en", "register:voters", "register:staff", UNINSPECTABLE)
_SOURCES = ("body", "attachment:a.xlsx", "attachment:b.zip/c.csv", "attachment:d%23e.docx", "")
_POSITIONS = ("", "#s!R1", "#s!R2", "#page 1", "#a#b")


def _place(source: str) -> str:
    return source.removeprefix("attachment:") or "body"


def _one_by_one(item: ScanItem, findings: list[Finding], subjects: dict[str, int]) -> ScanResult:
    """Every finding placed in turn: what the scan counted before it counted at C speed."""
    counts: Counter[str] = Counter()
    members: dict[str, Counter[str]] = {}
    uninspectable: set[str] = set()
    for f in findings:
        if f.detector.startswith("register:"):
            members.setdefault(_place(f.source), Counter())[f.detector[9:]] += 1
        elif f.detector == UNINSPECTABLE:
            uninspectable.add(f"{_place(f.source)}: {f.detail}")
        else:
            counts[f.detector] += 1
    return ScanResult(
        key=item.key,
        size=item.size,
        subjects={k: v for k, v in sorted(subjects.items()) if v},
        findings=dict(sorted(counts.items())),
        members={k: dict(v) for k, v in sorted(members.items())},
        uninspectable=sorted(uninspectable),
    )


_FINDINGS = st.lists(
    st.builds(
        lambda detector, source, position, detail: Finding(
            detector=detector, where=source + position, detail=detail
        ),
        st.sampled_from(_DETECTORS),
        st.sampled_from(_SOURCES),
        st.sampled_from(_POSITIONS),
        st.sampled_from(("", "corrupt pdf", "encrypted zip member")),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    findings=_FINDINGS,
    subjects=st.dictionaries(st.sampled_from(("voters", "staff")), st.integers(0, 5)),
)
def test_the_result_counts_as_placing_each_finding_does(
    findings: list[Finding], subjects: dict[str, int]
) -> None:
    item = ScanItem("k", "/k", 0.0, 10)
    fast, slow = _result(item, findings, subjects), _one_by_one(item, findings, subjects)
    assert fast == slow
    # The same order inside each place too: it is what the state file and the JSON show.
    assert [list(v) for v in fast.members.values()] == [list(v) for v in slow.members.values()]
