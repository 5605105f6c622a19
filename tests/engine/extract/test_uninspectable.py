"""What cannot be read is uninspectable, whatever it claims to be (issue 10): random bytes in
each declared type, encrypted Office files with damaged stream names, armoured PGP and S/MIME
anywhere; and the legitimate files that must stay readable or silent (signatures, invites,
images, fonts, vCards, audio)."""

from __future__ import annotations

import io
import random
import time
import wave
from pathlib import Path

import msoffcrypto.format.ooxml
import olefile
import pytest
from PIL import Image
from tests.factories import make_docx, make_eml

from postwarden.engine.extract import Extraction, Kind, extract, sniff
from postwarden.engine.extract.binary import ENTROPY_LIMIT, entropy
from postwarden.engine.parse import parse_message
from postwarden.settings import Limits

LIMITS = Limits()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RANDOM = random.Random(10).randbytes(64 * 1024)
PGP_MESSAGE = (
    "-----BEGIN PGP MESSAGE-----\n\nhQEMA5Lp0Q2nQ3SKAQf/Xk5v1kq7wVQ0b6l3n2o4Yq1m\n=Q2nQ\n"
    "-----END PGP MESSAGE-----\n"
)


def run(raw: bytes) -> Extraction:
    return extract(parse_message(raw, None, LIMITS), LIMITS, time.monotonic() + 60)


def mail(*attachments: tuple[str, bytes, str], body: str = "see attached") -> bytes:
    return make_eml(
        sender="clerk@reo.gov.hk",
        to=["ann@lawfirm.com.hk"],
        subject="records",
        body=body,
        attachments=attachments,
    )


def reasons(extraction: Extraction) -> dict[str, str]:
    return {f.where: f.detail for f in extraction.findings}


@pytest.mark.parametrize(
    ("name", "ctype", "reason"),
    [
        ("data.bin", "application/octet-stream", "encrypted or compressed data of unknown format"),
        ("report.docx", DOCX, "declared office document but cannot be read"),
        ("report.docx", "application/octet-stream", "declared office document but cannot be"),
        ("report.pdf", "application/pdf", "declared pdf but cannot be read"),
        ("scan", "application/pdf", "declared pdf but cannot be read"),
        ("secret.gpg", "application/octet-stream", "declared encrypted file but cannot be read"),
    ],
)
def test_random_bytes_are_uninspectable(name: str, ctype: str, reason: str) -> None:
    ex = run(mail((name, RANDOM, ctype)))
    found = reasons(ex)
    assert list(found) == [f"attachment:{name}"], found
    assert found[f"attachment:{name}"].startswith(reason)
    assert not [u for u in ex.units if u.source == f"attachment:{name}"]


@pytest.mark.parametrize(
    ("name", "ctype", "reason"),
    [
        # rspamd's mixed-html-zip.eml: the zip's base64 sent without its transfer encoding.
        ("letter.zip", "application/zip", "declared zip archive but cannot be read"),
        ("data.tar.gz", "application/gzip", "declared gzip but cannot be read"),
        ("mail.msg", "application/vnd.ms-outlook", "declared outlook message but cannot be"),
        ("minutes.odt", "application/octet-stream", "declared opendocument but cannot be read"),
    ],
)
def test_text_in_place_of_a_binary_format_is_uninspectable(
    name: str, ctype: str, reason: str
) -> None:
    encoded = b"UEsDBBQACAAIAHmBTksAAAAAAAAAAAAAAAAZAAAAQ29tcGxhaW50TGV0dGVy"
    ex = run(mail((name, encoded, ctype)))
    assert reasons(ex)[f"attachment:{name}"].startswith(reason)


def test_text_declared_as_an_office_file_is_still_read() -> None:
    # A web application's "report.xls" is an html table: Excel opens it, so it is read.
    ex = run(
        mail(
            (
                "report.xls",
                b"<table><tr><td>CHAN Tai Man</td></tr></table>",
                "application/vnd.ms-excel",
            )
        )
    )
    assert reasons(ex) == {}
    assert any("CHAN Tai Man" in u.text for u in ex.units)


@pytest.mark.parametrize("size", [4096, 64 * 1024, 3 * 1024 * 1024])
def test_unknown_high_entropy_data_of_any_size_is_uninspectable(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert entropy(data) > ENTROPY_LIMIT
    ex = run(mail(("blob", data, "application/octet-stream")))
    assert "entropy" in reasons(ex)["attachment:blob"]


def test_random_bytes_in_a_zip_member_named_pdf_are_uninspectable() -> None:
    from tests.factories import make_zip

    small = RANDOM[:1000]  # under the entropy sample: only the name says what it should be
    ex = run(mail(("a.zip", make_zip({"in/report.pdf": small}), "application/zip")))
    assert reasons(ex) == {
        "attachment:a.zip/in/report.pdf": "declared pdf but cannot be read (binary data)"
    }


def test_low_entropy_unknown_binary_is_still_scanned_as_strings() -> None:
    rng = random.Random(3)
    data = bytes(rng.choice(b"\x00\x01\x02\x03ABCD") for _ in range(20_000))
    data += b"\x00 call 91234567 \x00"
    ex = run(mail(("trace.dat", data, "application/octet-stream")))
    assert reasons(ex) == {}
    assert any("91234567" in u.text for u in ex.units)


def _encrypted_docx() -> bytes:
    plain = make_docx(["Voter CHAN Tai Man A123456(3)"])
    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO(plain)).encrypt("secret", out)
    return out.getvalue()


ENCRYPTED_DOCX = _encrypted_docx()
STREAM = "EncryptedPackage".encode("utf-16-le")


def test_encrypted_docx_made_by_msoffcrypto_is_uninspectable() -> None:
    assert sniff(ENCRYPTED_DOCX, "a.docx").kind is Kind.ENCRYPTED
    ex = run(mail(("a.docx", ENCRYPTED_DOCX, DOCX)))
    assert reasons(ex) == {"attachment:a.docx": "encrypted office document"}


@pytest.mark.parametrize("position", range(0, len(STREAM), 2))
def test_encrypted_docx_with_a_damaged_stream_name_is_uninspectable(position: int) -> None:
    at = ENCRYPTED_DOCX.index(STREAM) + position
    damaged = bytearray(ENCRYPTED_DOCX)
    damaged[at] = ord("x") if damaged[at] != ord("x") else ord("y")
    assert bytes(damaged) != ENCRYPTED_DOCX
    ex = run(mail(("a.docx", bytes(damaged), DOCX)))
    assert list(reasons(ex)) == ["attachment:a.docx"], reasons(ex)


def test_ole_file_that_is_no_office_document_is_uninspectable() -> None:
    # Both streams that name an encrypted package renamed (names are UTF-16 in the
    # directory): what is left are streams no Office reader knows.
    damaged = ENCRYPTED_DOCX.replace(STREAM, "Z".encode("utf-16-le") * 16)
    damaged = damaged.replace("EncryptionInfo".encode("utf-16-le"), "Z".encode("utf-16-le") * 14)
    with olefile.OleFileIO(damaged) as ole:
        assert not any("Encrypt" in path[0] for path in ole.listdir())
    found = sniff(damaged, "a.doc")
    assert found.kind is Kind.UNREADABLE
    ex = run(mail(("a.doc", damaged, "application/msword")))
    assert reasons(ex) == {
        "attachment:a.doc": "declared office document but cannot be read "
        "(OLE compound file that is not a known Office document)"
    }
    ex = run(mail(("a.bin", damaged, "application/octet-stream")))
    assert reasons(ex) == {
        "attachment:a.bin": "OLE compound file that is not a known Office document"
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"Here it is:\n\n{PGP_MESSAGE}", "PGP-encrypted block (ASCII armour) in text"),
        (
            "Quoted:\n> -----BEGIN PGP MESSAGE-----\n> hQEMA5Lp0Q2n\n> -----END PGP MESSAGE-----\n",
            "PGP-encrypted block (ASCII armour) in text",
        ),
        (
            "-----BEGIN PKCS7-----\nMIAGCSqGSIb3DQEHA6CAMIACAQAx\n-----END PKCS7-----\n",
            "S/MIME (PKCS #7) block in text",
        ),
    ],
)
def test_armoured_encryption_in_a_body_is_uninspectable(body: str, reason: str) -> None:
    ex = run(mail(body=body))
    assert reasons(ex) == {"body": reason}


def test_armoured_pgp_deep_in_a_text_attachment_is_uninspectable() -> None:
    text = ("minutes of the meeting\n" * 1000 + PGP_MESSAGE).encode()
    ex = run(mail(("notes.txt", text, "text/plain")))
    assert reasons(ex) == {"attachment:notes.txt": "PGP-encrypted block (ASCII armour) in text"}


def test_armoured_pgp_in_a_docx_paragraph_is_uninspectable() -> None:
    data = make_docx(["Dear Ann,", *PGP_MESSAGE.splitlines()])
    ex = run(mail(("letter.docx", data, DOCX)))
    assert list(reasons(ex)) == ["attachment:letter.docx#body"]


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("smime.p7m", "application/pkcs7-mime"),
        ("smime.p7m", "application/octet-stream"),
        ("message.bin", "application/x-pkcs7-mime"),
    ],
)
def test_smime_enveloped_parts_are_uninspectable(name: str, ctype: str) -> None:
    ex = run(mail((name, RANDOM[:3000], ctype)))
    assert reasons(ex) == {f"attachment:{name}": "encrypted or opaque-signed message (S/MIME)"}


def test_part_labelled_as_a_signature_is_inspected() -> None:
    rows = b"name,hkid\nCHAN Tai Man,A123456(3)\n"
    ex = run(mail(("signature.asc", rows, "application/pgp-signature")))
    assert any("A123456(3)" in u.text for u in ex.units)


# --- legitimate files stay readable, or silent ------------------------------------------


def _png() -> bytes:
    rng = random.Random(1)
    image = Image.frombytes("RGB", (256, 256), rng.randbytes(256 * 256 * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _image(fmt: str) -> bytes:
    image = Image.new("RGB", (320, 200), (20, 120, 200))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(random.Random(2).randbytes(64_000))  # noise: entropy near 8 bits
    return out.getvalue()


NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # fonts-noto-cjk (bootstrap)


def _font_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _ttf() -> bytes:
    """A TrueType font written by fontTools: one square glyph."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, 500))
    pen.lineTo((500, 500))
    pen.closePath()
    glyph = pen.glyph()
    builder = FontBuilder(1024, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A"])
    builder.setupCharacterMap({65: "A"})
    builder.setupGlyf({".notdef": glyph, "A": glyph})
    builder.setupHorizontalMetrics({".notdef": (600, 0), "A": (600, 0)})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Square", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()


def _otf(flavor: str | None = None) -> bytes:
    """The first font of the Noto CJK collection as a standalone OpenType (CFF) font, or as
    woff: megabytes of compressed outlines."""
    from fontTools.ttLib import TTCollection

    font = TTCollection(NOTO).fonts[0]
    font.flavor = flavor
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _p7s() -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clerk@reo.gov.hk")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"content")
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature])
    )


ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//REO//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:1@reo.gov.hk\r\nDTSTART:20240601T020000Z\r\n"
    b"SUMMARY:Liaison meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Amy LEE\r\nTEL:2891 1001\r\nEND:VCARD\r\n"
SIGNATURE = (
    b"-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQQ0d1Dz8D5Wvd9o0nA\n=abcd\n"
    b"-----END PGP SIGNATURE-----\n"
)
LEGITIMATE = [
    ("photo.png", _png(), "image/png"),
    ("photo.jpg", _image("JPEG"), "image/jpeg"),
    ("logo.gif", _image("GIF"), "image/gif"),
    ("square.ttf", _ttf(), "font/ttf"),
    ("cjk.otf", _otf(), "font/otf"),
    ("cjk.woff", _otf("woff"), "font/woff"),
    ("cjk.ttc", _font_file(NOTO), "font/collection"),
    ("noise.wav", _wav(), "audio/wav"),
    ("invite.ics", ICS, "text/calendar"),
    ("amy.vcf", VCARD, "text/vcard"),
    ("signature.asc", SIGNATURE, "application/pgp-signature"),
    ("smime.p7s", _p7s(), "application/pkcs7-signature"),
    ("smime.p7s", _p7s(), "application/octet-stream"),
]


@pytest.mark.parametrize(
    ("name", "data", "ctype"), LEGITIMATE, ids=[f"{n}-{t}" for n, _, t in LEGITIMATE]
)
def test_legitimate_files_are_not_uninspectable(name: str, data: bytes, ctype: str) -> None:
    ex = run(mail((name, data, ctype)))
    assert reasons(ex) == {}
    assert ex.structure == []
    assert [a.name for a in ex.attachments] == [name]


def test_pgp_signed_body_is_read() -> None:
    body = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nMeeting at 3 pm.\n"
        + SIGNATURE.decode()
    )
    ex = run(mail(body=body))
    assert reasons(ex) == {}
    assert any("Meeting at 3 pm." in u.text for u in ex.units)


CORPORA = Path(__file__).resolve().parents[2] / "corpora"
RECURSIVE = CORPORA / "poi-hostile-office/files/test-data/integration/test_recursive_embedded.docx"


def test_ole_package_embedded_in_a_docx_is_read_as_its_file() -> None:
    # Apache POI's test file: a docx with an OLE packager object holding a zip of zips.
    ex = run(mail(("t.docx", RECURSIVE.read_bytes(), DOCX)))
    assert reasons(ex) == {}
    package = "attachment:t.docx/word/embeddings/oleObject1.bin"
    assert (
        f"{package}/embed1.zip/embed1/embed2.zip/embed2/embed3.zip/embed3/embed4.zip/embed4.txt"
        in {u.where for u in ex.units}
    )
