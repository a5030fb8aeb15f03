"""Importing statement files through the API writer (FakeCRM): matching, Tasks, idempotency, resume."""

from __future__ import annotations

import shutil

import pytest
from onec_kit import FIXTURES, add_account

from plugins.onec_bridge.importer import PaymentImporter
from plugins.onec_bridge.service import import_file, make_importer, run_job
from plugins.onec_bridge.statement import StatementError, parse_statement
from plugins.onec_bridge.writers import LINK, MODULE, ApiPaymentWriter

STATEMENT = FIXTURES / "statement_windows.txt"


def payments(crm):
    return {r.get("payment_number"): r for r in crm.records(MODULE)}


def tasks(crm):
    return [t for t in crm.records("Tasks") if t.get("parent_type") == MODULE]


def related_ids(crm, account_id):
    return {r.id for r in crm.related("Accounts", account_id, LINK)}


@pytest.fixture
def accounts(crm):
    return {
        "rtk": add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001", user="u-rtk"),
        # one INN, two Accounts (head office and a branch): the payer's KPP decides
        "rks_head": add_account(crm, "АО РКС", "7722698789", "772201001", user="u-rks"),
        "rks_branch": add_account(crm, "АО РКС (СЗ филиал)", "7722698789", "781045001", user="u-rks2"),
    }


def test_import_matches_by_inn_and_kpp_and_parks_the_rest_with_a_task(crm, accounts, ctx_factory):
    ctx = ctx_factory()
    summary = import_file(ctx, STATEMENT)
    assert (summary.total, summary.new, summary.updated, summary.skipped) == (3, 3, 0, 1)
    assert (summary.matched, summary.unmatched, summary.tasks) == (2, 1, 1)
    got = payments(crm)
    assert set(got) == {"418", "95", "3"}
    assert got["418"].get("status") == "matched"
    assert got["418"].get("amount") == "120000.00"
    assert str(got["418"].get("payment_date")) == "2026-03-13"
    assert got["418"].get("source") == "file"
    assert got["418"].get("assigned_user_id") == "u-rtk"  # the Account's manager owns the payment
    assert related_ids(crm, accounts["rtk"]) == {got["418"].id}
    assert got["95"].get("status") == "matched"
    assert related_ids(crm, accounts["rks_branch"]) == {got["95"].id}  # by KPP 781045001
    assert related_ids(crm, accounts["rks_head"]) == set()
    unmatched = got["3"]
    assert unmatched.get("status") == "unmatched"
    assert "payer INN 1234567890 is invalid" in unmatched.get("status_note")
    (task,) = tasks(crm)
    assert task.get("parent_id") == unmatched.id
    assert task.get("assigned_user_id") == "1"  # no configured user, no Account: the admin
    assert "1234567890" in task.get("description")


def test_running_the_same_import_twice_changes_nothing(crm, accounts, ctx_factory):
    ctx = ctx_factory()
    import_file(ctx, STATEMENT)
    before = {r.id: dict(r.values) for r in crm.records(MODULE)}
    again = import_file(ctx, STATEMENT)
    assert (again.new, again.updated, again.unchanged, again.tasks) == (0, 0, 3, 0)
    assert {r.id: dict(r.values) for r in crm.records(MODULE)} == before
    assert len(tasks(crm)) == 1


def test_the_same_payment_in_another_encoding_is_the_same_record(crm, accounts, ctx_factory):
    ctx = ctx_factory()
    import_file(ctx, STATEMENT)
    summary = import_file(ctx, FIXTURES / "statement_dos.txt")
    assert (summary.new, summary.unchanged) == (0, 3)
    assert len(crm.records(MODULE)) == 3


def test_rematch_links_an_unmatched_payment_once_its_account_appears(crm, ctx_factory):
    ctx = ctx_factory(task_user_id="u-accountant")
    first = import_file(ctx, STATEMENT)
    assert (first.matched, first.unmatched) == (0, 3)
    assert {t.get("assigned_user_id") for t in tasks(crm)} == {"u-accountant"}
    acc = add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    summary = make_importer(ctx).rematch()
    assert (summary.matched, summary.updated, summary.unchanged, summary.tasks) == (1, 1, 2, 0)
    rtk = payments(crm)["418"]
    assert rtk.get("status") == "matched" and related_ids(crm, acc) == {rtk.id}
    assert len(tasks(crm)) == 3  # no new Tasks for payments that stay unmatched


def test_ambiguous_inn_without_matching_kpp_stays_unmatched_and_names_the_accounts(crm, ctx_factory):
    add_account(crm, "АО РКС", "7722698789", "772201001", user="u-rks")
    add_account(crm, "АО РКС Урал", "7722698789", "667101001", user="u-rks")
    import_file(ctx_factory(), STATEMENT)
    p = payments(crm)["95"]
    assert p.get("status") == "unmatched"
    assert "none with KPP 781045001" in p.get("status_note") and "АО РКС Урал" in p.get("status_note")
    (task,) = [t for t in tasks(crm) if t.get("parent_id") == p.id]
    assert task.get("assigned_user_id") == "u-rks"  # the manager of the Accounts with that INN


def test_dry_run_writes_nothing(crm, accounts, ctx_factory):
    summary = import_file(ctx_factory(), STATEMENT, dry_run=True)
    assert (summary.new, summary.matched, summary.unmatched) == (3, 2, 1)
    assert crm.records(MODULE) == [] and tasks(crm) == []


def test_a_malformed_file_imports_nothing(crm, accounts, ctx_factory, tmp_path):
    bad = tmp_path / "bad.txt"
    text = STATEMENT.read_bytes().decode("cp1251").replace("Сумма=21750.00", "Сумма=21750,00")
    bad.write_bytes(text.encode("cp1251"))
    with pytest.raises(StatementError, match=r"line \d+: Сумма: bad amount"):
        import_file(ctx_factory(), bad)
    assert crm.records(MODULE) == [] and tasks(crm) == []


class CrashingWriter(ApiPaymentWriter):
    """Dies (like a killed process) when asked to write batch number ``crash_at``."""

    def __init__(self, crm, crash_at):
        super().__init__(crm)
        self.calls = 0
        self.crash_at = crash_at

    def write(self, rows, accounts):
        self.calls += 1
        if self.calls == self.crash_at:
            raise KeyboardInterrupt("killed")
        return super().write(rows, accounts)


def test_an_interrupted_import_resumes_after_the_last_finished_batch(crm, accounts, ctx_factory):
    ctx = ctx_factory(batch_size=1)
    st = parse_statement(STATEMENT.read_bytes())
    crashing = PaymentImporter(ctx.crm, CrashingWriter(crm, crash_at=3), make_importer(ctx).opt,
                               state=ctx.state)
    with pytest.raises(KeyboardInterrupt):
        crashing.run(st.payments, cursor="test.file")
    assert len(crm.records(MODULE)) == 2
    summary = make_importer(ctx).run(st.payments, cursor="test.file")
    assert summary.resumed_at == 2 and summary.new == 1
    assert len(crm.records(MODULE)) == 3 and len(tasks(crm)) == 1
    # finished: the next run starts over (and finds everything unchanged)
    assert make_importer(ctx).run(st.payments, cursor="test.file").unchanged == 3


def test_job_imports_statement_files_from_the_inbox_and_sets_bad_ones_aside(crm, accounts, ctx_factory,
                                                                            tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(STATEMENT, inbox / "good.txt")
    (inbox / "bad.txt").write_bytes(b"not a statement\r\n")
    out = run_job(ctx_factory(statement_dir=str(inbox)))
    assert out["new"] == 3 and out["failed_files"] == ["bad.txt"]
    assert (inbox / "imported" / "good.txt").exists() and (inbox / "failed" / "bad.txt").exists()
    assert len(crm.records(MODULE)) == 3


@pytest.mark.parametrize("batch_size, calls", [(500, [3]), (2, [2, 1])])
def test_api_writes_go_in_batches(crm, accounts, ctx_factory, batch_size, calls):
    import_file(ctx_factory(batch_size=batch_size), STATEMENT)
    assert [c[2] for c in crm.calls if c[:2] == ("save_many", MODULE)] == calls
    assert not [c for c in crm.calls if c[:2] == ("save", MODULE)]  # never one record per call


class TaskCrashCRM:
    """Delegates to the FakeCRM but dies on the first Task save (a crash after the batch was written)."""

    def __init__(self, crm):
        self.crm = crm
        self.died = False

    def __getattr__(self, name):
        return getattr(self.crm, name)

    def save(self, module, values):
        if module == "Tasks" and not self.died:
            self.died = True
            raise KeyboardInterrupt("killed")
        return self.crm.save(module, values)


def test_a_crash_before_the_tasks_are_created_loses_no_task(crm, accounts, ctx_factory):
    ctx = ctx_factory()
    st = parse_statement(STATEMENT.read_bytes())
    dying = TaskCrashCRM(crm)
    with pytest.raises(KeyboardInterrupt):
        PaymentImporter(dying, ApiPaymentWriter(crm), make_importer(ctx).opt, state=ctx.state).run(
            st.payments, cursor="test.tasks")
    assert len(crm.records(MODULE)) == 3 and tasks(crm) == []  # written, but no Task yet
    summary = make_importer(ctx).run(st.payments, cursor="test.tasks")
    assert (summary.unchanged, summary.tasks) == (3, 1)
    assert len(tasks(crm)) == 1


def test_a_deleted_task_is_not_created_again(crm, accounts, ctx_factory):
    ctx = ctx_factory()
    import_file(ctx, STATEMENT)
    (task,) = tasks(crm)
    crm.delete("Tasks", task.id)
    assert import_file(ctx, STATEMENT).tasks == 0
    assert make_importer(ctx).rematch().tasks == 0


class RelateFailsCRM:
    """Delegates to the FakeCRM but dies on the first relate (payments saved, links not yet made)."""

    def __init__(self, crm):
        self.crm = crm
        self.died = False

    def __getattr__(self, name):
        return getattr(self.crm, name)

    def relate(self, module, id, link, other_ids):
        if not self.died:
            self.died = True
            raise KeyboardInterrupt("killed")
        return self.crm.relate(module, id, link, other_ids)


@pytest.mark.parametrize("cursor", ["test.links", None])
def test_a_crash_between_saving_payments_and_linking_them_loses_no_link(crm, accounts, ctx_factory,
                                                                         cursor):
    ctx = ctx_factory()
    st = parse_statement(STATEMENT.read_bytes())
    with pytest.raises(KeyboardInterrupt):
        PaymentImporter(crm, ApiPaymentWriter(RelateFailsCRM(crm)), make_importer(ctx).opt,
                        state=ctx.state).run(st.payments, cursor=cursor)
    assert len(crm.records(MODULE)) == 3 and related_ids(crm, accounts["rtk"]) == set()
    # the re-run (also one without a resume cursor, as the OData import) finds them stored and the same
    make_importer(ctx).run(st.payments, cursor=cursor)
    got = payments(crm)
    assert related_ids(crm, accounts["rtk"]) == {got["418"].id}
    assert related_ids(crm, accounts["rks_branch"]) == {got["95"].id}
    # links made: later runs write nothing
    assert make_importer(ctx).run(st.payments).unchanged == 3
