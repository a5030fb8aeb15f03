"""RestV4CRM on the wire: what it sends, how it handles sessions, and how it maps every failure."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest
import responses
from crm.emulators.rest import SIGNATURES, RestV4Emulator

from suitecrm_ext.config import load_config_text
from suitecrm_ext.crm.base import (
    AuthError,
    Cond,
    FieldInfo,
    NotFound,
    ProtocolError,
    TransientError,
    ValidationError,
)
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.rest_v4 import RestV4CRM, html_decode

URL = "http://suitecrm.test"
ENDPOINT = URL + "/service/v4_1/rest.php"
USER, PASSWORD = "admin", "s3cr3t-Pa55"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


@pytest.fixture
def emu(rsps):
    return RestV4Emulator(FakeCRM(), base_url=URL, username=USER, password=PASSWORD).install(rsps)


def client(retries: int = 3, **kw) -> RestV4CRM:
    sleeps: list[float] = []
    c = RestV4CRM(URL, USER, PASSWORD, retry_policy=RetryPolicy(retries=retries, sleep=sleeps.append), **kw)
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def workout(c: RestV4CRM) -> None:
    """Touch every API method the transport uses."""
    acc = c.save("Accounts", {"name": "Acme"})
    c.save("Accounts", {"id": acc, "industry": "Banking"})
    ids = c.save_many("Contacts", [{"last_name": "a"}, {"last_name": "b"}])
    c.relate("Accounts", acc, "contacts", ids)
    c.unrelate("Accounts", acc, "contacts", ids[:1])
    list(c.related("Accounts", acc, "contacts"))
    list(c.find("Accounts", {"name": "Acme"}, ["name"], order="-name"))
    c.count("Accounts")
    c.get("Accounts", acc)
    c.modules()
    c.server_info()
    c.delete("Accounts", acc)
    c.close()


def test_rest_data_is_a_json_array_in_parameter_order(emu):
    workout(client())
    methods = set()
    for form in emu.raw_requests:
        assert form["input_type"] == "JSON" and form["response_type"] == "JSON"
        data = json.loads(form["rest_data"])
        assert isinstance(data, list), form["method"]
        assert len(data) == len(SIGNATURES[form["method"]]), form["method"]  # every parameter, by position
        methods.add(form["method"])
    assert {"login", "get_module_fields", "get_entry", "get_entry_list", "get_entries_count", "set_entry",
            "set_entries", "set_relationship", "get_relationships", "get_available_modules",
            "get_server_info", "logout"} <= methods
    by_method = {m: a for m, a in emu.calls}
    assert by_method["get_entry_list"][1] == "Accounts"
    assert by_method["set_relationship"][3] == "contacts"


def test_login_sends_md5_and_the_session_is_reused(emu):
    c = client()
    workout(c)
    assert emu.count("login") == 1
    login_auth = emu.calls[0][1][0]
    assert login_auth == {"user_name": USER, "password": hashlib.md5(PASSWORD.encode()).hexdigest()}
    assert all(PASSWORD not in form["rest_data"] for form in emu.raw_requests)
    assert PASSWORD not in repr(c)


def test_relogin_once_after_session_expiry(emu):
    c = client()
    c.count("Accounts")
    emu.expire_sessions()
    assert c.count("Accounts") == 0
    assert emu.count("login") == 2


def test_session_refused_even_after_fresh_login_is_auth_error_without_looping(emu):
    c = client()
    c.count("Accounts")
    emu.always_invalid_session = True
    with pytest.raises(AuthError, match="Invalid Session ID"):
        c.count("Accounts")
    assert emu.count("login") == 2  # the first one, then exactly one re-login


def test_bad_password_is_auth_error_and_not_echoed(emu):
    c = RestV4CRM(URL, USER, "wrong-password", retry_policy=RetryPolicy(sleep=lambda s: None))
    with pytest.raises(AuthError) as err:
        c.modules()
    assert "wrong-password" not in str(err.value)
    assert emu.count("login") == 1  # not retried


def test_unknown_module_is_not_found(emu):
    with pytest.raises(NotFound, match="Module Does Not Exist"):
        client().count("NoSuchModule")


def test_unknown_method_is_protocol_error(emu):
    c = client()
    with pytest.raises(ProtocolError, match="invalid_call"):
        c._call("no_such_method", [])


def test_database_failure_on_a_filter_names_the_fields(emu):
    emu.crm.add_module("Ghosts", [FieldInfo("name", "name"),
                                  FieldInfo("phantom", "varchar", source="non-db")])
    c = client()
    with pytest.raises(ValidationError) as err:
        list(c.find("Ghosts", {"phantom": "x"}))
    assert err.value.fields == ["phantom"]
    assert emu.count("get_entry_list") == 1  # not retried: the same query would fail again


def test_database_failure_on_a_write_is_a_protocol_error(emu, monkeypatch):
    emu.crm.insert("Accounts", {"id": "11111111-2222-3333-4444-555555555555", "name": "taken"})
    monkeypatch.setattr("suitecrm_ext.crm.rest_v4.new_guid", lambda: "11111111-2222-3333-4444-555555555555")
    with pytest.raises(ProtocolError, match="database failure") as err:
        client().save("Accounts", {"name": "clash"})
    assert "Database failure" in err.value.excerpt
    assert emu.crm.get("Accounts", "11111111-2222-3333-4444-555555555555")["name"] == "taken"


def test_empty_500_is_transient_and_retried_then_given_up(emu):
    c = client(retries=2)
    c.count("Accounts")
    emu.fail_next(500, 500, 500)
    with pytest.raises(TransientError, match="HTTP 500 with an empty body"):
        c.count("Accounts")
    assert emu.count("get_entries_count") == 1 and len(c.sleeps) == 2


def test_non_json_answer_is_a_protocol_error_with_excerpt(rsps):
    rsps.add(responses.POST, ENDPOINT, body="<html>PHP Warning: oops</html>", status=200)
    with pytest.raises(ProtocolError) as err:
        client().server_info()
    assert "PHP Warning" in err.value.excerpt


def test_next_offset_that_does_not_advance_is_a_protocol_error(rsps):
    def cb(request):
        form = dict(x.split("=", 1) for x in request.body.split("&"))
        method = form["method"]
        if method == "login":
            return 200, {}, json.dumps({"id": "s" * 26, "module_name": "Users", "name_value_list": {}})
        if method == "get_module_fields":
            return 200, {}, json.dumps({"module_name": "Accounts", "table_name": "accounts",
                                        "module_fields": {"id": {"name": "id", "type": "id"}},
                                        "link_fields": []})
        nvl = {"id": {"name": "id", "value": "a"}}
        entry = {"id": "a", "module_name": "Accounts", "name_value_list": nvl}
        return 200, {}, json.dumps({"result_count": 1, "total_count": "9", "next_offset": 0,
                                    "entry_list": [entry], "relationship_list": []})

    rsps.add_callback(responses.POST, ENDPOINT, callback=cb)
    with pytest.raises(ProtocolError, match="next_offset did not advance"):
        list(client(page_size=1).find("Accounts"))


def test_paging_stops_on_a_short_or_empty_page(emu):
    for i in range(7):
        emu.crm.save("Accounts", {"name": f"a{i}"})
    c = client(page_size=3)
    assert len(list(c.find("Accounts", fields=["name"]))) == 7
    assert emu.count("get_entry_list") == 3  # 3 + 3 + 1
    emu.crm.save("Accounts", {"name": "a7"})
    emu.crm.save("Accounts", {"name": "a8"})
    assert len(list(c.find("Accounts", fields=["name"]))) == 9
    assert emu.count("get_entry_list") == 3 + 4  # 3 + 3 + 3 + the empty past-the-end page


def test_limit_asks_only_for_what_is_needed(emu):
    for i in range(7):
        emu.crm.save("Accounts", {"name": f"a{i}"})
    assert len(list(client(page_size=5).find("Accounts", fields=["name"], limit=6))) == 6
    sizes = [args[7] for m, args in emu.calls if m == "get_entry_list"]
    assert sizes == [5, 1]


def test_query_sent_is_compiled_and_escaped(emu):
    c = client()
    where = Cond("name", "eq", "O'Brien \\ co")
    list(c.find("Accounts", where, ["name"], order=["-name", "jjwg_maps_lat_c"]))
    args = [a for m, a in emu.calls if m == "get_entry_list"][0]
    assert args[2] == "accounts.name = _utf8 X'" + b"O'Brien \\ co".hex().upper() + "'"
    assert args[3] == "name DESC, jjwg_maps_lat_c ASC, id ASC"  # bare: SuiteCRM drops qualified keys
    list(c.find("Accounts", Cond("name", "eq", "O'Brien"), ["name"]))
    args = [a for m, a in emu.calls if m == "get_entry_list"][-1]
    assert args[2] == "accounts.name = 'O''Brien'"


def test_module_fields_are_fetched_once(emu):
    c = client()
    for _ in range(3):
        c.count("Accounts")
        c.save("Accounts", {"name": "x"})
        c.fields("Accounts")
    assert emu.count("get_module_fields") == 1
    assert c.fields("Accounts")["account_type"].options[:3] == ("", "Analyst", "Competitor")


def test_close_logs_out_and_tolerates_a_dead_server(emu, rsps):
    c = client()
    c.count("Accounts")
    c.close()
    assert emu.count("logout") == 1 and c.session_id is None
    c.close()  # nothing to do
    c2 = client()
    c2.count("Accounts")
    emu.fail_next(503)
    c2.close()  # logout failure is logged, not raised


def test_secrets_never_reach_the_logs(emu, caplog):
    caplog.set_level(logging.DEBUG)
    c = client()
    workout(c)
    sid = emu.calls[1][1][0]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert PASSWORD not in text
    assert hashlib.md5(PASSWORD.encode()).hexdigest() not in text
    assert sid not in text


def test_from_settings(emu):
    cfg = load_config_text(
        f"suitecrm:\n  url: {URL}\n  timeout: 5\n  retries: 2\n  rest:\n    username: {USER}\n"
        f"    password: ${{PW}}\n    page_size: 4\n", env={"PW": PASSWORD})
    c = RestV4CRM.from_settings(cfg.settings.suitecrm)
    assert (c.page_size, c.policy.retries, c.http.timeout) == (4, 2, 5.0)
    assert c.count("Accounts") == 0
    no_rest = load_config_text(f"suitecrm:\n  url: {URL}\n", env={})
    with pytest.raises(ValueError, match="suitecrm.rest"):
        RestV4CRM.from_settings(no_rest.settings.suitecrm)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="http"):
        RestV4CRM("crm.example.com", USER, PASSWORD)
    with pytest.raises(ValueError, match="page_size"):
        RestV4CRM(URL, USER, PASSWORD, page_size=0)


def test_to_html_is_undone_exactly():
    """SuiteCRM's to_html() encodes " < > ' and leaves & alone (recorded live: AT&T comes back as is)."""
    assert html_decode("O&#039;Brien & &quot;Sons&quot; &lt;b&gt;") == "O'Brien & \"Sons\" <b>"
    assert html_decode("AT&T &amp;") == "AT&T &amp;"  # a stored "&amp;" is not SuiteCRM's doing
    assert html_decode(5) == 5


def test_related_fields_are_checked_even_when_suitecrm_does_not_name_the_module(emu):
    c = client()
    assert c.links("Contacts")["accounts"] == ""  # as SuiteCRM 7.14.6 answers
    contact = c.save("Contacts", {"last_name": "Petrov"})
    acc = c.save("Accounts", {"name": "Acme"})
    c.relate("Contacts", contact, "accounts", [acc])
    assert [r["name"] for r in c.related("Contacts", contact, "accounts", ["name"])] == ["Acme"]
    with pytest.raises(ValidationError) as err:
        c.related("Contacts", contact, "accounts", ["name", "nope"])
    assert err.value.fields == ["nope"]


def test_create_whose_first_attempt_lands_after_the_probe_is_not_duplicated(emu, monkeypatch):
    """Attempt 1 is processed but its answer lost; the probe before attempt 2 misses it (the server was
    slow); the re-sent INSERT then hits the duplicate id — and the client recognises its own record."""
    c = client()
    c.fields("Accounts")
    real_existing = RestV4CRM._existing
    probes = []

    def slow_server_probe(self, module, ids, **kw):
        probes.append(list(ids))
        return set() if len(probes) == 1 else real_existing(self, module, ids, **kw)

    monkeypatch.setattr(RestV4CRM, "_existing", slow_server_probe)
    emu.lose_next_answer("set_entry")
    rid = c.save("Accounts", {"name": "once"})
    assert [r.id for r in emu.crm.records("Accounts")] == [rid]
    assert emu.count("set_entry") == 2 and len(probes) == 2


def test_max_results_capped_by_the_list_view_size_still_reads_everything(emu):
    """SuiteCRM #4400 (older versions): max_results is capped at list_max_entries_per_page; a short
    page then does not mean the end - total_count says more match."""
    for i in range(13):
        emu.crm.save("Accounts", {"name": f"a{i:02d}"})
    emu.max_results_cap = 5
    c = client(page_size=20)
    got = [r["name"] for r in c.find("Accounts", fields=["name"], order="name")]
    assert got == [f"a{i:02d}" for i in range(13)]
    assert [a[7] for m, a in emu.calls if m == "get_entry_list"] == [20, 20, 20]  # max_results asked
    assert len(list(c.find("Accounts", fields=["name"], limit=7))) == 7
