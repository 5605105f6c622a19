"""Payment card numbers: 13-19 digits, Luhn check, a known issuer prefix."""

from __future__ import annotations

from typing import ClassVar

from postwarden.engine.detect.base import Candidate, Pattern, PatternDetector

__all__ = ["CardDetector", "luhn_ok"]


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    """Issuer (IIN) prefix and length of the networks seen in Hong Kong."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    return (
        (digits[0] == "4" and n in (13, 16, 19))  # Visa
        or (51 <= two <= 55 and n == 16)  # Mastercard
        or (2221 <= four <= 2720 and n == 16)  # Mastercard 2-series
        or (two in (34, 37) and n == 15)  # American Express
        or (two == 62 and 16 <= n <= 19)  # UnionPay
        or (3528 <= four <= 3589 and 16 <= n <= 19)  # JCB
        or ((two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305) and 14 <= n <= 19)  # Diners
        or ((four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= n <= 19)
    )


class CardDetector(PatternDetector):
    """Card numbers, plain or grouped by spaces or hyphens."""

    id = "card"
    patterns: ClassVar[tuple[Pattern, ...]] = (Pattern("card", r"\b\d(?:[ -]?\d){12,18}\b", 0.8),)
    context = (
        "card",
        "credit",
        "visa",
        "mastercard",
        "amex",
        "unionpay",
        "jcb",
        "card no",
        "信用卡",
        "卡號",
        "銀聯",
    )
    context_boost = 0.15

    def validate(self, candidate: Candidate) -> bool:
        text = candidate.text
        digits = text.replace(" ", "").replace("-", "")
        if " " in text and "-" in text:  # groups mixing both separators are not a card
            return False
        return len(set(digits)) > 1 and _issuer_ok(digits) and luhn_ok(digits)
