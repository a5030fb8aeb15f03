"""The v4_1 ``query``/``order_by`` compiler: escaping, identifiers, and its SQL run on a real MariaDB.

The MariaDB tests execute the compiled WHERE clause the way SuiteCRM does (its SELECT joins
``accounts_cstm``) over rows holding hostile values, and compare the matches with FakeCRM's for the same
filters: the SQL and the in-memory semantics must agree, and no value may escape its literal.
"""

from __future__ import annotations

import datetime as dt

import pytest
from crm.emulators.rest import literal_value
from hypothesis import given
from hypothesis import strategies as st

from suitecrm_ext.crm.base import Cond, FieldInfo, ValidationError, all_of, any_of, normalize_where
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.crm.sqlfilter import column, compile_order, compile_where, sql_string
from suitecrm_ext.crm.stock_modules import STOCK_FIELDS
from suitecrm_ext.crm.text import unstorable_fields

FIELDS = {f.name: f for f in STOCK_FIELDS["Accounts"]}

HOSTILE = [
    "O'Brien", 'say "hi"', "back\\slash", "trailing\\", "'; DROP TABLE accounts; --",
    "\\'; DELETE FROM accounts; #", "100% _sure_", "nul\x00byte", "line\nbreak\r\n", "ctrl\x1aZ",
    "Ромашка «Лютик»", "&amp; <b>", "  padded", "",
]


def where(flt) -> str:
    return compile_where(normalize_where(flt), "accounts", FIELDS, "Accounts")


# --- pure compiler -----------------------------------------------------------------------------


def test_string_literals_never_hold_a_backslash():
    """Quotes are doubled; text that would need a backslash goes as a hex literal, because SuiteCRM's
    query check (SugarSQLValidate) misreads a backslash before a quote and refuses the call."""
    assert sql_string("O'Brien") == "'O''Brien'"
    assert sql_string("a\\b") == "_utf8 X'615C62'"
    sneaky = "\\'; DELETE FROM accounts; #"
    assert sql_string(sneaky) == "_utf8 X'" + sneaky.encode().hex().upper() + "'"
    assert sql_string('x"y') == "_utf8 X'782279'"
    assert sql_string("n\x00l\n\r\x1a") == "_utf8 X'6E006C0A0D1A'"
    assert sql_string("Ёлка") == "'Ёлка'"
    assert sql_string(True) == "'1'"
    assert sql_string(dt.datetime(2026, 1, 2, 6, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))) == \
        "'2026-01-02 03:04:05'"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_round_trips_through_a_literal(value):
    lit = sql_string(value)
    assert literal_value(lit) == value
    assert "\\" not in lit
    if lit.startswith("'"):  # one token: no lone quote inside
        assert "'" not in lit[1:-1].replace("''", "")


def test_columns_are_qualified_and_checked():
    assert column("accounts", "name", FIELDS) == "accounts.name"
    assert column("accounts", "jjwg_maps_lat_c", FIELDS) == "accounts_cstm.jjwg_maps_lat_c"
    with pytest.raises(ValidationError, match="non-db") as err:
        column("accounts", "email1", FIELDS)
    assert err.value.fields == ["email1"]
    with pytest.raises(ValidationError, match="no field"):
        column("accounts", "nope", FIELDS)
    with pytest.raises(ValidationError, match="bad field name"):
        column("accounts", "name; DROP", FIELDS)
    with pytest.raises(ValidationError, match="bad table name"):
        column("accounts a", "name", FIELDS)


def test_compiled_shapes():
    assert where(None) == ""
    assert where({"name": "x"}) == "accounts.name = 'x'"
    assert where(Cond("name", "in", [])) == "1=0"
    assert where(Cond("industry", "is_null")) == "(accounts.industry IS NULL OR accounts.industry = '')"
    assert where(Cond("date_entered", "is_null")) == "accounts.date_entered IS NULL"
    assert where(Cond("industry", "neq", "x")) == "(accounts.industry IS NULL OR accounts.industry <> 'x')"
    nested = any_of(Cond("name", "eq", "a"), all_of(Cond("name", "eq", "b"), Cond("industry", "like", "c%")))
    assert where(nested) == "accounts.name = 'a' OR (accounts.name = 'b' AND accounts.industry LIKE 'c%')"
    assert where(any_of()) == "1=0" and where(all_of()) == "1=1"
    # bare names: SuiteCRM's process_order_by drops table-qualified keys (they sorted nothing)
    assert compile_order([("name", True)], "accounts", FIELDS) == "name DESC, id ASC"
    assert compile_order([("jjwg_maps_lat_c", False)], "accounts", FIELDS) == "jjwg_maps_lat_c ASC, id ASC"
    with pytest.raises(ValidationError, match="non-db"):
        compile_order([("email1", False)], "accounts", FIELDS)


def test_values_that_do_not_fit_the_type_are_refused():
    with pytest.raises(ValidationError, match="not a datetime"):
        where(Cond("date_entered", "gt", "yesterday'; --"))
    ints = {**FIELDS, "n": FieldInfo("n", "int")}
    with pytest.raises(ValidationError, match="not an integer"):
        compile_where(normalize_where(Cond("n", "eq", "1 OR 1=1")), "accounts", ints)
    with pytest.raises(ValidationError, match="single value"):
        where(Cond("name", "eq", ["a", "b"]))


# --- on a real MariaDB ---------------------------------------------------------------------------


ROWS = [  # name, account_type, industry (None = NULL), date_entered, geocode status (custom field)
    (name, "Customer" if i % 2 else "Partner", None if i % 3 == 0 else ("" if i % 3 == 1 else "Banking"),
     dt.datetime(2026, 1, 1, 10, 0, i, tzinfo=dt.timezone.utc), "OK" if i % 4 == 0 else None)
    for i, name in enumerate(HOSTILE)
]


#: values SuiteCRM can store (NUL and other control characters it drops: they stay filter values only)
STORED = [v for v in HOSTILE if not unstorable_fields({"v": v})]


@pytest.fixture
def loaded(mysql_server, suitecrm_db):
    """The stored HOSTILE values in FakeCRM and, as FakeCRM stored them (trimmed, entities decoded, as
    SuiteCRM's save does), in MariaDB's accounts table."""
    fake = FakeCRM(["Accounts"])
    ids = []
    with mysql_server.connect(suitecrm_db) as conn, conn.cursor() as cur:
        for name, atype, industry, entered, status in ROWS:
            if name not in STORED:
                continue
            rid = fake.save("Accounts", {"name": name, "account_type": atype, "industry": industry or "",
                                         "date_entered": entered, "jjwg_maps_geocode_status_c": status or ""})
            name = fake.get("Accounts", rid, ["name"])["name"]
            ids.append((rid, name))
            cur.execute("INSERT INTO accounts (id, name, account_type, industry, date_entered, deleted) "
                        "VALUES (%s, %s, %s, %s, %s, 0)",
                        (rid, name, atype, industry, entered.replace(tzinfo=None)))
            cur.execute("INSERT INTO accounts_cstm (id_c, jjwg_maps_geocode_status_c) VALUES (%s, %s)",
                        (rid, status))
    return mysql_server, suitecrm_db, fake, ids


def qualify(order_by: str) -> str:
    """``name DESC, id ASC`` as SuiteCRM's process_order_by hands it to MySQL (keys qualified)."""
    parts = []
    for part in order_by.split(","):
        name, _, direction = part.strip().partition(" ")
        parts.append(f"{column('accounts', name, FIELDS)} {direction}".strip())
    return ", ".join(parts)


def run(server, db, query: str, order: str = "id ASC") -> list[str]:
    order = qualify(order)
    sql = ("SELECT accounts.id FROM accounts LEFT JOIN accounts_cstm ON accounts.id = accounts_cstm.id_c "
           f"WHERE accounts.deleted = 0 AND ({query or '1=1'}) ORDER BY {order}")
    with server.connect(db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return [r[0] for r in cur.fetchall()]


def table_count(server, db) -> int:
    with server.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM accounts")
        return cur.fetchone()[0]


@pytest.mark.mysql
def test_hostile_values_match_exactly_in_mariadb(loaded):
    server, db, _fake, ids = loaded
    for value in HOSTILE:
        expected = [i for i, v in ids if v.rstrip(" ").casefold() == value.rstrip(" ").casefold()]
        assert run(server, db, where({"name": value})) == sorted(expected), repr(value)
        assert run(server, db, where(Cond("name", "in", [value, "zzz"]))) == sorted(expected), repr(value)
    assert table_count(server, db) == len(STORED)


@pytest.mark.mysql
@pytest.mark.parametrize("value", ["\\' OR 1=1 -- ", "x\\' OR name <> '", "O'Brien"])
def test_no_value_escapes_its_literal_under_no_backslash_escapes(loaded, value):
    """SuiteCRM's own quoting (mysqli_real_escape_string) follows a server whose sql_mode has
    NO_BACKSLASH_ESCAPES, so SuiteCRM works there; our literals must not break out either."""
    server, db, _fake, ids = loaded
    sql = ("SELECT accounts.id FROM accounts LEFT JOIN accounts_cstm ON accounts.id = accounts_cstm.id_c "
           f"WHERE accounts.deleted = 0 AND ({where({'name': value})})")
    with server.connect(db) as conn, conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
        cur.execute(sql)
        found = [r[0] for r in cur.fetchall()]
    expected = [i for i, v in ids if v.casefold() == value.casefold()]
    assert sorted(found) == sorted(expected)


FILTERS = [
    Cond("name", "like", "%'%"),
    Cond("name", "like", "%\\%%"),
    Cond("name", "like", "%\\_%"),
    Cond("name", "like", "o'brien"),
    Cond("name", "eq", "o'BRIEN"),
    Cond("industry", "is_null"),
    Cond("industry", "not_null"),
    Cond("industry", "neq", "banking"),
    Cond("industry", "eq", ""),
    Cond("account_type", "in", ["customer", "Nobody"]),
    Cond("date_entered", "gt", dt.datetime(2026, 1, 1, 13, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
    Cond("date_entered", "lte", "2026-01-01 10:00:03"),
    Cond("jjwg_maps_geocode_status_c", "eq", "ok"),
    Cond("jjwg_maps_geocode_status_c", "is_null"),
    any_of(all_of(Cond("account_type", "eq", "Customer"), Cond("industry", "is_null")),
           Cond("name", "like", "%DROP%")),
    all_of(any_of(Cond("industry", "eq", "Banking"), Cond("name", "eq", "")),
           Cond("account_type", "neq", "x")),
    Cond("industry", "neq", ""),
]


@pytest.mark.mysql
@pytest.mark.parametrize("flt", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
def test_sql_semantics_equal_fakecrm(loaded, flt):
    server, db, fake, _ids = loaded
    in_db = run(server, db, where(flt))
    in_fake = sorted(r.id for r in fake.find("Accounts", flt, ["name"]))
    assert in_db == in_fake
    assert table_count(server, db) == len(STORED)


PLAIN = [("alpha", "Customer"), ("Beta", "Partner"), ("gamma", "Customer"), ("Delta 2", "Partner"),
         ("delta 10", "Customer"), ("Ёлка", "Partner"), ("яблоко", "Customer"), ("Alpha", None)]


@pytest.mark.mysql
def test_compiled_order_runs_and_matches_fakecrm(loaded):
    """Letters, digits, spaces and NULLs sort alike (punctuation follows MySQL's collation weights,
    which FakeCRM does not imitate)."""
    server, db, fake, _ids = loaded
    with server.connect(db) as conn, conn.cursor() as cur:
        for name, atype in PLAIN:
            rid = fake.save("Accounts", {"name": name, "account_type": atype or ""})
            cur.execute("INSERT INTO accounts (id, name, account_type, deleted) VALUES (%s, %s, %s, 0)",
                        (rid, name, atype))
    only_plain = Cond("name", "in", [n for n, _ in PLAIN])
    sql_order = compile_order([("account_type", False), ("name", True)], "accounts", FIELDS, "Accounts")
    in_db = run(server, db, where(only_plain), sql_order)
    in_fake = [r.id for r in fake.find("Accounts", only_plain, ["name"], ["account_type", "-name"])]
    assert len(in_db) == len(PLAIN)
    assert in_db == in_fake
