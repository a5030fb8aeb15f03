"""Account numbers: layout and control key, allocation unique / idempotent / crash-safe, two worker
processes sharing a MySQL state store never hand out one number twice."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from plugins.account_opening.identifiers import check_account
from plugins.account_opening.numbering import NS, NumberAllocator, NumberingError, Series, series_for
from plugins.account_opening.settings import Settings
from suitecrm_ext.state.mysql import MySQLStore
from suitecrm_ext.state.sqlite import SQLiteStore
from suitecrm_ext.testing import FakeCRM, install_workflow, load_plugin_schema, register_schema

BIK = "044525225"
SETTLEMENT = Settings().balance_accounts


def test_layout_prefix_currency_key_branch_sequence():
    s = Series("40702", "810", "0001")
    n = s.number(BIK, 42)
    assert len(n) == 20 and n.startswith("40702810") and n[9:13] == "0001" and n[13:] == "0000042"
    assert check_account(n, BIK) is None
    assert s.sequence_of(n) == 42 and s.sequence_of("40703810" + n[8:]) is None


@pytest.mark.parametrize(
    "account_type,category,balance",
    [
        ("settlement", "commercial", "40702"),
        ("settlement", "non_profit", "40703"),
        ("settlement", "sole_proprietor", "40802"),
        ("payment_agent", "commercial", "40821"),
    ],
)
def test_balance_account_by_account_type_and_legal_form(account_type, category, balance):
    assert series_for(SETTLEMENT, account_type, category, "840", "0002") == Series(balance, "840", "0002")


@pytest.mark.parametrize(
    "args,needle",
    [
        (("deposit", "commercial"), "no balance account is configured for the account type 'deposit'"),
        (("settlement", None), "legal form is not filled in"),
        (("settlement", "martian"), "no balance account is configured for a settlement account of a martian"),
    ],
)
def test_series_refusals(args, needle):
    with pytest.raises(NumberingError, match=needle):
        series_for(SETTLEMENT, *args, "810", "0001")


def test_bad_series_and_bik_are_refused():
    with pytest.raises(NumberingError, match="currency code '81': 3 digits"):
        Series("40702", "81", "0001")
    with pytest.raises(NumberingError, match="BIK"):
        NumberAllocator(None, "123")
    with pytest.raises(NumberingError, match="outside 1..9999999"):
        Series("40702", "810", "0001").number(BIK, 10_000_000)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "state.sqlite3")
    yield s
    s.close()


def test_allocation_is_idempotent_unique_and_increasing(store):
    alloc = NumberAllocator(store, BIK)
    series = Series("40702", "810", "0001")
    a = alloc.allocate("app-a", series)
    b = alloc.allocate("app-b", series)
    assert alloc.allocate("app-a", series) == a  # a retried / re-delivered "open"
    assert NumberAllocator(store, BIK).allocate("app-a", series) == a  # another worker, same store
    assert series.sequence_of(a) == 1 and series.sequence_of(b) == 2
    assert alloc.number_of("app-b") == b and alloc.number_of("app-c") is None
    other = alloc.allocate("app-c", Series("40802", "810", "0001"))
    assert other.startswith("40802") and Series("40802", "810", "0001").sequence_of(other) == 1


class CrashAfterClaim:
    """A state store that dies right after the number was claimed, before it is bound to the application."""

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def kv_add(self, ns, key, value, ttl_seconds=None):
        done = self.inner.kv_add(ns, key, value, ttl_seconds)
        if key.startswith("num:"):
            raise RuntimeError("killed between claim and binding")
        return done


def test_a_crash_between_claim_and_binding_gives_the_same_number_on_retry(store):
    series = Series("40702", "810", "0001")
    with pytest.raises(RuntimeError, match="killed"):
        NumberAllocator(CrashAfterClaim(store), BIK).allocate("app-a", series)
    assert NumberAllocator(store, BIK).number_of("app-a") is None
    first = NumberAllocator(store, BIK).allocate("app-a", series)
    assert series.sequence_of(first) == 1  # the claim marked with its id was found and used
    assert series.sequence_of(NumberAllocator(store, BIK).allocate("app-b", series)) == 2


def test_a_number_suitecrm_already_has_is_never_handed_out(store):
    crm = FakeCRM()
    install_workflow(crm)
    register_schema(crm, load_plugin_schema("account_opening"))
    series = Series("40702", "810", "0001")
    # a rebuilt state store: SuiteCRM has numbers 1 and 3 of the series, the store knows nothing
    crm.save(
        "ao_Applications", {"name": "old 1", "account_number": series.number(BIK, 1), "status": "opened"}
    )
    crm.save(
        "ao_Applications", {"name": "old 3", "account_number": series.number(BIK, 3), "status": "opened"}
    )
    alloc = NumberAllocator(store, BIK, crm=crm)
    assert series.sequence_of(alloc.allocate("new", series)) == 4  # starts after the highest one
    store.kv_set(NS, f"next:{series.key}", 1)  # a hint gone wrong: still no duplicate
    got = [series.sequence_of(alloc.allocate(f"n{i}", series)) for i in range(3)]
    assert got == [2, 5, 6]


# --- two processes, one MySQL store -------------------------------------------------------------------


def _worker(params: dict, worker: int, apps: list[str], out, go) -> None:
    store = MySQLStore(**params)
    try:
        go.wait(60)  # both workers connected: start allocating at the same moment
        alloc = NumberAllocator(store, BIK)
        series = Series("40702", "810", "0001")
        out.put([(app, alloc.allocate(app, series), worker) for app in apps])
    finally:
        store.close()


@pytest.mark.mysql
def test_two_worker_processes_never_hand_out_one_number_twice(mysql_server, mysql_db):
    params = mysql_server.params(mysql_db)
    MySQLStore(**params).close()  # create the schema once
    own = {w: [f"w{w}-app{i}" for i in range(50)] for w in (1, 2)}
    shared = [f"shared-{i}" for i in range(25)]  # the same "open" re-delivered to both workers
    ctx = mp.get_context("spawn")
    out, go = ctx.Queue(), ctx.Barrier(2)
    procs = [ctx.Process(target=_worker, args=(params, w, own[w] + shared, out, go)) for w in (1, 2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    by_app: dict[str, set[str]] = {}
    for rows in results:
        for app, number, _ in rows:
            by_app.setdefault(app, set()).add(number)
    assert all(len(numbers) == 1 for numbers in by_app.values())  # one number per application
    numbers = [next(iter(n)) for n in by_app.values()]
    assert len(numbers) == len(set(numbers)) == 2 * 50 + 25  # never one number twice
    assert all(check_account(n, BIK) is None for n in numbers)
