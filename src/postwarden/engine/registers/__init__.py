"""Registers: exact data match of message content against imported registers of people.

Values are normalised per field type and stored only as keyed 64-bit hashes in a
memory-mapped index; see docs/registers.md.
"""

from __future__ import annotations

from postwarden.engine.registers.build import ImportResult, import_register
from postwarden.engine.registers.fields import FIELD_SPECS, FIELDS, FieldSpec
from postwarden.engine.registers.index import (
    RegisterError,
    RegisterIndex,
    RegisterInfo,
    check_name,
    drop,
    list_registers,
    register_info,
)
from postwarden.engine.registers.match import RegisterMatch
from postwarden.engine.registers.normalise import Field
from postwarden.engine.registers.registerset import RegisterSet
from postwarden.engine.registers.table import Reading, RegisterFileError

__all__ = [
    "FIELDS",
    "FIELD_SPECS",
    "Field",
    "FieldSpec",
    "ImportResult",
    "Reading",
    "RegisterError",
    "RegisterFileError",
    "RegisterIndex",
    "RegisterInfo",
    "RegisterMatch",
    "RegisterSet",
    "check_name",
    "drop",
    "import_register",
    "list_registers",
    "register_info",
]
