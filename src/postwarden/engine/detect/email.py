"""E-mail addresses: a practical addr-spec whose domain ends in a public suffix."""

from __future__ import annotations

import functools
from typing import ClassVar

from postwarden.engine.detect.base import Candidate, Pattern, PatternDetector
from postwarden.suffixes import split_host

__all__ = ["EmailDetector"]


class EmailDetector(PatternDetector):
    """Addresses with a dot-atom local part (RFC 5322 §3.4.1, quoted forms left out)."""

    id = "email"
    patterns: ClassVar[tuple[Pattern, ...]] = (
        Pattern("email", r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}\b", 0.9),
    )
    context = ("email", "e-mail", "mail", "電郵", "郵箱")
    context_boost = 0.1
    bounded = False  # the pattern's own character classes bound it

    def narrow(self, candidate: Candidate) -> Candidate | None:
        if candidate.unit.text[candidate.start] != ".":  # most matches: no slice to strip
            return candidate
        text = candidate.text
        lead = len(text) - len(text.lstrip("."))
        return Candidate(
            candidate.unit,
            candidate.start + lead,
            candidate.end,
            candidate.pattern,
            candidate.has_context,
        )

    def validate(self, candidate: Candidate) -> bool:
        local, _, domain = candidate.text.rpartition("@")
        if not local or len(local) > 64:
            return False
        # The pattern's class admits only dot-atom characters before the one "@".
        if local.endswith(".") or ".." in local:
            return False
        after = candidate.after(2)
        if after[:1] in ("-", "_", "@") or (after[:1] == "." and after[1:2].isalnum()):
            return False
        return _valid_domain(domain)


@functools.lru_cache(maxsize=4096)
def _valid_domain(domain: str) -> bool:
    """True when ``domain``'s labels are well formed and it is a name under a public suffix
    (not the suffix alone).  Splitting a domain costs ~50 µs and mail repeats its few
    domains: each is judged once per process."""
    if len(domain) > 253:
        return False
    labels = domain.split(".")
    if any(not 0 < len(lb) <= 63 or lb[0] == "-" or lb[-1] == "-" for lb in labels):
        return False
    parts = split_host(domain)
    return bool(parts.suffix) and bool(parts.domain)
