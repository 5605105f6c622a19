"""Postwarden: outbound-email personal-data leak prevention gateway."""

__version__ = "0.1.0"
