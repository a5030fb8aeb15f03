"""A save refused by the suitecrm-ext logic hook (before_save veto) is a typed ValidationRefused on every
API transport, carrying the plugin's message; the answers are the ones recorded on a real SuiteCRM
7.14.6 with the generated hook installed (tests/live/test_live_veto_push.py checks them live)."""

from __future__ import annotations

import json
from pathlib import Path

import requests
import zeep
from lxml import etree

from suitecrm_ext.crm.base import REFUSED_NAME, REFUSED_NUMBER, ValidationError, ValidationRefused
from suitecrm_ext.crm.rest_v4 import RestV4CRM
from suitecrm_ext.crm.soap import SoapCRM
from suitecrm_ext.crm.v8 import V8CRM

FIX = Path(__file__).resolve().parents[1] / "fixtures"
MESSAGE = "Документ нельзя так назвать"


def _response(status: int, content_type: str, body: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = content_type
    r._content = body.encode("utf-8")
    return r


def test_rest_error_object_9090_is_validation_refused():
    rec = json.loads((FIX / "rest_v4" / "set_entry-vetoed.json").read_text(encoding="utf-8"))
    assert rec["response"] == {"name": REFUSED_NAME, "number": REFUSED_NUMBER, "description": MESSAGE}
    c = RestV4CRM("http://suitecrm.test", "admin", "pw")
    resp = _response(200, rec["http"]["response_content_type"], json.dumps(rec["response"]))
    try:
        c._raise_api_error("set_entry", rec["response"], resp)
    except ValidationRefused as exc:
        assert exc.reason == MESSAGE and exc.transport == "rest" and isinstance(exc, ValidationError)
        assert MESSAGE in str(exc)
    else:  # pragma: no cover
        raise AssertionError("no ValidationRefused")


def test_v8_422_validation_refused_error_is_validation_refused():
    rec = json.loads((FIX / "v8" / "patch-module-vetoed.json").read_text(encoding="utf-8"))
    body = rec["response"]["body"]
    assert rec["response"]["status"] == 422 and body["errors"]["title"] == REFUSED_NAME
    c = V8CRM("http://suitecrm.test", "id", "secret")
    err = c._api_error(_response(422, rec["response"]["headers"]["Content-Type"], json.dumps(body)), body,
                       "V8 PATCH Documents", "Documents")
    assert isinstance(err, ValidationRefused)
    assert err.reason == MESSAGE and err.transport == "v8" and err.module == "Documents"


def test_an_ordinary_v8_400_stays_a_validation_error_not_a_refusal():
    body = {"errors": {"status": 400, "title": None, "detail": "Bad Request"}}
    err = V8CRM("http://suitecrm.test", "id", "secret")._api_error(
        _response(400, "application/vnd.api+json", json.dumps(body)), body, "V8 PATCH", None)
    assert type(err) is ValidationError


def test_soap_fault_9090_is_validation_refused():
    rec = json.loads((FIX / "soap" / "patched-set_entry-vetoed.json").read_text(encoding="utf-8"))
    assert rec["response_http_status"] == 500
    root = etree.fromstring(rec["response_envelope"].encode("utf-8"))
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    zfault = zeep.exceptions.Fault(fault.findtext("faultstring"), code=fault.findtext("faultcode"),
                                   detail=fault.find("detail"))
    c = SoapCRM.__new__(SoapCRM)
    c.name = "soap"
    try:
        c._raise_fault("set_entry", zfault)
    except ValidationRefused as exc:
        assert exc.reason == MESSAGE and exc.transport == "soap"
    else:  # pragma: no cover
        raise AssertionError("no ValidationRefused")
