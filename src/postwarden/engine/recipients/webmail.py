"""The shipped list of personal webmail providers (``webmail.txt``)."""

from __future__ import annotations

from functools import cache
from importlib import resources


def parse_domain_list(text: str) -> frozenset[str]:
    """Domains of a list file: one per line, ``#`` comments and blank lines ignored."""
    out: set[str] = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip().lower().rstrip(".")
        if entry:
            out.add(entry)
    return frozenset(out)


@cache
def webmail_domains() -> frozenset[str]:
    """The webmail domains of ``webmail.txt``; the one source for classification and exports."""
    text = resources.files(__package__).joinpath("webmail.txt").read_text(encoding="utf-8")
    return parse_domain_list(text)
