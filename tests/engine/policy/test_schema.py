from __future__ import annotations

import pytest

from postwarden.engine.policy import PolicyError, default_policy, default_policy_text, load_policy

DESIGN_RULES = [
    "webmail-recipient",
    "register-data-external",
    "subject-not-recipient",
    "lookalike-domain",
    "near-known-recipient",
    "uninspectable-external",
    "malformed-structure-external",
    "hkid-external",
    "visible-recipient-list",
    "test-send-with-attachment",
]

GOOD = """\
version: 1
groups:
  hr: ["*@hr.reo.gov.hk"]
rules:
  - id: hr-webmail
    action: hold
    message: HR to webmail
    when:
      sender_groups: [hr]
      recipients: {class: [webmail]}
"""


def test_default_policy_ships_the_rules_of_the_design() -> None:
    assert [r.id for r in default_policy().rules] == DESIGN_RULES


def test_default_policy_text_is_the_file_that_loads() -> None:
    assert "webmail-recipient" in default_policy_text()


def test_load_policy_accepts_a_valid_file() -> None:
    policy = load_policy(GOOD, "local.yaml")
    assert [r.id for r in policy.rules] == ["hr-webmail"]
    assert policy.source == "local.yaml"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace("action: hold", "action: block"), 6, "rules.0.action"),
        (GOOD.replace("[webmail]", "[webmale]"), 10, "rules.0.when.recipients.class"),
        (GOOD.replace("sender_groups: [hr]", "sender_groups: [finance]"), 9, "unknown group"),
        (GOOD.replace("recipients: {class", "recipient: {class"), 10, "recipient"),
        (GOOD.replace("id: hr-webmail", "id: HR Webmail"), 5, "rules.0.id"),
        (GOOD.replace("{class: [webmail]}", "{flags: [lookalke]}"), 10, "unknown flag 'lookalke'"),
        (GOOD.replace("version: 1", "version: 2"), 1, "version"),
        (
            GOOD + "  - id: hr-webmail\n    action: warn\n    message: again\n"
            "    when: {attachments: {min: 1}}\n",
            11,
            "appears twice",
        ),
        (GOOD.replace("message: HR to webmail", "message: [unclosed"), 8, "invalid YAML"),
        ("- just\n- a list\n", 1, "mapping"),
    ],
)
def test_load_policy_refuses_with_line_numbers(text: str, line: int, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, "local.yaml")
    errors = caught.value.errors
    assert any(e.startswith(f"local.yaml:{line}:") and fragment in e for e in errors), errors


def test_load_policy_refuses_a_rule_without_conditions() -> None:
    text = "version: 1\nrules:\n  - id: x\n    action: hold\n    message: m\n    when: {}\n"
    with pytest.raises(PolicyError, match="at least one condition"):
        load_policy(text)


def test_default_policy_is_parsed_once_per_process() -> None:
    # Every Inspector (each scan run, each scan worker) takes the same immutable object.
    assert default_policy() is default_policy()
