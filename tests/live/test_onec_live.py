"""onec_bridge on a real SuiteCRM 7.14.6: a bank statement imported through the API writer and through
the MySQL writer (``suitecrm-ext onec import --file``, as an admin runs it), read back through REST and
through the web DetailView a user sees, idempotent on re-run; a payment from 1C OData and the statement
kept once; ``onec export --all``; ``doctor``. 1C itself is the one thing mocked (``responses``, with
SuiteCRM's own traffic passed through)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pymysql
import pytest
import responses
import yaml
from click.testing import CliRunner
from webui import WebUI

from plugins.onec_bridge import checks
from plugins.onec_bridge.synthetic import company_inn
from plugins.onec_bridge.writers import LINK, MODULE
from suitecrm_ext import Cond
from suitecrm_ext.cli import cli
from suitecrm_ext.lab import LabInstance

OWN = ["40702810938000012345", "40702810300000054321"]
ORG_INN = "7736207543"
ROOT = Path(__file__).resolve().parents[2]


# --- the packages the plugin needs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def onec_lab(live_kit):
    """The live SuiteCRM with onec_bridge's package and account_opening's (the INN/KPP fields), installed
    through the shared live kit (the Module Loader way, package scan on; they stay for the next tests)."""
    live_kit.install("account_opening")
    live_kit.install("onec_bridge")
    lab = live_kit.lab
    crm = lab.transport("rest")
    try:
        needs = checks.payments_module(crm) + checks.inn_kpp_fields(crm, "ao_inn_c", "ao_kpp_c")
    finally:
        crm.close()
    assert all(c.ok for c in needs), [c.line() for c in needs]
    return lab


# --- helpers --------------------------------------------------------------------------------------------


class Cleanup:
    """Records made by a test, deleted (through REST) afterwards."""

    def __init__(self, lab: LabInstance):
        self.crm = lab.transport("rest")
        self.made: list[tuple[str, str]] = []

    def add(self, module: str, rid: str) -> str:
        self.made.append((module, rid))
        return rid

    def close(self) -> None:
        for module, rid in reversed(self.made):
            try:
                self.crm.delete(module, rid)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
        self.crm.close()


@pytest.fixture
def cleanup(onec_lab):
    c = Cleanup(onec_lab)
    yield c
    c.close()


def payers(n: int) -> list[str]:
    """``n`` valid company INNs no other test uses (random region-77 numbers)."""
    rnd = random.Random()
    return [company_inn(rnd.randrange(1_000_000, 9_999_999)) for _ in range(n)]


def statement(tag: str, matched: list[str], unmatched: str, base: int) -> str:
    """A statement: one payment per INN (``base``+i numbers), a transfer between own accounts, an
    outgoing payment. Text with CRLF ends."""
    day = "16.03.2026"
    out = ["1CClientBankExchange", "ВерсияФормата=1.03", "Кодировка=Windows", "Отправитель=СберБизнес",
           "Получатель=Бухгалтерия предприятия, редакция 3.0", f"ДатаСоздания={day}",
           "ВремяСоздания=09:00:00",
           f"ДатаНачала={day}", f"ДатаКонца={day}", f"РасчСчет={OWN[0]}", f"РасчСчет={OWN[1]}",
           "Документ=Платежное поручение", "Документ=Прочее"]
    for i, inn in enumerate([*matched, unmatched]):
        out += ["СекцияДокумент=Платежное поручение", f"Номер={base + i}", f"Дата={day}",
                f"Сумма={1000 + 37 * i}.{i:02d}", f"ПлательщикСчет=40702810{base + i:012d}",
                f"Плательщик=ИНН {inn} ООО \"{tag} плательщик {i}\"", f"ПлательщикИНН={inn}",
                f"Плательщик1=ООО \"{tag} плательщик {i}\"", "ПлательщикБИК=044525225",
                f"ПолучательСчет={OWN[i % 2]}", f"ДатаПоступило={day}", "Получатель=ООО \"Ромашка\"",
                f"ПолучательИНН={ORG_INN}", f"НазначениеПлатежа=Оплата по счету {tag}-{i}. Без НДС",
                "КонецДокумента"]
    out += ["СекцияДокумент=Прочее", f"Номер={base + 90}", f"Дата={day}", "Сумма=5000.00",
            f"ПлательщикСчет={OWN[0]}", f"ДатаСписано={day}", "Плательщик=ООО \"Ромашка\"",
            f"ПлательщикИНН={ORG_INN}", f"ПолучательСчет={OWN[1]}", f"ДатаПоступило={day}",
            "Получатель=ООО \"Ромашка\"", f"ПолучательИНН={ORG_INN}",
            "НазначениеПлатежа=Перевод между собственными счетами", "КонецДокумента",
            "СекцияДокумент=Платежное поручение", f"Номер={base + 91}", f"Дата={day}", "Сумма=700.00",
            f"ПлательщикСчет={OWN[0]}", f"ДатаСписано={day}", "Плательщик=ООО \"Ромашка\"",
            f"ПлательщикИНН={ORG_INN}", "ПолучательСчет=40702810000000000777", "Получатель=ООО \"Поставщик\"",
            "ПолучательИНН=7710140679", "НазначениеПлатежа=Оплата поставщику", "КонецДокумента", "КонецФайла"]
    return "\r\n".join(out) + "\r\n"


def config_file(tmp_path: Path, lab: LabInstance, *, write: str, **plugin: object) -> Path:
    """A config as an admin writes it: the instance's REST (+ MySQL for ``write: mysql``), SQLite state."""
    if write == "mysql":
        # write: mysql needs a MySQL user that may write the plugin's tables: the app's own user here
        suitecrm = lab.suitecrm_section("rest", read_via="mysql", mysql=False)
        suitecrm["mysql"] = lab.mysql_section(read_only=False)
    else:
        suitecrm = lab.suitecrm_section("rest")
    data = {"suitecrm": suitecrm, "state": {"backend": "sqlite", "path": str(tmp_path / "state.sqlite3")},
            "plugins": {"onec_bridge": {"write": write, "task_user_id": "1", **plugin}}}
    path = tmp_path / "suitecrm-ext.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def onec_cli(config: Path, *args: str):
    cli.reset_plugin_commands()
    try:
        return CliRunner().invoke(cli, ["--config", str(config), "onec", *args], catch_exceptions=False)
    finally:
        cli.reset_plugin_commands()


def counts(output: str) -> dict[str, int]:
    """The summary table's rows: label -> count."""
    out = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 3 and cells[2].isdigit():
            out[cells[1].split(" (")[0]] = int(cells[2])
    return out


def import_statement(lab, tmp_path, cleanup, run_tag, *, write: str, codec: str):
    """Accounts for 3 payers, a statement in ``codec``, imported twice through the CLI."""
    inns = payers(4)
    accounts = {inn: cleanup.add("Accounts", cleanup.crm.save("Accounts", {
        "name": f"{run_tag} onec {write} payer {i}", "ao_inn_c": inn, "ao_kpp_c": "770101001"}))
        for i, inn in enumerate(inns[:3])}
    base = random.randrange(100_000, 900_000)
    path = tmp_path / f"statement-{codec}.txt"
    text = statement(run_tag, inns[:3], inns[3], base)
    path.write_bytes((text if codec == "cp1251" else text.replace("Кодировка=Windows", "Кодировка=UTF-8"))
                     .encode(codec))
    config = config_file(tmp_path, lab, write=write)
    first = onec_cli(config, "import", "--file", str(path))
    assert first.exit_code == 0, first.output
    stored = list(cleanup.crm.find(MODULE, Cond("payer_inn", "in", inns),
                                   fields=["id", "name", "onec_key", "amount", "status", "status_note",
                                           "payer_inn", "payer_name", "source", "payment_number"]))
    for rec in stored:
        cleanup.add(MODULE, rec.id)
    for task in cleanup.crm.find("Tasks", Cond("parent_id", "in", [r.id for r in stored]), fields=["id"]):
        cleanup.add("Tasks", task.id)
    again = onec_cli(config, "import", "--file", str(path))
    assert again.exit_code == 0, again.output
    return inns, accounts, stored, counts(first.output), counts(again.output), base


def onec_stand_in():
    """The tests' 1C OData stand-in (tests/plugins/onec_bridge/odata_kit.py)."""
    if "odata_kit" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "odata_kit", ROOT / "tests" / "plugins" / "onec_bridge" / "odata_kit.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["odata_kit"] = module
    return sys.modules["odata_kit"]


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("write, codec", [("api", "cp1251"), ("mysql", "utf-8")])
def test_a_statement_import_lands_in_suitecrm_as_a_user_sees_it_and_a_rerun_changes_nothing(
        onec_lab, tmp_path, cleanup, run_tag, write, codec):
    inns, accounts, stored, first, again, base = import_statement(onec_lab, tmp_path, cleanup, run_tag,
                                                                  write=write, codec=codec)
    assert (first["new"], first["matched"], first["unmatched"], first["tasks created"]) == (4, 3, 1, 1)
    assert (first["transfers between own accounts"], first["skipped"]) == (1, 1)
    assert (again["new"], again["updated"], again["unchanged"], again["tasks created"]) == (0, 0, 4, 0)
    # REST: one record per payment, linked to its Account; the unmatched one with its Task
    by_inn = {r.get("payer_inn"): r for r in stored}
    assert len(stored) == 4 and set(by_inn) == set(inns)
    assert cleanup.crm.count(MODULE, Cond("payer_inn", "in", inns)) == 4
    for i, inn in enumerate(inns[:3]):
        rec = by_inn[inn]
        assert (rec.get("status"), rec.get("amount"), rec.get("source")) == (
            "matched", f"{1000 + 37 * i}.{i:02d}", "file")
        assert [r.id for r in cleanup.crm.related("Accounts", accounts[inn], LINK, ["id"])] == [rec.id]
    lost = by_inn[inns[3]]
    assert lost.get("status") == "unmatched" and f"no Account with INN {inns[3]}" in lost.get("status_note")
    tasks = list(cleanup.crm.find("Tasks", Cond("parent_id", "eq", lost.id), fields=["id", "name", "status"]))
    assert len(tasks) == 1 and tasks[0].get("status") == "Not Started"
    # the web DetailView, logged in through the login form
    web = WebUI(onec_lab)
    first_payer = by_inn[inns[0]]
    shown = web.detail_view(MODULE, first_payer.id)
    assert shown["payer_inn"] == inns[0] and shown["payment_number"] == str(base)
    assert shown["amount"] == "1,000.00" and shown["status"] == "Matched"
    assert shown["source"] == "Bank statement file" and shown["payer_name"] == f'ООО "{run_tag} плательщик 0"'
    assert shown["accounts_onec_payments_name"] == f"{run_tag} onec {write} payer 0"
    shown = web.detail_view(MODULE, lost.id)
    assert shown["status"] == "Unmatched" and f"no Account with INN {inns[3]}" in shown["status_note"]
    if write == "api":
        # out of AOD's Lucene index (package 0.3.0: unified_search false): SuiteCRM did not index these API
        # saves, which it does synchronously under one lock for every searchable module (made imports slow)
        with pymysql.connect(**onec_lab.db_params(read_only=True)) as conn, conn.cursor() as cur:
            marks = ", ".join(["%s"] * len(stored))
            cur.execute(f"SELECT COUNT(*) FROM aod_indexevent WHERE record_module = %s AND record_id IN "
                        f"({marks})", [MODULE, *(r.id for r in stored)])
            assert cur.fetchone()[0] == 0


def test_a_payment_from_1c_and_from_the_statement_is_one_record_on_the_real_suitecrm(
        onec_lab, tmp_path, cleanup, run_tag):
    kit = onec_stand_in()
    (inn,) = payers(1)
    account = cleanup.add("Accounts", cleanup.crm.save("Accounts", {
        "name": f"{run_tag} onec twin payer", "ao_inn_c": inn, "ao_kpp_c": "770101001"}))
    base = random.randrange(100_000, 900_000)
    path = tmp_path / "statement.txt"
    path.write_bytes(statement(run_tag, [inn], payers(1)[0], base).encode("cp1251"))
    counterparty = {"Ref_Key": "d1a0e0c4-0000-11e9-80c4-0cc47a7d2c7f", "Description": f"{run_tag} twin",
                    "НаименованиеПолное": f'ООО "{run_tag} плательщик 0"', "ИНН": inn, "КПП": "770101001",
                    "DeletionMark": False}
    receipt = kit.doc(kit.ref(base), "0000-004711", "2026-03-16T11:30:00", 1000.00,
                      cp=counterparty["Ref_Key"])
    receipt.update({"НомерВходящегоДокумента": str(base), "ДатаВходящегоДокумента": "2026-03-16T00:00:00",
                    "СчетКонтрагента_Key": kit.RTK_ACCOUNT})
    accounts = [{**kit.BANK_ACCOUNTS[0], "НомерСчета": f"40702810{base:012d}"}]
    banks = [{**kit.BANKS[0], "Code": "044525225"}]
    config = config_file(tmp_path, onec_lab, write="api", odata={"url": kit.BASE, "username": "odata",
                                                                 "password": "pw", "retries": 0})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(onec_lab.url)  # SuiteCRM is real; only 1C is a stand-in
        kit.FakeOneC(rsps, [receipt], bank_accounts=accounts, banks=banks, counterparties=[counterparty])
        from_file = onec_cli(config, "import", "--file", str(path))
        from_1c = onec_cli(config, "import", "--since", "2026-03-16")
        for rec in cleanup.crm.find(MODULE, Cond("payer_inn", "eq", inn), fields=["id"]):
            cleanup.add(MODULE, rec.id)
        assert from_file.exit_code == 0 and from_1c.exit_code == 0, from_file.output + from_1c.output
        assert (counts(from_1c.output)["joined"], counts(from_1c.output)["new"]) == (1, 0)
        again = [counts(onec_cli(config, *args).output)
                 for args in (("import", "--since", "2026-03-16"), ("import", "--file", str(path)))]
    assert [(c["new"], c["updated"]) for c in again] == [(0, 0), (0, 0)]
    (rec,) = cleanup.crm.find(MODULE, Cond("payer_inn", "eq", inn),
                              fields=["id", "source", "onec_key", "twin_key", "payment_number"])
    assert rec.get("source") == "both" and rec.get("onec_key").startswith("file:")
    assert rec.get("twin_key") == f"odata:{kit.ref(base)}" and rec.get("payment_number") == "0000-004711"
    assert [r.id for r in cleanup.crm.related("Accounts", account, LINK, ["id"])] == [rec.id]
    shown = WebUI(onec_lab).detail_view(MODULE, rec.id)
    assert shown["source"] == "1C (OData) and bank statement"
    assert shown["twin_key"] == f"odata:{kit.ref(base)}"


def test_export_all_sends_every_account_to_1c_once_and_resumes(onec_lab, tmp_path, cleanup, run_tag):
    kit = onec_stand_in()
    inns = payers(2)
    for i, inn in enumerate(inns):
        cleanup.add("Accounts", cleanup.crm.save("Accounts", {"name": f"{run_tag} onec export {i}",
                                                              "ao_inn_c": inn, "ao_kpp_c": "770101001"}))
    config = config_file(tmp_path, onec_lab, write="api", odata={"url": kit.BASE, "username": "odata",
                                                                 "password": "pw", "retries": 0})
    total = cleanup.crm.count("Accounts")

    def export(one_c):
        cli.reset_plugin_commands()
        try:
            return CliRunner().invoke(cli, ["--config", str(config), "onec", "export", "--all"],
                                      catch_exceptions=False)
        finally:
            cli.reset_plugin_commands()

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(onec_lab.url)
        one_c = kit.OneCCounterparties(rsps)
        first = export(one_c)
        assert first.exit_code == 0, first.output
        mine = [r for r in one_c.rows.values() if r["ИНН"] in inns]
        assert sorted(r["ИНН"] for r in mine) == sorted(inns)
        assert {r["Description"] for r in mine} == {f"{run_tag} onec export 0", f"{run_tag} onec export 1"}
        posted = len(one_c.rows)
        second = export(one_c)
    got = counts(first.output)
    assert got["total"] == total and got["created in 1C"] == posted
    assert got["created in 1C"] + got["skipped"] == total  # no valid INN: the demo Accounts, among others
    again = counts(second.output)
    assert (again["created in 1C"], again["unchanged"]) == (0, posted) and len(one_c.rows) == posted


def test_doctor_checks_what_the_plugin_needs_in_suitecrm(onec_lab, tmp_path):
    def doctor(config: Path) -> str:
        cli.reset_plugin_commands()
        try:
            return CliRunner().invoke(cli, ["--config", str(config), "doctor"], catch_exceptions=False).output
        finally:
            cli.reset_plugin_commands()

    out = doctor(config_file(tmp_path, onec_lab, write="mysql"))
    assert "ok    onec_bridge: Payments module: onec_Payments with every field the importer writes" in out
    assert ("ok    onec_bridge: Accounts INN/KPP fields: ao_inn_c / ao_kpp_c (from account_opening's package)"
            in out)
    assert "ok    onec_bridge: write: mysql" in out
    # the read-only reader may not write the plugin's tables: doctor says which GRANT is missing
    config = config_file(tmp_path, onec_lab, write="mysql")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["suitecrm"]["mysql"] = onec_lab.mysql_section(read_only=True)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = doctor(config)
    assert "FAIL  onec_bridge: write: mysql" in out and "GRANT INSERT, UPDATE ON <db>.onec_payments" in out
    assert onec_lab["SUITECRM_RO_DB_PASSWORD"] not in out
    # a field name that SuiteCRM does not have
    config = config_file(tmp_path, onec_lab, write="api", inn_field="inn_nope_c")
    out = doctor(config)
    assert "FAIL  onec_bridge: Accounts INN/KPP fields: Accounts has no field inn_nope_c" in out
