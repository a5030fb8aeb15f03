"""``onec export --all``: the first full export of the Accounts that existed before export was switched
on — every Account once, resumable after a kill, idempotent on re-runs, never two counterparties for one
Account (also not with the change feed's handler running at the same time)."""

from __future__ import annotations

import datetime as dt

import pytest
import responses
from click.testing import CliRunner
from odata_kit import BASE, OneCCounterparties
from onec_kit import add_account

import plugins.onec_bridge.plugin as plugin_module
from plugins.onec_bridge.export import ALL_CURSOR, ExportBusy, export_all
from plugins.onec_bridge.service import make_exporter
from suitecrm_ext import Event, EventKind
from suitecrm_ext.cli import cli
from suitecrm_ext.context import AppContext

ODATA = {"url": BASE, "username": "odata.user", "password": "pw", "retries": 0}
VALID = [("ООО Альфа", "7736207543", "773601001"), ("ПАО Ростелеком", "7707049388", "770701001"),
         ("ИП Сидоров", "500100732259", ""), ("АО РКС", "7722698789", "772201001"),
         ("ООО Вектор", "7704217370", "770401001")]


@pytest.fixture
def one_c():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield OneCCounterparties(rsps)


@pytest.fixture
def accounts(crm):
    ids = [add_account(crm, name, inn, kpp) for name, inn, kpp in VALID]
    ids.append(add_account(crm, "Без ИНН", ""))
    ids.append(add_account(crm, "Кривой ИНН", "7736207544"))
    return ids


def by_inn(one_c):
    out: dict[str, int] = {}
    for row in one_c.rows.values():
        out[row["ИНН"]] = out.get(row["ИНН"], 0) + 1
    return out


@pytest.fixture
def run_cli(crm, tmp_path, monkeypatch):
    cfg = tmp_path / "suitecrm-ext.yaml"
    cfg.write_text("suitecrm:\n  url: http://127.0.0.1:9\n"
                   f"state:\n  path: {tmp_path / 'state.sqlite3'}\n"
                   "plugins:\n  onec_bridge:\n"
                   f"    odata: {{url: '{BASE}', username: u, password: p, retries: 0}}\n")
    monkeypatch.setattr(AppContext, "crm", property(lambda self: crm))
    cli.reset_plugin_commands()
    yield lambda *args: CliRunner().invoke(cli, ["--config", str(cfg), "onec", "export", *args],
                                           catch_exceptions=False)
    cli.reset_plugin_commands()


def cell(output: str, label: str) -> str:
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[1].startswith(label):
            return cells[2]
    raise AssertionError(f"no row {label!r} in\n{output}")


def test_export_all_sends_every_account_once_and_a_rerun_sends_nothing(run_cli, accounts, one_c):
    result = run_cli("--all")
    assert result.exit_code == 0, result.output
    assert (cell(result.output, "total"), cell(result.output, "created in 1C"),
            cell(result.output, "skipped")) == ("7", "5", "2")
    assert by_inn(one_c) == {inn: 1 for _, inn, _ in VALID}
    one_c.log.clear()
    again = run_cli("--all")
    assert again.exit_code == 0, again.output
    assert cell(again.output, "unchanged") == "5" and cell(again.output, "created in 1C") == "0"
    assert one_c.log == []  # nothing to send: not even a search


def test_an_account_changed_since_is_updated_not_created_again(crm, run_cli, accounts, one_c):
    run_cli("--all")
    crm.save("Accounts", {"id": accounts[1], "name": "ПАО «Ростелеком»"})
    result = run_cli("--all")
    assert (cell(result.output, "updated in 1C"), cell(result.output, "unchanged")) == ("1", "4")
    assert by_inn(one_c) == {inn: 1 for _, inn, _ in VALID}
    assert {r["Description"] for r in one_c.rows.values() if r["ИНН"] == "7707049388"} == {"ПАО «Ростелеком»"}


def test_counterparties_already_in_1c_are_found_by_inn_not_duplicated(crm, ctx_factory, accounts, one_c):
    # 1C already knows Ростелеком (entered there by hand): it is updated, not created a second time
    ctx = ctx_factory(odata=ODATA)
    make_exporter(ctx).client.create("Catalog_Контрагенты", {"Description": "Ростелеком", "ИНН": "7707049388",
                                                             "КПП": "770701001"})
    summary = export_all(make_exporter(ctx))
    assert (summary.created, summary.updated) == (4, 1)
    assert by_inn(one_c) == {inn: 1 for _, inn, _ in VALID}


def test_a_killed_export_resumes_after_the_last_account_it_finished(ctx_factory, accounts, one_c):
    ctx = ctx_factory(odata=ODATA)
    one_c.refuse_posts_after = 3  # 1C goes down after three counterparties
    seen: list[int] = []
    with pytest.raises(Exception, match="HTTP 503"):
        export_all(make_exporter(ctx), checkpoint_every=1, progress=seen.append)
    saved = ctx.state.get_cursor(ALL_CURSOR)
    assert saved["done"] is False and saved["count"] >= 3
    one_c.refuse_posts_after = None
    one_c.log.clear()
    totals: list[int] = []
    summary = export_all(make_exporter(ctx), checkpoint_every=1, on_total=totals.append,
                         progress=seen.append)
    assert summary.resumed_at == saved["count"] and totals == [7]
    # only the rest was looked at: no call to 1C for the Accounts finished before the crash
    assert summary.created + summary.skipped + summary.unchanged + summary.updated == 7 - saved["count"]
    assert by_inn(one_c) == {inn: 1 for _, inn, _ in VALID}
    assert ctx.state.get_cursor(ALL_CURSOR)["done"] is True
    # finished: the next run starts over and finds everything sent
    assert export_all(make_exporter(ctx)).unchanged == 5


def test_restart_starts_from_the_first_account(ctx_factory, accounts, one_c):
    ctx = ctx_factory(odata=ODATA)
    ctx.state.set_cursor(ALL_CURSOR, {"after": sorted(accounts)[-2], "count": 6, "done": False})
    assert export_all(make_exporter(ctx)).resumed_at == 6
    summary = export_all(make_exporter(ctx), restart=True)
    assert (summary.resumed_at, summary.total) == (0, 7)
    assert summary.unchanged + summary.created + summary.skipped == 7


def test_the_export_and_the_change_feed_handler_never_both_create_a_counterparty(crm, ctx_factory,
                                                                                 accounts, one_c):
    ctx = ctx_factory(odata=ODATA, export_counterparties=True)
    exporter = make_exporter(ctx)
    lock = f"onec_bridge.export:{accounts[0]}"
    assert ctx.state.acquire_lock(lock, "the export --all in another process", 60)
    when = dt.datetime(2026, 3, 14, tzinfo=dt.timezone.utc)
    event = Event("Accounts", accounts[0], EventKind.UPDATED, when)
    with pytest.raises(ExportBusy, match="retried later"):  # the dispatcher delivers it again later
        plugin_module.ext_on_record_change(event=event, ctx=ctx)
    assert one_c.rows == {}
    ctx.state.release_lock(lock, "the export --all in another process")
    plugin_module.ext_on_record_change(event=event, ctx=ctx)
    summary = export_all(exporter)
    assert (summary.created, summary.unchanged) == (4, 1)  # the handler's one is not sent again
    assert by_inn(one_c) == {inn: 1 for _, inn, _ in VALID}


def test_two_full_exports_at_once_are_refused(run_cli, ctx_factory, accounts, one_c):
    ctx = ctx_factory(odata=ODATA)
    assert ctx.state.acquire_lock("onec_bridge.export-all", "host:123", 60)
    with pytest.raises(ExportBusy, match="already running"):
        export_all(make_exporter(ctx))


def test_the_command_line_says_what_to_give_and_why_it_stopped(run_cli, accounts, one_c):
    assert run_cli().exit_code == 2 and "give --all" in run_cli().output
    assert "--restart goes with --all" in run_cli("--account", accounts[0], "--restart").output
    one_c.refuse_posts_after = 0
    result = run_cli("--all")
    assert result.exit_code == 1 and "HTTP 503" in result.output
    assert "it resumes where it stopped" in result.output


def test_one_account_by_id(run_cli, accounts, one_c):
    result = run_cli("--account", accounts[2])
    assert result.exit_code == 0 and "created" in result.output
    assert by_inn(one_c) == {"500100732259": 1}
    bad = run_cli("--account", accounts[-1])
    assert bad.exit_code == 1 and "INN 7736207544 is invalid" in bad.output
    gone = run_cli("--account", "no-such-id")
    assert gone.exit_code == 1 and "no-such-id is gone" in gone.output
