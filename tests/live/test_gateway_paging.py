"""Paging, sorting and text values on a real SuiteCRM 7.14.6, on every transport.

The three data-losing bugs the live layer found, each read here over many small pages:
1. REST/SOAP sent table-qualified ``order_by`` keys, which SuiteCRM silently drops: pages repeated and
   skipped rows; 2. V8 hands out ``to_html()``-encoded text (``O&#039;Rourke``); 3. V8's offset pages
   are unstable on ties of the (single) sort key, so a de-duplicated read lost rows.
The rows are bulk-inserted into the database (this file is about reading) and removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pymysql
import pytest

from suitecrm_ext.crm.base import Cond

TRANSPORTS = ["rest", "soap", "v8", "v8_password", "mysql"]
PAGE = 7
NOW = dt.datetime(2026, 5, 4, 3, 2, 1)


@pytest.fixture(scope="module")
def seeded(live_lab, run_tag):
    """61+ Accounts named ``<tag> ...``: 30 with one name (ties), 31 distinct, a few with markup,
    quotes, entities and Cyrillic text; several sharing one date_modified second."""
    tag = f"{run_tag}p"
    names = [f"{tag} same"] * 30 + [f"{tag} n{i:02d}" for i in range(31)] + [
        f"{tag} TJ O'Rourke & Sons", f'{tag} say "hi" <b>bold</b> 5 > 3', f"{tag} Ромашка «Лютик» №1",
        f"{tag} AT&T & co"]
    rows = []
    for i, name in enumerate(names):
        rid = str(uuid.uuid4())
        modified = NOW + dt.timedelta(seconds=(i // 10) * 17)  # ten rows per second: ties here too
        rows.append((rid, name, modified, modified, "1", "1", "Banking" if i % 3 else "", 0))
    conn = pymysql.connect(**live_lab.db_params())
    try:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO accounts (id, name, date_entered, date_modified, created_by, modified_user_id,"
                " industry, deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
        yield tag, {r[0]: r[1] for r in rows}
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM accounts WHERE name LIKE %s", (tag + "%",))
        conn.close()


def transport(live_lab, flavour):
    crm = live_lab.transport(flavour)
    crm.page_size = PAGE
    return crm


def db_order(live_lab, tag, order_sql):
    with pymysql.connect(**live_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT name FROM accounts WHERE deleted = 0 AND name LIKE %s ORDER BY {order_sql}",
                    (tag + "%",))
        return [r[0] for r in cur.fetchall()]


@pytest.mark.parametrize("flavour", TRANSPORTS)
@pytest.mark.parametrize("order,order_sql", [("name", "name"), ("-name", "name DESC"),
                                             ("date_modified", "date_modified"), (None, "id")])
def test_paged_reads_are_complete_and_in_order(live_lab, seeded, flavour, order, order_sql):
    tag, rows = seeded
    crm = transport(live_lab, flavour)
    try:
        got = list(crm.find("Accounts", Cond("name", "like", tag + "%"), ["name"], order=order))
    finally:
        crm.close()
    ids = [r.id for r in got]
    assert len(ids) == len(set(ids)), "a row came twice"
    assert set(ids) == set(rows), f"{len(set(rows) - set(ids))} row(s) missing"
    if order in ("name", "-name"):  # ties may come in any order, the names may not
        assert [r["name"] for r in got] == db_order(live_lab, tag, order_sql)


@pytest.mark.parametrize("flavour", ["rest", "soap", "mysql"])
def test_two_sort_keys_are_applied(live_lab, seeded, flavour):
    """With ``accounts.industry ASC`` SuiteCRM ignored the order: now the keys reach MySQL."""
    tag, _rows = seeded
    crm = transport(live_lab, flavour)
    try:
        got = [(r["industry"], r["name"]) for r in
               crm.find("Accounts", Cond("name", "like", tag + "%"), ["industry", "name"],
                        order=["-industry", "name"])]
    finally:
        crm.close()
    with pymysql.connect(**live_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
        cur.execute("SELECT COALESCE(industry, ''), name FROM accounts WHERE deleted = 0 AND name LIKE %s"
                    " ORDER BY industry DESC, name", (tag + "%",))
        assert got == [tuple(r) for r in cur.fetchall()]


@pytest.mark.parametrize("flavour", TRANSPORTS)
def test_text_reads_as_the_database_holds_it(live_lab, seeded, flavour):
    tag, rows = seeded
    special = {rid: name for rid, name in rows.items() if any(c in name for c in "'\"<&Р")}
    crm = transport(live_lab, flavour)
    try:
        for rid, name in special.items():
            assert crm.get("Accounts", rid, ["name"])["name"] == name
            assert [r.id for r in crm.find("Accounts", {"name": name}, ["name"])] == [rid]
        found = {r.id: r["name"] for r in crm.find("Accounts", Cond("name", "like", tag + "%"), ["name"])}
        assert {k: found[k] for k in special} == special
    finally:
        crm.close()


@pytest.mark.parametrize("flavour", ["v8", "v8_password"])
def test_v8_counts_match_the_database(live_lab, seeded, flavour):
    tag, rows = seeded
    crm = transport(live_lab, flavour)
    try:
        assert crm.count("Accounts", Cond("name", "like", tag + "%")) == len(rows)
        assert crm.count("Accounts", {"name": f"{tag} same"}) == 30
    finally:
        crm.close()
