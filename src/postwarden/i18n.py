"""Languages: English (the source text) and Traditional Chinese as written in Hong Kong.

Messages are looked up with the standard library's ``gettext`` in the compiled catalogues
under ``locale/`` (``.mo`` files committed next to their ``.po``; ``make translations``
rebuilds both and a test checks they agree), so nothing here costs the command line's start-up.

The language of a message is the one a console request chose (``use()``, set per request),
else the one the environment asks for (``LC_ALL``, ``LC_MESSAGES``, ``LANG``, as the C library
orders them, and GNU ``LANGUAGE`` unless the locale is ``C``).
"""

from __future__ import annotations

import gettext as _gettext
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "DEFAULT",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "Choice",
    "_",
    "current",
    "env_language",
    "gettext",
    "ngettext",
    "normalize",
    "switch",
    "translations",
    "use",
]

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "postwarden"
DEFAULT = "en"
LANGUAGES = {"en": "English", "zh_Hant": "繁體中文"}
"""Each offered language, by catalogue name, with its name in itself (for the switch)."""

_HANT_REGIONS = frozenset({"hk", "tw", "mo", "hant"})


def normalize(tag: str) -> str | None:
    """The offered language a BCP 47 tag or POSIX locale name asks for, or None.

    ``zh-HK``, ``zh-TW``, ``zh-MO``, ``zh-Hant`` (with any region) and ``zh_HK.UTF-8`` are
    Traditional Chinese; ``en`` and its variants are English; ``zh-CN``, ``zh-Hans`` and
    anything else are not offered.
    """
    cleaned = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("_", "-").lower()
    parts = cleaned.split("-")
    if parts[0] == "zh":
        return "zh_Hant" if _HANT_REGIONS.intersection(parts[1:]) else None
    if parts[0] == "en":
        return "en"
    return None


def env_language(environ: Mapping[str, str] | None = None) -> str:
    """The language the environment asks for: LC_ALL, then LC_MESSAGES, then LANG."""
    env = os.environ if environ is None else environ
    locale = next((env[v] for v in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(v)), "")
    if locale in ("", "C", "POSIX") or locale.startswith("C."):
        # GNU gettext ignores LANGUAGE under the C locale (also when none is set); so do we.
        return DEFAULT
    for name in env.get("LANGUAGE", "").split(":"):
        if name and (found := normalize(name)):
            return found
    return normalize(locale) or DEFAULT


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (English is the source text: no catalogue)."""
    if language not in LANGUAGES or language == DEFAULT:
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


@dataclass(slots=True)
class Choice:
    """A console request's language; mutable, so a dependency that learns who is signed in
    can switch it for the rest of the request (contexts copied into worker threads share it)."""

    language: str


_choice: ContextVar[Choice | None] = ContextVar("postwarden_language", default=None)


def current() -> str:
    """The language messages are in right now."""
    choice = _choice.get()
    return choice.language if choice is not None else env_language()


@contextmanager
def use(choice: Choice) -> Iterator[Choice]:
    """Messages in ``choice.language`` inside the block (and in tasks and threads it starts)."""
    token = _choice.set(choice)
    try:
        yield choice
    finally:
        _choice.reset(token)


def switch(language: str) -> None:
    """Change the language of the request under way (the signed-in user's own setting)."""
    choice = _choice.get()
    if choice is not None and language in LANGUAGES:
        choice.language = language


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it yet (module-level tables)."""
    return message
