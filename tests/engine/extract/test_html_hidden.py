"""What an HTML body or file carries without a mail client showing it (comments, script,
style, CDATA, processing instructions, attribute values, ``data:`` URIs) leaves with the
message all the same: it reaches the detectors, through the real engine, at
``#hidden``, ``#attributes`` or ``/data URI N`` (the file a ``data:`` URI holds)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from PIL import Image, ImageDraw
from tests.factories import make_eml
from tests.scans import encode, font

from postwarden.engine import Inspector
from postwarden.model import UNINSPECTABLE

NAME, HKID, PHONE = "CHAN Tai Man", "A123456(3)", "9123 4567"
PII = f"{NAME} {HKID} {PHONE}"
"""A register's row: who, their identity card and their phone."""
ROW = {"name_en": NAME, "hkid": HKID, "phone": PHONE}


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector()


def found(inspector: Inspector, html: str) -> dict[str, dict[str, str]]:
    """Each place's findings (detector: value) for a message with ``html`` as its body."""
    raw = make_eml(
        sender="clerk@org.example",
        to=["ann@partner.example"],
        subject="notes",
        body="Please see the notes.",
        html=html,
    )
    places: dict[str, dict[str, str]] = {}
    for finding in inspector.inspect(raw).verdict.findings:
        assert finding.detector != UNINSPECTABLE, finding
        places.setdefault(finding.where, {})[finding.detector] = finding.value
    return places


def page(head: str = "", body: str = "") -> str:
    return f"<html><head>{head}</head><body><p>Dear Ann,</p>{body}<p>Regards</p></body></html>"


@pytest.mark.parametrize(
    "html",
    [
        page(body=f"<!-- {PII} -->"),
        page(head=f"<script>var row = '{PII}';</script>"),
        page(head=f'<style>p::after {{ content: "{PII}" }}</style>'),
        page(body=f"<![CDATA[{PII}]]>"),
        page(body=f"<?note {PII}?>"),
        page(body=f"<noscript>{PII}</noscript>"),
        page(body=f"<template><p>{PII}</p></template>"),
        page(body=f"<!--[if mso]>{PII}<![endif]-->"),
        # An unclosed script: the stdlib's parser keeps the rest unread, waiting for its end.
        f"<html><body><p>Dear Ann,</p><script>var row = '{PII}';",
    ],
    ids=["comment", "script", "style", "cdata", "pi", "noscript", "template", "mso", "open"],
)
def test_hidden_text_is_inspected(inspector: Inspector, html: str) -> None:
    places = found(inspector, html)
    assert places["body#hidden"] == ROW
    assert "body" not in places  # the running text stays what a reader sees


@pytest.mark.parametrize(
    "element",
    [
        f'<input type="hidden" name="row" value="{PII}">',
        f'<span title="{PII}">Ann</span>',
        f'<img alt="{PII}" src="cid:image001.png@01DA0000.00000000">',
        f'<input placeholder="{PII}">',
        f'<div data-row="{PII}">Ann</div>',
        f'<a aria-label="{PII}" href="#">Ann</a>',
        f'<input value="{PII}"/>',
    ],
    ids=["hidden input", "title", "alt", "placeholder", "data-*", "aria-label", "self-closed"],
)
def test_attribute_values_are_inspected(inspector: Inspector, element: str) -> None:
    places = found(inspector, page(body=element))
    assert places["body#attributes"] == ROW


def test_meta_content_is_inspected(inspector: Inspector) -> None:
    places = found(inspector, page(head=f'<meta name="author" content="{PII}">'))
    assert places["body#attributes"] == ROW


def test_mailto_and_tel_links_and_query_strings_are_inspected(inspector: Inspector) -> None:
    query = quote(f"HKID {HKID}")
    html = page(
        body=(
            f'<a href="mailto:chan.taiman@gmail.com?subject={query}">Ann</a>'
            '<a href="tel:+85291234567">call</a>'
        )
    )
    places = found(inspector, html)
    assert places["body#attributes"] == {
        "email": "chan.taiman@gmail.com",
        "hkid": HKID,
        "phone": "+85291234567",
    }


def test_a_register_row_in_a_hidden_table_cell_attribute_is_inspected(
    inspector: Inspector,
) -> None:
    rows = "".join(
        f'<tr><td data-hkid="{hkid}">{name}</td></tr>'
        for name, hkid in [(NAME, HKID), ("LEE Siu Ming", "B234567(A)")]
    )
    places = found(inspector, page(body=f"<table>{rows}</table>"))
    assert places["body#attributes"]["hkid"] in {HKID, "B234567(A)"}


@pytest.mark.parametrize(
    "uri",
    [
        "data:text/plain;charset=utf-8," + quote(PII),
        "data:text/plain;base64," + base64.b64encode(PII.encode()).decode(),
        # Wrapped as mail wraps base64, without its padding.
        "data:;base64,\n" + base64.b64encode(f"{PII}.".encode()).decode().rstrip("="),
    ],
    ids=["percent", "base64", "wrapped"],
)
def test_data_uri_text_is_inspected(inspector: Inspector, uri: str) -> None:
    places = found(inspector, page(body=f'<a href="{uri}">notes</a>'))
    assert places["body/data URI 1"] == ROW


def test_data_uri_in_a_style_sheet_is_inspected(inspector: Inspector) -> None:
    uri = "data:text/plain;base64," + base64.b64encode(PII.encode()).decode()
    places = found(inspector, page(head=f"<style>p {{ background: url({uri}) }}</style>"))
    assert places["body/data URI 1"] == ROW


def test_broken_data_uri_is_inspected_as_text(inspector: Inspector) -> None:
    # Not base64 (a space in it is white space, "(" is not): the value is kept as text.
    places = found(inspector, page(body=f'<img src="data:image/png;base64,{PII}">'))
    assert places["body#attributes"] == ROW


def test_data_uri_picture_is_read_by_ocr(inspector: Inspector) -> None:
    card = Image.new("L", (900, 200), 255)
    ImageDraw.Draw(card).text((40, 60), f"HKID {HKID}", font=font(56), fill=0)
    png = base64.b64encode(encode(card, "PNG")).decode()
    places = found(inspector, page(body=f'<img src="data:image/png;base64,{png}">'))
    assert places["body/data URI 1#ocr"]["hkid"] == HKID
