"""A typo in a policy is an error with its line and the known names (issue 13)."""

from __future__ import annotations

import pytest

from postwarden.engine import policy_vocabulary
from postwarden.engine.policy import PolicyError, Vocabulary, default_policy_text, load_policy

BASE = """\
version: 1
rules:
  - id: typo
    action: hold
    message: m
    when:
      {condition}
"""


def _errors(condition: str, vocabulary: Vocabulary | None) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(BASE.format(condition=condition), "local.yaml", vocabulary)
    return caught.value.errors


@pytest.mark.parametrize(
    ("condition", "fragment", "known"),
    [
        ("findings: {detector: hkidd}", "unknown detector 'hkidd'", "hkid, name_en"),
        ("findings: {detector: [phone, emial]}", "unknown detector 'emial'", "email"),
        ("recipients: {class: [webmale]}", "unknown class 'webmale'", "internal, partner"),
        ("recipients: {flags: [lookalke]}", "unknown flag 'lookalke'", "lookalike, first-time"),
        (
            "recipients: {not_flags: [registered]}",
            "unknown flag 'registered'",
            "registered-correspondent",
        ),
        ("subjects: {register: voter}", "unknown register 'voter'", "members, voters"),
        ("findings: {detector: 'register:voter'}", "unknown register 'voter'", "voters"),
    ],
)
def test_unknown_names_are_refused_with_line_and_known_names(
    condition: str, fragment: str, known: str
) -> None:
    vocabulary = policy_vocabulary(["voters", "members"])
    errors = _errors(condition, vocabulary)
    assert len(errors) == 1, errors
    assert errors[0].startswith("local.yaml:7:"), errors
    assert fragment in errors[0]
    assert known in errors[0]


def test_unknown_action_is_refused_with_the_known_ones() -> None:
    text = BASE.format(condition="attachments: {min: 1}").replace("hold", "quarantine")
    with pytest.raises(PolicyError) as caught:
        load_policy(text, "local.yaml")
    [error] = caught.value.errors
    assert error.startswith("local.yaml:4:")
    assert "unknown action 'quarantine' (one of: deliver, warn, hold, reject)" in error


def test_known_names_load() -> None:
    condition = (
        "findings: {detector: [hkid, uninspectable, 'register:voters']}\n"
        "      subjects: {register: voters}\n"
        "      recipients: {class: [webmail], not_flags: [registered-correspondent]}"
    )
    text = BASE.format(condition=condition)
    assert load_policy(text, "local.yaml", policy_vocabulary(["voters"])).rules


def test_register_names_are_unchecked_without_an_installation() -> None:
    text = BASE.format(condition="subjects: {register: anything}")
    assert load_policy(text, "local.yaml", policy_vocabulary()).rules
    assert load_policy(text, "local.yaml").rules


def test_no_registers_imported_says_so() -> None:
    [error] = _errors("subjects: {register: voters}", policy_vocabulary([]))
    assert "unknown register 'voters' (registers: none imported)" in error


def test_default_policy_names_only_known_things() -> None:
    load_policy(default_policy_text(), "default.yaml", policy_vocabulary([]))
