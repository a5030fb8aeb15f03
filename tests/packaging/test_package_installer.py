"""``package install/uninstall``: refusals, and the php-cli installer script run against a stub SuiteCRM root.

The stub (tests/packaging/stub_suitecrm) has SuiteCRM's entry point, ModuleInstaller and RepairAndClear
reduced to recording what the script calls (JSON lines in $STUB_LOG); its ModuleInstaller reads the
package like the real one and the repair step "creates" the tables the package needs.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from pkg_helpers import PUBLISHED, SIDECAR_URL

from suitecrm_ext.cli import cli
from suitecrm_ext.packaging.builder import build_package
from suitecrm_ext.packaging.installer import (
    ROOT_MARKERS,
    InstallError,
    check_suitecrm_root,
    find_php,
    run_installer,
)

STUB = Path(__file__).parent / "stub_suitecrm"
pytestmark = pytest.mark.php


@pytest.fixture
def stub_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "suitecrm"
    shutil.copytree(STUB, root)
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "calls.log"))
    return root


def calls(tmp_path: Path) -> list[list]:
    return [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]


@pytest.fixture
def demo_zip(small_schema, tmp_path) -> Path:
    return build_package(small_schema, tmp_path / "dist", PUBLISHED)


def test_refuses_a_directory_that_is_not_a_suitecrm_root(tmp_path, stub_root):
    with pytest.raises(InstallError, match="not a directory"):
        check_suitecrm_root(tmp_path / "nowhere")
    (stub_root / "ModuleInstall" / "ModuleInstaller.php").unlink()
    with pytest.raises(InstallError) as exc:
        check_suitecrm_root(stub_root)
    assert "not a SuiteCRM root (missing ModuleInstall/ModuleInstaller.php)" in str(exc.value)
    assert check_suitecrm_root(STUB) == STUB.resolve()
    assert len(ROOT_MARKERS) == 4


def test_refuses_without_php(tmp_path, demo_zip, stub_root):
    with pytest.raises(InstallError, match="php-cli not found"):
        find_php("/nonexistent/php")
    with pytest.raises(InstallError, match="php-cli not found"):
        run_installer(demo_zip, stub_root, php="/nonexistent/php")
    assert not (tmp_path / "calls.log").exists()  # nothing ran


def history(tmp_path: Path) -> list[dict]:
    f = tmp_path / "calls.log.history"
    rows = json.loads(f.read_text()) if f.exists() else {}
    return list(rows.values()) if rows else []  # PHP writes an empty array as []


def test_install_is_what_module_loader_does(tmp_path, demo_zip, stub_root):
    report = run_installer(
        demo_zip,
        stub_root,
        "install",
        tables=["sxt_payments", "sxt_payments_accounts_c", "accounts_cstm", "other"],
    )
    log = calls(tmp_path)
    assert [c[0] for c in log] == ["boot", "scan", "install", "acl actions", "upgrade_history save", "repair"]
    assert log[0][1] == str(stub_root.resolve())  # ran from the SuiteCRM root
    _, package_dir, silent, package_id, user = log[2]
    assert silent is True and package_id == "sxt_demo" and user == "admin"
    assert Path(package_dir).parent == stub_root / "upload/upgrades/temp"  # unzipped where Module Loader does
    assert not Path(package_dir).exists()  # and cleaned up afterwards
    assert log[3][1:] == ["sxt_Payments", "module"]  # the module's ACL actions, as Repair Roles adds them
    assert log[5][1:] == [["clearAll"], ["All Modules"], True, False]  # autoexecute: the SQL diff runs
    assert report.steps == [
        "booted as admin",
        "ModuleScanner: 0 issue(s)",
        "kept in upload/upgrades/module/demo-1.2.0.zip",
        "ModuleInstaller::install",
        "ACL actions of the modules ensured (as Repair Roles)",
        "upgrade_history entry written (listed in Admin -> Module Loader)",
        "quick repair and rebuild (SQL diff executed)",
    ]
    kept = stub_root / "upload/upgrades/module/demo-1.2.0.zip"
    assert kept.read_bytes() == demo_zip.read_bytes()
    assert (stub_root / "upload/upgrades/module/demo-1.2.0-manifest.php").is_file()
    [row] = history(tmp_path)
    assert (row["id_name"], row["version"], row["type"], row["status"], row["filename"]) == (
        "sxt_demo", "1.2.0", "module", "installed", "upload/upgrades/module/demo-1.2.0.zip")
    assert row["md5sum"] == __import__("hashlib").md5(demo_zip.read_bytes()).hexdigest()
    assert report.installed[0]["version"] == "1.2.0" and report.installed[0]["file_present"] is True
    assert report.tables == {
        "sxt_payments": True,
        "sxt_payments_accounts_c": True,
        "accounts_cstm": True,
        "other": False,
    }
    assert "table other: MISSING" in report.lines()


def test_installing_the_same_package_again_changes_nothing(tmp_path, demo_zip, stub_root):
    run_installer(demo_zip, stub_root)
    again = run_installer(demo_zip, stub_root)
    assert again.unchanged is True
    assert [c[0] for c in calls(tmp_path)].count("install") == 1
    assert len(history(tmp_path)) == 1


def test_the_same_version_with_other_bytes_replaces_the_installed_one(tmp_path, small_schema, stub_root):
    first = build_package(small_schema, tmp_path / "a", PUBLISHED)
    other = build_package(small_schema, tmp_path / "b", PUBLISHED.replace(day=PUBLISHED.day + 1))
    run_installer(first, stub_root)
    run_installer(other, stub_root)
    names = [c[0] for c in calls(tmp_path)]
    assert names.count("uninstall") == 1 and names.count("install") == 2
    # the uninstall took the modules' ACL actions and create_tables adds them only for new tables:
    # every install ensures them, as Repair Roles does
    acl = [c for c in calls(tmp_path) if c[0] == "acl actions"]
    assert acl[-1] == ["acl actions", "sxt_Payments", "module"] and len(acl) == 2
    [row] = history(tmp_path)
    assert row["md5sum"] == __import__("hashlib").md5(other.read_bytes()).hexdigest()


def test_a_newer_version_is_installed_as_an_upgrade_and_replaces_the_entry(tmp_path, small_schema,
                                                                         stub_root):
    old = build_package(small_schema, tmp_path / "a", PUBLISHED)
    run_installer(old, stub_root)
    [before] = history(tmp_path)
    import dataclasses

    bumped = dataclasses.replace(small_schema.package, version="1.3.0")
    newer = dataclasses.replace(small_schema, package=bumped)
    new = build_package(newer, tmp_path / "b", PUBLISHED)
    report = run_installer(new, stub_root)
    assert "ModuleInstaller::install (upgrade from 1.2.0)" in report.steps
    [row] = history(tmp_path)
    assert row["version"] == "1.3.0" and row["id"] == before["id"]  # Module Loader keeps the entry's id
    assert not (stub_root / "upload/upgrades/module/demo-1.2.0.zip").exists()
    with pytest.raises(InstallError, match="1.3.0 is installed, newer than 1.2.0; uninstall it first"):
        run_installer(old, stub_root)


def test_with_the_package_scan_on_a_package_with_issues_is_refused(tmp_path, demo_zip, stub_root,
                                                                  monkeypatch):
    monkeypatch.setenv("STUB_PACKAGE_SCAN", "1")
    monkeypatch.setenv("STUB_SCAN_ISSUE", "Invalid usage of a function exit / die")
    with pytest.raises(InstallError) as exc:
        run_installer(demo_zip, stub_root)
    assert "package scan (moduleInstaller.packageScan) refuses the package" in str(exc.value)
    assert "manifest.php: Invalid usage of a function exit / die" in str(exc.value)
    assert "install" not in [c[0] for c in calls(tmp_path)] and history(tmp_path) == []
    monkeypatch.delenv("STUB_PACKAGE_SCAN")
    report = run_installer(demo_zip, stub_root)  # scan off: installed, with the findings as warnings
    assert report.package_scan is False
    assert any("package scan (off here) would refuse" in w for w in report.warnings)


def test_scan_reports_issues_without_installing(tmp_path, demo_zip, stub_root, monkeypatch):
    monkeypatch.setenv("STUB_SCAN_ISSUE", "Invalid usage of a function link()")
    report = run_installer(demo_zip, stub_root, "scan")
    assert report.issues == ["file manifest.php: Invalid usage of a function link()"]
    assert [c[0] for c in calls(tmp_path)] == ["boot", "scan"]


def test_uninstall_uses_the_installed_zip_and_removes_the_module_loader_entry(tmp_path, demo_zip, stub_root):
    run_installer(demo_zip, stub_root)
    report = run_installer(demo_zip, stub_root, "uninstall")
    assert [c[0] for c in calls(tmp_path)][-3:] == ["uninstall", "upgrade_history delete", "repair"]
    assert "ModuleInstaller::uninstall of 1.2.0 (tables kept)" in report.steps
    assert history(tmp_path) == [] and report.installed == []
    assert not (stub_root / "upload/upgrades/module/demo-1.2.0.zip").exists()


def test_uninstall_of_a_package_module_loader_does_not_list(tmp_path, demo_zip, stub_root):
    report = run_installer(demo_zip, stub_root, "uninstall")
    assert [c[0] for c in calls(tmp_path)] == ["boot", "uninstall", "repair"]
    assert report.steps[1] == "ModuleInstaller::uninstall (tables kept)"
    assert any("Module Loader lists no sxt_demo" in w for w in report.warnings)


def test_a_failing_module_installer_is_reported(tmp_path, demo_zip, stub_root, monkeypatch):
    monkeypatch.setenv("STUB_FAIL", "1")
    with pytest.raises(InstallError) as exc:
        run_installer(demo_zip, stub_root)
    assert str(exc.value).startswith("install failed: Exception: disk full (done before: booted as admin; ")
    assert "repair" not in [c[0] for c in calls(tmp_path)]
    assert history(tmp_path) == []  # no Module Loader entry for a failed install


def test_no_admin_user_is_reported(demo_zip, stub_root, monkeypatch):
    monkeypatch.setenv("STUB_NO_ADMIN", "1")
    with pytest.raises(InstallError, match="no active administrator"):
        run_installer(demo_zip, stub_root)


def test_a_php_error_while_booting_is_reported(demo_zip, stub_root, monkeypatch):
    monkeypatch.setenv("STUB_ERROR", "1")
    with pytest.raises(InstallError) as exc:
        run_installer(demo_zip, stub_root)
    assert str(exc.value) == (
        "install failed: Error: Call to undefined function undefined_function_in_stub() "
        "(done before: nothing)"
    )


def test_a_php_fatal_error_is_reported(demo_zip, stub_root, monkeypatch):
    monkeypatch.setenv("STUB_FATAL", "1")  # memory exhausted: no PHP code runs after it
    with pytest.raises(InstallError) as exc:
        run_installer(demo_zip, stub_root)
    assert "the PHP installer failed (exit status 255)" in str(exc.value)
    assert "Allowed memory size" in str(exc.value)


def test_a_zip_escaping_its_directory_is_refused(tmp_path, stub_root):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.php", "<?php\n")
        zf.writestr("../../evil.php", "<?php\n")
    with pytest.raises(InstallError, match="points outside the package"):
        run_installer(bad, stub_root)
    assert not (tmp_path / "calls.log").exists()


def test_cli_install_reports_what_was_created(tmp_path, stub_root):
    core = ["package", "install", "workflow", "--suitecrm-root", str(stub_root), "--sidecar-url", SIDECAR_URL]
    assert CliRunner().invoke(cli, core).exit_code == 0  # account_opening requires the core package
    result = CliRunner().invoke(
        cli,
        [
            "package",
            "install",
            "account_opening",
            "--suitecrm-root",
            str(stub_root),
            "--sidecar-url",
            SIDECAR_URL,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "installed account_opening 0.1.0 (package id sxt_account_opening)" in result.output
    for table in ("ao_applications", "ao_applications_accounts_c", "accounts_cstm", "contacts_cstm"):
        assert f"table {table}: present" in result.output
    assert "Contacts: custom fields ao_inn_c" in result.output


def test_cli_install_refuses_a_wrong_root(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "package",
            "install",
            "account_opening",
            "--suitecrm-root",
            str(tmp_path),
            "--sidecar-url",
            SIDECAR_URL,
        ],
    )
    assert result.exit_code == 1
    assert "not a SuiteCRM root (missing config.php, include/entryPoint.php" in result.output
