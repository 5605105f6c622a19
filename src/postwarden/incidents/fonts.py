"""The CJK font embedded in letters and reports: found on the system, cut to what a run needs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

from postwarden.errors import Unavailable
from postwarden.i18n import _
from postwarden.settings import FONT_ENV, cjk_font

# Debian's fonts-noto-cjk ships only collections (.ttc); fpdf2 reads a face of one by index.
# Hong Kong forms first: the letters go to Hong Kong residents.
_SEARCH_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
_FAMILIES = ("Noto Sans CJK HK", "Noto Sans CJK TC", "Noto Serif CJK HK", "Noto Serif CJK TC")
_FILES = ("NotoSansCJK-Regular.ttc", "NotoSerifCJK-Regular.ttc")


class FontError(Unavailable):
    """No usable font with Traditional Chinese glyphs."""


@dataclass(frozen=True, slots=True)
class FontFace:
    """One face of a font file: the path and, for a collection, the face index."""

    path: Path
    index: int = 0


def find_cjk_font() -> FontFace:
    """The Traditional Chinese face to embed: ``$POSTWARDEN_CJK_FONT``, else Noto CJK."""
    override = cjk_font()
    if override:
        file, sep, index = override.rpartition(":")
        if sep and index.isdigit():
            return FontFace(Path(file), int(index))
        return FontFace(Path(override))
    for root in _SEARCH_DIRS:
        for name in _FILES:
            for path in sorted(root.rglob(name)):
                face = _face_of(path)
                if face is not None:
                    return face
    raise FontError(
        _(
            "no Traditional Chinese font found: install Debian's fonts-noto-cjk or set "
            "{env}=PATH[:INDEX]"
        ).format(env=FONT_ENV)
    )


def _face_of(path: Path) -> FontFace | None:
    with TTCollection(str(path), lazy=True) as collection:
        families = [str(font["name"].getDebugName(1)) for font in collection.fonts]
    for wanted in _FAMILIES:
        if wanted in families:
            return FontFace(path, families.index(wanted))
    return None


def subset_font(face: FontFace, text: Iterable[str], out: Path) -> Path:
    """Write to ``out`` a TrueType font holding only the glyphs of ``text`` (plus ASCII).

    A full CJK face takes fpdf2 about 0.3 s to load and again to subset, per document; cut once
    to the characters a run of letters uses, and with quadratic (glyf) outlines whose stored
    bounding boxes fpdf2 need not recompute, a letter costs about 20 ms instead of 650.
    """
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for piece in text:
        chars.update(piece)
    with TTFont(str(face.path), fontNumber=face.index) as font:
        _cut(font, chars, out)
    return out


def _cut(font: TTFont, chars: set[str], out: Path) -> None:
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.desubroutinize = True
    options.name_IDs = ["*"]
    options.notdef_outline = True
    # Only what a horizontal PDF text font needs; layout and vertical tables would be carried,
    # and compiled again, into every letter.
    options.drop_tables += ["BASE", "GDEF", "GPOS", "GSUB", "VORG", "vhea", "vmtx", "DSIG"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    subsetter.subset(font)
    if "CFF " in font:
        _to_truetype(font)
    font.save(str(out))


def _to_truetype(font: TTFont) -> None:
    """Replace cubic CFF outlines by quadratic glyf ones (fontTools' cu2qu, 1 unit tolerance).

    Hand-written because fontTools ships the pens but no function for the whole conversion.
    """
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        # CFF contours run counter-clockwise, TrueType ones clockwise.
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]  # vertical origins exist only for CFF outlines
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    for attr in (
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ):
        setattr(maxp, attr, 0)
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font.sfntVersion = "\x00\x01\x00\x00"
