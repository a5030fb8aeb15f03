"""SOAP v4_1 transport: the envelopes it sends (as nusoap needs them), the recorded answers and faults, the
WSDL sources (never the internet), and the PHP 8 failure of an unmodified SuiteCRM 7.14.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest
import responses
from crm.emulators.soap import SoapEmulator
from lxml import etree

from suitecrm_ext.crm.base import AuthError, Cond, ProtocolError, TransientError, ValidationError
from suitecrm_ext.crm.http import RetryPolicy
from suitecrm_ext.crm.soap import SoapCRM, packaged_wsdl
from suitecrm_ext.testing import build_config

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "soap"
URL = "http://suitecrm.test"
ENDPOINT = URL + "/service/v4_1/soap.php"
ENC = "{http://schemas.xmlsoap.org/soap/encoding/}arrayType"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XML = "text/xml; charset=UTF-8"


def recorded(name: str) -> dict:
    return json.loads((FIX / f"{name}.json").read_text())


def shape(envelope: bytes | str) -> list[tuple]:
    """Element names, texts and SOAP-ENC/xsi types in document order (prefix-independent)."""
    root = etree.fromstring(envelope.encode() if isinstance(envelope, str) else envelope)
    out = []
    for el in root.iter():
        out.append((etree.QName(el).localname, (el.text or "").strip(), el.get(ENC), el.get(XSI_TYPE)))
    return out


def no_sleep_policy(retries: int = 3) -> RetryPolicy:
    return RetryPolicy(retries=retries, sleep=lambda s: None, rng=lambda: 0.5)


def soap_client(**kw) -> SoapCRM:
    kw.setdefault("retry_policy", no_sleep_policy())
    return SoapCRM(URL, "admin", kw.pop("password", "admin"), **kw)


# --- request envelopes --------------------------------------------------------------------------


def test_get_entry_list_envelope_is_the_recorded_one():
    rec = recorded("patched-get_entry_list")
    env, action = soap_client().build_envelope(
        "get_entry_list", ["nm037i5f30ep05549f2209g9jr", "Accounts", "", "accounts.name", 0,
                           ["id", "name", "date_modified"], [], 2, 0, False])
    assert shape(env) == shape(rec["request_envelope"])
    assert action == "http://127.0.0.1/service/v4_1/soap.php/get_entry_list"


def test_login_envelope_sends_the_md5_and_an_encoded_empty_array():
    rec = recorded("patched-login")
    c = soap_client(password="s3cret")
    auth = {"user_name": "admin", "password": c._password_md5}
    env, _ = c.build_envelope("login", [auth, "sidecar-lab", []])
    got, want = shape(env), shape(rec["request_envelope"])
    md5 = hashlib.md5(b"s3cret").hexdigest()
    assert [g for g in got if g[0] != "password"] == [w for w in want if w[0] != "password"]
    assert ("password", md5, None, None) in got and b"s3cret" not in env


def test_nested_arrays_carry_array_types_with_the_prefix_in_scope():
    lists = [[{"name": "name", "value": "a"}], []]
    env, _ = soap_client().build_envelope("set_entries", ["s", "Accounts", lists])
    root = etree.fromstring(env)
    outer = root.find(".//name_value_lists")
    prefix = outer.getparent().prefix
    assert outer.get(ENC) == f"{prefix}:name_value_list[2]"
    first, second = list(outer)
    assert first.get(ENC) == f"{prefix}:name_value[1]" and second.get(ENC) == "xsd:anyType[0]"
    assert first[0].get(XSI_TYPE) == f"{prefix}:name_value"
    assert root.nsmap.get(prefix) or outer.getparent().nsmap[prefix] == "http://www.sugarcrm.com/sugarcrm"


def test_every_part_is_required_in_wsdl_order():
    with pytest.raises(ValueError, match="takes 4 parts"):
        soap_client().build_envelope("get_entries_count", ["s", "Accounts"])


# --- answers and faults (recorded) --------------------------------------------------------------


def serve_sequence(rsps: responses.RequestsMock, names_and_status: list[tuple[str, int]]) -> list:
    answers = [(status, recorded(name)["response_envelope"]) for name, status in names_and_status]
    seen = []

    def cb(request):
        seen.append(etree.QName(etree.fromstring(request.body).find(
            "{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]).localname)
        status, body = answers.pop(0)
        return status, {"Content-Type": XML}, body

    rsps.add_callback("POST", ENDPOINT, callback=cb)
    return seen


def test_recorded_answers_are_read(caplog):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as rsps:
        seen = serve_sequence(rsps, [("patched-login", 200), ("patched-get_entry_list", 200),
                                     ("patched-get_entries_count", 200), ("patched-logout", 200)])
        c = soap_client()
        c._fields["Accounts"], c._tables["Accounts"], c._links["Accounts"] = {}, "accounts", {}
        page = c._call("get_entry_list", ["Accounts", "", "accounts.name", 0, ["id"], [], 2, 0, False])
        recs = [c._record("Accounts", e, None) for e in page["entry_list"]]
        assert c.session_id == "nm037i5f30ep05549f2209g9jr" and c.user_id == "1"
        assert [r["name"] for r in recs] == ["Plain JSON Ltd", "South Sea Plumbing Products"]
        assert recs[1]["date_modified"].isoformat() == "2026-11-23T05:17:26+00:00"  # seconds kept
        assert c.count("Accounts") == 51
        c.close()
    assert seen == ["login", "get_entry_list", "get_entries_count", "logout"]
    assert "nm037i5f30ep05549f2209g9jr" not in caplog.text


def test_invalid_session_fault_logs_in_again_once():
    with responses.RequestsMock() as rsps:
        seen = serve_sequence(rsps, [("patched-login", 200), ("patched-invalid-session", 500),
                                     ("patched-login", 200), ("patched-get_entries_count", 200)])
        c = soap_client()
        c._fields["Accounts"], c._tables["Accounts"], c._links["Accounts"] = {}, "accounts", {}
        assert c.count("Accounts") == 51
    assert seen == ["login", "get_entries_count", "login", "get_entries_count"]


def test_invalid_session_right_after_login_is_an_auth_error():
    with responses.RequestsMock() as rsps:
        serve_sequence(rsps, [("patched-login", 200), ("patched-invalid-session", 500),
                              ("patched-login", 200), ("patched-invalid-session", 500)])
        c = soap_client()
        c._fields["Accounts"], c._tables["Accounts"], c._links["Accounts"] = {}, "accounts", {}
        with pytest.raises(AuthError, match="Invalid Session ID"):
            c.count("Accounts")


def test_bad_password_fault_is_an_auth_error_without_the_password():
    with responses.RequestsMock() as rsps:
        serve_sequence(rsps, [("patched-login-bad-password", 500)])
        c = soap_client(password="hunter2-xyz")
        with pytest.raises(AuthError, match="Invalid Login") as err:
            c.fields("Accounts")
        assert len(rsps.calls) == 1
    assert "hunter2-xyz" not in str(err.value) and c._password_md5 not in str(err.value)


@pytest.mark.parametrize("name", ["stock-php82-login", "stock-php82-login-bad-password"])
def test_stock_php8_fault_points_at_the_known_issue_and_is_not_retried(name):
    with responses.RequestsMock() as rsps:
        serve_sequence(rsps, [(name, 500)])
        with pytest.raises(ProtocolError) as err:
            soap_client().modules()
        assert len(rsps.calls) == 1
    text = str(err.value)
    assert "9741" in text and "PHP 8" in text and "rest or v8" in text


def test_http_errors_without_a_fault_are_transient_and_retried():
    with responses.RequestsMock() as rsps:
        answers = [(502, "<html>Bad Gateway</html>"), (503, ""),
                   (200, recorded("patched-login")["response_envelope"]),
                   (200, recorded("patched-get_entries_count")["response_envelope"])]

        def cb(request):
            status, body = answers.pop(0)
            return status, {"Content-Type": "text/html" if status != 200 else XML}, body

        rsps.add_callback("POST", ENDPOINT, callback=cb)
        c = soap_client()
        c._fields["Accounts"], c._tables["Accounts"], c._links["Accounts"] = {}, "accounts", {}
        assert c.count("Accounts") == 51
        assert len(rsps.calls) == 4


def test_transient_errors_surface_once_the_retries_are_spent():
    with responses.RequestsMock() as rsps:
        rsps.add("POST", ENDPOINT, status=503, body="")
        with pytest.raises(TransientError, match="HTTP 503"):
            soap_client(retry_policy=no_sleep_policy(retries=1)).modules()
        assert len(rsps.calls) == 2


def test_an_answer_that_is_not_soap_is_a_protocol_error():
    with responses.RequestsMock() as rsps:
        rsps.add("POST", ENDPOINT, body="<html>login page</html>", status=200, content_type="text/html")
        with pytest.raises(ProtocolError, match="cannot read the answer"):
            soap_client()._login()


# --- WSDL sources ---------------------------------------------------------------------------------


def test_packaged_wsdl_loads_without_any_network():
    with responses.RequestsMock():  # any HTTP request would fail: nothing is registered
        c = soap_client()
        assert "get_entry_list" in c.client.service._binding._operations


def test_wsdl_from_the_server_uses_the_packaged_schemas():
    with responses.RequestsMock() as rsps:
        rsps.add("GET", ENDPOINT + "?wsdl", body=packaged_wsdl().read_bytes(),
                 content_type="text/xml; charset=ISO-8859-1")
        c = soap_client(wsdl="server")
        assert "set_relationship" in c.client.service._binding._operations
        assert [call.request.url for call in rsps.calls] == [ENDPOINT + "?wsdl"]


def test_wsdl_from_a_file_and_a_missing_file(tmp_path):
    copy = tmp_path / "v4_1.wsdl"
    shutil.copy(packaged_wsdl(), copy)
    assert "logout" in soap_client(wsdl=str(copy)).client.service._binding._operations
    with pytest.raises(ProtocolError, match="cannot load the WSDL from .*nope.wsdl"):
        soap_client(wsdl=str(tmp_path / "nope.wsdl")).modules()


def test_from_settings_reads_the_soap_section():
    soap = {"username": "u", "password": "p", "wsdl": "server", "page_size": 9}
    cfg = build_config(suitecrm={"url": "https://crm.example.com", "retries": 1, "write_via": "soap",
                                 "soap": soap})
    c = SoapCRM.from_settings(cfg.settings.suitecrm)
    assert (c.endpoint, c.username, c.wsdl, c.page_size) == (
        "https://crm.example.com/service/v4_1/soap.php", "u", "server", 9)
    with pytest.raises(ValueError, match="suitecrm.soap"):
        SoapCRM.from_settings(build_config().settings.suitecrm)


# --- through the emulator --------------------------------------------------------------------


@pytest.fixture
def emu():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield SoapEmulator(base_url=URL, username="admin", password="admin").install(rsps)


def test_control_characters_are_refused_before_anything_is_sent(emu):
    c = soap_client()
    with pytest.raises(ValidationError) as err:
        c.save("Accounts", {"name": "nul\x00byte"})  # SuiteCRM would drop it (every API refuses it)
    assert err.value.fields == ["name"] and "NUL" in str(err.value)
    with pytest.raises(ValidationError) as err:
        c.save("Accounts", {"name": "fine", "description": "not in XML 1.0: \ufffe"})
    assert err.value.fields == ["description"] and "rest or v8" in str(err.value)
    assert emu.count("set_entry") == 0


def test_hostile_query_values_reach_suitecrm_escaped(emu):
    c = soap_client()
    value = "\\'; DROP TABLE accounts; --"
    rid = c.save("Accounts", {"name": value})
    c.save("Accounts", {"name": "other"})
    assert [r.id for r in c.find("Accounts", Cond("name", "eq", value))] == [rid]
    query = [args[2] for m, args in emu.calls if m == "get_entry_list" and "X'" in str(args[2])][0]
    assert query == "accounts.name = _utf8 X'" + value.encode().hex().upper() + "'"  # no backslash sent


def test_a_stock_php8_server_fails_every_call_with_the_hint(emu):
    emu.php8_stock = True
    with pytest.raises(ProtocolError, match="9741"):
        soap_client().count("Accounts")
