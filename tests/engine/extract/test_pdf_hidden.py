"""What a pdf carries besides its pages' text is inspected: its embedded files (the name tree
of a letter carrying ``voters.xlsx``, a file-attachment annotation's file), its document
properties and its bookmarks' titles; within the limits, and what cannot be read is
uninspectable."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from pypdf.generic import DictionaryObject, NameObject, NumberObject, TextStringObject
from tests.engine.extract.hidden_pdfs import (
    COVER,
    annotated,
    associated_only,
    clip_listed,
    clips,
    clips_without_files,
    cover,
    deflated,
    fpdf_embedded,
    fpdf_xmp,
    looping_bookmarks,
    many_names,
    nested,
    pypdf_embedded,
    raw_embedded,
    with_bookmarks,
    with_properties,
    with_xmp,
    xmp_packet,
)
from tests.factories import make_xlsx

from postwarden.engine import Inspector
from postwarden.engine.extract import Extraction, extract_file
from postwarden.engine.extract import pdf as pdf_module
from postwarden.engine.extract.budget import Budget, size
from postwarden.engine.extract.pdf_hidden import Embedded, EmbeddedFiles, _associated_file
from postwarden.engine.extract.pdf_plain import plain
from postwarden.settings import Limits

NAME, HKID = "CHAN Tai Man", "A123456(3)"
LINE = f"{NAME} {HKID}"
SHEET = {"Sheet1": [["Name", "HKID"], [NAME, HKID]]}


def _extract(data: bytes, limits: Limits | None = None) -> Extraction:
    return extract_file("letter.pdf", data, limits or Limits(), 1e12)


def _texts(data: bytes) -> dict[str, str]:
    return {u.where: u.text for u in _extract(data).units}


def _refused(data: bytes, limits: Limits | None = None) -> dict[str, str]:
    return {f.where: f.detail for f in _extract(data, limits).findings}


def _hkid_places(data: bytes) -> set[str]:
    verdict = Inspector().inspect_file("letter.pdf", data).verdict
    return {f.where.split("#")[0] for f in verdict.findings if f.detector == "hkid"}


@pytest.mark.parametrize("make", [fpdf_embedded, pypdf_embedded], ids=["fpdf2", "pypdf"])
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("voters.xlsx", make_xlsx(SHEET)),
        ("voters.csv", f"Name,HKID\n{NAME},{HKID}\n".encode()),
        ("note.txt", LINE.encode()),
    ],
    ids=["xlsx", "csv", "txt"],
)
def test_a_file_in_the_name_tree_is_read_as_a_file(
    make: Callable[[Mapping[str, bytes]], bytes], name: str, content: bytes
) -> None:
    data = make({name: content})
    assert _hkid_places(data) == {f"attachment:letter.pdf/{name}"}


@pytest.mark.parametrize("make", [fpdf_embedded, pypdf_embedded], ids=["fpdf2", "pypdf"])
def test_an_embedded_files_name_is_read(make: Callable[[Mapping[str, bytes]], bytes]) -> None:
    data = make({f"{NAME} {HKID}.txt": b"nothing here"})
    assert _texts(data)["attachment:letter.pdf#file names"] == f"{NAME} {HKID} .txt"
    assert _hkid_places(data) == {"attachment:letter.pdf"}


def test_fpdf2s_embedded_files_stay_plain_and_are_read() -> None:
    # The plain check replaces pypdf's structure reading only: the files are read either way.
    data = fpdf_embedded({"note.txt": LINE.encode()})
    assert b"/EmbeddedFiles" in data
    assert b"/AF" in data
    assert plain(data, 1, lambda: None)
    assert _texts(data)["attachment:letter.pdf/note.txt"] == LINE


def test_the_file_of_a_file_attachment_annotation_is_read(tmp_path: Path) -> None:
    data = annotated(tmp_path, "voters.xlsx", make_xlsx(SHEET))
    assert _hkid_places(data) == {"attachment:letter.pdf/voters.xlsx"}


def test_a_file_listed_many_times_is_read_once() -> None:
    texts = [u for u in _extract(clip_listed(5_000, LINE.encode())).units if LINE in u.text]
    assert [u.where for u in texts] == ["attachment:letter.pdf/clip.txt"]


@pytest.mark.parametrize(
    "key", ["/Title", "/Author", "/Subject", "/Keywords", "/Creator", "/Producer"]
)
def test_document_properties_are_read(key: str) -> None:
    data = with_properties({key: f"Prepared for {LINE}"})
    assert _texts(data)["attachment:letter.pdf#properties"] == f"Prepared for {LINE}"
    assert _hkid_places(data) == {"attachment:letter.pdf"}


def test_a_custom_property_is_read() -> None:
    # PDFium reads the six standard entries only; the file is read by pypdf, not as plain.
    data = with_properties({"/Title": "Minutes", "/Applicant": LINE})
    assert not plain(data, 1, lambda: None)
    units = [(u.where, u.text) for u in _extract(data).units]
    assert ("attachment:letter.pdf#properties", "Minutes") in units
    assert ("attachment:letter.pdf#properties", LINE) in units
    assert _hkid_places(data) == {"attachment:letter.pdf"}


def test_a_standard_property_is_read_once() -> None:
    data = with_properties({"/Author": LINE, "/CreationDate": "D:20250101000000Z"})
    units = [u for u in _extract(data).units if LINE in u.text]
    assert [u.where for u in units] == ["attachment:letter.pdf#properties"]


@pytest.mark.parametrize(
    "make",
    [lambda: with_xmp(xmp_packet(LINE)), lambda: fpdf_xmp(xmp_packet(LINE).decode())],
    ids=["pypdf", "fpdf2"],
)
def test_the_xmp_packet_is_read(make: Callable[[], bytes]) -> None:
    data = make()
    assert not plain(data, 1, lambda: None)
    lines = _texts(data)["attachment:letter.pdf#xmp"].splitlines()
    assert LINE in lines
    assert "LibreOffice 7.4" in lines
    assert _hkid_places(data) == {"attachment:letter.pdf"}


def test_an_xmp_packet_that_is_not_xml_is_read_as_it_is() -> None:
    packet = b"<x:xmpmeta><dc:creator>" + LINE.encode() + b"</dc:creator>"
    assert LINE in _texts(with_xmp(packet))["attachment:letter.pdf#xmp"]


def test_an_xmp_packet_over_the_text_limit_is_refused() -> None:
    packet = xmp_packet("x" * 4096)
    assert _refused(with_xmp(packet), Limits(max_text_bytes=4096)) == {
        "attachment:letter.pdf": f"XMP metadata of {size(len(packet))} over limit 4 KiB"
    }


def test_bookmark_titles_are_read() -> None:
    data = with_bookmarks(["Applicants", f"Applicant {LINE}", "Appendix"])
    assert _texts(data)["attachment:letter.pdf#bookmarks"].splitlines() == [
        "Applicants",
        f"Applicant {LINE}",
        "Appendix",
    ]
    assert _hkid_places(data) == {"attachment:letter.pdf"}


def test_an_outline_that_loops_is_read_once() -> None:
    data = looping_bookmarks(["Index", f"Applicant {LINE}", "Appendix"])
    assert _texts(data)["attachment:letter.pdf#bookmarks"].splitlines() == [
        "Index",
        f"Applicant {LINE}",
        "Appendix",
    ]


def test_a_plain_letter_has_only_its_page() -> None:
    assert _texts(bytes(fpdf_embedded({}))) == {
        "attachment:letter.pdf#page 1": COVER,
        "file names": "letter .pdf",
    }


def test_a_pdf_in_a_pdf_is_read_to_the_depth_limit() -> None:
    data = nested(4, {"note.txt": LINE.encode()})
    inner = "attachment:letter.pdf/level1.pdf/level2.pdf/level3.pdf"
    assert LINE in _texts(data)[f"{inner}/note.txt"]
    refused = _refused(data, Limits(max_depth=3))
    assert refused == {inner: "nesting deeper than 3"}


def test_ten_thousand_names_are_refused_before_any_is_read() -> None:
    refused = _refused(many_names(10_000))
    assert refused == {"attachment:letter.pdf": "pdf with 10000 embedded files, over limit 1000"}


def test_more_names_than_allowed_are_refused() -> None:
    data = fpdf_embedded({f"f{n}.txt": b"x" for n in range(5)})
    assert _refused(data, Limits(max_members=4)) == {
        "attachment:letter.pdf": "pdf with 5 embedded files, over limit 4"
    }


def test_more_files_than_allowed_in_annotations_are_refused() -> None:
    assert _refused(clips(4), Limits(max_members=4)) == {}
    assert _refused(clips(5), Limits(max_members=4)) == {
        "attachment:letter.pdf": "pdf with over 4 embedded files"
    }


def test_annotations_without_their_file_are_noted_once() -> None:
    findings = _extract(clips_without_files(3)).findings
    assert [(f.where, f.detail) for f in findings] == [
        ("attachment:letter.pdf/embedded file", "embedded file without a file specification")
    ]


def test_a_file_over_the_part_limit_is_refused() -> None:
    data = raw_embedded("big.txt", deflated(b"A" * (2 * 1024 * 1024)))
    refused = _refused(data, Limits(max_part_bytes=1024 * 1024))
    assert refused == {"attachment:letter.pdf/big.txt": "embedded file of 2 MiB over limit 1 MiB"}


def test_a_deflate_bomb_spends_the_expansion_budget() -> None:
    data = raw_embedded("bomb.txt", deflated(bytes(20 * 1024 * 1024)))
    assert len(data) < 40_000
    refused = _refused(data)
    limit = Limits().max_expansion(len(data))
    assert list(refused.values()) == [f"zip bomb: total expansion over limit {size(limit)}"]


def test_a_named_file_the_pdf_does_not_carry_is_uninspectable() -> None:
    refused = _refused(raw_embedded("voters.xlsx", None))
    assert refused == {
        "attachment:letter.pdf/voters.xlsx": "embedded file whose data PDFium cannot read"
    }


@pytest.mark.parametrize(
    ("packed", "reason"),
    [
        (lambda z: z[:-100], "corrupt zip: File is not a zip file"),
        (lambda z: b"junk" + z, "declared office document but cannot be read (binary data)"),
    ],
    ids=["cut short", "not deflate"],
)
def test_a_file_whose_stream_does_not_inflate_is_uninspectable(
    packed: Callable[[bytes], bytes], reason: str
) -> None:
    # PDFium hands out what it could inflate, or the stream as it is when it cannot: either
    # is read as the file it claims to be, and a spreadsheet it does not open is refused.
    stream = deflated(b"")
    stream._data = packed(zlib.compress(make_xlsx(SHEET)))
    refused = _refused(raw_embedded("voters.xlsx", stream))
    assert refused == {"attachment:letter.pdf/voters.xlsx": reason}


@pytest.mark.parametrize("holder", ["catalog", "page", "annotation", "image"])
def test_an_associated_file_outside_the_name_tree_is_read(holder: str) -> None:
    # PDF 2.0 associates files with the document, a page or an object (/AF): PDFium lists
    # only the name tree's and the paper clips', a viewer's attachments pane all of them.
    data = associated_only(holder, {"voters.xlsx": make_xlsx(SHEET)})
    assert not plain(data, 1, lambda: None)
    assert _hkid_places(data) == {"attachment:letter.pdf/voters.xlsx"}
    assert _texts(data)["attachment:letter.pdf#file names"] == "voters .xlsx"


def test_a_file_in_the_name_tree_and_associated_is_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fpdf2 lists each embedded file in both (the file stays plain); through pypdf too, the
    # file PDFium read from the name tree is not read again.
    data = fpdf_embedded({"note.txt": LINE.encode()})
    monkeypatch.setattr(pdf_module, "plain", lambda data, pages, check_time: False)
    places = [u.where for u in _extract(data).units if LINE in u.text]
    assert places == ["attachment:letter.pdf/note.txt"]


def test_associated_files_are_held_to_the_pdfs_limits() -> None:
    data = associated_only("page", {f"f{n}.txt": b"x" for n in range(5)})
    assert _refused(data, Limits(max_members=5)) == {}
    assert _refused(data, Limits(max_members=4)) == {
        "attachment:letter.pdf": "pdf with over 4 embedded files"
    }
    big = associated_only("catalog", {"big.txt": b"A" * (2 * 1024 * 1024)})
    assert _refused(big, Limits(max_part_bytes=1024 * 1024)) == {
        "attachment:letter.pdf/big.txt": "embedded file of 2 MiB over limit 1 MiB"
    }
    bomb = associated_only("page", {"bomb.txt": bytes(20 * 1024 * 1024)})
    limit = Limits().max_expansion(len(bomb))
    assert list(_refused(bomb).values()) == [f"zip bomb: total expansion over limit {size(limit)}"]


def test_an_associated_file_the_pdf_does_not_carry() -> None:
    # A specification without /EF names a file kept elsewhere: nothing of it leaves.
    assert _refused(associated_only("page", {"voters.xlsx": None})) == {}
    # One whose /EF holds no stream is uninspectable.
    spec = DictionaryObject(
        {
            NameObject("/UF"): TextStringObject("voters.xlsx"),
            NameObject("/EF"): DictionaryObject({NameObject("/F"): NumberObject(3)}),
        }
    )
    files = EmbeddedFiles(Budget(Limits(), 0, 1e12))
    assert _associated_file(spec, files) == Embedded(
        "voters.xlsx", None, "embedded file whose data pypdf cannot read"
    )


def test_a_plain_file_with_hidden_data_reads_the_same_through_pypdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fpdf2 writes a name tree (/Names, /EmbeddedFiles), /AF, an outline and a paper clip in
    # the plain form: the fast path takes it, and what is read is what pypdf's path reads.
    pdf = cover()
    pdf.set_author(NAME)
    pdf.embed_file(basename="voters.xlsx", bytes=make_xlsx(SHEET))
    clip = tmp_path / "note.txt"
    clip.write_text(LINE)
    pdf.file_attachment_annotation(clip, x=20, y=40, w=10, h=10)
    pdf.start_section(f"Applicant {HKID}")
    data = bytes(pdf.output())
    for key in (b"/EmbeddedFiles", b"/AF", b"/Outlines", b"/FileAttachment"):
        assert key in data
    assert plain(data, 1, lambda: None)

    def seen() -> list[tuple[str, ...]]:
        extraction = _extract(data)
        return sorted(
            [(u.where, u.text) for u in extraction.units]
            + [(f.where, f.detail) for f in extraction.findings]
        )

    fast = seen()
    monkeypatch.setattr(pdf_module, "plain", lambda data, pages, check_time: False)
    assert seen() == fast
    assert {where for where, _ in fast} >= {
        "attachment:letter.pdf#page 1",
        "attachment:letter.pdf#properties",
        "attachment:letter.pdf#bookmarks",
        "attachment:letter.pdf/note.txt",
        "attachment:letter.pdf/voters.xlsx#Sheet1!R1",
        "attachment:letter.pdf/voters.xlsx#Sheet1!R2",
    }
