"""Who the organisation writes to: learnt from every delivered message and from sent mail."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from postwarden.errors import Invalid
from postwarden.headers import addresses, header_values, mailboxes
from postwarden.i18n import _
from postwarden.mailfiles import (
    is_maildir,
    is_mbox,
    is_message_file,
    maildir_files,
    open_mbox,
)
from postwarden.store.db import Base


class HistoryError(Invalid):
    """A sent-mail source that cannot be read."""


class HistoryContact(Base):
    """Messages one sender sent to one recipient, with first and last time."""

    __tablename__ = "history_contacts"
    __table_args__ = (UniqueConstraint("sender", "recipient", name="uq_history_contacts_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    recipient_domain: Mapped[str] = mapped_column(String(255), index=True)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    """When this row was last written (not when mail was sent): what refreshes follow."""


class HistoryName(Base):
    """A display name an address carried in To, Cc or From headers."""

    __tablename__ = "history_names"
    __table_args__ = (
        UniqueConstraint("address", "name_key", name="uq_history_names_address_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(255))
    name_key: Mapped[str] = mapped_column(String(255), index=True)
    count: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One sent message as history records it."""

    sender: str
    recipients: tuple[str, ...]
    when: datetime
    names: Mapping[str, str] = field(default_factory=dict)
    """Address → display name from the To, Cc and From headers."""


def _clean(address: str) -> str:
    return address.strip().strip("<>").lower()


def _name_key(display: str) -> str:
    """Case- and spacing-insensitive identity of a display name, for de-duplicating rows."""
    return " ".join(display.casefold().split())[:255]


def _utc(when: datetime) -> datetime:
    """UTC, so that SQLite (which stores no offset) orders times from any zone correctly."""
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _dialect(name: str) -> tuple[Any, Any, Any]:
    """INSERT with ON CONFLICT, and two-argument min/max, for SQLite and PostgreSQL (the
    dialect's module imported here: a process that only reads the history needs neither)."""
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert, func.least, func.greatest
    from sqlalchemy.dialects import sqlite

    return sqlite.insert, func.min, func.max


@functools.cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """The contacts' and the names' INSERT … ON CONFLICT statements for ``dialect``, built
    once: building one (its ``excluded`` alias) costs more than running it."""
    insert, least, greatest = _dialect(dialect)
    contacts = _upsert_statement(
        insert(HistoryContact.__table__),
        ("sender", "recipient"),
        {"count": operator.add, "first_seen": least, "last_seen": greatest, "touched_at": _new},
    )
    names = _upsert_statement(
        insert(HistoryName.__table__),
        ("address", "name_key"),
        {"count": operator.add, "last_seen": greatest, "touched_at": _new},
    )
    return contacts, names


def _upsert_statement(
    insert: Any, keys: Sequence[str], merge: Mapping[str, Callable[[Any, Any], Any]]
) -> Any:
    """``insert`` where a row whose ``keys`` stand already is merged into the stored one,
    column by column (``merge``: the stored and the new value to the kept one)."""
    table = insert.table
    return insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: how(table.c[name], insert.excluded[name]) for name, how in merge.items()},
    )


def record_delivery(
    session: Session,
    sender: str,
    recipients: Iterable[str],
    when: datetime,
    names: Mapping[str, str] | None = None,
) -> None:
    """Count one delivered message (the gateway calls this; the caller commits)."""
    record_deliveries(session, [Delivery(sender, tuple(recipients), when, dict(names or {}))])


def record_deliveries(session: Session, deliveries: Iterable[Delivery]) -> int:
    """Count many messages in one batch of upserts; returns how many were counted."""
    pairs: dict[tuple[str, str], list[Any]] = {}
    named: dict[tuple[str, str], list[Any]] = {}
    messages = 0
    for d in deliveries:
        sender = _clean(d.sender)
        when = _utc(d.when)
        rcpts = {_clean(r) for r in d.recipients if "@" in r}
        if not rcpts:
            continue
        messages += 1
        for rcpt in rcpts:
            entry = pairs.setdefault((sender, rcpt), [0, when, when])
            entry[0] += 1
            entry[1] = min(entry[1], when)
            entry[2] = max(entry[2], when)
        for address, display in d.names.items():
            display = " ".join(display.split())[:255]
            if display and "@" in address:
                key = (_clean(address), _name_key(display))
                item = named.setdefault(key, [display, 0, when])
                item[1] += 1
                item[2] = max(item[2], when)
    contacts, names = _upserts(session.get_bind().dialect.name)
    now = datetime.now(UTC)
    rows = [
        {
            "sender": s,
            "recipient": r,
            "recipient_domain": r.rpartition("@")[2],
            "count": n,
            "first_seen": first,
            "last_seen": last,
            "touched_at": now,
        }
        for (s, r), (n, first, last) in pairs.items()
    ]
    _upsert(session, contacts, rows)
    name_rows = [
        {
            "address": a,
            "name_key": k,
            "display_name": disp,
            "count": n,
            "last_seen": last,
            "touched_at": now,
        }
        for (a, k), (disp, n, last) in named.items()
    ]
    _upsert(session, names, name_rows)
    return messages


def _new(old: Any, new: Any) -> Any:
    return new


def _upsert(session: Session, upsert: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``upsert`` for ``rows``, 500 at a time, as the parameters of one statement (an
    executemany), not as VALUES in it: a statement that carries its values is compiled anew
    for every call, one without is compiled once and cached by SQLAlchemy (together with the
    statement built once, about 0.5 ms of CPU less for each delivered message's history,
    benchmarks/gateway.py)."""
    for i in range(0, len(rows), 500):
        session.execute(upsert, rows[i : i + 500])


def recipient_totals(session: Session, since: datetime | None = None) -> list[tuple[str, int]]:
    """Messages sent to each recipient by anyone; only recipients written since ``since``."""
    stmt = select(HistoryContact.recipient, func.sum(HistoryContact.count)).group_by(
        HistoryContact.recipient
    )
    if since is not None:
        changed = select(HistoryContact.recipient).where(HistoryContact.touched_at >= since)
        stmt = stmt.where(HistoryContact.recipient.in_(changed))
    return [(r, int(n)) for r, n in session.execute(stmt)]


def display_names(session: Session, since: datetime | None = None) -> list[tuple[str, str]]:
    """(address, display name) pairs, only those written since ``since`` when given."""
    stmt = select(HistoryName.address, HistoryName.display_name)
    if since is not None:
        stmt = stmt.where(HistoryName.touched_at >= since)
    return [(a, n) for a, n in session.execute(stmt)]


def latest_change(session: Session) -> datetime | None:
    """When history was last written: the newest ``touched_at`` of either table."""
    a = session.scalar(select(func.max(HistoryContact.touched_at)))
    b = session.scalar(select(func.max(HistoryName.touched_at)))
    stamps = [_utc(s) for s in (a, b) if s is not None]
    return max(stamps) if stamps else None


# ---------------------------------------------------------------- importing sent mail


@dataclass(slots=True)
class ImportStats:
    messages: int = 0
    skipped: int = 0


def delivery_of(msg: EmailMessage, fallback: datetime) -> Delivery | None:
    """What history learns from one sent message: From → To/Cc/Bcc, names, date.

    Headers are read with the one decoder (:mod:`postwarden.headers`): a bad encoded-word in
    a name no longer drops the message from the history.
    """
    senders = addresses(header_values(msg, "From"), "From")
    recipients = tuple(a for h in ("To", "Cc", "Bcc") for a in addresses(header_values(msg, h), h))
    sender = senders[0] if senders else ""
    if not sender or not recipients:
        return None
    names: dict[str, str] = {}
    for h in ("From", "To", "Cc", "Bcc"):
        for box in mailboxes(header_values(msg, h), h).items:
            if box.name:
                names[box.address.lower()] = box.name
    when = fallback
    dates = header_values(msg, "Date")
    if dates:
        try:
            when = _utc(parsedate_to_datetime(dates[0].strip()))
        except (TypeError, ValueError, IndexError, OverflowError):
            pass  # an unparseable Date keeps the import time
    return Delivery(sender=sender, recipients=recipients, when=when, names=names)


def _read_sources(path: Path) -> Iterator[EmailMessage | None]:
    parser = BytesParser(policy=policy.default)
    if path.is_dir():
        if is_maildir(path):
            for file in maildir_files(path):
                yield _parse(parser, file.read_bytes())
            return
        for file in sorted(p for p in path.rglob("*") if is_message_file(p.name) and p.is_file()):
            yield _parse(parser, file.read_bytes())
        return
    if path.is_file():
        if is_message_file(path.name):
            yield _parse(parser, path.read_bytes())
            return
        if not is_mbox(path):
            raise HistoryError(
                _("{path}: not an mbox (no 'From ' line), .eml file or folder").format(path=path)
            )
        with open_mbox(path) as box:
            for key in box.iterkeys():
                yield _parse(parser, box.get_bytes(key))
        return
    raise HistoryError(_("no such file or folder: {path}").format(path=path))


def _parse(parser: BytesParser[EmailMessage], data: bytes) -> EmailMessage | None:
    try:
        return parser.parsebytes(data, headersonly=True)
    except Exception:
        return None


def import_sent_mail(
    session: Session, path: Path, *, now: datetime | None = None, batch: int = 2000
) -> ImportStats:
    """Learn from a maildir, an mbox, or a folder of .eml files of sent mail."""
    fallback = now or datetime.now(UTC)
    stats = ImportStats()
    pending: list[Delivery] = []
    for msg in _read_sources(path):
        delivery = delivery_of(msg, fallback) if msg is not None else None
        if delivery is None:
            stats.skipped += 1
            continue
        pending.append(delivery)
        if len(pending) >= batch:
            stats.messages += record_deliveries(session, pending)
            pending.clear()
    stats.messages += record_deliveries(session, pending)
    return stats
