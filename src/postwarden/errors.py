"""The one base of Postwarden's errors: each carries its CLI exit code and HTTP status.

A failure is raised where it is known, as a class that says what went wrong; the command
line (``postwarden.cli.main``) and the console (one FastAPI exception handler) each map the
class to an exit code or status once, instead of every command and route translating it.

Exit codes: 2 when the input given was wrong (a usage error), 1 when a well-formed request
could not be carried out.  Every :class:`Invalid` exits 2 and nothing else does.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Conflict", "Invalid", "NotFound", "PostwardenError", "Refused", "Unavailable"]


class PostwardenError(Exception):
    """A failure Postwarden knows how to report: one line, an exit code, an HTTP status."""

    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500


class Invalid(PostwardenError):
    """The input (a file, an option, a form field) is wrong: a usage error."""

    exit_code = 2
    http_status = 400


class NotFound(PostwardenError):
    """What the request names does not exist."""

    http_status = 404


class Refused(PostwardenError):
    """The request is understood but not allowed."""

    http_status = 403


class Conflict(PostwardenError):
    """The request clashes with the current state (already decided, already exists)."""

    http_status = 409


class Unavailable(PostwardenError):
    """Something the request needs (a font, a tool, the next hop) is not there now."""

    http_status = 503
