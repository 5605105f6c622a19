"""Settings and limits: the data dir layout, its settings file, and the inspection limits.

This is the one module that reads the environment (tests/test_settings_environment.py
fails when another does): every variable the program heeds is named here.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from postwarden.errors import PostwardenError
from postwarden.i18n import _

DATA_DIR_ENV = "POSTWARDEN_DATA_DIR"
DATABASE_URL_ENV = "POSTWARDEN_DATABASE_URL"
PUBLIC_URL_ENV = "POSTWARDEN_PUBLIC_URL"
"""Where the console (and its confirm page) is reached, for links in notices."""
FONT_ENV = "POSTWARDEN_CJK_FONT"
"""A CJK font for incident letters, ``PATH[:INDEX]``."""
METRICS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's directory for the metrics of several processes."""
NODE_ID_ENV = "POSTWARDEN_NODE_ID"
"""This node's name in release leases (else `cluster.node_id`)."""
DEFAULT_DATA_DIR = "./var"


def _environment(name: str) -> str | None:
    """The variable ``name``; unset and empty are the same."""
    return os.environ.get(name) or None


def public_url() -> str | None:
    """``$POSTWARDEN_PUBLIC_URL``: the console's address as senders reach it."""
    return _environment(PUBLIC_URL_ENV)


def cjk_font() -> str | None:
    """``$POSTWARDEN_CJK_FONT``: the font incident letters use, ``PATH[:INDEX]``."""
    return _environment(FONT_ENV)


def metrics_multiprocess_dir() -> str | None:
    """``$PROMETHEUS_MULTIPROC_DIR``: set, every process's metrics are collected from it."""
    return _environment(METRICS_MULTIPROC_ENV)


def tessdata_prefix() -> str | None:
    """``$TESSDATA_PREFIX``: where Tesseract's language models are, per Tesseract."""
    return _environment("TESSDATA_PREFIX")


def xdg_cache_home() -> str | None:
    """``$XDG_CACHE_HOME``, per the XDG base directory spec."""
    return _environment("XDG_CACHE_HOME")


OPENBLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"
"""OpenBLAS's worker threads (numpy's linear algebra), read once when numpy is loaded."""


def one_blas_thread() -> None:
    """``$OPENBLAS_NUM_THREADS`` to 1 unless it is set; to be called before numpy is loaded.

    OpenBLAS starts a worker per core when numpy is imported and its workers spin while they
    wait: CPU time every process pays (20-50 ms of a command-line check on two cores, more
    with more cores) for linear algebra postwarden does not do (detection and registers sort
    and search arrays).  The cores are used by inspections running side by side instead."""
    os.environ.setdefault(OPENBLAS_THREADS_ENV, "1")


def login_user() -> str | None:
    """``$USER``: who runs the command as the shell has it (may differ from the uid's name
    under ``sudo -E`` and in containers)."""
    return _environment("USER")


class SettingsError(PostwardenError):
    """The data dir or its settings are missing or invalid."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits on what one message may cost us (reliability.md §4).

    Limits are checked against bytes actually produced, before and during decompression,
    never against sizes an archive declares.
    """

    max_depth: int = 10
    """Nesting depth; every container counts: MIME multipart, message/rfc822, zip, OOXML."""
    max_members: int = 1000
    """Members of one container (zip entries, MIME parts of one multipart, a pdf's pages, a
    pdf's embedded files)."""
    max_part_bytes: int = 50 * 1024 * 1024
    """Size of one decoded part or archive member."""
    member_ratio: int = 100
    """Per-member expansion ratio allowed once a member is past ``ratio_grace_bytes``."""
    ratio_grace_bytes: int = 100 * 1024
    max_text_bytes: int = 10 * 1024 * 1024
    """Extracted text per message."""
    max_seconds: float = 120.0
    """Wall time for inspection of one message (Postfix's milter_content_timeout is 300 s)."""
    max_header_bytes: int = 1024 * 1024
    """Total header bytes of one message before the headers count as uninspectable."""
    max_ocr_pages: int = 40
    """Images and text-less PDF pages read by OCR per message; the rest are uninspectable."""
    max_ocr_seconds: float = 60.0
    """Wall time OCR may take per message (within ``max_seconds``); past it, uninspectable."""
    max_image_pixels: int = 50_000_000
    """Pixels of one image or rendered page (a 48-50 MP phone photo fits); larger is
    uninspectable (a decompression bomb decodes a few KiB into gigabytes)."""
    max_sheet_cells: int = 5_000_000
    """Cells of the grid a worksheet's cells span, from its first row and its leftmost cell
    with a value to its last: calamine builds that grid whole (32 bytes a cell: 160 MiB here,
    under a third of the default ``inspection_memory_bytes``), so a sheet naming only A1 and
    XFD1048576 would take 550 GB; larger is uninspectable.  Of an xls, the grids of all its
    sheets together, values' and formulas' (calamine builds and keeps them all at once)."""

    def max_expansion(self, message_size: int) -> int:
        """Total bytes all decompression may produce for a message of ``message_size`` bytes."""
        return max(100 * 1024, 5 * message_size, min(300 * 1024 * 1024, 500 * message_size))

    def with_overrides(self, values: dict[str, Any]) -> Limits:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise SettingsError(
                _("unknown limit(s): {names}").format(names=", ".join(sorted(unknown)))
            )
        return replace(self, **values)


@dataclass(frozen=True, slots=True)
class Access:
    """Who may use each listener and what one client may cost us (docs/security.md).

    Every listener authenticates or limits its callers; these are the knobs, with defaults
    that are safe on a fresh install (loopback only, organisation senders only).
    """

    client_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    """Networks whose clients may hand mail to ``relay`` / ``serve --smtp``."""
    foreign_senders: bool = False
    """Whether the relay takes envelope senders outside the organisation's domains."""
    max_recipients: int = 1000
    """Recipients per message; the next RCPT is answered ``452`` (RFC 5321 §4.5.3.1.10)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed."""
    subaddress_separators: str = "+"
    """Characters that start a sub-address (``alice+tag@org`` is alice) for four eyes."""
    aliases_file: str | None = None
    """An aliases(5) file mapping role and alias addresses to people, for four eyes."""
    api_requests_per_minute: int = 60
    """Check API calls per token per minute before ``429``."""
    smtp_command_timeout: float = 300.0
    """Seconds a client may take for one SMTP command (RFC 5321 §4.5.3.2.7: 5 minutes)."""
    smtp_data_timeout: float = 600.0
    """Seconds for the whole DATA transfer."""
    smtp_session_timeout: float = 1800.0
    """Seconds for one whole SMTP session."""
    http_header_timeout: float = 10.0
    """Seconds for an HTTP client to send its request line and headers."""
    http_body_timeout: float = 60.0
    """Seconds for an HTTP client to send its request body."""
    http_keepalive_timeout: float = 5.0
    """Seconds an idle keep-alive HTTP connection stays open."""
    max_connections: int = 200
    """Open connections per listener."""
    max_connections_per_client: int = 20
    """Open connections per client address per listener."""
    spool_bytes: int = 1024 * 1024
    """A request or message body past this size is spooled to disk, not held in memory."""
    inspection_memory_bytes: int = 512 * 1024 * 1024
    """Memory for inspections at once across a process, each charged 8 x its message size
    (transports/admission.py); more waits its turn."""
    audit_syslog: str | None = None
    """Also send every anchored audit head to syslog: a socket path (``/dev/log``) or
    ``HOST:PORT`` (UDP); off when unset."""

    def with_overrides(self, values: dict[str, Any]) -> Access:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise SettingsError(
                _("unknown access setting(s): {names}").format(names=", ".join(sorted(unknown)))
            )
        tupled: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
        }
        return replace(self, **tupled)


QUARANTINE_STORES = ("local", "database", "s3")


@dataclass(frozen=True, slots=True)
class Cluster:
    """Several gateway nodes on one PostgreSQL (docs/cluster.md); the defaults are one node."""

    quarantine_store: str = "local"
    """Where encrypted held messages live: ``local`` (files in the data dir, one node),
    ``database`` (a table in the shared database) or ``s3`` (an S3-compatible bucket).
    Anything but ``local`` also keeps the quarantine keyring in the database, wrapped by
    ``cluster.key``."""
    s3_bucket: str | None = None
    s3_endpoint: str | None = None
    """``http(s)://HOST:PORT`` of an S3-compatible server; default: AWS."""
    s3_region: str | None = None
    s3_prefix: str = "quarantine/"
    node_id: str | None = None
    """This node's name in release leases (default: host name and data dir)."""
    release_lease_seconds: float = 300.0
    """How long a node's claim on a release lasts; after it another node finishes the
    release (longer than the slowest next hop takes to accept a message)."""
    register_poll_seconds: float = 30.0
    """How often a node looks for register versions published by another node."""

    def __post_init__(self) -> None:
        if self.quarantine_store not in QUARANTINE_STORES:
            raise SettingsError(
                _(
                    "cluster.quarantine_store must be one of {stores}, not {quarantine_store!r}"
                ).format(
                    stores=", ".join(QUARANTINE_STORES), quarantine_store=self.quarantine_store
                )
            )
        if self.quarantine_store == "s3" and not self.s3_bucket:
            raise SettingsError(_("cluster.quarantine_store 's3' needs cluster.s3_bucket"))

    @property
    def shared(self) -> bool:
        """Whether held messages and their keys live where every node reaches them."""
        return self.quarantine_store != "local"

    def with_overrides(self, values: dict[str, Any]) -> Cluster:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise SettingsError(
                _("unknown cluster setting(s): {names}").format(names=", ".join(sorted(unknown)))
            )
        return replace(self, **values)


@dataclass(frozen=True, slots=True)
class Settings:
    """What ``postwarden init`` records in ``DATA_DIR/settings.json``."""

    data_dir: Path
    org_domains: tuple[str, ...] = ()
    partner_domains: tuple[str, ...] = ()
    next_hop: str | None = None
    database_url: str | None = None
    limits: Limits = field(default_factory=Limits)
    access: Access = field(default_factory=Access)
    next_hop_tls: str = "none"
    """TLS to the next hop: none, opportunistic, required or verify (outbound.NextHopTls)."""
    next_hop_ca: str | None = None
    """CA file the next hop's certificate must chain to (``verify``; default: system store)."""
    next_hop_name: str | None = None
    """Name the next hop's certificate must carry (``verify``; default: its host)."""
    database_url_env: str | None = field(
        default_factory=lambda: _environment(DATABASE_URL_ENV), compare=False
    )
    """``$POSTWARDEN_DATABASE_URL`` when these settings were made: it wins over
    ``database_url`` (not written to ``settings.json``)."""
    cluster: Cluster = field(default_factory=lambda: Cluster())
    """Where held messages live and how nodes sharing one database cooperate."""

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "settings.json"

    @property
    def secret_file(self) -> Path:
        """Per-installation HMAC secret for registers and the audit chain (mode 0600)."""
        return self.data_dir / "secret.key"

    @property
    def registers_dir(self) -> Path:
        return self.data_dir / "registers"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def policy_file(self) -> Path:
        """Local policy override; the shipped default applies when it does not exist."""
        return self.data_dir / "policy.yaml"

    @property
    def db_url(self) -> str:
        """PostgreSQL by URL when configured, else SQLite in the data dir."""
        if self.database_url_env:
            return self.database_url_env
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postwarden.db').resolve()}"

    @property
    def cluster_key_file(self) -> Path:
        """The cluster key-encryption key (docs/cluster.md): the same file on every node,
        never in the database; it wraps the shared quarantine keyring and register indexes."""
        return self.data_dir / "cluster.key"

    @property
    def node_id(self) -> str:
        """This node's name in leases: ``$POSTWARDEN_NODE_ID``, else ``cluster.node_id``, else
        the host name and the data dir (two nodes on one host differ by data dir)."""
        env = _environment(NODE_ID_ENV)
        if env:
            return env[:64]
        if self.cluster.node_id:
            return self.cluster.node_id[:64]
        return f"{socket.gethostname()}:{self.data_dir.resolve()}"[-64:]

    def cluster_key(self) -> bytes:
        """The 32-byte cluster key; an error naming ``init`` when it is missing."""
        try:
            key = self.cluster_key_file.read_bytes()
        except FileNotFoundError:
            raise SettingsError(
                _(
                    "no cluster key in {data_dir}: run 'postwarden init --quarantine-store "
                    "database' on the first node and copy its cluster.key to every other node "
                    "(docs/cluster.md)"
                ).format(data_dir=self.data_dir)
            ) from None
        if len(key) != 32:
            raise SettingsError(
                _("{cluster_key_file} is not a 32-byte key").format(
                    cluster_key_file=self.cluster_key_file
                )
            )
        return key

    def secret(self) -> bytes:
        try:
            return self.secret_file.read_bytes()
        except FileNotFoundError:
            raise SettingsError(
                _("no secret in {data_dir}: run 'postwarden init --org-domain D' first").format(
                    data_dir=self.data_dir
                )
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "org_domains": list(self.org_domains),
            "partner_domains": list(self.partner_domains),
            "next_hop": self.next_hop,
            "database_url": self.database_url,
            "limits": asdict(self.limits),
            "access": asdict(self.access),
            "next_hop_tls": self.next_hop_tls,
            "next_hop_ca": self.next_hop_ca,
            "next_hop_name": self.next_hop_name,
            "cluster": asdict(self.cluster),
        }


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """``--data-dir``, else ``$POSTWARDEN_DATA_DIR``, else ``./var``."""
    return Path(data_dir or _environment(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only, without a window where it is wider."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` in one rename so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def fsync_dir(directory: Path) -> None:
    """Make a rename or new file in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def init_data_dir(
    data_dir: Path,
    org_domains: list[str],
    partner_domains: list[str] | None = None,
    next_hop: str | None = None,
    database_url: str | None = None,
    *,
    next_hop_tls: str | None = None,
    next_hop_ca: str | None = None,
    next_hop_name: str | None = None,
) -> Settings:
    """Create or update the data dir; the secret is created once and never replaced.

    ``next_hop_tls`` (with its CA file and name) replaces the recorded next hop TLS when
    given; otherwise a re-run keeps it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    # Re-running init keeps the limits and access controls an operator set in settings.json
    # (a relay's client networks must not fall back to the defaults unnoticed).
    kept = load_settings(data_dir) if (data_dir / "settings.json").exists() else None
    settings = Settings(
        data_dir=data_dir,
        org_domains=tuple(_domain(d) for d in org_domains),
        partner_domains=tuple(_domain(d) for d in partner_domains or ()),
        next_hop=next_hop,
        database_url=database_url,
        limits=kept.limits if kept else Limits(),
        access=kept.access if kept else Access(),
        next_hop_tls=next_hop_tls or (kept.next_hop_tls if kept else "none"),
        next_hop_ca=next_hop_ca if next_hop_tls else (kept.next_hop_ca if kept else None),
        next_hop_name=next_hop_name if next_hop_tls else (kept.next_hop_name if kept else None),
        cluster=kept.cluster if kept else Cluster(),
    )
    if next_hop is not None:
        parse_host_port(next_hop)
    if not settings.secret_file.exists():
        _write_private(settings.secret_file, secrets.token_bytes(32))
    settings.registers_dir.mkdir(exist_ok=True)
    settings.quarantine_dir.mkdir(exist_ok=True, mode=0o700)
    save_settings(settings)
    return settings


def save_settings(settings: Settings) -> None:
    """Write ``settings.json`` (mode 0600) in one rename."""
    write_atomic(
        settings.settings_file,
        json.dumps(settings.to_json(), indent=2).encode() + b"\n",
        mode=0o600,
    )


def create_cluster_key(settings: Settings) -> bool:
    """Create ``cluster.key`` once (mode 0600); False when it already exists."""
    if settings.cluster_key_file.exists():
        return False
    _write_private(settings.cluster_key_file, secrets.token_bytes(32))
    return True


def load_settings(data_dir: Path) -> Settings:
    """Read ``settings.json``; a data dir without one is an error naming ``init``."""
    path = data_dir / "settings.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            _("{data_dir} is not initialised: run 'postwarden init --org-domain D' first").format(
                data_dir=data_dir
            )
        ) from None
    except (OSError, ValueError) as exc:
        raise SettingsError(_("cannot read {path}: {exc}").format(path=path, exc=exc)) from None
    try:
        limits = Limits().with_overrides(dict(raw.get("limits") or {}))
        access = Access().with_overrides(dict(raw.get("access") or {}))
        return Settings(
            data_dir=data_dir,
            org_domains=tuple(raw.get("org_domains") or ()),
            partner_domains=tuple(raw.get("partner_domains") or ()),
            next_hop=raw.get("next_hop"),
            database_url=raw.get("database_url"),
            limits=limits,
            access=access,
            next_hop_tls=str(raw.get("next_hop_tls") or "none"),
            next_hop_ca=raw.get("next_hop_ca"),
            next_hop_name=raw.get("next_hop_name"),
            cluster=Cluster().with_overrides(dict(raw.get("cluster") or {})),
        )
    except (TypeError, AttributeError) as exc:
        raise SettingsError(_("invalid {path}: {exc}").format(path=path, exc=exc)) from None


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); raises ValueError with the reason."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(_("expected HOST:PORT, got {text!r}").format(text=text))
    return host.strip("[]"), int(port)


def _domain(text: str) -> str:
    d = text.strip().lower().rstrip(".")
    if not d or "@" in d or " " in d or "." not in d:
        raise SettingsError(_("not a domain name: {text!r}").format(text=text))
    try:
        return d.encode("idna").decode("ascii")
    except UnicodeError:
        raise SettingsError(_("not a valid domain name: {text!r}").format(text=text)) from None
