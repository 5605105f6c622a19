"""Postwarden: outbound-email personal-data leak prevention gateway."""

__version__ = "0.2.0"
