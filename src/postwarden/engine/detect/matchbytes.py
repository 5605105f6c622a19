"""`open_ended_bytes`: the bytes an open-ended expression's matches can hold, as a bitmap.

Hyperscan finds where matches start (``HS_FLAG_SOM_LEFTMOST``) at a cost: for an expression
of unbounded width (``\\s+``, ``[a-z]+``) it halves the speed of the whole scan.  The compiled
scan (``_hsscan.c``) leaves that flag off such expressions and finds their starts after the
scan, in the run of bytes of the expression's class that ends where the match ends.  The
class may hold more bytes than matches use (a superset only widens that window), never
fewer: anything this module does not know for sure gives no bitmap, and the expression keeps
hyperscan's own start offsets.

The expressions are read with the standard library's regular expression parser (the
``re._parser`` module, which has no public name): hyperscan's dialect is PCRE's, which that
parser reads alike once ``\\x{...}`` is spelled ``\\U...``, except for escapes it reads
differently (PCRE's ``\\v`` is a class, Python's a character), which are refused first.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import hyperscan

__all__ = ["open_ended_bytes"]

_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")

# The flags whose meaning this module knows: UTF-8 without UCP keeps \d, \s, \w and caseless
# matching ASCII; SOM is what is being replaced.
_KNOWN_FLAGS = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SOM_LEFTMOST
# Escapes read alike by PCRE and Python (and punctuation, escaped to stand for itself).
_SAME_ESCAPES = frozenset("dDsSwWbBxnrtf")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_BRACED_HEX = re.compile(r"\\x\{([0-9A-Fa-f]{1,6})\}")
_CATEGORIES = {
    "CATEGORY_DIGIT": b"0123456789",
    "CATEGORY_SPACE": b" \t\n\r\f\v",
    "CATEGORY_WORD": b"0123456789_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
}
# Above this many code points a range is taken to hold every non-ASCII byte.
_LARGEST_RANGE = 0x10000


class _Unknown(Exception):
    """Something whose bytes are not known for sure."""


def open_ended_bytes(regex: str, flags: int) -> bytes | None:
    """A 32-byte bitmap (bit ``b % 8`` of byte ``b // 8``) of every byte a match of
    ``regex`` compiled with ``flags`` can hold, when the expression is open-ended (has no
    greatest width) and that set leaves out NUL; else None."""
    if flags & ~_KNOWN_FLAGS or not flags & hyperscan.HS_FLAG_UTF8:
        return None
    for escape in _ESCAPE.finditer(regex):
        char = escape.group(1)
        if char.isalnum() and char not in _SAME_ESCAPES:
            return None
    if "{," in regex:  # PCRE reads "{,n}" as text, Python as a repeat
        return None
    source = _BRACED_HEX.sub(lambda m: f"\\U{int(m.group(1), 16):08x}", regex)
    try:
        tree = _parser.parse(source)
        chars: set[str] = set()
        raw: set[int] = set()
        unbounded = _walk(tree, chars, raw)
    except (_Unknown, re.error, ValueError, OverflowError):
        return None
    if not unbounded:
        return None
    caseless = bool(flags & hyperscan.HS_FLAG_CASELESS)
    for char in chars:
        for variant in (char, char.lower(), char.upper()) if caseless else (char,):
            raw.update(variant.encode("utf-8", "surrogatepass"))
    if 0 in raw:
        return None
    bitmap = bytearray(32)
    for byte in raw:
        bitmap[byte >> 3] |= 1 << (byte & 7)
    return bytes(bitmap)


def _walk(items: Any, chars: set[str], raw: set[int]) -> bool:
    """Add what the parsed ``items`` can match to ``chars`` (characters) and ``raw``
    (bytes); True when they repeat without bound."""
    unbounded = False
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
        elif name == "IN":
            _class(arg, chars, raw)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _, high, sub = arg
            unbounded |= high == _constants.MAXREPEAT
            unbounded |= _walk(sub, chars, raw)
        elif name == "SUBPATTERN":
            unbounded |= _walk(arg[3], chars, raw)
        elif name == "ATOMIC_GROUP":
            unbounded |= _walk(arg, chars, raw)
        elif name == "BRANCH":
            for branch in arg[1]:
                unbounded |= _walk(branch, chars, raw)
        elif name != "AT":  # anchors and boundaries match no bytes; anything else is unknown
            raise _Unknown(name)
    return unbounded


def _class(items: Any, chars: set[str], raw: set[int]) -> None:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
        elif name == "RANGE":
            low, high = arg
            if high - low > _LARGEST_RANGE:
                chars.update(map(chr, range(low, min(high, 0x7F) + 1)))
                raw.update(range(0x80, 0x100))
            else:
                chars.update(map(chr, range(low, high + 1)))
        elif name == "CATEGORY" and str(arg) in _CATEGORIES:
            raw.update(_CATEGORIES[str(arg)])
        else:  # NEGATE, negated categories: (nearly) any byte
            raise _Unknown(name)
