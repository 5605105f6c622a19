from __future__ import annotations

import pytest

from postwarden.engine.recipients.confusables import skeleton


@pytest.mark.parametrize(
    ("spoof", "real"),
    [
        ("аpple", "apple"),  # Cyrillic а
        ("rеo", "reo"),  # Cyrillic е
        ("ρayρal", "paypal"),  # Greek rho
        ("g00gle", "google"),  # digit zero
        ("paypa1", "paypal"),  # digit one
        ("rnicrosoft", "microsoft"),  # rn reads as m
        ("vvikipedia", "wikipedia"),  # vv reads as w
        ("GMAIL", "gmail"),
        ("ｇｍａｉｌ", "gmail"),  # full-width
        ("gmaíl", "gmail"),  # combining mark
    ],
)
def test_skeleton_maps_lookalikes_together(spoof: str, real: str) -> None:
    assert skeleton(spoof) == skeleton(real)


@pytest.mark.parametrize(("a", "b"), [("reo", "rea"), ("hku", "hkbu"), ("cuhk", "cityu")])
def test_skeleton_keeps_different_names_apart(a: str, b: str) -> None:
    assert skeleton(a) != skeleton(b)
