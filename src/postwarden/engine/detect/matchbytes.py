"""`open_ended_limits`: how often an open-ended expression's matches can hold each byte.

Hyperscan finds where matches start (``HS_FLAG_SOM_LEFTMOST``) at a cost: for an expression
of unbounded width (``\\s+``, ``[a-z]+``) it halves the speed of the whole scan.  The compiled
scan (``_hsscan.c``) leaves that flag off such expressions and finds their starts after the
scan, in the window that ends where the match ends and reaches back until it would hold a
byte more often than a match can (a byte outside the expression's class once; a sign-off's
line end twice).  The limits may be higher than matches reach (that only widens a window),
never lower: anything this module does not know for sure gives no limits, and the
expression keeps hyperscan's own start offsets.

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

__all__ = ["UNBOUNDED", "fixed_width", "open_ended_limits", "reversed_expression"]

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
UNBOUNDED = 255
"""A byte a match can hold any number of times (or more often than a byte can count)."""


class _Unknown(Exception):
    """Something whose bytes are not known for sure."""


def open_ended_limits(regex: str, flags: int) -> bytes | None:
    """Per byte value ``b``, the most times a match of ``regex`` compiled with ``flags`` can
    hold byte ``b`` (`UNBOUNDED`: any number; 0: never), as 256 bytes, when the expression
    is open-ended (has no greatest width) and its matches cannot hold NUL; else None.

    A bound, never less than the truth: a class stands for any of its characters, and a
    caseless literal for each of its cases at once."""
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
        counts, unbounded = _walk(tree, bool(flags & hyperscan.HS_FLAG_CASELESS))
    except (_Unknown, re.error, ValueError, OverflowError):
        return None
    if not unbounded or counts.get(0):
        return None
    return bytes(counts.get(b, 0) for b in range(256))


# The widest match whose start `reversed_expression` finds by scanning backwards.
WIDEST_REVERSED = 255
_ASCII_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_SPACE": r"\s", "CATEGORY_WORD": r"\w"}
_BOUNDARIES = {"AT_BOUNDARY": r"\b", "AT_NON_BOUNDARY": r"\B"}


def reversed_expression(regex: str, flags: int) -> tuple[bytes, int] | None:
    """``regex`` read backwards, for finding where its matches start from where they end,
    when its matches are ASCII and of varying width, at most `WIDEST_REVERSED` bytes; else
    None (or when hyperscan finds its starts as cheaply: `_varies_early`).  Returns the
    expression, for a database compiled without flags (bytes, not UTF-8), and the widest
    match in bytes.

    The expression returned matches at the start of a buffer holding the byte after a
    match's end (a space at the end of the text), then the text before that end reversed:
    the furthest such match reaches back to the leftmost start (what
    ``HS_FLAG_SOM_LEFTMOST`` reports) as the expression's matches read backwards are
    exactly the reversed texts of its matches (``\\b`` and ``\\B`` look at both sides
    alike; the byte before the end is the boundaries' other side).  Only case-sensitive
    expressions of ASCII literals and classes, groups, alternatives, bounded repeats and
    word boundaries: in UTF-8 mode without UCP those match the same bytes as in byte mode,
    and the reversed text need not be UTF-8.  Hyperscan's start of match costs 0.3 us a
    match of an expression such as name_en's ``upper_first`` (a surname of varying length
    first); a scan of the reversed bytes before the end, 0.08 us."""
    tree = _ascii_tree(regex, flags)
    if tree is None:
        return None
    try:
        high = tree.getwidth()[1]
        body = _backwards(tree)
    except (_Unknown, OverflowError, RecursionError):
        return None
    if not 0 < high <= WIDEST_REVERSED or not _varies_early(tree):
        return None
    return rb"^[\x00-\xff](?:" + body.encode() + rb")", high


def fixed_width(regex: str, flags: int) -> int | None:
    """The width in bytes of every match of ``regex`` when they are ASCII and all of one
    width (``\\b[2-9]\\d{7}\\b``, at most `WIDEST_REVERSED`): a start is the end less it.
    None otherwise (as `reversed_expression`, which reads the same expressions)."""
    tree = _ascii_tree(regex, flags)
    if tree is None:
        return None
    try:
        _backwards(tree)  # (of what it reads, only ASCII)
        low, high = tree.getwidth()
    except (_Unknown, OverflowError, RecursionError):
        return None
    return high if low == high and 0 < high <= WIDEST_REVERSED else None


def _ascii_tree(regex: str, flags: int) -> Any:
    """``regex`` parsed, when it is case-sensitive ASCII written alike in PCRE and Python;
    else None."""
    if flags & ~(hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST):
        return None  # caseless: a case of a non-ASCII character may be ASCII
    for escape in _ESCAPE.finditer(regex):
        char = escape.group(1)
        if char.isalnum() and char not in _SAME_ESCAPES:
            return None
    if "{," in regex or not regex.isascii():
        return None
    try:
        tree = _parser.parse(regex)
    except (re.error, ValueError, OverflowError, RecursionError):
        return None
    # A flag set inline for the whole expression ("(?i)") is the parse's, not its items'.
    return None if tree.state.flags & ~re.UNICODE else tree


def _varies_early(items: Any) -> bool:
    """Whether a part of varying width comes before another part of the match: then
    hyperscan's start of match is dear (name_en's surname first, 0.3 us a match), where
    read backwards it is 0.1 us.  A fixed width, or one that varies only at the end (a list
    of place names, card's repeated digits), it finds as cheaply (measured on 300 matches:
    district 38 us with SOM, 60 read backwards; upper_first 211 and 56)."""
    widths = [
        (op, arg, _parser.SubPattern(items.state, [(op, arg)]).getwidth()) for op, arg in items
    ]
    parts = [(op, arg, low, high) for op, arg, (low, high) in widths if high > 0]
    if len(parts) == 1 and str(parts[0][0]) == "BRANCH":
        return any(_varies_early(branch) for branch in parts[0][1][1])
    return any(low != high for _, _, low, high in parts[:-1])


def _backwards(items: Any) -> str:
    """The parsed ``items`` as a hyperscan expression matching their matches reversed."""
    parts: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            parts.append(_ascii(arg))
        elif name == "IN":
            parts.append("[" + "".join(map(_class_item, arg)) + "]")
        elif name in ("MAX_REPEAT", "MIN_REPEAT"):  # hyperscan reports every match alike
            low, high, sub = arg
            if high == _constants.MAXREPEAT:
                raise _Unknown(name)
            parts.append(f"(?:{_backwards(sub)}){{{low},{high}}}")
        elif name == "SUBPATTERN":
            _, add_flags, del_flags, sub = arg
            if add_flags or del_flags:
                raise _Unknown(name)
            parts.append(f"(?:{_backwards(sub)})")
        elif name == "BRANCH":
            parts.append("(?:" + "|".join(_backwards(branch) for branch in arg[1]) + ")")
        elif name == "AT" and str(arg) in _BOUNDARIES:
            parts.append(_BOUNDARIES[str(arg)])
        else:  # anchors, negations, any character, lookaround: unknown
            raise _Unknown(name)
    return "".join(reversed(parts))


def _ascii(code: int) -> str:
    if code >= 0x80:
        raise _Unknown("a character that is not ASCII")
    return f"\\x{code:02x}"


def _class_item(item: tuple[Any, Any]) -> str:
    """One item of a class, of ASCII characters only (a negated class matches others)."""
    op, arg = item
    name = str(op)
    if name == "LITERAL":
        return _ascii(arg)
    if name == "RANGE":
        return f"{_ascii(arg[0])}-{_ascii(arg[1])}"
    if name == "CATEGORY" and str(arg) in _ASCII_CATEGORIES:
        return _ASCII_CATEGORIES[str(arg)]
    raise _Unknown(name)


# The most times each byte value occurs, by value (absent: never), at most `UNBOUNDED`.
_Counts = dict[int, int]


def _walk(items: Any, caseless: bool) -> tuple[_Counts, bool]:
    """The most times each byte occurs in what the parsed ``items`` match, one after the
    other; and whether they repeat without bound."""
    counts: _Counts = {}
    unbounded = False
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            part: _Counts = {}
            _add_char(part, chr(arg), caseless)
        elif name == "IN":
            part = _class(arg, caseless)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _, high, sub = arg
            inner, inner_unbounded = _walk(sub, caseless)
            endless = high == _constants.MAXREPEAT
            unbounded |= inner_unbounded or endless
            part = {b: UNBOUNDED if endless else min(UNBOUNDED, c * high) for b, c in inner.items()}
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            part, inner_unbounded = _walk(arg[3] if name == "SUBPATTERN" else arg, caseless)
            unbounded |= inner_unbounded
        elif name == "BRANCH":
            part = {}
            for branch in arg[1]:
                inner, inner_unbounded = _walk(branch, caseless)
                unbounded |= inner_unbounded
                for b, c in inner.items():
                    part[b] = max(part.get(b, 0), c)
        elif name == "AT":  # anchors and boundaries match no bytes
            continue
        else:  # anything else is unknown
            raise _Unknown(name)
        for b, c in part.items():
            counts[b] = min(UNBOUNDED, counts.get(b, 0) + c)
    return counts, unbounded


def _add_char(counts: _Counts, char: str, caseless: bool) -> None:
    """Raise ``counts`` to the bytes of ``char`` (caseless: of its cases added up): a
    literal's, or one of a class's characters, only one of which a match holds."""
    variants = {char, char.lower(), char.upper()} if caseless else {char}
    encoded = "".join(variants).encode("utf-8", "surrogatepass")
    for byte in set(encoded):
        counts[byte] = max(counts.get(byte, 0), encoded.count(byte))


def _class(items: Any, caseless: bool) -> _Counts:
    """A class matches one character: per byte, the most any of its characters holds."""
    counts: _Counts = {}
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            _add_char(counts, chr(arg), caseless)
        elif name == "RANGE":
            low, high = arg
            if high - low > _LARGEST_RANGE:
                # Its ASCII characters, then any non-ASCII byte up to four times (a character
                # is at most four bytes), and caseless, any ASCII letter a few times (a
                # case of a non-ASCII character can be ASCII: U+212A's lower case is "k").
                for code in range(low, min(high, 0x7F) + 1):
                    _add_char(counts, chr(code), caseless)
                for byte in range(256):
                    if byte >= 0x80:
                        counts[byte] = 4
                    elif caseless and chr(byte).isalpha():
                        counts[byte] = max(counts.get(byte, 0), 3)
            else:
                # ASCII (and caseless, every) character on its own; other characters' bytes
                # each as often as the longest of them has bytes (a Chinese range's 20,000
                # characters one by one take a tenth of a second).
                plain = high + 1 if caseless else min(high + 1, 0x80)
                for code in range(low, plain):
                    _add_char(counts, chr(code), caseless)
                if plain <= high:
                    others = "".join(map(chr, range(max(low, plain), high + 1)))
                    longest = len(chr(high).encode("utf-8", "surrogatepass"))
                    for byte in set(others.encode("utf-8", "surrogatepass")):
                        counts[byte] = max(counts.get(byte, 0), longest)
        elif name == "CATEGORY" and str(arg) in _CATEGORIES:
            for byte in _CATEGORIES[str(arg)]:
                counts[byte] = max(counts.get(byte, 0), 1)
        else:  # NEGATE, negated categories: (nearly) any byte
            raise _Unknown(name)
    return counts
