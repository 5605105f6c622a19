"""How a front end names an internal failure in its log without leaking message content."""

from __future__ import annotations

import traceback


def describe_failure(exc: BaseException) -> str:
    """The exception type and where it was raised, never its message: messages of parser and
    detector errors can quote the mail, and personal data must not reach the log."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename}:{last.lineno} in {last.name}"
