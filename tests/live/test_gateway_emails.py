"""E-mail addresses read the same over MySQL as over REST v4_1 and V8, on a real SuiteCRM 7.14.6.

SuiteCRM keeps them in email_addresses + email_addr_bean_rel; ``email1``/``email2``/``invalid_email``/
``email_opt_out`` are non-db bean fields. The records are written through REST (so SuiteCRM's own
SugarEmailAddress code files the addresses) and removed afterwards.
"""

from __future__ import annotations

import pytest

from suitecrm_ext.crm.base import Cond, ValidationError

FIELDS = ["last_name", "email1", "email2", "invalid_email", "email_opt_out"]


@pytest.fixture(scope="module")
def contacts(live_lab, run_tag):
    rest = live_lab.transport("rest")
    rows = [
        {"last_name": f"{run_tag}e both", "email1": f"{run_tag}.one@example.com",
         "email2": f"{run_tag}.two@example.org"},
        {"last_name": f"{run_tag}e opted out", "email1": f"{run_tag}.out@example.com", "email_opt_out": True},
        {"last_name": f"{run_tag}e invalid", "email1": f"{run_tag}.bad@example.com", "invalid_email": True},
        {"last_name": f"{run_tag}e none"},
    ]
    ids = rest.save_many("Contacts", rows)
    try:
        yield ids
    finally:
        for rid in ids:
            rest.delete("Contacts", rid)
        rest.close()


@pytest.mark.parametrize("flavour", ["rest", "v8", "mysql"])
def test_email_fields_read_alike_on_every_transport(live_lab, contacts, run_tag, flavour):
    rest, other = live_lab.transport("rest"), live_lab.transport(flavour)
    try:
        mine = Cond("last_name", "like", f"{run_tag}e %")
        want = {r.id: r.values for r in rest.find("Contacts", mine, FIELDS)}
        got = {r.id: r.values for r in other.find("Contacts", mine, FIELDS)}
        assert got == want and set(want) == set(contacts)
        both = other.get("Contacts", contacts[0], ["email1", "email2"])
        assert both.values == {"email1": f"{run_tag}.one@example.com", "email2": f"{run_tag}.two@example.org"}
        assert other.get("Contacts", contacts[1], ["email_opt_out"])["email_opt_out"] is True
        assert other.get("Contacts", contacts[2], ["invalid_email"])["invalid_email"] is True
        assert other.get("Contacts", contacts[3], ["email1"])["email1"] == ""
    finally:
        rest.close()
        other.close()


def test_mysql_reads_users_and_accounts_email1_like_rest(live_lab):
    rest, mysql = live_lab.transport("rest"), live_lab.transport("mysql")
    try:
        for module in ("Users", "Accounts"):
            want = {r.id: r["email1"] for r in rest.find(module, fields=["email1"])}
            assert {r.id: r["email1"] for r in mysql.find(module, fields=["email1"])} == want
            assert any(want.values())  # the demo data has addresses: the comparison is not all ""
        admin = mysql.get("Users", "1")  # all fields: email1 comes with the columns
        assert admin["email1"] == rest.get("Users", "1", ["email1"])["email1"]
        assert "user_hash" not in admin.values
    finally:
        rest.close()
        mysql.close()


def test_mysql_refuses_to_filter_or_sort_on_email_fields(live_lab):
    mysql = live_lab.transport("mysql")
    try:
        with pytest.raises(ValidationError, match="non-db") as err:
            list(mysql.find("Contacts", {"email1": "x@example.com"}))
        assert err.value.fields == ["email1"]
        with pytest.raises(ValidationError, match="non-db"):
            list(mysql.find("Contacts", order="-email1"))
    finally:
        mysql.close()
