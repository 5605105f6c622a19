"""`compiled_database`: the detectors' hyperscan database, kept on disk between processes.

Compiling the pattern database costs one to three seconds of CPU, more than a whole ``check``
of a small message; a command-line process would pay it every time.  The serialized database
(``hyperscan.dumpb``) is cached under a name that is a hash of everything it was compiled
from (expressions, ids, flags, mode, python-hyperscan's version and the machine), so a
changed detector set never meets an old file: it simply has another name.  A file that does
not load (truncated, corrupt, from another hyperscan) is ignored and rebuilt.

The caller chooses the directory (the data dir's ``cache/``, else the user's cache dir); the
engine reads no settings.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, TypeVar

import hyperscan

from postwarden.settings import xdg_cache_home

__all__ = ["Backend", "PythonBackend", "compiled_database", "user_cache_dir"]

log = logging.getLogger(__name__)

# File layout: MAGIC, then the SHA-256 of the serialized database, then the database.
# hyperscan checks a database's header and platform on load, but not that its bytecode is
# whole; the digest makes a truncated or damaged file a cache miss instead of a bad matcher.
MAGIC = b"postwarden-hsdb-1\n"
_DIGEST = 32


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/postwarden`` (default ``~/.cache/postwarden``), per the XDG spec."""
    base = xdg_cache_home() or ""
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "postwarden"


Db = TypeVar("Db")


class Backend(Protocol[Db]):
    """How one hyperscan binding compiles, serializes and loads a block-mode database."""

    version: str

    def compile(self, expressions: Sequence[bytes], flags: Sequence[int]) -> Db: ...

    def dump(self, database: Db) -> bytes: ...

    def load(self, blob: bytes) -> Db: ...


class PythonBackend:
    """python-hyperscan's `hyperscan.Database` in ``mode``."""

    def __init__(self, mode: int = hyperscan.HS_MODE_BLOCK) -> None:
        self.mode = mode
        self.version = f"python-hyperscan {getattr(hyperscan, '__version__', '')} {mode}"

    def compile(self, expressions: Sequence[bytes], flags: Sequence[int]) -> hyperscan.Database:
        database = hyperscan.Database(mode=self.mode)
        database.compile(
            expressions=list(expressions), ids=list(range(len(expressions))), flags=flags
        )
        return database

    def dump(self, database: hyperscan.Database) -> bytes:
        blob: bytes = hyperscan.dumpb(database)
        return blob

    def load(self, blob: bytes) -> hyperscan.Database:
        return hyperscan.loadb(blob, self.mode)


def cache_key(expressions: Sequence[bytes], flags: Sequence[int], version: str) -> str:
    """A name for the database compiled from exactly these inputs with this hyperscan."""
    h = hashlib.sha256()
    h.update(f"{MAGIC!r} {version} {platform.machine()}\n".encode())
    for number, (expression, flag) in enumerate(zip(expressions, flags, strict=True)):
        h.update(f"{number} {flag} {len(expression)}\n".encode())
        h.update(expression)
    return h.hexdigest()[:32]


def _load(path: Path, backend: Backend[Db]) -> Db | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(MAGIC)
    blob = data[head + _DIGEST :]
    if data[:head] != MAGIC or hashlib.sha256(blob).digest() != data[head : head + _DIGEST]:
        log.warning("pattern cache %s is damaged; compiling again", path)
        return None
    try:
        return backend.load(blob)
    except (hyperscan.error, TypeError, ValueError) as exc:
        log.warning("pattern cache %s does not load (%s); compiling again", path, exc)
        return None


def _store(path: Path, blob: bytes) -> None:
    """Write ``path`` in one rename, so a concurrent reader sees the old file or the new one."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + hashlib.sha256(blob).digest() + blob)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache still inspects; it only compiles each time
        log.warning("cannot keep the pattern cache in %s: %s", path.parent, exc.strerror)


def compiled_database(
    expressions: Sequence[bytes],
    flags: Sequence[int],
    backend: Backend[Db],
    *,
    cache_dir: Path | None = None,
) -> Db:
    """The database of ``expressions`` (ids are their positions), loaded from ``cache_dir``
    when compiled there before, else compiled and left there; no cache without a directory."""
    if cache_dir is None:
        return backend.compile(expressions, flags)
    path = cache_dir / f"patterns-{cache_key(expressions, flags, backend.version)}.hsdb"
    database = _load(path, backend)
    if database is None:
        database = backend.compile(expressions, flags)
        _store(path, backend.dump(database))
    return database
