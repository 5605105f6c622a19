"""What a long-running Postwarden process does to itself before it holds any mail.

A listener's memory holds the register key, messages being inspected and, in the register
matcher's bounded memos, the normal forms of recent mail's short lines (names, numbers).  A
crash must not write that to a core file in clear, wherever the system's ``core_pattern``
puts it: the process forbids itself core dumps.  The systemd units say the same
(``LimitCORE=0``) for the start before Python runs; this covers every other way of starting.
"""

from __future__ import annotations

import resource


def forbid_core_dumps() -> None:
    """Lower the core-file size limit to zero, soft and hard (a lower hard limit cannot be
    raised again without privilege, so nothing later in the process re-enables dumps)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
