"""``requires:`` on the real SuiteCRM 7.14.6: a package relating its module to the core package's
``sx_Decisions`` is refused by SuiteCRM's own dependency check while its dependency is missing, installs
after it with the package scan on, shows the Decisions subpanel in the web UI, and holds the core
package in place (its uninstall is refused). The test package is uninstalled and its tables dropped."""

from __future__ import annotations

import pymysql
import pytest
from webui import WebUI

from suitecrm_ext.crm.base import CRMError
from suitecrm_ext.packaging.builder import build_package
from suitecrm_ext.packaging.installer import InstallError, run_installer
from suitecrm_ext.packaging.requires import StaticCatalog
from suitecrm_ext.packaging.schema import load_schema
from suitecrm_ext.testing import load_plugin_schema
from suitecrm_ext.workflow import DecisionLog

LAB = {"en_us": "Code", "ru_ru": "Код"}
PACKAGE_ID = "sxt_live_requires"
MODULE = "sxtr_Things"
LINK = "sxtr_things_decisions"


def _schema(requires: str = "workflow", rhs: str = "sx_Decisions", catalog=None):
    return load_schema({
        "package": {"id": PACKAGE_ID, "name": "suitecrm-ext live test: requires", "version": "1.0.0",
                    "description": "Installed and removed by tests/live/test_package_requires_live.py"},
        "requires": [requires],
        "modules": [{
            "name": MODULE,
            "label": {"singular": {"en_us": "Req thing", "ru_ru": "Вещь"},
                      "plural": {"en_us": "Req things", "ru_ru": "Вещи"}},
            "tab": False,
            "fields": [{"name": "code", "type": "varchar", "len": 20, "label": LAB}],
        }],
        "relationships": [{
            "name": LINK, "type": "one-to-many", "lhs": MODULE, "rhs": rhs,
            "titles": {MODULE: {"en_us": "Decisions (requires test)", "ru_ru": "Решения (тест)"}},
        }],
    }, "live_requires", catalog=catalog)


def _history(lab, id_name):
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, status FROM upgrade_history WHERE id_name = %s", (id_name,))
        return cur.fetchall()


def _remove(lab, schema, zip_path) -> None:
    """Uninstall the test package when SuiteCRM lists it and drop its tables."""
    if _history(lab, PACKAGE_ID):
        run_installer(zip_path, lab.root, "uninstall")
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        for table in (schema.modules[0].table, schema.relationships[0].join_table):
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")  # names from the validated schema above


@pytest.fixture
def requiring(live_kit, live_lab, tmp_path):
    """The requiring test package's zip (a leftover of a killed run removed first); uninstalled, its
    tables dropped, after the test."""
    live_kit.install("workflow")
    schema = _schema()
    zip_path = build_package(schema, tmp_path / "dist")
    _remove(live_lab, schema, zip_path)
    yield schema, zip_path
    _remove(live_lab, schema, zip_path)


def test_suitecrms_dependency_check_refuses_a_package_whose_requirement_is_missing(live_lab, tmp_path):
    if _history(live_lab, PACKAGE_ID):  # a leftover of a killed run
        _remove(live_lab, _schema(), build_package(_schema(), tmp_path / "leftover"))
    # a required package that is not installed in SuiteCRM (it is never built or installed)
    base = load_schema({
        "package": {"id": "sxt_live_missing_base", "name": "never installed", "version": "2.3.0"},
        "modules": [{"name": "sxtm_Base", "label": {"singular": LAB, "plural": LAB}}]}, "missing_base")
    schema = _schema("missing_base", "sxtm_Base", catalog=StaticCatalog([base]))
    zip_path = build_package(schema, tmp_path / "dist")
    with pytest.raises(InstallError) as exc:
        run_installer(zip_path, live_lab.root, "install")
    # SuiteCRM's own words (ERR_UW_NO_DEPENDENCY) from its UpgradeHistory::checkDependencies
    assert "The following dependencies were not found on the system.[sxt_live_missing_base]" in str(exc.value)
    assert exc.value.missing_dependencies == ["sxt_live_missing_base"]
    assert _history(live_lab, PACKAGE_ID) == ()
    assert not (live_lab.root / "modules" / MODULE).exists()


def test_a_requiring_package_installs_after_the_core_and_shows_the_decisions_subpanel(
        requiring, live_kit, live_lab, run_tag):
    schema, zip_path = requiring
    report = run_installer(zip_path, live_lab.root, "install", tables=[MODULE.lower(), f"{LINK}_c"])
    assert report.package_scan is True and report.issues == []  # SuiteCRM's package scan passed it
    assert report.tables == {MODULE.lower(): True, f"{LINK}_c": True}
    assert _history(live_lab, PACKAGE_ID) == (("1.0.0", "installed"),)

    crm = live_lab.transport("rest")
    made: list[tuple[str, str]] = []
    try:
        assert f"{LINK}_name" in crm.fields("sx_Decisions")  # the relate field the package added there
        thing = crm.save(MODULE, {"name": f"{run_tag} thing", "code": "R-1"})
        made.append((MODULE, thing))
        log = DecisionLog(crm, links={MODULE: LINK})
        dec = log.record(MODULE, thing, key=f"{run_tag}-req", actor_id="seed_sally_id", flow="requires",
                         transition="review", from_status="new", to_status="checked", decision="approved",
                         comment=f"{run_tag} looks fine")
        made.append(("sx_Decisions", dec))
        assert [r["id"] for r in crm.related(MODULE, thing, LINK, ["id"])] == [dec]
        # the user sees it in the record's "Decisions" subpanel (its rows load when it is opened)
        web = WebUI(live_lab)
        page = web.get("index.php", params={"module": MODULE, "action": "DetailView", "record": thing}).text
        assert f'id="subpanel_title_{LINK}"' in page and "Decisions (requires test)" in page
        rows = web.get("index.php", params={"sugar_body_only": 1, "module": MODULE, "subpanel": LINK,
                                            "action": "SubPanelViewer", "inline": 1, "record": thing}).text
        # the row links to the decision (through the ajax UI: record%3D<id>) and shows its name
        assert f"record%3D{dec}" in rows and "approved new → checked" in rows, rows[:3000]
        # the core package cannot be taken away under it
        with pytest.raises(InstallError) as exc:
            run_installer(live_kit.build("workflow"), live_lab.root, "uninstall")
        assert PACKAGE_ID in exc.value.dependents and "uninstall them first" in str(exc.value)
        assert _history(live_lab, load_plugin_schema("workflow").package.id)  # still installed
    finally:
        for module, rid in reversed(made):
            try:
                crm.delete(module, rid)
            except CRMError:
                pass
        crm.close()
