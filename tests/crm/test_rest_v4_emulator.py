"""The REST v4_1 emulator answers exactly like the recorded SuiteCRM 7.14.6 (tests/fixtures/rest_v4/).

Each test seeds the emulator's store with the records a recording refers to (same ids, same values),
replays the recorded request verbatim (only the session id swapped for a live one) and compares the
answer with the recorded one: equal where the data is the same, the same shape (keys and JSON types)
where it cannot be (new ids, the current time). If the emulator drifts from real SuiteCRM, these fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from crm.emulators.rest import RestV4Emulator

from suitecrm_ext.crm.fake import FakeCRM

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rest_v4"
URL = "http://suitecrm.test"
PASSWORD = "admin123"  # md5 0192023a7bbd73250516f069df18b500, as in login.json
ACC = "e7f52620-b67a-eefa-24ea-6b03ceb90cc3"  # "Sidecar Lab Ltd" in the recordings
DEMO = "41730cef-ec44-6e02-a50b-6b03cc681ad8"  # "South Sea Plumbing Products"
IVAN = "127f0c9f-fb24-dfe8-9cd6-6b03ce9e2c21"
ANNA = "1cfd6090-617f-565a-30f0-6b03ce9f9889"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """Keys and JSON types, not values (lists by the shape of their items)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(v), sort_keys=True) for v in value})
    return type(value).__name__


@pytest.fixture
def emu():
    store = FakeCRM()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        emulator = RestV4Emulator(store, base_url=URL, password=PASSWORD).install(rsps)
        yield emulator


def login(emu: RestV4Emulator) -> str:
    rec = fixture("login.json")["request"]
    return requests.post(emu.endpoint, data=rec).json()["id"]


def replay(emu: RestV4Emulator, name: str, session: str | None = None) -> requests.Response:
    form = dict(fixture(name)["request"])
    if session is not None:
        data = json.loads(form["rest_data"])
        if isinstance(data, dict) and "session" in data:
            data["session"] = session
        elif isinstance(data, list):
            data[0] = session
        form["rest_data"] = json.dumps(data)
    return requests.post(emu.endpoint, data=form)


def check_http(resp: requests.Response, name: str) -> None:
    http = fixture(name)["http"]
    assert resp.status_code == http["status"]
    assert resp.headers["Content-Type"] == http["content_type"]


def seed_sidecar(store: FakeCRM, deleted: bool = False) -> None:
    store.insert("Accounts", {"id": ACC, "name": "Sidecar Lab Ltd", "account_type": "Customer",
                              "industry": "Banking", "billing_address_city": "Moscow",
                              "description": "created via REST v4_1"})
    if deleted:
        store.delete("Accounts", ACC)


def seed_demo(store: FakeCRM) -> dict[str, str]:
    values = {k: v["value"] for k, v in
              fixture("get_entry-Account-all-fields.json")["response"]["entry_list"][0]["name_value_list"].items()}
    store.clock = lambda: __import__("datetime").datetime(2026, 11, 23, 5, 17, 26)
    store.insert("Accounts", values)
    return values


def seed_contacts(store: FakeCRM) -> None:
    store.insert("Contacts", {"id": IVAN, "first_name": "Ivan", "last_name": "Petrov",
                              "email1": "ivan.petrov@example.com"})
    store.insert("Contacts", {"id": ANNA, "first_name": "Anna", "last_name": "Smirnova", "title": "CFO"})


# --- session and errors ----------------------------------------------------------------------


def test_login(emu):
    resp = replay(emu, "login.json")
    check_http(resp, "login.json")
    got, want = resp.json(), fixture("login.json")["response"]
    assert re.fullmatch(r"[a-z0-9]{26}", got["id"])
    assert {k: v for k, v in got.items() if k != "id"} == {k: v for k, v in want.items() if k != "id"}


@pytest.mark.parametrize("name", ["login-bad-password.json"])
def test_login_refused(emu, name):
    resp = replay(emu, name)
    check_http(resp, name)
    assert resp.json() == fixture(name)["response"]


@pytest.mark.parametrize("name", ["invalid-session.json", "after-logout.json"])
def test_invalid_session(emu, name):
    resp = replay(emu, name)  # the recorded (dead) session id
    check_http(resp, name)
    assert resp.json() == fixture(name)["response"]


def test_logout_then_session_is_dead(emu):
    sid = login(emu)
    resp = replay(emu, "logout.json", sid)
    check_http(resp, "logout.json")
    assert resp.text == fixture("logout.json")["response_raw"]
    after = replay(emu, "after-logout.json", sid)
    assert after.json() == fixture("after-logout.json")["response"]


@pytest.mark.parametrize("name", ["invalid-module.json", "invalid-method.json"])
def test_api_errors(emu, name):
    resp = replay(emu, name, login(emu))
    check_http(resp, name)
    assert resp.json() == fixture(name)["response"]


def test_bad_sql_is_a_database_failure(emu):
    resp = replay(emu, "bad-query-sql.json", login(emu))
    check_http(resp, "bad-query-sql.json")
    assert resp.text == fixture("bad-query-sql.json")["response_raw"]


@pytest.mark.parametrize("name", ["rest_data-as-json-array.json", "rest_data-keys-reordered.json"])
def test_rest_data_by_position_or_by_parameter_name(emu, name):
    for i in range(3):
        emu.crm.save("Accounts", {"name": f"a{i}"})
    resp = replay(emu, name, login(emu))
    check_http(resp, name)
    assert resp.json() == {"result_count": "3"}
    assert shape(resp.json()) == shape(fixture(name)["response"])


def test_rest_data_with_unknown_keys_is_a_php_fatal(emu):
    resp = replay(emu, "rest_data-unknown-keys.json", login(emu))
    check_http(resp, "rest_data-unknown-keys.json")
    assert resp.text == fixture("rest_data-unknown-keys.json")["response_raw"] == ""


# --- metadata ----------------------------------------------------------------------------------


def test_server_info_and_user_id(emu):
    resp = replay(emu, "get_server_info.json")
    got, want = resp.json(), fixture("get_server_info.json")["response"]
    got_time = got.pop("gmt_time")
    assert got == {k: v for k, v in want.items() if k != "gmt_time"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got_time)
    assert replay(emu, "get_user_id.json", login(emu)).json() == fixture("get_user_id.json")["response"]


def test_available_modules_shape(emu):
    got = replay(emu, "get_available_modules.json", login(emu)).json()
    want = fixture("get_available_modules.json")["response"]
    assert shape(got) == shape(want)
    recorded = {m["module_key"]: m for m in want["modules"]}
    for m in got["modules"]:
        if m["module_key"] in recorded:
            assert m["acls"] == recorded[m["module_key"]]["acls"]


@pytest.mark.parametrize("module", ["Accounts", "Contacts", "Cases", "Documents", "Tasks"])
def test_module_fields_match_the_recording_field_for_field(emu, module):
    name = f"get_module_fields-{module}.json"
    got = replay(emu, name, login(emu)).json()
    want = fixture(name)["response"]
    assert set(got) == set(want)
    assert got["module_name"] == want["module_name"] and got["table_name"] == want["table_name"]
    assert set(got["module_fields"]) == set(want["module_fields"])
    for field, w in want["module_fields"].items():
        g = got["module_fields"][field]
        assert set(g) == set(w), field
        assert (g["type"], g["label"], g["required"]) == (w["type"], w["label"], w["required"]), field
        assert str(g["len"]) == str(w["len"]), field
        if w["type"] in ("enum", "multienum", "dynamicenum"):
            assert list(g["options"]) == list(w["options"]), field
            assert shape(g["options"]) == shape(w["options"]), field
    for link, g in got["link_fields"].items():
        assert link in want["link_fields"], f"{module}.{link} is not a real SuiteCRM link name"
        assert g == want["link_fields"][link]


# --- reads ---------------------------------------------------------------------------------


def test_get_entry_all_fields_is_identical(emu):
    seed_demo(emu.crm)
    got = replay(emu, "get_entry-Account-all-fields.json", login(emu)).json()
    want = fixture("get_entry-Account-all-fields.json")["response"]
    assert got == want


def test_get_entry_selected_fields_is_identical(emu):
    seed_demo(emu.crm)
    got = replay(emu, "get_entry-Account.json", login(emu)).json()
    assert got == fixture("get_entry-Account.json")["response"]


@pytest.mark.parametrize("deleted", [False, True])
def test_get_entry_missing_or_deleted_answers_the_warning_list(emu, deleted):
    name = "get_entry-deleted-Account.json" if deleted else "get_entry-nonexistent-id.json"
    if deleted:
        seed_sidecar(emu.crm, deleted=True)
    resp = replay(emu, name, login(emu))
    check_http(resp, name)
    assert resp.json() == fixture(name)["response"]


def test_get_entry_list_pages_like_suitecrm(emu):
    for i in range(5):
        emu.crm.save("Accounts", {"name": f"Customer {i}", "account_type": "Customer", "industry": "Media",
                                  "billing_address_city": "San Jose", "assigned_user_id": "seed_chris_id"})
    emu.crm.save("Accounts", {"name": "Not one", "account_type": "Partner"})
    sid = login(emu)
    for name, expect in [("get_entry_list-Accounts.json", (2, "5", 2)),
                         ("get_entry_list-Accounts-page2.json", (2, "5", 4))]:
        resp = replay(emu, name, sid)
        check_http(resp, name)
        got = resp.json()
        assert shape(got) == shape(fixture(name)["response"])
        assert (got["result_count"], got["total_count"], got["next_offset"]) == expect
    past = replay(emu, "get_entry_list-Accounts-past-end.json", sid).json()
    want = fixture("get_entry_list-Accounts-past-end.json")["response"]
    assert past == {**want, "total_count": "6"}


def test_get_entry_list_with_deleted_is_identical(emu):
    seed_sidecar(emu.crm, deleted=True)
    got = replay(emu, "get_entry_list-deleted.json", login(emu)).json()
    assert got == fixture("get_entry_list-deleted.json")["response"]


def test_get_entries_count_is_a_string(emu):
    emu.crm.save("Accounts", {"name": "c", "account_type": "Customer"})
    got = replay(emu, "get_entries_count-Accounts.json", login(emu)).json()
    assert got == {"result_count": "1"}
    assert shape(got) == shape(fixture("get_entries_count-Accounts.json")["response"])


# --- writes ----------------------------------------------------------------------------------


def test_set_entry_create_echoes_what_was_sent(emu):
    got = replay(emu, "set_entry-create-Account.json", login(emu)).json()
    want = fixture("set_entry-create-Account.json")["response"]
    assert got["entry_list"] == want["entry_list"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", got["id"])
    assert emu.crm.get("Accounts", got["id"])["description"] == "created via REST v4_1"


@pytest.mark.parametrize("name", ["set_entry-update-Account.json", "set_entry-delete-Account.json"])
def test_set_entry_update_and_delete_are_identical(emu, name):
    seed_sidecar(emu.crm)
    got = replay(emu, name, login(emu)).json()
    assert got == fixture(name)["response"]


def test_after_update_reads_back_like_the_recording(emu):
    seed_sidecar(emu.crm)
    sid = login(emu)
    replay(emu, "set_entry-update-Account.json", sid)
    got = replay(emu, "get_entry-Account-after-update.json", sid).json()
    want = fixture("get_entry-Account-after-update.json")["response"]
    g = got["entry_list"][0]["name_value_list"]
    w = want["entry_list"][0]["name_value_list"]
    assert set(g) == set(w)
    for field in ("id", "name", "phone_office", "description", "created_by", "modified_user_id", "deleted"):
        assert g[field] == w[field]


def test_set_entries_returns_ids(emu):
    got = replay(emu, "set_entries-Contacts.json", login(emu)).json()
    assert shape(got) == shape(fixture("set_entries-Contacts.json")["response"])
    assert len(got["ids"]) == 2
    stored = sorted(r["last_name"] for r in emu.crm.find("Contacts", fields=["last_name"]))
    assert stored == ["Petrov", "Smirnova"]


@pytest.mark.parametrize("name", [
    "set_relationship-Account-contacts.json", "set_relationship-already-related.json",
    "set_relationship-bad-link.json", "set_relationship-remove.json",
])
def test_set_relationship_answers_are_identical(emu, name):
    seed_sidecar(emu.crm)
    seed_contacts(emu.crm)
    emu.crm.relate("Accounts", ACC, "contacts", [IVAN, ANNA])
    got = replay(emu, name, login(emu)).json()
    assert got == fixture(name)["response"]


def test_get_relationships_is_identical(emu):
    seed_sidecar(emu.crm)
    seed_contacts(emu.crm)
    emu.crm.relate("Accounts", ACC, "contacts", [IVAN, ANNA])
    got = replay(emu, "get_relationships-Account-contacts.json", login(emu)).json()
    assert got == fixture("get_relationships-Account-contacts.json")["response"]


def test_set_entry_new_with_id_on_an_existing_id_is_a_database_failure(emu):
    """What makes a blind re-send of a create unsafe: SuiteCRM INSERTs again and the DB refuses."""
    seed_sidecar(emu.crm)
    sid = login(emu)
    form = {"method": "set_entry", "input_type": "JSON", "response_type": "JSON",
            "rest_data": json.dumps([sid, "Accounts", [{"name": "id", "value": ACC},
                                                       {"name": "new_with_id", "value": True},
                                                       {"name": "name", "value": "again"}]])}
    resp = requests.post(emu.endpoint, data=form)
    assert resp.status_code == 500 and resp.text.startswith("Database failure")
    assert emu.crm.get("Accounts", ACC)["name"] == "Sidecar Lab Ltd"


def test_set_entry_unknown_id_without_new_with_id_saves_nothing(emu):
    sid = login(emu)
    form = {"method": "set_entry", "input_type": "JSON", "response_type": "JSON",
            "rest_data": json.dumps([sid, "Accounts", [{"name": "id", "value": ACC},
                                                       {"name": "name", "value": "ghost"}]])}
    assert requests.post(emu.endpoint, data=form).json()["id"] == ACC
    assert emu.crm.count("Accounts", include_deleted=True) == 0
