"""1C OData: paging, the overlap window, deletion mark, un-posting, vanished documents, auth failure,
5xx retry — against answers shaped like 1C's standard OData interface (``responses``)."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from odata_kit import BASE, COUNTERPARTIES, CP_PERSON, ODATA, FakeOneC, doc, ref
from onec_kit import FIXTURES, add_account

import plugins.onec_bridge.plugin as plugin_module
from plugins.onec_bridge.odata import (
    COUNTERPARTIES_ENTITY,
    PAYMENTS_ENTITY,
    ODataClient,
    OneCAuthError,
    OneCError,
    OneCUnavailable,
)
from plugins.onec_bridge.service import ODATA_CURSOR, import_odata
from plugins.onec_bridge.writers import LINK, MODULE


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def quick_client() -> ODataClient:
    return ODataClient(BASE, ODATA["username"], ODATA["password"], retries=2, sleep=lambda s: None)


def by_number(crm):
    return {r.get("payment_number"): r for r in crm.records(MODULE)}


def test_pages_through_documents_and_resolves_counterparties(crm, ctx_factory, rsps):
    acc = add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c = FakeOneC(rsps, [doc(ref(1), "0000-000011", "2026-03-02T10:15:00", 1000),
                            doc(ref(2), "0000-000012", "2026-03-03T11:00:00", 2500.5),
                            doc(ref(3), "0000-000013", "2026-03-04T09:30:00", 75.25)])
    ctx = ctx_factory(odata=ODATA)
    summary = import_odata(ctx, client=quick_client())
    assert (summary.new, summary.matched) == (3, 3)
    pages = one_c.payment_queries()
    assert [(q["$skip"], q["$top"]) for q in pages] == [("0", "2"), ("2", "2")]
    assert pages[0]["$filter"] == "Date ge datetime'2026-03-01T00:00:00'"
    assert pages[0]["$orderby"] == "Date asc,Ref_Key asc"
    got = by_number(crm)
    p = got["0000-000012"]
    assert p.get("amount") == "2500.50" and p.get("currency") == "RUB" and p.get("source") == "odata"
    assert p.get("onec_key") == f"odata:{ref(2)}"
    assert (p.get("payer_inn"), p.get("payer_kpp"), p.get("payer_name")) == (
        "7707049388", "770701001", 'ПАО "Ростелеком"')
    assert {r.id for r in crm.related("Accounts", acc, LINK)} == {r.id for r in got.values()}
    assert ctx.state.get_cursor(ODATA_CURSOR) == {"newest": "2026-03-04T09:30:00"}


def test_next_run_reads_the_overlap_window_and_sees_unposting_and_deletion(crm, ctx_factory, rsps):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    docs = [doc(ref(1), "11", "2026-03-02T10:00:00", 100), doc(ref(2), "12", "2026-03-05T10:00:00", 200),
            doc(ref(3), "13", "2026-03-06T10:00:00", 300)]
    one_c = FakeOneC(rsps, docs)
    ctx = ctx_factory(odata=ODATA)
    import_odata(ctx, client=quick_client())
    # in 1C: no. 12 is un-posted, no. 13 marked for deletion, a new no. 14 arrives
    docs[1]["Posted"] = False
    docs[2]["DeletionMark"] = True
    docs[2]["Posted"] = False
    docs.append(doc(ref(4), "14", "2026-03-07T12:00:00", 400))
    one_c.requests.clear()
    summary = import_odata(ctx, client=quick_client())
    assert one_c.payment_queries()[0]["$filter"] == "Date ge datetime'2026-03-03T10:00:00'"  # newest - 3 days
    assert (summary.new, summary.updated, summary.ignored) == (1, 2, 2)
    got = by_number(crm)
    assert got["11"].get("status") == "matched"  # outside the window: left as it was
    assert (got["12"].get("status"), got["12"].get("status_note")) == ("ignored", "not posted in 1C")
    assert got["13"].get("status") == "ignored"
    assert got["13"].get("status_note") == "marked for deletion in 1C; not posted in 1C"
    assert got["14"].get("status") == "matched"
    # re-posted in 1C: matched again
    docs[1]["Posted"] = True
    import_odata(ctx, client=quick_client())
    assert by_number(crm)["12"].get("status") == "matched"


def test_a_document_deleted_outright_in_1c_is_marked_not_left(crm, ctx_factory, rsps):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    docs = [doc(ref(1), "21", "2026-03-05T10:00:00", 100), doc(ref(2), "22", "2026-03-06T10:00:00", 200)]
    FakeOneC(rsps, docs)
    ctx = ctx_factory(odata=ODATA)
    import_odata(ctx, client=quick_client())
    del docs[0]
    summary = import_odata(ctx, client=quick_client())
    assert summary.vanished == 1
    gone = by_number(crm)["21"]
    assert gone.get("status") == "ignored" and "no longer returned by 1C" in gone.get("status_note")


def test_a_document_earlier_on_the_windows_first_day_is_not_called_vanished(crm, ctx_factory, rsps):
    # the window starts at 10:00 on 03-03 (newest - 3 days): no. 41, at 09:00 that day, is not read
    # again, which does not mean 1C deleted it
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    docs = [doc(ref(1), "41", "2026-03-03T09:00:00", 100), doc(ref(2), "42", "2026-03-06T10:00:00", 200)]
    FakeOneC(rsps, docs)
    ctx = ctx_factory(odata=ODATA)
    import_odata(ctx, client=quick_client())
    summary = import_odata(ctx, client=quick_client())
    assert summary.vanished == 0
    assert by_number(crm)["41"].get("status") == "matched"


def test_payer_that_is_not_a_counterparty_stays_unmatched_with_a_reason(crm, ctx_factory, rsps):
    FakeOneC(rsps, [doc(ref(1), "31", "2026-03-05T10:00:00", 100, cp=CP_PERSON,
                        cp_type="StandardODATA.Catalog_ФизическиеЛица")])
    summary = import_odata(ctx_factory(odata=ODATA), client=quick_client())
    assert summary.unmatched == 1 and summary.tasks == 1
    assert by_number(crm)["31"].get("status_note") == "payer INN is missing"


def test_since_overrides_the_cursor(crm, ctx_factory, rsps):
    one_c = FakeOneC(rsps, [])
    import_odata(ctx_factory(odata=ODATA), since=dt.date(2025, 12, 1), client=quick_client())
    assert one_c.payment_queries()[0]["$filter"] == "Date ge datetime'2025-12-01T00:00:00'"


def test_refused_login_is_a_clear_error_and_is_not_retried(crm, ctx_factory, rsps):
    client = quick_client()
    rsps.add(responses.GET, client.url(PAYMENTS_ENTITY), status=401, body="",
             headers={"WWW-Authenticate": 'Basic realm="1C:Enterprise"'})
    with pytest.raises(OneCAuthError) as info:
        import_odata(ctx_factory(odata=ODATA), client=client)
    msg = str(info.value)
    assert "refused the login of user 'odata.user' (HTTP 401)" in msg and "s3cret-pass" not in msg
    assert len(rsps.calls) == 1
    assert crm.records(MODULE) == []


def test_server_errors_are_retried_with_backoff_then_succeed(crm, ctx_factory, rsps):
    one_c = FakeOneC(rsps, [doc(ref(1), "41", "2026-03-05T10:00:00", 100)])
    one_c.fail_next = [503, 500]
    waits: list[float] = []
    client = ODataClient(BASE, "odata.user", "x", retries=3, backoff=0.5, sleep=waits.append)
    summary = import_odata(ctx_factory(odata=ODATA), client=client)
    assert summary.new == 1
    assert len(waits) == 2 and waits[0] < waits[1]  # exponential backoff between the attempts


def test_server_errors_that_persist_end_in_an_unavailable_error(crm, ctx_factory, rsps):
    one_c = FakeOneC(rsps, [])
    one_c.fail_next = [502] * 10
    with pytest.raises(OneCUnavailable, match="HTTP 502: Сервис недоступен"):
        import_odata(ctx_factory(odata=ODATA), client=quick_client())
    assert len(one_c.requests) == 3  # 1 + 2 retries
    assert crm.records(MODULE) == []


def test_an_answer_that_is_not_odata_json_is_refused(rsps):
    client = quick_client()
    rsps.add(responses.GET, client.url(PAYMENTS_ENTITY), status=200, body="<html>login</html>",
             content_type="text/html")
    with pytest.raises(OneCError, match="not JSON"):
        list(client.list(PAYMENTS_ENTITY))


def test_an_unpublished_entity_says_how_to_fix_it(rsps):
    client = quick_client()
    rsps.add(responses.GET, client.url(PAYMENTS_ENTITY), status=404, json={
        "odata.error": {"code": "14", "message": {"lang": "ru", "value": "Не найден ресурс"}}})
    with pytest.raises(OneCError, match="Не найден ресурс.*стандартного интерфейса OData"):
        list(client.list(PAYMENTS_ENTITY))


def test_doctor_reports_a_working_and_a_refusing_1c(crm, ctx_factory, rsps, tmp_path):
    url = quick_client().url(COUNTERPARTIES_ENTITY)
    rsps.add(responses.GET, url, json={"odata.metadata": "…", "value": COUNTERPARTIES[:1]})
    ctx = ctx_factory(odata=ODATA, statement_dir=str(tmp_path / "missing"))
    got = {c.name: c for c in plugin_module.ext_doctor_checks(ctx=ctx)}
    ok, inbox = got["onec_bridge: 1C OData"], got["onec_bridge: statement_dir"]
    assert ok.ok and ok.detail == BASE
    assert not inbox.ok and "statement_dir" in inbox.hint
    rsps.replace(responses.GET, url, status=401, body="")
    got = {c.name: c for c in plugin_module.ext_doctor_checks(ctx=ctx_factory(odata={**ODATA, "retries": 0}))}
    bad = got["onec_bridge: 1C OData"]
    assert not bad.ok and "HTTP 401" in bad.detail and "s3cret-pass" not in bad.detail + bad.hint


def test_job_imports_statement_files_even_when_1c_is_down_and_then_fails(crm, ctx_factory, rsps, tmp_path):
    add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    one_c = FakeOneC(rsps, [])
    one_c.fail_next = [503] * 10
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "st.txt").write_bytes((FIXTURES / "statement_windows.txt").read_bytes())
    ctx = ctx_factory(odata={**ODATA, "retries": 0}, statement_dir=str(inbox))
    with pytest.raises(OneCError, match="HTTP 503.*statement files and re-matching ran"):
        plugin_module.ext_jobs(settings=ctx.settings)[0].func(ctx)
    assert len(crm.records(MODULE)) == 3 and (inbox / "imported" / "st.txt").exists()


def test_operation_kind_filter_skips_documents_without_calling_them_vanished(crm, ctx_factory, rsps):
    docs = [doc(ref(1), "51", "2026-03-05T10:00:00", 100), doc(ref(2), "52", "2026-03-05T11:00:00", 50)]
    FakeOneC(rsps, docs)
    import_odata(ctx_factory(odata=ODATA), client=quick_client())
    docs[1]["ВидОперации"] = "ПрочееПоступление"
    ctx = ctx_factory(odata={**ODATA, "operation_kinds": ["ОплатаПокупателя"]})
    summary = import_odata(ctx, client=quick_client())
    assert (summary.skipped, summary.vanished) == (1, 0)
    assert by_number(crm)["52"].get("status") != "ignored"


def test_emoji_and_control_characters_from_1c_are_stored_as_suitecrm_can_and_stay_unchanged(crm, ctx_factory,
                                                                                            rsps):
    d = doc(ref(1), "61", "2026-03-05T10:00:00", 100)
    d["НазначениеПлатежа"] = "Оплата \U0001F600 по\x07счёту 61"
    FakeOneC(rsps, [d])
    ctx = ctx_factory(odata=ODATA)
    assert import_odata(ctx, client=quick_client()).new == 1
    assert by_number(crm)["61"].get("purpose") == "Оплата ? по счёту 61"
    (task,) = [t for t in crm.records("Tasks") if t.get("parent_id") == by_number(crm)["61"].id]
    assert "Purpose: Оплата ? по счёту 61" in task.get("description")  # unmatched: no Account
    assert import_odata(ctx, client=quick_client()).unchanged == 1


def test_a_cyrillic_1c_user_name_is_sent_as_utf8_basic_auth(rsps):
    # found by tests/reliability/test_fuzz.py: requests' Basic auth raised UnicodeEncodeError for it
    import base64

    client = ODataClient(BASE, "Администратор", "пароль", retries=0, sleep=lambda s: None)
    rsps.add(responses.GET, client.url("Catalog_Контрагенты"), json={"value": [{"Ref_Key": "x"}]})
    assert list(client.list("Catalog_Контрагенты")) == [{"Ref_Key": "x"}]
    sent = rsps.calls[0].request.headers["Authorization"]
    assert base64.b64decode(sent.split()[1]).decode("utf-8") == "Администратор:пароль"
