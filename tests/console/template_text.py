"""English a template shows outside ``_()`` and ``{% trans %}``: text nodes and the attributes
people read (placeholder, aria-label, title, alt, data-label), found with Jinja's own lexer."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from jinja2 import Environment

VISIBLE_ATTRIBUTES = frozenset({"placeholder", "aria-label", "title", "alt", "data-label"})
# Words that are the same in every language: the product's name, standards, file formats.
NOT_WORDS = re.compile(r"Postwarden|PW-INC-|SHA-256|UTC|TOTP|PCPD|csv|xlsx")
WORD = re.compile(r"[A-Za-z]{2,}")
HOLE = "\x00"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "svg"):
            self._skip += tag != "svg"
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def untranslated(source: str, env: Environment | None = None) -> list[str]:
    """The pieces of literal English in a template's source."""
    env = env or Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    parts: list[str] = []
    depth = 0  # inside {% trans %} … {% endtrans %}
    tokens = [t for t in env.lex(source) if t[1] != "whitespace"]
    for index, (_, kind, value) in enumerate(tokens):
        if kind == "name" and index and tokens[index - 1][1] == "block_begin":
            if value == "trans":
                depth += 1
            elif value == "endtrans":
                depth -= 1
        if kind == "data" and not depth:
            parts.append(value)
        elif kind in ("variable_begin", "block_begin"):
            parts.append(HOLE)
    parser = _Text()
    parser.feed("".join(parts))
    out = []
    for text in parser.found:
        words = NOT_WORDS.sub("", text.replace(HOLE, " "))
        if WORD.search(words):
            out.append(" ".join(text.replace(HOLE, "…").split()))
    return out
