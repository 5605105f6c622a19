"""The engine's compiled helpers (``_hsscan``, built from ``_hsscan.c`` at install against the
system libhs): hyperscan scans that collect their matches in C, and the hot loops of detection
and register matching.

A package of its own, importing nothing, so that detect and registers (stages kept
independent of each other, pyproject's import contracts) both use it without importing each
other or the engine that composes them.  Without the extension every caller falls back to its
Python version, with the same results.
"""
