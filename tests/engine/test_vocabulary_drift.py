"""Each vocabulary is said once: the restatements that remain must agree (issue 13)."""

from __future__ import annotations

from pathlib import Path

from postwarden.engine import policy_vocabulary
from postwarden.engine.detect import default_detectors, registry
from postwarden.engine.policy import ACTIONS, CLASSES, FLAGS
from postwarden.engine.recipients import EMITTED_FLAGS, ContactIndex, RecipientAnalyzer
from postwarden.model import Action, RecipientClass, RecipientFlag

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_policy_flags_classes_and_actions_are_the_models_enums() -> None:
    assert set(FLAGS) == {f.value for f in RecipientFlag}
    assert set(CLASSES) == {c.value for c in RecipientClass}
    assert set(ACTIONS) == {a.label for a in Action}


def test_every_flag_is_set_by_a_stage_and_every_stage_flag_is_known() -> None:
    # The engine itself sets registered-correspondent (it needs the registers).
    assert EMITTED_FLAGS | {RecipientFlag.REGISTERED_CORRESPONDENT} == set(RecipientFlag)


def test_the_analyzer_emits_exactly_its_declared_flags() -> None:
    history = ContactIndex.build(
        [("alice.wong@lawfirm.com.hk", 12), ("chan.taiman@gmail.com", 5)],
        [("tmchan@reo.gov.hk", "CHAN Tai Man")],
    )

    class _Exempt:
        def exempt(self, sender: str, domain: str) -> bool:
            return domain == "qq.com"

    analyzer = RecipientAnalyzer(("reo.gov.hk",), history=history, exemptions=_Exempt())
    infos = analyzer.analyze(
        "tmchan@reo.gov.hk",
        [
            "x@lawfirrn.com.hk",  # lookalike, first-time
            "alice.wonq@lawfirm.com.hk",  # near-known
            "chantaiman@yahoo.com.hk",  # self-forward
            "x@qq.com",  # exempt
            "owner@groups.msn.com",  # mailing-list
        ],
        sender_name="CHAN Tai Man",
    )
    emitted = {flag for info in infos for flag in info.flags}
    assert emitted == {str(f) for f in EMITTED_FLAGS}


def test_policy_detectors_are_the_registry() -> None:
    ids = {d.id for d in default_detectors().detectors}
    assert policy_vocabulary().detectors == ids == set(registry.ids)


def test_policy_docs_name_every_flag_and_class() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in (*FLAGS, *CLASSES):
        assert f"`{name}`" in text, name
