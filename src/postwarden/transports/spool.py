"""One message as a front end collects it: in memory while small, in a temp file past that."""

from __future__ import annotations

import tempfile

from postwarden.errors import PostwardenError

__all__ = ["MessageSpool", "MessageTooLarge"]


class MessageTooLarge(PostwardenError):
    """The message grew past the collection cap."""

    http_status = 413


class MessageSpool:
    """Header fields and body chunks of one message, rebuilt as RFC 5322 bytes with CRLF."""

    def __init__(self, max_bytes: int, memory_bytes: int = 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        # SpooledTemporaryFile keeps small messages in memory and moves large ones to an
        # unlinked, mode-0600 temp file, so concurrent large messages do not pile up in RAM.
        self._file = tempfile.SpooledTemporaryFile(max_size=memory_bytes)

    def _write(self, data: bytes) -> None:
        if self.size + len(data) > self.max_bytes:
            raise MessageTooLarge(f"message larger than {self.max_bytes} bytes")
        self._file.write(data)
        self.size += len(data)

    def add_header(self, name: str, value: bytes, *, leading_space: bool) -> None:
        """One header field; ``value`` as the MTA passed it, continuation lines joined by LF
        (Postfix) or CRLF; ``leading_space`` says whether it kept the blank after the colon."""
        value = value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        sep = b":" if leading_space else b": "
        self._write(name.encode("ascii", "surrogateescape") + sep + value + b"\r\n")

    def end_headers(self) -> None:
        self._write(b"\r\n")

    def add_body(self, chunk: bytes) -> None:
        self._write(chunk)

    def getvalue(self) -> bytes:
        self._file.seek(0)
        data = self._file.read()
        self._file.seek(0, 2)
        return data

    def close(self) -> None:
        self._file.close()
