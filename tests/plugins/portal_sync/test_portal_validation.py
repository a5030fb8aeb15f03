"""Portal data is untrusted: each value is checked against the internal field it goes to."""

from __future__ import annotations

import datetime as dt

import pytest

from plugins.portal_sync.validation import check_filename, check_value
from suitecrm_ext import FieldInfo

NAME = FieldInfo("name", "name", "Name", required=True, length=150)
PHONE = FieldInfo("phone_office", "varchar", "Phone", length=100)
EMAIL = FieldInfo("email1", "varchar", "Email")
STATUS = FieldInfo("status", "enum", "Status", options=("Open_New", "Closed_Closed"))
TAGS = FieldInfo("tags", "multienum", "Tags", options=("a", "b"))
COUNT = FieldInfo("employees", "int", "Employees")
REVENUE = FieldInfo("amount", "currency", "Amount")
FLAG = FieldInfo("flag", "bool", "Flag")
DAY = FieldInfo("birthdate", "date", "Birthdate")
DESC = FieldInfo("description", "text", "Description")

GOOD = [
    ("name", "ООО Ромашка", NAME),
    ("phone_office", "+7 (495) 000-00-00", PHONE),
    ("email1", "ivan.petrov@romashka.example", EMAIL),
    ("status", "Closed_Closed", STATUS),
    ("tags", "^a^,^b^", TAGS),
    ("employees", "42", COUNT),
    ("amount", "1200.50", REVENUE),
    ("flag", True, FLAG),
    ("birthdate", "1980-05-17", DAY),
    ("birthdate", dt.date(1980, 5, 17), DAY),
    ("description", "строка\nвторая\tтаб", DESC),
    ("phone_office", "", PHONE),
    ("description", None, DESC),
]
BAD = [
    ("name", "", NAME, "required"),
    ("name", "x" * 151, NAME, "at most 150"),
    ("phone_office", "1\x00 OR 1=1", PHONE, "control characters"),
    ("email1", "not an address", EMAIL, "not an e-mail address"),
    ("email1", "a@b", EMAIL, "not an e-mail address"),
    ("status", "Closed_Rejected", STATUS, "not one of"),
    ("tags", "^a^,^zz^", TAGS, "not among the options"),
    ("employees", "42; DROP TABLE", COUNT, "not a whole number"),
    ("amount", "1e9", REVENUE, "not a number"),
    ("flag", "maybe", FLAG, "yes/no"),
    ("birthdate", "17.05.1980", DAY, "not a date"),
    ("description", "x" * 70000, DESC, "at most 65535"),
    ("description", ["list"], DESC, "not a field value"),
    ("no_such", "x", None, "no such field"),
]


@pytest.mark.parametrize("name,value,info", GOOD, ids=[f"{g[0]}={str(g[1])[:20]}" for g in GOOD])
def test_values_that_fit_pass(name, value, info):
    assert check_value(name, value, info) is None


@pytest.mark.parametrize("name,value,info,why", BAD, ids=[b[3] for b in BAD])
def test_values_that_do_not_fit_are_refused_naming_the_field(name, value, info, why):
    problem = check_value(name, value, info)
    assert problem is not None and problem.field == name and why in problem.message
    assert name in str(problem)


@pytest.mark.parametrize(
    "filename,size,ok",
    [
        ("scan.pdf", 10, True),
        ("договор №1.docx", 10, True),
        ("../../etc/passwd", 1, False),
        ("a\\b.txt", 1, False),
        ("", 1, False),
        ("..", 1, False),
        ("big.bin", 11, False),
        ("x\x00.pdf", 1, False),
    ],
)
def test_attachment_names_and_sizes(filename, size, ok):
    assert (check_filename(filename, size, max_bytes=10) is None) is ok
