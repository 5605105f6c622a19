"""A private Postfix instance on loopback ports, and the aiosmtpd sink it delivers to.

One instance serves every integration test; its listeners are the topologies we ship:

* ``filter``   smtpd with the Postwarden milter (``smtpd_milters``), delivering to the sink;
* ``queue``    smtpd without milter whose mail is queued, then handed to ``filter`` by Postfix's
               own smtp client (``content_filter=smtp:[127.0.0.1]:filter``) — the sending MTA
               that keeps mail in *its* queue while the milter tempfails;
* ``relay_in`` smtpd without milter, after-queue ``content_filter`` to the Postwarden relay;
* ``reinject`` smtpd with no milter and no content filter: where the relay forwards and where
               released mail goes, so nothing loops back into the filter.

See ``docs/postfix.md`` for why each setting is here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

DEFAULT_MAIN_CF = Path("/etc/postfix/main.cf")
HOSTNAME = "mta.postwarden.test"

# The stock services minus the smtp listener, all outside a chroot: a chroot would need copies
# of /etc files inside the private queue directory.
_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def postfix_available() -> str | None:
    """Why the Postfix tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root: postfix -c DIR start runs the master as root"
    if shutil.which("postfix") is None or not DEFAULT_MAIN_CF.exists():
        return "postfix is not installed (make test installs it when root)"
    return None


@dataclass(frozen=True, slots=True)
class Ports:
    filter: int
    queue: int
    relay_in: int
    reinject: int
    milter: int
    relay: int
    sink: int

    @classmethod
    def allocate(cls) -> Ports:
        return cls(*(free_port() for _ in range(7)))


@dataclass(slots=True)
class Received:
    """One message the sink accepted."""

    sender: str
    recipients: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass(slots=True)
class Sink:
    """The next hop: an aiosmtpd server on loopback that keeps every message it accepts."""

    port: int
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self._lock:
            self.received.append(
                Received(
                    sender=envelope.mail_from or "",
                    recipients=tuple(envelope.rcpt_tos),
                    raw=bytes(content),
                )
            )
        return "250 2.0.0 OK sink"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def matching(self, needle: str) -> list[Received]:
        """Messages whose bytes contain ``needle`` (tests mark each message uniquely)."""
        with self._lock:
            return [r for r in self.received if needle.encode() in r.raw]

    def wait_for(
        self, needle: str, count: int = 1, timeout: float = 15.0, to: str | None = None
    ) -> list[Received]:
        """Wait until ``count`` messages containing ``needle`` (and addressed to ``to``, when
        given) arrived; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.matching(needle) if to is None or to in r.recipients]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@dataclass(slots=True)
class PostfixInstance:
    """A Postfix of its own: config, queue and data directories under ``root``."""

    root: Path
    ports: Ports

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def queue_dir(self) -> Path:
        return self.root / "spool"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def maillog(self) -> Path:
        return self.root / "log" / "maillog"

    def main_cf(self) -> str:
        p = self.ports
        return f"""\
compatibility_level = 3.6
queue_directory = {self.queue_dir}
data_directory = {self.data_dir}
# No syslog in containers: postlogd writes here.
maillog_file = {self.maillog}
maillog_file_prefixes = {self.maillog.parent}
myhostname = {HOSTNAME}
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{p.sink}
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_peername_lookup = no
biff = no
smtpd_milters = inet:127.0.0.1:{p.milter}
non_smtpd_milters = inet:127.0.0.1:{p.milter}
milter_default_action = tempfail
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 60s
smtpd_forbid_bare_newline = yes
# The default exempts $mynetworks, which is every client of this test instance.
smtpd_forbid_bare_newline_exclusions =
# Deferred mail waits for an explicit flush, so a test decides when it is retried.
minimal_backoff_time = 600s
maximal_backoff_time = 1200s
queue_run_delay = 600s
"""

    def master_cf(self) -> str:
        p = self.ports
        # Listeners that hand mail back to this same instance announce another name, or the
        # smtp client would refuse with "mail for ... loops back to myself".
        listeners = [
            f"127.0.0.1:{p.filter} inet n - n - - smtpd -o myhostname=filter.postwarden.test",
            f"127.0.0.1:{p.queue} inet n - n - - smtpd -o smtpd_milters="
            f" -o content_filter=smtp:[127.0.0.1]:{p.filter}",
            f"127.0.0.1:{p.relay_in} inet n - n - - smtpd -o smtpd_milters="
            f" -o content_filter=smtp:[127.0.0.1]:{p.relay}",
            f"127.0.0.1:{p.reinject} inet n - n - - smtpd -o smtpd_milters="
            " -o content_filter= -o myhostname=reinject.postwarden.test",
        ]
        return "\n".join(listeners) + "\n" + _SERVICES

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["postfix", "-c", str(self.config_dir), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> None:
        for d in (self.config_dir, self.queue_dir, self.data_dir, self.maillog.parent):
            d.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "main.cf").write_text(self.main_cf())
        (self.config_dir / "master.cf").write_text(self.master_cf())
        shutil.chown(self.data_dir, "postfix", "postfix")
        _allow_config_dir(self.config_dir)
        proc = self._postfix("start", check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"postfix start failed:\n{proc.stderr}\n{self.log()}")
        for port in (self.ports.filter, self.ports.queue, self.ports.relay_in, self.ports.reinject):
            wait_for_port(port)

    def stop(self) -> None:
        self._postfix("stop", check=False)
        _disallow_config_dir(self.config_dir)

    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def queue(self) -> list[dict[str, Any]]:
        """Messages in the queue (``postqueue -j``), one dict each.

        showq walks the queue directories one after another (incoming, active, deferred), so
        a message moved from active to deferred during the walk is listed twice under one
        queue id; the later listing, its newer state, is kept (seen once on a loaded
        machine: a deferred message listed in active too)."""
        out = subprocess.run(
            ["postqueue", "-c", str(self.config_dir), "-j"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
        listed = [json.loads(line) for line in out.splitlines() if line.strip()]
        return list({m["queue_id"]: m for m in listed}.values())

    def flush(self) -> None:
        """Retry deferred mail now (``postqueue -f``)."""
        subprocess.run(["postqueue", "-c", str(self.config_dir), "-f"], check=True, timeout=30)

    def wait_queue(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Poll the queue until ``predicate`` holds; return the last listing."""
        deadline = time.monotonic() + timeout
        while True:
            q = self.queue()
            if predicate(q) or time.monotonic() > deadline:
                return q
            time.sleep(0.1)


def _allow_config_dir(config_dir: Path) -> None:
    """``postfix -c DIR`` is refused unless the default instance lists DIR."""
    dirs = _alternate_dirs()
    if str(config_dir) not in dirs:
        _set_alternate_dirs([*dirs, str(config_dir)])


def _disallow_config_dir(config_dir: Path) -> None:
    dirs = _alternate_dirs()
    if str(config_dir) in dirs:
        _set_alternate_dirs([d for d in dirs if d != str(config_dir)])


def _alternate_dirs() -> list[str]:
    out = subprocess.run(
        ["postconf", "-h", "alternate_config_directories"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in out.replace(",", " ").split() if d]


def _set_alternate_dirs(dirs: list[str]) -> None:
    if dirs:
        subprocess.run(
            ["postconf", "-e", f"alternate_config_directories = {' '.join(dirs)}"], check=True
        )
    else:
        subprocess.run(["postconf", "-X", "alternate_config_directories"], check=True)


def make_instance_root() -> Path:
    """A directory the ``postfix`` user can traverse (pytest's tmp dirs are mode 0700)."""
    root = Path(tempfile.mkdtemp(prefix="postwarden-postfix-"))
    root.chmod(0o755)
    return root
