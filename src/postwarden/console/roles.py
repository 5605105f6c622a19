"""What each role may see and do in the console; every route names the permission it needs."""

from __future__ import annotations

from enum import StrEnum

from postwarden.store.users import Role


class Permission(StrEnum):
    VIEW = "view"  # dashboard, queue, message pages (masked), policy
    DECIDE = "decide"  # release or reject holds without register data
    REVEAL = "reveal"  # show personal data unmasked (audited)
    REQUEST_EXEMPTION = "request-exemption"
    DECIDE_REGISTER = "decide-register"  # release holds for register data
    DECIDE_EXEMPTION = "decide-exemption"  # approve, refuse, revoke exemptions
    VIEW_AUDIT = "view-audit"
    MANAGE_USERS = "manage-users"


_REVIEWER = frozenset(
    {Permission.VIEW, Permission.DECIDE, Permission.REVEAL, Permission.REQUEST_EXEMPTION}
)
_PRIVACY_OFFICER = _REVIEWER | {
    Permission.DECIDE_REGISTER,
    Permission.DECIDE_EXEMPTION,
    Permission.VIEW_AUDIT,
}
# An admin runs the installation (users, the audit trail) and reviews ordinary holds, but is
# not a privacy officer: register holds and exemptions stay with that role (separation of
# duties, as store.users.Role says).
_ADMIN = _REVIEWER | {Permission.VIEW_AUDIT, Permission.MANAGE_USERS}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REVIEWER: _REVIEWER,
    Role.PRIVACY_OFFICER: _PRIVACY_OFFICER,
    Role.ADMIN: _ADMIN,
}


def allows(role: str, permission: Permission) -> bool:
    """Whether a user of ``role`` (as stored) may; an unknown role may nothing."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
