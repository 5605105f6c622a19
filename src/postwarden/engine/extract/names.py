"""File names as text: the names of a message's attachments, of an archive's members, of the
files in a winmail.dat, an Outlook message or an office document, and the name a scanned
file is given, are read by the detectors like any text.

A name is data that leaves with the file (``陳大文_A123456(3).xlsx``, a zip member
``voters/陳大文/覆診紙.pdf``); before, it was only part of a finding's place and no detector
saw it.  Each container gets one unit, ``{container}#file names`` (the outer message's, and
a scanned file's, is ``file names``: the message has no place of its own, as ``subject``),
holding its members' names one per line, each distinct name once:

- one unit per container rather than per name: a zip of 1,000 members is one unit, not
  1,000 (each unit costs the detectors and the register matcher a pass), and a finding's
  place still says which file or archive carried the name;
- the names are collected as the walk meets them (`Walker.name`) and added at its end
  (`Walker.add_names`): a name is kept even when its member cannot be read, is encrypted
  (a zip's names are not), or the budget runs out before it.
"""

from __future__ import annotations

import re

FILE_NAMES = "file names"
"""The position of a container's names unit (``attachment:a.zip#file names``), and the place
of the outer message's (``file names``)."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
"""Control and format characters (an RTL override, a zero-width space): a space each, so they
neither hide a number nor glue two words into one."""
_PATH = re.compile(r"\s*[/\\]+\s*")
_GLUE = re.compile(r"_+|(?<!\d)-|-(?!\d)")
"""Underscores, and dashes but between two digits (``9123-4567``, ``2024-03-15`` keep theirs)."""
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def name_text(name: str) -> str:
    """``name`` written as the words it is made of, for the detectors: path separators
    spaced (`` / ``), underscores and word dashes made spaces, the extension set apart
    (``陳大文_A123456(3).xlsx`` → ``陳大文 A123456(3) .xlsx``).

    Written as it is, the name would hide what it holds: the detectors take a number glued
    to ``_``, ``/``, ``-`` or a following ``.xlsx`` for part of a longer token (a URL, a
    path, an id; issue 11), so not one HKID or phone number of a file name was found
    (measured with the default detectors on names such as ``CHAN_Tai_Man_A1234563.pdf``,
    ``tel_91234567.pdf``, ``voters/陳大文_A123456(3).xlsx``)."""
    text = _CONTROL.sub(" ", name)
    return " / ".join(
        _EXTENSION.sub(r" .\1", _GLUE.sub(" ", segment)) for segment in _PATH.split(text)
    )
