"""The recipes in docs/ (adding a detector, an extractor, a policy condition, a register
field) list every place such an addition touches: each listed file exists, and every
existing detector, extractor, condition and register field is named in those places and in
no other (issue 13)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from postwarden.engine.detect import BUILT_IN
from postwarden.engine.extract import REGISTRY
from postwarden.engine.extract.registry import loaded
from postwarden.engine.policy.facts import MessageFacts
from postwarden.engine.policy.schema import When
from postwarden.engine.registers import Field

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "postwarden"
_ITEM = re.compile(r"^\d+\. `([^`]+)`", re.MULTILINE)

# Rules of one field alone, which a new field need not have: a phone number's certainty,
# addresses written over several lines and a table's email keys numbered before the cells C
# reads (match.py), the recipients' email lookup (registerset.py).
FIELD_RULES = {
    Field.PHONE: {"engine/registers/match.py"},
    Field.ADDRESS_EN: {"engine/registers/match.py"},
    Field.ADDRESS_ZH: {"engine/registers/match.py"},
    Field.EMAIL: {"engine/registers/registerset.py", "engine/registers/match.py"},
}

# Readers of one condition alone: the gateway's answer depends on whether a rule counts
# registered people.
CONDITION_READERS = {"subjects": {"transports/answer.py"}}


def recipe(doc: str, title: str) -> list[str]:
    """The files listed by the numbered items of section ``title`` of ``docs/doc``."""
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"docs/{doc} has no section {title!r}"
    places = _ITEM.findall(match.group(1))
    assert places, f"docs/{doc}: {title!r} lists no places"
    return places


def src_places(places: Iterable[str], name: str = "") -> set[str]:
    """The source files of a recipe, relative to the package, ``<name>`` filled in."""
    prefix = "src/postwarden/"
    return {p.replace("<name>", name).removeprefix(prefix) for p in places if p.startswith(prefix)}


@cache
def sources() -> dict[str, str]:
    return {
        str(path.relative_to(SRC)): path.read_text(encoding="utf-8")
        for path in sorted(SRC.rglob("*.py"))
    }


def naming(pattern: str) -> set[str]:
    """The source files in which ``pattern`` (a regex) occurs."""
    found = re.compile(pattern)
    return {name for name, text in sources().items() if found.search(text)}


@pytest.mark.parametrize(
    ("doc", "title", "name"),
    [
        ("detectors.md", "Adding a detector", "hkid"),
        ("extractors.md", "Adding an extractor", "html"),
        ("policy.md", "Adding a condition", ""),
        ("registers.md", "Adding a register field", ""),
    ],
)
def test_every_listed_place_exists(doc: str, title: str, name: str) -> None:
    for place in recipe(doc, title):
        assert (ROOT / place.replace("<name>", name)).is_file(), place


def test_a_detector_is_named_in_the_recipes_places_alone() -> None:
    places = recipe("detectors.md", "Adding a detector")
    docs = (ROOT / "docs" / "detectors.md").read_text(encoding="utf-8")
    tests = (ROOT / "tests" / "engine" / "detect" / "test_detectors.py").read_text("utf-8")
    for cls in BUILT_IN:
        module = cls.__module__.rsplit(".", 1)[1]
        assert naming(rf"\b{cls.__name__}\b") == src_places(places, module), cls.__name__
        assert f"| `{cls.id}` |" in docs, cls.id
        assert f'"{cls.id}"' in tests, cls.id


def test_an_extractor_is_named_in_the_recipes_places_alone() -> None:
    places = recipe("extractors.md", "Adding an extractor")
    docs = (ROOT / "docs" / "extractors.md").read_text(encoding="utf-8")
    for kind, extractor in REGISTRY.items():
        cls = type(loaded(extractor))
        module = cls.__module__.rsplit(".", 1)[1]
        expected = src_places(places, module) - {"engine/extract/sniff.py"}
        assert naming(rf"\b{cls.__name__}\b") == expected, cls.__name__
        assert f"`{cls.__name__}`" in docs, cls.__name__
        assert f"Kind.{kind.name}" in sources()["engine/extract/sniff.py"], kind


def test_a_condition_is_evaluated_and_its_facts_built_in_the_recipes_places_alone() -> None:
    places = src_places(recipe("policy.md", "Adding a condition"))
    assert places == {
        "engine/policy/schema.py",
        "engine/policy/rules.py",
        "engine/policy/facts.py",
        "engine/__init__.py",
    }
    assert naming(r"(?m)^class When\b") == {"engine/policy/schema.py"}
    assert naming(r"(?m)^class MessageFacts\b") == {"engine/policy/facts.py"}
    # Conditions are evaluated in rules.py (some have one more reader of their own, which a
    # new condition need not have); facts are built in engine/__init__.py alone.
    assert naming(r"(?<![\w.])MessageFacts\(") == {"engine/__init__.py"}
    rules = sources()["engine/policy/rules.py"]
    docs = (ROOT / "docs" / "policy.md").read_text(encoding="utf-8")
    for condition in When.model_fields:
        readers = {"engine/policy/rules.py"} | CONDITION_READERS.get(condition, set())
        assert naming(rf"\bwhen\.{condition}\b") == readers, condition
        assert f"when.{condition} is not None" in rules, condition
        assert re.search(rf"^\|.*`{condition}[:` ]", docs, re.M), condition
    built = sources()["engine/__init__.py"]
    for fact in MessageFacts.__dataclass_fields__:
        assert re.search(rf"\b{fact}=", built), fact


def test_a_register_field_is_named_in_the_recipes_places_alone() -> None:
    places = src_places(recipe("registers.md", "Adding a register field"))
    docs = (ROOT / "docs" / "registers.md").read_text(encoding="utf-8")
    for fld in Field:
        expected = places | FIELD_RULES.get(fld, set())
        assert naming(rf"\bField\.{fld.name}\b") == expected, fld
        assert f" {fld.label} " in docs.split("\n## ")[0], fld
