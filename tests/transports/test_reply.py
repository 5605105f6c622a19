"""The front ends' tempfail reply."""

from __future__ import annotations

from postwarden.transports.reply import TEMPFAIL


def test_tempfail_is_temporary_and_renders_as_smtp() -> None:
    assert TEMPFAIL.temporary
    assert str(TEMPFAIL).startswith("451 4.3.0 ")
