"""Published register versions: the newest two of each name are kept, older ones deleted."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from postwarden.store.register_versions import (
    KEPT_VERSIONS,
    RegisterVersion,
    add_version,
    latest_versions,
    version_blob,
)


def test_only_the_newest_versions_of_a_name_are_kept(session: Session) -> None:
    voters = [
        add_version(session, "voters", "node-1", f"{i:064x}", b"sealed-%d" % i) for i in range(5)
    ]
    other = add_version(session, "tenants", "node-2", "0" * 64, b"tenants")
    session.commit()
    kept = session.execute(select(RegisterVersion.id).where(RegisterVersion.name == "voters"))
    assert sorted(kept.scalars()) == voters[-KEPT_VERSIONS:]
    assert latest_versions(session) == {"voters": voters[-1], "tenants": other}
    # The one before the newest is still there for a node that polled just before.
    assert version_blob(session, voters[-2])[2] == b"sealed-3"


def test_a_drop_is_kept_as_the_newest_version(session: Session) -> None:
    first = add_version(session, "voters", "node-1", "1" * 64, b"sealed")
    dropped = add_version(session, "voters", "node-1", "", b"")
    session.commit()
    assert latest_versions(session) == {"voters": dropped}
    assert version_blob(session, dropped) == ("voters", "", b"")
    assert version_blob(session, first)[2] == b"sealed"
