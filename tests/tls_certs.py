"""A test certificate authority and server certificates, made with ``cryptography``."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPair", "TestCa", "TlsReceived", "TlsSink", "fingerprint", "peer_fingerprint"]


@dataclass(frozen=True, slots=True)
class CertPair:
    """A server certificate and its key, as PEM files."""

    cert: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert.read_bytes())


def fingerprint(pem_or_der: bytes) -> str:
    """SHA-256 of a certificate (PEM or DER), hex."""
    if pem_or_der.startswith(b"-----"):
        cert = x509.load_pem_x509_certificate(pem_or_der)
    else:
        cert = x509.load_der_x509_certificate(pem_or_der)
    return cert.fingerprint(hashes.SHA256()).hex()


class TestCa:
    """A CA whose certificate is written to ``directory/ca.pem``."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, name: str = "Postwarden Test CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file = directory / "ca.pem"
        self.cert_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self.cert_file.chmod(0o644)

    def issue(self, stem: str, names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> CertPair:
        """A server certificate for ``names`` (DNS names and IP addresses) in
        ``directory/stem.pem`` and ``directory/stem.key``."""
        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        pair = CertPair(self.directory / f"{stem}.pem", self.directory / f"{stem}.key")
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pair.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        pair.key.chmod(0o600)
        return pair


def peer_fingerprint(sock: ssl.SSLSocket) -> str:
    """The fingerprint of the certificate the server presented on ``sock``."""
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return fingerprint(der)


@dataclass(frozen=True, slots=True)
class TlsReceived:
    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    tls: bool
    """The message came over a session protected by STARTTLS."""


@dataclass(slots=True)
class TlsSink:
    """A next hop on loopback (aiosmtpd) that offers STARTTLS with ``pair`` and refuses mail
    before it (``require_starttls``); without ``pair`` a plain server without STARTTLS."""

    pair: CertPair | None = None
    port: int = 0
    received: list[TlsReceived] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.received.append(
                TlsReceived(
                    envelope.mail_from or "",
                    tuple(envelope.rcpt_tos),
                    bytes(envelope.original_content or b""),
                    session.ssl is not None,
                )
            )
        return "250 2.0.0 OK tls sink"

    def start(self) -> TlsSink:
        if not self.port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = int(s.getsockname()[1])
        kwargs: dict[str, object] = {}
        if self.pair is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.pair.cert, self.pair.key)
            kwargs = {"tls_context": ctx, "require_starttls": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def matching(self, needle: bytes) -> list[TlsReceived]:
        with self._lock:
            return [r for r in self.received if needle in r.raw]
