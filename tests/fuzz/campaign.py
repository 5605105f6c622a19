"""A fuzzing campaign: mutants of the corpus messages through the whole engine.

Each mutant goes through the inspector ``postwarden check`` builds, with an outside
recipient, and must (1) not raise, (2) reach its verdict within ``Limits.max_seconds``, and
(3) never be *deliver* when a part failed to open (an ``uninspectable`` finding). Mutant
``i`` of seed ``s`` is made from ``random.Random(f"{s}:{i}")`` alone, so any one of them is
made again without the others (``python -m tests.fuzz --seed s --only i --save DIR``).
"""

from __future__ import annotations

import random
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Protocol

from tests.factories import make_eml
from tests.fuzz.mutate import mutant
from tests.fuzz.openable import failed_parts

from postwarden.engine import Inspector
from postwarden.model import UNINSPECTABLE, Action, Envelope, Verdict
from postwarden.settings import Limits, init_data_dir

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
DOCUMENTS = {"poi-hostile-office": "application/octet-stream", "qpdf-bad-pdfs": "application/pdf"}
_NOT_MAIL = ("COPYING", "LICENSE", "NOTICE", "README", "SOURCE")
ORG = "demo.gov.hk"
ENVELOPE = Envelope("clerk@demo.gov.hk", ("ann@outside.example",))
"""An outside recipient: anything uninspectable must be held for it."""


class Checking(Protocol):
    """What the campaign needs of an inspector."""

    @property
    def limits(self) -> Limits: ...

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class Seed:
    name: str
    raw: bytes


@dataclass(slots=True)
class Violation:
    """A mutant that broke an invariant, with what is needed to make it again."""

    index: int
    seed: str
    operators: tuple[str, ...]
    kind: str
    detail: str
    raw: bytes = b""


@dataclass(slots=True)
class Figures:
    """What a campaign measured."""

    mutants: int = 0
    crashes: int = 0
    uninspectable_delivered: int = 0
    over_time: int = 0
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    actions: Counter[str] = field(default_factory=Counter)
    uninspectable: int = 0
    failed_to_open: int = 0
    """Mutants with a part its own library cannot open (see :mod:`tests.fuzz.openable`)."""
    failed_unflagged: int = 0
    """... of those, with no uninspectable finding at all."""
    failed_unflagged_delivered: int = 0
    violations: list[Violation] = field(default_factory=list)
    unflagged: list[Violation] = field(default_factory=list)
    """Mutants whose failed part got no finding (kept for the report, not a failure; their
    bytes are not kept: ``make_mutant`` makes them again)."""

    @property
    def max_seconds(self) -> float:
        return max(self.seconds, default=0.0)

    def percentile(self, q: float) -> float:
        if not self.seconds:
            return 0.0
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def summary(self) -> str:
        actions = ", ".join(f"{a} {n}" for a, n in sorted(self.actions.items()))
        return "\n".join(
            [
                f"mutants:                       {self.mutants}",
                f"crashes:                       {self.crashes}",
                f"uninspectable delivered:       {self.uninspectable_delivered}",
                f"over the time limit:           {self.over_time}",
                f"seconds per mutant:            max {self.max_seconds:.3f}, "
                f"p99 {self.percentile(0.99):.3f}, p50 {self.percentile(0.5):.4f} (wall); "
                f"{self.cpu_seconds:.1f} s CPU in all",
                f"verdicts:                      {actions}",
                f"with an uninspectable finding: {self.uninspectable}",
                f"a part failed to open:         {self.failed_to_open} "
                f"(no uninspectable finding: {self.failed_unflagged}, "
                f"of those delivered: {self.failed_unflagged_delivered})",
            ]
        )


def seeds(max_bytes: int | None = None) -> list[Seed]:
    """Every corpus message, and every hostile document attached to a message; those over
    ``max_bytes`` left out (a fixed sample that must stay quick)."""
    out: list[Seed] = []
    for corpus in sorted(p for p in CORPORA.iterdir() if p.is_dir()):
        for path in sorted(p for p in (corpus / "files").rglob("*") if p.is_file()):
            if path.name.upper().startswith(_NOT_MAIL):
                continue
            raw = path.read_bytes()
            if corpus.name in DOCUMENTS:
                raw = make_eml(
                    sender=ENVELOPE.sender,
                    to=list(ENVELOPE.recipients),
                    subject="document",
                    body="Please see the attached file.",
                    attachments=[(path.name, raw, DOCUMENTS[corpus.name])],
                )
            if max_bytes is None or len(raw) <= max_bytes:
                out.append(Seed(f"{corpus.name}/{path.relative_to(corpus / 'files')}", raw))
    return out


@contextmanager
def inspector() -> Iterator[Inspector]:
    """The inspector ``postwarden check`` uses, over a fresh data dir."""
    # Imported here: the CLI package pulls in Typer, which a caller of seeds() need not load.
    from postwarden.cli.inspector import open_inspector

    with TemporaryDirectory(prefix="postwarden-fuzz-") as tmp:
        settings = init_data_dir(Path(tmp) / "var", [ORG])
        yield open_inspector(settings)


def make_mutant(corpus: list[Seed], seed: int, index: int) -> tuple[Seed, bytes, tuple[str, ...]]:
    rng = random.Random(f"{seed}:{index}")
    origin = rng.choice(corpus)
    raw, operators = mutant(rng, origin.raw)
    return origin, raw, operators


def run(
    checker: Checking,
    corpus: list[Seed],
    *,
    count: int,
    seed: int,
    start: int = 0,
    oracle: bool = True,
    progress: int = 0,
) -> Figures:
    """Mutants ``start`` .. ``start + count - 1`` of ``seed`` through ``checker``."""
    figures = Figures()
    limit = checker.limits.max_seconds
    for index in range(start, start + count):
        origin, raw, operators = make_mutant(corpus, seed, index)
        figures.mutants += 1
        started, cpu = time.monotonic(), time.process_time()
        try:
            verdict = checker.check(raw, ENVELOPE)
        except Exception as exc:
            figures.crashes += 1
            detail = "".join(traceback.format_exception_only(exc)).strip()
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            figures.violations.append(
                Violation(
                    index,
                    origin.name,
                    operators,
                    "crash",
                    f"{detail} at {tb.filename}:{tb.lineno}",
                    raw,
                )
            )
            continue
        elapsed = time.monotonic() - started
        figures.cpu_seconds += time.process_time() - cpu
        figures.seconds.append(elapsed)
        figures.actions[verdict.action.label] += 1
        if elapsed > limit:
            figures.over_time += 1
            figures.violations.append(
                Violation(index, origin.name, operators, "time", f"{elapsed:.1f} s", raw)
            )
        flagged = [f for f in verdict.findings if f.detector == UNINSPECTABLE]
        if flagged:
            figures.uninspectable += 1
            if verdict.action < Action.HOLD:
                figures.uninspectable_delivered += 1
                reasons = "; ".join(sorted({f"{f.source}: {f.detail}" for f in flagged}))
                figures.violations.append(
                    Violation(
                        index, origin.name, operators, f"{verdict.action.label}", reasons, raw
                    )
                )
        if oracle:
            failed = failed_parts(raw)
            if failed:
                figures.failed_to_open += 1
                if not flagged:
                    figures.failed_unflagged += 1
                    delivered = verdict.action is Action.DELIVER
                    figures.failed_unflagged_delivered += delivered
                    figures.unflagged.append(
                        Violation(
                            index,
                            origin.name,
                            operators,
                            verdict.action.label,
                            "; ".join(failed[:3]),
                        )
                    )
        if progress and figures.mutants % progress == 0:
            print(f"... {figures.mutants} mutants, {figures.crashes} crashes", flush=True)
    return figures
