"""`_hsscan`'s xlsx readers (sheet_rows, shared_strings, sheet_texts) on hostile bytes: no
read past the end of the buffer given, and time linear in the part's size (a gateway must
answer in bounded time on whatever a sender attaches)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from postwarden.engine.compiled import _hsscan

# Each prefix of each part is copied to the very end of a page followed by one that may not
# be read (mprotect PROT_NONE), then handed to the three readers as a memoryview: a read
# past its end kills the child with SIGSEGV.  In a child, so that a crash fails this test
# only.  Python's bytes always hold a NUL past their end, which hid such a read.
_GUARDED = r"""
import ctypes, mmap, sys
from postwarden.engine.compiled import _hsscan

PAGE = mmap.PAGESIZE
m = mmap.mmap(-1, 2 * PAGE)
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
assert libc.mprotect(base + PAGE, PAGE, 0) == 0, ctypes.get_errno()
view = memoryview(m)
for part in sys.stdin.buffer.read().split(b"\0SPLIT\0"):
    for i in range(len(part) + 1):
        for piece in (part[:i], part[i:]):
            start = PAGE - len(piece)
            view[start:PAGE] = piece
            tail = view[start:PAGE]
            _hsscan.shared_strings(tail)
            _hsscan.sheet_texts(tail)
            _hsscan.sheet_rows(tail, ["a", "b"], b"\x01")
            _hsscan.sheet_rows(tail, None, b"")
            tail.release()
print("ok")
"""

_PARTS = [
    b"<?xml",
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<si><r><rPr/><t xml:space="preserve"> a&#x41;&#20013;&amp;</t></r><r><t>b</t></r>'
    b"<rPh><t>x</t></rPh></si><si/><si><t/></si></sst>",
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet><dimension ref="A1:F1"/><sheetData>'
    b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>q</t></is></c>'
    b'<c r="C1" t="b"><v>1</v></c><c r="D1" t="e"><v>#N/A</v></c><c r="E1" s="0"><v>1.5e3</v>'
    b'</c><c r="F1" t="str"><f>"a"&amp;A1</f><v>&lt;x</v></c></row></sheetData><mergeCells>'
    b'<mergeCell ref="A1:B1"/></mergeCells><headerFooter><oddHeader>&amp;Ca</oddHeader>'
    b"<x:evenFooter>b</x:evenFooter><firstHeader/></headerFooter><x14:dataValidation "
    b'prompt="p" error=\'e\'><x14:formula1><xm:f>"a,b"</xm:f></x14:formula1>'
    b"</x14:dataValidation></worksheet>",
]


def test_no_read_past_the_end_at_any_truncation() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, "-c", _GUARDED],
        input=b"\0SPLIT\0".join(_PARTS),
        capture_output=True,
        env=env,
        cwd=Path(__file__).parent,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert done.stdout.strip() == b"ok"


def _cpu(call: object, *args: object) -> float:
    assert callable(call)
    start = time.process_time()
    call(*args)
    return time.process_time() - start


def test_sheet_texts_is_linear_on_prefix_colons() -> None:
    # every 'f' after ':' is a name's start; reading each name to its end read the rest of
    # ":f:f:f..." from each: 200 KB took 6 s, 10 MB would take hours
    xml = b"<worksheet>" + b":f" * 100_000 + b"</worksheet>"
    assert _hsscan.sheet_texts(xml) == []
    assert _cpu(_hsscan.sheet_texts, xml) < 0.5


def test_shared_strings_is_linear_in_runs() -> None:
    # a string of n runs was built by n concatenations, each copying the string so far
    runs = 300_000
    xml = b"<sst><si>" + b"<r><t>ab</t></r>" * runs + b"</si></sst>"
    assert _hsscan.shared_strings(xml) == ["ab" * runs]
    assert _cpu(_hsscan.shared_strings, xml) < 0.5


def test_a_run_holding_no_tag_is_left_to_the_parser() -> None:
    # xs_run compared the name of a text, bad or end-of-input token (never set: stack
    # garbage, a crash where it pointed nowhere) with "rPr" and "t"
    for inner in [b"text", b"<", b"<!-- c -->", b"<?pi?>", b"&bad;", b""]:
        for tail in [b"</r></si></sst>", b""]:
            assert _hsscan.shared_strings(b"<sst><si><r>" + inner + tail) is None
