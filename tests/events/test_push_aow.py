"""``POST /aow``: a SuiteCRM workflow action handed to the plugin that runs it (events/aow.py)."""

from __future__ import annotations

import pytest
from push_support import SECRET, make_harness

from suitecrm_ext import hookimpl

BODY = {"action": "RunThing", "package": "sxt_t", "action_id": "a1b2c3d4-0000-4000-8000-000000000001",
        "workflow_id": "w1", "processed_id": "a1b2c3d4-0000-4000-8000-000000000002", "module": "Accounts",
        "id": "acc-1", "user_id": "1", "in_save": True, "params": {"what": "x"}}


class Runner:
    """Runs RunThing (records the calls); other actions are not its own."""

    def __init__(self, action="RunThing", behaviour="ok"):
        self.action = action
        self.behaviour = behaviour
        self.calls = []

    @hookimpl
    def ext_aow_action(self, call, ctx):
        if call.action != self.action:
            return None
        if self.behaviour == "raise":
            raise RuntimeError("runner bug")
        self.calls.append(call)
        return {"ok": True, "run": call.key}


@pytest.fixture
def runner():
    return Runner()


def test_the_plugin_whose_action_it_is_answers(tmp_path, runner):
    other = Runner(action="OtherThing")
    h = make_harness(tmp_path, {"a_other": other, "b_runner": runner})
    try:
        r = h.post("/aow", BODY)
        assert r.status_code == 200, r.text
        key = f"{BODY['processed_id']}:{BODY['action_id']}"
        assert r.json() == {"ok": True, "run": key, "plugin": "b_runner"}
        [call] = runner.calls
        assert (call.module, call.record_id, call.in_save) == ("Accounts", "acc-1", True)
        assert call.params == {"what": "x"}
        assert other.calls == []
        assert r.headers["webhook-signature"].startswith("v1,")  # answers are signed like /validate's
    finally:
        h.server.stop()


def test_no_plugin_for_the_action_is_404_naming_it(tmp_path):
    h = make_harness(tmp_path, {"other": Runner(action="OtherThing")})
    try:
        r = h.post("/aow", BODY)
        assert r.status_code == 404
        assert "no enabled plugin runs the workflow action 'RunThing'" in r.json()["error"]
    finally:
        h.server.stop()


@pytest.mark.parametrize("change, error", [
    ({"action": "run thing"}, "action: not an AOW action name"),
    ({"processed_id": ""}, "processed_id: required"),
    ({"action_id": "x'; drop"}, "action_id: not a SuiteCRM id"),
    ({"params": {"what": 5}}, "params.what: expected a string"),
    ({"params": "x"}, "params: expected an object"),
    ({"module": "1bad"}, "module: not a module name"),
])
def test_a_malformed_body_is_400_naming_the_field(tmp_path, runner, change, error):
    h = make_harness(tmp_path, {"runner": runner})
    try:
        r = h.post("/aow", {**BODY, **change})
        assert r.status_code == 400 and error in r.json()["error"], r.text
        assert runner.calls == []
    finally:
        h.server.stop()


def test_unsigned_replayed_or_failing_calls_are_refused(tmp_path, runner):
    h = make_harness(tmp_path, {"runner": runner})
    try:
        assert h.post("/aow", BODY, secret="not-the-secret-at-all").status_code == 401
        assert h.post("/aow", BODY, message_id="msg_same").status_code == 200
        assert h.post("/aow", BODY, message_id="msg_same").status_code == 409
        assert len(runner.calls) == 1
    finally:
        h.server.stop()
    h = make_harness(tmp_path / "b", {"runner": Runner(behaviour="raise")})
    try:
        r = h.post("/aow", BODY, secret=SECRET)
        assert r.status_code == 503
    finally:
        h.server.stop()
