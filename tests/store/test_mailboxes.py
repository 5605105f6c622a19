"""Mailboxes for four eyes: one person behind sub-addresses, case, IDN forms and aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwarden.store.mailboxes import (
    MAX_ALIAS_DEPTH,
    AliasError,
    Mailboxes,
    message_senders,
    read_aliases,
)

ORG = ("example.org", "例子.香港")


@pytest.mark.parametrize(
    ("person", "sender", "separators", "same"),
    [
        ("alice@example.org", "alice+x@example.org", "+", True),
        ("alice@example.org", "ALICE@Example.ORG.", "+", True),
        ("alice@example.org", "<Alice+Tag+More@EXAMPLE.org>", "+", True),
        ("alice@example.org", "alice-x@example.org", "+", False),
        ("alice@example.org", "alice-x@example.org", "-", True),
        ("alice@example.org", "alice+x@example.org", "+-", True),
        ("alice@example.org", "alice-x@example.org", "+-", True),
        ("alice@例子.香港", "alice+x@xn--fsqu00a.xn--j6w193g", "+", True),
        ("alice@XN--FSQU00A.xn--j6w193g", "Alice@例子.香港", "+", True),
        ("alice@example.org", '"alice"@example.org', "+", True),
        ("alice@example.org", "alice@sub.example.org", "+", False),
        ("alice@example.org", "bob@example.org", "+", False),
        ("alice@example.org", "alicia@example.org", "+", False),
        # Outside our domains the local part is the other system's business.
        ("Alice@partner.example", "alice@partner.example", "+", False),
        ("alice@partner.example", "alice@PARTNER.example", "+", True),
    ],
)
def test_mailboxes_compare_as_one_person(
    person: str, sender: str, separators: str, same: bool
) -> None:
    boxes = Mailboxes(ORG, separators=separators)
    assert (boxes.shared(person, [sender]) is not None) is same


def test_aliases_are_followed_both_ways_and_transitively(tmp_path: Path) -> None:
    path = tmp_path / "aliases"
    path.write_text(
        "# role addresses\n"
        "press: team\n"
        "team: alice,\n"
        "      carol@example.org, |/usr/bin/procmail, /var/mail/team, :include:/etc/x\n"
        "loop1: loop2\nloop2: loop1, dave\n"
        "outside@partner.example: erin@example.org\n",
        encoding="utf-8",
    )
    boxes = Mailboxes(("example.org",), aliases=read_aliases(path))
    assert boxes.shared("alice@example.org", ["team@example.org"]) == "team@example.org"
    assert boxes.shared("alice@example.org", ["Press+x@example.org"]) is not None
    assert boxes.shared("carol@example.org", ["press@example.org"]) is not None
    assert boxes.shared("erin@example.org", ["outside@partner.example"]) is not None
    # A loop ends; dave is found through it.
    assert boxes.shared("dave@example.org", ["loop1@example.org"]) is not None
    # The reviewer's own address is a role address that leads to the sender.
    assert boxes.shared("team@example.org", ["alice@example.org"]) is not None
    # bob is in no alias: he may release any of these.
    for sender in ("team@example.org", "press@example.org", "alice@example.org"):
        assert boxes.shared("bob@example.org", [sender]) is None
    assert not any("procmail" in t or "/var" in t for t in boxes.expand("team@example.org"))


def test_alias_depth_is_capped() -> None:
    chain = {f"a{i}": [f"a{i + 1}"] for i in range(MAX_ALIAS_DEPTH + 5)}
    boxes = Mailboxes(("example.org",), aliases=chain)
    found = boxes.expand("a0@example.org")
    assert f"a{MAX_ALIAS_DEPTH}@example.org" in found
    assert f"a{MAX_ALIAS_DEPTH + 2}@example.org" not in found


def test_unreadable_aliases_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AliasError):
        read_aliases(tmp_path / "missing")


def test_message_senders_reads_envelope_from_and_sender() -> None:
    raw = (
        b"From: =?utf-8?B?abcde?= <Alice+news@example.org>, carol@example.org\r\n"
        b'Sender: "Dave" <dave@example.org>\r\nTo: x@partner.example\r\n\r\nbody\r\n'
    )
    assert message_senders("bounce+1@example.org", raw) == [
        "bounce+1@example.org",
        "Alice+news@example.org",
        "carol@example.org",
        "dave@example.org",
    ]
    assert message_senders("", b"Subject: none\r\n\r\n") == []
