"""The register field table is whole: every hashed field, column field and detector that
registers read is one entry of it, and what is derived from it is what it was written as."""

from __future__ import annotations

from postwarden.engine.detect import registry
from postwarden.engine.registers import FIELD_SPECS, FIELDS, Field
from postwarden.engine.registers.fields import (
    DETECTOR_FIELDS,
    FACTS,
    NORMALISERS,
    PERSONAL_FIELDS,
    UNIQUE_FIELDS,
)
from postwarden.engine.registers.table import heading_field, map_columns
from postwarden.incidents.facts import FIELD_LABELS


def test_every_hash_domain_is_one_entry_with_its_normaliser() -> None:
    hashed = [spec.hashed for spec in FIELD_SPECS if spec.hashed is not None]
    assert sorted(hashed) == list(Field)
    assert set(NORMALISERS) == set(Field)
    for spec in FIELD_SPECS:
        assert (spec.hashed is None) == (spec.normalise is None), spec.name
        assert spec.hashed is None or spec.hashed.label == spec.name
        assert spec.either is None or spec.hashed is None
        assert bool(spec.fact) == (spec.hashed is not None), spec.name


def test_either_script_columns_name_their_fields() -> None:
    for spec in FIELD_SPECS:
        if spec.either is not None:
            zh, en = spec.either
            assert (zh.label, en.label) == (f"{spec.name}_zh", f"{spec.name}_en")


def test_the_derived_tables() -> None:
    assert FIELDS == (
        "id",
        "name",
        "name_en",
        "name_zh",
        "hkid",
        "address",
        "address_en",
        "address_zh",
        "phone",
        "email",
        "dob",
        "status",
    )
    assert set(FIELDS) - PERSONAL_FIELDS == {"id", "status"}
    assert UNIQUE_FIELDS == {Field.HKID, Field.PHONE, Field.EMAIL}
    assert FACTS == {
        Field.HKID: 0,
        Field.PHONE: 1,
        Field.EMAIL: 2,
        Field.NAME_EN: 3,
        Field.NAME_ZH: 3,
        Field.ADDRESS_EN: 4,
        Field.ADDRESS_ZH: 4,
        Field.DOB: 5,
    }
    assert DETECTOR_FIELDS == {f.label: f for f in Field}


def test_detector_fields_are_registered_detectors() -> None:
    assert set(DETECTOR_FIELDS) <= set(registry.ids)


def test_every_field_but_the_id_has_wording_for_people() -> None:
    assert set(FIELD_LABELS) == set(FIELDS) - {"id"}
    assert FIELD_LABELS["name_zh"] == ("name", "姓名")


def test_headings_map_to_their_field() -> None:
    for spec in FIELD_SPECS:
        for heading in spec.headings:
            assert heading_field(heading) == spec.name, heading
    assert heading_field("E-mail") == "email"
    assert heading_field("電話號碼") == "phone"
    assert map_columns(["Ref", "姓名", "Tel."], {}).columns == {0: "id", 1: "name", 2: "phone"}
