"""Two saves of one record within one second, through the real Apache/PHP hook: both changes reach
the receiver as two events (SuiteCRM stamps date_modified to the second; one key per second lost the
second change), and the change feed polling the same rows afterwards adds nothing.

The hook comes with the collegial_actions package (it pushes Documents); a test plugin watching
``document_name`` stands in for the plugins.
"""

from __future__ import annotations

import time

from suitecrm_ext import WatchSpec, hookimpl
from suitecrm_ext.events.poller import ChangeFeed


class NameWatcher:
    @hookimpl
    def ext_watch(self, settings):
        return [WatchSpec("Documents", fields=("document_name",))]

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        return None


def _pushed(server, doc_id, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        evs = [q.event for q in server.store.recent_events(limit=500)
               if q.event.record_id == doc_id and q.event.kind.value == "updated"]
        if len(evs) >= count or time.monotonic() > deadline:
            return list(reversed(evs))
        time.sleep(0.05)


def _events_of(server, doc_id):
    return sorted(q.event.key for q in server.store.recent_events(limit=2000) if q.event.record_id == doc_id)


def test_two_api_saves_in_one_second_are_two_events_and_the_poll_adds_none(live_kit, live_lab, run_tag):
    live_kit.install("collegial_actions")
    gw = live_lab.gateway("rest")
    mysql = live_lab.transport("mysql")
    doc_id = gw.save("Documents", {"document_name": f"{run_tag} keys", "status_id": "Active"})
    try:
        with live_kit.receiver({"names": NameWatcher()}) as server:
            feed = ChangeFeed(mysql, server.store, [WatchSpec("Documents", fields=("document_name",))],
                              start="beginning", overlap_seconds=60)
            feed.poll_once()  # the feed knows the record as created
            for attempt in range(5):  # until both saves fall into one second of date_modified
                first, second = f"{run_tag} keys {attempt}a", f"{run_tag} keys {attempt}b"
                # one set_entries call saves both in one PHP request, as a bulk API script would
                gw.save_many("Documents", [{"id": doc_id, "document_name": first},
                                           {"id": doc_id, "document_name": second}])
                evs = [e for e in _pushed(server, doc_id, 2 * attempt + 2)
                       if e.changes["document_name"].after in (first, second)]
                assert [e.changes["document_name"].after for e in evs] == [first, second]
                assert evs[0].key != evs[1].key
                # the poll reads the final state: the push of the last save already holds its key
                # (counted for this record: other tests' leftovers may change other Documents)
                before = _events_of(server, doc_id)
                feed.poll_once()
                assert _events_of(server, doc_id) == before
                if evs[0].time == evs[1].time:
                    break
            else:
                raise AssertionError("five set_entries pairs never fell into one second")
    finally:
        gw.delete("Documents", doc_id)
        gw.close()
        mysql.close()
