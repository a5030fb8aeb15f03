"""Hostile input at every edge parser, hypothesis-driven: a clear error naming what is wrong (and
where), never another exception, and nothing written.

- push bodies: signed POSTs of mangled event / validation bodies to a real PushServer on loopback →
  200 or a 4xx ``{"error": ...}``; a refused body queues nothing; never a 5xx;
- 1C: arbitrary bytes as a bank-statement file → a Statement or a StatementError naming the file
  (mutations of a real statement file: tests/plugins/onec_bridge/test_fuzz.py); hostile OData answers
  from a loopback HTTP server → rows or a OneCError;
- portal data: any JSON-ish value against any internal field type → fits or a Problem naming the field;
- config files: mutated lines of config/suitecrm-ext.example.yaml → a Config or a ConfigError naming
  the file;
- package schemas: mutated lines of every plugin's schema.yaml → a Schema or a SchemaError naming
  the file.

``FUZZ_COUNTS`` collects how many inputs each test tried and how many it refused (read by
bench/reliability.py, which runs this file).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "events"))

from push_support import make_harness  # noqa: E402

from plugins.onec_bridge.odata import ODataClient, OneCError  # noqa: E402
from plugins.onec_bridge.statement import StatementError, parse_statement  # noqa: E402
from plugins.portal_sync.validation import check_value  # noqa: E402
from suitecrm_ext.config import ConfigError, load_config_text  # noqa: E402
from suitecrm_ext.crm.base import FieldInfo  # noqa: E402
from suitecrm_ext.packaging.schema import SchemaError, load_schema  # noqa: E402

#: test name -> Counter(tried=, refused=) (bench/reliability.py reports these)
FUZZ_COUNTS: dict[str, Counter] = {}
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def count(name: str, refused: bool) -> None:
    c = FUZZ_COUNTS.setdefault(name, Counter())
    c["tried"] += 1
    c["refused"] += int(refused)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=12,
)
GOOD_EVENT = {
    "module": "Documents", "id": "41730cef-ec44-6e02-a50b-6b03cc681ad8", "kind": "updated",
    "date_modified": "2026-11-23 09:00:07", "user_id": "1",
    "changes": {"status_id": {"before": "Draft", "after": "Active"}},
    "values": {"status_id": "Active", "date_modified": "2026-11-23 09:00:07", "deleted": "0"},
}
GOOD_CHANGE = {"module": "Documents", "id": "41730cef-ec44-6e02-a50b-6b03cc681ad8", "user_id": "1",
               "before": {"status_id": "Draft"}, "after": {"status_id": "Active"}}


@st.composite
def mangled(draw, good: dict) -> bytes:
    doc = dict(good)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(good) + ["link", "related_id", "date_entered", "extra"]))
        op = draw(st.sampled_from(["drop", "value", "value"]))
        if op == "drop":
            doc.pop(key, None)
        else:
            doc[key] = draw(JSON)
    body = json.dumps(doc).encode()
    if draw(st.integers(0, 9)) == 0:  # now and then not JSON at all / cut short / not an object
        body = draw(st.sampled_from([body[: len(body) // 2], b"[1, 2]", b"\xff\xfe{", b"null", b"{}"]))
    return body


@pytest.fixture(scope="module")
def push(tmp_path_factory):
    from push_support import Gatekeeper

    harness = make_harness(tmp_path_factory.mktemp("fuzz-push"), {"gate": Gatekeeper()}, max_body=65536)
    yield harness
    harness.server.stop()


@FUZZ
@given(body=mangled(GOOD_EVENT))
def test_push_event_bodies_are_queued_or_refused_clearly(push, body):
    before = len(push.queued())
    resp = push.post("/events", body=body)
    refused = resp.status_code != 200
    count("push /events bodies", refused)
    assert resp.status_code in (200, 400), (resp.status_code, resp.text[:300])
    if refused:
        error = resp.json()["error"]
        assert isinstance(error, str) and error
        assert len(push.queued()) == before  # nothing queued
    else:
        assert resp.json()["ok"] is True


@FUZZ
@given(body=mangled(GOOD_CHANGE))
def test_validate_bodies_get_a_verdict_or_a_clear_refusal(push, body):
    resp = push.post("/validate", body=body)
    count("push /validate bodies", resp.status_code != 200)
    assert resp.status_code in (200, 400), (resp.status_code, resp.text[:300])
    doc = resp.json()
    assert isinstance(doc["allow"], bool) if resp.status_code == 200 else doc["error"]


@FUZZ
@given(data=st.binary(max_size=400) | st.builds(
    lambda head, junk: head + junk,
    st.sampled_from([b"1CClientBankExchange\r\n", "1CClientBankExchange\r\nВерсияФормата=1.03\r\n"
                     "Кодировка=Windows\r\n".encode("cp1251")]),
    st.binary(max_size=300)))
def test_any_bytes_as_a_bank_statement_parse_or_fail_naming_the_file(data):
    try:
        parse_statement(data, source="fuzz.txt")
        count("1C statement files", False)
    except StatementError as exc:
        count("1C statement files", True)
        assert str(exc).startswith("fuzz.txt") and exc.reason


class _Answers(BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"{}")

    def do_GET(self):  # noqa: N802 - http.server's name
        status, body = type(self).answer
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def odata():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bp/odata/standard.odata"
    server.shutdown()


@FUZZ
@given(status=st.sampled_from([200] * 6 + [204, 400, 401, 403, 404, 429, 500, 503]),
       body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()),
                      st.lists(st.dictionaries(st.text(max_size=8), JSON, max_size=3) | JSON, max_size=3)
                      .map(lambda rows: json.dumps({"value": rows}).encode()),
                      st.binary(max_size=60)))
def test_hostile_odata_answers_give_rows_or_a_onec_error(odata, status, body):
    _Answers.answer = (status, body)
    client = ODataClient(odata, "Администратор", "pw", retries=0, sleep=lambda s: None, timeout=5)
    try:
        rows = list(client.list("Catalog_Контрагенты", page_size=50))
        count("1C OData answers", False)
        assert all(isinstance(r, dict) for r in rows)
    except OneCError as exc:
        count("1C OData answers", True)
        assert str(exc).startswith("1C OData")


FIELD_TYPES = ["varchar", "name", "text", "int", "bool", "date", "datetime", "enum", "multienum",
               "relate", "id", "currency", "decimal", "phone", "email", "url"]


@FUZZ
@given(ftype=st.sampled_from(FIELD_TYPES), length=st.none() | st.integers(1, 255), value=JSON)
def test_portal_values_fit_or_are_refused_naming_the_field(ftype, length, value):
    info = FieldInfo("ext_field", ftype, options=("a", "b"), length=length)
    problem = check_value("ext_field", value, info)
    count("portal data values", problem is not None)
    if problem is not None:
        assert problem.field == "ext_field" and problem.message


EXAMPLE = (ROOT / "config" / "suitecrm-ext.example.yaml").read_text(encoding="utf-8").splitlines()
ENV = {"SUITECRM_PASSWORD": "pw", "SUITECRM_URL": "http://127.0.0.1:8080"}
YAML_JUNK = st.sampled_from(["", "  ", ":", "- x", "url: ftp://x", "timeout: -1", "retries: many",
                             "  bogus: 1", "\tkey: tab", "[", "{a: 1", "write_via: carrier-pigeon",
                             "*alias", "&a x", "key: [1, 2", "push:", "  enabled: maybe"])


@st.composite
def mutated_lines(draw, lines: list[str]) -> str:
    out = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(["delete", "junk", "insert", "indent", "value"]))
        if op == "delete":
            del out[i]
        elif op == "junk":
            out[i] = draw(YAML_JUNK)
        elif op == "insert":
            out.insert(i, draw(YAML_JUNK))
        elif op == "indent":
            out[i] = " " * draw(st.integers(1, 3)) + out[i]
        elif ":" in out[i]:
            out[i] = out[i].split(":", 1)[0] + ": " + json.dumps(draw(JSON))
        if not out:
            break
    return "\n".join(out) + "\n"


@FUZZ
@given(text=mutated_lines(EXAMPLE))
def test_mutated_config_files_load_or_fail_naming_the_file(text):
    try:
        load_config_text(text, Path("fuzz.yaml"), env=ENV)
        count("config files", False)
    except ConfigError as exc:
        count("config files", True)
        assert "fuzz.yaml" in str(exc)


SCHEMAS = {p.parent.name: p.read_text(encoding="utf-8").splitlines()
           for p in sorted((ROOT / "plugins").glob("*/schema.yaml"))}


@FUZZ
@given(data=st.data(), plugin=st.sampled_from(sorted(SCHEMAS)))
def test_mutated_package_schemas_load_or_fail_naming_the_file(data, plugin):
    text = data.draw(mutated_lines(SCHEMAS[plugin]))
    try:
        load_schema(text, plugin, source="fuzz-schema.yaml")
        count("package schemas", False)
    except SchemaError as exc:
        count("package schemas", True)
        assert "fuzz-schema.yaml" in str(exc) or plugin in str(exc)
