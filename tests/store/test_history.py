from __future__ import annotations

import mailbox
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postwarden.store.history import (
    HistoryContact,
    HistoryError,
    display_names,
    import_sent_mail,
    latest_change,
    recipient_totals,
    record_delivery,
)

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def _sent(
    sender: str, to: Sequence[str], cc: Sequence[str] = (), *, date: str | None = None
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = "minutes"
    if date:
        msg["Date"] = date
    msg.set_content("see attached")
    return bytes(msg)


def test_record_delivery_counts_pairs_with_first_and_last_seen(session: Session) -> None:
    record_delivery(session, "Amy@reo.gov.hk", ["Bob@LawFirm.com.hk", "c@x.com"], T0)
    record_delivery(session, "amy@reo.gov.hk", ["bob@lawfirm.com.hk"], T0 + timedelta(days=2))
    record_delivery(session, "amy@reo.gov.hk", ["bob@lawfirm.com.hk"], T0 - timedelta(days=1))
    session.commit()
    row = session.scalars(
        select(HistoryContact).where(HistoryContact.recipient == "bob@lawfirm.com.hk")
    ).one()
    assert row.sender == "amy@reo.gov.hk"
    assert row.count == 3
    assert row.recipient_domain == "lawfirm.com.hk"
    assert row.first_seen.replace(tzinfo=UTC) == T0 - timedelta(days=1)
    assert row.last_seen.replace(tzinfo=UTC) == T0 + timedelta(days=2)


def test_recipient_totals_sum_over_senders(session: Session) -> None:
    record_delivery(session, "a@reo.gov.hk", ["x@y.com"], T0)
    record_delivery(session, "b@reo.gov.hk", ["x@y.com", "z@y.com"], T0)
    session.commit()
    assert sorted(recipient_totals(session)) == [("x@y.com", 2), ("z@y.com", 1)]


def test_recipient_totals_since_returns_only_recipients_written_later(session: Session) -> None:
    record_delivery(session, "a@reo.gov.hk", ["old@y.com", "both@y.com"], T0)
    session.commit()
    stamp = latest_change(session)
    assert stamp is not None
    later = stamp + timedelta(microseconds=1)
    assert recipient_totals(session, later) == []
    # an old Date header still counts as a change: refreshes follow when rows were written
    record_delivery(session, "b@reo.gov.hk", ["both@y.com"], T0 - timedelta(days=400))
    session.commit()
    assert recipient_totals(session, later) == [("both@y.com", 2)]


def test_record_delivery_keeps_display_names(session: Session) -> None:
    record_delivery(session, "a@reo.gov.hk", ["x@y.com"], T0, names={"x@y.com": "Wong  Siu Ming"})
    record_delivery(session, "a@reo.gov.hk", ["x@y.com"], T0, names={"x@y.com": "wong siu ming"})
    session.commit()
    assert display_names(session) == [("x@y.com", "Wong Siu Ming")]


def _write_maildir(path: Path) -> None:
    md = mailbox.Maildir(path, create=True)
    md.add(
        _sent(
            "Amy Lee <amy@reo.gov.hk>",
            ["Bob Chan <bob@lawfirm.com.hk>"],
            date="Fri, 01 Mar 2024 09:00:00 +0800",
        )
    )
    md.add(_sent("amy@reo.gov.hk", ["bob@lawfirm.com.hk"], ["carol@partner.org.hk"]))
    md.add(b"Subject: no addresses at all\n\nhello\n")


def _write_mbox(path: Path) -> None:
    box = mailbox.mbox(path, create=True)
    box.add(_sent("amy@reo.gov.hk", ["bob@lawfirm.com.hk"]))
    box.add(_sent("amy@reo.gov.hk", ["bob@lawfirm.com.hk"], ["carol@partner.org.hk"]))
    box.add(b"From: x@reo.gov.hk\nSubject: no recipient\n\nhello\n")
    box.close()


def _write_eml_folder(path: Path) -> None:
    (path / "sub").mkdir(parents=True)
    (path / "a.eml").write_bytes(_sent("amy@reo.gov.hk", ["bob@lawfirm.com.hk"]))
    (path / "sub" / "b.eml").write_bytes(
        _sent("amy@reo.gov.hk", ["bob@lawfirm.com.hk"], ["carol@partner.org.hk"])
    )
    (path / "c.eml").write_bytes(b"\x00\x01 not mail")


@pytest.mark.parametrize("writer", [_write_maildir, _write_mbox, _write_eml_folder])
def test_import_sent_mail_reads_each_source_kind(
    session: Session, tmp_path: Path, writer: Callable[[Path], None]
) -> None:
    source = tmp_path / "sent"
    writer(source)
    stats = import_sent_mail(session, source)
    session.commit()
    assert (stats.messages, stats.skipped) == (2, 1)
    assert sorted(recipient_totals(session)) == [
        ("bob@lawfirm.com.hk", 2),
        ("carol@partner.org.hk", 1),
    ]


def test_import_sent_mail_uses_date_header_and_names(session: Session, tmp_path: Path) -> None:
    _write_maildir(tmp_path / "md")
    import_sent_mail(session, tmp_path / "md")
    session.commit()
    first = session.scalars(select(HistoryContact.first_seen)).all()
    assert datetime(2024, 3, 1, 1, 0) in [f.replace(tzinfo=None) for f in first]
    assert ("bob@lawfirm.com.hk", "Bob Chan") in display_names(session)
    assert ("amy@reo.gov.hk", "Amy Lee") in display_names(session)


def test_import_sent_mail_refuses_what_is_not_mail(session: Session, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"PK\x03\x04 zip")
    with pytest.raises(HistoryError, match="not an mbox"):
        import_sent_mail(session, junk)
    with pytest.raises(HistoryError, match="no such file"):
        import_sent_mail(session, tmp_path / "missing")


def test_store_history_refreshes_incrementally(db_engine: Engine) -> None:
    from postwarden.inspector import StoreHistory

    with Session(db_engine) as s:
        record_delivery(s, "a@reo.gov.hk", ["x@y.com"], T0)
        s.commit()
    view = StoreHistory(db_engine, refresh_seconds=3600)
    assert view.seen("x@y.com") == 1
    with Session(db_engine) as s:
        record_delivery(
            s, "b@reo.gov.hk", ["x@y.com", "new@z.com"], T0, names={"new@z.com": "New Person"}
        )
        s.commit()
    assert view.seen("new@z.com") == 0  # not yet refreshed
    view.refresh()
    assert view.seen("x@y.com") == 2
    assert view.seen("new@z.com") == 1
    assert list(view.names_of("new@z.com")) == ["New Person"]
    assert view.known_domains()["y.com"] == 2
