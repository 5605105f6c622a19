"""Sent-mail import reads headers with the one decoder: hostile headers lose nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from postwarden.store.history import delivery_of

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _parsed(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def test_history_delivery_with_bad_encoded_word_and_groups() -> None:
    msg = _parsed(
        b"From: =?utf-8?B?abcde?= <amy@reo.gov.hk>\r\n"
        b"To: =?utf-8?B?6Zmz5aSn5paH?= <chan@lawfirm.com.hk>, =?utf-8?Q?bad=G1?= <b@x.hk>\r\n"
        b"Cc: unlisted-recipients:;\r\n"
        b"Bcc: team: c@partner.org.hk;\r\n"
        b"Date: Fri, 1 Mar 2024 09:00:00 +0800\r\n\r\nbody\r\n"
    )
    delivery = delivery_of(msg, NOW)
    assert delivery is not None
    assert delivery.sender == "amy@reo.gov.hk"
    assert delivery.recipients == ("chan@lawfirm.com.hk", "b@x.hk", "c@partner.org.hk")
    assert delivery.names["chan@lawfirm.com.hk"] == "陳大文"
    assert delivery.names["b@x.hk"] == "=?utf-8?Q?bad=G1?="
    assert delivery.when == datetime(2024, 3, 1, 1, 0, tzinfo=UTC)


def test_history_delivery_with_unparseable_date_keeps_the_import_time() -> None:
    msg = _parsed(b"From: a@reo.gov.hk\r\nTo: b@x.hk\r\nDate: 99 Foo 99999999 99:99\r\n\r\n")
    delivery = delivery_of(msg, NOW)
    assert delivery is not None
    assert delivery.when == NOW
