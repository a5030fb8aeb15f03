"""Events from a second CRM (``origin``): own keys, own cursors and snapshots, own push path, own specs."""

from __future__ import annotations

import datetime as dt

from push_support import make_harness

from suitecrm_ext import Event, EventKind, WatchSpec, hookimpl
from suitecrm_ext.events.codec import event_from_dict, event_to_dict
from suitecrm_ext.events.poller import ChangeFeed
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import FakeCRM

T = dt.datetime(2026, 11, 23, 9, 0, 7, tzinfo=dt.timezone.utc)
RID = "41730cef-ec44-6e02-a50b-6b03cc681ad8"


def test_the_same_change_in_two_crms_has_two_keys():
    main = Event(module="Accounts", record_id=RID, kind="updated", time=T)
    portal = Event(module="Accounts", record_id=RID, kind="updated", time=T, origin="portal")
    assert main.key != portal.key
    assert portal.key.startswith("portal|Accounts:" + RID)
    assert not main.key.startswith("|")


def test_codec_keeps_the_origin_and_leaves_it_out_for_the_main_crm():
    portal = Event(module="Cases", record_id=RID, kind="created", time=T, origin="portal")
    doc = event_to_dict(portal)
    assert doc["origin"] == "portal"
    back = event_from_dict(doc)
    assert back.origin == "portal" and back.key == portal.key
    assert "origin" not in event_to_dict(Event(module="Cases", record_id=RID, kind="created", time=T))


def test_a_spec_matches_only_events_of_its_origin():
    spec = WatchSpec("Accounts", origin="portal")
    assert spec.matches(Event(module="Accounts", record_id=RID, kind="updated", time=T, origin="portal"))
    assert not spec.matches(Event(module="Accounts", record_id=RID, kind="updated", time=T))
    assert not WatchSpec("Accounts").matches(
        Event(module="Accounts", record_id=RID, kind="updated", time=T, origin="portal"))


def test_a_feed_of_a_second_crm_keeps_its_own_cursor_snapshots_and_lease(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    main_crm, portal_crm = FakeCRM(), FakeCRM()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for crm in (main_crm, portal_crm):
        crm.clock = lambda: t0
    same_id = main_crm.insert("Accounts", {"id": RID, "name": "Main"})
    portal_crm.insert("Accounts", {"id": same_id, "name": "Portal"})
    main = ChangeFeed(main_crm, store, [WatchSpec("Accounts")], start="beginning", lock_owner="w1")
    portal = ChangeFeed(portal_crm, store, [WatchSpec("Accounts", origin="portal")], start="beginning",
                        origin="portal", lock_owner="w1")
    assert main.poll_once() == 1
    assert portal.poll_once() == 1  # the same id in the main CRM's snapshots does not hide it
    events = {q.event.origin: q.event for q in store.recent_events()}
    assert events["portal"].values["name"] == "Portal" and events[""].values["name"] == "Main"
    assert store.get_cursor("poller:portal:Accounts") is not None
    assert store.get_cursor("poller:Accounts") is not None
    assert store.lock_info("change-feed:portal") is not None  # another worker's main feed does not block it
    assert portal.poll_once() == 0 and main.poll_once() == 0
    store.close()


def test_a_feed_refuses_specs_of_another_origin(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    try:
        ChangeFeed(FakeCRM(), store, [WatchSpec("Accounts", origin="portal")])
    except ValueError as exc:
        assert "'portal'" in str(exc)
    else:  # pragma: no cover - the assertion above is the test
        raise AssertionError("a main feed took a portal spec")
    store.close()


class PortalWatcher:
    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Accounts", origin="portal")]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


UPDATE = {"module": "Accounts", "id": RID, "kind": "updated", "date_modified": "2026-11-23 09:00:07",
          "values": {"name": "Acme"}}


def test_push_to_an_origin_path_queues_an_event_of_that_origin(tmp_path):
    h = make_harness(tmp_path, {"watcher": PortalWatcher()})
    try:
        r = h.post("/o/portal/events", UPDATE)
        assert r.status_code == 200, r.text
        [ev] = h.queued()
        assert ev.origin == "portal" and ev.source == "push" and ev.kind is EventKind.UPDATED
        assert r.json()["key"] == ev.key == Event(module="Accounts", record_id=RID, kind="updated", time=T,
                                                  origin="portal").key
        main = h.post("/events", UPDATE)  # the same body to the main path is another event
        assert main.status_code == 200 and main.json()["key"] != ev.key
    finally:
        h.server.stop()


def test_push_to_an_origin_nobody_watches_is_404_and_queues_nothing(tmp_path):
    h = make_harness(tmp_path, {"watcher": PortalWatcher()})
    try:
        r = h.post("/o/stock/events", UPDATE)
        assert r.status_code == 404 and "'stock'" in r.json()["error"] and "portal" in r.json()["error"]
        assert h.post("/o/portal/validate", UPDATE).status_code == 404
        assert h.queued() == []
    finally:
        h.server.stop()


def test_the_core_feed_and_logic_hook_leave_a_second_crms_specs_alone(make_registry, make_app):
    from suitecrm_ext.events.logic_hook import render_for_plugins
    from suitecrm_ext.runtime import Runtime

    class Both(PortalWatcher):
        @hookimpl
        def ext_watch(self, settings):
            return [WatchSpec("Accounts", origin="portal"), WatchSpec("Contacts")]

    reg = make_registry({"both": Both()})
    app = make_app(reg)
    rt = Runtime(app, reg, push=False)
    assert rt.feed.modules == ["Contacts"]
    rendered = render_for_plugins(reg, app.config, sidecar_url="http://127.0.0.1:8765")
    modules = {d["module"] for d in rendered.installdefs}
    assert modules == {"Contacts"}
