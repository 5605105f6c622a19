"""A skeleton of a domain name: letters that look alike on screen map to one form.

Hand-written rather than loaded from Unicode's confusables.txt (UTS #39): that table has
thousands of entries across every script, ships with no library we already depend on, and
maps many characters that are distinct letters in Chinese text.  Domain spoofing in practice
uses a small set: Cyrillic and Greek letters that render as Latin ones, digits that pass for
letters, and letter pairs that read as one letter in a proportional font.  This table covers
exactly those, and a test pins each entry.
"""

from __future__ import annotations

import unicodedata

_SINGLE = {
    # Cyrillic lowercase that render as Latin
    "а": "a",
    "в": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "ц": "u",
    "ѵ": "v",
    "ԝ": "w",
    "х": "x",
    "у": "y",
    "ү": "y",
    # Greek lowercase that render as Latin
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "γ": "y",
    "ω": "w",
    # Latin letters with marks that hide at small sizes, and dotless forms
    "ı": "i",
    "ȷ": "j",
    "ɡ": "g",
    "ɑ": "a",
    # digits that pass for letters
    "0": "o",
    "1": "l",
}
_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def skeleton(text: str) -> str:
    """The confusable-insensitive form of ``text`` (compare skeletons, never show them)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Drop combining marks (é → e): decomposition then filter
    decomposed = unicodedata.normalize("NFD", folded)
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    out = "".join(_SINGLE.get(ch, ch) for ch in base)
    for pair, single in _PAIRS:
        out = out.replace(pair, single)
    return out
