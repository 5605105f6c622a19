"""The message catalogues: complete, consistent with the code, compiled as committed; and the
language the environment asks for."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from postwarden.i18n import LANGUAGES, LOCALE_DIR, env_language, normalize, translations

ROOT = Path(__file__).parents[1]
CHINESE = [lang for lang in LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)[^{}]*\}")


def _catalog(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES/postwarden.po").open("rb") as po:
        return read_po(po)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id for m in catalog if m.id}


@pytest.mark.parametrize("language", CHINESE)
def test_every_message_is_translated_and_keeps_its_placeholders(language: str) -> None:
    problems = []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s.strip() for s in strings):
            problems.append(("untranslated or fuzzy", ids[0]))
            continue
        wanted = sorted(set(PLACEHOLDER.findall(ids[-1])))
        for string in strings:
            if sorted(set(PLACEHOLDER.findall(string))) != wanted:
                problems.append(("placeholders differ", ids[0]))
    assert problems == []


@pytest.mark.parametrize("language", CHINESE)
def test_the_committed_mo_is_the_po_compiled(language: str) -> None:
    """The program loads the .mo with the standard library: it must say what the .po says
    (``make translations`` rebuilds it)."""
    compiled = io.BytesIO()
    write_mo(compiled, _catalog(language))
    committed = (LOCALE_DIR / language / "LC_MESSAGES/postwarden.mo").read_bytes()
    assert committed == compiled.getvalue(), "run `make translations`"


def test_the_catalogue_holds_every_marked_string(tmp_path: Path) -> None:
    """Extraction over the code and the templates finds nothing the .po lacks, and the .po
    keeps nothing the code no longer says."""
    pot = tmp_path / "postwarden.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            *(pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "N_", "-k", "ngettext:1,2"),
            *("-o", str(pot), "src/postwarden"),
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as handle:
        extracted = _ids(read_po(handle))
    for language in CHINESE:
        known = _ids(_catalog(language))
        assert extracted - known == set(), "new strings: run `make translations`"
        assert known - extracted == set(), "strings no longer used: run `make translations`"


def test_a_translation_is_used() -> None:
    assert translations("zh_Hant").gettext("Sign in") == "登入"
    assert translations("en").gettext("Sign in") == "Sign in"
    assert translations("xx").gettext("Sign in") == "Sign in"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh_HK.UTF-8", "zh_Hant"),
        ("zh_TW.UTF-8", "zh_Hant"),
        ("zh_TW.Big5", "zh_Hant"),
        ("zh_HK", "zh_Hant"),
        ("zh-Hant", "zh_Hant"),
        ("zh_CN.UTF-8", None),
        ("en_GB.UTF-8", "en"),
        ("C.UTF-8", None),
        ("de_DE@euro", None),
        ("", None),
    ],
)
def test_normalize(tag: str, expected: str | None) -> None:
    assert normalize(tag) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"LANG": "zh_HK.UTF-8"}, "zh_Hant"),
        ({"LANG": "zh_TW.UTF-8"}, "zh_Hant"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_HK.UTF-8"}, "zh_Hant"),
        ({"LANG": "zh_HK.UTF-8", "LC_MESSAGES": "en_US.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_HK.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL wins
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "C"}, "zh_Hant"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LANG": "en_HK.UTF-8", "LANGUAGE": "zh_HK:en"}, "zh_Hant"),  # GNU LANGUAGE
        ({"LANG": "C", "LANGUAGE": "zh_HK"}, "en"),  # ... ignored under the C locale
    ],
)
def test_env_language(environ: dict[str, str], expected: str) -> None:
    assert env_language(environ) == expected
