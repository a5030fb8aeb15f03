"""The API writer's bounded parallel requests: at most ``parallel`` at once, each on a client (SuiteCRM
session) of its own, every payment once and linked to its own Account, the extra clients closed after
the import, a failing request stopping the import only after the others finished — and a re-run
completing it."""

from __future__ import annotations

import threading
import time

import pytest
from onec_kit import add_account

from plugins.onec_bridge.importer import ImportOptions, PaymentImporter
from plugins.onec_bridge.statement import parse_statement
from plugins.onec_bridge.synthetic import company_inn, make_statement
from plugins.onec_bridge.writers import LINK, MODULE, ApiPaymentWriter
from suitecrm_ext import TransientError

INNS = [company_inn(i) for i in range(10)]


class Session:
    """One SuiteCRM session over the shared FakeCRM: slow saves (so requests overlap), counted."""

    def __init__(self, crm, stats):
        self.crm, self.stats = crm, stats
        self.closed = False

    def _enter(self):
        with self.stats["lock"]:
            self.stats["now"] += 1
            self.stats["max"] = max(self.stats["max"], self.stats["now"])
            self.stats["threads"].add(threading.current_thread().name)
        time.sleep(0.02)

    def _leave(self):
        with self.stats["lock"]:
            self.stats["now"] -= 1

    def save_many(self, module, rows):
        self._enter()
        try:
            with self.stats["lock"]:
                self.stats["saves"] += 1
                fail = self.stats["saves"] == self.stats["fail_at"]
            if fail:
                raise TransientError("connection reset (simulated)", transport="fake")
            with self.stats["lock"]:
                return self.crm.save_many(module, rows)
        finally:
            self._leave()

    def relate(self, module, id, link, other_ids):
        self._enter()
        try:
            with self.stats["lock"]:
                return self.crm.relate(module, id, link, other_ids)
        finally:
            self._leave()

    def close(self):
        self.closed = True

    def __getattr__(self, name):
        return getattr(self.crm, name)


@pytest.fixture
def payments(crm):
    for i, inn in enumerate(INNS[:8]):
        add_account(crm, f"Payer {i}", inn)
    return parse_statement(make_statement(60, INNS)).payments


def new_stats(fail_at: int = 0) -> dict:
    return {"lock": threading.Lock(), "now": 0, "max": 0, "threads": set(), "saves": 0, "fail_at": fail_at}


def setup(crm, parallel, fail_at=0):
    stats = new_stats(fail_at)
    made: list[Session] = []

    def new_session():
        made.append(Session(crm, stats))
        return made[-1]

    writer = ApiPaymentWriter(Session(crm, stats), parallel=parallel, clients=new_session, chunk=5)
    return PaymentImporter(crm, writer, ImportOptions(batch_size=30, create_tasks=False)), stats, made


def check_stored(crm, payments):
    stored = crm.records(MODULE)
    assert sorted(r.get("onec_key") for r in stored) == sorted(p.key for p in payments)
    by_inn = {}
    for acc in crm.records("Accounts"):
        for rec in crm.related("Accounts", acc.id, LINK, ["id", "payer_inn"]):
            by_inn.setdefault(rec.get("payer_inn"), set()).add(acc.get("ao_inn_c"))
    assert all(by_inn[inn] == {inn} for inn in by_inn) and set(by_inn) == set(INNS[:8])


def test_requests_go_out_at_most_parallel_at_once_each_on_its_own_session(crm, payments):
    importer, stats, made = setup(crm, parallel=4)
    summary = importer.run(payments)
    assert summary.new == 60
    assert stats["max"] == 4  # really concurrent, never more than asked
    assert len(made) == 3 and all(s.closed for s in made)  # 3 more sessions; closed after the import
    assert len(stats["threads"]) == 4 and all(t.startswith("onec-api") for t in stats["threads"])
    check_stored(crm, payments)
    assert importer.run(payments).unchanged == 60


def test_parallel_one_is_one_request_after_the_other_on_the_one_session(crm, payments):
    importer, stats, made = setup(crm, parallel=1)
    assert importer.run(payments).new == 60
    assert stats["max"] == 1 and made == [] and stats["threads"] == {"MainThread"}
    check_stored(crm, payments)


def test_a_failed_request_stops_the_import_after_the_others_finished_and_a_rerun_completes(crm, payments,
                                                                                          tmp_path):
    from suitecrm_ext.state.sqlite import SQLiteStore

    importer, stats, made = setup(crm, parallel=4, fail_at=9)  # the 3rd request of the 2nd batch
    importer.state = SQLiteStore(str(tmp_path / "state.sqlite3"))
    with pytest.raises(TransientError, match="connection reset"):
        importer.run(payments, cursor="test.parallel")
    assert stats["now"] == 0  # nothing left in flight when the error surfaced
    assert all(s.closed for s in made)
    written = len(crm.records(MODULE))
    assert written == 30 + 5 * 5  # batch 1, and the other five requests of batch 2 finished
    again, _, _ = setup(crm, parallel=4)
    again.state = importer.state
    summary = again.run(payments, cursor="test.parallel")
    assert summary.new == 60 - written
    check_stored(crm, payments)


def test_a_shared_client_is_not_used_from_several_threads(crm, payments):
    stats = new_stats()
    shared = Session(crm, stats)
    writer = ApiPaymentWriter(shared, parallel=4, clients=lambda: shared, chunk=5)
    importer = PaymentImporter(crm, writer, ImportOptions(batch_size=30, create_tasks=False))
    assert importer.run(payments).new == 60
    assert stats["threads"] == {"MainThread"} and not shared.closed
