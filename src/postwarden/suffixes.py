"""The Public Suffix List, one copy per process, shared by the detectors (is an address's
domain real?) and the recipients' analysis (which organisation is it?).

It is the snapshot bundled with tldextract: no ``suffix_list_urls`` means it never fetches,
and no ``cache_dir`` means it never writes (a gateway must not reach the internet). Each
``TLDExtract`` parses that snapshot again on first use (~20-40 ms), so there is one, built the
first time a domain is split; tldextract itself (it brings ``requests``) is imported then too.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tldextract import TLDExtract

__all__ = ["public_suffixes"]


@functools.cache
def public_suffixes() -> TLDExtract:
    """The process's one splitter of host names into subdomain, domain and suffix."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
