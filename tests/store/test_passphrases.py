"""The passphrase policy: length, the breached list and zxcvbn's score, with the user's context."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.orm import Session

from postwarden.store import credentials
from postwarden.store.passphrases import PassphraseError, check_passphrase

SECRET = b"k" * 32
ALICE = ("alice", "alice@demo.gov.hk")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("password1234", "breached"),
        (" " * 12, "white space"),
        ("short pw", "too short"),
        ("qwertyuiop12", "breached"),
        ("Password1234!", "too easy to guess"),
        ("123456789012", "too easy to guess"),
        ("alicealice2026", "user name or e-mail"),
        ("abcdefabcdef", "too easy to guess"),
        ("alice.demo.gov.hk", "user name or e-mail"),
        ("Alice@demo.gov.hk!!", "user name or e-mail"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    with pytest.raises(PassphraseError, match=why):
        check_passphrase(password, user_inputs=ALICE)


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "Tr0ub4dor&3xx", "violet kettle mountain ferry 42"],
)
def test_good_passphrases_are_accepted(password: str) -> None:
    check_passphrase(password, user_inputs=ALICE)


def test_generated_demo_passwords_are_accepted() -> None:
    # scripts/run.sh (make run) gives each demo user secrets.token_urlsafe(12).
    for _ in range(200):
        check_passphrase(secrets.token_urlsafe(12), user_inputs=("admin", "admin@demo.gov.hk"))


def test_very_long_passphrase_is_judged_not_crashed() -> None:
    check_passphrase("maple " * 3 + secrets.token_hex(400), user_inputs=ALICE)
    with pytest.raises(PassphraseError):
        check_passphrase("a" * 1024, user_inputs=ALICE)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaa", "password1234", " " * 12])
def test_set_password_applies_the_policy(db: Session, password: str) -> None:
    with pytest.raises(credentials.CredentialError):
        credentials.set_password(db, "alice", password, actor="t", secret=SECRET)
