"""The change feed against a real MariaDB as the SuiteCRM database (MySQLCRM transport), SQLite state.

Rows are written the way SuiteCRM writes them: ``date_modified`` is computed before the transaction
commits, with one-second resolution, deletes are ``deleted = 1``. The late commit below is a real open
transaction on a second connection.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from mariadb import SUITECRM_SCHEMA, load_sql

from suitecrm_ext import EventKind, WatchSpec, hookimpl
from suitecrm_ext.crm.mysql import MySQLCRM
from suitecrm_ext.events.dispatcher import Dispatcher
from suitecrm_ext.events.poller import ChangeFeed
from suitecrm_ext.events.push import event_from_push
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import build_app, build_registry

pytestmark = pytest.mark.mysql

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 9, 0, 0)


def at(seconds: int) -> dt.datetime:
    """A naive UTC DB datetime, as SuiteCRM stores it."""
    return T0 + dt.timedelta(seconds=seconds)


class SuiteCRMWriter:
    """Writes accounts rows like SuiteCRM's SugarBean::save / mark_deleted would."""

    def __init__(self, conn):
        self.conn = conn

    def exec(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def create(self, name, *, when, industry="Banking", id=None):
        id = id or str(uuid.uuid4())
        self.exec("INSERT INTO accounts (id, name, industry, date_entered, date_modified, created_by, "
                  "modified_user_id, deleted) VALUES (%s, %s, %s, %s, %s, '1', '1', 0)",
                  (id, name, industry, when, when))
        return id

    def update(self, id, *, when, user="1", **values):
        sets = ", ".join(f"{k} = %s" for k in values)
        self.exec(f"UPDATE accounts SET {sets}, date_modified = %s, modified_user_id = %s WHERE id = %s",
                  (*values.values(), when, user, id))

    def delete(self, id, *, when):
        self.exec("UPDATE accounts SET deleted = 1, date_modified = %s WHERE id = %s", (when, id))


@pytest.fixture(scope="module")
def schema_db(mysql_server):
    """One SuiteCRM-shaped database for this module (loading the schema takes ~1.5 s)."""
    name = mysql_server.create_database()
    load_sql(mysql_server, name, SUITECRM_SCHEMA)
    yield name
    mysql_server.drop_database(name)


@pytest.fixture
def suitecrm_db(mysql_server, schema_db):
    """The module's database with an empty accounts table."""
    with mysql_server.connect(schema_db) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE TABLE accounts")
    return schema_db


@pytest.fixture
def writer(mysql_server, suitecrm_db):
    with mysql_server.connect(suitecrm_db) as conn:
        yield SuiteCRMWriter(conn)


@pytest.fixture
def crm(mysql_server, suitecrm_db):
    c = MySQLCRM(**mysql_server.params(suitecrm_db), page_size=3)
    yield c
    c.close()


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "state.sqlite3")
    yield s
    s.close()


@pytest.fixture
def feed(crm, store):
    return ChangeFeed(crm, store, [WatchSpec("Accounts", fields=("name", "industry"))], overlap_seconds=60,
                      clock=lambda: at(0).replace(tzinfo=UTC))


def queued(store):
    return [q.event for q in reversed(store.recent_events(limit=1000))]


def test_history_before_start_is_not_replayed(writer, feed, store):
    writer.create("Before start", when=at(-30))
    assert feed.poll_once() == 0
    assert queued(store) == []


def test_create_update_delete_once_each(writer, feed, store):
    feed.poll_once()
    aid = writer.create("Acme", when=at(1))
    others = [writer.create(f"Other {i}", when=at(2)) for i in range(4)]  # more rows than a page
    assert feed.poll_once() == 5
    writer.update(aid, when=at(5), industry="Energy", user="seed_sally_id")
    assert feed.poll_once() == 1
    writer.delete(aid, when=at(7))
    assert feed.poll_once() == 1
    assert feed.poll_once() == 0
    events = queued(store)
    mine = [e for e in events if e.record_id == aid]
    assert [e.kind for e in mine] == [EventKind.CREATED, EventKind.UPDATED, EventKind.DELETED]
    update = mine[1]
    assert (update.changes["industry"].before, update.changes["industry"].after) == ("Banking", "Energy")
    assert set(update.changes) == {"industry"} and update.user_id == "seed_sally_id"
    assert update.time == at(5).replace(tzinfo=UTC)
    assert {e.record_id for e in events if e.kind is EventKind.CREATED} == {aid, *others}
    assert len({e.key for e in events}) == len(events)


def test_same_second_update(writer, feed, store):
    feed.poll_once()
    aid = writer.create("Acme", when=at(3))
    assert feed.poll_once() == 1
    writer.update(aid, when=at(3), description="not watched")  # same second, nothing watched changed
    assert feed.poll_once() == 0
    writer.update(aid, when=at(3), industry="Retail")  # same second, a watched field changed
    assert feed.poll_once() == 1
    assert feed.poll_once() == 0
    created, updated = queued(store)
    assert updated.kind is EventKind.UPDATED and updated.time == created.time
    assert updated.changes["industry"].after == "Retail"


def test_row_committed_late_with_an_older_date_modified(mysql_server, suitecrm_db, writer, feed, store):
    feed.poll_once()
    with mysql_server.connect(suitecrm_db) as slow_conn:
        slow_conn.autocommit(False)
        slow = SuiteCRMWriter(slow_conn)
        late = slow.create("Stamped at 4 s, committed last", when=at(4))  # transaction still open
        early = writer.create("Stamped at 9 s, committed first", when=at(9))
        assert feed.poll_once() == 1
        assert feed.cursor("Accounts")["date_modified"] == "2026-11-23T09:00:09Z"
        slow_conn.commit()
    assert feed.poll_once() == 1
    assert feed.poll_once() == 0
    events = queued(store)
    assert [e.record_id for e in events] == [early, late]
    assert events[1].kind is EventKind.CREATED and events[1].time == at(4).replace(tzinfo=UTC)


class Recorder:
    """A test plugin recording what reaches its handler."""

    def __init__(self, specs):
        self.specs = specs
        self.got = []

    @hookimpl
    def ext_watch(self, settings):
        return self.specs

    @hookimpl
    def ext_on_record_change(self, event, ctx):
        self.got.append((event.record_id, event.kind, dict(event.changes)))


def test_poll_and_push_reach_a_plugin_once_each(writer, crm, store):
    """Feed + dispatcher: every change reaches the plugin once, also when the push saw it first."""
    specs = [WatchSpec("Accounts", fields=("industry",))]
    plugin = Recorder(specs)
    registry = build_registry({"rec": plugin})
    app = build_app(registry, crm=crm, state=store)
    dispatcher = Dispatcher(app, registry, worker_id="t", store=store)
    feed = ChangeFeed(crm, store, specs, overlap_seconds=60, clock=lambda: at(0).replace(tzinfo=UTC))
    feed.poll_once()
    aid = writer.create("Acme", when=at(1))
    bid = writer.create("Beta", when=at(1))
    # the logic hook pushed Beta's creation before the feed polled: same key, queued once
    store.enqueue([event_from_push({"module": "Accounts", "id": bid, "kind": "created",
                                    "date_modified": "2026-11-23 09:00:01"}, received_at=at(1))])
    feed.poll_once()
    writer.update(aid, when=at(2), industry="Energy")
    writer.update(aid, when=at(2), industry="Retail")  # same second, before the next poll: one event
    writer.update(bid, when=at(3), description="unwatched")
    feed.poll_once()
    writer.delete(bid, when=at(4))
    for _ in range(3):
        feed.poll_once()
        dispatcher.drain()
    kinds = [(rid, kind) for rid, kind, _ in plugin.got]
    assert sorted(kinds) == sorted([(aid, EventKind.CREATED), (bid, EventKind.CREATED),
                                    (aid, EventKind.UPDATED), (bid, EventKind.DELETED)])
    [changes] = [c for rid, kind, c in plugin.got if kind is EventKind.UPDATED]
    assert (changes["industry"].before, changes["industry"].after) == ("Banking", "Retail")
