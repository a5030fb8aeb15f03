"""A payment that arrives both from 1C (OData) and in a bank statement is one record noting both sources,
whichever comes first; payments that only look alike (another payer account or bank) stay apart."""

from __future__ import annotations

import logging

import pytest
import responses
from odata_kit import BANK_ACCOUNTS, BANKS, ODATA, FakeOneC, receipt, ref
from onec_kit import SAMPLES, add_account, install_schema, make_ctx

from plugins.onec_bridge.service import import_file, import_odata, make_importer
from plugins.onec_bridge.writers import FIELDS, LINK, MODULE
from suitecrm_ext.testing import FakeCRM

STATEMENT = SAMPLES["cp1251"]


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def one_c(rsps, docs, **kw):
    kw.setdefault("bank_accounts", BANK_ACCOUNTS)
    kw.setdefault("banks", BANKS)
    return FakeOneC(rsps, docs, **kw)


def rtk_records(crm):
    return [r for r in crm.records(MODULE) if r.get("payer_inn") == "7707049388"]


def run_in_order(crm, ctx, order, statement=STATEMENT):
    out = []
    for what in order:
        out.append(import_odata(ctx) if what == "odata" else import_file(ctx, statement))
    return out


def odata_ctx(crm, tmp_path):
    return make_ctx(crm, tmp_path, odata={**ODATA, "retries": 0})


@pytest.mark.parametrize("codec", ["cp1251", "utf-8"])
@pytest.mark.parametrize("order", [("file", "odata"), ("odata", "file")])
def test_a_payment_from_1c_and_from_the_statement_is_one_record_noting_both(crm, tmp_path, rsps, order,
                                                                          codec):
    acc = add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c(rsps, [receipt()])
    ctx = odata_ctx(crm, tmp_path)
    first, second = run_in_order(crm, ctx, order, SAMPLES[codec])
    assert (second.joined, second.new) == (1, 0 if order[1] == "odata" else 3)
    (rec,) = rtk_records(crm)
    assert rec.get("source") == "both"
    assert {rec.get("onec_key"), rec.get("twin_key")} == {f"odata:{ref(418)}",
                                                          _file_keys()[0]}
    # 1C's values, the statement's where 1C has none
    assert rec.get("payment_number") == "0000-000077"
    assert rec.get("purpose") == "Оплата по счету № 77 от 01.03.2026 за услуги связи"
    assert (rec.get("payer_account"), rec.get("payer_bik")) == ("40702810600000000555", "044525555")
    assert rec.get("status") == "matched"
    assert [r.id for r in crm.related("Accounts", acc, LINK)] == [rec.id]
    # again, both: nothing changes
    for summary in run_in_order(crm, ctx, order, SAMPLES[codec]):
        assert (summary.new, summary.updated, summary.joined) == (0, 0, 0)
    assert len(rtk_records(crm)) == 1 and len(crm.records(MODULE)) == 4


def _file_keys():
    from plugins.onec_bridge.statement import parse_statement_file

    return [p.key for p in parse_statement_file(STATEMENT).payments if p.number == "418"]


def test_the_joined_record_is_the_same_whichever_source_came_first(tmp_path):
    ends = []
    for order in (("file", "odata"), ("odata", "file")):
        crm = FakeCRM()
        install_schema(crm)
        add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            one_c(rsps, [receipt()])
            ctx = odata_ctx(crm, tmp_path / "-".join(order))
            run_in_order(crm, ctx, order)
            ctx.app.close()
        (rec,) = rtk_records(crm)
        values = {f: rec.get(f) for f in FIELDS if f not in ("onec_key", "twin_key")}
        ends.append((values, {rec.get("onec_key"), rec.get("twin_key")}))
    assert ends[0] == ends[1]


@pytest.mark.parametrize("what, accounts, banks", [
    ("another payer account", [{**BANK_ACCOUNTS[0], "НомерСчета": "40702810900000000999"}], BANKS),
    ("another bank", BANK_ACCOUNTS, [{**BANKS[0], "Code": "044525999"}]),
])
def test_payments_that_only_look_alike_stay_two_records(crm, tmp_path, rsps, what, accounts, banks):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c(rsps, [receipt()], bank_accounts=accounts, banks=banks)
    ctx = odata_ctx(crm, tmp_path)
    _, second = run_in_order(crm, ctx, ("file", "odata"))
    assert (second.joined, second.new) == (0, 1)
    assert sorted(r.get("source") for r in rtk_records(crm)) == ["file", "odata"]


def test_another_amount_or_order_number_is_another_payment(crm, tmp_path, rsps):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c(rsps, [receipt(СуммаДокумента=120000.01),
                 {**receipt(), "Ref_Key": ref(419), "НомерВходящегоДокумента": "419"}])
    _, second = run_in_order(crm, odata_ctx(crm, tmp_path), ("file", "odata"))
    assert (second.joined, second.new) == (0, 2)


def test_without_the_bank_catalogs_in_1c_the_identity_alone_joins_them(crm, tmp_path, rsps, caplog):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c(rsps, [receipt()], bank_accounts=None, banks=None)  # 1C answers 404: not published
    with caplog.at_level(logging.WARNING, "suitecrm_ext.plugins.onec_bridge"):
        _, second = run_in_order(crm, odata_ctx(crm, tmp_path), ("file", "odata"))
    assert second.joined == 1
    (rec,) = rtk_records(crm)
    assert rec.get("payer_account") == "40702810600000000555"  # from the statement
    assert any("Catalog_БанковскиеСчета" in r.getMessage() for r in caplog.records)


def test_a_second_1c_receipt_of_the_same_order_stays_its_own_record(crm, tmp_path, rsps):
    # a statement loaded twice in 1C makes two receipts: only one of them is the bank's payment
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c(rsps, [receipt(), {**receipt(), "Ref_Key": ref(1418), "Number": "0000-000078"}])
    _, second = run_in_order(crm, odata_ctx(crm, tmp_path), ("file", "odata"))
    assert (second.joined, second.new) == (1, 1)
    assert sorted(r.get("source") for r in rtk_records(crm)) == ["both", "odata"]


def test_deleted_in_1c_the_joined_record_is_ignored_and_a_statement_reimport_keeps_it(crm, tmp_path, rsps):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    docs = [receipt()]
    one_c(rsps, docs)
    ctx = odata_ctx(crm, tmp_path)
    run_in_order(crm, ctx, ("file", "odata"))
    docs[0].update(DeletionMark=True)
    assert import_odata(ctx).updated == 1
    again = import_file(ctx, STATEMENT)
    assert again.updated == 0
    (rec,) = rtk_records(crm)
    assert (rec.get("status"), rec.get("status_note")) == ("ignored", "marked for deletion in 1C")


def test_an_unmatched_payment_joined_by_1c_keeps_its_one_task(crm, tmp_path, rsps):
    one_c(rsps, [receipt()])  # no Account with the payer's INN yet
    ctx = odata_ctx(crm, tmp_path)
    run_in_order(crm, ctx, ("file", "odata"))
    (rec,) = rtk_records(crm)
    assert rec.get("status") == "unmatched"
    parents = [t.get("parent_id") for t in crm.records("Tasks") if t.get("parent_type") == MODULE]
    assert parents.count(rec.id) == 1
    acc = add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    assert make_importer(ctx).rematch().matched == 1
    (rec,) = rtk_records(crm)
    assert rec.get("source") == "both" and [r.id for r in crm.related("Accounts", acc, LINK)] == [rec.id]
    assert make_importer(ctx).run([]).total == 0 and import_file(ctx, STATEMENT).updated == 0
