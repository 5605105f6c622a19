"""Every kind of audit entry the program writes, each with its one payload shape.

Operators script against the audit export, so the kind strings are a contract: a new kind is a
new member here, a row in ``docs/audit.md`` (a test keeps the two equal) and nothing else.
:func:`postwarden.store.audit.record` refuses a kind not listed here and a payload whose
fields differ from its shape, so an entry's fields tell what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from postwarden.errors import PostwardenError

__all__ = ["SHAPES", "AuditKind", "AuditShapeError", "Shape", "check"]


class AuditKind(StrEnum):
    VERDICT = "verdict"
    API_CHECK = "api.check"
    UPGRADE = "upgrade"
    QUARANTINE_RELEASE = "quarantine.release"
    QUARANTINE_RELEASE_FAILED = "quarantine.release-failed"
    QUARANTINE_REJECT = "quarantine.reject"
    QUARANTINE_CANCEL = "quarantine.cancel"
    QUARANTINE_EXPIRE = "quarantine.expire"
    QUARANTINE_RESOLVE = "quarantine.resolve"
    QUARANTINE_PURGE = "quarantine.purge"
    QUARANTINE_VIEW = "quarantine.view"
    QUARANTINE_ROTATE_KEY = "quarantine.rotate-key"
    CONSOLE_VIEW = "console.view"
    CONSOLE_REVEAL = "console.reveal"
    CONSOLE_LOGIN = "console.login"
    CONSOLE_SIGNOUT = "console.signout"
    USER_ADD = "user.add"
    USER_PASSWORD = "user.password"  # noqa: S105 (a kind, not a password)
    USER_TOTP_ENABLE = "user.totp.enable"
    USER_TOTP_DISABLE = "user.totp.disable"
    TOKEN_ADD = "token.add"  # noqa: S105
    TOKEN_REVOKE = "token.revoke"  # noqa: S105
    EXEMPTION_REQUEST = "exemption.request"
    EXEMPTION_GRANT = "exemption.grant"
    EXEMPTION_REFUSE = "exemption.refuse"
    EXEMPTION_REVOKE = "exemption.revoke"
    INCIDENT_OPEN = "incident.open"
    INCIDENT_ITEM = "incident.item"
    INCIDENT_RECIPIENT = "incident.recipient"
    INCIDENT_STATUS = "incident.status"
    INCIDENT_UPDATE = "incident.update"
    INCIDENT_RECALL = "incident.recall"
    INCIDENT_RECALL_CONFIRMED = "incident.recall-confirmed"
    INCIDENT_LETTERS = "incident.letters"
    INCIDENT_REPORT = "incident.report"


@dataclass(frozen=True, slots=True)
class Shape:
    """The fields an entry's ``data`` holds: all of ``fields``, and any of ``optional``."""

    fields: frozenset[str]
    optional: frozenset[str] = frozenset()

    @classmethod
    def of(cls, fields: str, optional: str = "") -> Shape:
        return cls(frozenset(fields.split()), frozenset(optional.split()))


_DECISION = "item action rules register_data recipients sha256 reason_sha256"
_INSPECTED = "action rules subjects findings recipients"

SHAPES: dict[AuditKind, Shape] = {
    AuditKind.VERDICT: Shape.of(f"{_INSPECTED} sha256 queue_id item"),
    AuditKind.API_CHECK: Shape.of(f"token {_INSPECTED} bytes"),
    AuditKind.UPGRADE: Shape.of("version schema_from schema_to"),
    # A partial delivery is a release that also says what failed.
    AuditKind.QUARANTINE_RELEASE: Shape.of(_DECISION, "error refused"),
    AuditKind.QUARANTINE_RELEASE_FAILED: Shape.of(f"{_DECISION} error refused"),
    AuditKind.QUARANTINE_REJECT: Shape.of(_DECISION),
    AuditKind.QUARANTINE_CANCEL: Shape.of("item action sha256"),
    AuditKind.QUARANTINE_EXPIRE: Shape.of(_DECISION),
    AuditKind.QUARANTINE_RESOLVE: Shape.of(f"{_DECISION} as"),
    AuditKind.QUARANTINE_PURGE: Shape.of("item state sha256 older_than_days"),
    AuditKind.QUARANTINE_VIEW: Shape.of("item raw"),
    AuditKind.QUARANTINE_ROTATE_KEY: Shape.of("items key"),
    AuditKind.CONSOLE_VIEW: Shape.of("item"),
    AuditKind.CONSOLE_REVEAL: Shape.of("item"),
    AuditKind.CONSOLE_LOGIN: Shape.of("address"),
    AuditKind.CONSOLE_SIGNOUT: Shape.of("user sessions"),
    AuditKind.USER_ADD: Shape.of("user role email"),
    AuditKind.USER_PASSWORD: Shape.of("user"),
    AuditKind.USER_TOTP_ENABLE: Shape.of("user"),
    AuditKind.USER_TOTP_DISABLE: Shape.of("user"),
    AuditKind.TOKEN_ADD: Shape.of("token scope expires_at"),
    AuditKind.TOKEN_REVOKE: Shape.of("token"),
    AuditKind.EXEMPTION_REQUEST: Shape.of("request domain until"),
    AuditKind.EXEMPTION_GRANT: Shape.of("exemption domain until", "request"),
    AuditKind.EXEMPTION_REFUSE: Shape.of("request"),
    AuditKind.EXEMPTION_REVOKE: Shape.of("exemption"),
    # Incident entries mirror a timeline event: a note's presence is recorded, never its text.
    AuditKind.INCIDENT_OPEN: Shape.of("incident status"),
    AuditKind.INCIDENT_ITEM: Shape.of("incident item kind sha256 records recipients"),
    AuditKind.INCIDENT_RECIPIENT: Shape.of("incident recipient unintended", "note"),
    AuditKind.INCIDENT_STATUS: Shape.of("incident from status", "note"),
    AuditKind.INCIDENT_UPDATE: Shape.of("incident fields"),
    AuditKind.INCIDENT_RECALL: Shape.of("incident recipients"),
    AuditKind.INCIDENT_RECALL_CONFIRMED: Shape.of("incident recipient", "note"),
    AuditKind.INCIDENT_LETTERS: Shape.of("incident letters deceased missing register"),
    AuditKind.INCIDENT_REPORT: Shape.of("incident format subjects"),
}


class AuditShapeError(PostwardenError, ValueError):
    """Code tried to audit an unknown kind, or a payload that is not its kind's shape: a bug,
    so a server-side failure (exit 1, HTTP 500)."""


def check(kind: str, data: Mapping[str, Any]) -> AuditKind:
    """The kind, provided it is listed and ``data`` has exactly its shape's fields."""
    try:
        known = AuditKind(kind)
    except ValueError:
        raise AuditShapeError(f"unknown audit kind {kind!r}") from None
    shape = SHAPES[known]
    given = set(data)
    missing = shape.fields - given
    extra = given - shape.fields - shape.optional
    if missing or extra:
        raise AuditShapeError(
            f"audit {known.value}: fields {sorted(given)} are not its shape "
            f"(missing {sorted(missing)}, unexpected {sorted(extra)})"
        )
    return known
