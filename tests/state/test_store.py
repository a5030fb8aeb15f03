"""The state-store contract, run against SQLite and MariaDB alike."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from suitecrm_ext import Event, FieldChange
from suitecrm_ext.state import SCHEMA_VERSION, StateError

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def ev(i: int, module: str = "Accounts", kind: str = "updated", **kw) -> Event:
    return Event(module=module, record_id=f"rec-{i:05d}", kind=kind, time=T0 + dt.timedelta(seconds=i), **kw)


# --- schema -----------------------------------------------------------------------------------


def test_schema_is_created_at_open_and_reopening_keeps_data(open_store):
    s1 = open_store()
    assert s1.schema_version() == SCHEMA_VERSION
    s1.set_cursor("feed:Accounts", {"ts": "2026-11-23 09:00:00", "id": "a"})
    s1.close()
    s2 = open_store()
    assert s2.schema_version() == SCHEMA_VERSION
    assert s2.get_cursor("feed:Accounts") == {"ts": "2026-11-23 09:00:00", "id": "a"}


def test_a_store_from_a_newer_version_is_refused(open_store):
    s = open_store()
    s.run(lambda cur: s._x(cur, "INSERT INTO {schema_version} (version) VALUES (?)", (SCHEMA_VERSION + 1,)))
    s.close()
    with pytest.raises(StateError, match="newer than this suitecrm-ext supports"):
        open_store()


# --- cursors ----------------------------------------------------------------------------------


def test_cursor_roundtrip_and_replace(store):
    assert store.get_cursor("c") is None
    store.set_cursor("c", {"a": 1})
    store.set_cursor("c", {"a": 2, "b": [1, "x"]})
    assert store.get_cursor("c") == {"a": 2, "b": [1, "x"]}


@pytest.mark.parametrize("name, value, message", [
    ("c", ["not", "a", "dict"], "must be a dict"),
    ("c", {"when": object()}, "not JSON-serialisable"),
    ("", {"a": 1}, "cursor name must be a non-empty string"),
    ("x" * 300, {"a": 1}, "longer than"),
])
def test_bad_cursor_is_refused_and_changes_nothing(store, name, value, message):
    store.set_cursor("c", {"a": 1})
    with pytest.raises(StateError, match=message):
        store.set_cursor(name, value)
    assert store.get_cursor("c") == {"a": 1}


# --- key/value --------------------------------------------------------------------------------


def test_kv_set_get_many_delete(store):
    store.kv_set("ids", "a", {"crm": "1"})
    store.kv_set_many("ids", {"b": 2, "c": [3], "d": None})
    assert store.kv_get("ids", "a") == {"crm": "1"}
    assert store.kv_get("ids", "zz", "dflt") == "dflt"
    assert store.kv_get_many("ids", ["a", "b", "c", "d", "missing"]) == {"a": {"crm": "1"}, "b": 2, "c": [3],
                                                                        "d": None}
    assert store.kv_get_many("other", ["a"]) == {}
    assert store.kv_keys("ids") == ["a", "b", "c", "d"]
    assert store.kv_keys("ids", prefix="c") == ["c"]
    assert store.kv_delete("ids", "a") is True
    assert store.kv_delete("ids", "a") is False
    assert store.kv_get("ids", "a") is None


def test_kv_set_many_is_all_or_nothing(store):
    with pytest.raises(StateError, match="'bad'.*not JSON-serialisable"):
        store.kv_set_many("ns", {"good": 1, "bad": {1, 2}})
    assert store.kv_get_many("ns", ["good", "bad"]) == {}


def test_kv_ttl_expires(store, clock):
    store.kv_set("nonce", "n1", True, ttl_seconds=300)
    clock.advance(299)
    assert store.kv_get("nonce", "n1") is True
    clock.advance(2)
    assert store.kv_get("nonce", "n1") is None
    assert store.kv_keys("nonce") == []
    assert store.kv_purge_expired() == 1
    with pytest.raises(StateError, match="ttl_seconds must be positive"):
        store.kv_set("nonce", "n2", True, ttl_seconds=0)


def test_kv_add_inserts_only_when_absent_or_expired(store, clock):
    assert store.kv_add("done", "evt-1", {"at": 1}, ttl_seconds=10) is True
    assert store.kv_add("done", "evt-1", {"at": 2}) is False
    assert store.kv_get("done", "evt-1") == {"at": 1}
    clock.advance(11)
    assert store.kv_add("done", "evt-1", {"at": 3}) is True
    assert store.kv_get("done", "evt-1") == {"at": 3}


def test_kv_add_is_atomic_across_connections(open_store):
    stores = [open_store() for _ in range(6)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def worker(s):
        barrier.wait()
        for i in range(20):
            results.append((i, s.kv_add("nonce", f"n{i}", 1)))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [i for i, ok in results if ok]
    assert sorted(wins) == list(range(20))  # each nonce accepted exactly once


# --- queue ------------------------------------------------------------------------------------


def test_enqueue_ignores_duplicate_keys_and_saves_cursor_in_the_same_transaction(store):
    assert store.enqueue([ev(1), ev(2), ev(1)], cursor=("feed:Accounts", {"id": "rec-00002"})) == 2
    assert store.enqueue([ev(2), ev(3)]) == 1
    assert store.get_cursor("feed:Accounts") == {"id": "rec-00002"}
    assert store.queue_stats().events == 3


def test_enqueue_with_a_bad_cursor_stores_no_event(store):
    with pytest.raises(StateError, match="not JSON-serialisable"):
        store.enqueue([ev(1), ev(2)], cursor=("feed:Accounts", {"ts": object()}))
    assert store.queue_stats().events == 0
    assert store.get_cursor("feed:Accounts") is None


def test_enqueue_refuses_values_it_cannot_store(store):
    bad = ev(1, values={"blob": object()})
    with pytest.raises(StateError, match="values.blob: cannot store a object"):
        store.enqueue([ev(2), bad])
    assert store.queue_stats().events == 0


def test_event_round_trips_with_typed_values(store):
    e = ev(7, values={"amount": Decimal("12.50"), "due": dt.date(2026, 12, 1), "name": "Ünïcode"},
           changes={"date_modified": FieldChange(T0, T0 + dt.timedelta(hours=1))}, user_id="1", source="push")
    store.enqueue([e])
    store.fan_out(lambda _e: ["p"])
    (d,) = store.claim("w")
    assert d.event == e


def test_fan_out_creates_one_delivery_per_routed_plugin(store):
    store.enqueue([ev(1), ev(2, module="Contacts"), ev(3, module="Leads")])
    routes = {"Accounts": ["a", "b"], "Contacts": ["b"], "Leads": []}
    assert store.fan_out(lambda e: routes[e.module]) == 3
    assert store.fan_out(lambda e: routes[e.module]) == 0  # each event fanned out once
    got = sorted((d.event.module, d.plugin) for d in store.claim("w", limit=100))
    assert got == [("Accounts", "a"), ("Accounts", "b"), ("Contacts", "b")]


def test_fan_out_routing_error_names_the_event_and_keeps_it_queued(store):
    store.enqueue([ev(1)])

    def broken(_e):
        raise KeyError("nope")

    with pytest.raises(StateError, match="routing event Accounts:rec-00001"):
        store.fan_out(broken)
    assert store.queue_stats().not_fanned_out == 1
    assert store.fan_out(lambda e: ["p"]) == 1


def test_claim_leases_ack_fail_and_lease_expiry(store, clock):
    store.enqueue([ev(i) for i in range(5)])
    store.fan_out(lambda e: ["p"])
    first = store.claim("w1", limit=3, lease_seconds=60)
    assert [d.event.record_id for d in first] == ["rec-00000", "rec-00001", "rec-00002"]
    second = store.claim("w2", limit=10, lease_seconds=60)
    assert {d.id for d in second}.isdisjoint(d.id for d in first) and len(second) == 2
    assert store.ack(first[0].id, "w1") is True
    store.fail(first[1].id, "w1", "HTTP 503", retry_at=clock() + 30)
    # w1 crashes holding first[2]: after the lease expires it is due again
    assert store.claim("w3") == []
    clock.advance(31)
    again = store.claim("w3", lease_seconds=60)
    assert [d.id for d in again] == [first[1].id]
    assert again[0].attempts == 1 and again[0].last_error == "HTTP 503"
    clock.advance(30)
    assert [d.id for d in store.claim("w3")] == [first[2].id] + [d.id for d in second]


def test_ack_by_a_worker_that_lost_its_lease_still_marks_done(store, clock):
    store.enqueue([ev(1)])
    store.fan_out(lambda e: ["p"])
    (d,) = store.claim("w1", lease_seconds=5)
    clock.advance(6)
    assert [x.id for x in store.claim("w2")] == [d.id]
    assert store.ack(d.id, "w1") is False
    assert store.get_delivery(d.id).status == "done"
    store.fail(d.id, "w1", "late failure", retry_at=None)  # not the holder: ignored
    assert store.get_delivery(d.id).status == "done"


def test_the_new_holders_failure_does_not_undo_a_late_ack(store, clock):
    # w1's handler succeeded after its lease ran out and w2 had claimed the delivery; w2's attempt then
    # fails: the delivery was handled, so it stays done (not dead-lettered, not retried)
    store.enqueue([ev(1)])
    store.fan_out(lambda e: ["p"])
    (d,) = store.claim("w1", lease_seconds=5)
    clock.advance(6)
    assert [x.id for x in store.claim("w2")] == [d.id]
    assert store.ack(d.id, "w1") is False
    store.fail(d.id, "w2", "CRM said no", retry_at=None)
    got = store.get_delivery(d.id)
    assert (got.status, got.attempts) == ("done", 0)
    assert store.dead_letters() == []


def test_dead_letters_and_replay(store, clock):
    store.enqueue([ev(1), ev(2)])
    store.fan_out(lambda e: ["a", "b"])
    ds = store.claim("w", limit=10)
    for d in ds:
        if d.plugin == "a":
            store.fail(d.id, "w", f"boom {d.event.record_id}", retry_at=None)
        else:
            store.ack(d.id, "w")
    dead = store.dead_letters()
    assert {d.last_error for d in dead} == {"boom rec-00001", "boom rec-00002"}
    assert all(d.plugin == "a" and d.status == "dead" for d in dead)
    assert store.dead_letters(plugin="b") == []
    assert store.replay([dead[0].id]) == 1
    assert store.replay([dead[0].id]) == 0  # pending now: nothing to replay
    assert store.replay([999999]) == 0
    assert [d.id for d in store.claim("w")] == [dead[0].id]
    assert store.replay_all_dead(plugin="b") == 0
    assert store.replay_all_dead() == 1
    assert store.queue_stats().dead == 0


def test_release_and_release_owner_make_work_due_at_once(store):
    store.enqueue([ev(i) for i in range(4)])
    store.fan_out(lambda e: ["p"])
    ds = store.claim("w1", limit=4)
    assert store.release([ds[0].id, ds[1].id], "w1") == 2
    assert store.release([ds[2].id], "someone-else") == 0
    assert [d.id for d in store.claim("w2")] == [ds[0].id, ds[1].id]
    assert store.release_owner("w1") == 2
    assert [d.id for d in store.claim("w2")] == [ds[2].id, ds[3].id]


def test_concurrent_claims_never_hand_a_delivery_to_two_workers(open_store):
    setup = open_store()
    setup.enqueue([ev(i) for i in range(300)])
    setup.fan_out(lambda e: ["p1", "p2"], limit=1000)
    workers = [open_store() for _ in range(4)]
    taken: dict[str, list[int]] = {}
    barrier = threading.Barrier(len(workers))

    def work(i, s):
        mine = taken.setdefault(f"w{i}", [])
        barrier.wait()
        while batch := s.claim(f"w{i}", limit=7):
            for d in batch:
                mine.append(d.id)
                s.ack(d.id, f"w{i}")

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for ids in taken.values() for i in ids]
    assert len(all_ids) == 600 and len(set(all_ids)) == 600
    assert setup.queue_stats().done == 600


def test_concurrent_fan_out_fans_each_event_once(open_store):
    setup = open_store()
    setup.enqueue([ev(i) for i in range(200)])
    workers = [open_store() for _ in range(3)]
    routed: list[str] = []

    def work(s):
        while s.fan_out(lambda e: routed.append(e.key) or ["p"], limit=9):
            pass

    threads = [threading.Thread(target=work, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(routed) == 200 and len(set(routed)) == 200
    assert setup.queue_stats().pending == 200


def test_recent_events_stats_next_due_and_purge(store, clock):
    assert store.next_due_at() is None
    store.enqueue([ev(1), ev(2), ev(3)])
    assert store.next_due_at() == clock()  # waiting for fan-out
    store.fan_out(lambda e: ["p"] if e.record_id != "rec-00003" else [])
    d1, d2 = store.claim("w")
    store.ack(d1.id, "w")
    store.fail(d2.id, "w", "x", retry_at=clock() + 100)
    assert store.next_due_at() == clock() + 100
    tail = store.recent_events(2)
    assert [q.event.record_id for q in tail] == ["rec-00003", "rec-00002"]
    assert tail[0].deliveries == () and tail[1].deliveries[0].status == "pending"
    assert store.queue_stats().__dict__ == {"events": 3, "not_fanned_out": 0, "pending": 1, "done": 1,
                                            "dead": 0}
    clock.advance(3600)
    # rec-00001 (done) and rec-00003 (no plugin wanted it) go; rec-00002 is still pending
    assert store.purge_done(older_than_seconds=60) == 2
    assert [q.event.record_id for q in store.recent_events()] == ["rec-00002"]
    # a purged key may be queued again (it is gone from the de-duplication window)
    assert store.enqueue([ev(1)]) == 1


# --- locks ------------------------------------------------------------------------------------


def test_lock_is_exclusive_renewable_and_expires(store, clock):
    assert store.acquire_lock("job:x", "a", 30) is True
    assert store.acquire_lock("job:x", "b", 30) is False
    assert store.lock_info("job:x").owner == "a"
    assert store.acquire_lock("job:x", "a", 30) is True  # re-entrant for the holder
    clock.advance(20)
    assert store.renew_lock("job:x", "a", 30) is True
    clock.advance(20)
    assert store.acquire_lock("job:x", "b", 30) is False  # renewed: still a's
    assert store.renew_lock("job:x", "b", 30) is False
    assert store.release_lock("job:x", "b") is False
    clock.advance(11)  # a crashed: lease over
    assert store.lock_info("job:x") is None
    assert store.renew_lock("job:x", "a", 30) is False
    assert store.acquire_lock("job:x", "b", 30) is True
    assert store.release_lock("job:x", "b") is True
    assert store.acquire_lock("job:x", "a", 30) is True


def test_lock_taken_by_one_of_many_concurrent_contenders(open_store):
    stores = [open_store() for _ in range(5)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def contend(i, s):
        barrier.wait()
        if s.acquire_lock("job:nightly", f"o{i}", 60):
            wins.append(f"o{i}")

    threads = [threading.Thread(target=contend, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


# --- job runs ---------------------------------------------------------------------------------


def test_job_runs_history(store, clock):
    r1 = store.job_started("onec-import", "host-a")
    clock.advance(5)
    store.job_finished(r1, True, "42 payments")
    r2 = store.job_started("onec-import", "host-b")
    r3 = store.job_started("portal-sync", "host-a")
    store.job_finished(r3, False, "TransientError: 503")
    last = store.last_job_runs()
    assert last["onec-import"].id == r2 and last["onec-import"].ok is None
    assert last["portal-sync"].ok is False and last["portal-sync"].summary == "TransientError: 503"
    runs = store.job_runs("onec-import")
    assert [r.id for r in runs] == [r2, r1]
    assert runs[1].summary == "42 payments" and runs[1].finished_at - runs[1].started_at == 5


def test_a_version_1_store_is_migrated_to_the_current_schema(open_store):
    s = open_store()
    drop_index = ("DROP INDEX deliveries_claim" if open_store.backend == "sqlite"
                  else "DROP INDEX deliveries_claim ON sxt_deliveries")
    s.run(lambda cur: (cur.execute(drop_index),
                       s._x(cur, "DELETE FROM {schema_version} WHERE version > 1")))
    s.enqueue([ev(1)])
    s.close()
    s2 = open_store()
    assert s2.schema_version() == SCHEMA_VERSION
    assert s2.queue_stats().events == 1  # data kept across the migration
