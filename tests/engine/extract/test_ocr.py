"""Images and scanned pages read by OCR, under the per-message budget and pixel limits."""

from __future__ import annotations

import io
import time

import docx
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw
from tests.factories import make_eml, make_pdf
from tests.scans import encode, font, image_pdf, photographed, reply_slip

from postwarden.engine import Inspector
from postwarden.engine.extract import Extraction, extract
from postwarden.engine.extract.skew import skew_angle
from postwarden.engine.parse import parse_message
from postwarden.model import UNINSPECTABLE, Action
from postwarden.settings import Limits

HKID = "A123456(3)"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def card(text: str = f"HKID {HKID}", size: tuple[int, int] = (900, 200)) -> Image.Image:
    page = Image.new("L", size, 255)
    ImageDraw.Draw(page).text((40, 60), text, font=font(56), fill=0)
    return page


def run(*attachments: tuple[str, bytes, str], limits: Limits | None = None) -> Extraction:
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@example.com"],
        subject="scan",
        body="attached",
        attachments=attachments,
    )
    limits = limits or Limits()
    return extract(parse_message(raw, None, limits), limits, time.monotonic() + 120)


def ocr_units(ex: Extraction) -> dict[str, str]:
    return {u.where: u.text for u in ex.units if u.ocr_confidence is not None}


def uninspectable(ex: Extraction) -> dict[str, str]:
    return {f.where: f.detail for f in ex.findings if f.detector == UNINSPECTABLE}


@pytest.mark.parametrize(
    ("fmt", "ctype"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("TIFF", "image/tiff"),
        ("GIF", "image/gif"),
        ("BMP", "image/bmp"),
        ("WEBP", "image/webp"),
        ("HEIF", "image/heic"),
    ],
)
def test_ocr_reads_every_image_format(fmt: str, ctype: str) -> None:
    ex = run(("card.img", encode(card(), fmt), ctype))
    assert HKID in ocr_units(ex)["attachment:card.img#ocr"]
    assert uninspectable(ex) == {}


def test_ocr_reads_every_page_of_a_multipage_tiff() -> None:
    first, second = card("HKID A123456(3)"), card("Phone 9123 4567")
    buffer = encode(first, "TIFF", save_all=True, append_images=[second])
    units = ocr_units(run(("fax.tiff", buffer, "image/tiff")))
    assert HKID in units["attachment:fax.tiff#ocr page 1"]
    assert "9123 4567" in units["attachment:fax.tiff#ocr page 2"]


def test_ocr_turns_a_phone_photo_upright_by_its_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held sideways: turn 90 degrees clockwise to view
    stored = card().rotate(90, expand=True)
    photo = encode(stored, "JPEG", exif=exif.tobytes())
    assert HKID in ocr_units(run(("side.jpg", photo, "image/jpeg")))["attachment:side.jpg#ocr"]


def test_ocr_reads_transparent_screenshot_on_white() -> None:
    rgba = Image.new("RGBA", (900, 200), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).text((40, 60), f"HKID {HKID}", font=font(56), fill=(0, 0, 0, 255))
    assert (
        HKID
        in ocr_units(run(("shot.png", encode(rgba, "PNG"), "image/png")))["attachment:shot.png#ocr"]
    )


@pytest.mark.parametrize("angle", [-6.0, -2.5, 0.0, 3.5, 8.0])
def test_skew_angle_undoes_the_tilt(angle: float) -> None:
    page = reply_slip("CHAN Tai Man", "陳大文", HKID, "91234567", "tai@example.com")
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    assert skew_angle(tilted) == pytest.approx(-angle, abs=0.3)


def test_ocr_reads_a_tilted_noisy_phone_photo() -> None:
    page = reply_slip("CHAN Tai Man", "陳大文", HKID, "91234567", "tai@example.com")
    ex = run(("slip.jpg", photographed(page, angle=-4.0, seed=3), "image/jpeg"))
    text = ocr_units(ex)["attachment:slip.jpg#ocr"]
    for value in ("CHAN Tai Man", "陳大文", HKID, "9123 4567", "tai@example.com"):
        assert value in text


def test_ocr_reads_a_picture_pasted_into_a_docx() -> None:
    document = docx.Document()
    document.add_paragraph("See the screenshot.")
    document.add_picture(io.BytesIO(encode(card(), "PNG")))
    buffer = io.BytesIO()
    document.save(buffer)
    ex = run(("letter.docx", buffer.getvalue(), DOCX))
    units = ocr_units(ex)
    assert HKID in units["attachment:letter.docx/word/media/image1.png#ocr"]


def test_ocr_skips_tiny_images() -> None:
    icon = Image.new("RGB", (64, 64), (200, 30, 30))
    logo = card("ACME", size=(300, 100))
    ex = run(
        ("icon.png", encode(icon, "PNG"), "image/png"),
        ("logo.png", encode(logo, "PNG"), "image/png"),
    )
    assert ocr_units(ex) == {}
    assert uninspectable(ex) == {}
    assert [a.name for a in ex.attachments] == ["icon.png", "logo.png"]


def test_ocr_over_the_page_budget_is_uninspectable() -> None:
    images = [(f"card{n}.png", encode(card(), "PNG"), "image/png") for n in range(3)]
    ex = run(*images, limits=Limits(max_ocr_pages=2))
    assert sorted(ocr_units(ex)) == ["attachment:card0.png#ocr", "attachment:card1.png#ocr"]
    assert uninspectable(ex) == {
        "attachment:card2.png": "over the OCR budget of 2 pages per message"
    }


def test_ocr_over_the_time_budget_is_uninspectable() -> None:
    ex = run(("card.png", encode(card(), "PNG"), "image/png"), limits=Limits(max_ocr_seconds=0.001))
    assert uninspectable(ex) == {
        "attachment:card.png": "over the OCR budget of 0.001 s per message"
    }


def test_ocr_pages_of_a_scanned_pdf_over_budget_are_uninspectable() -> None:
    pdf = image_pdf([card(), card(), card()])
    ex = run(("scan.pdf", pdf, "application/pdf"), limits=Limits(max_ocr_pages=1))
    assert list(ocr_units(ex)) == ["attachment:scan.pdf#ocr page 1"]
    assert uninspectable(ex) == {
        "attachment:scan.pdf": "over the OCR budget of 1 pages per message (pages 2-3 not read)"
    }


def test_scanned_pdf_page_with_a_stamped_page_number_is_read_by_ocr() -> None:
    pdf = FPDF(unit="pt")
    pdf.add_page(format=(648, 144))
    pdf.image(io.BytesIO(encode(card(), "PNG")), x=0, y=0, w=648, h=144)
    pdf.set_font("helvetica", size=8)
    pdf.text(x=600, y=140, text="p. 1")
    ex = run(("scan.pdf", bytes(pdf.output()), "application/pdf"))
    assert HKID in ocr_units(ex)["attachment:scan.pdf#ocr page 1"]
    assert "p. 1" in next(u.text for u in ex.units if u.where == "attachment:scan.pdf#page 1")


def test_pdf_with_a_text_layer_is_not_read_by_ocr() -> None:
    ex = run(("letter.pdf", make_pdf([[f"HKID {HKID}"]]), "application/pdf"))
    assert ocr_units(ex) == {}
    assert HKID in next(u.text for u in ex.units if u.where == "attachment:letter.pdf#page 1")


def test_image_over_the_pixel_limit_is_uninspectable_before_decoding() -> None:
    # 20,000 x 20,000 pixels of one colour: 400 MP from a PNG of about 400 KiB.
    bomb = encode(Image.new("1", (20_000, 20_000), 1), "PNG")
    started = time.monotonic()
    ex = run(("bomb.png", bomb, "image/png"))
    assert time.monotonic() - started < 2
    assert uninspectable(ex)["attachment:bomb.png"].startswith("image over the limit of")
    ex = run(("big.png", encode(card(), "PNG"), "image/png"), limits=Limits(max_image_pixels=1000))
    assert uninspectable(ex) == {
        "attachment:big.png": "image of 900 x 200 pixels, over the limit of 1,000"
    }


def test_corrupt_image_is_uninspectable() -> None:
    truncated = encode(card(), "PNG")[:300]
    ex = run(
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png"),
        ("t.png", truncated, "image/png"),
    )
    found = uninspectable(ex)
    assert found["attachment:photo.png"] == "corrupt png image"
    assert found["attachment:t.png"].startswith("corrupt png image")


def test_images_over_the_ocr_budget_to_outside_are_held() -> None:
    raw = make_eml(
        sender="clerk@reo.gov.hk",
        to=["someone@example.com"],
        subject="photos",
        body="attached",
        attachments=[
            (f"p{n}.png", encode(card("Meeting notes"), "PNG"), "image/png") for n in range(3)
        ],
    )
    verdict = Inspector(org_domains=("reo.gov.hk",), limits=Limits(max_ocr_pages=2)).check(raw)
    assert verdict.action is Action.HOLD
    assert [r.rule for r in verdict.reasons] == ["uninspectable-external"]
