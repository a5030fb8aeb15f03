"""The CRM contract: every backend (tests/crm/backends/) must behave exactly like this.

Plugins are tested against FakeCRM and run against the real transports; these tests are what keeps the
two the same. Each test runs once per backend (fixture ``harness`` / ``crm``, page size 3).

Where an API cannot do something, the transport says so in ``crm.capabilities`` and the contract then
requires a clean :class:`Unsupported` (or, for NUL bytes, a ValidationError) raised before any request is
sent, with a message naming what was refused, instead of a wrong answer. Where the limit is in the data
(datetimes to the minute, no server version), the contract asserts exactly what comes back instead.
Nothing here is skipped for a transport's sake. Capability names beyond the interface methods:

- ``include_deleted``: ``find``/``count`` can list soft-deleted records;
- ``filter_in``, ``filter_null`` (is_null / not_null), ``filter_nested`` (AND inside OR and vice versa);
- ``order_multi``: order by more than one field;
- ``datetime_seconds``: datetimes come back with their seconds (V8 truncates them to :00);
- ``batch_save``: ``save_many`` needs fewer calls than rows;
- ``server_version``: ``server_info()`` names ``suitecrm_version``;
- ``nul_values``: string values may contain NUL bytes (no API writer: SuiteCRM drops them on save).
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from suitecrm_ext.crm.base import (
    AuthError,
    Cond,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TransientError,
    Unsupported,
    ValidationError,
    all_of,
    any_of,
)
from suitecrm_ext.crm.guid import is_guid

UTC = dt.timezone.utc
GHOST = "00000000-0000-4000-8000-000000000000"
#: text SuiteCRM stores exactly as sent
HOSTILE = [
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    "'; DROP TABLE accounts; --",
    "\\'; DELETE FROM accounts; #",
    "100% _sure_",
    "line\nbreak",
    "Ромашка ООО «Лютик» №1",
    "AT&T <b>bold</b> 5 > 3",
]
#: text SuiteCRM changes on save (entities decoded, name trimmed: SugarBean::cleanBean), recorded live:
#: (sent, stored in name, stored in description)
REWRITTEN = [
    ("&amp; <b>bold</b> &#039;", "& <b>bold</b> '", "& <b>bold</b> '"),
    ("  padded  ", "padded", "  padded  "),
    ("5 &lt; 6 &amp;amp; &copy;", "5 < 6 & ©", "5 < 6 & ©"),
]
#: text SuiteCRM would silently damage (NUL and control characters dropped, emoji stored as '????'):
#: every writer refuses it
UNSTORABLE = ["nul\x00byte", "bell\x07", "Ромашка 🌼"]


def refused(harness, call, *mentions: str, error: type[Exception] = Unsupported) -> Exception:
    """Check that ``call()`` raises ``error`` before any request, its message naming every ``mentions``."""
    before = harness.wire_calls(), harness.page_calls()
    with pytest.raises(error) as err:
        call()
    assert (harness.wire_calls(), harness.page_calls()) == before, "refused only after talking to the server"
    for word in mentions:
        assert word in str(err.value), f"{word!r} not named in {str(err.value)!r}"
    return err.value


def supported(harness, capability: str, call, *mentions: str) -> bool:
    """True when the CRM declares ``capability``; otherwise checks that ``call()`` is refused cleanly."""
    if capability in harness.crm.capabilities:
        return True
    refused(harness, call, *mentions)
    return False


def seconds(crm, value: dt.datetime) -> dt.datetime:
    """What a datetime reads back as: to the second, or to the minute without ``datetime_seconds``."""
    return value if "datetime_seconds" in crm.capabilities else value.replace(second=0)


def names(records) -> list[str]:
    return [r["name"] for r in records]


def make_accounts(crm, rows):
    return [crm.save("Accounts", row) for row in rows]


# --- metadata -------------------------------------------------------------------------------


def test_modules_lists_stock_modules(crm):
    mods = crm.modules()
    for m in ("Accounts", "Contacts", "Cases", "Documents", "Tasks"):
        assert m in mods


def test_fields_metadata(harness, crm):
    f = crm.fields("Accounts")
    assert f["name"].required is True
    assert f["date_modified"].type == "datetime"
    assert f["account_type"].type == "enum"
    if harness.enum_options:
        assert "Customer" in f["account_type"].options
    else:  # V8 meta/fields names the type but not the options (recorded answer)
        assert f["account_type"].options == ()
    assert f["jjwg_maps_lat_c"].source == "custom_fields"
    assert crm.fields("Contacts")["do_not_call"].type == "bool"


def test_unknown_module_is_not_found(crm):
    with pytest.raises(NotFound):
        crm.fields("NoSuchModule")
    with pytest.raises(NotFound):
        list(crm.find("NoSuchModule"))


def test_server_info_names_the_version(crm):
    info = crm.server_info()
    assert isinstance(info, dict)
    if "server_version" in crm.capabilities:
        assert info["suitecrm_version"] == "7.14.6"
    else:  # V8 has no such call; SOAP's get_server_info_result has no suitecrm_version in the WSDL
        assert "suitecrm_version" not in info


# --- create / read / update -------------------------------------------------------------------


def test_create_then_get_normalises_values(harness, crm):
    rid = crm.save("Contacts", {"last_name": "Petrov", "first_name": "Ivan", "do_not_call": True,
                                "birthdate": dt.date(1980, 5, 17)})
    assert is_guid(rid)
    rec = crm.get("Contacts", rid)
    assert rec.id == rid and rec.module == "Contacts" and rec.deleted is False
    assert rec["last_name"] == "Petrov"
    assert rec["do_not_call"] is True
    assert rec["birthdate"] == dt.date(1980, 5, 17)
    # stamped by the server in UTC, to the second (the clock said .654321)
    assert rec["date_entered"] == seconds(crm, dt.datetime(2026, 11, 23, 5, 17, 26, tzinfo=UTC))
    assert rec["date_modified"].tzinfo is not None and rec["date_modified"].utcoffset() == dt.timedelta(0)
    assert rec["created_by"] == "1" and rec["modified_user_id"] == "1"


def test_get_selected_fields_only(crm):
    rid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    rec = crm.get("Accounts", rid, ["name"])
    assert rec.values == {"name": "Acme"}
    assert rec.id == rid


def test_false_bool_and_empty_values(crm):
    rid = crm.save("Contacts", {"last_name": "X", "do_not_call": False})
    rec = crm.get("Contacts", rid, ["do_not_call", "title", "birthdate"])
    assert rec["do_not_call"] is False
    assert rec["title"] == ""
    assert rec["birthdate"] is None


def test_datetime_values_are_stored_in_utc(crm):
    moscow = dt.timezone(dt.timedelta(hours=3))
    rid = crm.save("Tasks", {"name": "call", "status": "Not Started", "priority": "High",
                             "date_due": dt.datetime(2026, 12, 1, 12, 30, 15, 999, tzinfo=moscow)})
    due = crm.get("Tasks", rid, ["date_due"])["date_due"]
    assert due == seconds(crm, dt.datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC))


def test_update_changes_values_and_date_modified(harness, crm):
    rid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    harness.clock.advance(120)
    assert crm.save("Accounts", {"id": rid, "industry": "Energy"}) == rid
    rec = crm.get("Accounts", rid)
    assert rec["industry"] == "Energy" and rec["name"] == "Acme"
    assert rec["date_modified"] - rec["date_entered"] == dt.timedelta(seconds=120)
    assert crm.count("Accounts") == 1


def test_update_of_missing_record_is_not_found_and_creates_nothing(crm):
    with pytest.raises(NotFound):
        crm.save("Accounts", {"id": "00000000-0000-4000-8000-000000000000", "name": "ghost"})
    assert crm.count("Accounts") == 0


def test_get_missing_is_not_found(crm):
    with pytest.raises(NotFound):
        crm.get("Accounts", "00000000-0000-4000-8000-000000000000")


def test_unknown_field_in_values_is_a_validation_error_and_changes_nothing(crm):
    with pytest.raises(ValidationError) as err:
        crm.save("Accounts", {"name": "Acme", "no_such_field": 1, "other_bad": 2})
    assert set(err.value.fields) == {"no_such_field", "other_bad"}
    assert crm.count("Accounts") == 0


def test_unknown_field_in_select_is_a_validation_error(crm):
    rid = crm.save("Accounts", {"name": "Acme"})
    with pytest.raises(ValidationError) as err:
        crm.get("Accounts", rid, ["name", "nope"])
    assert err.value.fields == ["nope"]
    with pytest.raises(ValidationError):
        list(crm.find("Accounts", fields=["nope"]))


# --- delete ------------------------------------------------------------------------------------


def test_delete_is_soft(harness, crm):
    keep, gone = make_accounts(crm, [{"name": "keep"}, {"name": "gone"}])
    crm.delete("Accounts", gone)
    with pytest.raises(NotFound):
        crm.get("Accounts", gone)
    assert names(crm.find("Accounts", fields=["name"])) == ["keep"]
    assert crm.count("Accounts") == 1
    assert [r.deleted for r in harness.store.records("Accounts") if r.id == gone] == [True]
    with pytest.raises(NotFound):
        crm.delete("Accounts", gone)
    with pytest.raises(NotFound):
        crm.save("Accounts", {"id": gone, "name": "resurrect?"})


def test_deleted_records_listed_only_on_request(harness, crm):
    keep, gone = make_accounts(crm, [{"name": "keep"}, {"name": "gone"}])
    crm.delete("Accounts", gone)
    if "include_deleted" not in crm.capabilities:
        refused(harness, lambda: list(crm.find("Accounts", include_deleted=True)), "deleted")
        refused(harness, lambda: crm.count("Accounts", include_deleted=True), "deleted")
        return
    recs = {r.id: r for r in crm.find("Accounts", fields=["name"], include_deleted=True)}
    assert recs[gone].deleted is True and recs[keep].deleted is False
    assert crm.count("Accounts", include_deleted=True) == 2


def test_delete_missing_is_not_found(crm):
    with pytest.raises(NotFound):
        crm.delete("Accounts", "00000000-0000-4000-8000-000000000000")


# --- find, paging, order ----------------------------------------------------------------------


def test_paging_across_pages_returns_each_record_once(harness, crm):
    ids = make_accounts(crm, [{"name": f"acc {i:02d}"} for i in range(10)])
    before = harness.page_calls()
    found = list(crm.find("Accounts", fields=["name"], order="name"))
    assert [r.id for r in found] == ids  # names sort like creation order
    pages = harness.page_calls() - before
    assert pages >= 4  # 10 records, 3 per page: 3+3+3+1
    assert pages <= 5


def test_paging_exact_multiple_of_page_size(crm):
    make_accounts(crm, [{"name": f"acc {i}"} for i in range(6)])
    assert len(list(crm.find("Accounts", fields=["name"]))) == 6


def test_limit_stops_early(harness, crm):
    make_accounts(crm, [{"name": f"acc {i:02d}"} for i in range(10)])
    before = harness.page_calls()
    got = names(crm.find("Accounts", fields=["name"], order="-name", limit=4))
    assert got == ["acc 09", "acc 08", "acc 07", "acc 06"]
    assert harness.page_calls() - before <= 2


def test_find_is_lazy_per_page(harness, crm):
    make_accounts(crm, [{"name": f"acc {i}"} for i in range(7)])
    before = harness.page_calls()
    it = crm.find("Accounts", fields=["name"])
    next(it)
    assert harness.page_calls() - before == 1


def test_order_by_several_fields_with_desc(harness, crm):
    several = ["account_type", "-name"]
    if not supported(harness, "order_multi", lambda: list(crm.find("Accounts", order=several)),
                     "account_type", "name"):
        return
    make_accounts(crm, [
        {"name": "b", "account_type": "Customer"},
        {"name": "a", "account_type": "Partner"},
        {"name": "c", "account_type": "Customer"},
        {"name": "d", "account_type": "Partner"},
    ])
    got = [(r["account_type"], r["name"]) for r in
           crm.find("Accounts", fields=["name", "account_type"], order=["account_type", "-name"])]
    assert got == [("Customer", "c"), ("Customer", "b"), ("Partner", "d"), ("Partner", "a")]


def test_order_by_unknown_field_is_a_validation_error(crm):
    with pytest.raises(ValidationError) as err:
        list(crm.find("Accounts", order="-nope"))
    assert err.value.fields == ["nope"]


def test_find_empty_module(crm):
    assert list(crm.find("Accounts")) == []
    assert crm.count("Accounts") == 0


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def sample(crm):
    rows = [
        {"name": "Alpha Bank", "account_type": "Customer", "industry": "Banking", "employees": "10"},
        {"name": "Beta Energy", "account_type": "Partner", "industry": "Energy", "employees": "250"},
        {"name": "Gamma", "account_type": "Customer", "industry": "", "employees": ""},
        {"name": "Delta_Bank", "account_type": "Prospect", "industry": "Banking"},
    ]
    return dict(zip([r["name"] for r in rows], make_accounts(crm, rows), strict=True))


def q(crm, where, **kw):
    return sorted(names(crm.find("Accounts", where, fields=["name"], **kw)))


def test_eq_mapping_and_case_insensitivity(crm, sample):
    assert q(crm, {"account_type": "Customer"}) == ["Alpha Bank", "Gamma"]
    assert q(crm, {"account_type": "customer", "industry": "banking"}) == ["Alpha Bank"]
    assert q(crm, Cond("name", "eq", "gamma")) == ["Gamma"]


def test_neq_includes_empty_values(crm, sample):
    assert q(crm, Cond("industry", "neq", "Banking")) == ["Beta Energy", "Gamma"]


def test_in_and_empty_in(harness, crm, sample):
    several = Cond("account_type", "in", ["Partner", "Prospect"])
    assert q(crm, Cond("account_type", "in", ["Partner"])) == ["Beta Energy"]  # one value: every transport
    if not supported(harness, "filter_in", lambda: q(crm, several), "account_type", "'in'"):
        refused(harness, lambda: crm.count("Accounts", several), "account_type", "'in'")
        return
    assert q(crm, Cond("account_type", "in", ["Partner", "Prospect"])) == ["Beta Energy", "Delta_Bank"]
    assert q(crm, Cond("account_type", "in", [])) == []


def test_like_wildcards_and_escape(crm, sample):
    assert q(crm, Cond("name", "like", "%bank")) == ["Alpha Bank", "Delta_Bank"]
    assert q(crm, Cond("name", "like", "_amma")) == ["Gamma"]
    assert q(crm, Cond("name", "like", "%\\_%")) == ["Delta_Bank"]  # \_ is a literal underscore


def test_null_checks(harness, crm, sample):
    is_null = Cond("industry", "is_null")
    if not supported(harness, "filter_null", lambda: q(crm, is_null), "industry", "is_null"):
        refused(harness, lambda: q(crm, Cond("industry", "not_null")), "industry", "not_null")
        return
    assert q(crm, Cond("industry", "is_null")) == ["Gamma"]
    assert q(crm, Cond("industry", "not_null")) == ["Alpha Bank", "Beta Energy", "Delta_Bank"]


def test_and_or_nesting(harness, crm, sample):
    where = any_of(
        all_of(Cond("account_type", "eq", "Customer"), Cond("industry", "eq", "Banking")),
        all_of(Cond("account_type", "neq", "Customer"), Cond("name", "like", "B%")),
    )
    if not supported(harness, "filter_nested", lambda: q(crm, where), "AND", "OR", "account_type"):
        refused(harness, lambda: crm.count("Accounts", where), "AND", "OR")
        return
    assert q(crm, where) == ["Alpha Bank", "Beta Energy"]
    assert crm.count("Accounts", where) == 2


def test_unsupported_queries_are_refused_before_the_first_request(harness, crm):
    """On a fresh connection (no token, no cached metadata) a refusal still sends nothing."""
    queries = {
        "filter_in": (Cond("account_type", "in", ["Partner", "Prospect"]), None),
        "filter_null": (Cond("industry", "not_null"), None),
        "filter_nested": (any_of(Cond("name", "eq", "x"), all_of(Cond("industry", "eq", "y"),
                                                                   Cond("name", "eq", "z"))), None),
        "order_multi": (None, "name,-industry"),
    }
    for capability, (where, order) in queries.items():
        if capability not in crm.capabilities:
            refused(harness, lambda w=where, o=order: list(crm.find("Accounts", w, order=o)))
            if order is None:
                refused(harness, lambda w=where: crm.count("Accounts", w))


def test_flat_and_or(crm, sample):
    either = any_of(Cond("name", "eq", "Gamma"), Cond("industry", "eq", "Energy"))
    assert q(crm, either) == ["Beta Energy", "Gamma"]
    both = all_of(Cond("account_type", "eq", "Customer"), Cond("name", "like", "A%"))
    assert q(crm, both) == ["Alpha Bank"]


def test_datetime_comparisons(harness, crm):
    t0 = harness.clock.now().replace(microsecond=0)  # what the server stamps
    crm.save("Accounts", {"name": "early"})
    harness.clock.advance(3600)
    crm.save("Accounts", {"name": "late"})
    assert q(crm, Cond("date_entered", "gt", t0)) == ["late"]
    assert q(crm, Cond("date_entered", "lte", t0)) == ["early"]
    assert q(crm, Cond("date_entered", "gte", t0 + dt.timedelta(minutes=30))) == ["late"]
    # the same instant given in another zone
    msk = t0.astimezone(dt.timezone(dt.timedelta(hours=3)))
    assert q(crm, Cond("date_entered", "eq", msk)) == ["early"]


def test_bool_filter(crm):
    crm.save("Contacts", {"last_name": "yes", "do_not_call": True})
    crm.save("Contacts", {"last_name": "no", "do_not_call": False})
    got = [r["last_name"] for r in crm.find("Contacts", {"do_not_call": True}, fields=["last_name"])]
    assert got == ["yes"]


def test_custom_field_filter(crm):
    crm.save("Accounts", {"name": "geo", "jjwg_maps_address_c": "Moscow"})
    crm.save("Accounts", {"name": "none"})
    assert q(crm, {"jjwg_maps_address_c": "Moscow"}) == ["geo"]


def test_unknown_filter_field_is_a_validation_error(crm, sample):
    with pytest.raises(ValidationError) as err:
        list(crm.find("Accounts", any_of(Cond("name", "eq", "x"), Cond("nope", "eq", 1))))
    assert err.value.fields == ["nope"]
    with pytest.raises(ValidationError):
        crm.count("Accounts", {"nope": 1})


def test_bad_filter_value_for_type_is_a_validation_error(crm):
    with pytest.raises(ValidationError) as err:
        list(crm.find("Accounts", Cond("date_entered", "gt", "not a date")))
    assert err.value.fields == ["date_entered"]


@pytest.mark.parametrize("value", UNSTORABLE)
def test_values_suitecrm_would_damage_are_refused_before_sending(harness, crm, value):
    crm.save("Accounts", {"name": "bystander"})
    err = refused(harness, lambda: crm.save("Accounts", {"name": value}), "cannot store", "name",
                  error=ValidationError)
    assert err.fields == ["name"]
    refused(harness, lambda: crm.save_many("Accounts", [{"name": "fine"}, {"description": value}]),
            "cannot store", "description", error=ValidationError)
    assert crm.count("Accounts") == 1


def test_a_value_longer_than_its_field_keeps_the_fields_length_and_is_logged(crm, caplog):
    """SuiteCRM's database cuts a value longer than the field's len without an error, on every API
    (seen on 7.14.6: Accounts.name holds 150 characters); the writers say so in a warning — all but
    SOAP, whose get_module_fields tells no lengths."""
    told = crm.fields("Accounts")["name"].length
    assert told == 150 or (told is None and "soap" in repr(crm).lower())
    long_name = "Ромашка " + "я" * 200
    with caplog.at_level(logging.WARNING, logger="suitecrm_ext.crm"):
        rid = crm.save("Accounts", {"name": long_name, "description": long_name})
    assert crm.get("Accounts", rid, ["name", "description"]).values == {"name": long_name[:150],
                                                                        "description": long_name}
    # (an emulator's FakeCRM, standing in for the server, may say it too)
    warnings = [r.getMessage() for r in caplog.records if "keeps only the start" in r.getMessage()]
    assert warnings or told is None
    assert all("Accounts: SuiteCRM keeps only the start of name (208 characters, the field "
                            "holds 150)" in w and "description" not in w for w in warnings), warnings
    assert not any("я" in w for w in warnings)  # the value itself is not logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="suitecrm_ext.crm"):
        crm.save("Accounts", {"id": rid, "name": " " + "a" * 150 + " "})  # trimmed first: it fits
    assert crm.get("Accounts", rid, ["name"])["name"] == "a" * 150
    assert not [r for r in caplog.records if "keeps only the start" in r.getMessage()]


@pytest.mark.parametrize("value,name,description", REWRITTEN)
def test_values_read_back_as_suitecrm_stores_them(crm, value, name, description):
    rid = crm.save("Accounts", {"name": value, "description": value})
    assert crm.get("Accounts", rid, ["name", "description"]).values == {"name": name,
                                                                        "description": description}
    assert [r.id for r in crm.find("Accounts", {"name": name}, fields=["name"])] == [rid]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip_and_match_exactly(harness, crm, value):
    other = crm.save("Accounts", {"name": "bystander"})
    rid = crm.save("Accounts", {"name": value, "description": value})
    rec = crm.get("Accounts", rid, ["name", "description"])
    assert rec["name"] == value and rec["description"] == value
    assert [r.id for r in crm.find("Accounts", {"name": value}, fields=["name"])] == [rid]
    if "filter_in" in crm.capabilities:
        found = crm.find("Accounts", Cond("name", "in", [value, "zzz"]), fields=["name"])
        assert [r.id for r in found] == [rid]
    assert sorted(r.id for r in crm.find("Accounts", Cond("name", "neq", value), fields=["name"])) == [other]
    assert crm.count("Accounts", {"description": value}) == 1
    assert crm.count("Accounts") == 2  # nothing dropped, nothing added


def test_hostile_like_patterns(crm):
    values = list(HOSTILE)
    make_accounts(crm, [{"name": v} for v in values])
    assert sorted(names(crm.find("Accounts", Cond("name", "like", "%'%"), fields=["name"]))) == sorted(
        v for v in values if "'" in v)
    assert names(crm.find("Accounts", Cond("name", "like", "%\\%%"), fields=["name"])) == ["100% _sure_"]
    assert crm.count("Accounts") == len(values)


# --- save_many -----------------------------------------------------------------------------


def test_save_many_creates_and_updates_in_few_calls(harness, crm):
    existing = crm.save("Accounts", {"name": "old"})
    before = harness.wire_calls()
    rows = [{"name": f"new {i}"} for i in range(7)] + [{"id": existing, "name": "renamed"}]
    ids = crm.save_many("Accounts", rows)
    calls = harness.wire_calls() - before
    assert len(ids) == 8 and ids[-1] == existing and len(set(ids)) == 8
    if "batch_save" in crm.capabilities:
        assert calls < len(rows)  # batched, not one call per record
    else:  # V8: one request per record
        assert calls >= len(rows)
    assert crm.get("Accounts", ids[3], ["name"])["name"] == "new 3"
    assert crm.get("Accounts", existing, ["name"])["name"] == "renamed"
    assert crm.count("Accounts") == 8


def test_save_many_with_a_bad_row_changes_nothing(crm):
    existing = crm.save("Accounts", {"name": "old"})
    with pytest.raises(ValidationError) as err:
        crm.save_many("Accounts", [{"name": "a"}, {"name": "b", "bogus": 1}, {"id": existing, "name": "x"}])
    assert err.value.fields == ["bogus"]
    assert names(crm.find("Accounts", fields=["name"])) == ["old"]


def test_save_many_with_a_missing_id_changes_nothing(crm):
    with pytest.raises(NotFound):
        crm.save_many("Accounts", [{"name": "a"}, {"id": GHOST, "name": "b"}])
    assert crm.count("Accounts") == 0


# --- relationships -------------------------------------------------------------------------


def test_relate_related_unrelate(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    c1 = crm.save("Contacts", {"last_name": "Petrov"})
    c2 = crm.save("Contacts", {"last_name": "Smirnova"})
    crm.relate("Accounts", acc, "contacts", [c1, c2])
    crm.relate("Accounts", acc, "contacts", [c1])  # twice: harmless
    got = sorted(r["last_name"] for r in crm.related("Accounts", acc, "contacts", ["last_name"]))
    assert got == ["Petrov", "Smirnova"]
    assert [r.id for r in crm.related("Contacts", c1, "accounts")] == [acc]  # the other side
    crm.unrelate("Accounts", acc, "contacts", [c2])
    crm.unrelate("Accounts", acc, "contacts", [c2])  # again: harmless
    assert [r.id for r in crm.related("Accounts", acc, "contacts")] == [c1]
    assert list(crm.related("Contacts", c2, "accounts")) == []


def test_related_leaves_out_deleted_records(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    c1 = crm.save("Contacts", {"last_name": "Petrov"})
    crm.relate("Accounts", acc, "contacts", [c1])
    crm.delete("Contacts", c1)
    assert list(crm.related("Accounts", acc, "contacts")) == []


def test_related_pages_through_many(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    contacts = crm.save_many("Contacts", [{"last_name": f"c{i}"} for i in range(8)])
    crm.relate("Accounts", acc, "contacts", contacts)
    assert sorted(r.id for r in crm.related("Accounts", acc, "contacts", ["last_name"])) == sorted(contacts)


def test_one_to_many_link_moves_the_child(crm):
    a1, a2 = make_accounts(crm, [{"name": "A1"}, {"name": "A2"}])
    case = crm.save("Cases", {"name": "broken"})
    crm.relate("Accounts", a1, "cases", [case])
    crm.relate("Accounts", a2, "cases", [case])
    assert list(crm.related("Accounts", a1, "cases")) == []
    assert [r.id for r in crm.related("Accounts", a2, "cases")] == [case]
    assert crm.get("Cases", case, ["account_id"])["account_id"] == a2


def test_bad_link_is_a_validation_error(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    c1 = crm.save("Contacts", {"last_name": "Petrov"})
    with pytest.raises(ValidationError) as err:
        crm.relate("Accounts", acc, "no_such_link", [c1])
    assert err.value.fields == ["no_such_link"]
    with pytest.raises(ValidationError):
        list(crm.related("Accounts", acc, "no_such_link"))


def test_relate_missing_records_is_not_found(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    c1 = crm.save("Contacts", {"last_name": "Petrov"})
    ghost = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound):
        crm.relate("Accounts", ghost, "contacts", [c1])
    with pytest.raises(NotFound):
        crm.relate("Accounts", acc, "contacts", [ghost])
    with pytest.raises(NotFound):
        list(crm.related("Accounts", ghost, "contacts"))


def test_deleting_a_record_removes_its_links(crm):
    acc = crm.save("Accounts", {"name": "Acme"})
    c1 = crm.save("Contacts", {"last_name": "Petrov"})
    crm.relate("Accounts", acc, "contacts", [c1])
    crm.delete("Accounts", acc)
    assert list(crm.related("Contacts", c1, "accounts")) == []


# --- sessions and faults ---------------------------------------------------------------------


def test_calls_survive_session_expiry(harness, crm):
    harness.require("expire_session")
    rid = crm.save("Accounts", {"name": "Acme"})
    harness.expire_session()
    assert crm.get("Accounts", rid, ["name"])["name"] == "Acme"
    harness.expire_session()
    crm.save("Accounts", {"id": rid, "name": "Acme 2"})
    assert crm.get("Accounts", rid, ["name"])["name"] == "Acme 2"


@pytest.mark.parametrize("fault", ["503", "502", "drop"])
def test_transient_fault_then_success(harness, crm, fault):
    harness.require("transient_faults")
    rid = crm.save("Accounts", {"name": "Acme"})
    harness.fail_next(fault)
    assert crm.get("Accounts", rid, ["name"])["name"] == "Acme"
    assert len(harness.sleeps) == 1


def test_429_waits_for_retry_after(harness, crm):
    harness.require("transient_faults")
    crm.save("Accounts", {"name": "Acme"})
    harness.fail_next("429")
    assert crm.count("Accounts") == 1
    assert harness.sleeps == [3.0]


def test_gives_up_after_the_configured_retries(harness, crm):
    harness.require("transient_faults")
    crm.save("Accounts", {"name": "Acme"})
    harness.fail_next("503", "503", "503", "503", "503")
    with pytest.raises(TransientError):
        crm.count("Accounts")
    assert len(harness.sleeps) == 3  # Options.retries


def test_transient_faults_while_paging(harness, crm):
    harness.require("transient_faults")
    make_accounts(crm, [{"name": f"acc {i}"} for i in range(8)])
    it = crm.find("Accounts", fields=["name"], order="name")
    first = [next(it) for _ in range(4)]  # into the second page
    harness.fail_next("503")
    rest = list(it)
    assert names(first + rest) == [f"acc {i}" for i in range(8)]


def test_lost_answer_on_create_makes_no_duplicate(harness, crm):
    harness.require("lost_answer")
    harness.lose_next_answer("create")
    rid = crm.save("Accounts", {"name": "once"})
    assert [r.id for r in harness.store.records("Accounts")] == [rid]
    assert crm.get("Accounts", rid, ["name"])["name"] == "once"


def test_create_fails_before_reaching_server_then_succeeds_once(harness, crm):
    harness.require("transient_faults")
    harness.fail_next("drop")
    rid = crm.save("Accounts", {"name": "once"})
    assert [r.id for r in harness.store.records("Accounts")] == [rid]


def test_lost_answer_on_save_many_makes_no_duplicates(harness, crm):
    harness.require("lost_answer")
    harness.lose_next_answer("save_many")
    ids = crm.save_many("Accounts", [{"name": f"n{i}"} for i in range(5)])
    stored = sorted(r.id for r in harness.store.records("Accounts"))
    assert stored == sorted(ids)


# --- the other typed errors ----------------------------------------------------------------------


def test_missing_acl_rights_are_permission_denied_and_change_nothing(harness, crm):
    harness.require("acl")
    rid = crm.save("Accounts", {"name": "Acme"})
    harness.deny("Accounts", "save", "delete")
    with pytest.raises(PermissionDenied):
        crm.save("Accounts", {"name": "new"})
    with pytest.raises(PermissionDenied):
        crm.save("Accounts", {"id": rid, "name": "renamed"})
    with pytest.raises(PermissionDenied):
        crm.delete("Accounts", rid)
    assert [(r.id, r["name"]) for r in crm.find("Accounts", fields=["name"])] == [(rid, "Acme")]
    harness.deny("Contacts", "read")
    with pytest.raises(PermissionDenied):
        list(crm.find("Contacts"))


def test_revoked_credentials_are_an_auth_error(harness, crm):
    harness.require("auth_revoked")
    harness.require("expire_session")
    crm.count("Accounts")
    harness.revoke_credentials()
    harness.expire_session()
    with pytest.raises(AuthError):
        crm.count("Accounts")
    assert harness.sleeps == []  # not retried: waiting does not fix a password


def test_an_answer_in_no_known_format_is_a_protocol_error(harness, crm):
    harness.require("garbage_answer")
    crm.count("Accounts")
    harness.garbage_next()
    with pytest.raises(ProtocolError) as err:
        crm.count("Accounts")
    assert "Warning" in err.value.excerpt
