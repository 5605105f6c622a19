"""The shared budget of one message's extraction: text, expansion, depth and wall time."""

from __future__ import annotations

import time

from postwarden.errors import PostwardenError
from postwarden.settings import Limits

MIB = 1024 * 1024


class Uninspectable(PostwardenError):
    """This piece cannot be read; ``reason`` becomes an ``uninspectable`` finding's detail."""

    http_status = 422

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BudgetExhausted(Uninspectable):
    """A per-message limit ran out: nothing more of this message is read."""

    where: str | None = None
    """The innermost place being read when it ran out, set on the way up."""


def size(n: int) -> str:
    """``1.5 MiB`` style, for reasons people read."""
    if n >= MIB:
        return f"{n / MIB:.4g} MiB"
    if n >= 1024:
        return f"{n / 1024:.4g} KiB"
    return f"{n} bytes"


class Budget:
    """What one message may still cost; every extractor draws on the same one."""

    __slots__ = (
        "deadline",
        "expanded",
        "limits",
        "max_expansion",
        "ocr_confidence",
        "ocr_pages",
        "ocr_seconds",
        "text_bytes",
    )

    def __init__(self, limits: Limits, message_size: int, deadline: float) -> None:
        self.limits = limits
        self.deadline = deadline
        self.max_expansion = limits.max_expansion(message_size)
        self.text_bytes = 0
        self.expanded = 0
        self.ocr_pages = 0
        """Images and pages read by OCR so far (see :mod:`.ocr`)."""
        self.ocr_seconds = 0.0
        self.ocr_confidence: dict[str, float] = {}
        """OCR confidence (0-1) of every place whose text OCR read."""

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetExhausted(f"time limit {self.limits.max_seconds:g} s exceeded")

    def add_text(self, n: int) -> None:
        """Count ``n`` characters of extracted text (a character is counted as one byte)."""
        self.text_bytes += n
        if self.text_bytes > self.limits.max_text_bytes:
            raise BudgetExhausted(f"extracted text over limit {size(self.limits.max_text_bytes)}")

    def add_expanded(self, n: int) -> None:
        """Count ``n`` bytes produced by decompression anywhere in the message."""
        self.expanded += n
        if self.expanded > self.max_expansion:
            raise BudgetExhausted(
                f"zip bomb: total expansion over limit {size(self.max_expansion)}"
            )

    def check_part(self, n: int) -> None:
        if n > self.limits.max_part_bytes:
            raise Uninspectable(f"part of {size(n)} over limit {size(self.limits.max_part_bytes)}")

    def check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise Uninspectable(f"nesting deeper than {self.limits.max_depth}")
