"""Opening incidents and recording every change to them, each one in the audit chain."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, overload

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from postwarden.errors import Invalid
from postwarden.i18n import _
from postwarden.incidents.facts import (
    EventFact,
    IncidentFacts,
    ItemFact,
    RecipientFact,
)
from postwarden.incidents.intake import NewItem
from postwarden.incidents.scope import ItemRecord, Scope
from postwarden.store import audit
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import get_row, session_factory
from postwarden.store.incidents import (
    Incident,
    IncidentEvent,
    IncidentItem,
    IncidentRecipient,
    IncidentRecord,
)

__all__ = ["Casebook", "Details", "IncidentError", "IncidentSummary", "Status"]


class Status(StrEnum):
    """Where an incident stands; any change is allowed, each is on the timeline."""

    OPEN = "open"
    CONTAINED = "contained"
    NOTIFIED = "notified"
    REPORTED = "reported"
    CLOSED = "closed"


class IncidentError(Invalid):
    """No such incident or recipient, or a change that makes no sense."""


@dataclass(frozen=True, slots=True)
class Details:
    """Facts about an incident the privacy officer writes; ``None`` leaves a field as it is."""

    occurred_at: datetime | None = None
    discovered_at: datetime | None = None
    discovered_how: str | None = None
    summary: str | None = None
    summary_zh: str | None = None
    cause: str | None = None
    remedial: str | None = None
    remedial_zh: str | None = None
    risk: str | None = None
    data_user: str | None = None
    data_user_zh: str | None = None
    contact: str | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    """A line of ``incident list``."""

    id: int
    title: str
    status: str
    opened_at: datetime
    items: int
    subjects: int


class Casebook:
    """The incidents of an installation: an engine plus the secret that keys the audit chain."""

    def __init__(self, engine: Engine, secret: bytes) -> None:
        self.engine = engine
        self.secret = secret

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with session_factory(self.engine)() as session, session.begin():
            yield session

    def _event(
        self,
        session: Session,
        incident: Incident,
        kind: AuditKind,
        actor: str,
        *,
        note: str = "",
        status: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        """One timeline entry (its kind is the audit kind's after ``incident.``) and its audit
        entry; notes stay out of the chain (free text may name people), their presence is
        recorded."""
        payload = dict(data or {})
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                at=datetime.now(UTC),
                kind=kind.removeprefix("incident."),
                status=status,
                actor=actor,
                note=note,
                data=payload,
            )
        )
        chained = {"incident": incident.id, **payload}
        if status:
            chained["status"] = status
        if note:
            chained["note"] = True
        audit.record(session, kind, actor, chained, secret=self.secret)

    def open(
        self, title: str, items: Sequence[NewItem], *, by: str, details: Details | None = None
    ) -> int:
        """A new incident holding ``items``; returns its id."""
        if not title.strip():
            raise IncidentError(_("an incident needs a title"))
        if not items:
            raise IncidentError(_("an incident needs at least one message or file"))
        now = datetime.now(UTC)
        with self._session() as session:
            incident = Incident(
                title=title.strip(),
                status=Status.OPEN.value,
                opened_at=now,
                opened_by=by,
                discovered_at=now,
                fields=[],
            )
            for name, value in (details or Details()).given().items():
                setattr(incident, name, value)
            session.add(incident)
            session.flush()
            self._event(session, incident, AuditKind.INCIDENT_OPEN, by, status=Status.OPEN.value)
            self._add(session, incident, items, by)
            return incident.id

    def add_items(self, incident_id: int, items: Sequence[NewItem], *, by: str) -> None:
        """More messages or files that left in the same incident (a resend, a forward)."""
        with self._session() as session:
            self._add(session, self._get(session, incident_id), items, by)

    def _add(self, session: Session, incident: Incident, items: Sequence[NewItem], by: str) -> None:
        known = set(
            session.scalars(
                select(IncidentItem.sha256).where(IncidentItem.incident_id == incident.id)
            )
        )
        found = set(incident.fields or ())
        for new in items:
            if new.sha256 in known:
                raise IncidentError(
                    _("{ref} is already part of incident {incident_id}").format(
                        ref=new.ref, incident_id=incident.id
                    )
                )
            known.add(new.sha256)
            item = IncidentItem(
                incident_id=incident.id,
                kind=new.kind,
                ref=new.ref[:255],
                sha256=new.sha256,
                sender=new.sender,
                sent_at=new.sent_at,
                recipients=list(new.recipients),
                size=new.size,
                added_at=datetime.now(UTC),
                added_by=by,
            )
            session.add(item)
            session.flush()
            session.add_all(
                IncidentRecord(
                    incident_id=incident.id,
                    item_id=item.id,
                    register=register,
                    record_id=rid,
                    status=status,
                )
                for register, rid, status in new.records
            )
            for address in new.recipients:
                self._ensure_recipient(session, incident, address, by)
            found |= new.fields
            counts: dict[str, int] = {}
            for register, _rid, _status in new.records:
                counts[register] = counts.get(register, 0) + 1
            self._event(
                session,
                incident,
                AuditKind.INCIDENT_ITEM,
                by,
                data={
                    "item": item.id,
                    "kind": new.kind,
                    "sha256": new.sha256,
                    "records": counts,
                    "recipients": len(new.recipients),
                },
            )
        incident.fields = sorted(found)

    def _ensure_recipient(
        self, session: Session, incident: Incident, address: str, by: str
    ) -> None:
        exists = session.scalar(
            select(IncidentRecipient.id).where(
                IncidentRecipient.incident_id == incident.id, IncidentRecipient.address == address
            )
        )
        if exists is None:
            # Recipients of a leaked message count as unintended until someone says otherwise.
            session.add(
                IncidentRecipient(
                    incident_id=incident.id,
                    address=address,
                    unintended=True,
                    added_at=datetime.now(UTC),
                    added_by=by,
                )
            )

    def add_recipient(
        self, incident_id: int, address: str, *, unintended: bool, by: str, note: str = ""
    ) -> int:
        """Record who received the incident's items (or mark one as the intended recipient)."""
        address = address.strip().lower()
        if "@" not in address:
            raise IncidentError(_("not an email address: {address!r}").format(address=address))
        with self._session() as session:
            incident = self._get(session, incident_id)
            row = self._recipient_at(session, incident, address)
            if row is None:
                row = IncidentRecipient(
                    incident_id=incident.id,
                    address=address,
                    unintended=unintended,
                    added_at=datetime.now(UTC),
                    added_by=by,
                    note=note,
                )
                session.add(row)
            else:
                row.unintended = unintended
                row.note = note or row.note
            session.flush()
            self._event(
                session,
                incident,
                AuditKind.INCIDENT_RECIPIENT,
                by,
                note=note,
                data={"recipient": row.id, "unintended": unintended},
            )
            return row.id

    def set_status(self, incident_id: int, status: Status, *, by: str, note: str) -> None:
        with self._session() as session:
            incident = self._get(session, incident_id)
            if incident.status == status.value:
                raise IncidentError(
                    _("incident {incident_id} is already {status_value}").format(
                        incident_id=incident_id, status_value=status.value
                    )
                )
            previous = incident.status
            incident.status = status.value
            self._event(
                session,
                incident,
                AuditKind.INCIDENT_STATUS,
                by,
                note=note,
                status=status.value,
                data={"from": previous},
            )

    def update(self, incident_id: int, details: Details, *, by: str) -> None:
        """Change the written facts (cause, contact, remedial actions ...)."""
        given = details.given()
        if not given:
            raise IncidentError(_("nothing to change"))
        with self._session() as session:
            incident = self._get(session, incident_id)
            for name, value in given.items():
                setattr(incident, name, value)
            self._event(
                session, incident, AuditKind.INCIDENT_UPDATE, by, data={"fields": sorted(given)}
            )

    def recall_sent(self, incident_id: int, recipient_ids: Sequence[int], *, by: str) -> None:
        """Record that recall requests went to these recipients."""
        now = datetime.now(UTC)
        with self._session() as session:
            incident = self._get(session, incident_id)
            for rid in recipient_ids:
                row = self._recipient(session, incident, rid)
                row.recall_sent_at = now
            self._event(
                session,
                incident,
                AuditKind.INCIDENT_RECALL,
                by,
                data={"recipients": list(recipient_ids)},
            )

    def confirm_recall(self, incident_id: int, address: str, *, by: str, note: str) -> None:
        """Record a recipient's confirmation that they deleted the item."""
        address = address.strip().lower()
        with self._session() as session:
            incident = self._get(session, incident_id)
            row = self._recipient_at(session, incident, address)
            if row is None:
                raise IncidentError(
                    _("{address} is not a recipient of incident {incident_id}").format(
                        address=address, incident_id=incident_id
                    )
                )
            row.confirmed_at = datetime.now(UTC)
            row.confirmed_by = by
            row.confirmation = note
            self._event(
                session,
                incident,
                AuditKind.INCIDENT_RECALL_CONFIRMED,
                by,
                note=note,
                data={"recipient": row.id},
            )

    def record(self, incident_id: int, kind: AuditKind, *, by: str, data: dict[str, Any]) -> None:
        """Put an output on the timeline (``letters``, ``report``): counts only, no names."""
        with self._session() as session:
            self._event(session, self._get(session, incident_id), kind, by, data=data)

    def list(self) -> list[IncidentSummary]:
        with session_factory(self.engine)() as session:
            items = dict(
                session.execute(
                    select(IncidentItem.incident_id, func.count()).group_by(
                        IncidentItem.incident_id
                    )
                ).all()
            )
            subjects = dict(
                session.execute(
                    select(
                        IncidentRecord.incident_id,
                        func.count(
                            func.distinct(
                                IncidentRecord.register + "\x00" + IncidentRecord.record_id
                            )
                        ),
                    ).group_by(IncidentRecord.incident_id)
                ).all()
            )
            return [
                IncidentSummary(
                    i.id, i.title, i.status, i.opened_at, items.get(i.id, 0), subjects.get(i.id, 0)
                )
                for i in session.scalars(select(Incident).order_by(Incident.id.desc()))
            ]

    def facts(self, incident_id: int) -> IncidentFacts:
        """The whole incident, with its de-duplicated scope."""
        with session_factory(self.engine)() as session:
            incident = self._get(session, incident_id)
            items = session.scalars(
                select(IncidentItem)
                .where(IncidentItem.incident_id == incident.id)
                .order_by(IncidentItem.id)
            ).all()
            records = session.execute(
                select(
                    IncidentRecord.item_id,
                    IncidentRecord.register,
                    IncidentRecord.record_id,
                    IncidentRecord.status,
                ).where(IncidentRecord.incident_id == incident.id)
            ).all()
            recipients = session.scalars(
                select(IncidentRecipient)
                .where(IncidentRecipient.incident_id == incident.id)
                .order_by(IncidentRecipient.id)
            ).all()
            events = session.scalars(
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == incident.id)
                .order_by(IncidentEvent.id)
            ).all()
            scope = Scope.build(
                (ItemRecord(*row) for row in records),
                {i.id: i.recipients for i in items},
            )
            return IncidentFacts(
                id=incident.id,
                title=incident.title,
                status=incident.status,
                opened_at=_utc(incident.opened_at),
                opened_by=incident.opened_by,
                occurred_at=_utc(incident.occurred_at),
                discovered_at=_utc(incident.discovered_at),
                discovered_how=incident.discovered_how,
                summary=incident.summary,
                summary_zh=incident.summary_zh,
                cause=incident.cause,
                remedial=incident.remedial,
                remedial_zh=incident.remedial_zh,
                risk=incident.risk,
                data_user=incident.data_user,
                data_user_zh=incident.data_user_zh,
                contact=incident.contact,
                fields=tuple(incident.fields or ()),
                items=[
                    ItemFact(
                        i.id,
                        i.kind,
                        i.ref,
                        i.sender,
                        _utc(i.sent_at),
                        tuple(i.recipients),
                        i.sha256,
                    )
                    for i in items
                ],
                recipients=[
                    RecipientFact(
                        r.id,
                        r.address,
                        r.unintended,
                        _utc(r.recall_sent_at),
                        _utc(r.confirmed_at),
                        r.confirmation,
                    )
                    for r in recipients
                ],
                events=[
                    EventFact(_utc(e.at), e.kind, e.status, e.actor, e.note, dict(e.data or {}))
                    for e in events
                ],
                scope=scope,
            )

    @staticmethod
    def _get(session: Session, incident_id: int) -> Incident:
        return get_row(
            session,
            Incident,
            incident_id,
            IncidentError(_("no incident {incident_id}").format(incident_id=incident_id)),
        )

    @staticmethod
    def _recipient_at(
        session: Session, incident: Incident, address: str
    ) -> IncidentRecipient | None:
        return session.scalar(
            select(IncidentRecipient).where(
                IncidentRecipient.incident_id == incident.id,
                IncidentRecipient.address == address,
            )
        )

    @staticmethod
    def _recipient(session: Session, incident: Incident, rid: int) -> IncidentRecipient:
        row = session.get(IncidentRecipient, rid)
        if row is None or row.incident_id != incident.id:
            raise IncidentError(
                _("no recipient {rid} in incident {incident_id}").format(
                    rid=rid, incident_id=incident.id
                )
            )
        return row


@overload
def _utc(when: datetime) -> datetime: ...
@overload
def _utc(when: None) -> None: ...
def _utc(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC."""
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
