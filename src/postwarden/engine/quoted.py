"""A quoted MIME parameter value read as the policy's parser reads it, encoded words in it
decoded (``filename="=?utf-8?b?6Zmz5aSn5paHLnBkZg==?="`` is ``陳大文.pdf``), in linear time.

`postwarden.engine.parse` reads a Content-Type or Content-Disposition longer than 8 KiB
without that parser (too slow: about 130 µs a parameter); without this step, such a value's
file name reached the policy and the detectors as ``=?utf-8?b?...?=``.  The stdlib's own
decoders cannot be used on the whole value: ``email.header.decode_header``'s expression and
the parser's ``get_encoded_word`` (3.11) both look for the ``?=`` that ends a word from
every ``=?`` again, so a megabyte of ``=?`` without ``?=`` (the header limit) takes hours.
The steps here are ``get_bare_quoted_string``'s, with every search bounded: the end of a word
is looked for once per stretch of the value (`_Closes`), and a word is decoded (by the
stdlib's ``_encoded_words.decode``, on that word alone) only when it holds exactly the two
``?`` of its form, counted up to its third.  tests/engine/test_parse_fast_paths.py compares
the getters' answers with the policy parser's on short values, and times a hostile megabyte.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from email import utils
from string import hexdigits
from typing import Any

_decode_word: Callable[[str], tuple[str, str, str, list[Any]]] = importlib.import_module(
    "email._encoded_words"
).decode
"""The stdlib's decoder of one encoded word, the parser's own (private: typeshed has no
stub for its module)."""

_SPACE = re.compile(r"\s+")
"""What ``get_fws`` takes (``str.lstrip``), once a blank or tab starts it."""
_QCONTENT = re.compile(r'(?:[^ \t"\\]+|\\[^ \t]|\\(?=[ \t]|$))*')
"""What ``get_qcontent`` takes: up to a blank, a tab or an unescaped quote; a backslash
escapes the next character, one at the end of the stretch is dropped."""
_ESCAPE = re.compile(r"\\(.?)", re.DOTALL)
_WSP = " \t"
_OTHER, _FWS, _WORD = 0, 1, 2


class _Closes:
    """``value.find("?=", start)`` for increasing ``start``, each stretch searched once."""

    __slots__ = ("found", "searched", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        self.searched = 0
        self.found = -2  # none looked for yet

    def after(self, start: int) -> int:
        if self.found == -1 and start >= self.searched:
            return -1
        if self.found < start or start < self.searched:
            self.searched, self.found = start, self.value.find("?=", start)
        return self.found


def _question(value: str, start: int, stop: int) -> int:
    return value.find("?", start, stop) if start < stop else -1


def _word(value: str, at: int, closes: _Closes) -> tuple[str, int] | None:
    """The encoded word at ``value[at:]`` (which starts ``=?``) decoded and where the value
    goes on after it, as ``get_encoded_word`` reads it; ``None`` where it raises."""
    start = at + 2
    close = closes.after(start)
    if close < 0:
        return None
    end, after = close, close + 2
    first = _question(value, start, end)
    second = _question(value, first + 1, end) if first >= 0 else -1
    if (
        second < 0
        and after + 1 < len(value)
        and value[after] in hexdigits
        and value[after + 1] in hexdigits
    ):
        # "?=" then two hex digits, and fewer than two "?" before: the "?" after the
        # encoding was followed by a q-encoded "=XX"; the word runs to the next "?=".
        nxt = closes.after(after)
        end, after = (len(value), len(value)) if nxt < 0 else (nxt, nxt + 2)
        first = _question(value, start, end)
        second = _question(value, first + 1, end) if first >= 0 else -1
    if second < 0 or _question(value, second + 1, end) >= 0:
        return None  # not charset?encoding?text: decode() would fail to split it
    try:
        text = _decode_word(f"=?{value[start:end]}?=")[0]
    except (ValueError, KeyError):
        return None
    return text, after


def decoded_quoted(value: str) -> str:
    """``value`` (a parameter's value from its opening quote to the end of the parameter)
    as the text of the policy parser's header object gives it: the quoted string's content,
    encoded words decoded and the blanks between two of them dropped, quoted pairs
    unescaped, quoted again (``utils.quote``) and closed."""
    out: list[str] = []
    kinds: list[int] = []
    closes = _Closes(value)
    i, size = 1, len(value)
    while i < size and value[i] != '"':
        if value[i] in _WSP:
            end = _SPACE.match(value, i).end()  # type: ignore[union-attr]
            out.append(value[i:end])
            kinds.append(_FWS)
            i = end
            continue
        word = _word(value, i, closes) if value.startswith("=?", i) else None
        if word is None:
            end = _QCONTENT.match(value, i).end()  # type: ignore[union-attr]
            out.append(_ESCAPE.sub(r"\1", value[i:end]))
            kinds.append(_OTHER)
            i = end
            continue
        text, i = word
        if len(kinds) > 1 and kinds[-1] == _FWS and kinds[-2] == _WORD:
            out[-1] = ""  # the blanks between two encoded words are not text
        out.append(text)
        kinds.append(_WORD)
    return f'"{utils.quote("".join(out))}"'
