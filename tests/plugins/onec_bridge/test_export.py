"""Accounts → 1C counterparties through the plugin's hooks: POST once, PATCH after, never a duplicate."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from odata_kit import BASE, OneCCounterparties
from onec_kit import add_account

import plugins.onec_bridge.plugin as plugin_module
from plugins.onec_bridge.odata import OneCUnavailable
from suitecrm_ext import Event, EventKind

ODATA = {"url": BASE, "username": "odata.user", "password": "pw", "retries": 0}


@pytest.fixture
def one_c():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield OneCCounterparties(rsps)


def event(account_id: str, kind=EventKind.UPDATED, second: int = 0) -> Event:
    when = dt.datetime(2026, 3, 14, 10, 0, second, tzinfo=dt.timezone.utc)
    return Event("Accounts", account_id, kind, when)


def deliver(ctx, ev: Event) -> None:
    plugin_module.ext_on_record_change(event=ev, ctx=ctx)


def test_watch_and_job_declarations(ctx_factory):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True, schedule="*/10 * * * *")
    (spec,) = plugin_module.ext_watch(settings=ctx.settings)
    assert spec.module == "Accounts" and set(spec.fields) == {"name", "ao_inn_c", "ao_kpp_c"}
    (job,) = plugin_module.ext_jobs(settings=ctx.settings)
    assert (job.name, job.schedule) == ("onec-import", "*/10 * * * *")
    assert plugin_module.ext_watch(settings=ctx_factory().settings) == []  # export off by default


def test_new_account_is_created_once_then_updated(crm, ctx_factory, one_c):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    acc = add_account(crm, 'ООО "Ромашка"', "7736207543", "773601001")
    deliver(ctx, event(acc, EventKind.CREATED))
    assert one_c.log == ["GET", "POST"]
    (cp,) = one_c.rows.values()
    assert (cp["ИНН"], cp["КПП"], cp["Description"]) == ("7736207543", "773601001", 'ООО "Ромашка"')
    assert cp["ЮридическоеФизическоеЛицо"] == "ЮридическоеЛицо"
    deliver(ctx, event(acc, EventKind.CREATED))  # the same event again: nothing happens
    assert one_c.log == ["GET", "POST"]
    crm.save("Accounts", {"id": acc, "name": 'ООО "Ромашка и партнёры"'})
    deliver(ctx, event(acc, second=30))
    assert one_c.log == ["GET", "POST", "PATCH"]
    (cp,) = one_c.rows.values()
    assert cp["НаименованиеПолное"] == 'ООО "Ромашка и партнёры"'


def test_a_lost_post_answer_does_not_create_a_second_counterparty(crm, ctx_factory, one_c):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    acc = add_account(crm, "ИП Сидоров", "500100732259")
    one_c.lose_next_post_answer = True
    with pytest.raises(OneCUnavailable):  # the dispatcher will deliver the event again
        deliver(ctx, event(acc, EventKind.CREATED))
    deliver(ctx, event(acc, EventKind.CREATED))
    assert len(one_c.rows) == 1
    assert one_c.log == ["GET", "POST", "GET", "PATCH"]
    (cp,) = one_c.rows.values()
    assert cp["ЮридическоеФизическоеЛицо"] == "ФизическоеЛицо" and "КПП" not in cp


def test_a_counterparty_already_in_1c_is_found_by_inn_and_kpp(crm, ctx_factory, one_c):
    one_c.rows["11111111-2222-3333-4444-555555555555"] = {
        "Ref_Key": "11111111-2222-3333-4444-555555555555", "ИНН": "7707049388", "КПП": "770701001",
        "Description": "Ростелеком", "DeletionMark": False}
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    acc = add_account(crm, 'ПАО "Ростелеком"', "7707049388", "770701001")
    deliver(ctx, event(acc))
    assert one_c.log == ["GET", "PATCH"] and len(one_c.rows) == 1


@pytest.mark.parametrize("inn", ["", "1234567890"])
def test_accounts_without_a_valid_inn_are_not_exported(crm, ctx_factory, one_c, inn, caplog):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    acc = add_account(crm, "Без ИНН", inn)
    deliver(ctx, event(acc))
    assert one_c.log == []
    assert "not exported to 1C" in caplog.text


def test_a_deleted_account_is_skipped(crm, ctx_factory, one_c):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    acc = add_account(crm, "Удалённый", "7736207543")
    crm.delete("Accounts", acc)
    deliver(ctx, event(acc))
    assert one_c.log == []


@pytest.mark.parametrize("settings, words", [
    ({"schedule": "every hour"}, "plugins.onec_bridge.schedule"),
    ({"write": "sql"}, "plugins.onec_bridge.write"),
    ({"odata": {"url": "1c.local/odata", "username": "u", "password": "p"}}, "plugins.onec_bridge.odata.url"),
    ({"odata": {"url": "http://1c", "username": "u"}}, "plugins.onec_bridge.odata.password"),
    ({"batchsize": 10}, "batchsize"),
])
def test_bad_settings_are_refused_naming_the_key(ctx_factory, settings, words):
    from suitecrm_ext.config import ConfigError

    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        ctx_factory(**settings)
