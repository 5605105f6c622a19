"""Bringing an installation made by an older Postwarden to this version: the database schema
(Alembic), the data dir's files, and an anchored audit head (docs/deploy.md).

Every step is idempotent: a second run finds nothing to do and changes nothing.  What was
done is audited (``upgrade``) and the new head anchored, so the chain stays one chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from postwarden import __version__
from postwarden.engine.registers.index import FORMAT, RegisterInfo, locked
from postwarden.errors import PostwardenError
from postwarden.i18n import _
from postwarden.settings import Settings, SettingsError, fsync_dir, write_atomic
from postwarden.store import audit
from postwarden.store.anchor import AnchorError, anchor_engine, anchor_file
from postwarden.store.audit_kinds import AuditKind
from postwarden.store.db import (
    SchemaError,
    SchemaUpgrade,
    open_database,
    upgrade,
)

__all__ = ["UpgradeError", "UpgradeReport", "upgrade_installation"]


class UpgradeError(PostwardenError):
    """The installation cannot be brought to this version as it is (one line: what and why)."""


@dataclass(slots=True)
class UpgradeReport:
    """What :func:`upgrade_installation` did, one line per step."""

    schema: SchemaUpgrade
    lines: list[str] = field(default_factory=list)
    changed: bool = False


def upgrade_installation(settings: Settings, *, actor: str) -> UpgradeReport:
    """Upgrade the data dir of ``settings`` and its database to this version; ``actor``
    is who ran it, for the audit log.

    Raises :class:`UpgradeError` for a database or register newer than this code and for an
    audit chain that does not verify after the schema upgrade (nothing is appended to it).
    """
    lines: list[str] = []
    changed = False
    added = _upgrade_settings_file(settings)
    if added:
        changed = True
        lines.append(f"settings.json: added {', '.join(added)} (defaults)")
    else:
        lines.append("settings.json: current")
    rewritten = _upgrade_registers(settings.registers_dir)
    if rewritten:
        changed = True
        lines.append(f"registers: meta.json brought to format {FORMAT}: {', '.join(rewritten)}")
    else:
        lines.append("registers: current")
    settings.quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    try:
        schema = upgrade(settings.db_url)
    except SchemaError as exc:
        raise UpgradeError(str(exc)) from None
    if schema.changed:
        changed = True
        lines.append(
            f"database: schema upgraded from revision {schema.before or '(empty)'} "
            f"to {schema.after}"
        )
    else:
        lines.append(f"database: schema at revision {schema.after} (current)")
    lines.append(_audit_upgrade(settings, schema, actor=actor, changed=changed))
    return UpgradeReport(schema=schema, lines=lines, changed=changed)


def _upgrade_settings_file(settings: Settings) -> list[str]:
    """Write the keys this version reads (with their defaults) into ``settings.json``, the
    shape ``init`` writes today; values already there are kept. Returns the keys added."""
    path = settings.settings_file
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UpgradeError(_("cannot read {path}: {exc}").format(path=path, exc=exc)) from None
    # ``settings`` was loaded from this file, so its values are the file's, defaults filled.
    full = {**raw, **settings.to_json()}
    if full == raw:
        return []
    write_atomic(path, json.dumps(full, indent=2).encode() + b"\n", mode=0o600)
    fsync_dir(path.parent)
    return _added_keys(raw, full)


def _added_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in new.items():
        if key not in old:
            out.append(prefix + key)
        elif isinstance(value, dict) and isinstance(old[key], dict):
            out.extend(_added_keys(old[key], value, f"{prefix}{key}."))
    return out


def _upgrade_registers(registers_dir: Path) -> list[str]:
    """Rewrite each register's ``meta.json`` in this version's format (older imports lack
    ``format`` and ``reading``); the index files themselves are unchanged."""
    if not registers_dir.is_dir():
        return []
    rewritten: list[str] = []
    for entry in sorted(registers_dir.iterdir()):
        if not entry.is_symlink() or entry.name.startswith("."):
            continue
        with locked(registers_dir, entry.name):
            meta_path = entry.resolve() / "meta.json"
            try:
                raw = json.loads(meta_path.read_bytes())
                info = RegisterInfo.from_json(raw)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UpgradeError(
                    _("register {entry_name}: cannot read {meta_path}: {exc}").format(
                        entry_name=entry.name, meta_path=meta_path, exc=exc
                    )
                ) from None
            found = raw.get("format", 0)
            if not isinstance(found, int) or found > FORMAT:
                raise UpgradeError(
                    _(
                        "register {entry_name} is in format {found}, newer than this postwarden "
                        "reads ({supported}): run the newer version"
                    ).format(entry_name=entry.name, found=found, supported=FORMAT)
                )
            current = info.to_json()
            if current == raw:
                continue
            write_atomic(meta_path, json.dumps(current, indent=2).encode() + b"\n", mode=0o600)
            fsync_dir(meta_path.parent)
            rewritten.append(entry.name)
    return rewritten


def _audit_upgrade(settings: Settings, schema: SchemaUpgrade, *, actor: str, changed: bool) -> str:
    """Verify the chain on the upgraded schema against its anchor (a data dir from before
    anchoring has none); if anything changed, record the upgrade, which anchors the head."""
    try:
        secret = settings.secret()
        anchor = anchor_file(settings)
        anchored = anchor.read()
    except (SettingsError, AnchorError) as exc:
        raise UpgradeError(str(exc)) from None
    db = open_database(settings.db_url)
    anchor_engine(db.engine, anchor)
    try:
        with db.session() as session:
            result = audit.verify(
                session, secret=secret, anchored=anchored.head() if anchored else None
            )
            if not result.ok:
                raise UpgradeError(
                    _(
                        "audit log broken at entry {first_bad}: {problem}; the upgrade is not "
                        "recorded in it (see 'postwarden audit verify')"
                    ).format(first_bad=result.first_bad, problem=result.problem)
                )
            if not changed and anchored is not None:
                return f"audit log: {result.entries} entries verify (nothing to record)"
            data = {
                "version": __version__,
                "schema_from": schema.before,
                "schema_to": schema.after,
            }
            entry = audit.record(session, AuditKind.UPGRADE, actor, data, secret=secret)
            session.commit()
    finally:
        db.engine.dispose()
    return (
        f"audit log: {result.entries} entries verify; upgrade recorded as entry {entry.seq} "
        f"and anchored in {anchor.path.name}"
    )
