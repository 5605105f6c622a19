"""The one factory every front end calls: an Inspector loaded with this installation's state.

``build_inspector(settings)`` loads the policy (local override, else the shipped default),
an in-memory view of the sending history and the active exemptions from the database; the
CLI, the gateway and the HTTP API all inspect through what it returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from postwarden.engine import Inspector, policy_vocabulary
from postwarden.engine.detect import default_detectors
from postwarden.engine.policy import Policy, PolicyError, Vocabulary, default_policy, load_policy
from postwarden.engine.recipients import ContactIndex
from postwarden.engine.registers import RegisterSet, list_registers
from postwarden.settings import Settings, write_atomic
from postwarden.store import exemptions as exemption_store
from postwarden.store import history as history_store
from postwarden.store.db import open_database, session_factory

__all__ = [
    "PolicyLoad",
    "StoreExemptions",
    "StoreHistory",
    "build_inspector",
    "load_policy_for",
    "reload_policy",
    "vocabulary_for",
]

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0
"""How stale the history and exemptions a long-running process sees may get."""

# A transaction that started before the last refresh may commit rows stamped earlier than
# the newest row that refresh saw; re-reading this much overlap catches them (rows are totals,
# so reading one twice is harmless).
_OVERLAP = timedelta(seconds=120)


def last_good_file(settings: Settings) -> Path:
    """Where the last policy that validated is kept, to stay in force if the next is broken."""
    return settings.data_dir / "policy.last-good.yaml"


@dataclass(frozen=True, slots=True)
class PolicyLoad:
    """The policy in force, and the problems of the local file when it was refused."""

    policy: Policy
    errors: tuple[str, ...] = ()


def vocabulary_for(settings: Settings) -> Vocabulary:
    """What this installation's policy may name: the detectors and its registers."""
    return policy_vocabulary(info.name for info in list_registers(settings.registers_dir))


def load_policy_for(settings: Settings) -> PolicyLoad:
    """The local policy file when valid (remembered as the last good one); when it is
    invalid, the last good one (else the shipped default) with the errors."""
    path = settings.policy_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return PolicyLoad(default_policy())
    except OSError as exc:
        return PolicyLoad(_fallback(settings), (f"{path}: cannot read: {exc.strerror}",))
    try:
        policy = load_policy(text, str(path), vocabulary_for(settings))
    except PolicyError as exc:
        return PolicyLoad(_fallback(settings), tuple(exc.errors))
    _remember(settings, text)
    return PolicyLoad(policy)


def _fallback(settings: Settings) -> Policy:
    good = last_good_file(settings)
    # Registers left unchecked: a last good policy naming a register dropped since is still
    # nearer the site's intent than the shipped default (the refusal above says why).
    try:
        return load_policy(good.read_text(encoding="utf-8"), str(good), policy_vocabulary())
    except (OSError, PolicyError):
        return default_policy()


def _remember(settings: Settings, text: str) -> None:
    good = last_good_file(settings)
    try:
        if not good.exists() or good.read_text(encoding="utf-8") != text:
            write_atomic(good, text.encode("utf-8"), mode=0o600)
    except OSError as exc:  # a read-only data dir still inspects; it only cannot remember
        log.warning("cannot keep the last good policy in %s: %s", good, exc.strerror)


def reload_policy(inspector: Inspector, settings: Settings) -> tuple[str, ...]:
    """Re-read the policy into a running inspector; an invalid file keeps the one in force
    and its errors are returned (empty when the new policy took effect)."""
    path = settings.policy_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        inspector.policy = default_policy()
        return ()
    except OSError as exc:
        return (f"{path}: cannot read: {exc.strerror}",)
    try:
        policy = load_policy(text, str(path), vocabulary_for(settings))
    except PolicyError as exc:
        log.error("policy %s refused, the previous one stays in force: %s", path, exc)
        return tuple(exc.errors)
    _remember(settings, text)
    inspector.policy = policy
    return ()


class StoreHistory:
    """The sending history as the engine's ``ContactHistory``: an in-memory index, brought
    up to date from the database at most every ``refresh_seconds`` with the rows written
    since (an indexed query), never a query per recipient."""

    def __init__(self, engine: Engine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._index = ContactIndex()
        self._stamp: datetime | None = None
        self._next = 0.0
        self.refresh()

    @property
    def generation(self) -> int:
        return self._index.generation

    def refresh(self) -> None:
        """Fold in the rows written since the last refresh; a database error keeps the view."""
        with self._lock:
            self._next = time.monotonic() + self._refresh_seconds
            since = self._stamp - _OVERLAP if self._stamp is not None else None
            try:
                with session_factory(self._engine)() as session:
                    stamp = history_store.latest_change(session)
                    if stamp is None or stamp == self._stamp:
                        return
                    counts = history_store.recipient_totals(session, since)
                    names = history_store.display_names(session, since)
            except SQLAlchemyError as exc:
                log.warning("history refresh failed, keeping the previous view: %s", exc)
                return
            for address, count in counts:
                self._index.set_count(address, count)
            for address, display in names:
                self._index.add_name(address, display)
            self._stamp = stamp

    def _fresh(self) -> ContactIndex:
        if time.monotonic() >= self._next:
            self.refresh()
        return self._index

    def seen(self, address: str) -> int:
        return self._fresh().seen(address)

    def known_domains(self) -> Mapping[str, int]:
        return self._index.known_domains()

    def addresses_at(self, domain: str) -> Iterable[str]:
        return self._index.addresses_at(domain)

    def domains_of_local(self, local: str) -> Iterable[str]:
        return self._index.domains_of_local(local)

    def addresses_named(self, name_key: str) -> Iterable[str]:
        return self._index.addresses_named(name_key)

    def names_of(self, address: str) -> Iterable[str]:
        return self._index.names_of(address)

    def __len__(self) -> int:
        return len(self._index)


class StoreExemptions:
    """Active exemptions as the engine's ``ExemptionBook``, re-read at most every
    ``refresh_seconds`` so grants and revocations reach a running gateway."""

    def __init__(self, engine: Engine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._active = exemption_store.ActiveExemptions(())
        self._next = 0.0
        self.refresh()

    def refresh(self) -> None:
        self._next = time.monotonic() + self._refresh_seconds
        try:
            with session_factory(self._engine)() as session:
                self._active = exemption_store.active_exemptions(session)
        except SQLAlchemyError as exc:
            log.warning("exemption refresh failed, keeping the previous ones: %s", exc)

    def exempt(self, sender: str, domain: str) -> bool:
        if time.monotonic() >= self._next:
            self.refresh()
        return self._active.exempt(sender, domain)


def pattern_cache_dir(settings: Settings) -> Path:
    """Where the compiled detector patterns are kept between processes: the data dir's
    ``cache/`` (a cache: deleting it costs one compile)."""
    return settings.data_dir / "cache"


def build_inspector(
    settings: Settings,
    *,
    engine: Engine | None = None,
    policy: Policy | None = None,
    refresh_seconds: float = REFRESH_SECONDS,
) -> Inspector:
    """An Inspector with this installation's registers, policy, history and exemptions.

    The database schema is checked first (an empty database is created; an older one is
    refused, naming ``postwarden upgrade``) unless ``engine`` is given.  Without ``policy``,
    a local policy file that does not validate is logged and the last good one (else the
    default) is used; ``postwarden policy check`` reports its errors.
    """
    if engine is None:
        engine = open_database(settings.db_url).engine
    if policy is None:
        loaded = load_policy_for(settings)
        for error in loaded.errors:
            log.error("policy refused, the last good policy stays in force: %s", error)
        policy = loaded.policy
    registers = RegisterSet(settings.registers_dir, settings.secret())
    return Inspector(
        detectors=default_detectors(pattern_cache_dir(settings)),
        limits=settings.limits,
        org_domains=settings.org_domains,
        partner_domains=settings.partner_domains,
        registers=registers,
        directory=registers,
        policy=policy,
        history=StoreHistory(engine, refresh_seconds),
        exemptions=StoreExemptions(engine, refresh_seconds),
    )
