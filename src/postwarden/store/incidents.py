"""Incident tables: what left, whose records it held, who received it, and the timeline.

Record ids and statuses are kept for scoping (design.md, "Registers"); no register value is.
Every change to these rows is made through ``postwarden.incidents.casebook``, which appends
it to the audit chain in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from postwarden.store.db import Base

__all__ = ["Incident", "IncidentEvent", "IncidentItem", "IncidentRecipient", "IncidentRecord"]


class Incident(Base):
    """One leak, with the facts the regulator report and the letters are written from."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    opened_by: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    discovered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    discovered_how: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str] = mapped_column(Text, default="")
    remedial: Mapped[str] = mapped_column(Text, default="")
    remedial_zh: Mapped[str] = mapped_column(Text, default="")
    risk: Mapped[str] = mapped_column(Text, default="")
    data_user: Mapped[str] = mapped_column(String(255), default="")
    data_user_zh: Mapped[str] = mapped_column(String(255), default="")
    contact: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Register fields found in the items (``name_en``, ``hkid`` ...): the kinds of data."""


class IncidentItem(Base):
    """A message or file that left."""

    __tablename__ = "incident_items"
    __table_args__ = (UniqueConstraint("incident_id", "sha256", name="uq_incident_items_content"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``message`` (from the quarantine, or an .eml file) or ``file``."""
    ref: Mapped[str] = mapped_column(String(255))
    """The quarantine item id, or the file's name."""
    sha256: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(320), default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(255))


class IncidentRecord(Base):
    """One register record present in one item; the scope is the distinct ones."""

    __tablename__ = "incident_records"
    __table_args__ = (
        UniqueConstraint("item_id", "register", "record_id", name="uq_incident_records_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("incident_items.id"), index=True)
    register: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(64), default="")


class IncidentRecipient(Base):
    """Someone who received an item, and the recall sent to them."""

    __tablename__ = "incident_recipients"
    __table_args__ = (
        UniqueConstraint("incident_id", "address", name="uq_incident_recipients_address"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    unintended: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    added_by: Mapped[str] = mapped_column(String(255))
    recall_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[str | None] = mapped_column(String(255))
    confirmation: Mapped[str] = mapped_column(Text, default="")


class IncidentEvent(Base):
    """One entry of the incident's timeline (the audit chain holds the same, hashed)."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="")
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
