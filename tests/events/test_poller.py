"""The polling change feed against FakeCRM (SuiteCRM semantics in memory) and a real SQLite state store.

The same scenarios run against a real MariaDB as the SuiteCRM database in test_poller_mysql.py.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from suitecrm_ext import Cond, EventKind, WatchSpec
from suitecrm_ext.events.codec import event_to_dict
from suitecrm_ext.events.model import make_key, state_digest
from suitecrm_ext.events.poller import SNAPSHOT_NS, ChangeFeed
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import FakeCRM

T0 = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.timezone.utc)


class Clock:
    """A settable clock shared by the fake CRM (its date_modified stamps) and the feed."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def crm(clock):
    return FakeCRM(["Accounts", "Contacts", "Users"], clock=clock)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "state.sqlite3")
    yield s
    s.close()


def queued(store) -> list:
    """Every queued event, oldest first."""
    return [q.event for q in reversed(store.recent_events(limit=1000))]


def feed(crm, store, clock, specs=None, **kw) -> ChangeFeed:
    specs = specs or [WatchSpec("Accounts", fields=("name", "industry"))]
    kw.setdefault("overlap_seconds", 60)
    return ChangeFeed(crm, store, specs, clock=clock, **kw)


def test_first_start_does_not_replay_history(crm, store, clock):
    crm.save("Accounts", {"name": "Old Ltd"})
    clock.tick(5)
    f = feed(crm, store, clock)
    assert f.poll_once() == 0
    assert queued(store) == []
    clock.tick()
    crm.save("Accounts", {"name": "New Ltd"})
    assert f.poll_once() == 1
    [ev] = queued(store)
    assert ev.kind is EventKind.CREATED and ev.values["name"] == "New Ltd"


def test_start_beginning_replays_history(crm, store, clock):
    crm.save("Accounts", {"name": "Old Ltd"})
    clock.tick(5)
    f = feed(crm, store, clock, start="beginning")
    assert f.poll_once() == 1
    assert queued(store)[0].values["name"] == "Old Ltd"


def test_create_update_delete_each_once(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    assert f.poll_once() == 1
    assert f.poll_once() == 0  # re-seen in the overlap window: not emitted again
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "Energy"})
    assert f.poll_once() == 1
    clock.tick()
    crm.delete("Accounts", aid)
    assert f.poll_once() == 1
    clock.tick(3)
    assert f.poll_once() == 0
    created, updated, deleted = queued(store)
    assert created.kind is EventKind.CREATED and created.record_id == aid
    assert created.changes["name"].after == "Acme" and created.changes["name"].before is None
    assert created.user_id == "1"
    assert updated.kind is EventKind.UPDATED
    assert set(updated.changes) == {"industry"}
    assert (updated.changes["industry"].before, updated.changes["industry"].after) == ("Banking", "Energy")
    assert deleted.kind is EventKind.DELETED and deleted.record_id == aid
    assert all(e.source == "poll" for e in (created, updated, deleted))


def test_update_of_unwatched_field_is_not_queued_for_field_specs(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme"})
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "description": "only a note"})
    assert f.poll_once() == 0
    # ...but a later watched change still reports the right "before"
    clock.tick()
    crm.save("Accounts", {"id": aid, "name": "Acme Group"})
    assert f.poll_once() == 1
    ev = queued(store)[-1]
    assert (ev.changes["name"].before, ev.changes["name"].after) == ("Acme", "Acme Group")


def test_whole_record_spec_sees_any_change(crm, store, clock):
    f = feed(crm, store, clock, specs=[WatchSpec("Accounts")])
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme"})
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "description": "a note"})
    assert f.poll_once() == 1
    assert queued(store)[-1].kind is EventKind.UPDATED


def test_same_second_second_change_emitted_only_if_watched_value_differs(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    assert f.poll_once() == 1
    # the clock does not move: a second save in the same second, same date_modified
    crm.save("Accounts", {"id": aid, "description": "unwatched"})
    assert f.poll_once() == 0
    crm.save("Accounts", {"id": aid, "industry": "Energy"})
    assert f.poll_once() == 1
    assert f.poll_once() == 0
    created, updated = queued(store)
    assert created.time == updated.time
    assert updated.kind is EventKind.UPDATED
    assert updated.changes["industry"].before == "Banking"
    # keyed as the push of that save keys it (the watched state tells it from the first change)
    normal = make_key(updated, state_digest(updated.values, ("name", "industry")))
    assert updated.key != created.key and updated.key == normal
    # a third change in the same second is another event with its own key
    crm.save("Accounts", {"id": aid, "industry": "Retail"})
    assert f.poll_once() == 1
    assert len({e.key for e in queued(store)}) == 3


def test_a_same_second_change_back_to_a_state_already_reported_gets_a_key_of_its_own(crm, store, clock):
    """A -> B -> A within one second, each polled: the third state's plain key is the first's, so it
    gets ~n (the push of that save is then a duplicate of the first; delivered, never lost)."""
    f = feed(crm, store, clock)
    aid = crm.save("Accounts", {"name": "Acme", "industry": "A"})
    f.poll_once()
    clock.tick()
    for industry in ("B", "A", "B"):
        crm.save("Accounts", {"id": aid, "industry": industry})
        assert f.poll_once() == 1
    updates = [e for e in queued(store) if e.kind is EventKind.UPDATED]
    assert [e.values["industry"] for e in updates] == ["B", "A", "B"]
    plain = [make_key(e, state_digest(e.values, ("name", "industry"))) for e in updates]
    assert updates[0].key == plain[0] and updates[1].key == plain[1]  # first time in the second
    assert updates[2].key == plain[2] + "~2"  # B again in that second (its second follow-up)
    assert len({e.key for e in updates}) == 3


def test_a_snapshot_from_before_the_states_were_kept_gives_every_follow_up_its_own_key(crm, store, clock):
    """Snapshots written by an earlier version hold no state digests: a same-second change is keyed
    with ~n as it was then (never a key an earlier event of that second might hold)."""
    f = feed(crm, store, clock)
    aid = crm.save("Accounts", {"name": "Acme", "industry": "A"})
    f.poll_once()
    key = next(k for k in store.kv_keys(SNAPSHOT_NS, prefix="", limit=10) if k.endswith(aid))
    old = store.kv_get(SNAPSHOT_NS, key)
    store.kv_set(SNAPSHOT_NS, key, {k: v for k, v in old.items() if k != "ds"})
    crm.save("Accounts", {"id": aid, "industry": "B"})  # same second
    assert f.poll_once() == 1
    [update] = [e for e in queued(store) if e.kind is EventKind.UPDATED]
    assert update.key == make_key(update, state_digest(update.values, ("name", "industry"))) + "~1"


def test_late_commit_with_older_date_modified_is_not_missed(crm, store, clock):
    f = feed(crm, store, clock, overlap_seconds=30)
    f.poll_once()
    clock.tick(10)
    early = clock.now
    clock.tick(10)
    crm.save("Accounts", {"name": "Committed on time"})
    assert f.poll_once() == 1
    assert f.cursor("Accounts")["date_modified"] == "2026-11-23T09:00:20Z"
    # a transaction stamped 10 s earlier commits only now
    clock.now = early
    late = crm.save("Accounts", {"name": "Committed late"})
    clock.tick(15)
    assert f.poll_once() == 1
    ev = queued(store)[-1]
    assert ev.record_id == late and ev.kind is EventKind.CREATED
    assert ev.time == early
    # the watermark never goes backwards
    assert f.cursor("Accounts")["date_modified"] == "2026-11-23T09:00:20Z"
    assert f.poll_once() == 0


def test_events_and_watermark_in_batches(crm, store, clock):
    f = feed(crm, store, clock, batch_size=2)
    f.poll_once()
    ids = []
    for i in range(5):
        clock.tick()
        ids.append(crm.save("Accounts", {"name": f"A{i}"}))
    assert f.poll_once() == 5
    assert [e.record_id for e in queued(store)] == ids
    cur = f.cursor("Accounts")
    assert cur["date_modified"] == "2026-11-23T09:00:05Z" and cur["id"] == ids[-1]


class CrashingStore:
    """Delegates to a real store; the first enqueue is killed before or after its commit."""

    def __init__(self, store, after_commit: bool = True):
        self.store = store
        self.crash = True
        self.after_commit = after_commit

    def __getattr__(self, name):
        return getattr(self.store, name)

    def enqueue(self, events, **kw):
        if self.crash:
            self.crash = False
            if self.after_commit:
                self.store.enqueue(events, **kw)
            raise RuntimeError("killed around the queue commit")
        return self.store.enqueue(events, **kw)


@pytest.mark.parametrize("after_commit", [False, True])
def test_crash_around_the_queue_commit_queues_once(crm, store, clock, after_commit):
    crashing = CrashingStore(store, after_commit)
    f = feed(crm, crashing, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme"})
    with pytest.raises(RuntimeError):
        f.poll_once()
    # events, watermark and snapshots are written together: all of them or none
    assert len(queued(store)) == int(after_commit)
    assert (store.kv_get(SNAPSHOT_NS, f"Accounts:{aid}") is not None) is after_commit
    fresh = feed(crm, store, clock)  # restarted process
    assert fresh.poll_once() == int(not after_commit)
    assert len(queued(store)) == 1
    assert store.kv_get(SNAPSHOT_NS, f"Accounts:{aid}") is not None


def test_failing_module_does_not_stop_the_others(crm, store, clock):
    specs = [WatchSpec("NoSuchModule"), WatchSpec("Contacts")]
    f = feed(crm, store, clock, specs=specs)
    clock.tick()
    crm.save("Contacts", {"last_name": "Smith"})
    with pytest.raises(Exception, match="NoSuchModule"):
        f.poll_once()
    assert [e.module for e in queued(store)] == ["Contacts"]


def test_only_wanted_kinds_are_queued(crm, store, clock):
    f = feed(crm, store, clock, specs=[WatchSpec("Accounts", kinds=frozenset({EventKind.DELETED}))])
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme"})
    assert f.poll_once() == 0
    clock.tick()
    crm.delete("Accounts", aid)
    assert f.poll_once() == 1
    assert queued(store)[0].kind is EventKind.DELETED


def test_queued_events_survive_the_codec(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"name": "Ünïcode ООО"})
    f.poll_once()
    ev = queued(store)[0]
    doc = event_to_dict(ev)
    assert doc["values"]["date_modified"] == {"$dt": "2026-11-23T09:00:01Z"}
    assert ev.values["name"] == "Ünïcode ООО"


def test_bad_arguments_are_refused(crm, store, clock):
    with pytest.raises(ValueError, match="overlap_seconds"):
        ChangeFeed(crm, store, [], overlap_seconds=-1)
    with pytest.raises(ValueError, match="start"):
        ChangeFeed(crm, store, [], start="yesterday")


def test_created_and_saved_again_before_a_poll_is_one_created_event(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    created_at = clock.now
    aid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    clock.tick(2)
    crm.save("Accounts", {"id": aid, "industry": "Energy"})  # e.g. a workflow saving it again
    assert f.poll_once() == 1
    [ev] = queued(store)
    assert ev.kind is EventKind.CREATED and ev.time == created_at
    assert ev.changes["industry"].after == "Energy"
    # a later update is an update, with the right "before"
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "Retail"})
    f.poll_once()
    assert queued(store)[-1].changes["industry"].before == "Energy"


def test_record_that_existed_before_the_start_is_an_update_with_unknown_before(crm, store, clock):
    aid = crm.save("Accounts", {"name": "Old", "industry": "Banking"})
    clock.tick(5)
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "Energy"})
    f.poll_once()
    [ev] = queued(store)
    assert ev.kind is EventKind.UPDATED
    assert (ev.changes["industry"].before, ev.changes["industry"].after) == (None, "Energy")


def test_concurrent_saves_committed_in_reverse_order(crm, store, clock):
    """Save A is stamped at 5 s, save B at 6 s; B commits (and is polled) first, A last and wins."""
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme", "industry": "Banking"})
    f.poll_once()
    clock.tick(5)
    stamp_a = clock.now
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "B wins?"})
    assert f.poll_once() == 1
    clock.now = stamp_a
    crm.save("Accounts", {"id": aid, "industry": "A wins"})  # committed last, older stamp
    clock.tick(3)
    assert f.poll_once() == 1
    last = queued(store)[-1]
    assert last.changes["industry"].before == "B wins?" and last.values["industry"] == "A wins"
    assert f.poll_once() == 0


# --- property: whatever the interleaving, nothing is missed and nothing is emitted twice -----------

OVERLAP = 10
back = st.sampled_from([0, 0, 0, 1, 3, OVERLAP - 1])  # how late a write commits (s before its stamp)
op = st.one_of(
    st.tuples(st.just("create"), st.just(0), st.just(""), back),
    st.tuples(st.just("update"), st.integers(0, 2), st.sampled_from(["A", "B", "C"]), back),
    st.tuples(st.just("touch"), st.integers(0, 2), st.just(""), back),
    st.tuples(st.just("delete"), st.integers(0, 2), st.just(""), back),
    st.tuples(st.just("tick"), st.integers(0, 2)),
    st.tuples(st.just("poll")),
    st.tuples(st.just("poll")),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=4, max_size=30))
@example(ops=[("create", 0, "", 0), ("poll",), ("tick", 1), ("update", 0, "C", 0), ("poll",),
              ("update", 0, "B", 1), ("poll",), ("update", 0, "A", 0)])
def test_any_interleaving_reports_each_record_faithfully(tmp_path_factory, ops):
    clock = Clock()
    crm = FakeCRM(["Accounts", "Users"], clock=clock)
    store = SQLiteStore(tmp_path_factory.mktemp("prop") / "state.sqlite3")
    try:
        f = ChangeFeed(crm, store, [WatchSpec("Accounts", fields=("industry",))], overlap_seconds=OVERLAP,
                       clock=clock)
        f.poll_once()
        ids: list[str] = []
        deleted: set[str] = set()
        start = latest = clock.now  # latest: the latest stamp handed out
        for o in ops:
            live = [i for i in ids if i not in deleted]
            if o[0] == "tick":
                clock.tick(o[1])
            elif o[0] == "poll":
                f.poll_once()
            else:
                real_now = clock.now
                # a late commit: stamped in the past, but within the overlap and not before the start
                clock.now = max(clock.now - dt.timedelta(seconds=o[3]), start,
                                latest - dt.timedelta(seconds=OVERLAP - 1))
                if o[0] == "create":
                    ids.append(crm.save("Accounts", {"name": "x", "industry": "A"}))
                elif live:
                    rid = live[o[1] % len(live)]
                    if o[0] == "update":
                        crm.save("Accounts", {"id": rid, "industry": o[2]})
                    elif o[0] == "touch":
                        crm.save("Accounts", {"id": rid, "description": str(clock.now)})
                    else:
                        crm.delete("Accounts", rid)
                        deleted.add(rid)
                latest = max(latest, clock.now)
                clock.now = real_now
        clock.tick(1)
        f.poll_once()
        events = queued(store)
        for rid in ids:
            mine = [e for e in events if e.record_id == rid]
            kinds = [e.kind for e in mine]
            assert kinds.count(EventKind.CREATED) <= 1 and kinds.count(EventKind.DELETED) <= 1
            if rid in deleted:
                assert kinds[-1] is EventKind.DELETED
            else:
                assert kinds and kinds[0] is EventKind.CREATED, kinds
                final = crm.records("Accounts")
                [rec] = [r for r in final if r.id == rid]
                assert mine[-1].values["industry"] == rec.get("industry")  # the last change was seen
        assert f.poll_once() == 0  # and a quiet poll finds nothing new
    finally:
        store.close()


def test_unknown_watched_field_is_reported_once(crm, store, clock, caplog):
    f = feed(crm, store, clock, specs=[WatchSpec("Accounts", fields=("industry", "indusrty"))])
    f.poll_once()
    f.poll_once()
    warnings = [r.getMessage() for r in caplog.records if "has no field" in r.getMessage()]
    assert warnings == [
        "change feed: Accounts has no field(s) indusrty; watched by a plugin, they will never change"]


def test_with_a_lock_owner_one_feed_polls_at_a_time(crm, tmp_path, clock):
    now = {"t": 1_000_000.0}
    store = SQLiteStore(tmp_path / "shared.sqlite3", clock=lambda: now["t"])
    try:
        a = feed(crm, store, clock, lock_owner="worker-a", lock_ttl_seconds=60)
        b = feed(crm, store, clock, lock_owner="worker-b", lock_ttl_seconds=60)
        a.poll_once()
        clock.tick()
        crm.save("Accounts", {"name": "Acme"})
        assert b.poll_once() == 0  # a holds the lease: b reads nothing
        assert queued(store) == []
        assert a.poll_once() == 1
        now["t"] += 61  # a crashed: its lease expires
        clock.tick()
        crm.save("Accounts", {"name": "Beta"})
        assert b.poll_once() == 1
        b.release()  # b shuts down cleanly: a takes over at once
        clock.tick()
        crm.save("Accounts", {"name": "Gamma"})
        assert a.poll_once() == 1
        assert [e.values["name"] for e in queued(store)] == ["Acme", "Beta", "Gamma"]
    finally:
        store.close()


def test_run_forever_releases_the_lease_when_stopped(crm, store, clock):
    f = feed(crm, store, clock, lock_owner="worker-a")
    stop = threading.Event()
    stop.set()
    f.poll_once()
    assert store.lock_info("change-feed").owner == "worker-a"
    f.run_forever(stop, 1)
    assert store.lock_info("change-feed") is None


def test_crash_after_the_queue_commit_loses_no_later_change(crm, store, clock):
    # a chunk spanning more than the overlap: after a crash, its older rows are not re-scanned, so
    # their snapshots must have been committed with the events (else A's next update is taken for
    # its creation again, whose key is already queued, and is lost)
    crashing = CrashingStore(store)
    f = feed(crm, crashing, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "Acme"})
    clock.tick(600)
    crm.save("Accounts", {"name": "Beta"})
    with pytest.raises(RuntimeError):
        f.poll_once()  # killed right after the commit
    fresh = feed(crm, store, clock)  # restarted process
    fresh.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "name": "Acme Corp"})
    assert fresh.poll_once() == 1
    ev = queued(store)[-1]
    assert ev.kind is EventKind.UPDATED and ev.record_id == aid
    assert ev.changes["name"].before == "Acme" and ev.changes["name"].after == "Acme Corp"


class PagingCRM:
    """The FakeCRM read the way offset paging reads a table that changes meanwhile: a record saved
    again while the feed pages through the rows is returned a second time, in its newer version."""

    def __init__(self, crm, clock, record_id, values):
        self.crm, self.clock, self.record_id, self.values = crm, clock, record_id, values

    def __getattr__(self, name):
        return getattr(self.crm, name)

    def find(self, module, **kw):
        yield from list(self.crm.find(module, **kw))
        if self.values is not None:
            self.clock.tick()
            self.crm.save(module, {"id": self.record_id, **self.values})
            self.values = None
            yield from self.crm.find(module, where=Cond("id", "eq", self.record_id), include_deleted=True)


def test_a_record_read_twice_in_one_chunk_is_compared_with_its_first_version(crm, store, clock):
    f = feed(crm, store, clock)
    f.poll_once()
    clock.tick()
    aid = crm.save("Accounts", {"name": "A"})
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "name": "B"})
    paging = feed(PagingCRM(crm, clock, aid, {"name": "C"}), store, clock)
    assert paging.poll_once() == 2
    changes = [(e.changes["name"].before, e.changes["name"].after) for e in queued(store)[1:]]
    assert changes == [("A", "B"), ("B", "C")]


def test_a_long_poll_keeps_its_lease_so_no_second_feed_polls_meanwhile(crm, tmp_path, clock):
    now = {"t": 1_000.0}
    store = SQLiteStore(tmp_path / "lease.sqlite3", clock=lambda: now["t"])
    taken_meanwhile = []

    class SlowCRM:
        """Each row takes 40 s to read; the third one is read after the first lease (60 s) ran out."""

        def __getattr__(self, name):
            return getattr(crm, name)

        def find(self, module, **kw):
            for rec in crm.find(module, **kw):
                now["t"] += 40
                if rec.get("name") == "C":
                    taken_meanwhile.append(store.acquire_lock("change-feed", "worker-b", 60))
                yield rec

    try:
        a = feed(SlowCRM(), store, clock, lock_owner="worker-a", lock_ttl_seconds=60, batch_size=1)
        a.poll_once()
        for name in "ABC":
            clock.tick()
            crm.save("Accounts", {"name": name})
        assert a.poll_once() == 3
        assert taken_meanwhile == [False]
    finally:
        store.close()


def test_a_save_stamped_in_a_second_already_reported_after_a_late_commit_is_not_lost(crm, store, clock):
    """Found by the property below: C saved at t1 (reported), B committed late with stamp t0
    (reported as a follow-up), then A saved at t1 again: A's change was keyed like C's and dropped."""
    f = feed(crm, store, clock, specs=[WatchSpec("Accounts", fields=("industry",))])
    f.poll_once()
    t0 = clock.now
    aid = crm.save("Accounts", {"name": "Acme", "industry": "A"})
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "C"})
    f.poll_once()
    t1, clock.now = clock.now, t0
    crm.save("Accounts", {"id": aid, "industry": "B"})  # committed late, stamped t0
    clock.now = t1
    f.poll_once()
    crm.save("Accounts", {"id": aid, "industry": "A"})  # stamped t1 again
    clock.tick()
    f.poll_once()
    seen = [e.values["industry"] for e in queued(store) if e.record_id == aid]
    assert seen == ["A", "C", "B", "A"]
    assert len({e.key for e in queued(store)}) == len(queued(store))


def test_two_saves_in_one_second_changing_a_watched_field_are_two_events(crm, store, clock):
    f = feed(crm, store, clock, specs=[WatchSpec("Accounts", fields=("industry",))])
    f.poll_once()
    aid = crm.save("Accounts", {"name": "Acme", "industry": "A"})
    f.poll_once()
    clock.tick()
    crm.save("Accounts", {"id": aid, "industry": "B"})
    f.poll_once()
    crm.save("Accounts", {"id": aid, "industry": "C"})  # same second
    f.poll_once()
    assert [e.values["industry"] for e in queued(store)] == ["A", "B", "C"]
