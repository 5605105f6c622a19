"""A fixed-seed sample of the fuzzing campaign (``make fuzz`` runs as many as asked).

2,000 mutants of the corpus messages up to 128 KiB, each through the inspector ``check``
uses with an outside recipient: no exception, every verdict within ``Limits.max_seconds``,
and never *deliver* with an uninspectable finding. About 20 s of CPU.
"""

from __future__ import annotations

import time

import pytest
from tests.fuzz.campaign import ENVELOPE, inspector, make_mutant, run, seeds
from tests.fuzz.mutate import OPERATORS

from postwarden.model import UNINSPECTABLE, Action, Envelope, Finding, Verdict
from postwarden.settings import Limits

SEED = 10
MUTANTS = 2000
MAX_BYTES = 128 * 1024


@pytest.mark.slow
def test_fuzz_sample_keeps_the_invariants() -> None:
    corpus = seeds(MAX_BYTES)
    assert len(corpus) > 500  # the corpora are in the repository (tests/corpora)
    with inspector() as checker:
        figures = run(checker, corpus, count=MUTANTS, seed=SEED, oracle=False)
    failures = "\n".join(
        f"#{v.index} {v.kind} from {v.seed} via {'+'.join(v.operators)}: {v.detail}"
        for v in figures.violations
    )
    assert figures.mutants == MUTANTS
    assert figures.crashes == 0, failures
    assert figures.uninspectable_delivered == 0, failures
    assert figures.over_time == 0, failures
    assert figures.max_seconds <= checker.limits.max_seconds
    # The sample is worth its time only if it reaches both sides of the rule.
    assert figures.actions["deliver"] > 0
    assert figures.uninspectable > 0


def test_fuzz_mutants_are_reproducible_and_varied() -> None:
    corpus = seeds(MAX_BYTES)
    first = [make_mutant(corpus, SEED, i) for i in range(200)]
    again = [make_mutant(corpus, SEED, i) for i in range(200)]
    assert first == again
    used = {name for _, _, operators in first for name in operators}
    assert used == {op.__name__ for op in OPERATORS}
    assert sum(raw != origin.raw for origin, raw, _ in first) >= 190


def test_fuzz_envelope_is_outside() -> None:
    assert all(not r.endswith("@demo.gov.hk") for r in ENVELOPE.recipients)


class _Broken:
    """An engine that breaks each invariant in turn: the campaign must count every one."""

    limits = Limits(max_seconds=0.05)

    def __init__(self) -> None:
        self.calls = 0

    def check(self, raw: bytes, envelope: Envelope | None = None) -> Verdict:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("boom")
        if self.calls == 2:
            time.sleep(0.1)
        unreadable = Finding(UNINSPECTABLE, "attachment:x.pdf", detail="corrupt")
        return Verdict(Action.DELIVER, findings=[unreadable] if self.calls == 3 else [])


def test_fuzz_campaign_counts_each_kind_of_violation() -> None:
    corpus = seeds(4096)[:5]
    figures = run(_Broken(), corpus, count=4, seed=SEED, oracle=False)
    assert (figures.mutants, figures.crashes, figures.over_time) == (4, 1, 1)
    assert figures.uninspectable_delivered == 1
    assert [v.kind for v in figures.violations] == ["crash", "time", "deliver"]
    assert "RuntimeError: boom" in figures.violations[0].detail
