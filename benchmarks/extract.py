"""Parse + extract CPU time: a message carrying a 15,070-row xlsx, and the ``check``
benchmark's typical 50 KB message (letter, its html twin, a docx of minutes); plus the whole
``check`` of the xlsx message without registers (issue 2's target: <= 1.0 s; the registers
benchmark times it against a 4.5-million-row register).

CPU time (``time.process_time``), not wall time: the machine is shared, and a loaded core
would otherwise be measured as slow code.
"""

from __future__ import annotations

import statistics
import time

from tests.factories import make_eml, make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.extract import Extraction, extract
from postwarden.engine.extract.office import VERIFIED
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

ROWS = 15_070
RUNS = 300

_LIMITS = Limits()


def _parse_extract(raw: bytes) -> tuple[float, Extraction]:
    VERIFIED.forget()  # every run meets the office parts afresh, as a new message's would
    started = time.process_time()
    extraction = extract(parse_message(raw, None, _LIMITS), _LIMITS, time.monotonic() + 120)
    return (time.process_time() - started) * 1000, extraction


def _xlsx() -> None:
    rows: list[list[object]] = [["id", "name_en", "name_zh", "address", "phone"]]
    rows += [
        [
            i,
            "CHAN Tai Man",
            "陳大文",
            f"Flat {i % 40}, {i % 30}/F, Block B, Kwai Chung Estate",
            91234567 + i,
        ]
        for i in range(ROWS)
    ]
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="list",
        body="attached",
        attachments=[("voters.xlsx", make_xlsx({"voters": rows}), "application/octet-stream")],
    )
    times = []
    for _ in range(5):
        elapsed, extraction = _parse_extract(raw)
        times.append(elapsed)
    print(
        f"  parse+extract of a {ROWS:,}-row xlsx email ({len(raw) / 1024:.0f} KiB, "
        f"{len(extraction.units):,} units): median {statistics.median(times):.0f} ms CPU, "
        f"best {min(times):.0f} ms"
    )
    inspector = Inspector(org_domains=("org.example",))
    checks = []
    for _ in range(5):
        VERIFIED.forget()
        started = time.process_time()
        verdict = inspector.check(raw)
        checks.append((time.process_time() - started) * 1000)
    print(
        f"  check of that email, no registers ({verdict.action.label}, "
        f"{len(verdict.findings):,} findings): median {statistics.median(checks):.0f} ms CPU, "
        f"best {min(checks):.0f} ms"
    )


def _typical() -> None:
    from benchmarks.check import _message

    raw = _message()
    for _ in range(20):
        _parse_extract(raw)
    times = sorted(_parse_extract(raw)[0] for _ in range(RUNS))
    print(
        f"  parse+extract of the check benchmark's {len(raw) / 1024:.0f} KB message (docx "
        f"attached): p50 {statistics.median(times):.1f} ms CPU, "
        f"p99 {times[int(len(times) * 0.99) - 1]:.1f} ms, {RUNS} runs"
    )


def main() -> None:
    _xlsx()
    _typical()
