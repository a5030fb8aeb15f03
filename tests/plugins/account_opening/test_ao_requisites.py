"""Requisites on save (each problem names its field) and what an application still needs; FIAS addresses."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.account_opening.requisites import (
    account_gaps,
    account_problems,
    address_problems,
    compose_address,
    contact_gaps,
    contact_problems,
    first_problem,
    licence_in_force,
    licence_problems,
)

OOO = {
    "ao_legal_form_c": "ooo",
    "ao_full_name_c": 'ООО "Ромашка"',
    "ao_short_name_c": "Ромашка",
    "ao_inn_c": "7707083893",
    "ao_kpp_c": "773601001",
    "ao_ogrn_c": "1027700132195",
}
IP = {
    "ao_legal_form_c": "ip",
    "ao_full_name_c": "ИП Иванов Иван Иванович",
    "ao_short_name_c": "ИП Иванов",
    "ao_inn_c": "500100732259",
    "ao_ogrn_c": "304770000000020",
}


def fields(problems):
    return [p.field for p in problems]


@pytest.mark.parametrize(
    "values,field,needle",
    [
        (OOO, None, None),
        (IP, None, None),
        ({}, None, None),  # nothing filled in yet
        ({**OOO, "ao_inn_c": "7707083894"}, "ao_inn_c", "check digit is 3, not 4"),
        ({**OOO, "ao_inn_c": "500100732259"}, "ao_inn_c", "organisation has 10 digits, not 12"),
        ({**OOO, "ao_kpp_c": "77360100"}, "ao_kpp_c", "9 characters"),
        (
            {**OOO, "ao_ogrn_c": "304770000000020"},
            "ao_ogrn_c",
            "has an OGRN of 13 digits, not an OGRNIP of 15",
        ),
        ({**OOO, "ao_ogrn_c": "1027700132196"}, "ao_ogrn_c", "check digit is 5, not 6"),
        ({**IP, "ao_inn_c": "7707083893"}, "ao_inn_c", "sole proprietor or person has 12 digits, not 10"),
        ({**IP, "ao_kpp_c": "773601001"}, "ao_kpp_c", "has no KPP"),
        ({**IP, "ao_ogrn_c": "1027700132195"}, "ao_ogrn_c", "has an OGRNIP of 15 digits, not an OGRN of 13"),
        ({**IP, "ao_ogrn_c": "304770000000021"}, "ao_ogrn_c", "check digit is 0, not 1"),
        ({"ao_inn_c": "500100732259", "ao_kpp_c": "773601001"}, "ao_kpp_c", "has no KPP"),  # no legal form:
        (
            {"ao_inn_c": "7707083893", "ao_ogrn_c": "304770000000020"},
            "ao_inn_c",
            "12 digits, not 10",
        ),  # inferred
        ({**OOO, "ao_legal_form_c": "llc"}, "ao_legal_form_c", "unknown legal form 'llc'"),
        (
            {**OOO, "ao_bank_bik_c": "044525225", "ao_bank_account_c": "40702810000010000001"},
            "ao_bank_account_c",
            "does not match BIK 044525225",
        ),
        ({**OOO, "ao_bank_account_c": "40702810000010000001"}, "ao_bank_bik_c", "BIK is needed"),
        ({**OOO, "ao_bank_bik_c": "14452522"}, "ao_bank_bik_c", "9 digits"),
        ({**OOO, "ao_short_name_c": "x" * 151}, "ao_short_name_c", "at most 150"),
    ],
)
def test_account_problems(values, field, needle):
    problems = account_problems(values)
    if field is None:
        assert problems == []
    else:
        assert problems[0].field == field and needle in problems[0].reason, problems
        assert str(problems[0]).endswith(f"(field {field})")


def test_a_valid_bank_account_of_the_client_passes():
    from plugins.account_opening.identifiers import account_key

    body = "40702810000010000001"
    number = body[:8] + account_key("044525225", body) + body[9:]
    assert account_problems({**OOO, "ao_bank_bik_c": "044525225", "ao_bank_account_c": number}) == []


@pytest.mark.parametrize(
    "values,missing",
    [
        (OOO, []),
        (IP, []),
        ({}, ["ao_legal_form_c", "ao_full_name_c", "ao_short_name_c", "ao_inn_c", "ao_ogrn_c"]),
        ({**OOO, "ao_kpp_c": ""}, ["ao_kpp_c"]),
        ({**IP, "ao_ogrn_c": ""}, ["ao_ogrn_c"]),
        ({**OOO, "ao_full_name_c": "  "}, ["ao_full_name_c"]),
    ],
)
def test_account_gaps(values, missing):
    assert fields(account_gaps(values)) == missing


def test_gap_messages_name_what_is_missing():
    (gap,) = account_gaps({**IP, "ao_ogrn_c": ""})
    assert str(gap) == "the OGRNIP is not filled in (field ao_ogrn_c)"


TODAY = dt.date(2026, 3, 10)
PERSON = {
    "ao_inn_c": "500100732259",
    "ao_passport_series_c": "4510",
    "ao_passport_number_c": "123456",
    "ao_passport_issued_by_c": "ОВД Тверского района",
    "ao_passport_issued_on_c": "2015-06-01",
    "ao_passport_division_c": "770-001",
}


@pytest.mark.parametrize(
    "change,field,needle",
    [
        ({}, None, None),
        ({"ao_inn_c": "7707083893"}, "ao_inn_c", "12 digits, not 10"),
        ({"ao_passport_series_c": "45 1"}, "ao_passport_series_c", "4 digits"),
        ({"ao_passport_number_c": "12345"}, "ao_passport_number_c", "6 digits"),
        ({"ao_passport_division_c": "77-001"}, "ao_passport_division_c", "as 770-001"),
        ({"ao_passport_issued_on_c": "2027-01-01"}, "ao_passport_issued_on_c", "in the future"),
        ({"ao_passport_issued_on_c": "01.06.2015"}, "ao_passport_issued_on_c", "not a date"),
    ],
)
def test_contact_problems(change, field, needle):
    problems = contact_problems({**PERSON, **change}, TODAY)
    assert (
        (problems == []) if field is None else (problems[0].field == field and needle in problems[0].reason)
    )


def test_contact_gaps():
    assert contact_gaps(PERSON) == []
    assert fields(contact_gaps({"ao_passport_series_c": "4510"})) == [
        "ao_passport_number_c",
        "ao_passport_issued_by_c",
        "ao_passport_issued_on_c",
    ]


@pytest.mark.parametrize(
    "values,field,needle",
    [
        ({"number": "Л041-01137-77/00286791", "issued_on": "2020-01-01"}, None, None),
        ({"number": " "}, "number", "needs its number"),
        ({"number": "1", "issued_on": "2027-01-01"}, "issued_on", "in the future"),
        (
            {"number": "1", "issued_on": "2020-01-01", "valid_until": "2019-12-31"},
            "valid_until",
            "before the issue",
        ),
    ],
)
def test_licence_problems(values, field, needle):
    problems = licence_problems(values, TODAY)
    assert (
        (problems == []) if field is None else (problems[0].field == field and needle in problems[0].reason)
    )


def test_licence_in_force():
    lic = {"issued_on": "2020-01-01", "valid_until": "2025-12-31"}
    assert licence_in_force(lic, dt.date(2024, 1, 1)) and not licence_in_force(lic, TODAY)
    assert licence_in_force({"issued_on": "2020-01-01"}, TODAY)  # no limit


ADDRESS = {
    "postal_code": "125009",
    "region": "г. Москва",
    "street": "ул. Тверская",
    "house": "7",
    "building": "2",
    "flat": "15",
    "fias_id": "0c5b2444-70a0-4932-980c-b4dc0d3f02b5",
}


@pytest.mark.parametrize(
    "change,field,needle",
    [
        ({}, None, None),
        ({"postal_code": "12500"}, "postal_code", "6 digits"),
        ({"fias_id": "not-a-guid"}, "fias_id", "is not a FIAS id"),
        ({"fias_house_id": "0c5b2444-70a0-4932-980c-b4dc0d3f02b"}, "fias_house_id", "is not a FIAS id"),
        ({"region": "", "city": ""}, "region", "at least the region or the city"),
        ({"house": ""}, "house", "a flat needs the house number"),
    ],
)
def test_address_problems(change, field, needle):
    problems = address_problems({**ADDRESS, **change})
    assert (
        (problems == []) if field is None else (problems[0].field == field and needle in problems[0].reason)
    )


@pytest.mark.parametrize(
    "values,text",
    [
        (ADDRESS, "125009, г. Москва, ул. Тверская, д. 7, корп. 2, кв. 15"),
        (
            {
                "region": "Московская обл.",
                "district": "Одинцовский р-н",
                "settlement": "д. Барвиха",
                "house": "д. 12",
            },
            "Московская обл., Одинцовский р-н, д. Барвиха, д. 12",
        ),
        (
            {
                "postal_code": "190000",
                "city": "  г.  Санкт-Петербург ",
                "street": "Невский пр-кт",
                "house": "1",
            },
            "190000, г. Санкт-Петербург, Невский пр-кт, д. 1",
        ),
        ({}, ""),
    ],
)
def test_full_address_is_composed_from_the_parts_in_fias_order(values, text):
    assert compose_address(values) == text


def test_first_problem_is_the_refusal_message():
    msg = first_problem(account_problems({**OOO, "ao_inn_c": "7707083894", "ao_kpp_c": "1"}), "account X")
    assert msg.startswith(
        "Cannot save the account X: INN 7707083894: the check digit is 3, not 4 (field ao_inn_c)"
    )
    assert msg.endswith("(and 1 more).")
    assert first_problem([], "account") is None
