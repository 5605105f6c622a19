"""A register record put only in a file name (a person's name and HKID naming their file) is
counted, in every kind of container, and for a scanned file's own name."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable

import pytest
from tests.engine.registers.conftest import Imported
from tests.factories import make_eml, make_msg, make_tnef, make_zip

from postwarden.engine import Inspector, Report

PERSON = 4321
TEXT = b"Minutes of the meeting."


@pytest.fixture(scope="module")
def inspector(voters: Imported) -> Inspector:
    return Inspector(org_domains=("reo.gov.hk",), registers=voters.registers())


@pytest.fixture(scope="module")
def name(voters: Imported) -> str:
    """``陳大文_A123456(3).txt`` for the person: name and HKID, as clerks name files."""
    people = voters.people
    return f"{people.name_zh[PERSON]}_{people.hkid[PERSON]}.txt"


@pytest.fixture(scope="module")
def ascii_name(voters: Imported) -> str:
    """``CHAN Tai Man_A123456(3).txt``, for containers whose names are ANSI (winmail.dat)."""
    people = voters.people
    return f"{people.name_en[PERSON]}_{people.hkid[PERSON]}.txt"


def send(inspector: Inspector, attachment: tuple[str, bytes, str]) -> Report:
    raw = make_eml(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="minutes",
        body="Please see attached.",
        attachments=[attachment],
    )
    return inspector.inspect(raw)


def assert_found(report: Report, where: str) -> None:
    assert report.record_ids == {"voters": {PERSON}}
    places = {f.where for f in report.verdict.findings if f.detector == "register:voters"}
    assert places == {where}


def _tar(name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(f"voters/{name}")
        info.size = len(TEXT)
        tar.addfile(info, io.BytesIO(TEXT))
    return buf.getvalue()


def _msg(name: str) -> bytes:
    return make_msg(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="minutes",
        body="Minutes.",
        attachments=[(name, TEXT, "text/plain")],
    )


@pytest.mark.parametrize(
    ("attach", "where"),
    [
        (lambda n: (n, TEXT, "text/plain"), "file names"),
        (
            lambda n: (
                "fwd.eml",
                make_eml(
                    sender="a@reo.gov.hk",
                    to=["b@reo.gov.hk"],
                    subject="s",
                    body="b",
                    attachments=[(n, TEXT, "text/plain")],
                ),
                "message/rfc822",
            ),
            "attachment:fwd.eml#file names",
        ),
        (
            lambda n: ("a.zip", make_zip({f"voters/{n}": TEXT}), "application/zip"),
            "attachment:a.zip#file names",
        ),
        (lambda n: ("a.tar", _tar(n), "application/x-tar"), "attachment:a.tar#file names"),
        (
            lambda n: ("mail.msg", _msg(n), "application/vnd.ms-outlook"),
            "attachment:mail.msg#file names",
        ),
    ],
    ids=["attachment", "forwarded message", "zip", "tar", "msg"],
)
def test_a_record_in_a_file_name_is_found(
    inspector: Inspector,
    name: str,
    attach: Callable[[str], tuple[str, bytes, str]],
    where: str,
) -> None:
    assert_found(send(inspector, attach(name)), where)


def test_a_record_in_a_winmail_dat_attachment_name_is_found(
    inspector: Inspector, ascii_name: str
) -> None:
    winmail = make_tnef("minutes", "Minutes.", {ascii_name: TEXT})
    report = send(inspector, ("winmail.dat", winmail, "application/ms-tnef"))
    assert_found(report, "attachment:winmail.dat#file names")


def test_a_record_in_a_scanned_files_name_is_found(inspector: Inspector, name: str) -> None:
    assert_found(inspector.inspect_file(name, TEXT, decide=False), "file names")
