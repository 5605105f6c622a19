"""Roles are one enum (store.users.Role): the console grants permissions to its members."""

from __future__ import annotations

from postwarden.console.roles import PERMISSIONS, Permission, allows
from postwarden.store.users import Role


def test_every_role_has_its_permissions_and_no_other_role_exists() -> None:
    assert set(PERMISSIONS) == set(Role)


def test_allows_by_the_stored_role_string() -> None:
    assert allows("privacy-officer", Permission.DECIDE_REGISTER)
    assert not allows("admin", Permission.DECIDE_REGISTER)
    assert allows("admin", Permission.MANAGE_USERS)
    assert not allows("reviewer", Permission.VIEW_AUDIT)
    assert not allows("superuser", Permission.VIEW)
