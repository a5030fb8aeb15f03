"""``requires:`` in a plugin schema: modules of the required packages as relationship sides, the
manifest's Module Loader ``dependencies``, file/line errors, FakeCRM and DDL, the installer's checks."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pkg_helpers import PUBLISHED, php_check, unpack

from suitecrm_ext.cli import cli
from suitecrm_ext.crm.fake import FakeCRM
from suitecrm_ext.packaging.builder import build_package, describe, package_files
from suitecrm_ext.packaging.installer import InstallError, run_installer
from suitecrm_ext.packaging.requires import StaticCatalog, manifest_dependency, requirement_order
from suitecrm_ext.packaging.schema import SchemaError, load_schema
from suitecrm_ext.testing import create_plugin_tables, load_plugin_schema, register_schema

STUB = Path(__file__).parent / "stub_suitecrm"
LAB = {"en_us": "Label", "ru_ru": "Метка"}

#: a plugin schema whose module shows the core package's decision log in a subpanel
REQUIRING = {
    "package": {"id": "sxt_req", "name": "req", "version": "1.0.0"},
    "requires": ["workflow"],
    "modules": [
        {
            "name": "req_Things",
            "label": {"singular": {"en_us": "Thing", "ru_ru": "Вещь"},
                      "plural": {"en_us": "Things", "ru_ru": "Вещи"}},
            "fields": [{"name": "code", "type": "varchar", "len": 20, "label": LAB}],
        }
    ],
    "relationships": [
        {"name": "req_things_decisions", "type": "one-to-many", "lhs": "req_Things", "rhs": "sx_Decisions",
         "titles": {"req_Things": {"en_us": "Decisions", "ru_ru": "Решения"}}},
    ],
}


def as_yaml(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def load(data: dict, **kw):
    return load_schema(as_yaml(data), "req", source="plugins/req/schema.yaml", **kw)


def problems_of(data: dict, **kw) -> list[str]:
    with pytest.raises(SchemaError) as exc:
        load(data, **kw)
    return exc.value.problems


def line_of(data: dict, needle: str) -> int:
    return next(i for i, ln in enumerate(as_yaml(data).splitlines(), 1) if needle in ln)


def mutate(fn) -> dict:
    data = copy.deepcopy(REQUIRING)
    fn(data)
    return data


@pytest.fixture(scope="module")
def workflow_schema():
    return load_plugin_schema("workflow")


# --- the schema ---------------------------------------------------------------------------------


def test_a_required_packages_module_is_a_relationship_side(workflow_schema):
    schema = load(REQUIRING)
    [req] = schema.requires
    assert (req.plugin, req.package.id) == ("workflow", "suitecrm_ext_workflow")
    assert schema.owner_of("sx_Decisions") is req and schema.owner_of("req_Things") is schema
    assert schema.table_of("sx_Decisions") == "sx_decisions"
    assert schema.object_of("sx_Decisions") == "sx_Decisions"
    assert schema.plural_of("sx_Decisions").en_us == "Decisions"
    [rel] = schema.relationships
    assert (rel.lhs, rel.rhs, rel.subpanels) == ("req_Things", "sx_Decisions", ("req_Things",))
    assert [s.plugin for s in requirement_order(schema)] == ["workflow", "req"]


def test_without_requires_the_other_packages_module_is_unknown_with_a_hint():
    data = mutate(lambda d: d.pop("requires"))
    [p] = problems_of(data)
    assert p.startswith(f"plugin req, plugins/req/schema.yaml:{line_of(data, 'rhs: sx_Decisions')}: ")
    assert "relationships[0].rhs (req_things_decisions): unknown module 'sx_Decisions'" in p
    assert "sx_Decisions is a module of plugin workflow's package (suitecrm_ext_workflow)" in p
    assert "add `requires: [workflow]`" in p


def test_a_module_of_a_package_not_required_is_refused_even_when_another_is_required(workflow_schema):
    # two packages: the schema requires one of them and names a module of the other
    other = load_schema(as_yaml({
        "package": {"id": "sxt_other", "name": "other", "version": "2.0.0"},
        "modules": [{"name": "oth_Items", "label": {"singular": LAB, "plural": LAB}}],
    }), "other")
    catalog = StaticCatalog([workflow_schema, other])
    data = mutate(lambda d: d["relationships"].append(
        {"name": "req_things_items", "type": "many-to-many", "lhs": "req_Things", "rhs": "oth_Items"}))
    [p] = problems_of(data, catalog=catalog)
    assert f"schema.yaml:{line_of(data, 'rhs: oth_Items')}: relationships[1].rhs" in p
    assert "of a required package (workflow: sx_Deputies, sx_Decisions)" in p
    assert "add `requires: [other]`" in p
    ok = load(mutate(lambda d: (d["requires"].append("other"), d["relationships"].append(
        {"name": "req_things_items", "type": "many-to-many", "lhs": "req_Things", "rhs": "oth_Items"}))),
        catalog=catalog)
    assert [r.plugin for r in ok.requires] == ["workflow", "other"]


@pytest.mark.parametrize(
    ("requires", "message"),
    [
        (["wrokflow"], "requires[0] (wrokflow): unknown required package: no plugin named 'wrokflow' is "
                       "installed (installed: "),
        (["req"], "requires[0] (req): a schema cannot require its own package"),
        (["workflow", "workflow"], "requires[1] (workflow): duplicate (also requires[0])"),
        ([{"plugin": "workflow"}], "requires[0]: requires lists plugin names (text), not a mapping"),
        ("workflow", "requires: must be a list, not text"),
    ],
)
def test_bad_requires_name_file_line_and_entry(requires, message):
    data = mutate(lambda d: d.update(requires=requires))
    problems = problems_of(data)
    assert any(message in p for p in problems), problems
    first = next(p for p in problems if message in p)
    assert re.match(r"plugin req, plugins/req/schema\.yaml:\d+: ", first)


def test_a_required_plugin_without_a_package_is_refused():
    class Catalog(StaticCatalog):
        def schema(self, plugin):
            return None

    [p, *rest] = problems_of(REQUIRING, catalog=Catalog([]))
    assert "requires[0] (workflow): plugin workflow adds nothing to SuiteCRM: it has no package to " \
           "require" in p


def test_requires_cycles_and_invalid_required_schemas_are_reported():
    texts = {
        "a": {"package": {"id": "sxt_a", "name": "a", "version": "1.0.0"}, "requires": ["b"],
              "modules": [{"name": "a_Items", "label": {"singular": LAB, "plural": LAB}}]},
        "b": {"package": {"id": "sxt_b", "name": "b", "version": "1.0.0"}, "requires": ["a"],
              "modules": [{"name": "b_Items", "label": {"singular": LAB, "plural": LAB}}]},
        "c": {"package": {"id": "sxt_c", "name": "c", "version": "1.0.0"},
              "modules": [{"name": "c_Items", "label": {"singular": LAB, "plural": LAB},
                           "template": "fancy"}]},
    }

    class Files:  # every schema loaded from text through this catalog, as installed plugins are
        def schema(self, plugin):
            source = f"plugins/{plugin}/schema.yaml"
            return load_schema(as_yaml(texts[plugin]), plugin, source=source, catalog=self)

        def names(self):
            return sorted(texts)

    with pytest.raises(SchemaError) as exc:
        Files().schema("a")
    [p] = exc.value.problems
    assert p.startswith("plugin a, plugins/a/schema.yaml:")
    assert "requires[0] (b): the schema of required plugin b is invalid: " \
           "plugin b, plugins/b/schema.yaml:" in p
    assert "requires form a cycle (a -> b -> a)" in p
    texts["a"]["requires"] = ["c"]
    with pytest.raises(SchemaError) as exc:
        Files().schema("a")
    assert "the schema of required plugin c is invalid: plugin c, plugins/c/schema.yaml:" \
        in exc.value.problems[0]
    assert "unknown template 'fancy'" in exc.value.problems[0]


def test_names_a_required_package_already_uses_are_refused():
    data = mutate(lambda d: (
        d["modules"].append({"name": "sx_Decisions", "label": {"singular": LAB, "plural": LAB}}),
        d["relationships"].append({"name": "sx_decisions_documents", "type": "one-to-many",
                                   "lhs": "Documents", "rhs": "req_Things"}),
    ))
    problems = problems_of(data)
    assert any("modules[1].name (sx_Decisions): sx_Decisions is a module of the required package "
               "suitecrm_ext_workflow (plugin workflow)" in p for p in problems), problems
    assert any("relationships[1].name (sx_decisions_documents): relationship 'sx_decisions_documents' is "
               "already one of the required package suitecrm_ext_workflow" in p for p in problems), problems


def test_a_relate_field_clash_on_the_required_module_is_refused(workflow_schema):
    # the one-to-many adds <name>_name to sx_Decisions; a relationship named so that it hits one of
    # sx_Decisions' own fields is refused
    data = mutate(lambda d: d["relationships"][0].update(name="on_behalf_of"))
    [p] = problems_of(data)
    assert "the relate field 'on_behalf_of_name' this relationship adds to sx_Decisions clashes" in p


def test_custom_fields_on_a_required_packages_module_are_refused_with_a_hint():
    data = mutate(lambda d: d.update(custom_fields={"sx_Decisions": [
        {"name": "x_c", "type": "varchar", "label": LAB}]}))
    [p] = problems_of(data)
    assert "custom_fields go on stock modules; 'sx_Decisions' is not one (it is a module of the required " \
           "package suitecrm_ext_workflow; add fields there)" in p


# --- the package --------------------------------------------------------------------------------


def test_manifest_declares_the_module_loader_dependency_and_the_link_vardefs_go_to_the_other_module(
        tmp_path, workflow_schema):
    schema = load(REQUIRING)
    pkg = package_files(schema, PUBLISHED)
    manifest = pkg.files["manifest.php"]
    assert "'dependencies' => array (" in manifest
    assert manifest_dependency(workflow_schema) == {
        "id_name": "suitecrm_ext_workflow", "version": workflow_schema.package.version.split(".")[0],
        "min_version": workflow_schema.package.version}
    assert pkg.installdefs["vardefs"] == [
        {"from": "<basepath>/SugarModules/relationships/vardefs/req_things_decisions_sx_Decisions.php",
         "to_module": "sx_Decisions"},
        {"from": "<basepath>/SugarModules/relationships/vardefs/req_things_decisions_req_Things.php",
         "to_module": "req_Things"},
    ]
    assert "$dictionary['sx_Decisions']['fields']['req_things_decisions_name']" in \
        pkg.files["SugarModules/relationships/vardefs/req_things_decisions_sx_Decisions.php"]
    assert [e["to_module"] for e in pkg.installdefs["layoutdefs"]] == ["req_Things"]
    assert "requires workflow: package suitecrm_ext_workflow" in "\n".join(describe(pkg))
    # the package loads in PHP as SuiteCRM would read it; the labels shown on sx_Decisions are shipped
    unzipped = unpack(schema, tmp_path)
    result = php_check(unzipped)
    assert result["problems"] == []
    assert result["facts"]["relationships"]["req_things_decisions"]["rhs"] == "sx_Decisions"
    text = (unzipped / "manifest.php").read_text()
    assert "'id_name' => 'suitecrm_ext_workflow'" in text
    for lang in ("en_us", "ru_ru"):
        assert (unzipped / f"SugarModules/language/sx_Decisions/{lang}.lang.php").is_file()


def test_a_package_without_requires_has_no_dependencies_entry():
    data = {**copy.deepcopy(REQUIRING), "relationships": []}
    data.pop("requires")
    assert "dependencies" not in package_files(load(data), PUBLISHED).files["manifest.php"]


def test_collegial_actions_requires_the_core_package():
    schema = load_plugin_schema("collegial_actions")
    assert [r.plugin for r in schema.requires] == ["workflow"]
    assert "'id_name' => 'suitecrm_ext_workflow'" in package_files(
        schema, PUBLISHED, sidecar_url="http://sidecar.test:8765").files["manifest.php"]


# --- FakeCRM and MariaDB ---------------------------------------------------------------------


def test_fake_crm_registers_the_required_package_first_and_links_across(workflow_schema):
    crm = FakeCRM()
    register_schema(crm, load(REQUIRING))
    assert {"sx_Decisions", "sx_Deputies", "req_Things"} <= set(crm.modules())
    assert crm.fields("sx_Decisions")["req_things_decisions_name"].source == "non-db"
    thing = crm.save("req_Things", {"name": "T1"})
    dec = crm.save("sx_Decisions", {"name": "approved", "parent_type": "req_Things", "parent_id": thing})
    crm.relate("req_Things", thing, "req_things_decisions", [dec])
    assert [r["id"] for r in crm.related("req_Things", thing, "req_things_decisions", fields=["id"])] == [dec]
    # registering again on a fake that already has the core package keeps its records
    def other_module(d):
        d["package"]["id"] = "sxt_req2"
        d["modules"][0]["name"] = "req_Others"
        d["relationships"][0].update(name="req_others_decisions", lhs="req_Others", titles={})

    other = load(mutate(other_module))
    register_schema(crm, other)
    assert crm.get("sx_Decisions", dec)["name"] == "approved"


def test_fake_crm_with_only_part_of_a_required_package_is_refused(workflow_schema):
    crm = FakeCRM()
    register_schema(crm, load_schema(as_yaml({
        "package": {"id": "sxt_x", "name": "x", "version": "1.0.0"},
        "modules": [{"name": "sx_Deputies", "label": {"singular": LAB, "plural": LAB}}]}), "x"))
    with pytest.raises(ValueError, match="requires workflow, whose modules this FakeCRM has only in part "
                                         r"\(missing sx_Decisions\)"):
        register_schema(crm, load(REQUIRING))


def test_create_plugin_tables_creates_the_required_packages_tables_first(mysql_server, suitecrm_db):
    schema = load(REQUIRING)
    with mysql_server.connect(suitecrm_db) as conn:
        create_plugin_tables(conn, schema)
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = {row[0] for row in cur.fetchall()}
    assert {"sx_decisions", "sx_deputies", "req_things", "req_things_decisions_c"} <= tables


# --- installing (the PHP installer on a stub SuiteCRM) ------------------------------------------


@pytest.fixture
def stub_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "suitecrm"
    shutil.copytree(STUB, root)
    monkeypatch.setenv("STUB_LOG", str(tmp_path / "calls.log"))
    return root


def _zip(schema, tmp_path, name="dist"):
    return build_package(schema, tmp_path / name, PUBLISHED, sidecar_url="http://sidecar.test:8765")


def _installed_ids(tmp_path) -> list[tuple[str, str]]:
    path = Path(str(tmp_path / "calls.log") + ".history")
    rows = json.loads(path.read_text()) if path.exists() else {}
    return sorted((r["id_name"], r["version"]) for r in (rows.values() if isinstance(rows, dict) else rows))


@pytest.mark.php
def test_install_is_refused_until_the_required_package_is_installed(tmp_path, stub_root, workflow_schema):
    schema = load(REQUIRING)
    with pytest.raises(InstallError) as exc:
        run_installer(_zip(schema, tmp_path), stub_root, "install")
    assert "Module Loader refuses the package: The following dependencies were not found on the system." \
           "[suitecrm_ext_workflow]" in str(exc.value)
    assert exc.value.missing_dependencies == ["suitecrm_ext_workflow"]
    assert _installed_ids(tmp_path) == []  # nothing installed
    run_installer(_zip(workflow_schema, tmp_path, "wf"), stub_root, "install")
    run_installer(_zip(schema, tmp_path), stub_root, "install")
    assert _installed_ids(tmp_path) == [("suitecrm_ext_workflow", workflow_schema.package.version),
                                        ("sxt_req", "1.0.0")]


@pytest.mark.php
@pytest.mark.parametrize(
    ("installed", "missing"),
    [
        ("0.1.0", []),  # the version built against
        ("0.9.3", []),  # a later version of the same major series
        ("1.0.0", ["suitecrm_ext_workflow"]),  # another major: SuiteCRM's own check refuses it
        ("0.0.9", ["suitecrm_ext_workflow 0.1.0 or newer"]),  # older than built against: our min_version
    ],
)
def test_which_installed_versions_satisfy_the_dependency(tmp_path, stub_root, workflow_schema,
                                                         installed, missing):
    base = workflow_schema.package.version
    assert base == "0.1.0", "the table below is written for workflow 0.1.0"
    fake_wf = load_schema(as_yaml({
        "package": {"id": "suitecrm_ext_workflow", "name": "wf", "version": installed},
        "modules": [{"name": "sx_Decisions", "label": {"singular": LAB, "plural": LAB}}]}), "workflow")
    run_installer(_zip(fake_wf, tmp_path, "wf"), stub_root, "install")
    if missing:
        with pytest.raises(InstallError) as exc:
            run_installer(_zip(load(REQUIRING), tmp_path), stub_root, "install")
        assert exc.value.missing_dependencies == missing
    else:
        run_installer(_zip(load(REQUIRING), tmp_path), stub_root, "install")


@pytest.mark.php
def test_uninstalling_a_package_others_require_is_refused(tmp_path, stub_root, workflow_schema):
    run_installer(_zip(workflow_schema, tmp_path, "wf"), stub_root, "install")
    run_installer(_zip(load(REQUIRING), tmp_path), stub_root, "install")
    with pytest.raises(InstallError) as exc:
        run_installer(_zip(workflow_schema, tmp_path, "wf"), stub_root, "uninstall")
    assert "suitecrm_ext_workflow is required by the installed package(s) sxt_req; uninstall them first" \
        in str(exc.value)
    assert exc.value.dependents == {"sxt_req": "req"}
    assert len(_installed_ids(tmp_path)) == 2
    run_installer(_zip(load(REQUIRING), tmp_path), stub_root, "uninstall")
    run_installer(_zip(workflow_schema, tmp_path, "wf"), stub_root, "uninstall")
    assert _installed_ids(tmp_path) == []


@pytest.mark.php
def test_cli_install_names_the_package_to_install_first(tmp_path, stub_root):
    result = CliRunner().invoke(cli, ["package", "install", "collegial_actions", "--suitecrm-root",
                                      str(stub_root), "--sidecar-url", "http://sidecar.test:8765"])
    assert result.exit_code == 1, result.output
    assert "The following dependencies were not found on the system.[suitecrm_ext_workflow]" in result.output
    assert "collegial_actions requires workflow: install that first " \
           "(suitecrm-ext package install workflow)" in result.output
    check = CliRunner().invoke(cli, ["package", "check", "collegial_actions"])
    assert check.exit_code == 0 and "requires workflow" in check.output
