"""Every table module, imported once so that ``metadata`` holds the whole schema."""

from __future__ import annotations

from postwarden.store import (  # noqa: F401 - importing a table module registers its tables
    audit,
    blobs,
    credentials,
    exemption_requests,
    exemptions,
    history,
    incidents,
    quarantine,
    register_versions,
    sessions,
    shared_keys,
    tokens,
    users,
)
from postwarden.store.db import Base

# Table modules register with Base on import; add each new one here.

metadata = Base.metadata
