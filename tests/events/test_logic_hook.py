"""The generated PHP logic hook: php -l, and php-cli runs against the sidecar's real push server on loopback.

The hook class runs with a stand-in bean (tests/events/php/run_hook.php stubs SugarBean, $GLOBALS and
SugarApplication). The server checks the signatures; the tests only look at what got queued.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from push_support import SECRET, Gatekeeper, make_harness

from suitecrm_ext import Event, EventKind, WatchSpec, hookimpl
from suitecrm_ext.events.logic_hook import (
    HOOK_FILE,
    hook_array_php,
    php_literal,
    render_for_plugins,
    render_logic_hook,
)
from suitecrm_ext.events.signing import sign_standard
from suitecrm_ext.testing import build_config, build_registry

pytestmark = pytest.mark.php
PHP = shutil.which("php")
RUNNER = Path(__file__).parent / "php" / "run_hook.php"
if PHP is None:  # pragma: no cover - scripts/test.sh installs php-cli
    pytest.skip("php-cli is not installed (apt-get install php-cli php-curl)", allow_module_level=True)

AID = "41730cef-ec44-6e02-a50b-6b03cc681ad8"
ACCOUNT_DEFS = {
    "id": {"name": "id", "type": "id"},
    "name": {"name": "name", "type": "name"},
    "date_entered": {"name": "date_entered", "type": "datetime"},
    "date_modified": {"name": "date_modified", "type": "datetime"},
    "modified_user_id": {"name": "modified_user_id", "type": "assigned_user_name"},
    "deleted": {"name": "deleted", "type": "bool"},
    "assigned_user_id": {"name": "assigned_user_id", "type": "relate", "dbType": "id"},
    "assigned_user_name": {"name": "assigned_user_name", "type": "relate", "source": "non-db"},
    "industry": {"name": "industry", "type": "enum"},
    "contacts": {"name": "contacts", "type": "link", "source": "non-db"},
}
DOC_DEFS = {n: {"name": n, "type": "varchar"} for n in ("id", "name", "deleted", "status_id", "ack")}
STORED = {"id": AID, "name": "Acme", "date_entered": "2026-11-23 08:00:00",
          "date_modified": "2026-11-23 08:00:00", "modified_user_id": "1", "deleted": "0",
          "assigned_user_id": "seed_sally_id", "industry": "Banking"}


def php_capabilities() -> set[str]:
    out = subprocess.run([PHP, "-m"], capture_output=True, text=True, check=True).stdout
    return {line.strip().lower() for line in out.splitlines()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if "curl" not in php_capabilities():  # pragma: no cover - scripts/test.sh installs php-curl
    pytest.skip("php-curl is not installed (apt-get install php-curl): the hook posts with curl, as "
                "SuiteCRM itself requires it", allow_module_level=True)


@pytest.fixture
def gate():
    return Gatekeeper()


@pytest.fixture
def h(tmp_path, gate):
    harness = make_harness(tmp_path, {"gate": gate}, fail_modes={"Documents": "closed"})
    yield harness
    harness.server.stop()


def install(tmp_path: Path, url: str, **kw) -> Path:
    """Render the bundle into a fake SuiteCRM root; returns the class file."""
    kw.setdefault("validate_modules", ["Documents", "Accounts"])
    kw.setdefault("fail_modes", {"Documents": "closed", "Accounts": "open"})
    bundle = render_logic_hook(["Accounts", "Documents"], url, **kw)
    root = tmp_path / "suitecrm"
    for rel, text in bundle.files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root / HOOK_FILE


def run_hook(tmp_path: Path, hook_file: Path, method: str, *, module="Accounts", values=None,
             fetched_row=None, arguments=None, secret=SECRET, request=None, api="", no_curl=False,
             url=None, field_defs=None, repeat=1, hook_files=None) -> dict:
    config = {"suitecrm_ext": {"secret": secret}} if secret is not None else {}
    if url:
        config.setdefault("suitecrm_ext", {})["url"] = url
    scenario = {
        "hook_file": str(hook_file), "method": method, "event": method, "arguments": arguments or {},
        "sugar_config": config, "user_id": "seed_will_id", "request": request or {}, "api": api,
        "repeat": repeat,
        **({"hook_files": [[str(f), c] for f, c in hook_files]} if hook_files else {}),
        "bean": {"module": module,
                 "field_defs": field_defs or (DOC_DEFS if module == "Documents" else ACCOUNT_DEFS),
                 "fetched_row": fetched_row,
                 "values": values or {}},
    }
    path = tmp_path / f"scenario-{method}.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    cmd = [PHP, "-n", str(RUNNER), str(path)] if no_curl else [PHP, str(RUNNER), str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_generated_files_pass_php_lint(tmp_path):
    hook_file = install(tmp_path, "http://127.0.0.1:8765")
    for path in hook_file.parents[3].rglob("*.php"):
        proc = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert SECRET not in hook_file.read_text()
    assert "$sugar_config" not in hook_file.read_text().split("protected static $settings")[1].split(";")[0]


def test_registrations_match_module_loader_installdefs():
    bundle = render_logic_hook(["Accounts"], "http://sidecar:8765", validate_modules=["Documents"])
    hooks = {(e["module"], e["hook"], e["function"]) for e in bundle.installdefs}
    assert hooks == {("Accounts", "after_save", "afterSave"), ("Accounts", "after_delete", "afterDelete"),
                     ("Accounts", "after_relationship_add", "afterRelationshipAdd"),
                     ("Accounts", "after_relationship_delete", "afterRelationshipDelete"),
                     ("Documents", "before_save", "beforeSave")}
    for e in bundle.installdefs:
        assert set(e) == {"module", "hook", "order", "description", "file", "class", "function"}
        assert e["file"] == HOOK_FILE and e["class"] == "SuiteCRMExtHook"
    ext = bundle.files["custom/Extension/modules/Documents/Ext/LogicHooks/suitecrm_ext.php"]
    assert "$hook_array['before_save'][] = array(90, " in ext and "'beforeSave');" in ext


def test_hook_array_registration_evaluates_in_php(tmp_path):
    bundle = render_logic_hook(["Accounts"], "http://sidecar:8765")
    path = tmp_path / "hooks.php"
    path.write_text(hook_array_php(bundle.installdefs))
    code = f"$hook_array = array(); include '{path}'; echo json_encode($hook_array);"
    out = json.loads(subprocess.run([PHP, "-r", code], capture_output=True, text=True, check=True).stdout)
    assert out["after_save"] == [[90, "suitecrm-ext: after_save -> sidecar", HOOK_FILE, "SuiteCRMExtHook",
                                  "afterSave"]]


def test_after_save_update_reaches_the_server_as_the_pollers_event(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    values = dict(STORED, name="Acme Group", date_modified="2026-11-23 09:00:07",
                  assigned_user_name="Sally Bronsen")
    out = run_hook(tmp_path, hook_file, "afterSave", values=values, fetched_row=STORED,
                   arguments={"isUpdate": True})
    assert out == {"outcome": "returned", "log": []}
    [ev] = h.queued()
    assert (ev.module, ev.record_id, ev.kind, ev.source) == ("Accounts", AID, EventKind.UPDATED, "push")
    assert set(ev.changes) == {"name", "date_modified"}
    assert (ev.changes["name"].before, ev.changes["name"].after) == ("Acme", "Acme Group")
    assert ev.user_id == "seed_will_id"
    assert "assigned_user_name" not in ev.values and "contacts" not in ev.values  # non-db
    assert ev.values["assigned_user_id"] == "seed_sally_id"  # a relate field stored in the table
    polled = Event(module="Accounts", record_id=AID, kind="updated",
                   time=dt.datetime(2026, 11, 23, 9, 0, 7, tzinfo=dt.timezone.utc))
    assert ev.key == polled.key


def test_after_save_create_delete_and_relationships(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    run_hook(tmp_path, hook_file, "afterSave", values=dict(STORED, date_modified="2026-11-23 08:00:01"),
             fetched_row=None, arguments={"isUpdate": False})
    run_hook(tmp_path, hook_file, "afterDelete", values=STORED, fetched_row=STORED, arguments={"id": AID})
    run_hook(tmp_path, hook_file, "afterRelationshipAdd", values=STORED,
             arguments={"id": AID, "module": "Accounts", "related_id": "c1", "related_module": "Contacts",
                        "link": "contacts", "relationship": "accounts_contacts"})
    run_hook(tmp_path, hook_file, "afterRelationshipDelete", values=STORED,
             arguments={"id": AID, "module": "Accounts", "related_id": "c1", "related_module": "Contacts",
                        "link": "contacts", "relationship": "accounts_contacts"})
    # the side of a relationship with no link field (SuiteCRM passes link false): nothing is posted
    out = run_hook(tmp_path, hook_file, "afterRelationshipDelete", values=STORED,
                   arguments={"id": AID, "module": "Accounts", "related_id": "n1", "related_module": "Notes",
                              "link": False, "relationship": "account_notes"})
    assert out == {"outcome": "returned", "log": []}
    assert h.server.stats.snapshot()["refused_total"] == 0
    created, deleted, related, unrelated = h.queued()
    assert created.kind is EventKind.CREATED
    assert created.changes["name"].before is None and created.changes["name"].after == "Acme"
    # timed by date_entered, like the poller's "created", so both sources share the key
    assert created.time == dt.datetime(2026, 11, 23, 8, 0, 0, tzinfo=dt.timezone.utc)
    assert deleted.kind is EventKind.DELETED and deleted.record_id == AID
    assert (related.kind, related.link, related.related_id) == (EventKind.RELATED, "contacts", "c1")
    assert unrelated.kind is EventKind.UNRELATED


USER_DEFS = {
    "id": {"name": "id", "type": "id"},
    "user_name": {"name": "user_name", "type": "user_name"},
    "user_hash": {"name": "user_hash", "type": "varchar", "sensitive": True},  # as in Users/vardefs.php
    "mail_pass": {"name": "mail_pass", "type": "password"},
    "api_token": {"name": "api_token", "type": "encrypt"},
    "status": {"name": "status", "type": "enum"},
}
USER_ROW = {"id": "u1", "user_name": "sally", "user_hash": "$2y$10$secret.hash", "mail_pass": "smtp-pw",
            "api_token": "tok-123", "status": "Active"}


def test_password_hashes_and_secret_fields_never_leave_suitecrm(tmp_path):
    gate = Gatekeeper(modules=("Users",))
    h = make_harness(tmp_path, {"gate": gate})
    try:
        hook_file = tmp_path / "suitecrm" / HOOK_FILE
        hook_file.parent.mkdir(parents=True)
        hook_file.write_text(render_logic_hook(["Users"], h.url, validate_modules=["Users"]).class_file,
                             encoding="utf-8")
        changed = dict(USER_ROW, user_hash="$2y$10$new.hash", mail_pass="smtp-pw2", status="Inactive")
        for method in ("beforeSave", "afterSave"):
            out = run_hook(tmp_path, hook_file, method, module="Users", values=changed, fetched_row=USER_ROW,
                           arguments={"isUpdate": True}, field_defs=USER_DEFS)
            assert out["outcome"] == "returned"
        [ev] = h.queued()
        [change] = gate.asked
    finally:
        h.server.stop()
    assert ev.changes["status"].after == "Inactive" and change.after["status"] == "Inactive"
    for seen in (ev.values, ev.changes, change.before, change.after):
        assert not {"user_hash", "mail_pass", "api_token"} & set(seen), seen


def test_unwatched_module_sends_nothing(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "afterSave", module="Cases", values=STORED, fetched_row=STORED)
    assert out["outcome"] == "returned" and h.queued() == []


DOC_DEFS_VALUES = {"id": "d1", "name": "Contract", "deleted": "0"}


VETO = "Cannot archive: acknowledgement by J. Smith is not completed"


def test_veto_reaches_the_hook_as_an_exception_outside_the_ui_and_apis(tmp_path, h, gate):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents",
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "exception"
    assert out["message"] == VETO
    [change] = gate.asked
    assert change.module == "Documents" and change.record_id == "d1" and change.user_id == "seed_will_id"
    assert change.before["status_id"] == "Acknowledgement"


def test_veto_through_rest_answers_suitecrms_error_object(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents", api="rest",
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "ended"  # the request ends before the row is written
    assert json.loads(out["body"]) == {"name": "Validation Refused", "number": 9090, "description": VETO}


def test_veto_through_soap_answers_a_fault_and_silences_the_died_unexpectedly_fault(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents", api="soap",
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "ended" and out["in_service"] is False
    assert json.loads(out["body"]) == {"faultcode": 9090, "faultstring": "Validation Refused", "detail": VETO}


def test_veto_through_v8_answers_a_json_api_error(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents", api="v8",
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "ended"
    assert json.loads(out["body"]) == {"errors": {"status": 422, "title": "Validation Refused",
                                                  "detail": VETO}}


def test_veto_in_the_web_ui_shows_the_message_and_redirects(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents",
                   request={"module": "Documents", "action": "Save", "record": "d1"},
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "redirect"
    assert out["url"] == "index.php?module=Documents&action=DetailView&record=d1"
    assert out["messages"] == ["Cannot archive: acknowledgement by J. Smith is not completed"]


def package_hooks(tmp_path: Path, url: str, *ids: str) -> list[tuple[Path, str]]:
    """Each package's own hook class on one module, as the package builder makes them."""
    source = install(tmp_path, url).read_text(encoding="utf-8")
    out = []
    for pid in ids:
        path = tmp_path / "suitecrm" / "custom/modules/SuiteCRMExt" / pid / f"SuiteCRMExtHook_{pid}.php"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.replace("\nclass SuiteCRMExtHook\n", f"\nclass SuiteCRMExtHook_{pid}\n"),
                        encoding="utf-8")
        out.append((path, f"SuiteCRMExtHook_{pid}"))
    return out


def test_two_packages_hooks_on_one_module_ask_and_tell_the_sidecar_once_per_save(tmp_path, h, gate):
    hooks = package_hooks(tmp_path, h.url, "pkg_a", "pkg_b")
    values = dict(DOC_DEFS_VALUES, status_id="Archived")
    out = run_hook(tmp_path, hooks[0][0], "beforeSave", module="Documents", values=values, hook_files=hooks,
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "1"})
    assert out == {"outcome": "returned", "log": []}
    assert len(gate.asked) == 1  # the second package's hook took the first one's answer
    out = run_hook(tmp_path, hooks[0][0], "beforeSave", module="Documents", values=values, hook_files=hooks,
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    assert out["outcome"] == "exception" and out["message"] == VETO and len(gate.asked) == 2
    before = h.server.stats.snapshot()["accepted"].get("events", 0)
    run_hook(tmp_path, hooks[0][0], "afterSave", values=dict(STORED, name="Acme Twice"), fetched_row=STORED,
             arguments={"isUpdate": True}, hook_files=hooks)
    # one POST, not one per package
    assert h.server.stats.snapshot()["accepted"].get("events", 0) - before == 1
    assert len(h.queued()) == 1


def test_allowed_change_saves(tmp_path, h, gate):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents",
                   values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                   fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "1"})
    assert out == {"outcome": "returned", "log": []}
    assert len(gate.asked) == 1


@pytest.mark.parametrize("module, outcome", [("Documents", "exception"), ("Accounts", "returned")])
def test_sidecar_down_applies_the_modules_fail_mode(tmp_path, module, outcome):
    hook_file = install(tmp_path, f"http://127.0.0.1:{free_port()}")
    out = run_hook(tmp_path, hook_file, "beforeSave", module=module, values=STORED, fetched_row=STORED)
    assert out["outcome"] == outcome
    if outcome == "exception":
        assert "cannot be checked right now" in out["message"]
    assert any("POST /validate failed" in line for line in out["log"])


def test_sidecar_down_never_breaks_a_save(tmp_path):
    hook_file = install(tmp_path, f"http://127.0.0.1:{free_port()}")
    out = run_hook(tmp_path, hook_file, "afterSave", values=STORED, fetched_row=STORED)
    assert out["outcome"] == "returned"
    assert any("POST /events failed" in line for line in out["log"])


def test_wrong_secret_is_refused_by_the_server(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "afterSave", values=STORED, fetched_row=STORED,
                   secret="not-the-shared-secret-at-all")
    assert any("HTTP 401" in line for line in out["log"])
    assert h.queued() == []
    denied = run_hook(tmp_path, hook_file, "beforeSave", module="Documents", values=DOC_DEFS_VALUES,
                      fetched_row={"id": "d1"}, secret="not-the-shared-secret-at-all")
    assert denied["outcome"] == "exception"  # Documents is fail-closed


def test_missing_secret_in_sugar_config_is_one_warning_and_fails_per_mode(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "beforeSave", module="Accounts", values=STORED, fetched_row=STORED,
                   secret=None)
    assert out["outcome"] == "returned"  # Accounts is fail-open
    assert any("['secret'] is not set" in line for line in out["log"])
    # several saves (and hooks) in one request: one warning, not one line per save
    out = run_hook(tmp_path, hook_file, "afterSave", values=STORED, fetched_row=STORED, secret=None, repeat=5)
    assert len(out["log"]) == 1 and "push and validation are off" in out["log"][0]
    assert h.queued() == []
    denied = run_hook(tmp_path, hook_file, "beforeSave", module="Documents", values=DOC_DEFS_VALUES,
                      fetched_row={"id": "d1"}, secret=None)
    assert denied["outcome"] == "exception"  # Documents is fail-closed


def test_without_php_curl_the_hook_warns_once_and_applies_the_fail_mode(tmp_path, h):
    hook_file = install(tmp_path, h.url)
    out = run_hook(tmp_path, hook_file, "afterSave", values=STORED, fetched_row=STORED, no_curl=True,
                   repeat=3)
    assert out["outcome"] == "returned" and h.queued() == []
    assert out["log"] == ["suitecrm-ext: push and validation are off: the PHP curl extension is not loaded"]


def test_an_answer_not_signed_for_the_request_is_not_trusted(tmp_path, h, gate):
    """A man-in-the-middle answering allow=true without the sidecar's signature cannot approve a change."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Forger(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"allow": true, "message": ""}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("webhook-id", self.headers["webhook-id"])
            self.send_header("webhook-timestamp", self.headers["webhook-timestamp"])
            self.send_header("webhook-signature", sign_standard(
                "a-guessed-secret-0000", self.headers["webhook-id"], self.headers["webhook-timestamp"], body))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    forger = HTTPServer(("127.0.0.1", 0), Forger)
    threading.Thread(target=forger.serve_forever, daemon=True).start()
    try:
        hook_file = install(tmp_path, f"http://127.0.0.1:{forger.server_address[1]}")
        out = run_hook(tmp_path, hook_file, "beforeSave", module="Documents",
                       values=dict(DOC_DEFS_VALUES, status_id="Archived"),
                       fetched_row={"id": "d1", "status_id": "Acknowledgement", "ack": "0"})
    finally:
        forger.shutdown()
    assert out["outcome"] == "exception"  # Documents is fail-closed: an untrusted answer is no answer
    assert "cannot be checked right now" in out["message"]
    assert any("not signed by the sidecar" in line for line in out["log"])


def test_url_from_sugar_config_overrides_the_generated_one(tmp_path, h):
    hook_file = install(tmp_path, f"http://127.0.0.1:{free_port()}")
    out = run_hook(tmp_path, hook_file, "afterSave", values=STORED, fetched_row=STORED, url=h.url)
    assert out["log"] == []
    assert len(h.queued()) == 1


@pytest.mark.parametrize("secret", [SECRET, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
def test_php_and_python_compute_the_same_signature(tmp_path, secret):
    """The hook's own sign() (through its key() for whsec_ secrets), run by php-cli, equals Python's."""
    body = '{"module":"Accounts","name":"Ünïcode"}'
    hook_file = install(tmp_path, "http://127.0.0.1:8765")
    code = (f"define('sugarEntry', true); require {php_literal(str(hook_file))};"
            "class T extends SuiteCRMExtHook { function s($sec, $b) { return $this->sign($this->key($sec), "
            "'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W', '1674087231', $b); } }"
            f"$t = new T(); echo $t->s({php_literal(secret)}, {php_literal(body)});")
    php = subprocess.run([PHP, "-r", code], capture_output=True, text=True, check=True).stdout
    assert php == sign_standard(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "1674087231", body.encode())


@pytest.mark.parametrize("kwargs, message", [
    ({"modules": ["Acc'ounts"]}, "modules: not a SuiteCRM module name"),
    ({"modules": []}, "name at least one module"),
    ({"sidecar_url": "ftp://x"}, "sidecar_url"),
    ({"sidecar_url": "http://x/'; phpinfo(); '"}, "sidecar_url"),
    ({"sidecar_url": "http://sidecar:8765\n"}, "sidecar_url"),
    ({"modules": ["Accounts\n"]}, "modules: not a SuiteCRM module name"),
    ({"fail_modes": {"Accounts": "maybe"}}, "fail mode of Accounts"),
    ({"push_timeout_ms": 10}, "push_timeout_ms"),
])
def test_bad_arguments_are_refused(kwargs, message):
    args = {"modules": ["Accounts"], "sidecar_url": "http://127.0.0.1:8765"} | kwargs
    with pytest.raises(ValueError, match=message):
        render_logic_hook(args.pop("modules"), args.pop("sidecar_url"), **args)


def test_php_literal_escapes_quotes_and_backslashes(tmp_path):
    tricky = {"a'b": "c\\'d", "list": [1, True, None, "x\\"]}
    path = tmp_path / "lit.php"
    path.write_text(f"<?php echo json_encode({php_literal(tricky)});")
    out = subprocess.run([PHP, str(path)], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == tricky


class Handler:
    """Handles Accounts changes."""

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts"), WatchSpec("Contacts", fields=("email1",))]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


def test_bundle_for_the_enabled_plugins_and_config():
    config = build_config(events={"push": {"listen": "10.0.0.5:8765", "validation_budget_ms": 1500},
                                  "validation_fail_mode": {"Documents": "closed"}})
    registry = build_registry({"handler": Handler(), "gate": Gatekeeper()}, config=config)
    bundle = render_for_plugins(registry, config)
    hooks = {(e["module"], e["hook"]) for e in bundle.installdefs}
    assert ("Documents", "before_save") in hooks and ("Documents", "after_save") not in hooks
    assert {("Accounts", "after_save"), ("Contacts", "after_save")} <= hooks
    assert ("Accounts", "before_save") not in hooks
    source = bundle.class_file
    assert "'url' => 'http://10.0.0.5:8765'" in source
    assert "'fail_modes' => array('Documents' => 'closed')" in source
    assert "'validate_timeout_ms' => 2500" in source


def test_bundle_needs_a_reachable_url_when_listening_on_all_addresses():
    config = build_config(events={"push": {"listen": "0.0.0.0:8765"}})
    registry = build_registry({"handler": Handler()}, config=config)
    with pytest.raises(ValueError, match="sidecar_url"):
        render_for_plugins(registry, config)
    assert render_for_plugins(registry, config, "https://sidecar.internal").installdefs
