"""The Module Loader package: golden tree, determinism, php -l, and SuiteCRM-style loading by php-cli."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from pkg_helpers import PUBLISHED, SIDECAR_URL, php_check, unpack

from suitecrm_ext.packaging.builder import INSTALLDEF_KEYS, PackageError, build_package, package_files
from suitecrm_ext.packaging.schema import SchemaError, load_schema
from suitecrm_ext.testing import load_plugin_schema

GOLDEN = Path(__file__).parents[1] / "golden" / "demo-1.2.0"

pytestmark = pytest.mark.php


def test_package_matches_the_reviewed_golden_tree(small_schema):
    pkg = package_files(small_schema, PUBLISHED)
    if os.environ.get("SUITECRM_EXT_REGEN_GOLDEN") == "1":  # after a reviewed change of the output
        for name, text in pkg.files.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8")
    golden = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert set(pkg.files) == golden
    for name in sorted(golden):
        assert pkg.files[name] == (GOLDEN / name).read_text(encoding="utf-8"), name


def test_zip_is_named_after_plugin_and_version_and_is_byte_for_byte_reproducible(small_schema, tmp_path):
    a = build_package(small_schema, tmp_path / "a", PUBLISHED)
    b = build_package(small_schema, tmp_path / "b", PUBLISHED)
    assert a.name == "demo-1.2.0.zip"
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        names = zf.namelist()
        assert names == sorted(names) and "manifest.php" in names
        assert {i.date_time for i in zf.infolist()} == {(2026, 1, 2, 3, 4, 6)}
    assert not list((tmp_path / "a").glob("*.part"))


def test_every_generated_php_file_passes_php_lint(small_schema, tmp_path):
    schemas = [small_schema, load_plugin_schema("account_opening")]
    for i, schema in enumerate(schemas):
        root = unpack(schema, tmp_path / str(i), sidecar_url=SIDECAR_URL)
        files = sorted(root.rglob("*.php"))
        assert len(files) > 10
        for f in files:
            proc = subprocess.run(["php", "-l", str(f)], capture_output=True, text=True, timeout=30)
            assert proc.returncode == 0, f"{f}: {proc.stdout}{proc.stderr}"


def test_php_loads_the_package_arrays_and_finds_them_consistent(small_schema, tmp_path):
    result = php_check(unpack(small_schema, tmp_path))
    assert result["problems"] == []
    facts = result["facts"]
    assert facts["installdefs_keys"] == list(INSTALLDEF_KEYS)
    bean = facts["beans"]["sxt_Payments"]
    assert bean["table"] == "sxt_payments"
    assert bean["vardef_templates"] == ["basic", "assignable", "security_groups"]
    # every schema field, the relate field's id column, and currency_id for the currency field
    assert bean["fields"] == [f.name for f in small_schema.modules[0].fields] + ["contact_id", "currency_id"]
    assert facts["relationships"] == {
        "sxt_payments_accounts": {
            "table": "sxt_payments_accounts_c",
            "lhs": "Accounts",
            "rhs": "sxt_Payments",
            "type": "one-to-many",
        },
        "sxt_payments_documents": {
            "table": "sxt_payments_documents_c",
            "lhs": "sxt_Payments",
            "rhs": "Documents",
            "type": "many-to-many",
        },
    }
    assert facts["custom_fields"] == 2


def test_php_check_reports_a_missing_label(small_schema, tmp_path):
    root = unpack(small_schema, tmp_path)
    ru = root / "SugarModules/modules/sxt_Payments/language/ru_ru.lang.php"
    ru.write_text(
        ru.read_text(encoding="utf-8").replace("  'LBL_PAYER_INN' => 'ИНН плательщика',\n", ""),
        encoding="utf-8",
    )
    app = root / "SugarModules/language/application/en_us.lang.php"
    app.write_text(
        app.read_text(encoding="utf-8").split("$app_list_strings['sxt_payment_status_list']")[0],
        encoding="utf-8",
    )
    problems = php_check(root)["problems"]
    assert "label LBL_PAYER_INN of sxt_Payments is not defined in ru_ru" in problems
    assert "dropdown sxt_payment_status_list is used but not defined in en_us" in problems


def test_account_opening_package_carries_its_logic_hooks(tmp_path):
    schema = load_plugin_schema("account_opening")
    with pytest.raises(PackageError, match="--sidecar-url"):
        package_files(schema, PUBLISHED)
    root = unpack(schema, tmp_path, sidecar_url=SIDECAR_URL)
    result = php_check(root)
    assert result["problems"] == []
    hooks = {(h["module"], h["hook"]) for h in result["facts"]["logic_hooks"]}
    assert ("ao_Applications", "before_save") in hooks and ("ao_Applications", "after_save") in hooks
    entry = result["facts"]["logic_hooks"][0]
    # a class of its own per package, so two plugins' packages never overwrite each other's hook
    assert entry["class"] == "SuiteCRMExtHook_sxt_account_opening"
    # and a description of its own: SuiteCRM skips a hook whose description is already registered
    assert entry["description"] == f"suitecrm-ext sxt_account_opening: {entry['hook']} -> sidecar"
    assert (
        entry["file"]
        == "custom/modules/SuiteCRMExt/sxt_account_opening/SuiteCRMExtHook_sxt_account_opening.php"
    )
    src = "SugarModules/logic_hooks/SuiteCRMExtHook_sxt_account_opening.php"
    pkg = package_files(schema, PUBLISHED, sidecar_url=SIDECAR_URL)
    assert {"from": f"<basepath>/{src}", "to": entry["file"]} in pkg.installdefs["copy"]
    code = (root / src).read_text(encoding="utf-8")
    assert SIDECAR_URL in code and "class SuiteCRMExtHook_sxt_account_opening\n" in code
    other = load_schema(
        {
            "package": {"id": "sxt_other", "name": "o", "version": "1.0"},
            "logic_hooks": [{"module": "Documents"}],
        },
        "other",
    )
    other_unpacked = unpack(other, tmp_path / "other", sidecar_url=SIDECAR_URL)
    both = subprocess.run(
        [
            "php",
            "-r",
            "define('sugarEntry', true); include $argv[1]; include $argv[2]; echo 'both loaded';",
            str(root / src),
            str(other_unpacked / "SugarModules/logic_hooks/SuiteCRMExtHook_sxt_other.php"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert both.stdout.endswith("both loaded"), both.stdout + both.stderr


def test_a_bad_sidecar_url_is_refused():
    schema = load_plugin_schema("account_opening")
    with pytest.raises(PackageError, match="sidecar_url"):
        package_files(schema, PUBLISHED, sidecar_url="javascript:alert(1)")


def test_an_empty_schema_has_no_package():
    schema = load_schema({"package": {"id": "e", "name": "e", "version": "1.0"}}, "routing")
    with pytest.raises(PackageError, match="adds nothing to SuiteCRM"):
        package_files(schema, PUBLISHED)


def test_php_special_characters_in_labels_stay_text(tmp_path):
    evil = "It's a \\'; phpinfo(); //"
    schema = load_schema(
        {
            "package": {"id": "e", "name": "x'y", "version": "1.0", "description": evil},
            "dropdowns": {"e_list": {"a'b": {"en_us": evil, "ru_ru": "ё"}}},
            "custom_fields": {
                "Accounts": [
                    {
                        "name": "e_kind_c",
                        "type": "enum",
                        "options": "e_list",
                        "label": {"en_us": evil, "ru_ru": "в"},
                    }
                ]
            },
        },
        "evil",
    )
    root = unpack(schema, tmp_path)
    code = (
        "include $argv[1] . '/manifest.php'; $app_list_strings = array();"
        " include $argv[1] . '/SugarModules/language/application/en_us.lang.php';"
        " echo json_encode(array($manifest['description'], $manifest['name'], $app_list_strings['e_list']));"
    )
    out = subprocess.run(["php", "-r", code, str(root)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    import json

    assert json.loads(out.stdout) == [evil, "x'y", {"a'b": evil}]


def _installed_plugins() -> list[str]:
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group="suitecrm_ext.plugins")})


@pytest.mark.parametrize("plugin", _installed_plugins())
def test_every_installed_plugin_schema_builds_a_loadable_package(plugin, tmp_path):
    schema = load_plugin_schema(plugin)
    if schema is None or schema.is_empty:
        with pytest.raises(PackageError, match="adds nothing"):
            package_files(
                schema or load_schema({"package": {"id": "x", "name": "x", "version": "1"}}, plugin)
            )
        return
    root = unpack(schema, tmp_path, sidecar_url=SIDECAR_URL)
    for f in sorted(root.rglob("*.php")):
        proc = subprocess.run(["php", "-l", str(f)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"{f}: {proc.stdout}{proc.stderr}"
    assert php_check(root)["problems"] == []


def test_custom_fields_carry_the_keys_module_installer_reads(small_schema):
    # ModuleInstaller::install_custom_fields → TemplateField::populateFromRow, with the row shape
    # MBPackage exports from fields_meta_data (label, require_option, max_size, default_value, ext1..4)
    pkg = package_files(small_schema, PUBLISHED)
    priority, inn = pkg.installdefs["custom_fields"]
    assert priority == {
        "id": "Accountssxt_priority_c",
        "name": "sxt_priority_c",
        "label": "LBL_SXT_PRIORITY_C",
        "comments": "",
        "help": "",
        "module": "Accounts",
        "type": "enum",
        "max_size": 100,
        "require_option": 0,
        "default_value": "",
        "audited": 0,
        "mass_update": 0,
        "duplicate_merge": 0,
        "reportable": 1,
        "importable": "true",
        "ext1": "sxt_priority_list",
        "ext2": "",
        "ext3": "",
        "ext4": "",
    }
    assert (inn["type"], inn["max_size"], inn["audited"], inn["ext1"]) == ("varchar", 12, 1, "")


def test_a_relationship_to_cases_extends_the_case_dictionary_with_links_to_the_acase_bean():
    # Cases' vardefs are $dictionary['Case'] (modules/Cases/vardefs.php) while its bean class is aCase;
    # link fields written into $dictionary['aCase'] were never loaded (found on the real 7.14.6: the
    # routing and workflow packages' Cases links were missing from get_module_fields)
    schema = load_schema({
        "package": {"id": "sxt_t", "name": "t", "version": "1.0.0"},
        "modules": [{"name": "sxt_Things", "label": {"singular": {"en_us": "Thing", "ru_ru": "Вещь"},
                                                      "plural": {"en_us": "Things", "ru_ru": "Вещи"}}}],
        "relationships": [{"name": "sxt_cases_things", "type": "one-to-many", "lhs": "Cases",
                           "rhs": "sxt_Things"}],
    }, "t")
    files = package_files(schema, PUBLISHED).files
    cases_side = files["SugarModules/relationships/vardefs/sxt_cases_things_Cases.php"]
    assert "$dictionary['Case']['fields']['sxt_cases_things']" in cases_side and "aCase']" not in cases_side
    things_side = files["SugarModules/relationships/vardefs/sxt_cases_things_sxt_Things.php"]
    assert "'bean_name' => 'aCase'" in things_side


def test_a_module_can_stay_out_of_global_search_and_aods_index():
    # AOD_Index::isModuleSearchable skips modules whose vardefs say unified_search false; SuiteCRM's
    # AOD then does not index each save of it synchronously (what made bulk API imports slow)
    def vardefs(extra: dict) -> str:
        label = {"singular": {"en_us": "Thing", "ru_ru": "Вещь"},
                 "plural": {"en_us": "Things", "ru_ru": "Вещи"}}
        schema = load_schema({"package": {"id": "x", "name": "x", "version": "1.0.0"},
                              "modules": [{"name": "sxt_Things", "label": label, **extra}]}, "demo")
        files = package_files(schema, PUBLISHED).files
        return next(text for path, text in files.items() if path.endswith("sxt_Things/vardefs.php"))

    assert "'unified_search' => true" in vardefs({})
    assert "'unified_search' => false" in vardefs({"unified_search": False})
    with pytest.raises(SchemaError, match=r"unified_search.*must be true or false"):
        vardefs({"unified_search": "no"})
