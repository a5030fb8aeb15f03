"""Every plugin's package on the real SuiteCRM: package scan on, installed the Module Loader way,
listed (and uninstallable) in Admin -> Module Loader, uninstalled there and reinstalled."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys

import pymysql
import pytest
from webui import WebUI

from suitecrm_ext.packaging.installer import owner_of, run_installer
from suitecrm_ext.testing import load_plugin_schema

#: the plugins that add something to SuiteCRM (the others build no package)
PACKAGED = ["workflow", "account_opening", "collegial_actions", "onec_bridge"]


def _rows(lab, id_name):
    with pymysql.connect(**lab.db_params()) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, status, filename, md5sum FROM upgrade_history WHERE id_name = %s",
                    (id_name,))
        return cur.fetchall()


def test_every_package_with_logic_hooks_or_not_passes_suitecrms_package_scan(live_kit, tmp_path):
    for plugin in PACKAGED:
        report = run_installer(live_kit.build(plugin, tmp_path), live_kit.lab.root, "scan")
        assert report.package_scan is True  # the kit turned moduleInstaller.packageScan on
        assert report.issues == [], (plugin, report.issues)


@pytest.mark.parametrize("plugin", PACKAGED)
def test_package_installs_with_the_scan_on_and_shows_in_module_loader(live_kit, live_lab, plugin):
    live_kit.install(plugin)
    schema = load_plugin_schema(plugin)
    [(version, status, filename, md5sum)] = _rows(live_lab, schema.package.id)
    assert (version, status) == (schema.package.version, "installed")
    zip_path = live_lab.root / filename
    assert zip_path.is_file() and zip_path.parent == live_lab.root / "upload/upgrades/module"
    # what SuiteCRM wrote for the package belongs to the web server user, as after a browser upload
    uid, _ = owner_of(live_lab.root)
    written = [zip_path, *(live_lab.root / "modules" / m.name for m in schema.modules)]
    if schema.logic_hooks:
        written.append(live_lab.root / "custom/modules/SuiteCRMExt" / schema.package.id)
    for path in written:
        for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
            assert p.stat().st_uid == uid, f"{p} is owned by {pwd.getpwuid(p.stat().st_uid).pw_name}"
    listed = WebUI(live_lab).module_loader_installed()
    entry = listed[schema.package.name]
    assert entry["version"] == schema.package.version
    assert not entry["uninstall_file"].startswith("UNINSTALLABLE")  # the admin can uninstall it there


def test_uninstalled_in_module_loader_then_reinstalled_with_package_install(live_kit, live_lab, tmp_path):
    plugin = "account_opening"
    schema = load_plugin_schema(plugin)
    live_kit.install(plugin)
    web = WebUI(live_lab)
    page = web.module_loader_uninstall(schema.package.name)
    live_kit.forget(plugin)
    assert "Uninstalled Successfully" in page
    assert _rows(live_lab, schema.package.id) == ()
    assert schema.package.name not in web.module_loader_installed()
    assert not (live_lab.root / "modules" / schema.modules[0].name).exists()
    with pymysql.connect(**live_lab.db_params()) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES LIKE %s", (schema.modules[0].table,))
        assert cur.fetchall(), "Module Loader was told to keep the tables"
    # the CLI, as an admin runs it on the SuiteCRM host
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-c", "from suitecrm_ext.cli import main; main()", "package", "install", plugin,
           "--suitecrm-root", str(live_lab.root), "--sidecar-url", live_kit.push_url]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "upgrade_history entry written (listed in Admin -> Module Loader)" in proc.stdout
    assert schema.package.name in web.module_loader_installed()
    # the uninstall marked the modules' ACL actions deleted and SuiteCRM adds them only with a new table:
    # the install ensured them (as Repair Roles), so roles can again give and take rights on the modules
    with pymysql.connect(**live_lab.db_params()) as conn, conn.cursor() as cur:
        for module in schema.modules:
            cur.execute("SELECT name FROM acl_actions WHERE category = %s AND acltype = 'module' "
                        "AND deleted = 0", (module.name,))
            assert sorted(r[0] for r in cur.fetchall()) == ["access", "delete", "edit", "export", "import",
                                                            "list", "massupdate", "view"], module.name
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert "is already installed" in again.stdout and len(_rows(live_lab, schema.package.id)) == 1
