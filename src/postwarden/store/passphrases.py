"""What a console password must be: long, not a known breached or common one, not guessable.

Three checks, each with its own message: at least :data:`MIN_LENGTH` characters; not on the
list of common and breached passwords (zxcvbn's 30,000 most frequent from public breach
corpora, see ``passphrases.SOURCE``), compared without case and white space; and a zxcvbn
strength score of at least :data:`MIN_SCORE`, with the user's name and address as context so
that ``alice-postwarden-2026`` does not pass for alice.  (OWASP ASVS 5.0 V6.2: length over
composition rules, a breached-password list, a strength estimator.)
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from postwarden.errors import Invalid
from postwarden.i18n import _

__all__ = ["MIN_LENGTH", "MIN_SCORE", "PassphraseError", "check_passphrase"]

MIN_LENGTH = 12
MIN_SCORE = 3
"""zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline slow-hash
scenario" (about 10^10 guesses), enough behind argon2id and the sign-in throttle."""
_ESTIMATE_CHARS = 72
"""zxcvbn refuses longer input (its matching grows faster than linearly): these decide."""


class PassphraseError(Invalid, ValueError):
    """The password is refused; the message says why and what would do."""


@cache
def _breached() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def _context(user_inputs: Iterable[str | None]) -> list[str]:
    words = ["postwarden", "console", "password", "passphrase"]
    for value in user_inputs:
        if not value:
            continue
        words.append(value)
        local, _at, domain = value.partition("@")
        words.extend(p for p in (local, *domain.split(".")) if len(p) > 2)
    return words


def check_passphrase(password: str, *, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise :class:`PassphraseError` unless ``password`` is long and hard to guess."""
    if len(password) < MIN_LENGTH:
        raise PassphraseError(_("password too short: at least {n} characters").format(n=MIN_LENGTH))
    if not password.strip():
        raise PassphraseError(_("a password of white space only is refused"))
    folded = "".join(password.split()).lower()
    if password.lower() in _breached() or folded in _breached():
        raise PassphraseError(
            _("this password is on a list of common and breached passwords: choose another")
        )
    context = _context(user_inputs)
    rest = password.lower()
    for word in sorted(context[4:], key=len, reverse=True):
        rest = rest.replace(word.lower(), "")
    if len("".join(ch for ch in rest if ch.isalnum())) < MIN_LENGTH // 2:
        raise PassphraseError(
            _("this password is mostly your user name or e-mail address: choose another")
        )
    result = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=context)
    if int(result["score"]) < MIN_SCORE:
        feedback = result.get("feedback") or {}
        hints = [str(feedback.get("warning") or "").strip()]
        hints += [str(s).strip() for s in feedback.get("suggestions") or []]
        why = " ".join(h if h.endswith(".") else h + "." for h in hints if h)
        raise PassphraseError(
            _(
                "password too easy to guess (repeats, sequences, words, dates or your own name "
                "are quick to try){hints} A few unrelated words make a good passphrase."
            ).format(hints=": " + why if why else "")
        )
