"""MySQLCRM, the read side of the CRM interface, against a real MariaDB with the SuiteCRM-shaped schema."""

from __future__ import annotations

import datetime as dt
import uuid

import pymysql
import pytest
from mariadb import SUITECRM_SCHEMA, load_sql

from suitecrm_ext import (
    AuthError,
    Cond,
    NotFound,
    PermissionDenied,
    ProtocolError,
    TransientError,
    ValidationError,
    any_of,
)
from suitecrm_ext.crm.mysql import MySQLCRM

pytestmark = pytest.mark.mysql

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 23, 5, 17, 26)


def gid() -> str:
    return str(uuid.uuid4())


class DB:
    """Inserts SuiteCRM-shaped rows the way SuiteCRM stores them (UTC datetimes, deleted flags)."""

    def __init__(self, conn):
        self.conn = conn

    def exec(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)

    def account(self, name, *, id=None, modified=T0, deleted=0, cstm=None, **cols):
        id = id or gid()
        values = {"id": id, "name": name, "date_entered": T0, "date_modified": modified, "deleted": deleted,
                  **cols}
        self.exec(f"INSERT INTO accounts ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
                  tuple(values.values()))
        if cstm is not None:
            c = {"id_c": id, **cstm}
            self.exec(f"INSERT INTO accounts_cstm ({', '.join(c)}) VALUES ({', '.join(['%s'] * len(c))})",
                      tuple(c.values()))
        return id

    def row(self, table, **values):
        values.setdefault("id", gid())
        self.exec(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))})",
                  tuple(values.values()))
        return values["id"]


@pytest.fixture(scope="module")
def shared_db(mysql_server):
    """One schema load for the module (DDL is the slow part); tests that change the schema use suitecrm_db."""
    name = mysql_server.create_database()
    load_sql(mysql_server, name, SUITECRM_SCHEMA)
    yield name
    mysql_server.drop_database(name)


@pytest.fixture
def dbname(mysql_server, shared_db):
    """The shared database, emptied of records after each test (the metadata rows stay)."""
    yield shared_db
    with mysql_server.connect(shared_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (shared_db,))
        for (table,) in cur.fetchall():
            if table not in ("relationships", "config"):
                cur.execute(f"DELETE FROM `{table}`")


@pytest.fixture
def db(mysql_server, dbname):
    with mysql_server.connect(dbname) as conn:
        yield DB(conn)


@pytest.fixture
def crm(mysql_server, dbname):
    c = MySQLCRM(**mysql_server.params(dbname), page_size=3)
    yield c
    c.close()


@pytest.fixture
def fresh(mysql_server, suitecrm_db):
    """A database of its own, for tests that change the schema: (DB, MySQLCRM)."""
    with mysql_server.connect(suitecrm_db) as conn:
        c = MySQLCRM(**mysql_server.params(suitecrm_db), page_size=3)
        yield DB(conn), c
        c.close()


def count_queries(crm, monkeypatch) -> list[str]:
    seen: list[str] = []
    real = crm._run

    def spy(sql, params=(), **kw):
        seen.append(sql)
        return real(sql, params, **kw)

    monkeypatch.setattr(crm, "_run", spy)
    return seen


# --- get -----------------------------------------------------------------------------------------


def test_get_normalises_values_and_joins_custom_fields(db, crm):
    aid = db.account("Acme", annual_revenue="1000", cstm={"jjwg_maps_address_c": "Main st 1"})
    rec = crm.get("Accounts", aid)
    assert rec.module == "Accounts" and rec.id == aid and rec.deleted is False
    assert rec["name"] == "Acme"
    assert rec["date_modified"] == T0.replace(tzinfo=UTC)  # aware UTC, seconds kept
    assert rec["jjwg_maps_address_c"] == "Main st 1"  # from accounts_cstm
    assert rec["description"] == ""  # NULL → "" like the APIs
    assert rec["deleted"] is False
    case = db.row("cases", name="Broken", account_id=aid, date_modified=T0, deleted=0)
    assert isinstance(crm.get("Cases", case)["case_number"], int)  # auto_increment int column


def test_get_selected_fields_only(db, crm):
    aid = db.account("Acme", cstm={"jjwg_maps_address_c": "x"})
    rec = crm.get("Accounts", aid, fields=["name", "jjwg_maps_address_c"])
    assert rec.values == {"name": "Acme", "jjwg_maps_address_c": "x"}


def test_get_missing_and_deleted_records_are_not_found(db, crm):
    aid = db.account("Gone", deleted=1)
    with pytest.raises(NotFound, match="does not exist or is deleted"):
        crm.get("Accounts", aid)
    with pytest.raises(NotFound):
        crm.get("Accounts", "no-such-id")


def test_record_without_cstm_row_reads_custom_fields_as_empty(db, crm):
    aid = db.account("No custom row")
    assert crm.get("Accounts", aid)["jjwg_maps_address_c"] == ""


def test_unknown_module_and_fields_are_named(db, crm):
    with pytest.raises(NotFound, match="'Widgets'.*no table 'widgets'.*suitecrm.mysql.tables"):
        crm.get("Widgets", "1")
    with pytest.raises(ValidationError) as exc:
        list(crm.find("Accounts", fields=["name", "nope"]))
    assert exc.value.fields == ["nope"]
    with pytest.raises(ValidationError, match="no field 'bogus'"):
        crm.find("Accounts", order="-bogus")


# --- find: keyset paging --------------------------------------------------------------------------


def test_find_pages_by_date_modified_then_id_across_rows_sharing_one_second(db, crm, monkeypatch):
    same = T0 + dt.timedelta(seconds=5)
    expected = []
    for i in range(4):  # four rows in one second: the page boundary falls inside them
        expected.append((same, db.account(f"same {i}", id=f"00000000-0000-0000-0000-00000000000{i}",
                                           modified=same)))
    for i in range(5):
        m = T0 + dt.timedelta(seconds=i)
        expected.append((m, db.account(f"early {i}", modified=m)))
    expected.append((T0 + dt.timedelta(days=1), db.account("late", modified=T0 + dt.timedelta(days=1))))
    db.account("deleted", modified=same, deleted=1)
    queries = count_queries(crm, monkeypatch)
    got = [(r.date_modified.replace(tzinfo=None), r.id) for r in crm.find("Accounts", order="date_modified")]
    assert got == sorted(expected)
    assert len(got) == len(set(got)) == 10
    pages = [q for q in queries if "FROM `accounts`" in q and "LIMIT 3" in q]
    assert len(pages) >= 4  # 10 rows / page_size 3: really paged, not one big read
    assert all("OFFSET" not in q for q in pages)


def test_default_order_is_id_paged_on_the_primary_key(db, crm, monkeypatch):
    ids = [db.account(f"a{i}", modified=T0 - dt.timedelta(minutes=i)) for i in range(7)]
    queries = count_queries(crm, monkeypatch)
    assert [r.id for r in crm.find("Accounts")] == sorted(ids)
    pages = [q for q in queries if "LIMIT 3" in q]
    assert len(pages) == 3 and all(q.endswith("ORDER BY t.`id` ASC LIMIT 3") for q in pages)


def test_rows_with_null_date_modified_come_first_and_are_not_lost(db, crm):
    nulls = sorted(db.account(f"n{i}", modified=None) for i in range(4))
    dated = db.account("dated")
    assert [r.id for r in crm.find("Accounts", order="date_modified")] == nulls + [dated]
    assert [r.id for r in crm.find("Accounts", order="-date_modified")] == [dated] + nulls[::-1]


def test_find_descending_limit_and_include_deleted(db, crm):
    ids = [db.account(f"a{i}", modified=T0 + dt.timedelta(minutes=i)) for i in range(7)]
    gone = db.account("gone", modified=T0 + dt.timedelta(hours=1), deleted=1)
    assert [r.id for r in crm.find("Accounts", order=["-date_modified", "-id"], limit=5)] == ids[::-1][:5]
    with_deleted = list(crm.find("Accounts", order="date_modified", include_deleted=True))
    assert [r.id for r in with_deleted][-1] == gone and with_deleted[-1].deleted is True
    assert crm.count("Accounts") == 7 and crm.count("Accounts", include_deleted=True) == 8
    assert list(crm.find("Accounts", limit=0)) == []


def test_find_other_orders_stream_all_rows(db, crm):
    for name in ["delta", "alpha", "Charlie", "bravo", "echo"]:
        db.account(name)
    assert [r["name"] for r in crm.find("Accounts", order="name")] == ["alpha", "bravo", "Charlie", "delta",
                                                                        "echo"]
    assert [r["name"] for r in crm.find("Accounts", order="-name", limit=2)] == ["echo", "delta"]


def test_paging_resumes_after_the_connection_is_killed(db, crm, mysql_server):
    ids = sorted(db.account(f"a{i}") for i in range(8))
    it = crm.find("Accounts")
    first = [next(it).id for _ in range(3)]  # one page read
    with mysql_server.connect() as admin, admin.cursor() as cur:
        cur.execute("KILL CONNECTION %s", (crm._conn.thread_id(),))
    rest = [r.id for r in it]
    assert first + rest == ids


def test_paging_that_makes_no_progress_stops_with_an_error(db, crm, monkeypatch):
    for i in range(4):
        db.account(f"a{i}")
    real, first = crm._run, []

    def stuck(sql, params=(), **kw):  # a server (or view) that ignores the resume condition
        if "LIMIT 3" not in sql:
            return real(sql, params, **kw)
        if not first:
            rows = real(sql, params, **kw)
            if not rows:  # the NULL date_modified phase
                return rows
            first.append(rows)
        return first[0]

    monkeypatch.setattr(crm, "_run", stuck)
    with pytest.raises(ProtocolError, match="no progress"):
        list(crm.find("Accounts"))


# --- filters ---------------------------------------------------------------------------------------


def test_filters_compile_to_sql_with_the_shared_semantics(db, crm):
    a = db.account("Alpha", account_type="Customer", annual_revenue="",
                   cstm={"jjwg_maps_address_c": "Moscow"})
    b = db.account("Beta", account_type="Partner", cstm={"jjwg_maps_address_c": "Kazan"})
    c = db.account("Gamma", account_type=None, modified=T0 + dt.timedelta(days=2))

    def ids(where):
        return sorted(r.id for r in crm.find("Accounts", where))

    assert ids({"name": "alpha"}) == [a]  # utf8_general_ci: case-insensitive like SuiteCRM
    assert ids(Cond("account_type", "neq", "Customer")) == sorted([b, c])  # neq matches empty values
    assert ids(Cond("account_type", "in", ["Customer", "Partner"])) == sorted([a, b])
    assert ids(Cond("account_type", "in", [])) == []
    assert ids(Cond("account_type", "is_null")) == [c]
    assert ids(Cond("annual_revenue", "is_null")) == sorted([a, b, c])  # "" counts as empty for text
    assert ids(Cond("account_type", "not_null")) == sorted([a, b])
    assert ids(Cond("name", "like", "%mm%")) == [c]
    assert ids(Cond("jjwg_maps_address_c", "eq", "Kazan")) == [b]  # custom field in a filter
    later = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))  # = 00:00 UTC
    assert ids(Cond("date_modified", "gt", later)) == [c]
    assert ids(any_of(Cond("name", "eq", "Alpha"), Cond("name", "eq", "Gamma"))) == sorted([a, c])
    assert crm.count("Accounts", Cond("jjwg_maps_address_c", "like", "M%")) == 1


@pytest.mark.parametrize("hostile", [
    "O'Brien", "x' OR '1'='1", "a\\", "\\'; DROP TABLE accounts; -- ", "50% off_",
    "Robert\"); DELETE FROM accounts;#",
])
def test_hostile_filter_values_are_data_not_sql(db, crm, hostile):
    target = db.account(hostile)
    db.account("bystander")
    assert [r.id for r in crm.find("Accounts", {"name": hostile})] == [target]
    assert crm.count("Accounts", Cond("name", "in", [hostile, "nobody"])) == 1
    assert crm.count("Accounts") == 2  # nothing dropped or deleted


def test_hostile_field_names_and_raw_sql_are_refused(db, crm):
    with pytest.raises(ValidationError, match="bad filter"):
        crm.count("Accounts", {"name`='' OR 1=1 -- ": "x"})
    with pytest.raises(ValidationError, match="not raw SQL"):
        crm.count("Accounts", "1=1; DROP TABLE accounts")
    with pytest.raises(ValidationError) as exc:
        crm.count("Accounts", Cond("no_such_column", "eq", 1))
    assert exc.value.fields == ["no_such_column"]
    with pytest.raises(ValidationError, match="a single value is needed"):
        crm.count("Accounts", {"name": {"$ne": 1}})


# --- related ---------------------------------------------------------------------------------------


def test_related_many_to_many_both_directions_honours_deleted(db, crm):
    acc = db.account("Acme")
    c1 = db.row("contacts", last_name="Live", deleted=0, date_modified=T0)
    c2 = db.row("contacts", last_name="Unlinked", deleted=0, date_modified=T0)
    c3 = db.row("contacts", last_name="Deleted contact", deleted=1, date_modified=T0)
    db.row("accounts_contacts", account_id=acc, contact_id=c1, deleted=0)
    db.row("accounts_contacts", account_id=acc, contact_id=c1, deleted=0)  # a duplicate live row
    db.row("accounts_contacts", account_id=acc, contact_id=c2, deleted=1)  # link removed
    db.row("accounts_contacts", account_id=acc, contact_id=c3, deleted=0)
    assert [r.id for r in crm.related("Accounts", acc, "contacts")] == [c1]
    assert [r.module for r in crm.related("Accounts", acc, "contacts")] == ["Contacts"]
    assert [r.id for r in crm.related("Contacts", c1, "accounts")] == [acc]
    assert list(crm.related("Contacts", c2, "accounts")) == []
    assert [r.id for r in crm.related("Accounts", acc, "accounts_contacts")] == [c1]  # relationship name


def test_related_reads_a_join_tables_columns_once(db, crm, monkeypatch):
    acc = db.account("Acme")
    c1 = db.row("contacts", last_name="Live", deleted=0, date_modified=T0)
    db.row("accounts_contacts", account_id=acc, contact_id=c1, deleted=0)
    assert [r.id for r in crm.related("Accounts", acc, "contacts", ["id"])] == [c1]
    seen = count_queries(crm, monkeypatch)
    for _ in range(3):  # a validation reads a few links per save: no information_schema round trip each
        assert [r.id for r in crm.related("Accounts", acc, "contacts", ["id"])] == [c1]
    assert not [q for q in seen if "information_schema" in q]
    crm.refresh_metadata()  # after a package install: asked again
    assert [r.id for r in crm.related("Accounts", acc, "contacts", ["id"])] == [c1]
    assert [q for q in seen if "information_schema" in q]


def test_related_one_to_many_with_role_column(db, crm):
    acc = db.account("Acme")
    other = db.account("Other")
    cases = sorted(db.row("cases", name=f"c{i}", account_id=acc, deleted=0) for i in range(5))
    db.row("cases", name="deleted case", account_id=acc, deleted=1)
    db.row("cases", name="other", account_id=other, deleted=0)
    assert [r.id for r in crm.related("Accounts", acc, "cases")] == cases  # 5 rows over 2 pages
    assert [r.id for r in crm.related("Cases", cases[0], "accounts")] == [acc]
    task = db.row("tasks", name="call", parent_type="Accounts", parent_id=acc, deleted=0)
    db.row("tasks", name="same id, other parent module", parent_type="Contacts", parent_id=acc, deleted=0)
    assert [r.id for r in crm.related("Accounts", acc, "tasks")] == [task]
    assert [r.id for r in crm.related("Tasks", task, "accounts")] == [acc]
    foreign = db.row("tasks", name="contact task", parent_type="Contacts", parent_id=acc, deleted=0)
    assert list(crm.related("Tasks", foreign, "accounts")) == []  # role value does not match


def test_related_role_on_join_table_security_groups_and_email(db, crm):
    acc = db.account("Acme")
    sg = db.row("securitygroups", name="Branch 1", deleted=0)
    sg2 = db.row("securitygroups", name="Branch 2", deleted=0)
    db.row("securitygroups_records", securitygroup_id=sg, record_id=acc, module="Accounts", deleted=0)
    db.row("securitygroups_records", securitygroup_id=sg2, record_id=acc, module="Contacts", deleted=0)
    assert [r.id for r in crm.related("Accounts", acc, "SecurityGroups")] == [sg]
    assert [r.id for r in crm.related("SecurityGroups", sg, "accounts")] == [acc]
    ea = db.row("email_addresses", email_address="a@example.com", email_address_caps="A@EXAMPLE.COM",
                deleted=0)
    db.row("email_addr_bean_rel", email_address_id=ea, bean_id=acc, bean_module="Accounts", deleted=0)
    assert [r["email_address"] for r in crm.related("Accounts", acc, "email_addresses")] == ["a@example.com"]


def test_related_errors(db, crm):
    acc = db.account("Acme")
    with pytest.raises(ValidationError, match="no relationship for link 'bogus'.*accounts_contacts"):
        crm.related("Accounts", acc, "bogus")
    with pytest.raises(ValidationError, match="ambiguous.*accounts_assigned_user"):
        crm.related("Users", "1", "accounts")
    with pytest.raises(NotFound):
        crm.related("Accounts", db.account("gone", deleted=1), "contacts")
    explicit = MySQLCRM(**_params_of(crm), links={"Users.accounts": "accounts_assigned_user"})
    uid = db.row("users", user_name="sally", deleted=0)
    mine = db.account("mine", assigned_user_id=uid)
    assert [r.id for r in explicit.related("Users", uid, "accounts")] == [mine]
    explicit.close()


def _params_of(crm: MySQLCRM) -> dict:
    a = crm._conn_args
    return {k: a[k] for k in ("host", "port", "user", "password", "database", "unix_socket")}


# --- metadata ---------------------------------------------------------------------------------------


def test_fields_types_from_stock_metadata_studio_and_sql(fresh):
    db, crm = fresh
    db.exec("ALTER TABLE accounts_cstm ADD COLUMN inn_c varchar(12) NULL,"
            " ADD COLUMN risk_c varchar(100) NULL, ADD COLUMN vip_c tinyint(1) DEFAULT 0")
    db.row("fields_meta_data", id="Accountsrisk_c", name="risk_c", vname="LBL_RISK", custom_module="Accounts",
           type="enum", required=1, deleted=0)
    f = crm.fields("Accounts")
    assert f["date_modified"].type == "datetime" and f["deleted"].type == "bool"
    assert f["account_type"].type == "enum" and "Customer" in f["account_type"].options  # stock metadata
    assert f["risk_c"].type == "enum" and f["risk_c"].required and f["risk_c"].source == "custom_fields"
    assert f["inn_c"].type == "varchar" and f["inn_c"].length == 12
    assert f["vip_c"].type == "bool"
    assert "id_c" not in f
    aid = db.account("Acme", cstm={"vip_c": 1, "inn_c": "7707083893"})
    assert crm.get("Accounts", aid, ["vip_c", "inn_c"]).values == {"vip_c": True, "inn_c": "7707083893"}
    typed = MySQLCRM(**_params_of(crm), field_types={"Accounts": {"inn_c": "int"}})
    assert typed.get("Accounts", aid, ["inn_c"])["inn_c"] == 7707083893
    typed.close()


def test_module_table_mapping_config_then_metadata_then_lowercase(fresh):
    db, crm = fresh
    db.exec("CREATE TABLE ca_collegial_actions (id char(36) NOT NULL PRIMARY KEY, name varchar(255),"
            " date_modified datetime, deleted tinyint(1) DEFAULT 0)")
    db.row("ca_collegial_actions", name="vote", deleted=0, date_modified=T0)
    mapped = MySQLCRM(**_params_of(crm), tables={"CA_Actions": "ca_collegial_actions"})
    assert [r["name"] for r in mapped.find("CA_Actions")] == ["vote"]
    assert "CA_Actions" in mapped.modules() and "DocumentRevisions" in mapped.modules()
    assert mapped.table_for("DocumentRevisions") == "document_revisions"  # from relationships metadata
    assert mapped.table_for("Accounts") == "accounts"
    with pytest.raises(NotFound, match="CA_Actions"):
        crm.find("CA_Actions")  # not configured: lower(module) has no table
    with pytest.raises(ValueError, match="tables.X"):
        MySQLCRM(**_params_of(crm), tables={"X": "x; DROP TABLE accounts"})
    mapped.close()


def test_server_info_reports_db_and_sugar_version(crm):
    info = crm.server_info()
    assert info["flavor"] == "mysql" and info["db_version"][0].isdigit()
    assert info["sugar_version"] == "6.5.25"


# --- writes and connection errors -----------------------------------------------------------------------


def test_writes_to_suitecrm_records_are_refused(db, crm):
    aid = db.account("Acme")
    for call in (lambda: crm.save("Accounts", {"name": "x"}), lambda: crm.delete("Accounts", aid),
                 lambda: crm.relate("Accounts", aid, "contacts", ["c"]),
                 lambda: crm.unrelate("Accounts", aid, "contacts", ["c"]),
                 lambda: crm.save_many("Accounts", [{"name": "x"}])):
        with pytest.raises(PermissionDenied, match="read-only towards SuiteCRM tables; writes go through"):
            call()
    with pytest.raises(PermissionDenied):
        crm.query("UPDATE accounts SET name = 'pwned'")
    assert crm.get("Accounts", aid)["name"] == "Acme"
    assert crm.query("SELECT name FROM accounts WHERE id = %s", [aid]) == [{"name": "Acme"}]


def test_bad_password_is_an_auth_error_without_the_password(mysql_server, dbname):
    params = {**_params_from_server(mysql_server, dbname), "user": "nobody_here",
              "password": "hunter2-secret"}
    bad = MySQLCRM(**params)
    with pytest.raises(AuthError) as exc:
        bad.ping()
    assert "hunter2-secret" not in str(exc.value)
    assert "hunter2-secret" not in repr(bad)


def test_unreachable_server_is_transient(dbname):
    dead = MySQLCRM("127.0.0.1", 9, "u", "p", dbname, retries=0, connect_timeout=2)
    with pytest.raises(TransientError):
        dead.count("Accounts")


def test_missing_select_privilege_is_permission_denied(mysql_server, dbname):
    user = f"ro_{uuid.uuid4().hex[:8]}"
    try:
        with mysql_server.connect() as admin, admin.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'")
            cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw'")
            for host in ("%", "localhost"):
                cur.execute(f"GRANT SELECT ON `{dbname}`.`relationships` TO '{user}'@'{host}'")
    except pymysql.err.OperationalError as exc:  # pragma: no cover - DSN user may not create users
        pytest.skip(f"cannot create a MySQL user here: {exc}")
    try:
        params = {**_params_from_server(mysql_server, dbname), "user": user, "password": "pw"}
        limited = MySQLCRM(**params)
        # information_schema hides tables the user may not read: the message says so
        with pytest.raises(NotFound, match="lacks SELECT"):
            limited.count("Accounts")
        with pytest.raises(PermissionDenied):
            limited.query("SELECT COUNT(*) FROM accounts")
        limited.close()
    finally:
        with mysql_server.connect() as admin, admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")


def _params_from_server(server, database) -> dict:
    p = server.params(database)
    p.setdefault("unix_socket", None)
    return p


def test_threads_sharing_one_reader_each_get_their_own_connection(db, crm):
    """The change feed, the dispatcher and validation threads share one gateway in `run`."""
    import threading

    ids = [db.row("accounts", name=f"T{i}", date_entered="2026-01-01 00:00:00",
                  date_modified="2026-01-01 00:00:00", deleted=0) for i in range(6)]
    errors: list[BaseException] = []
    seen: list[int] = []

    def reader() -> None:
        try:
            for _ in range(15):
                got = [r.id for r in crm.find("Accounts")]
                assert sorted(got) == sorted(ids)
            seen.append(id(crm._conn))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(seen)) == 4
    crm.close()
    assert crm._open_conns == set()


@pytest.mark.mysql
def test_password_hashes_and_credentials_are_not_read(db, crm):
    """SuiteCRM's APIs never hand out users.user_hash or stored mail/OAuth credentials; nor does the reader
    (so a poller watching Users does not copy password hashes into events)."""
    uid = db.row("users", user_name="sally", user_hash="$2y$10$secret.hash", status="Active",
                 date_modified=T0, deleted=0)
    rec = crm.get("Users", uid)
    assert rec["user_name"] == "sally" and "user_hash" not in rec.values
    assert "user_hash" not in crm.fields("Users")
    assert all("user_hash" not in r.values for r in crm.find("Users"))
    with pytest.raises(ValidationError):
        list(crm.find("Users", {"user_hash": "$2y$10$secret.hash"}))
    with pytest.raises(ValidationError):
        crm.get("Users", uid, ["user_name", "user_hash"])


# --- e-mail addresses (email_addresses + email_addr_bean_rel, as SugarEmailAddress files them) -------


def _address(db, bean_id, module, address, *, primary=0, reply_to=0, invalid=0, opt_out=0, deleted=0):
    ea = db.row("email_addresses", email_address=address, email_address_caps=address.upper(),
                invalid_email=invalid, opt_out=opt_out, deleted=0)
    db.row("email_addr_bean_rel", email_address_id=ea, bean_id=bean_id, bean_module=module,
           primary_address=primary, reply_to_address=reply_to, deleted=deleted)


def test_email_fields_follow_suitecrms_legacy_rules(db, crm):
    both = db.row("contacts", last_name="both", deleted=0)
    _address(db, both, "Contacts", "other@example.org")
    _address(db, both, "Contacts", "main@example.com", primary=1, opt_out=1)
    no_primary = db.row("contacts", last_name="no primary", deleted=0)
    _address(db, no_primary, "Contacts", "first@example.com", reply_to=0)
    _address(db, no_primary, "Contacts", "second@example.com", reply_to=1)
    unlinked = db.row("contacts", last_name="unlinked", deleted=0)
    _address(db, unlinked, "Contacts", "gone@example.com", primary=1, deleted=1)  # a removed link
    _address(db, unlinked, "Accounts", "not-a-contact@example.com", primary=1)  # another module's row
    fields = ["email1", "email2", "invalid_email", "email_opt_out"]
    found = crm.find("Contacts", fields=["last_name", *fields])
    got = {r["last_name"]: {k: r[k] for k in fields} for r in found}
    assert got == {
        "both": {"email1": "main@example.com", "email2": "other@example.org", "invalid_email": False,
                 "email_opt_out": True},
        "no primary": {"email1": "first@example.com", "email2": "second@example.com", "invalid_email": False,
                       "email_opt_out": False},
        "unlinked": {"email1": "", "email2": "", "invalid_email": False, "email_opt_out": False},
    }
    assert crm.get("Contacts", both)["email1"] == "main@example.com"  # in the default field list too
    assert crm.fields("Contacts")["email1"].source == "non-db"
    assert "email2" not in crm.fields("Accounts")  # as REST's get_module_fields: Accounts have email1 only


def test_email_fields_cost_one_query_per_page(db, crm, monkeypatch):
    for i in range(7):
        cid = db.row("contacts", last_name=f"c{i}", deleted=0)
        _address(db, cid, "Contacts", f"c{i}@example.com", primary=1)
    crm.fields("Contacts")
    queries = count_queries(crm, monkeypatch)
    assert len(list(crm.find("Contacts", fields=["last_name", "email1"]))) == 7
    assert sum("email_addr_bean_rel" in q for q in queries) == 3  # pages of 3, 3, 1


def test_email_fields_cannot_be_filtered_or_sorted_on(db, crm):
    with pytest.raises(ValidationError, match="non-db") as err:
        crm.count("Contacts", {"email1": "a@example.com"})
    assert err.value.fields == ["email1"]
    with pytest.raises(ValidationError, match="non-db"):
        list(crm.find("Users", order="email1"))
