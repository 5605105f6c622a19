"""Acceptance (issue 12, TLS): Postfix → Postwarden relay → next hop with STARTTLS on both hops.

A Postfix of its own (not the shared ``stack``): its after-queue content_filter reaches the
relay through an smtp transport with ``smtp_tls_security_level = encrypt`` and the test CA in
``smtp_tls_CAfile``; the relay runs with ``--require-tls`` and sends on with
``--next-hop-tls verify``. A second relay whose next hop presents a certificate for another
name must answer 4xx, so Postfix keeps the mail queued.
"""

from __future__ import annotations

import re
import shutil
import smtplib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.integration.conftest import ORG, SENDER, SKIP_REASON, Daemon, postwarden
from tests.integration.messages import make_mail, marker, send
from tests.integration.postfix import (
    Ports,
    PostfixInstance,
    free_port,
    make_instance_root,
    wait_for_port,
)
from tests.tls_certs import CertPair, TestCa, TlsSink

pytestmark = pytest.mark.integration

TRANSPORT = "tlsrelay"


@dataclass(slots=True)
class TlsPostfix(PostfixInstance):
    """``relay_in`` → relay (good next hop), ``queue`` → second relay on the ``milter`` port
    (next hop with the wrong name); ``filter`` and ``reinject`` are plain and unused."""

    ca_file: Path = Path()

    def main_cf(self) -> str:
        text = PostfixInstance.main_cf(self)
        text = re.sub(r"(?m)^(non_)?smtpd_milters = .*$", r"\1smtpd_milters =", text)
        return text + "smtp_tls_loglevel = 1\n"

    def master_cf(self) -> str:
        p = self.ports
        # The content filter's own smtp client: TLS or no delivery, with the test CA so
        # Postfix logs whether it could verify the chain (encrypt does not require it).
        transport = (
            f"{TRANSPORT} unix - - n - - smtp -o smtp_tls_security_level=encrypt"
            f" -o smtp_tls_CAfile={self.ca_file}"
        )
        listeners = [
            f"127.0.0.1:{p.filter} inet n - n - - smtpd -o myhostname=filter.postwarden.test",
            f"127.0.0.1:{p.queue} inet n - n - - smtpd"
            f" -o content_filter={TRANSPORT}:[127.0.0.1]:{p.milter}",
            f"127.0.0.1:{p.relay_in} inet n - n - - smtpd"
            f" -o content_filter={TRANSPORT}:[127.0.0.1]:{p.relay}",
            f"127.0.0.1:{p.reinject} inet n - n - - smtpd -o myhostname=reinject.postwarden.test",
            transport,
            # The TLS engine's entropy and session cache (absent from the shared stack).
            "tlsmgr unix - - n 1000? 1 tlsmgr",
        ]
        return "\n".join(listeners) + "\n" + PostfixInstance.master_cf(self).split("\n", 4)[4]


@dataclass(slots=True)
class TlsChain:
    ports: Ports
    postfix: TlsPostfix
    sink: TlsSink
    wrong_sink: TlsSink
    relay: Daemon
    wrong_relay: Daemon
    relay_cert: CertPair


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsChain]:
    if SKIP_REASON is not None:
        pytest.skip(SKIP_REASON)
    ports = Ports.allocate()
    work = tmp_path_factory.mktemp("tls")
    root = make_instance_root()
    # Postfix's smtp client runs as the postfix user: the CA must be where it can read it.
    ca = TestCa(root / "tls")
    (root / "tls").chmod(0o755)
    relay_cert = ca.issue("relay", ("localhost", "127.0.0.1"))
    hop_cert = ca.issue("hop", ("localhost", "127.0.0.1"))
    wrong_cert = ca.issue("wrong", ("mail.elsewhere.example",))
    data_dir = work / "var"
    postwarden(data_dir, "init", "--org-domain", ORG)
    sink = TlsSink(hop_cert, port=ports.sink).start()
    wrong_sink = TlsSink(wrong_cert, port=free_port()).start()
    verify = ["--next-hop-tls", "verify", "--next-hop-ca", str(ca.cert_file)]
    server_tls = ["--tls-cert", str(relay_cert.cert), "--tls-key", str(relay_cert.key)]
    relay = Daemon(
        data_dir,
        [
            *("relay", "--listen", f"127.0.0.1:{ports.relay}", "--timeout", "50"),
            *("--require-tls", *server_tls),
            *("--next-hop", f"127.0.0.1:{ports.sink}", *verify, "--next-hop-name", "localhost"),
        ],
        ports.relay,
        work / "relay.log",
    )
    wrong_relay = Daemon(
        data_dir,
        [
            *("relay", "--listen", f"127.0.0.1:{ports.milter}", "--timeout", "50"),
            *("--require-tls", *server_tls),
            *("--next-hop", f"127.0.0.1:{wrong_sink.port}", *verify),
            *("--next-hop-name", "localhost"),
        ],
        ports.milter,
        work / "wrong-relay.log",
    )
    postfix = TlsPostfix(root, ports, ca.cert_file)
    try:
        relay.launch()
        wrong_relay.launch()
        postfix.start()
        relay.wait_ready()
        wrong_relay.wait_ready()
        wait_for_port(ports.sink)
        yield TlsChain(ports, postfix, sink, wrong_sink, relay, wrong_relay, relay_cert)
    finally:
        postfix.stop()
        relay.stop()
        wrong_relay.stop()
        sink.stop()
        wrong_sink.stop()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(sink: TlsSink, needle: str, timeout: float = 30.0) -> list[object]:
    deadline = time.monotonic() + timeout
    while not (found := sink.matching(needle.encode())) and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(found)


def test_postfix_to_relay_to_next_hop_with_starttls_on_both_hops(chain: TlsChain) -> None:
    mark = marker()
    rcpt = f"bob@{ORG}"
    send(chain.ports.relay_in, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
    found = _wait_for(chain.sink, mark)
    assert found, f"not delivered\n{chain.postfix.log()[-3000:]}\n{chain.relay.log()[-3000:]}"
    (got,) = chain.sink.matching(mark.encode())
    assert got.tls  # relay → next hop: STARTTLS, certificate verified for "localhost"
    assert got.recipients == (rcpt,)
    assert b"X-Postwarden-Verdict: deliver" in got.raw
    # Postfix → relay: the relay requires TLS, and Postfix says it had it, with a chain it
    # could verify against the test CA.
    log = chain.postfix.log()
    assert re.search(
        rf"Trusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:{chain.ports.relay}",
        log,
    ), log[-3000:]
    chain.postfix.wait_queue(lambda q: not q)


def test_relay_with_require_tls_refuses_a_plain_client(chain: TlsChain) -> None:
    with smtplib.SMTP("127.0.0.1", chain.ports.relay, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert smtp.docmd("MAIL", f"FROM:<{SENDER}>") == (
            530,
            b"5.7.0 Must issue a STARTTLS command first",
        )


def test_next_hop_with_the_wrong_certificate_name_keeps_the_mail_queued(chain: TlsChain) -> None:
    mark = marker()
    rcpt = f"carol@{ORG}"
    send(chain.ports.queue, SENDER, [rcpt], make_mail(mark, SENDER, rcpt))
    queue = chain.postfix.wait_queue(
        lambda q: any(
            m["queue_name"] == "deferred" and m["recipients"][0]["address"] == rcpt for m in q
        ),
        timeout=60,
    )
    (deferred,) = [m for m in queue if m["recipients"][0]["address"] == rcpt]
    assert deferred["queue_name"] == "deferred"
    assert "4.4.0" in deferred["recipients"][0]["delay_reason"]
    assert chain.wrong_sink.received == []  # not sent in clear, not sent to the impostor
    assert chain.sink.matching(mark.encode()) == []
    # The relay's 451 names why, and Postfix keeps it as the delay reason.
    assert "TLS failed" in deferred["recipients"][0]["delay_reason"], deferred
