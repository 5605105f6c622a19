"""TLS to the next hop: real aiosmtpd servers on loopback with certificates made by the test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.tls_certs import CertPair, TestCa, TlsSink

from postwarden.outbound import NextHopTls, OutboundError, SmtpOutbound, outbound_from
from postwarden.settings import init_data_dir, load_settings

RAW = b"From: a@demo.gov.hk\r\nTo: b@partner.example\r\nSubject: tls\r\n\r\nmarker-tls\r\n"
RCPT = ["b@partner.example"]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def good(ca: TestCa) -> CertPair:
    return ca.issue("good", ("localhost", "127.0.0.1"))


@pytest.fixture(scope="module")
def wrong(ca: TestCa) -> CertPair:
    return ca.issue("wrong", ("mail.elsewhere.example",))


@pytest.fixture
def tls_sink(good: CertPair) -> Iterator[TlsSink]:
    sink = TlsSink(good).start()
    yield sink
    sink.stop()


@pytest.fixture
def wrong_sink(wrong: CertPair) -> Iterator[TlsSink]:
    sink = TlsSink(wrong).start()
    yield sink
    sink.stop()


@pytest.fixture
def plain_sink() -> Iterator[TlsSink]:
    sink = TlsSink().start()
    yield sink
    sink.stop()


def send(sink: TlsSink, tls: NextHopTls) -> None:
    SmtpOutbound("127.0.0.1", sink.port, timeout=10, tls=tls).send(RAW, "a@demo.gov.hk", RCPT)


@pytest.mark.parametrize("name", [None, "localhost"])
def test_verify_delivers_over_tls_to_a_certificate_of_the_ca(
    tls_sink: TlsSink, ca: TestCa, name: str | None
) -> None:
    # None: the name checked is the host connected to (127.0.0.1, an IP SAN).
    send(tls_sink, NextHopTls("verify", str(ca.cert_file), name))
    (got,) = tls_sink.matching(b"marker-tls")
    assert got.tls
    assert got.recipients == tuple(RCPT)


def test_verify_refuses_a_certificate_with_the_wrong_name_as_temporary(
    wrong_sink: TlsSink, ca: TestCa
) -> None:
    with pytest.raises(OutboundError) as err:
        send(wrong_sink, NextHopTls("verify", str(ca.cert_file), "localhost"))
    assert err.value.temporary
    assert "TLS failed" in str(err.value)
    assert wrong_sink.received == []


def test_verify_refuses_an_expected_name_the_certificate_lacks(
    tls_sink: TlsSink, ca: TestCa
) -> None:
    with pytest.raises(OutboundError) as err:
        send(tls_sink, NextHopTls("verify", str(ca.cert_file), "smtp.office365.example"))
    assert err.value.temporary
    assert tls_sink.received == []


def test_verify_refuses_a_certificate_of_an_unknown_ca(tls_sink: TlsSink) -> None:
    # The system trust store does not know the test CA.
    with pytest.raises(OutboundError) as err:
        send(tls_sink, NextHopTls("verify"))
    assert err.value.temporary
    assert tls_sink.received == []


@pytest.mark.parametrize("mode", ["required", "verify"])
def test_required_tls_without_starttls_is_temporary_and_nothing_goes_in_clear(
    plain_sink: TlsSink, ca: TestCa, mode: str
) -> None:
    tls = NextHopTls(mode, str(ca.cert_file) if mode == "verify" else None)
    with pytest.raises(OutboundError) as err:
        send(plain_sink, tls)
    assert err.value.temporary
    assert "offers no STARTTLS" in str(err.value)
    assert plain_sink.received == []


@pytest.mark.parametrize("mode", ["opportunistic", "required"])
def test_unverified_modes_encrypt_even_with_a_certificate_of_another_name(
    wrong_sink: TlsSink, mode: str
) -> None:
    send(wrong_sink, NextHopTls(mode))
    (got,) = wrong_sink.received
    assert got.tls


def test_opportunistic_sends_in_clear_to_a_hop_without_starttls(plain_sink: TlsSink) -> None:
    send(plain_sink, NextHopTls("opportunistic"))
    (got,) = plain_sink.received
    assert not got.tls


def test_none_never_starts_tls(tls_sink: TlsSink) -> None:
    # The sink refuses mail before STARTTLS: a plain client is refused (permanently, 530).
    with pytest.raises(OutboundError) as err:
        send(tls_sink, NextHopTls("none"))
    assert "530" in str(err.value)
    assert tls_sink.received == []


def test_next_hop_tls_rejects_bad_combinations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one of"):
        NextHopTls("yes")
    with pytest.raises(ValueError, match="verify"):
        NextHopTls("opportunistic", ca_file="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(ValueError, match="CA file"):
        NextHopTls("verify", ca_file=str(tmp_path / "missing.pem")).context()


def test_protocol_floor_is_tls_1_2() -> None:
    for mode in ("opportunistic", "required", "verify"):
        ctx = NextHopTls(mode).context()
        assert ctx is not None
        assert ctx.minimum_version.name == "TLSv1_2"


def test_settings_persist_next_hop_tls_and_outbound_from_uses_it(
    tmp_path: Path, tls_sink: TlsSink, ca: TestCa
) -> None:
    data = tmp_path / "var"
    init_data_dir(
        data,
        ["demo.gov.hk"],
        next_hop=f"127.0.0.1:{tls_sink.port}",
        next_hop_tls="verify",
        next_hop_ca=str(ca.cert_file),
        next_hop_name="localhost",
    )
    # A re-run of init without TLS options keeps them.
    init_data_dir(data, ["demo.gov.hk"], next_hop=f"127.0.0.1:{tls_sink.port}")
    settings = load_settings(data)
    assert (settings.next_hop_tls, settings.next_hop_ca, settings.next_hop_name) == (
        "verify",
        str(ca.cert_file),
        "localhost",
    )
    outbound = outbound_from(settings)
    assert isinstance(outbound, SmtpOutbound)
    assert outbound.tls == NextHopTls("verify", str(ca.cert_file), "localhost")
    outbound.send(RAW, "a@demo.gov.hk", RCPT)
    assert [r.tls for r in tls_sink.received] == [True]
    # An explicit tls for this run wins over the settings.
    plain = outbound_from(settings, tls=NextHopTls("none"))
    assert isinstance(plain, SmtpOutbound)
    assert plain.tls == NextHopTls()
    # A data dir from before this change has no TLS keys: plain SMTP, as before.
    old = dataclasses.replace(settings, next_hop_tls="none", next_hop_ca=None, next_hop_name=None)
    assert load_settings(data).to_json()["next_hop_tls"] == "verify"
    hop = outbound_from(old)
    assert isinstance(hop, SmtpOutbound)
    assert hop.tls.mode == "none"
