"""Every table module, imported once so that ``metadata`` holds the whole schema."""

from __future__ import annotations

from postwarden.store.db import Base

# Table modules register with Base on import; add each new one here.

metadata = Base.metadata
