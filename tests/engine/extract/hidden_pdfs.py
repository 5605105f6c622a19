"""Pdfs that carry data besides their pages' text: embedded files (the name tree, file-attachment
annotations), document properties, bookmarks; made by fpdf2 and pypdf (shared by the pdf
extractor's tests and the register tests)."""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

COVER = "Please find the papers attached."


def cover() -> FPDF:
    """A one-page letter whose text says nothing about anyone."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=COVER)
    return pdf


def fpdf_embedded(files: Mapping[str, bytes]) -> bytes:
    """The letter carrying ``files`` in its name tree, as fpdf2 embeds them (a plain pdf)."""
    pdf = cover()
    for name, content in files.items():
        pdf.embed_file(basename=name, bytes=content)
    return bytes(pdf.output())


def pypdf_embedded(files: Mapping[str, bytes]) -> bytes:
    """The letter carrying ``files`` in its name tree, as pypdf attaches them."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    for name, content in files.items():
        writer.add_attachment(name, content)
    return _written(writer)


def annotated(tmp_path: Path, name: str, content: bytes) -> bytes:
    """The letter with a file-attachment annotation (a paper clip) on its page."""
    path = tmp_path / name
    path.write_bytes(content)
    pdf = cover()
    pdf.file_attachment_annotation(path, x=20, y=40, w=10, h=10)
    return bytes(pdf.output())


def with_properties(values: Mapping[str, str]) -> bytes:
    """The letter with Info entries (``/Author``...) set by pypdf."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    writer.add_metadata(dict(values))
    return _written(writer)


def with_xmp(packet: bytes) -> bytes:
    """The letter with ``packet`` as its XMP metadata stream (the catalog's ``/Metadata``)."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    stream = DecodedStreamObject()
    stream.set_data(packet)
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    writer._root_object[NameObject("/Metadata")] = writer._add_object(stream)
    return _written(writer)


def fpdf_xmp(packet: str) -> bytes:
    """The letter with an XMP packet, as fpdf2 writes one (it adds the ``xpacket`` wrapper)."""
    pdf = cover()
    pdf.set_xmp_metadata(packet.split("?>", 1)[1].rsplit("<?", 1)[0])
    return bytes(pdf.output())


def xmp_packet(creator: str) -> bytes:
    """An XMP packet naming ``creator`` as the document's author (``dc:creator``)."""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:pdf="http://ns.adobe.com/pdf/1.3/" pdf:Producer="LibreOffice 7.4">'
        f"<dc:creator><rdf:Seq><rdf:li>{creator}</rdf:li></rdf:Seq></dc:creator>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def with_bookmarks(titles: list[str]) -> bytes:
    """The letter with an outline: the first title at the top, the others below it."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    top = writer.add_outline_item(title=titles[0], page_number=0)
    for title in titles[1:]:
        writer.add_outline_item(title=title, page_number=0, parent=top)
    return _written(writer)


def looping_bookmarks(titles: list[str]) -> bytes:
    """An outline of ``titles`` whose last item's ``/Next`` and ``/First`` lead back to the
    first: it never ends for a reader that follows them."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    items = [writer.add_outline_item(title=title, page_number=0) for title in titles]
    last = items[-1].get_object()
    last[NameObject("/Next")] = items[0]
    last[NameObject("/First")] = items[0]
    return _written(writer)


def many_names(count: int) -> bytes:
    """A name tree listing ``count`` names, all of one small embedded file."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    stream = DecodedStreamObject()
    stream.set_data(b"tiny")
    stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
    spec = writer._add_object(_spec("tiny.txt", writer._add_object(stream)))
    names = ArrayObject()
    for n in range(count):
        names.extend([TextStringObject(f"f{n:05}.txt"), spec])
    _name_tree(writer, names)
    return _written(writer)


def raw_embedded(name: str, stream: StreamObject | None) -> bytes:
    """A name tree with one file specification whose embedded file is ``stream`` (``None``:
    a specification without ``/EF``, naming a file it does not carry)."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    spec = _spec(name, writer._add_object(stream) if stream is not None else None)
    _name_tree(writer, ArrayObject([TextStringObject(name), writer._add_object(spec)]))
    return _written(writer)


def deflated(data: bytes) -> StreamObject:
    """An embedded file stream holding ``data`` deflated."""
    stream = DecodedStreamObject()
    stream._data = zlib.compress(data, 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    stream[NameObject("/Type")] = NameObject("/EmbeddedFile")
    return stream


def clip_listed(times: int, content: bytes) -> bytes:
    """One file-attachment annotation listed ``times`` on the letter's page."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    clip = writer._add_object(_clip(writer, "clip.txt", content))
    writer.pages[0][NameObject("/Annots")] = ArrayObject([clip] * times)
    return _written(writer)


def clips(count: int) -> bytes:
    """``count`` file-attachment annotations on the letter's page, each with a file."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    writer.pages[0][NameObject("/Annots")] = ArrayObject(
        [writer._add_object(_clip(writer, f"clip{n}.txt", b"x")) for n in range(count)]
    )
    return _written(writer)


def clips_without_files(count: int) -> bytes:
    """``count`` file-attachment annotations on the letter's page, none naming its file."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    writer.pages[0][NameObject("/Annots")] = ArrayObject(
        [writer._add_object(_clip(writer, "", b"")) for _ in range(count)]
    )
    return _written(writer)


def _clip(writer: PdfWriter, name: str, content: bytes) -> DictionaryObject:
    """A file-attachment annotation with the file ``name`` holding ``content``; with no file
    (no ``/FS``) when ``name`` is empty."""
    clip = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/FileAttachment"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (0, 0, 10, 10)]),
        }
    )
    if name:
        stream = DecodedStreamObject()
        stream.set_data(content)
        clip[NameObject("/FS")] = _spec(name, writer._add_object(stream))
    return clip


def associated_only(holder: str, files: Mapping[str, bytes | None]) -> bytes:
    """The letter associating ``files`` (PDF 2.0 ``/AF``; ``None``: a specification without
    ``/EF``) with its ``catalog``, its ``page``, an ``annotation`` (a square) or an ``image``
    its page draws, with no name tree: PDFium lists none of them."""
    writer = PdfWriter(clone_from=io.BytesIO(bytes(cover().output())))
    specs = ArrayObject()
    for name, content in files.items():
        stream = deflated(content) if content is not None else None
        specs.append(
            writer._add_object(_spec(name, writer._add_object(stream) if stream else None))
        )
    page = writer.pages[0]
    if holder == "catalog":
        writer._root_object[NameObject("/AF")] = specs
    elif holder == "page":
        page[NameObject("/AF")] = specs
    elif holder == "annotation":
        square = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Square"),
                NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (0, 0, 10, 10)]),
                NameObject("/AF"): specs,
            }
        )
        page[NameObject("/Annots")] = ArrayObject([writer._add_object(square)])
    else:
        image = DecodedStreamObject()
        image.set_data(b"\x00")
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(1),
                NameObject("/Height"): NumberObject(1),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
                NameObject("/AF"): specs,
            }
        )
        resources = page["/Resources"].get_object()
        resources[NameObject("/XObject")] = DictionaryObject(
            {NameObject("/Im9"): writer._add_object(image)}
        )
    return _written(writer)


def nested(depth: int, inner: Mapping[str, bytes]) -> bytes:
    """A pdf carrying a pdf ... ``depth`` pdfs deep, the innermost carrying ``inner``."""
    data = fpdf_embedded(inner)
    for level in range(depth - 1):
        data = fpdf_embedded({f"level{depth - level - 1}.pdf": data})
    return data


def _spec(name: str, stream: object | None) -> DictionaryObject:
    spec = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Filespec"),
            NameObject("/F"): TextStringObject(name),
            NameObject("/UF"): TextStringObject(name),
        }
    )
    if stream is not None:
        spec[NameObject("/EF")] = DictionaryObject({NameObject("/F"): stream})
    return spec


def _name_tree(writer: PdfWriter, names: ArrayObject) -> None:
    writer._root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/EmbeddedFiles"): DictionaryObject({NameObject("/Names"): names})}
    )


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
