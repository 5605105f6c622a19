"""Acceptance (issue 5): Postwarden as a Postfix milter, against a real Postfix."""

from __future__ import annotations

import smtplib
import time

import pytest
from tests.integration.conftest import REVIEWER, SENDER, Stack, postwarden
from tests.integration.messages import HKID, make_mail, marker, send

pytestmark = pytest.mark.integration


def test_milter_rejects_the_leak_with_550_at_the_client(stack: Stack) -> None:
    mark = marker()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(
            stack.ports.filter,
            SENDER,
            ["someone@gmail.com"],
            make_mail(mark, SENDER, "someone@gmail.com"),
        )
    assert err.value.smtp_code == 550
    assert err.value.smtp_error.startswith(b"5.7.1 ")
    assert b"webmail" in err.value.smtp_error
    time.sleep(0.5)
    assert stack.sink.matching(mark) == []
    assert stack.postfix.queue() == []


def test_milter_delivers_clean_mail_with_the_verdict_header(stack: Stack) -> None:
    mark = marker()
    send(
        stack.ports.filter, SENDER, ["bob@demo.gov.hk"], make_mail(mark, SENDER, "bob@demo.gov.hk")
    )
    (got,) = stack.sink.wait_for(mark)
    assert got.message["X-Postwarden-Verdict"] == "deliver"
    assert got.recipients == ("bob@demo.gov.hk",)
    time.sleep(0.5)
    assert len(stack.sink.matching(mark)) == 1


def test_milter_holds_then_a_second_user_releases_exactly_once(stack: Stack) -> None:
    mark = marker()
    rcpt = f"{mark}@partner.example"
    raw = make_mail(mark, SENDER, rcpt, body=f"Applicant HKID {HKID}, please process.")
    send(stack.ports.filter, SENDER, [rcpt], raw)  # 250 to the client: Postfix discards
    (item,) = stack.held_for(rcpt)
    assert item["state"] == "held"
    # The sender is told (null envelope sender); the message itself goes nowhere.
    notices = stack.sink.wait_for(item["id"])
    assert [n.recipients for n in notices] == [(SENDER,)]
    time.sleep(0.5)
    assert [r for r in stack.sink.matching(mark) if rcpt in r.recipients] == []

    # The sender cannot release her own message (four eyes); the reviewer can, once.
    postwarden(
        stack.data_dir, "user", "add", "alice", "--role", "reviewer", "--email", SENDER, check=False
    )
    own = postwarden(
        stack.data_dir,
        "quarantine",
        "release",
        item["id"],
        "--by",
        "alice",
        "--reason",
        "mine",
        check=False,
    )
    assert own.returncode != 0
    postwarden(
        stack.data_dir,
        "quarantine",
        "release",
        item["id"],
        "--by",
        REVIEWER,
        "--reason",
        "applicant consented",
    )
    arrived = stack.sink.wait_for(mark, to=rcpt)
    assert len(arrived) == 1
    assert arrived[0].sender == SENDER
    again = postwarden(
        stack.data_dir,
        "quarantine",
        "release",
        item["id"],
        "--by",
        REVIEWER,
        "--reason",
        "twice",
        check=False,
    )
    assert again.returncode != 0
    time.sleep(1)
    assert len([r for r in stack.sink.matching(mark) if rcpt in r.recipients]) == 1
    (after,) = stack.held_for(rcpt)
    assert after["state"] == "released"


def test_milter_killed_mail_stays_queued_and_is_delivered_once_after_restart(
    stack: Stack,
) -> None:
    mark = marker()
    rcpt = f"{mark}@demo.gov.hk"
    stack.milter.kill()
    try:
        # A client talking to the filtering smtpd directly is told to come back later.
        with pytest.raises(smtplib.SMTPResponseException) as err:
            send(stack.ports.filter, SENDER, [rcpt], make_mail(mark + "d", SENDER, rcpt))
        assert 400 <= err.value.smtp_code < 500
        # Mail already in Postfix's queue stays there, deferred by the tempfail.
        send(stack.ports.queue, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
        queue = stack.postfix.wait_queue(
            lambda q: any(m["queue_name"] == "deferred" for m in q), timeout=30
        )
        (queued,) = [m for m in queue if m["recipients"][0]["address"] == rcpt]
        assert queued["queue_name"] == "deferred"
        assert queued["recipients"][0]["delay_reason"].startswith("host 127.0.0.1[127.0.0.1]")
        assert " said: 4" in queued["recipients"][0]["delay_reason"]
        assert stack.sink.matching(mark) == []
    finally:
        stack.milter.start()
    stack.postfix.flush()
    (got,) = stack.sink.wait_for(mark)
    assert got.message["X-Postwarden-Verdict"] == "deliver"
    stack.postfix.wait_queue(lambda q: not q)
    stack.postfix.flush()
    time.sleep(1)
    assert len(stack.sink.matching(mark)) == 1
    assert stack.postfix.queue() == []
