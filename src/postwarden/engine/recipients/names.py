"""Display names and local parts reduced to comparable keys."""

from __future__ import annotations

import re
import unicodedata
from itertools import permutations

_WORD = re.compile(r"[^\W\d_]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LOCAL_NOISE = re.compile(r"[\d._\-+]+")

# Role mailboxes exist at every organisation: the same one at another domain is no slip.
ROLE_LOCALS = frozenset(
    """admin administrator contact enquiry enquiries info information mail news newsdesk
    noreply no-reply office postmaster press pr reception sales secretary service support
    webmaster editor editorial hr hotline general team hello help""".split()
)


def name_key(display_name: str) -> str:
    """Order-, case- and punctuation-insensitive key of a person's display name.

    Empty when the name is too thin to identify anyone (one Latin word, one Chinese character):
    "Info" or "Admin" at two addresses is no evidence of a slip.
    """
    text = unicodedata.normalize("NFKC", display_name).casefold()
    cjk = "".join(_CJK.findall(text))
    words = sorted(w for w in _WORD.findall(_CJK.sub(" ", text)))
    if len(words) >= 2:
        return " ".join(words)
    if len(cjk) >= 2:
        return cjk
    return ""


def local_core(local: str) -> str:
    """A local part without digits, dots, dashes or a ``+tag``: ``tm.chan+x85`` → ``tmchan``."""
    base = local.split("+", 1)[0].casefold()
    return _LOCAL_NOISE.sub("", base)


def handles(display_name: str, local: str) -> frozenset[str]:
    """Mailbox names a person might choose: the local part's core, the name's words run
    together in any order, and initials with the surname (``chantaiman``, ``tmchan``)."""
    out = set()
    core = local_core(local)
    if len(core) >= 4:
        out.add(core)
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", display_name))]
    words = [w for w in words if not _CJK.search(w)][:4]
    if len(words) >= 2:
        for order in permutations(words):
            out.add("".join(order))
        for surname in words:
            initials = "".join(w[0] for w in words if w is not surname)
            out.add(initials + surname)
            out.add(surname + initials)
    return frozenset(h for h in out if len(h) >= 4)


def resembles(local: str, own_handles: frozenset[str]) -> str | None:
    """The handle a webmail local part resembles, if any (contained in it or containing it)."""
    core = local_core(local)
    if len(core) < 4:
        return None
    for handle in sorted(own_handles, key=len, reverse=True):
        if handle in core or (len(core) >= 5 and core in handle):
            return handle
    return None
