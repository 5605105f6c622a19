"""Acceptance (issue 5): the same flows with the relay as Postfix's after-queue content_filter.

Postfix takes the mail (250 to the client), hands it to the relay, and the relay's answer
decides: 250 after forwarding to Postfix's reinjection port or after holding; 550 makes
Postfix bounce the message to its sender; 4xx (or the relay being down) keeps it queued.
"""

from __future__ import annotations

import time

import pytest
from tests.integration.conftest import REVIEWER, SENDER, Stack, postwarden
from tests.integration.messages import HKID, make_mail, marker, send

pytestmark = pytest.mark.integration


def test_relay_refuses_the_leak_and_postfix_bounces_it_to_the_sender(stack: Stack) -> None:
    mark = marker()
    rcpt = "someone@gmail.com"
    send(stack.ports.relay_in, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
    received = stack.sink.wait_for(mark)
    (bounce,) = received
    assert bounce.sender == "<>"  # a DSN from Postfix (aiosmtpd spells the null sender so)
    assert bounce.recipients == (SENDER,)
    assert b"5.7.1" in bounce.raw
    time.sleep(0.5)
    assert all(rcpt not in r.recipients for r in stack.sink.matching(mark))
    assert stack.postfix.queue() == []


def test_relay_delivers_clean_mail_with_the_verdict_header(stack: Stack) -> None:
    mark = marker()
    rcpt = "bob@demo.gov.hk"
    send(stack.ports.relay_in, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
    (got,) = stack.sink.wait_for(mark)
    assert got.recipients == (rcpt,)
    assert got.message["X-Postwarden-Verdict"] == "deliver"
    time.sleep(0.5)
    assert len(stack.sink.matching(mark)) == 1


def test_relay_holds_then_a_second_user_releases_exactly_once(stack: Stack) -> None:
    mark = marker()
    rcpt = f"{mark}@partner.example"
    raw = make_mail(mark, SENDER, rcpt, body=f"Applicant HKID {HKID}, please process.")
    send(stack.ports.relay_in, SENDER, [rcpt], raw)
    deadline = time.monotonic() + 15
    while not (held := stack.held_for(rcpt)) and time.monotonic() < deadline:
        time.sleep(0.2)
    (item,) = held
    stack.postfix.wait_queue(lambda q: not q)  # Postfix is done with it: the relay said 250
    assert [r for r in stack.sink.matching(mark) if rcpt in r.recipients] == []
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
    time.sleep(1)
    assert len([r for r in stack.sink.matching(mark) if rcpt in r.recipients]) == 1


def test_relay_killed_mail_stays_queued_and_is_delivered_once_after_restart(
    stack: Stack,
) -> None:
    mark = marker()
    rcpt = f"{mark}@demo.gov.hk"
    stack.relay.kill()
    try:
        send(stack.ports.relay_in, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
        queue = stack.postfix.wait_queue(
            lambda q: any(m["queue_name"] == "deferred" for m in q), timeout=30
        )
        (queued,) = [m for m in queue if m["recipients"][0]["address"] == rcpt]
        assert queued["queue_name"] == "deferred"
        assert stack.sink.matching(mark) == []
    finally:
        stack.relay.start()
    stack.postfix.flush()
    (got,) = stack.sink.wait_for(mark)
    assert got.message["X-Postwarden-Verdict"] == "deliver"
    stack.postfix.wait_queue(lambda q: not q)
    stack.postfix.flush()
    time.sleep(1)
    assert len(stack.sink.matching(mark)) == 1
