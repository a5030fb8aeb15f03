"""The push receiver over real HTTP on loopback: signed events, refusals, validation (budget, fail modes)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import time

import pytest
import requests
from push_support import SECRET, Gatekeeper, make_harness

from suitecrm_ext import Event, EventKind, WatchSpec, hookimpl
from suitecrm_ext.events.push import PushConfigError, PushServer
from suitecrm_ext.events.signing import (
    ID_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    STD_SIGNATURE_HEADER,
    STD_TIMESTAMP_HEADER,
    signed_headers,
    standard_headers,
    verify,
)
from suitecrm_ext.testing import build_app, build_config, build_registry

AID = "41730cef-ec44-6e02-a50b-6b03cc681ad8"
UPDATE = {
    "module": "Accounts", "id": AID, "kind": "updated", "date_modified": "2026-11-23 09:00:07",
    "user_id": "1", "changes": {"name": {"before": "Acme", "after": "Acme Group"}},
    "values": {"name": "Acme Group", "date_modified": "2026-11-23 09:00:07", "deleted": "0"},
}


@pytest.fixture
def h(tmp_path):
    harness = make_harness(tmp_path, {"gate": Gatekeeper()})
    yield harness
    harness.server.stop()


def test_signed_event_is_queued_with_the_pollers_key(h):
    r = h.post("/events", UPDATE)
    assert r.status_code == 200, r.text
    [ev] = h.queued()
    assert ev.source == "push" and ev.kind is EventKind.UPDATED and ev.module == "Accounts"
    assert ev.changes["name"].before == "Acme" and ev.changes["name"].after == "Acme Group"
    assert ev.values["date_modified"] == dt.datetime(2026, 11, 23, 9, 0, 7, tzinfo=dt.timezone.utc)
    assert ev.values["deleted"] is False and ev.user_id == "1"
    polled = Event(module="Accounts", record_id=AID, kind="updated",
                   time=dt.datetime(2026, 11, 23, 9, 0, 7, tzinfo=dt.timezone.utc))
    assert ev.key == polled.key == r.json()["key"]
    assert r.json()["new"] is True


def test_created_event_is_timed_by_date_entered_like_the_pollers(h):
    doc = dict(UPDATE, kind="created", date_entered="2026-11-23 09:00:06")
    assert h.post("/events", doc).status_code == 200
    [ev] = h.queued()
    assert ev.time == dt.datetime(2026, 11, 23, 9, 0, 6, tzinfo=dt.timezone.utc)
    bad = h.post("/events", dict(doc, date_entered="soon"))
    assert bad.status_code == 400 and "date_entered" in bad.json()["error"]


def test_same_change_pushed_twice_is_queued_once(h):
    assert h.post("/events", UPDATE).json()["new"] is True
    again = h.post("/events", UPDATE)  # a fresh nonce: a legitimate resend
    assert again.status_code == 200 and again.json()["new"] is False
    assert len(h.queued()) == 1


def test_on_queued_is_called_for_new_events_only(h):
    seen = []
    h.server.on_queued = seen.append
    h.post("/events", UPDATE)
    h.post("/events", UPDATE)  # a resend of the same change
    assert [e.key for e in seen] == [h.queued()[0].key]
    h.server.on_queued = lambda ev: 1 / 0  # a broken callback does not turn a stored event into an error
    assert h.post("/events", dict(UPDATE, id="other")).status_code == 200


def test_relationship_event(h):
    doc = {"module": "Accounts", "id": AID, "kind": "related", "link": "contacts",
           "related_module": "Contacts", "related_id": "c1", "user_id": "1"}
    assert h.post("/events", doc).status_code == 200
    [ev] = h.queued()
    assert (ev.kind, ev.link, ev.related_module, ev.related_id) == (EventKind.RELATED, "contacts",
                                                                    "Contacts", "c1")


class BrokenStore:
    """A store whose queue write fails (disk full, DB down)."""

    def __init__(self, store, failures: int = 10**9):
        self.store = store
        self.failures = failures

    def __getattr__(self, name):
        return getattr(self.store, name)

    def enqueue(self, events, *, cursor=None):
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("disk I/O error")
        return self.store.enqueue(events, cursor=cursor)


@pytest.mark.parametrize("tamper, reason, counted", [
    ({"secret": "another-secret-0123456789"}, "signature does not match", "forged"),
    ({"headers": {STD_SIGNATURE_HEADER: "v1,AAAA"}}, "signature does not match", "forged"),
    ({"headers": {STD_SIGNATURE_HEADER: ""}}, "missing header webhook-signature", "forged"),
    ({"headers": {STD_TIMESTAMP_HEADER: ""}}, "missing header webhook-timestamp", "malformed"),
    ({"headers": {ID_HEADER: "bad id!"}}, "webhook-id: expected", "malformed"),
    ({"timestamp": -301}, "stale or future timestamp", "stale"),
    ({"timestamp": +301}, "stale or future timestamp", "stale"),
    ({"legacy": True, "secret": "another-secret-0123456789"}, "signature does not match", "forged"),
    ({"legacy": True, "headers": {SIGNATURE_HEADER: ""}}, "missing header X-SuiteCRM-Ext-Signature",
     "forged"),
    ({"legacy": True, "headers": {NONCE_HEADER: "short"}}, "X-SuiteCRM-Ext-Nonce", "malformed"),
    ({"legacy": True, "timestamp": +301}, "stale or future timestamp", "stale"),
])
def test_forged_or_stale_requests_get_401_nothing_queued_and_are_counted(h, tamper, reason, counted):
    if "timestamp" in tamper:  # an offset from now
        tamper = dict(tamper, timestamp=int(time.time()) + tamper["timestamp"])
    r = h.post("/events", UPDATE, **tamper)
    assert r.status_code == 401
    assert reason in r.json()["error"]
    assert h.queued() == []
    assert h.server.stats.snapshot()["refused"][counted] == 1


def test_unsigned_request_is_refused(h):
    r = requests.post(h.url + "/events", json=UPDATE, timeout=10)
    assert r.status_code == 401 and "missing headers webhook-id" in r.json()["error"]
    assert h.server.stats.snapshot()["refused"]["forged"] == 1


def test_body_altered_after_signing_is_refused(h):
    data = json.dumps(UPDATE).encode()
    for headers in (standard_headers(SECRET, data), signed_headers(SECRET, data)):
        forged = data.replace(b"Acme Group", b"Evil Corp")
        r = requests.post(h.url + "/events", data=forged, headers=headers, timeout=10)
        assert r.status_code == 401 and h.queued() == []


def test_legacy_headers_are_still_accepted(h, caplog):
    caplog.set_level(logging.WARNING, logger="suitecrm_ext")
    r = h.post("/events", UPDATE, legacy=True)
    assert r.status_code == 200 and r.json()["new"] is True
    assert h.server.stats.snapshot()["accepted"] == {"events.legacy": 1}
    assert "legacy X-SuiteCRM-Ext-* headers" in caplog.text


def test_a_resent_or_replayed_event_id_is_acknowledged_not_processed_again(h):
    """webhook-id is the de-duplication key: the same message again (a resend after a lost answer,
    or a replay) gets 200 so a sender stops retrying, and nothing is queued or handled twice."""
    calls = []
    h.server.on_queued = calls.append
    data = json.dumps(UPDATE).encode()
    headers = standard_headers(SECRET, data)
    first = requests.post(h.url + "/events", data=data, headers=headers, timeout=10)
    assert first.status_code == 200 and first.json()["new"] is True
    again = requests.post(h.url + "/events", data=data, headers=headers, timeout=10)
    assert again.status_code == 200 and again.json() == {"ok": True, "new": False, "duplicate": True}
    assert len(h.queued()) == 1 and len(calls) == 1
    assert h.server.stats.snapshot()["refused"]["replayed"] == 1


def test_a_failed_event_can_be_resent_with_the_same_id(tmp_path):
    """The id is noted only once the event is stored: a resend after a 503 is processed."""
    h = make_harness(tmp_path)
    h.server.store = BrokenStore(h.store, failures=1)
    try:
        data = json.dumps(UPDATE).encode()
        headers = standard_headers(SECRET, data)
        assert requests.post(h.url + "/events", data=data, headers=headers, timeout=10).status_code == 503
        r = requests.post(h.url + "/events", data=data, headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["new"] is True
    finally:
        h.server.stop()


def test_a_replayed_validation_is_refused(h):
    data = json.dumps(ARCHIVE).encode()
    headers = standard_headers(SECRET, data)
    assert requests.post(h.url + "/validate", data=data, headers=headers, timeout=10).status_code == 200
    r = requests.post(h.url + "/validate", data=data, headers=headers, timeout=10)
    assert r.status_code == 409 and "already used" in r.json()["error"]
    assert len(h.server.validator.registry.infos["gate"].plugin.asked) == 1


def test_replayed_legacy_request_is_refused(h):
    data = json.dumps(UPDATE).encode()
    headers = signed_headers(SECRET, data)
    assert requests.post(h.url + "/events", data=data, headers=headers, timeout=10).status_code == 200
    r = requests.post(h.url + "/events", data=data, headers=headers, timeout=10)
    assert r.status_code == 401 and "already used" in r.json()["error"]
    assert len(h.queued()) == 1


def test_replay_to_another_worker_sharing_the_store_is_refused(tmp_path, h):
    other = PushServer(h.app, build_registry({"gate": Gatekeeper()}, config=h.app.config), store=h.store,
                       listen="127.0.0.1:0").start()
    try:
        data = json.dumps(ARCHIVE).encode()
        headers = standard_headers(SECRET, data)
        assert requests.post(h.url + "/validate", data=data, headers=headers, timeout=10).status_code == 200
        again = requests.post(other.url + "/validate", data=data, headers=headers, timeout=10)
        assert again.status_code == 409
        data = json.dumps(UPDATE).encode()
        headers = standard_headers(SECRET, data)
        assert requests.post(h.url + "/events", data=data, headers=headers, timeout=10).json()["new"] is True
        again = requests.post(other.url + "/events", data=data, headers=headers, timeout=10)
        assert again.json()["duplicate"]
    finally:
        other.stop()


def test_answers_are_signed_for_the_requests_id(h):
    data = json.dumps(ARCHIVE).encode()
    headers = standard_headers(SECRET, data)
    r = requests.post(h.url + "/validate", data=data, headers=headers, timeout=10)
    assert r.headers[ID_HEADER] == headers[ID_HEADER]
    assert verify(SECRET, r.headers, r.content, max_skew_seconds=5).message_id == headers[ID_HEADER]
    refused = h.post("/events", UPDATE, secret="another-secret-0123456789")  # errors are signed too
    assert verify(SECRET, refused.headers, refused.content, max_skew_seconds=5)


def test_secret_rotation_without_downtime(tmp_path):
    """The receiver accepts the new and the previous secrets and signs answers with both."""
    new, old = "the-new-secret-0123456789", SECRET
    h = make_harness(tmp_path, {"gate": Gatekeeper()}, secret=new, previous_secrets=[old])
    try:
        assert h.post("/events", UPDATE, secret=old).status_code == 200
        assert h.post("/events", dict(UPDATE, id="other"), secret=new).status_code == 200
        assert h.post("/events", dict(UPDATE, id="x"), secret="neither-secret-0123456").status_code == 401
        r = h.post("/validate", ARCHIVE, secret=old)
        assert len(r.headers[STD_SIGNATURE_HEADER].split()) == 2
        for side in (old, new):  # a hook holding either secret trusts the answer
            assert verify(side, r.headers, r.content, max_skew_seconds=5)
    finally:
        h.server.stop()


def _raw_request(url: str, head: str, body: bytes = b"") -> tuple[int, bytes, float]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head_end = data.index(b"\r\n\r\n")
        status = int(data.split(b" ", 2)[1])
        length = int(next(line.split(b":")[1] for line in data[:head_end].split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        rest = data[head_end + 4:]
        while len(rest) < length:
            rest += s.recv(4096)
        return status, rest, 0.0


def test_oversized_body_is_refused_from_the_headers(h):
    # the client declares 10 MB and sends none of it: the server answers without waiting for the body
    head = ("POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 10485760\r\n\r\n")
    status, body, _ = _raw_request(h.url, head)
    assert status == 413 and b"max_body_bytes" in body
    assert h.queued() == []


def test_oversized_body_with_expect_100_is_refused_before_it_is_sent(h):
    head = ("POST /events HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            "Content-Length: 10485760\r\n\r\n")
    status, body, _ = _raw_request(h.url, head)
    assert status == 413
    assert h.queued() == []


def test_oversized_signed_body_sent_in_full_is_refused(h):
    big = dict(UPDATE, values={"description": "x" * 8000})
    r = h.post("/events", big)
    assert r.status_code == 413 and h.queued() == []


def test_missing_content_length_is_refused(h):
    head = "POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, _ = _raw_request(h.url, head, b"0\r\n\r\n")
    assert status == 411


@pytest.mark.parametrize("body, field", [
    (b"{not json", "body: not valid JSON"),
    (b"[1, 2]", "body: expected a JSON object"),
    (json.dumps({k: v for k, v in UPDATE.items() if k != "module"}).encode(), "module: required"),
    (json.dumps(dict(UPDATE, module="Acc'; DROP")).encode(), "module: not a module name"),
    (json.dumps({k: v for k, v in UPDATE.items() if k != "id"}).encode(), "id: required"),
    (json.dumps(dict(UPDATE, kind="renamed")).encode(), "kind: must be one of"),
    (json.dumps({k: v for k, v in UPDATE.items() if k != "date_modified"}).encode(),
     "date_modified: required"),
    (json.dumps(dict(UPDATE, date_modified="yesterday")).encode(), "date_modified: not a SuiteCRM datetime"),
    (json.dumps(dict(UPDATE, changes={"name": "x"})).encode(), "changes.name"),
    (json.dumps(dict(UPDATE, values=[1])).encode(), "values: expected an object"),
    (json.dumps(dict(UPDATE, kind="related")).encode(), "link: required for related"),
    (json.dumps(dict(UPDATE, kind="unrelated", link="contacts")).encode(), "related_id: required"),
    (b"\xff\xfe", "body: not UTF-8"),
    (json.dumps(dict(UPDATE, date_modified="0001-01-01T00:00:00+01:00")).encode(),
     "date_modified: not a SuiteCRM datetime"),
    (json.dumps(dict(UPDATE, kind="created", date_entered="0001-01-01T00:30:00+05:00")).encode(),
     "date_entered: not a SuiteCRM datetime"),
    (json.dumps(dict(UPDATE, values={"date_modified": "garbage"})).encode(), "values: "),
    pytest.param(b"[" * 2000 + b"]" * 2000, "body: not valid JSON", id="deeply-nested"),
])
def test_bad_bodies_get_400_naming_the_field(h, body, field):
    r = h.post("/events", body=body)
    assert r.status_code == 400
    assert field in r.json()["error"]
    assert h.queued() == []


def test_no_2xx_unless_the_event_is_stored(tmp_path):
    h = make_harness(tmp_path)
    try:
        h.server.store = BrokenStore(h.store)
        r = h.post("/events", UPDATE)
        assert r.status_code == 503 and "could not store" in r.json()["error"]
        assert h.queued() == []
    finally:
        h.server.stop()


def test_health_and_unknown_paths(h):
    health = requests.get(h.url + "/health", timeout=5).json()
    assert health["ok"] is True
    assert health["stats"]["refused"] == dict.fromkeys(
        ("forged", "stale", "replayed", "oversized", "malformed", "overloaded"), 0)
    assert requests.get(h.url + "/nope", timeout=5).status_code == 404
    assert requests.get(h.url + "/events", timeout=5).status_code == 405
    assert h.post("/other", UPDATE).status_code == 404


# --- validation ------------------------------------------------------------------------------

ARCHIVE = {"module": "Documents", "id": "d1", "user_id": "1",
           "before": {"status_id": "Acknowledgement", "ack": "0"},
           "after": {"status_id": "Archived", "ack": "0"}}


def test_validation_veto_carries_the_plugins_message(h):
    r = h.post("/validate", ARCHIVE)
    assert r.status_code == 200
    assert r.json() == {"allow": False, "fail_mode": None,
                        "message": "Cannot archive: acknowledgement by J. Smith is not completed"}
    ok = dict(ARCHIVE, before={"status_id": "Acknowledgement", "ack": "1"})
    assert h.post("/validate", ok).json() == {"allow": True, "message": "", "fail_mode": None}
    assert h.queued() == []  # validation queues nothing


def test_validation_of_an_unwatched_module_asks_nobody(tmp_path):
    gate = Gatekeeper(modules=("Accounts",))
    h = make_harness(tmp_path, {"gate": gate})
    try:
        assert h.post("/validate", ARCHIVE).json()["allow"] is True
        assert gate.asked == []
    finally:
        h.server.stop()


def test_validation_new_record_has_no_id(h):
    doc = dict(ARCHIVE, id="", before={})
    assert h.post("/validate", doc).json()["allow"] is False
    change = h.server.validator.registry.infos["gate"].plugin.asked[-1]
    assert change.record_id is None and change.is_new


@pytest.mark.parametrize("mode, allow", [("open", True), ("closed", False)])
@pytest.mark.parametrize("behaviour", ["raise", "garbage", "slow"])
def test_validation_failure_or_timeout_applies_the_fail_mode(tmp_path, mode, allow, behaviour, caplog):
    gate = Gatekeeper(behaviour="rules" if behaviour == "slow" else behaviour,
                      delay=0.5 if behaviour == "slow" else 0)
    h = make_harness(tmp_path, {"gate": gate}, fail_modes={"Documents": mode}, budget_ms=100)
    try:
        ok = dict(ARCHIVE, before={"ack": "1"})
        answer = h.post("/validate", ok).json()
        assert answer["allow"] is allow and answer["fail_mode"] == mode
        assert ("fail-open" if allow else "fail-closed") in answer["message"]
        if behaviour == "slow":
            assert "did not answer within 100 ms" in answer["message"]
        # a save let through unchecked is logged (with the plugin's trouble), not only told to PHP
        warned = [r.getMessage() for r in caplog.records if "allowed (fail-open)" in r.getMessage()]
        assert bool(warned) is allow and all("gate" in m for m in warned), warned
    finally:
        h.server.stop()


def test_a_veto_wins_over_another_plugins_failure(tmp_path):
    h = make_harness(tmp_path, {"a_broken": Gatekeeper(behaviour="raise"), "b_gate": Gatekeeper()},
                     fail_modes={"Documents": "open"})
    try:
        answer = h.post("/validate", ARCHIVE).json()
        assert answer["allow"] is False and answer["message"].startswith("Cannot archive")
    finally:
        h.server.stop()


def test_validation_request_must_be_signed_and_well_formed(h):
    assert h.post("/validate", ARCHIVE, secret="wrong-secret-0123456789").status_code == 401
    r = h.post("/validate", {"module": "Documents", "id": "d1"})
    assert r.status_code == 400 and "after: required" in r.json()["error"]
    assert h.server.validator.registry.infos["gate"].plugin.asked == []


# --- configuration and logs --------------------------------------------------------------------

@pytest.mark.parametrize("secret, message", [(None, "events.push.secret: required"),
                                             ("short", "at least 16 characters")])
def test_missing_or_weak_secret_is_a_config_error(secret, message):
    push = {"enabled": True} | ({"secret": secret} if secret else {})
    config = build_config(events={"push": push})
    registry = build_registry({}, config=config)
    with pytest.raises(PushConfigError, match=message):
        PushServer(build_app(registry, config=config, state=object()), registry)


def test_bad_listen_address_names_the_key(h):
    with pytest.raises(PushConfigError, match="events.push.listen"):
        PushServer(h.app, build_registry({}, config=h.app.config), store=h.store, listen="localhost")


def test_secret_never_reaches_the_logs(h, caplog):
    caplog.set_level(logging.DEBUG, logger="suitecrm_ext")
    h.post("/events", UPDATE)
    h.post("/events", UPDATE, secret="another-secret-0123456789")
    h.post("/validate", ARCHIVE)
    text = caplog.text
    assert "refused" in text  # the forged request was logged...
    assert SECRET not in text and "another-secret" not in text  # ...without secrets


# --- bounded threads and queue -------------------------------------------------------------------


class Blocker(Gatekeeper):
    """Validation that waits until the test releases it (holds the receiver's only worker)."""

    def __init__(self):
        import threading

        super().__init__()
        self.release = threading.Event()

    @hookimpl
    def ext_validate_record_change(self, change, ctx):
        self.asked.append(change)
        self.release.wait(20)


def test_a_flood_gets_503_with_retry_after_and_the_receiver_recovers(tmp_path):
    """One worker, one queued connection: while a validation holds the worker and another request
    waits, further requests are answered 503 + Retry-After at once (never a thread each)."""
    import concurrent.futures as cf
    import threading

    gate = Blocker()
    h = make_harness(tmp_path, {"gate": gate}, budget_ms=30_000, max_workers=1, max_queue=1)
    try:
        threads_before = threading.active_count()
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            slow = pool.submit(h.post, "/validate", ARCHIVE)
            while not gate.asked:  # the worker is busy with it
                time.sleep(0.01)
            waiting = pool.submit(h.post, "/events", UPDATE)
            while h.server._httpd.pending.empty():  # accepted, waiting for the worker
                time.sleep(0.01)
            flood = [requests.post(h.url + "/events", json=UPDATE, timeout=5) for _ in range(20)]
            assert not slow.done() and not waiting.done()
            assert {r.status_code for r in flood} == {503}
            assert all(r.headers["Retry-After"] == "1" for r in flood)
            # two client threads and the validation thread: no thread per connection
            assert threading.active_count() <= threads_before + 3
            gate.release.set()
            assert slow.result().status_code == 200 and waiting.result().status_code == 200
        assert h.server.stats.snapshot()["refused"]["overloaded"] == 20
        assert h.post("/events", dict(UPDATE, id="after-the-flood")).status_code == 200
        assert len(h.queued()) == 2
    finally:
        gate.release.set()
        h.server.stop()


class IndustryWatcher:
    """Watches one named field of Accounts (keys of its updates carry that field's value)."""

    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts", fields=("industry",))]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        pass


def test_two_saves_of_one_record_in_one_second_are_two_events(tmp_path):
    """A workflow or an API script saving a record twice within a second: both changes are delivered
    (one key per second lost the second change), a resend of either is still one event."""
    h = make_harness(tmp_path, {"watcher": IndustryWatcher()})
    try:
        first = dict(UPDATE, changes={"industry": {"before": "", "after": "Banking"}},
                     values=dict(UPDATE["values"], industry="Banking"))
        second = dict(UPDATE, changes={"industry": {"before": "Banking", "after": "Retail"}},
                      values=dict(UPDATE["values"], industry="Retail"))
        assert h.post("/events", first).json()["new"] is True
        assert h.post("/events", second).json()["new"] is True
        assert h.post("/events", second).json()["new"] is False
        assert [e.values["industry"] for e in h.queued()] == ["Banking", "Retail"]
        # a save that changed no watched field in that second is the same state: not a new event
        touch = dict(second, values=dict(second["values"], description="x"))
        assert h.post("/events", touch).json()["new"] is False
    finally:
        h.server.stop()


def test_the_push_and_the_poll_of_one_save_are_one_event(tmp_path):
    """The poller reads typed values (MySQL/API), the hook sends PHP's HTML-encoded strings: the
    same save still gets one key, so a change seen by both is handled once."""
    from suitecrm_ext.crm.fake import FakeCRM
    from suitecrm_ext.events.poller import ChangeFeed

    h = make_harness(tmp_path, {"watcher": IndustryWatcher()})
    try:
        stamp = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.timezone.utc)
        now = {"t": stamp}
        crm = FakeCRM(["Accounts"], clock=lambda: now["t"])
        feed = ChangeFeed(crm, h.store, [WatchSpec("Accounts", fields=("industry",))],
                          clock=lambda: now["t"], overlap_seconds=60)
        feed.poll_once()
        aid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
        feed.poll_once()
        now["t"] = stamp + dt.timedelta(seconds=7)
        crm.save("Accounts", {"id": aid, "industry": "O'Neil & Sons"})
        pushed = dict(UPDATE, id=aid, date_modified="2026-11-23 09:00:07",
                      changes={"industry": {"before": "Banking", "after": "O&#039;Neil & Sons"}},
                      values={"industry": "O&#039;Neil & Sons", "date_modified": "2026-11-23 09:00:07"})
        assert h.post("/events", pushed).json()["new"] is True
        now["t"] += dt.timedelta(seconds=1)
        assert feed.poll_once() == 0  # the poll of the same save found it queued already
        updates = [e for e in h.queued() if e.kind is EventKind.UPDATED]
        assert len(updates) == 1 and updates[0].source == "push"
    finally:
        h.server.stop()
